/* Learner pages' Wi-Fi guard (issue 14 item 1). Plain HTTP cannot use a service worker, so
 * a tap on a link or a form while the Wi-Fi is gone would show the browser's own English
 * "no internet" page. Instead: when the phone says it is offline, or a request to the Pi
 * failed, a tap keeps the learner on the page and shows the banner (#wifi), which says
 * their work is saved on this phone; once the Pi answers again the banner says what the
 * event queue sent. Also: a page restored from the browser's cache after its learner signed
 * out on this phone is reloaded from the Pi (the next person must not see it).
 */
(function () {
  "use strict";
  var banner = document.getElementById("wifi");
  if (!banner) { return; }
  var lang = document.documentElement.lang;
  var USER_KEY = "kru.signedin";
  var state = { lost: !navigator.onLine, sent: 0, probing: false };

  function digits(text) {  // Khmer text uses Khmer digits, JavaScript's numbers included
    if (lang !== "km") { return String(text); }
    return String(text).replace(/[0-9]/g, function (d) { return "០១២៣៤៥៦៧៨៩"[d]; });
  }
  function fill(template, values) {
    return template.replace(/%\((\w+)\)s/g, function (_m, name) { return digits(values[name]); });
  }
  function say(text, kind) {
    banner.textContent = text;
    banner.className = "flash wifi " + kind;
    banner.hidden = false;
  }
  function lose() {
    if (!state.lost) { state.sent = 0; }
    state.lost = true;
    say(banner.dataset.lost, "error");
  }
  function pending() { return window.KruEvents ? KruEvents.pending() : 0; }
  function back() {
    if (!state.lost) { return; }
    if (pending() > 0) { if (window.KruEvents) { KruEvents.flush(); } return; }  // wait for them
    state.lost = false;
    say(state.sent ? fill(banner.dataset.sent, { count: state.sent }) : banner.dataset.back, "success");
  }
  function probe(then) {  // does the Pi answer? (the phone's "online" only means a network)
    if (state.probing) { return; }
    state.probing = true;
    fetch(banner.dataset.probe, { cache: "no-store", credentials: "same-origin" })
      .then(function (r) { state.probing = false; if (r.status >= 500) { throw r; } back(); if (then) { then(); } })
      .catch(function () { state.probing = false; lose(); });
  }

  window.addEventListener("offline", lose);
  window.addEventListener("online", function () { probe(null); });
  window.addEventListener("kru-events", function (e) {  // from kru-events.js after each send
    if (e.detail.ok) {
      if (state.lost) { state.sent += e.detail.sent; }
      if (state.lost && e.detail.pending === 0) { probe(null); }
    } else if (e.detail.offline) {
      lose();
    }
  });
  document.addEventListener("click", function (e) {
    var a = e.target.closest && e.target.closest("a[href]");
    if (!a || a.target === "_blank" || a.hasAttribute("download") || e.defaultPrevented) { return; }
    // With the app's service worker (HTTPS, issue 23) the phone opens kept and visited pages
    // itself, or its own "not on this phone" page: let the tap through.
    if (navigator.serviceWorker && navigator.serviceWorker.controller) { return; }
    if (state.lost || !navigator.onLine) {
      e.preventDefault();
      lose();
      probe(function () { window.location.href = a.href; });
    }
  }, true);
  document.addEventListener("submit", function (e) {
    var form = e.target;
    if (form.getAttribute("data-offline") === "queue") { return; }  // quiz.js keeps it on the phone
    if (state.lost || !navigator.onLine) {
      e.preventDefault();
      lose();
      probe(function () { form.submit(); });
      return;
    }
    if (/\/logout$/.test(form.getAttribute("action") || "")) {
      try {
        localStorage.setItem(USER_KEY, "");
        Object.keys(sessionStorage).forEach(function (k) {  // quiz drafts (quiz.js)
          if (k.indexOf("kru.quiz.") === 0) { sessionStorage.removeItem(k); }
        });
      } catch (err) { /* blocked storage */ }
    }
  }, true);
  function checkUser() {
    var me = banner.dataset.user, known = null;
    try { known = localStorage.getItem(USER_KEY); } catch (err) { return; }
    if (known !== null && known !== me) {
      window.location.replace(window.location.href);  // ask the Pi: signed out or someone else
    }
  }
  function fromHistory() {
    var nav = performance.getEntriesByType && performance.getEntriesByType("navigation")[0];
    return nav && nav.type === "back_forward";
  }
  window.addEventListener("pageshow", function (e) {
    if (e.persisted || fromHistory()) { checkUser(); }
    else { try { localStorage.setItem(USER_KEY, banner.dataset.user); } catch (err) { /* blocked */ } }
  });
  if (state.lost) { lose(); }
  window.KruOffline = { digits: digits, lost: function () { return state.lost; } };
})();
