/* Kru offline event queue: a Wi-Fi drop must not lose a learner's work.
 * Events are kept in localStorage (per signed-in user) and sent in batches every few
 * seconds and on page hide (navigator.sendBeacon), until the server accepts them.
 * A batch the server rejects names the bad event (error.index); that one is dropped,
 * the rest are sent again. Usage: KruEvents.init({user, url}); KruEvents.track(verb, obj, result)
 * On the HTTPS origin with the app's service worker (issue 23), this queue stays the one
 * queue: while the Pi cannot be reached the worker is handed a copy, which it sends by
 * Background Sync when the phone is back; the worker then says which ids went, and they
 * leave this queue. The Pi keeps each event id once, so whichever sends first wins.
 * Listeners of "kru-events" get {ok, sent, pending, graded} (graded quiz attempts), or
 * {ok: false, offline} or {ok: false, refused: {event, error}} (an event the Pi refused).
 */
(function () {
  "use strict";
  var KEY = "kru.events.v1", MAX_QUEUE = 2000, BATCH = 20, EVERY_MS = 5000;
  var state = { user: null, url: null, sending: false, timer: null, away: false };

  function csrf() {
    var m = document.querySelector('meta[name="csrf-token"]');
    return m ? m.getAttribute("content") : "";
  }
  function load() {
    try {
      var all = JSON.parse(localStorage.getItem(KEY) || "{}");
      return Array.isArray(all[state.user]) ? all[state.user] : [];
    } catch (e) { return []; }
  }
  function save(queue) {
    try {
      var all = JSON.parse(localStorage.getItem(KEY) || "{}");
      all[state.user] = queue.slice(-MAX_QUEUE);
      localStorage.setItem(KEY, JSON.stringify(all));
    } catch (e) { /* storage full or blocked: events stay in memory for this page */ }
  }
  function uuid() {
    if (window.crypto && crypto.randomUUID) { return crypto.randomUUID(); }
    var b = new Uint8Array(16); crypto.getRandomValues(b);
    b[6] = (b[6] & 15) | 64; b[8] = (b[8] & 63) | 128;
    var h = Array.prototype.map.call(b, function (x) { return (x + 256).toString(16).slice(1); }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }
  function track(verb, object, result) {
    var ev = { id: uuid(), verb: verb, object: object, timestamp: new Date().toISOString() };
    if (result) { ev.result = result; }
    var queue = load(); queue.push(ev); save(queue);
    if (state.away || navigator.onLine === false) { handOver(); }
    return ev;
  }
  function worker() {
    return navigator.serviceWorker && navigator.serviceWorker.controller;
  }
  function handOver() {  // a copy for the service worker's Background Sync (kru-sw.js)
    var sw = worker();
    if (!sw || !state.url) { return; }
    sw.postMessage({ kru: "outbox", url: state.url, csrf: csrf(), events: load() });
  }
  function told(detail) {  // the Wi-Fi guard (kru-offline.js) listens
    try { window.dispatchEvent(new CustomEvent("kru-events", { detail: detail })); } catch (e) { /* old browser */ }
  }
  function drop(ids) {
    save(load().filter(function (e) { return ids.indexOf(e.id) < 0; }));
  }
  function flush() {
    if (state.sending || !navigator.onLine && navigator.onLine !== undefined) { return; }
    var batch = load().slice(0, BATCH);
    if (!batch.length) { return; }
    state.sending = true;
    fetch(state.url, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf() },
      body: JSON.stringify({ events: batch })
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (body) {
        if (r.ok) {
          state.away = false;
          drop(batch.map(function (e) { return e.id; }));
          told({ ok: true, sent: batch.length, pending: load().length, graded: body.graded || [] });
          if (load().length) { setTimeout(flush, 0); } else if (worker()) { handOver(); }
        } else if (body && body.error && typeof body.error.index === "number" && batch[body.error.index]) {
          var refused = batch[body.error.index];
          drop([refused.id]);  // can never be accepted; keep the others
          told({ ok: false, refused: { event: refused, error: body.error } });
          setTimeout(flush, 0);
        }  /* else: signed out, server busy: keep and retry later */
      });
    }).catch(function () {
      state.away = true;
      handOver();
      told({ ok: false, offline: true }); /* retry on the next tick */
    })
      .then(function () { state.sending = false; });
  }
  function beacon() {
    var batch = load().slice(0, BATCH);
    // Offline, a beacon cannot go either; the queue (and the worker's copy) keeps the events.
    if (!batch.length || !navigator.sendBeacon || navigator.onLine === false) { return; }
    var blob = new Blob([JSON.stringify({ events: batch, csrf_token: csrf() })], { type: "application/json" });
    navigator.sendBeacon(state.url, blob);  // resends are duplicates and harmless
  }
  function init(opts) {
    state.user = String(opts.user); state.url = opts.url;
    if (state.timer) { clearInterval(state.timer); }
    state.timer = setInterval(flush, EVERY_MS);
    window.addEventListener("online", flush);
    document.addEventListener("visibilitychange", function () {
      if (document.visibilityState === "hidden") { beacon(); } else { flush(); }
    });
    window.addEventListener("pagehide", beacon);
    if (navigator.serviceWorker) {
      navigator.serviceWorker.addEventListener("message", function (e) {
        var data = e.data || {};
        if (data.kru !== "sent" || data.queue !== "kru-events" || !Array.isArray(data.ids)) { return; }
        var before = load().length;
        drop(data.ids);
        told({ ok: true, sent: before - load().length, pending: load().length, graded: data.graded || [] });
      });
    }
    flush();
  }
  window.KruEvents = {
    init: init, track: track, flush: flush,
    pending: function () { return load().length; },
    queued: function () { return load(); }
  };
})();
