// Upload a pack in resumable chunks (tus 1.0, through the vendored tus-js-client), with a
// progress bar; then ask the Pi to install it and show the API's answer in the page.
// A dropped connection is retried; a page reloaded mid-upload continues where it stopped
// when the same file is chosen again (docs/api.md, "Resumable uploads").
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
  if (!form || !window.tus) return;
  var input = document.getElementById("pack-file");
  var force = form.querySelector("input[name=force]");
  var box = form.querySelector(".upload-progress");
  var bar = document.getElementById("pack-progress");
  var percent = document.getElementById("pack-percent");
  var result = document.getElementById("pack-result");
  var problems = document.getElementById("pack-problems");
  var button = form.querySelector("button[type=submit]");

  function csrf() {
    return document.querySelector("meta[name=csrf-token]").content;
  }

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
    result.setAttribute("aria-busy", kind === "info" ? "true" : "false");
  }

  // What the pack brought: each course's title, a link to open it and one to assign it to
  // a cohort, so the next step is one tap away (issue 14 item 10).
  function showCourses(courses) {
    var list = document.getElementById("pack-courses");
    list.textContent = "";
    (courses || []).forEach(function (course) {
      var li = document.createElement("li");
      li.className = "card";
      var title = document.createElement("strong");
      title.textContent = course.title;
      var actions = document.createElement("div");
      actions.className = "actions";
      var open = document.createElement("a");
      open.className = "button primary";
      open.href = course.url;
      open.textContent = list.dataset.open;
      var assign = document.createElement("a");
      assign.className = "button";
      assign.href = course.assign_url;
      assign.textContent = list.dataset.assign;
      actions.appendChild(open);
      actions.appendChild(assign);
      li.appendChild(title);
      li.appendChild(actions);
      list.appendChild(li);
    });
  }

  function progress(sent, total) {
    var p = total ? Math.floor((sent / total) * 100) : 0;
    bar.value = p;
    percent.textContent = window.KruDigits(p) + "%";
  }

  // Show an error body of the API ({"error": {"message", "problems"}}), or the fallback.
  function showError(text) {
    var body = null;
    try { body = JSON.parse(text); } catch (_e) { body = null; }
    if (!body || !body.error) {
      show(form.dataset.failed, "error");
      return;
    }
    show(body.error.message, "error");
    (body.error.problems || []).slice(1, 20).forEach(function (p) {
      var li = document.createElement("li");
      li.textContent = (p.file ? p.file + ": " : "") + p.message;
      problems.appendChild(li);
    });
  }

  function install(uploadUrl) {
    show(form.dataset.installing, "info");
    var xhr = new XMLHttpRequest();
    xhr.open("POST", form.action);
    xhr.setRequestHeader("Content-Type", "application/json");
    xhr.setRequestHeader("Accept", "application/json");
    xhr.setRequestHeader("X-CSRFToken", csrf());
    xhr.addEventListener("load", function () {
      button.disabled = false;
      if (xhr.status === 200 || xhr.status === 201) {
        var body = JSON.parse(xhr.responseText);
        var template = body.already_installed ? form.dataset.same : form.dataset.done;
        show(fill(template, { pack: body.pack.id, version: body.pack.version }), "success");
        showCourses(body.courses);
        showImportReport(body["import"]);
        form.reset();
        return;
      }
      showError(xhr.responseText);
    });
    xhr.addEventListener("error", function () {
      button.disabled = false;
      show(form.dataset.failed, "error");
    });
    var id = uploadUrl.replace(/\/+$/, "").split("/").pop();
    xhr.send(JSON.stringify({ upload: id, force: Boolean(force && force.checked) }));
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    problems.textContent = "";
    showCourses([]);
    result.textContent = "";
    result.className = "";
    var file = input.files[0];
    if (!file) return;
    if (file.size > Number(form.dataset.limit)) {
      show(form.dataset.toolarge, "error");
      return;
    }
    box.hidden = false;
    progress(0, file.size);
    button.disabled = true;
    var upload = new window.tus.Upload(file, {
      endpoint: form.dataset.uploads,
      chunkSize: Number(form.dataset.chunk),
      retryDelays: [0, 1000, 3000, 5000, 10000, 20000],
      metadata: { filename: file.name, purpose: "pack" },
      headers: { "X-CSRFToken": csrf() },
      removeFingerprintOnSuccess: true,
      onProgress: progress,
      onError: function (error) {
        button.disabled = false;
        var response = error && error.originalResponse;
        showError(response ? response.getBody() : "");
      },
      onSuccess: function () {
        progress(file.size, file.size);
        install(upload.url);
      },
    });
    // Continue an upload of this same file that a dropped connection or a reload cut short.
    upload.findPreviousUploads().then(function (previous) {
      if (previous.length) upload.resumeFromPreviousUpload(previous[0]);
      upload.start();
    });
  });
})();
