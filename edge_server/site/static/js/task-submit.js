// Hand in work for a task: files up to one chunk go in the request itself, larger ones
// (a teaching video) first go up in resumable chunks (tus 1.0, vendored tus-js-client) that
// continue where they stopped after a dropped Wi-Fi. One progress bar covers all files.
// Then POST /api/v1/submissions (docs/api.md, "Submissions"); the page reloads to show it.
// Without the Wi-Fi (issue 23: the task page opened from the installed app, or the Pi gone)
// Submit keeps the hand-in on the phone (IndexedDB "kru-drafts": files, note, its id) and
// sends it when the Pi answers again: while the page is open, or the next time a task page
// opens. The id makes a resend the same submission, so it arrives once.
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

  // --- hand-ins kept on the phone -------------------------------------------------------
  var DB = "kru-drafts", STORE = "tasks", user = form.dataset.user;
  function openDb() {
    return new Promise(function (resolve, reject) {
      if (!window.indexedDB) return reject(new Error("no IndexedDB"));
      var req = indexedDB.open(DB, 1);
      req.onupgradeneeded = function () { req.result.createObjectStore(STORE, { keyPath: "id" }); };
      req.onsuccess = function () { resolve(req.result); };
      req.onerror = function () { reject(req.error); };
    });
  }
  function inStore(mode, work) {
    return openDb().then(function (db) {
      return new Promise(function (resolve, reject) {
        var tx = db.transaction(STORE, mode), out = work(tx.objectStore(STORE));
        tx.oncomplete = function () { db.close(); resolve(out && out.result !== undefined ? out.result : out); };
        tx.onerror = function () { db.close(); reject(tx.error); };
      });
    });
  }
  function drafts() {
    return inStore("readonly", function (st) { return st.getAll(); }).then(function (all) {
      return (all || []).filter(function (d) { return d.user === user; });
    }).catch(function () { return []; });
  }
  function away() { return navigator.onLine === false || Boolean(window.KruOffline && KruOffline.lost()); }
  function keep(files) {
    var draft = {
      id: submissionId, user: user, item: form.querySelector("input[name=item]").value,
      api: form.dataset.api, note: note.value, saved: new Date().toISOString(),
      files: files.map(function (f) { return { name: f.name, blob: f }; })
    };
    return inStore("readwrite", function (st) { return st.put(draft); }).then(function () {
      show(form.dataset.savedHere, "warn");
      submissionId = null;
      form.reset();
      button.disabled = false;
      box.hidden = true;
    });
  }
  var sending = false;
  function sendKept() {  // one at a time, oldest first; dropped only when the Pi took it
    if (sending || away()) return;
    drafts().then(function (list) {
      list.sort(function (a, b) { return a.saved < b.saved ? -1 : 1; });
      var draft = list[0];
      if (!draft) return;
      sending = true;
      var data = new FormData();
      data.append("item", draft.item);
      data.append("note", draft.note);
      data.append("id", draft.id);
      draft.files.forEach(function (f) { data.append("file", f.blob, f.name); });
      fetch(draft.api, {
        method: "POST", credentials: "same-origin", body: data,
        headers: { "Accept": "application/json", "X-CSRFToken": csrf() }
      }).then(function (r) {
        return r.json().catch(function () { return {}; }).then(function (body) {
          var code = body && body.error && body.error.code;
          sending = false;
          var never = r.status >= 400 && r.status < 500 && [401, 408, 429].indexOf(r.status) < 0 &&
            code !== "csrf_failed";  // the Pi will never take this one: say why, drop it
          if (!r.ok && !never) return;  // signed out, busy: try again later
          return inStore("readwrite", function (st) { return st.delete(draft.id); }).then(function () {
            if (r.ok) { show(form.dataset.sentKept, "success"); sendKept(); }
            else { showError(JSON.stringify(body)); }
          });
        });
      }).catch(function () { sending = false; });
    });
  }
  window.addEventListener("online", sendKept);
  setInterval(sendKept, 5000);
  drafts().then(function (list) {
    if (list.length) show(form.dataset.waiting.replace("%(count)s", window.KruDigits ? KruDigits(list.length) : String(list.length)), "warn");
    sendKept();
  });

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
    if (away()) {  // no Wi-Fi: keep it on the phone, send it when the Pi answers
      // Only what fits one request waits on the phone; a larger file (a teaching video)
      // goes up in resumable chunks, which need the Wi-Fi.
      if (files.some(function (f) { return f.size > chunk; })) { show(form.dataset.failed, "error"); return; }
      keep(files).catch(function () { show(form.dataset.failed, "error"); });
      return;
    }
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
      xhr.addEventListener("error", function () {
        // The Pi did not answer: a hand-in of small files waits on the phone instead.
        if (!large.length) { keep(files).catch(function () { showError(""); }); } else { showError(""); }
      });
      xhr.send(data);
    }
    if (large.length && window.tus) {
      sendLarge(large, 0, total, post);
    } else {
      post([]);
    }
  });
})();
