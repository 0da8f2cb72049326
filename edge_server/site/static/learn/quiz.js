/* Quiz page (issue 14 items 3 and 6): warn before sending a quiz with unanswered questions,
 * and keep the answers in this tab (sessionStorage) while the learner works, so a session
 * that expired meanwhile costs nothing: after signing in again the learner comes back to
 * the quiz with the answers filled in. The result page drops the draft.
 */
(function () {
  "use strict";
  var root = document.getElementById("item");
  var done = document.getElementById("quiz-done");
  function key(el) { return "kru.quiz." + el.dataset.user + "." + el.dataset.item; }
  function forget(k) { try { sessionStorage.removeItem(k); } catch (e) { /* blocked */ } }
  if (done) { forget(key(done)); return; }
  var form = document.getElementById("quiz");
  if (!root || !form) { return; }
  var draftKey = key(root);
  var digits = window.KruOffline ? KruOffline.digits : String;

  function fields() {
    return Array.prototype.filter.call(form.elements, function (el) { return /^q-/.test(el.name); });
  }
  function save() {
    var answers = {};
    fields().forEach(function (el) {
      if ((el.type === "radio" || el.type === "checkbox")) {
        if (el.checked) { (answers[el.name] = answers[el.name] || []).push(el.value); }
      } else if (el.value.trim()) {
        answers[el.name] = [el.value];
      }
    });
    try { sessionStorage.setItem(draftKey, JSON.stringify(answers)); } catch (e) { /* blocked */ }
  }
  function restore() {
    var answers = null;
    try { answers = JSON.parse(sessionStorage.getItem(draftKey) || "null"); } catch (e) { return; }
    if (!answers) { return; }
    fields().forEach(function (el) {
      var kept = answers[el.name];
      if (!kept) { return; }
      if (el.type === "radio" || el.type === "checkbox") { el.checked = kept.indexOf(el.value) >= 0; }
      else { el.value = kept[0]; }
    });
    var details = form.closest("details");
    if (details && Object.keys(answers).length) { details.open = true; }
  }
  function unanswered() {
    return Array.prototype.filter.call(form.querySelectorAll("fieldset.q"), function (set) {
      return !Array.prototype.some.call(set.querySelectorAll("input"), function (el) {
        return (el.type === "radio" || el.type === "checkbox") ? el.checked : el.value.trim() !== "";
      });
    });
  }
  var warned = false;
  form.addEventListener("input", save);
  form.addEventListener("change", save);
  form.addEventListener("submit", function (e) {
    save();
    var missing = unanswered();
    form.querySelectorAll("fieldset.q.missing").forEach(function (s) { s.classList.remove("missing"); });
    if (!missing.length || warned) { return; }
    e.preventDefault();
    e.stopImmediatePropagation();
    warned = true;
    missing.forEach(function (s) { s.classList.add("missing"); });
    var note = document.getElementById("unanswered");
    note.textContent = form.dataset.unanswered.replace("%(count)s", digits(missing.length));
    note.hidden = false;
    missing[0].scrollIntoView({ block: "center" });
    var first = missing[0].querySelector("input");
    if (first) { first.focus({ preventScroll: true }); }
  });
  restore();
})();
