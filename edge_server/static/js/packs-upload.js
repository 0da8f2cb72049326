// Upload a pack with a progress bar (XHR upload events); show the API's error in the page.
// Also asks before removing a pack. No framework, nothing fetched from elsewhere.
(function () {
  "use strict";

  function fill(template, values) {
    return template.replace(/%\((\w+)\)s/g, function (_m, name) {
      return values[name] === undefined ? "" : String(values[name]);
    });
  }

  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  });

  var form = document.getElementById("pack-upload");
  if (!form) return;
  var input = document.getElementById("pack-file");
  var box = form.querySelector(".upload-progress");
  var bar = document.getElementById("pack-progress");
  var percent = document.getElementById("pack-percent");
  var result = document.getElementById("pack-result");
  var problems = document.getElementById("pack-problems");
  var button = form.querySelector("button[type=submit]");

  // An imported file (GIFT, Aiken, QTI ...): list what was not converted and why (issue 18).
  function showImportReport(report) {
    if (!report) { return; }
    report.not_converted.forEach(function (n) {
      var li = document.createElement("li");
      li.textContent = n.what + ": " + n.why;
      problems.appendChild(li);
    });
  }

  function show(message, kind) {
    result.textContent = message;
    result.className = "flash " + kind;
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    problems.textContent = "";
    result.textContent = "";
    var file = input.files[0];
    if (!file) return;
    if (file.size > Number(form.dataset.limit)) {
      show(form.dataset.toolarge, "error");
      return;
    }
    var data = new FormData(form);
    var xhr = new XMLHttpRequest();
    xhr.open("POST", form.action);
    xhr.setRequestHeader("X-CSRFToken", document.querySelector("meta[name=csrf-token]").content);
    xhr.setRequestHeader("Accept", "application/json");
    box.hidden = false;
    bar.value = 0;
    percent.textContent = "0%";
    button.disabled = true;
    xhr.upload.addEventListener("progress", function (e) {
      if (!e.lengthComputable) return;
      var p = Math.floor((e.loaded / e.total) * 100);
      bar.value = p;
      percent.textContent = p + "%";
    });
    xhr.addEventListener("load", function () {
      button.disabled = false;
      var body = null;
      try { body = JSON.parse(xhr.responseText); } catch (_e) { body = null; }
      if (xhr.status === 200 || xhr.status === 201) {
        var template = body.already_installed ? form.dataset.same : form.dataset.done;
        show(fill(template, { pack: body.pack.id, version: body.pack.version }), "success");
        showImportReport(body["import"]);
        form.reset();
        return;
      }
      if (body && body.error) {
        show(body.error.message, "error");
        (body.error.problems || []).slice(1, 20).forEach(function (p) {
          var li = document.createElement("li");
          li.textContent = (p.file ? p.file + ": " : "") + p.message;
          problems.appendChild(li);
        });
      } else {
        show(form.dataset.failed, "error");
      }
    });
    xhr.addEventListener("error", function () {
      button.disabled = false;
      show(form.dataset.failed, "error");
    });
    xhr.send(data);
  });
})();
