/* A due date in the past is asked about before it is saved (issue 14 item 11): a slip of
 * the date picker would otherwise mark a whole cohort overdue at once. */
(function () {
  "use strict";
  function today() {
    var d = new Date();
    return d.getFullYear() + "-" + String(d.getMonth() + 1).padStart(2, "0") + "-" + String(d.getDate()).padStart(2, "0");
  }
  document.addEventListener("submit", function (e) {
    var input = e.target.querySelector("input[name=due_date][data-confirm-past]");
    if (!input || !input.value || input.value >= today()) { return; }
    if (e.submitter && e.submitter.name === "remove") { return; }
    if (!window.confirm(input.dataset.confirmPast)) { e.preventDefault(); }
  });
})();
