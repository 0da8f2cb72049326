/* Kru's SCORM run time in a SCO's own page (issue 18; docs/content-packs.md, "The SCORM bridge").
 * Runs before the SCO's own scripts. It makes window.API (SCORM 1.2) or window.API_1484_11
 * (SCORM 2004) with scorm-again, started with the learner's saved data, which the item page
 * puts after "#kru-scorm=" in this page's address, and posts what the SCO sets to the item
 * page as {"kru": "scorm", ...}; the item page keeps it on the Pi. The item page is another
 * origin (the sandbox), so a SCO looking for the API in its parent (the ADL algorithm) would
 * fail: window.parent is replaced by a stand-in that holds the API.
 */
(function () {
  "use strict";
  var script = document.currentScript;
  var version = script && script.getAttribute("data-scorm") === "2004" ? "2004" : "1.2";
  var itemPage = window.parent;
  var saved = {};
  var match = /kru-scorm=([^&]*)/.exec(location.hash);
  if (match) {
    try { saved = JSON.parse(decodeURIComponent(match[1])) || {}; } catch (e) { saved = {}; }
  }
  var settings = { lmsCommitUrl: false, autocommit: false, logLevel: 4 };
  var api = version === "2004" ? new window.Scorm2004API(settings) : new window.Scorm12API(settings);
  if (saved.cmi && typeof saved.cmi === "object") {
    try { api.loadFromJSON(saved.cmi, ""); } catch (e) { /* start afresh rather than not at all */ }
  }
  var session = String(Date.now()) + "-" + String(Math.random()).slice(2, 10);
  var timer = null;

  function send(finished) {
    if (timer) { clearTimeout(timer); timer = null; }
    var out;
    try { out = api.renderCommitCMI(finished); } catch (e) { return; }
    itemPage.postMessage({
      kru: "scorm", version: version, session: session, finished: finished,
      cmi: out && out.cmi ? out.cmi : out
    }, "*");
  }
  function soon() {  // many SetValue calls in a row become one message
    if (!timer) { timer = setTimeout(function () { send(false); }, 0); }
  }
  var names = version === "2004"
    ? ["Commit", "Terminate", "SetValue.cmi.*"] : ["LMSCommit", "LMSFinish", "LMSSetValue.cmi.*"];
  api.on(names[0], function () { send(false); });
  api.on(names[1], function () { send(true); });
  api.on(names[2], soon);

  var stand = {
    postMessage: function (message) { itemPage.postMessage(message, "*"); }
  };
  stand.parent = stand;
  if (version === "2004") { window.API_1484_11 = stand.API_1484_11 = api; }
  else { window.API = stand.API = api; }
  window.parent = stand;  // [Replaceable]: the SCO's scripts now see the stand-in

  // frame.js in a page inside the SCO calls a function of this page: parent.RecordTest(80)
  window.addEventListener("message", function (e) {
    var d = e.data, mine = false, i;
    if (!d || d.kruFrame !== "call" || typeof d.name !== "string") { return; }
    for (i = 0; i < window.frames.length; i++) { if (window.frames[i] === e.source) { mine = true; } }
    var fn = window[d.name];
    if (!mine || typeof fn !== "function" || /^(eval|Function|set|fetch|open)/.test(d.name)) { return; }
    fn.apply(window, Array.isArray(d.args) ? d.args : []);
  });
})();
