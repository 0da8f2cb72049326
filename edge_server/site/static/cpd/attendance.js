// One tap marks a learner without reloading the page; without JavaScript the forms post.
(function () {
  "use strict";
  var roster = document.getElementById("roster");
  var count = document.getElementById("marked-count");
  if (!roster || !window.fetch) return;
  roster.addEventListener("click", function (ev) {
    var button = ev.target.closest("button.mark");
    if (!button) return;
    ev.preventDefault();
    var form = button.form;
    var data = new FormData(form);
    data.set("status", button.value);
    fetch(form.action, {
      method: "POST", body: data, credentials: "same-origin",
      headers: { "X-Requested-With": "fetch", "X-CSRFToken": data.get("csrf_token") }
    }).then(function (r) {
      if (!r.ok) throw new Error(r.status);
      return r.json();
    }).then(function () {
      form.querySelectorAll("button.mark").forEach(function (b) {
        b.setAttribute("aria-pressed", b === button ? "true" : "false");
      });
      form.closest("li").dataset.saved = button.value;
      var marked = roster.querySelectorAll('button.mark[aria-pressed="true"]').length;
      if (count) count.textContent = count.textContent.replace(/^[^/]*/, String(marked));
    }).catch(function () { form.requestSubmit(button); });
  });
})();
