/* Forms in the page's language (issue 14 item 7): a required field left empty shows Kru's
 * own message (data-required) instead of the browser's, which follows the phone's language,
 * not the page's; a sign-in page that asks the learner to wait counts down (#wait) and
 * keeps the button off until then.
 */
(function () {
  "use strict";
  var km = document.documentElement.lang === "km";
  function digits(n) {
    var s = String(n);
    return km ? s.replace(/[0-9]/g, function (d) { return "០១២៣៤៥៦៧៨៩"[d]; }) : s;
  }
  document.addEventListener("invalid", function (e) {
    var el = e.target;
    if (el.dataset && el.dataset.required && el.validity.valueMissing) {
      el.setCustomValidity(el.dataset.required);
    }
  }, true);
  document.addEventListener("input", function (e) {
    if (e.target.dataset && e.target.dataset.required) { e.target.setCustomValidity(""); }
  }, true);

  // A "Print" button (the class list's sign-in slips): no inline script under the CSP.
  document.querySelectorAll("button[data-print]").forEach(function (button) {
    button.addEventListener("click", function () { window.print(); });
  });

  var wait = document.getElementById("wait");
  if (!wait) { return; }
  var form = wait.closest("form"), button = form.querySelector("button[type=submit]");
  var until = Date.now() + parseInt(wait.dataset.seconds, 10) * 1000;
  function tick() {
    var left = Math.ceil((until - Date.now()) / 1000);
    if (left <= 0) { wait.hidden = true; button.disabled = false; return; }
    wait.textContent = wait.dataset.template.replace("%(seconds)s", digits(left));
    button.disabled = true;
    setTimeout(tick, 1000);
  }
  tick();
})();
