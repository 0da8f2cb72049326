/* Item page behaviour: report viewing, time, media position and completion to the queue.
 * Completion rules (docs/progress-rules.md): lessons when read to the end or after the
 * reading time; video/audio at 90 % played; PDFs and images when opened; activities when
 * the learner says they finished or the app posts {"kru": "completed"}. An app may also post
 * {"kru": "passed"} or {"kru": "failed"} with an optional "score" from 0 to 1.
 */
(function () {
  "use strict";
  var root = document.getElementById("item");
  if (!root || !window.KruEvents) { return; }
  var item = root.dataset.item, kind = root.dataset.type;
  var done = root.dataset.status === "completed" || root.dataset.status === "passed";
  var duration = parseFloat(root.dataset.duration) || 0;
  KruEvents.init({ user: root.dataset.user, url: root.dataset.events });
  KruEvents.track("viewed", item, null);

  var active = 0, last = Date.now();
  function tick() {  // time on the page while it is visible, sent every 30 s
    var now = Date.now();
    if (document.visibilityState === "visible") { active += Math.min(now - last, 60000); }
    last = now;
  }
  function report(extra) {
    tick();
    var result = extra || {};
    var secs = Math.round(active / 1000);
    if (secs > 0) { result.duration_s = secs; active = 0; }
    if (Object.keys(result).length) { KruEvents.track("progressed", item, result); }
  }
  function withTime(result) {
    tick();
    var r = result || {};
    var secs = Math.round(active / 1000);
    if (secs > 0) { r.duration_s = secs; active = 0; }
    return r;
  }
  function finished(verb) {  // the badge changes in place and the learner is told it is saved
    done = true;
    var b = document.getElementById("mark-done"); if (b) { b.hidden = true; }
    var badge = document.querySelector("#status .badge"), note = document.getElementById("saved");
    if (badge && note) {
      badge.textContent = note.dataset[verb];
      badge.className = "badge st-" + verb;
    }
    if (!note) { return; }
    function say(key) {
      note.textContent = note.dataset[key];
      note.className = "flash " + (key === "saved" ? "success" : "warn");
      note.hidden = false;
      window.removeEventListener("kru-events", heard);
    }
    function heard(e) {
      if (e.detail.ok && e.detail.pending === 0) { say("saved"); }
      else if (!e.detail.ok) { say("savedHere"); }
    }
    if (!navigator.onLine || (window.KruOffline && KruOffline.lost())) { say("savedHere"); return; }
    window.addEventListener("kru-events", heard);
  }
  function complete(result) {
    if (done) { return; }
    finished("completed");  // listens before the send below can answer
    KruEvents.track("completed", item, withTime(result));
    KruEvents.flush();
  }
  var reported = {};
  function outcome(verb, score) {  // an html5 app's own result; the Pi keeps the best score
    var r = {};
    if (typeof score === "number" && isFinite(score) && score >= 0 && score <= 1) { r.score = score; }
    var key = verb + ":" + (r.score === undefined ? "" : r.score);
    if (reported[key]) { return; }  // an app repeating itself is recorded once
    reported[key] = true;
    if (verb === "passed") { finished("passed"); }
    KruEvents.track(verb, item, withTime(r));
    KruEvents.flush();
  }
  setInterval(function () { report(null); }, 30000);
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "hidden") { report(null); } else { last = Date.now(); }
  });

  var media = document.getElementById("media");
  if (media) {
    var seen = 0;
    media.addEventListener("loadedmetadata", function () {
      var pos = parseFloat(root.dataset.position);
      if (pos && pos < media.duration - 5) { media.currentTime = pos; }
    });
    media.addEventListener("timeupdate", function () {
      if (!media.duration) { return; }
      seen = Math.max(seen, media.currentTime / media.duration);
      if (seen >= 0.9) { complete({ completion: Math.min(seen, 1), position_s: media.currentTime }); }
    });
    var every = setInterval(function () {
      if (!media.paused && media.duration) {
        report({ position_s: media.currentTime, completion: Math.min(seen, 1) });
      }
    }, 10000);
    media.addEventListener("pause", function () {
      if (media.duration) { report({ position_s: media.currentTime, completion: Math.min(seen, 1) }); }
    });
    media.addEventListener("ended", function () { complete({ completion: 1, position_s: 0 }); clearInterval(every); });
  }
  if (kind === "lesson") {
    var end = document.getElementById("lesson-end");
    var readMs = Math.max(duration * 1000 * 0.5, 20000);
    var openedAt = Date.now(), reachedEnd = false;
    function check() { if (reachedEnd && Date.now() - openedAt >= Math.min(readMs, 20000)) { complete(null); } }
    if (end && "IntersectionObserver" in window) {
      new IntersectionObserver(function (entries) {
        if (entries[0].isIntersecting) { reachedEnd = true; check(); }
      }).observe(end);
    }
    setTimeout(function () { reachedEnd = true; check(); }, readMs);
    setInterval(check, 5000);
  }
  Array.prototype.forEach.call(document.querySelectorAll(".track-open"), function (a) {
    a.addEventListener("click", function () { complete(null); });
  });
  if (kind === "image") { complete(null); }
  window.addEventListener("message", function (e) {  // an html5 app saying it is finished
    var frame = document.querySelector("iframe.app");
    if (!frame || e.source !== frame.contentWindow || !e.data) { return; }
    var said = e.data.kru;
    if (said === "completed") { complete(null); }
    else if (said === "passed" || said === "failed") { outcome(said, e.data.score); }
  });
  var mark = document.getElementById("mark-done");
  if (mark) { mark.addEventListener("click", function () { complete(null); }); }
})();
