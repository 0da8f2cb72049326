/* The course editor (issue 17): outline, lesson, image, video, audio, PDF, quiz and
   assignment editing over
   /api/v1/authoring. Autosave: every change goes to localStorage first and leaves it
   only when the server has it, so a Wi-Fi drop loses no typing. A save against an old
   revision gets 409 draft_conflict and the editor says so instead of overwriting. */
(function () {
  "use strict";
  var root = document.getElementById("editor");
  if (!root) return;
  var T = JSON.parse(document.getElementById("editor-text").textContent);
  var draft = JSON.parse(document.getElementById("draft-data").textContent);
  var API = "/api/v1/authoring/courses/" + draft.id;
  var csrf = document.querySelector('meta[name="csrf-token"]').content;
  var KEY = "kru-draft-" + draft.id;
  var current = null;
  var timer = null, previewTimer = null, retryTimer = null, blocked = false;
  var $ = function (id) { return document.getElementById(id); };

  function call(method, url, body) {
    var opts = { method: method, headers: { "X-CSRFToken": csrf }, credentials: "same-origin" };
    if (body instanceof FormData) opts.body = body;
    else if (body !== undefined) {
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body);
    }
    return fetch(url, opts).then(function (r) {
      return r.json().then(function (j) { return { status: r.status, body: j }; });
    });
  }
  function state(text) { $("save-state").textContent = text; }
  function pending() { try { return JSON.parse(localStorage.getItem(KEY) || "{}"); } catch (e) { return {}; } }
  function keep(itemId, change) {
    var all = pending();
    all[itemId] = Object.assign(all[itemId] || {}, change);
    localStorage.setItem(KEY, JSON.stringify(all));
  }
  function forget(itemId, sent) {
    var all = pending();
    if (all[itemId] && JSON.stringify(all[itemId]) === JSON.stringify(sent)) delete all[itemId];
    localStorage.setItem(KEY, JSON.stringify(all));
  }
  function items() { var out = []; draft.modules.forEach(function (m) { out = out.concat(m.items); }); return out; }
  function find(id) { return items().filter(function (i) { return i.id === id; })[0]; }
  function title(obj) { return (document.documentElement.lang === "en" && obj.en) || obj.km || obj.en; }

  function conflict(body) {
    blocked = true;
    $("conflict-text").textContent = T.conflict + ((body && body.error && body.error.updated_by) ? " (" + body.error.updated_by + ")" : "");
    $("conflict").hidden = false;
    state(T.offline);
  }

  /* Every write goes through one queue, so no request carries a revision another of
     this editor's requests is about to change (which would be a conflict with oneself). */
  var chain = Promise.resolve();
  function serial(fn) { var p = chain.then(fn); chain = p.catch(function () {}); return p; }

  /* Send every change kept in this browser, one at a time ("_order" is the outline). */
  function sendPending() {
    if (blocked) return Promise.resolve(false);
    var all = pending(), ids = Object.keys(all);
    if (!ids.length) { state(T.saved); return Promise.resolve(true); }
    var id = ids[0], change = all[id];
    state(T.saving);
    var req = id === "_order"
      ? call("PUT", API + "/order", Object.assign({ revision: draft.revision }, change))
      : call("PATCH", API + "/items/" + id, Object.assign({ revision: draft.revision }, change));
    return req.then(function (res) {
      if (res.status === 200) {
        draft.revision = res.body.revision;
        forget(id, change);
        return sendPending();
      }
      if (res.status === 409) { conflict(res.body); return false; }
      if (res.status === 404) { forget(id, change); return sendPending(); }
      state(res.body.error ? res.body.error.message : T.offline);
      return false;
    }, function () {
      state(T.offline);
      clearTimeout(retryTimer);
      retryTimer = setTimeout(flush, 4000);
      return false;
    });
  }
  function flush() { clearTimeout(retryTimer); return serial(sendPending); }
  function change(field, value) {
    if (!current) return;
    current[field] = value;
    var c = {}; c[field] = value;
    keep(current.id, c);
    state(T.offline);
    clearTimeout(timer);
    timer = setTimeout(flush, 700);
  }
  window.addEventListener("online", flush);

  /* --- the outline: buttons (keyboard, touch) and drag ------------------------ */
  function order() {
    return draft.modules.map(function (m) { return { id: m.id, items: m.items.map(function (i) { return i.id; }) }; });
  }
  function sendOrder() {
    var all = pending();
    all._order = { modules: order() };
    localStorage.setItem(KEY, JSON.stringify(all));
    flush();
  }
  function move(itemId, delta) {
    var flat = [];
    draft.modules.forEach(function (m) { m.items.forEach(function (i, n) { flat.push([m, n]); }); });
    var at = flat.findIndex(function (p) { return p[0].items[p[1]].id === itemId; });
    var to = at + delta;
    if (at < 0 || to < 0 || to >= flat.length) return;
    var a = flat[at], b = flat[to];
    var item = a[0].items.splice(a[1], 1)[0];
    if (a[0] === b[0]) a[0].items.splice(b[1], 0, item);
    else b[0].items.splice(delta > 0 ? 0 : b[0].items.length, 0, item);
    render(); sendOrder();
    var again = document.querySelector('[data-item="' + itemId + '"] .move-' + (delta < 0 ? "up" : "down"));
    if (again) again.focus();
  }
  function button(text, cls, label, onClick) {
    var b = document.createElement("button");
    b.type = "button"; b.className = cls; b.textContent = text;
    if (label) b.setAttribute("aria-label", label);
    b.addEventListener("click", onClick);
    return b;
  }
  function render() {
    var tree = $("tree");
    tree.textContent = "";
    draft.modules.forEach(function (m) {
      var li = document.createElement("li");
      li.className = "module";
      var h = document.createElement("strong");
      h.textContent = title(m.title);
      li.appendChild(h);
      li.dataset.module = m.id;
      var ol = document.createElement("ol");
      m.items.forEach(function (item) {
        var row = document.createElement("li");
        row.dataset.item = item.id;
        row.className = "item" + (current && current.id === item.id ? " selected" : "");
        var handle = document.createElement("span");
        handle.className = "handle"; handle.textContent = "⠿";
        handle.title = T.drag; handle.setAttribute("aria-hidden", "true");
        handle.addEventListener("pointerdown", function (e) { startDrag(e, item, row); });
        row.append(
          handle,
          button("[" + (T.types[item.type] || item.type) + "] " + title(item.title), "link pick", null, function () { select(item.id); }),
          button("↑", "move-up", T.up, function () { move(item.id, -1); }),
          button("↓", "move-down", T.down, function () { move(item.id, 1); })
        );
        ol.appendChild(row);
      });
      li.appendChild(ol);
      tree.appendChild(li);
    });
  }

  /* Drag by the handle with pointer events, so a mouse, a finger and a pen all work (the
     HTML5 drag events never fire for touch). The arrows do the same from the keyboard. */
  function dropTarget(x, y) {
    var el = document.elementFromPoint(x, y);
    if (!el) return null;
    var row = el.closest("#tree [data-item]"), mod = el.closest("#tree [data-module]");
    if (!mod) return null;
    var before = null;
    if (row) {
      var box = row.getBoundingClientRect();
      before = y < box.top + box.height / 2 ? row.dataset.item : (row.nextElementSibling ? row.nextElementSibling.dataset.item : null);
    }
    return { module: mod.dataset.module, before: before, row: row };
  }
  function startDrag(e, item, row) {
    if (e.button !== undefined && e.button > 0) return;
    e.preventDefault();
    var handle = e.currentTarget, shown = null;
    handle.setPointerCapture(e.pointerId);
    row.classList.add("dragging");
    function mark(target) {
      if (shown) shown.classList.remove("drop-before", "drop-after");
      shown = target && target.row && target.row !== row ? target.row : null;
      if (shown) shown.classList.add(target.before === shown.dataset.item ? "drop-before" : "drop-after");
    }
    function moveTo(ev) { mark(dropTarget(ev.clientX, ev.clientY)); }
    function end(ev) {
      handle.removeEventListener("pointermove", moveTo);
      handle.removeEventListener("pointerup", end);
      handle.removeEventListener("pointercancel", cancel);
      mark(null); row.classList.remove("dragging");
      var target = dropTarget(ev.clientX, ev.clientY);
      if (!target || target.before === item.id) return;
      var mod = draft.modules.filter(function (m) { return m.id === target.module; })[0];
      draft.modules.forEach(function (m) { m.items = m.items.filter(function (i) { return i.id !== item.id; }); });
      var at = target.before ? mod.items.findIndex(function (i) { return i.id === target.before; }) : -1;
      mod.items.splice(at < 0 ? mod.items.length : at, 0, item);
      render(); sendOrder();
    }
    function cancel() {
      handle.removeEventListener("pointermove", moveTo);
      handle.removeEventListener("pointerup", end);
      handle.removeEventListener("pointercancel", cancel);
      mark(null); row.classList.remove("dragging");
    }
    handle.addEventListener("pointermove", moveTo);
    handle.addEventListener("pointerup", end);
    handle.addEventListener("pointercancel", cancel);
  }

  /* --- item editors ----------------------------------------------------------- */
  function preview() {
    clearTimeout(previewTimer);
    previewTimer = setTimeout(function () {
      call("POST", "/api/v1/authoring/preview", { body_md: $("body-md").value, draft: draft.id })
        .then(function (res) { if (res.status === 200) $("lesson-preview").innerHTML = res.body.html; })
        .catch(function () {});
    }, 300);
  }
  function mediaUrl(path) {
    var m = draft.media.filter(function (x) { return x.path === path; })[0];
    return m ? "/authoring/" + draft.id + "/media/" + m.sha256 : "";
  }
  function select(id) {
    current = find(id);
    var kept = pending()[id];
    if (kept) Object.assign(current, kept);
    $("item-editor").hidden = false;
    $("item-title-km").value = current.title.km || "";
    $("item-title-en").value = current.title.en || "";
    $("lesson-editor").hidden = current.type !== "lesson";
    $("image-editor").hidden = current.type !== "image";
    $("quiz-editor").hidden = current.type !== "quiz";
    $("media-editor").hidden = ["video", "audio", "pdf"].indexOf(current.type) < 0;
    $("task-editor").hidden = current.type !== "task";
    if (!$("media-editor").hidden) showMedia();
    if (current.type === "task") showTask();
    if (current.type === "lesson") { $("body-md").value = current.body_md || ""; preview(); }
    if (current.type === "image") {
      $("image-shown").src = mediaUrl(current.file);
      $("alt-km").value = (current.alt && current.alt.km) || "";
    }
    if (current.type === "quiz") renderQuiz();
    render();
  }
  function titleChange() {
    change("title", { km: $("item-title-km").value, en: $("item-title-en").value });
    render();
  }
  $("item-title-km").addEventListener("input", titleChange);
  $("item-title-en").addEventListener("input", titleChange);
  $("body-md").addEventListener("input", function () { change("body_md", $("body-md").value); preview(); });
  $("alt-km").addEventListener("input", function () { change("alt", { km: $("alt-km").value }); });

  /* Uploads use XMLHttpRequest, the one browser API that reports upload progress. */
  function send(form, onProgress) {
    return new Promise(function (resolve, reject) {
      var xhr = new XMLHttpRequest();
      xhr.open("POST", API + "/media");
      xhr.setRequestHeader("X-CSRFToken", csrf);
      xhr.upload.onprogress = function (e) { if (e.lengthComputable) onProgress(e.loaded / e.total); };
      xhr.onload = function () {
        var body = {};
        try { body = JSON.parse(xhr.responseText); } catch (e) { body = {}; }
        resolve({ status: xhr.status, body: body });
      };
      xhr.onerror = function () { reject(new Error(T.offline)); };
      xhr.send(form);
    });
  }
  function upload(file, extra) {
    // A photo larger than one request may carry goes up in parts, as videos do.
    if (!extra && file.size > 8 * 1024 * 1024) return tusSend(file);
    var form = new FormData(), bar = $("upload-progress"), label = $("upload-percent");
    form.append("file", file, file.name || "image.png");
    Object.keys(extra || {}).forEach(function (k) { form.append(k, extra[k], extra[k].name); });
    function shown(part) {
      bar.value = Math.round(part * 100);
      label.textContent = T.uploading.replace("%(percent)s", window.KruDigits(Math.round(part * 100)));
    }
    $("upload").hidden = false; shown(0);
    return serial(function () { return send(form, shown); }).then(function (res) {
      if (res.status !== 201) throw new Error(res.body.error ? res.body.error.message : T.failed);
      shown(1);
      draft.revision = res.body.revision;
      draft.media.push({ path: res.body.path, sha256: res.body.sha256, size: res.body.size });
      (res.body.extra || []).forEach(function (m) { draft.media.push(m); });
      return res.body;
    });
  }
  function insertImage(file) {
    upload(file).then(function (ref) {
      var area = $("body-md"), at = area.selectionStart || area.value.length;
      area.value = area.value.slice(0, at) + "\n![](" + ref.path + ")\n" + area.value.slice(at);
      change("body_md", area.value); preview();
    }).catch(function (e) { state(e.message); });
  }
  $("body-md").addEventListener("paste", function (e) {
    var files = (e.clipboardData && e.clipboardData.files) || [];
    if (files.length && files[0].type.indexOf("image/") === 0) { e.preventDefault(); insertImage(files[0]); }
  });
  $("lesson-image").addEventListener("change", function () { if (this.files[0]) insertImage(this.files[0]); this.value = ""; });

  /* Video, audio and PDF go up as resumable uploads (tus, like packs): a cut connection
     goes on from where it stopped, and the bar shows how far it is. */
  function tusSend(file) {
    var bar = $("upload-progress"), label = $("upload-percent");
    function shown(part) {
      bar.value = Math.round(part * 100);
      label.textContent = T.uploading.replace("%(percent)s", window.KruDigits(Math.round(part * 100)));
    }
    if (file.size > Number(root.dataset.limit)) return Promise.reject(new Error(T.too_large));
    $("upload").hidden = false; shown(0);
    return new Promise(function (resolve, reject) {
      var up = new window.tus.Upload(file, {
        endpoint: "/api/v1/uploads",
        chunkSize: Number(root.dataset.chunk),
        retryDelays: [0, 1000, 3000, 5000, 10000, 20000],
        metadata: { filename: file.name, purpose: "authoring_media" },
        headers: { "X-CSRFToken": csrf },
        removeFingerprintOnSuccess: true,
        onProgress: function (sent, total) { shown(total ? sent / total : 0); },
        onError: function (error) {
          var r = error && error.originalResponse, body = {};
          try { body = JSON.parse(r ? r.getBody() : "{}"); } catch (e) { body = {}; }
          reject(new Error(body.error ? body.error.message : T.offline));
        },
        onSuccess: function () { resolve(up.url.replace(/\/+$/, "").split("/").pop()); }
      });
      up.findPreviousUploads().then(function (previous) {
        if (previous.length) up.resumeFromPreviousUpload(previous[0]);
        up.start();
      });
    }).then(function (uploadId) {
      return serial(function () { return call("POST", API + "/media", { upload: uploadId }); });
    }).then(function (res) {
      if (res.status !== 201) throw new Error(res.body.error ? res.body.error.message : T.failed);
      shown(1);
      draft.revision = res.body.revision;
      if (!draft.media.some(function (m) { return m.path === res.body.path; })) {
        draft.media.push({ path: res.body.path, sha256: res.body.sha256, size: res.body.size });
      }
      return res.body;
    });
  }
  function showMedia() {
    var url = mediaUrl(current.file), video = $("video-shown"), audio = $("audio-shown");
    video.hidden = current.type !== "video"; audio.hidden = current.type !== "audio";
    video.textContent = "";
    if (current.type === "video") {
      video.src = url;
      (current.captions || []).forEach(function (c, n) {
        var track = document.createElement("track");
        track.kind = "captions"; track.srclang = c.lang; track.label = c.label || c.lang;
        track.default = n === 0;
        track.src = mediaUrl(c.file);
        video.appendChild(track);
      });
    } else video.removeAttribute("src");
    if (current.type === "audio") audio.src = url; else audio.removeAttribute("src");
    $("file-link").href = url; $("file-link").textContent = current.file;
    $("captions-editor").hidden = current.type !== "video";
    var list = $("captions-list");
    list.textContent = "";
    (current.captions || []).forEach(function (c, n) {
      var li = document.createElement("li");
      li.append((c.label || c.lang) + " · " + c.file + " ", button(T.remove, "", null, function () {
        var kept = current.captions.slice(); kept.splice(n, 1);
        change("captions", kept); showMedia();
      }));
      list.appendChild(li);
    });
  }
  $("captions-file").addEventListener("change", function () {
    var file = this.files[0], item = current, lang = $("captions-lang").value;
    this.value = "";
    if (!file || !item) return;
    tusSend(file).then(function (ref) {
      var kept = (item.captions || []).filter(function (c) { return c.lang !== lang; });
      kept.push({ lang: lang, label: T["captions_" + lang], file: ref.path });
      if (current === item) { change("captions", kept); showMedia(); }
    }).catch(function (e) { state(e.message); });
  });

  /* Assignment (a task item): instructions, what may be handed in, a rubric. */
  function taskChanged() { change("task", current.task); }
  function showTask() {
    var task = current.task;
    $("task-instructions").value = (task.instructions && task.instructions.km) || "";
    $("task-due").value = task.due || "";
    document.querySelectorAll("input[name=task-accept]").forEach(function (box) {
      box.checked = task.accept.indexOf(box.value) >= 0;
    });
    renderRubric();
  }
  $("task-instructions").addEventListener("input", function () {
    current.task.instructions = Object.assign({}, current.task.instructions, { km: this.value });
    taskChanged();
  });
  $("task-due").addEventListener("input", function () {
    if (this.value) current.task.due = this.value; else delete current.task.due;
    taskChanged();
  });
  document.querySelectorAll("input[name=task-accept]").forEach(function (box) {
    box.addEventListener("change", function () {
      var accept = current.task.accept.filter(function (a) { return a !== box.value; });
      if (box.checked) accept.push(box.value);
      current.task.accept = accept; taskChanged();
    });
  });
  function taskField(label, value, onInput, type) {
    var l = document.createElement("label");
    l.textContent = label + " ";
    var input = document.createElement("input");
    input.value = value === undefined || value === null ? "" : value;
    if (type) { input.type = type; input.min = "0"; } else input.lang = "km";
    input.addEventListener("input", function () { onInput(input.value); taskChanged(); });
    l.appendChild(input);
    return l;
  }
  function renderRubric() {
    var list = $("rubric");
    list.textContent = "";
    current.task.rubric.forEach(function (c, n) {
      var li = document.createElement("li");
      li.className = "question card";
      li.appendChild(taskField(T.criterion, c.title.km, function (v) { c.title.km = v; }));
      var ul = document.createElement("ul");
      c.levels.forEach(function (level, k) {
        var row = document.createElement("li");
        row.className = "row";
        row.append(
          taskField(T.level, level.label.km, function (v) { level.label.km = v; }),
          taskField(T.points, level.points, function (v) { level.points = Number(v) || 0; }, "number"),
          button(T.remove, "", null, function () { c.levels.splice(k, 1); taskChanged(); renderRubric(); })
        );
        ul.appendChild(row);
      });
      li.append(ul, button(T.add_level, "", null, function () {
        c.levels.push({ id: "l" + Date.now().toString(36), label: { km: "…" }, points: 0 });
        taskChanged(); renderRubric();
      }), button(T.remove, "danger", null, function () {
        current.task.rubric.splice(n, 1); taskChanged(); renderRubric();
      }));
      list.appendChild(li);
    });
  }
  function newCriterion() {
    return { id: "c" + Date.now().toString(36), title: { km: T.criterion_new },
      levels: [{ id: "good", label: { km: T.good }, points: 2 }, { id: "not-yet", label: { km: T.not_yet }, points: 0 }] };
  }
  $("add-criterion").addEventListener("click", function () {
    current.task.rubric.push(newCriterion()); taskChanged(); renderRubric();
  });

  /* Quiz: every question type of the pack format, feedback when right and wrong. */
  function questionsChanged() { change("questions", current.quiz.questions); }
  function field(label, value, onInput, lang) {
    var l = document.createElement("label");
    l.textContent = label + " ";
    var input = document.createElement("input");
    input.value = value === undefined || value === null ? "" : value;
    if (lang) input.lang = lang;
    input.addEventListener("input", function () { onInput(input.value); questionsChanged(); });
    l.appendChild(input);
    return l;
  }
  function choiceEditor(q, ul) {
    q.choices.forEach(function (c, k) {
      var row = document.createElement("li");
      row.appendChild(field(T.choice, c.text_km, function (v) { c.text_km = v; }, "km"));
      var mark = document.createElement("label");
      var box = document.createElement("input");
      box.type = q.type === "multiple" ? "checkbox" : "radio";
      box.name = "answer-" + q.id;
      box.checked = q.type === "multiple" ? q.answer.indexOf(c.id) >= 0 : q.answer === c.id;
      box.addEventListener("change", function () {
        if (q.type === "single") q.answer = c.id;
        else if (box.checked) q.answer = q.answer.concat([c.id]);
        else q.answer = q.answer.filter(function (a) { return a !== c.id; });
        questionsChanged();
      });
      mark.append(box, " " + T.correct);
      row.append(mark, field(T.choice_feedback, c.feedback_km, function (v) {
        if (v) c.feedback_km = v; else delete c.feedback_km;
      }, "km"), button(T.remove, "", null, function () {
        q.choices.splice(k, 1);
        if (q.type === "multiple") q.answer = q.answer.filter(function (a) { return a !== c.id; });
        else if (q.answer === c.id && q.choices.length) q.answer = q.choices[0].id;
        questionsChanged(); renderQuiz();
      }));
      ul.appendChild(row);
    });
  }
  function renderQuiz() {
    var list = $("questions");
    list.textContent = "";
    current.quiz.questions.forEach(function (q, n) {
      var li = document.createElement("li");
      li.className = "question card";
      li.appendChild(field(T.prompt, q.prompt_km, function (v) { q.prompt_km = v; }, "km"));
      if (q.type === "single" || q.type === "multiple") {
        var ul = document.createElement("ul");
        choiceEditor(q, ul);
        li.append(ul, button(T.add_choice, "", null, function () {
          q.choices.push({ id: "c" + Date.now().toString(36), text_km: "…" });
          questionsChanged(); renderQuiz();
        }));
      } else if (q.type === "true_false") {
        var sel = document.createElement("select");
        sel.setAttribute("aria-label", T.answer);
        sel.add(new Option(T["true"], "true", false, q.answer === true));
        sel.add(new Option(T["false"], "false", false, q.answer === false));
        sel.addEventListener("change", function () { q.answer = sel.value === "true"; questionsChanged(); });
        li.appendChild(sel);
      } else if (q.type === "numeric") {
        li.appendChild(field(T.answer, String(q.answer), function (v) { q.answer = Number(v); }));
      } else {
        li.appendChild(field(T.answer, (q.accept || []).join(" | "), function (v) {
          q.accept = v.split("|").map(function (s) { return s.trim(); }).filter(Boolean);
        }, "km"));
      }
      li.appendChild(field(T.feedback_right, q.feedback_correct_km, function (v) { q.feedback_correct_km = v; }, "km"));
      li.appendChild(field(T.feedback_wrong, q.feedback_wrong_km, function (v) { q.feedback_wrong_km = v; }, "km"));
      li.appendChild(button(T.remove, "danger", null, function () {
        current.quiz.questions.splice(n, 1); questionsChanged(); renderQuiz();
      }));
      list.appendChild(li);
    });
  }
  function newQuestion(type) {
    var q = { id: "q" + Date.now().toString(36), type: type, prompt_km: "…" };
    if (type === "single" || type === "multiple") {
      q.choices = [{ id: "a", text_km: "ក" }, { id: "b", text_km: "ខ" }];
      q.answer = type === "single" ? "a" : ["a"];
    } else if (type === "true_false") q.answer = true;
    else if (type === "numeric") q.answer = 0;
    else q.accept = ["…"];
    return q;
  }
  $("add-question").addEventListener("click", function () {
    current.quiz.questions.push(newQuestion($("question-type").value));
    questionsChanged(); renderQuiz();
  });

  /* --- adding items and modules ---------------------------------------------- */
  /* The server's draft, with this browser's unsaved changes on top (they are still on
     their way), and the item being edited pointing into it. */
  function reload() {
    return call("GET", API).then(function (r) {
      draft = r.body;
      var all = pending();
      Object.keys(all).forEach(function (id) { var it = find(id); if (it) Object.assign(it, all[id]); });
      if (current) current = find(current.id) || current;
      render();
    });
  }
  function addItem(body) {
    return serial(function () {
      return call("POST", API + "/items", body).then(function (res) {
        if (res.status !== 201) { state(res.body.error.message); return null; }
        return reload().then(function () { return res.body.id; });
      });
    }).then(function (id) { if (id) select(id); });
  }
  document.querySelectorAll("[data-add]").forEach(function (b) {
    b.addEventListener("click", function () {
      var kind = b.dataset.add;
      if (kind === "lesson") addItem({ type: "lesson", title: { km: T.new_lesson }, body_md: "" });
      else if (kind === "quiz") addItem({ type: "quiz", title: { km: T.new_quiz }, questions: [newQuestion("single")] });
      else if (kind === "task") {
        addItem({ type: "task", title: { km: T.new_task }, task: {
          instructions: { km: T.new_task }, accept: ["document", "image"], rubric: [newCriterion()] } });
      } else $(kind + "-file").click();
    });
  });
  ["video", "audio", "pdf"].forEach(function (kind) {
    $(kind + "-file").addEventListener("change", function () {
      var file = this.files[0];
      this.value = "";
      if (!file) return;
      tusSend(file).then(function (ref) {
        var body = { type: kind, title: { km: file.name.replace(/\.[^.]+$/, "") }, file: ref.path };
        if (kind === "video") body.captions = [];
        return addItem(body);
      }).catch(function (e) { state(e.message); });
    });
  });
  $("image-file").addEventListener("change", function () {
    var file = this.files[0];
    this.value = "";
    if (!file) return;
    upload(file).then(function (ref) {
      return addItem({ type: "image", title: { km: file.name.replace(/\.[^.]+$/, "") }, file: ref.path });
    }).catch(function (e) { state(e.message); });
  });
  $("add-module").addEventListener("click", function () {
    serial(function () {
      return call("POST", API + "/modules", { title: { km: T.new_module } }).then(reload);
    });
  });
  $("delete-item").addEventListener("click", function () {
    if (!current || !window.confirm(T.confirm_delete)) return;
    serial(function () {
      return call("DELETE", API + "/items/" + current.id, { revision: draft.revision });
    }).then(function (res) {
      if (res.status === 409) return conflict(res.body);
      draft.revision = res.body.revision;
      var gone = current.id;
      draft.modules.forEach(function (m) { m.items = m.items.filter(function (i) { return i.id !== gone; }); });
      current = null; $("item-editor").hidden = true; render();
    });
  });
  /* After a conflict the server's draft wins, and the text this browser had not saved
     is shown next to it (kept under KEY-unsaved until the editor uses or drops it). */
  var UNSAVED = KEY + "-unsaved";
  function describe(field, value) {
    if (field === "questions") return value.map(function (q) { return q.prompt_km || q.prompt_en || ""; }).join("\n");
    if (value && typeof value === "object") return value.km || value.en || "";
    return String(value);
  }
  function showUnsaved() {
    var kept = {};
    try { kept = JSON.parse(localStorage.getItem(UNSAVED) || "{}"); } catch (e) { kept = {}; }
    delete kept._order;
    var list = $("unsaved-list"), ids = Object.keys(kept);
    list.textContent = "";
    $("unsaved").hidden = !ids.length;
    ids.forEach(function (id) {
      var item = find(id), li = document.createElement("li"), h = document.createElement("strong");
      h.textContent = item ? title(item.title) : id;
      li.appendChild(h);
      Object.keys(kept[id]).forEach(function (f) {
        var box = document.createElement("textarea");
        box.readOnly = true; box.lang = "km"; box.className = "unsaved-text";
        box.rows = f === "body_md" ? 8 : 2;
        box.setAttribute("aria-label", (T.fields[f] || f) + ": " + h.textContent);
        box.value = describe(f, kept[id][f]);
        li.appendChild(box);
      });
      list.appendChild(li);
    });
  }
  $("unsaved-use").addEventListener("click", function () {
    // A deliberate choice, made after seeing the other editor's version: save this text over it.
    var kept = JSON.parse(localStorage.getItem(UNSAVED) || "{}"), all = pending();
    delete kept._order;
    Object.keys(kept).forEach(function (id) { if (find(id)) all[id] = Object.assign(all[id] || {}, kept[id]); });
    localStorage.setItem(KEY, JSON.stringify(all));
    localStorage.removeItem(UNSAVED);
    showUnsaved();
    if (current && find(current.id)) select(current.id);
    flush();
  });
  $("unsaved-drop").addEventListener("click", function () { localStorage.removeItem(UNSAVED); showUnsaved(); });
  $("reload-draft").addEventListener("click", function () {
    var kept = pending(), before = {};
    try { before = JSON.parse(localStorage.getItem(UNSAVED) || "{}"); } catch (e) { before = {}; }
    Object.keys(kept).forEach(function (id) { before[id] = Object.assign(before[id] || {}, kept[id]); });
    if (Object.keys(before).length) localStorage.setItem(UNSAVED, JSON.stringify(before));
    localStorage.removeItem(KEY);
    reload().then(function () {
      blocked = false; $("conflict").hidden = true;
      if (current && find(current.id)) select(current.id);
      else { current = null; $("item-editor").hidden = true; }
      state(T.saved);
      showUnsaved();
    });
  });
  $("publish").addEventListener("click", function () {
    var out = $("publish-result");
    flush().then(function (sent) {
      if (!sent) { out.hidden = false; out.textContent = T.failed + " " + T.offline; return; }
      return serial(function () { return call("POST", API + "/publish"); }).then(function (res) {
        out.hidden = false;
        if (res.status === 201) out.textContent = T.published.replace("%(version)s", res.body.pack.version);
        else out.textContent = T.failed + " " + res.body.error.message;
      });
    }).catch(function () { out.hidden = false; out.textContent = T.failed + " " + T.offline; });
  });

  render();
  showUnsaved();
  flush(); // what an earlier visit typed while offline goes now
})();
