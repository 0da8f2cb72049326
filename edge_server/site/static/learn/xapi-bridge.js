/* xAPI bridge of the item page (issue 18, docs/content-packs.md "The xAPI bridge").
 * An html5 activity made from an H5P package runs sandboxed (opaque origin, no cookies), so
 * it cannot reach Kru itself: it posts {"kru": "xapi", "statement": {...}} to this page.
 * A statement about the activity itself (not one of its sub-questions) that carries a
 * score becomes a Kru "passed" or "failed" event with result.score from 0 to 1, recorded
 * with the learner's session through the same queue as every other event. Kept apart from
 * item.js so that file's own {"kru": "passed"} path stays as it is.
 */
(function () {
  "use strict";
  var root = document.getElementById("item");
  if (!root || !window.KruEvents) { return; }
  var item = root.dataset.item, sent = {};

  function scaled(result) {
    var s = result && result.score;
    if (!s) { return null; }
    if (typeof s.scaled === "number") { return s.scaled; }
    if (typeof s.raw === "number" && typeof s.max === "number" && s.max > 0) {
      return (s.raw - (s.min || 0)) / (s.max - (s.min || 0));
    }
    return null;
  }

  function isTopLevel(statement) {
    var parents = statement.context && statement.context.contextActivities &&
      statement.context.contextActivities.parent;
    return !parents || parents.length === 0;
  }

  window.addEventListener("message", function (e) {
    var frame = document.querySelector("iframe.app");
    if (!frame || e.source !== frame.contentWindow || !e.data || e.data.kru !== "xapi") { return; }
    var statement = e.data.statement;
    if (!statement || typeof statement !== "object" || !isTopLevel(statement)) { return; }
    var score = scaled(statement.result);
    if (score === null || !isFinite(score)) { return; }
    score = Math.round(Math.min(Math.max(score, 0), 1) * 10000) / 10000;
    var verb = statement.result.success === true || (statement.result.success === undefined && score >= 1)
      ? "passed" : "failed";
    var key = verb + ":" + score;
    if (sent[key]) { return; }  // H5P repeats "answered" and "completed" for one answer
    sent[key] = true;
    KruEvents.track(verb, item, { score: score });
    KruEvents.flush();
  });
})();
