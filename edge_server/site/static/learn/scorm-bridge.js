/* SCORM bridge of the item page (issue 18, docs/content-packs.md "The SCORM bridge").
 * A SCORM activity runs sandboxed (opaque origin, no cookies); scorm-again runs inside the
 * SCO's own page and posts {"kru": "scorm", version, session, finished, cmi} here each time
 * the SCO sets, commits or finishes. This page sends the newest of them to
 * /api/v1/scorm/<item> with the learner's session: the Pi keeps what the learner needs to
 * resume and records completed / passed / failed with the score as Kru events. One request
 * at a time; when the Wi-Fi drops, the newest data is sent again a few seconds later, and
 * on leaving the page by navigator.sendBeacon.
 */
(function () {
  "use strict";
  var frame = document.querySelector("iframe.app[data-scorm]");
  if (!frame) { return; }
  var url = frame.getAttribute("data-scorm-url");
  var latest = null, sending = false;

  function csrf() {
    var m = document.querySelector('meta[name="csrf-token"]');
    return m ? m.getAttribute("content") : "";
  }
  function flush() {
    if (sending || !latest) { return; }
    var body = latest;
    latest = null;
    sending = true;
    fetch(url, {
      method: "POST", credentials: "same-origin", keepalive: body.finished === true,
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf() },
      body: JSON.stringify(body)
    }).then(function (r) {
      if (r.status >= 500 && !latest) { latest = body; }  // busy: keep the data for later
    }).catch(function () {
      if (!latest) { latest = body; }  // offline: the newest data goes on the next try
    }).then(function () {
      sending = false;
      if (latest) { setTimeout(flush, 3000); }
    });
  }
  window.addEventListener("message", function (e) {
    var d = e.data;
    if (e.source !== frame.contentWindow || !d || d.kru !== "scorm" || typeof d.cmi !== "object") { return; }
    latest = {
      version: String(d.version), session: String(d.session || "").slice(0, 64),
      finished: d.finished === true, cmi: d.cmi
    };
    flush();
  });
  window.addEventListener("pagehide", function () {
    if (!latest || !navigator.sendBeacon) { return; }
    var body = Object.assign({ csrf_token: csrf() }, latest);
    navigator.sendBeacon(url, new Blob([JSON.stringify(body)], { type: "application/json" }));
  });
})();
