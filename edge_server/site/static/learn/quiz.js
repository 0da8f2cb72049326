/* Quiz page (issue 14 items 3 and 6): warn before sending a quiz with unanswered questions,
 * and keep the answers in this tab (sessionStorage) while the learner works, so a session
 * that expired meanwhile costs nothing: after signing in again the learner comes back to
 * the quiz with the answers filled in. The result page drops the draft.
 * Without the Wi-Fi (issue 23: a quiz page kept on the phone, or the Pi gone), Submit puts the
 * answers in the learning-event queue as an "attempted" event (kru-events.js), the same event
 * the Pi grades from /api/v1/events; when it arrives the Pi grades it, counts it against the
 * attempt limit, and this page shows the result.
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
    if (!missing.length || warned) { keepOffline(e); return; }
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

  var box = document.getElementById("quiz-offline");
  function offline() {
    return navigator.onLine === false || Boolean(window.KruOffline && KruOffline.lost());
  }
  function tell(text, kind, link) {
    if (!box) { return; }
    box.textContent = text;
    if (link) {
      var a = document.createElement("a");
      a.href = link; a.textContent = box.dataset.see;
      box.appendChild(document.createTextNode(" "));
      box.appendChild(a);
    }
    box.className = "flash " + kind;
    box.hidden = false;
  }
  function response() {  // the answers as the Pi grades them (learn.py, _answers_from_form)
    var out = {};
    Array.prototype.forEach.call(form.querySelectorAll("fieldset.q"), function (set) {
      var id = set.dataset.q, type = set.dataset.qtype, prefix = "q-" + id + "-";
      var selects = Array.prototype.slice.call(set.querySelectorAll("select"));
      if (type === "matching") {
        var pairs = {};
        selects.forEach(function (el) { if (el.value) { pairs[el.name.slice(prefix.length)] = el.value; } });
        if (Object.keys(pairs).length) { out[id] = pairs; }
      } else if (type === "ordering") {
        selects.sort(function (a, b) { return Number(a.name.slice(prefix.length)) - Number(b.name.slice(prefix.length)); });
        var order = selects.map(function (el) { return el.value; }).filter(Boolean);
        if (order.length) { out[id] = order; }
      } else if (type === "multiple") {
        var picked = Array.prototype.filter.call(set.querySelectorAll("input"), function (el) { return el.checked; })
          .map(function (el) { return el.value; });
        if (picked.length) { out[id] = picked; }
      } else {
        var one = Array.prototype.filter.call(set.querySelectorAll("input, textarea"), function (el) {
          return (el.type === "radio" || el.type === "checkbox") ? el.checked : el.value.trim() !== "";
        })[0];
        if (one) { out[id] = one.value.trim(); }
      }
    });
    return out;
  }
  function waiting() {
    if (!window.KruEvents || !KruEvents.queued) { return 0; }
    return KruEvents.queued().filter(function (ev) {
      return ev.verb === "attempted" && ev.object === root.dataset.item;
    }).length;
  }
  function keepOffline(e) {
    if (!offline() || !window.KruEvents) { return; }  // the form goes to the Pi as usual
    e.preventDefault();
    var answers = response();
    if (!Object.keys(answers).length) { tell(form.dataset.empty, "error"); return; }
    KruEvents.track("attempted", root.dataset.item, { response: answers });
    forget(draftKey);
    form.reset();
    warned = false;
    tell(box.dataset.queued, "warn");
    box.scrollIntoView({ block: "center" });
  }
  window.addEventListener("kru-events", function (e) {
    var d = e.detail || {};
    (d.graded || []).forEach(function (g) {
      if (g.object !== root.dataset.item) { return; }
      var score = digits(Math.round((g.score || 0) * 100)) + "%";
      var text = box.dataset.graded.replace("%(number)s", digits(g.attempt)).replace("%(score)s", score) +
        " " + (g.success ? box.dataset.passed : box.dataset.failed);
      tell(text, g.success ? "success" : "warn", box.dataset.attemptUrl.replace("ATTEMPT", g.id));
    });
    var r = d.refused;
    if (r && r.event && r.event.verb === "attempted" && r.event.object === root.dataset.item) {
      if (r.error && r.error.code === "attempts_exhausted") { tell(box.dataset.exhausted, "error"); }
      else { tell(box.dataset.refused.replace("%(reason)s", (r.error && r.error.message) || ""), "error"); }
    }
  });
  var queued = waiting();
  if (queued) { tell(box.dataset.waiting.replace("%(count)s", digits(queued)), "warn"); }
})();
