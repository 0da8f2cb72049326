/* Kru practicum observations (issue 15): the form keeps working when the phone leaves the
 * site's Wi-Fi. Saving puts the observation, with an id made here, in localStorage (per
 * signed-in user); it is sent to the site every few seconds and when the browser says it is
 * online, and dropped from the phone only when the site answered. The site stores an id once,
 * so a resend after a lost answer changes nothing: each observation arrives exactly once.
 * With the installed app (HTTPS, issue 23) the service worker gets a copy of this queue while
 * the site cannot be reached and sends it by Background Sync, even with the page closed; it
 * says which ids went, and they leave this queue.
 */
(function () {
  "use strict";
  var KEY = "kru.observations.v1", EVERY_MS = 5000;
  var box = document.getElementById("observe-status");
  if (!box) { return; }
  var user = box.getAttribute("data-user"), api = box.getAttribute("data-api");
  var sending = false;

  function csrf() {
    var m = document.querySelector('meta[name="csrf-token"]');
    return m ? m.getAttribute("content") : "";
  }
  function load() {
    try {
      var all = JSON.parse(localStorage.getItem(KEY) || "{}");
      return Array.isArray(all[user]) ? all[user] : [];
    } catch (e) { return []; }
  }
  function save(queue) {
    var all = {};
    try { all = JSON.parse(localStorage.getItem(KEY) || "{}"); } catch (e) { all = {}; }
    all[user] = queue;
    localStorage.setItem(KEY, JSON.stringify(all));  // throws when full: the caller says so
  }
  function drop(id) { save(load().filter(function (o) { return o.id !== id; })); }
  function uuid() {
    var b = new Uint8Array(16); crypto.getRandomValues(b);
    b[6] = (b[6] & 15) | 64; b[8] = (b[8] & 63) | 128;
    var h = Array.prototype.map.call(b, function (x) { return (x + 256).toString(16).slice(1); }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }
  function say(text, kind) {
    box.textContent = text;
    box.className = "flash " + kind;
    box.hidden = false;
  }
  function waiting() {
    var n = load().length;
    if (n) {
      var count = window.KruDigits ? window.KruDigits(n) : String(n);
      say(box.getAttribute("data-waiting").replace("%(count)s", count), "warn");
    }
    return n;
  }

  function handOver() {  // a copy for the service worker's Background Sync (kru-sw.js)
    var sw = navigator.serviceWorker && navigator.serviceWorker.controller;
    if (sw) { sw.postMessage({ kru: "outbox", queue: "kru-observations", url: api, csrf: csrf(), bodies: load() }); }
  }
  if (navigator.serviceWorker) {
    navigator.serviceWorker.addEventListener("message", function (e) {
      var data = e.data || {};
      if (data.kru !== "sent" || data.queue !== "kru-observations" || !Array.isArray(data.ids)) { return; }
      data.ids.forEach(drop);
      if (!waiting()) { say(box.getAttribute("data-sent"), "success"); }
    });
  }

  function flush() {
    if (sending) { return; }
    var queue = load();
    if (!queue.length) { return; }
    sending = true;
    var one = queue[0];
    fetch(api, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf() },
      body: JSON.stringify(one)
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (body) {
        var code = body && body.error && body.error.code;
        if (r.ok) {
          drop(one.id);
          if (!waiting()) { say(box.getAttribute("data-sent"), "success"); handOver(); }
          setTimeout(flush, 0);
        } else if (r.status >= 400 && r.status < 500 && r.status !== 401 && r.status !== 408 &&
                   r.status !== 429 && code !== "csrf_failed") {
          // The site will never take this one (a student no longer assigned, a form removed):
          // say why, and put it back in the form if the form is open.
          drop(one.id);
          refill(one);
          var why = (body && body.error && body.error.message) || String(r.status);
          say(box.getAttribute("data-refused").replace("%(reason)s", why), "error");
        }  /* else: signed out, busy, token: keep it and try again */
      });
    }).catch(function () {
      handOver();
      waiting();  /* no Wi-Fi: try again on the next tick */
    }).then(function () { sending = false; });
  }

  var form = document.getElementById("observe-form");
  function collect() {
    var data = new FormData(form), rubric = {}, notes = {};
    data.forEach(function (value, name) {
      if (name.indexOf("c-") === 0) { rubric[name.slice(2)] = value; }
      if (name.indexOf("n-") === 0 && value) { notes[name.slice(2)] = value; }
    });
    return {
      id: uuid(), learner: Number(form.getAttribute("data-learner")),
      form: form.getAttribute("data-form"), rubric: rubric, notes: notes,
      school: data.get("school"), "class": data.get("class"), date: data.get("date"),
      comment: data.get("comment"), timestamp: new Date().toISOString()
    };
  }
  function refill(one) {
    if (!form || String(one.learner) !== form.getAttribute("data-learner")) { return; }
    ["school", "class", "date", "comment"].forEach(function (k) {
      if (form.elements[k]) { form.elements[k].value = one[k] || ""; }
    });
    Object.keys(one.rubric || {}).forEach(function (c) {
      var radio = form.querySelector('input[name="c-' + c + '"][value="' + one.rubric[c] + '"]');
      if (radio) { radio.checked = true; }
    });
    Object.keys(one.notes || {}).forEach(function (c) {
      var note = form.elements["n-" + c];
      if (note) { note.value = one.notes[c]; }
    });
  }
  if (form) {
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var one = collect(), queue = load();
      queue.push(one);
      try { save(queue); } catch (e) {
        form.submit();  // no storage on this phone: send it the plain way
        return;
      }
      var school = form.elements.school.value;
      form.reset();
      form.elements.school.value = school;  // the mentor stays at the same school
      say(box.getAttribute("data-saved"), "info");
      window.scrollTo(0, 0);
      flush();
    });
  }
  waiting();
  setInterval(flush, EVERY_MS);
  window.addEventListener("online", flush);
  flush();
}());
