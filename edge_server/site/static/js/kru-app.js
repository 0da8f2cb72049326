/* The installable app (issue 23), on the HTTPS origin only (app/_head.html): register the
 * service worker (/sw.js, kru-sw.js), offer "Install Kru" when the browser says the app can
 * be installed, and on sign-out tell the worker to forget this person's pages and kept
 * courses (a phone may be shared).
 */
(function () {
  "use strict";
  if (!("serviceWorker" in navigator) || !window.isSecureContext) { return; }
  var me = document.getElementById("kru-app-js");
  var registered = navigator.serviceWorker.register(me.getAttribute("data-sw"), { scope: "/" })
    .catch(function () { return null; });
  var box = document.getElementById("install"), offer = null;
  window.addEventListener("beforeinstallprompt", function (e) {
    e.preventDefault();  // our own button, in the page's language, instead of the browser's bar
    offer = e;
    if (box) { box.hidden = false; }
  });
  window.addEventListener("appinstalled", function () { if (box) { box.hidden = true; } });
  var button = document.getElementById("install-button");
  if (button) {
    button.addEventListener("click", function () {
      if (!offer) { return; }
      offer.prompt();
      offer.userChoice.then(function () { box.hidden = true; offer = null; });
    });
  }
  document.addEventListener("submit", function (e) {
    if (!/\/logout$/.test(e.target.getAttribute("action") || "")) { return; }
    try { localStorage.removeItem("kru.kept.v1"); } catch (err) { /* blocked storage */ }
    if (navigator.serviceWorker.controller) {
      navigator.serviceWorker.controller.postMessage({ kru: "signed-out" });
    }
  }, true);
  window.KruApp = { registered: registered };
})();
