/* Kru: move from the plain-HTTP origin to the HTTPS origin without stranding queued events.
 * Two origins keep two browser storages. On the HTTP page (#kru-https): send this user's
 * queued events (kru-events.js's localStorage queue), then open the HTTPS handover URL with
 * whatever is still queued (any user) in the fragment, which no server ever sees. On the
 * HTTPS page (#kru-https-arrived): add those events to this origin's queue (by id, so a
 * second handover adds nothing twice) and open the page asked for; kru-events.js sends them.
 */
(function () {
  "use strict";
  var KEY = "kru.events.v1", BATCH = 20, PREFIX = "#kru-queue=";

  function all() {
    try { var v = JSON.parse(localStorage.getItem(KEY) || "{}"); return v && typeof v === "object" ? v : {}; }
    catch (e) { return {}; }
  }
  function store(queues) {
    try { localStorage.setItem(KEY, JSON.stringify(queues)); } catch (e) { /* full: kept in the URL */ }
  }
  function csrf() {
    var m = document.querySelector('meta[name="csrf-token"]');
    return m ? m.getAttribute("content") : "";
  }
  function encode(obj) { return btoa(unescape(encodeURIComponent(JSON.stringify(obj)))); }
  function decode(text) { return JSON.parse(decodeURIComponent(escape(atob(text)))); }

  var moving = document.getElementById("kru-https");
  if (moving) {
    var user = String(moving.dataset.user), url = moving.dataset.events, gone = false;
    var go = function () {
      if (gone) { return; }
      gone = true;
      var left = {}, queues = all();
      Object.keys(queues).forEach(function (k) {
        if (Array.isArray(queues[k]) && queues[k].length) { left[k] = queues[k]; }
      });
      // What was handed over stays here too: events carry ids, so a resend is harmless.
      var hash = Object.keys(left).length ? PREFIX + encodeURIComponent(encode(left)) : "";
      location.replace(moving.dataset.target + hash);
    };
    var sendNext = function () {
      var queue = all()[user] || [];
      if (!queue.length) { return go(); }
      var batch = queue.slice(0, BATCH);
      fetch(url, {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": csrf() },
        body: JSON.stringify({ events: batch })
      }).then(function (r) {
        if (!r.ok) { return go(); }
        var ids = batch.map(function (e) { return e.id; }), queues = all();
        queues[user] = (queues[user] || []).filter(function (e) { return ids.indexOf(e.id) < 0; });
        store(queues);
        sendNext();
      }).catch(go);
    };
    setTimeout(go, 10000);  // a stuck request must not keep the learner here
    sendNext();
  }

  var arrived = document.getElementById("kru-https-arrived");
  if (arrived) {
    if (location.hash.indexOf(PREFIX) === 0) {
      try {
        var handed = decode(decodeURIComponent(location.hash.slice(PREFIX.length)));
        var queues = all();
        Object.keys(handed).forEach(function (k) {
          var have = Array.isArray(queues[k]) ? queues[k] : [];
          var ids = have.map(function (e) { return e.id; });
          (Array.isArray(handed[k]) ? handed[k] : []).forEach(function (e) {
            if (e && e.id && ids.indexOf(e.id) < 0) { have.push(e); ids.push(e.id); }
          });
          queues[k] = have;
        });
        store(queues);
      } catch (e) { /* a damaged fragment: the HTTP origin still holds the events */ }
      history.replaceState(null, "", location.pathname + location.search);
    }
    location.replace(arrived.dataset.next);
  }
})();
