/* "Keep this course on my phone" on a course page (issue 23). Asks the Pi what the course
 * takes (/api/v1/courses/<course>/offline: pages, pack files, sizes, version), shows the size
 * before anything is downloaded, checks the space the browser allows Kru, then downloads
 * every page and file into a cache of its own ("kru-course:<course>:<version>") with a
 * progress bar; the service worker (kru-sw.js) answers from there without the Wi-Fi.
 * What was kept (version, bytes) is remembered in localStorage "kru.kept.v1". When the pack
 * has a new version, the next visit to the course page downloads it and drops the old copy.
 * "Remove from my phone" deletes the copy.
 */
(function () {
  "use strict";
  var card = document.getElementById("keep");
  if (!card || !window.isSecureContext || !("caches" in window) || !navigator.serviceWorker) { return; }
  var KEY = "kru.kept.v1", PREFIX = "kru-course:";
  var course = card.dataset.course;
  var sizeNote = document.getElementById("keep-size"), stateNote = document.getElementById("keep-state");
  var bar = document.getElementById("keep-progress");
  var start = document.getElementById("keep-start"), remove = document.getElementById("keep-remove");
  var plan = null, busy = false;
  var digits = window.KruOffline ? KruOffline.digits : String;

  function fill(template, values) {
    return template.replace(/%\((\w+)\)s/g, function (_m, name) { return values[name]; });
  }
  function size(bytes) {
    if (bytes < 1024 * 1024) { return fill(card.dataset.kb, { n: digits(Math.max(1, Math.round(bytes / 1024))) }); }
    return fill(card.dataset.mb, { n: digits((bytes / 1024 / 1024).toFixed(1)) });
  }
  function all() {
    try { var v = JSON.parse(localStorage.getItem(KEY) || "{}"); return v && typeof v === "object" ? v : {}; }
    catch (e) { return {}; }
  }
  function kept() { return all()[course] || null; }
  function remember(info) {
    var v = all();
    if (info) { v[course] = info; } else { delete v[course]; }
    try { localStorage.setItem(KEY, JSON.stringify(v)); } catch (e) { /* blocked: the copy still works */ }
  }
  function say(text, kind) {
    stateNote.textContent = text;
    stateNote.className = kind ? "flash " + kind : "";
  }
  function render() {
    var k = kept();
    remove.hidden = !k || busy;
    start.hidden = busy || Boolean(k && (!plan || plan.version === k.version));
    start.disabled = busy;
    if (plan) {
      var text = fill(card.dataset.size, {
        size: size(plan.bytes), pages: digits(plan.pages.length), files: digits(plan.files.length)
      });
      if (plan.skipped.length) { text += " " + fill(card.dataset.skipped, { count: digits(plan.skipped.length) }); }
      sizeNote.textContent = text;
    }
    if (k && !busy) { say(fill(card.dataset.kept, { size: size(k.bytes), version: digits(k.pack_version) }), "success"); }
  }
  function headersOf(r) {  // what the copy needs; the body is already decoded
    var h = new Headers();
    r.headers.forEach(function (value, name) {
      if (!/^(content-encoding|content-length|transfer-encoding|set-cookie)$/i.test(name)) { h.set(name, value); }
    });
    return h;
  }
  function readAll(r, counted) {
    if (!r.body || !r.body.getReader) { return r.blob().then(function (b) { counted(b.size); return b; }); }
    var reader = r.body.getReader(), parts = [];
    function next() {
      return reader.read().then(function (step) {
        if (step.done) { return new Blob(parts, { type: r.headers.get("Content-Type") || "" }); }
        parts.push(step.value);
        counted(step.value.byteLength);
        return next();
      });
    }
    return next();
  }
  function enoughSpace(p) {
    if (!navigator.storage || !navigator.storage.estimate) { return Promise.resolve(true); }
    return navigator.storage.estimate().then(function (est) {
      var free = (est.quota || 0) - (est.usage || 0);
      if (free >= p.bytes) { return true; }
      say(fill(card.dataset.space, { size: size(p.bytes), free: size(Math.max(free, 0)) }), "error");
      return false;
    });
  }
  function download(p) {
    var name = PREFIX + course + ":" + p.version, done = 0, stored = 0;
    var jobs = p.pages.map(function (u) { return { url: u }; }).concat(p.files);
    function shown() {
      var total = Math.max(p.bytes, done);
      bar.value = Math.round(100 * done / total);
      say(fill(card.dataset.progress, { done: size(done), size: size(total) }), "info");
    }
    busy = true; bar.hidden = false; render(); shown();
    if (navigator.storage && navigator.storage.persist) { navigator.storage.persist(); }
    return caches.open(name).then(function (cache) {
      var chain = Promise.resolve();
      jobs.forEach(function (job) {
        chain = chain.then(function () {
          return fetch(job.url, { credentials: "same-origin", cache: "no-store" }).then(function (r) {
            if (!r.ok || r.redirected) { throw new Error(job.url + ": " + r.status); }
            return readAll(r, function (n) { done += n; shown(); }).then(function (blob) {
              stored += blob.size;
              return cache.put(job.url, new Response(blob, { status: 200, statusText: "OK", headers: headersOf(r) }));
            });
          });
        });
      });
      return chain;
    }).then(function () {
      return caches.keys().then(function (names) {  // the older versions of this course go
        return Promise.all(names.filter(function (n) {
          return n.indexOf(PREFIX + course + ":") === 0 && n !== name;
        }).map(function (n) { return caches.delete(n); }));
      });
    }).then(function () {
      remember({ version: p.version, pack_version: p.pack_version, bytes: stored, cache: name, at: new Date().toISOString() });
      busy = false; bar.hidden = true; render();
    }).catch(function () {
      busy = false; bar.hidden = true;
      var k = kept();
      // A failed update keeps the old copy; a failed first download leaves nothing half-kept.
      if (!k || k.cache !== name) { caches.delete(name); }
      render();
      say(card.dataset.failed, "error");
    });
  }
  function keep() {
    if (!plan || busy) { return; }
    enoughSpace(plan).then(function (ok) { if (ok) { download(plan); } });
  }
  function drop() {
    caches.keys().then(function (names) {
      return Promise.all(names.filter(function (n) { return n.indexOf(PREFIX + course + ":") === 0; })
        .map(function (n) { return caches.delete(n); }));
    }).then(function () {
      remember(null);
      render();
      say(card.dataset.removed, "info");
    });
  }
  start.addEventListener("click", keep);
  remove.addEventListener("click", drop);

  navigator.serviceWorker.ready.then(function () {
    card.hidden = false;
    render();
    return fetch(card.dataset.plan, { credentials: "same-origin", cache: "no-store" }).then(function (r) {
      if (!r.ok) { throw new Error(String(r.status)); }
      return r.json();
    }).then(function (p) {
      plan = p;
      var k = kept();
      render();
      if (k && k.version !== p.version) {  // a new pack version: update at this visit
        say(card.dataset.updating, "info");
        enoughSpace(p).then(function (ok) { if (ok) { download(p); } });
      }
    }).catch(function () {  // no Wi-Fi: the page itself came from the phone
      render();
      if (kept()) { stateNote.textContent += " " + card.dataset.away; }
    });
  });
  window.KruKeep = { busy: function () { return busy; }, kept: kept };
})();
