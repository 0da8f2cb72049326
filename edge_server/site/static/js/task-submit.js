// Hand in work for a task: files up to one chunk go in the request itself, larger ones
// (a teaching video) first go up in resumable chunks (tus 1.0, vendored tus-js-client) that
// continue where they stopped after a dropped Wi-Fi. One progress bar covers all files.
// Then POST /api/v1/submissions (docs/api.md, "Submissions"); the page reloads to show it.
(function () {
  "use strict";
  var form = document.getElementById("task-submit");
  if (!form || !window.FormData) return;
  var input = document.getElementById("task-files");
  var note = document.getElementById("task-note");
  var box = form.querySelector(".upload-progress");
  var bar = document.getElementById("task-progress");
  var percent = document.getElementById("task-percent");
  var result = document.getElementById("task-result");
  var button = form.querySelector("button[type=submit]");
  var chunk = Number(form.dataset.chunk);
  var submissionId = null; // one id per hand-in: a resend after a cut is the same submission

  function uuid4() {
    if (window.crypto && window.crypto.randomUUID) return window.crypto.randomUUID();
    var b = new Uint8Array(16);
    window.crypto.getRandomValues(b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    var h = Array.prototype.map.call(b, function (x) { return (x + 256).toString(16).slice(1); }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }

  function csrf() {
    return form.querySelector("input[name=csrf_token]").value;
  }

  function show(message, kind) {
    result.textContent = message;
    result.className = "flash " + kind;
  }

  function showError(text) {
    var body = null;
    try { body = JSON.parse(text); } catch (_e) { body = null; }
    show(body && body.error ? body.error.message : form.dataset.failed, "error");
    button.disabled = false;
  }

  function progress(sent, total) {
    var p = total ? Math.floor((sent / total) * 100) : 0;
    bar.value = p;
    percent.textContent = p + "%";
  }

  function sendLarge(files, done, total, onAll) {
    var ids = [];
    var base = 0;
    function next(i) {
      if (i >= files.length) return onAll(ids);
      var file = files[i];
      var upload = new window.tus.Upload(file, {
        endpoint: form.dataset.uploads,
        chunkSize: chunk,
        retryDelays: [0, 1000, 3000, 5000, 10000, 20000, 30000],
        metadata: { filename: file.name, purpose: "submission" },
        headers: { "X-CSRFToken": csrf() },
        removeFingerprintOnSuccess: true,
        onProgress: function (sent) { progress(done + base + sent, total); },
        onError: function (error) {
          var response = error && error.originalResponse;
          showError(response ? response.getBody() : "");
        },
        onSuccess: function () {
          base += file.size;
          ids.push(upload.url.replace(/\/+$/, "").split("/").pop());
          next(i + 1);
        },
      });
      upload.findPreviousUploads().then(function (previous) {
        if (previous.length) upload.resumeFromPreviousUpload(previous[0]);
        upload.start();
      });
    }
    next(0);
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var files = Array.prototype.slice.call(input.files);
    if (!files.length) return;
    var limit = Number(form.dataset.limit);
    for (var i = 0; i < files.length; i++) {
      if (files[i].size > limit) {
        show(form.dataset.toolarge.replace("%(file)s", files[i].name), "error");
        return;
      }
    }
    if (!submissionId) submissionId = uuid4();
    var small = files.filter(function (f) { return f.size <= chunk; });
    var large = files.filter(function (f) { return f.size > chunk; });
    var total = files.reduce(function (n, f) { return n + f.size; }, 0);
    var smallBytes = small.reduce(function (n, f) { return n + f.size; }, 0);
    box.hidden = false;
    button.disabled = true;
    result.textContent = "";
    progress(0, total);
    function post(uploadIds) {
      var data = new FormData();
      data.append("item", form.querySelector("input[name=item]").value);
      data.append("note", note.value);
      data.append("id", submissionId);
      small.forEach(function (f) { data.append("file", f, f.name); });
      uploadIds.forEach(function (id) { data.append("upload", id); });
      var xhr = new XMLHttpRequest();
      xhr.open("POST", form.dataset.api);
      xhr.setRequestHeader("Accept", "application/json");
      xhr.setRequestHeader("X-CSRFToken", csrf());
      xhr.upload.addEventListener("progress", function (e) {
        if (e.lengthComputable) progress(total - smallBytes + Math.min(e.loaded, smallBytes), total);
      });
      xhr.addEventListener("load", function () {
        if (xhr.status === 200 || xhr.status === 201) {
          progress(total, total);
          show(form.dataset.done, "success");
          window.location.reload();
          return;
        }
        showError(xhr.responseText);
      });
      xhr.addEventListener("error", function () { showError(""); });
      xhr.send(data);
    }
    if (large.length && window.tus) {
      sendLarge(large, 0, total, post);
    } else {
      post([]);
    }
  });
})();
