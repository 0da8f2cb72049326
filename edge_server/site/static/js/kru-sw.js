/* Kru's service worker (issue 23), served at /sw.js on the HTTPS origin only, after a line
 * that sets self.KRU (offline_app.py): the vendored Workbox's folder, the app shell with a
 * revision per file, the offline page.
 *
 * - The shell (stylesheet, Khmer font, the learner pages' scripts, icons, the offline page)
 *   is precached, so the installed app opens without the Wi-Fi.
 * - Pages: the network first (the Pi decides what a learner sees and records); without it,
 *   the copy this phone has: a page visited before ("kru-pages") or a page of a course the
 *   learner keeps ("kru-course:<course>:<version>", filled by kru-keep.js); else the
 *   offline page. Pages the site marks no-store (admin pages) and redirects are never kept.
 * - Pack files (/c/<sha256>/...) never change for the same URL: from the phone when kept,
 *   with HTTP Range answered from the stored copy (video seeking offline).
 * - Learning events and observations: the page's queue (kru-events.js, observe.js;
 *   localStorage) is the one queue. While the Pi cannot be reached the page hands this
 *   worker a copy of it; Workbox keeps it in IndexedDB and sends it by Background Sync when
 *   the phone is back (on browsers without Background Sync, when the worker next starts).
 *   The Pi stores each id once, so a copy the page sends as well changes nothing; open pages
 *   are told which ids were sent.
 */
/* global KRU, workbox */
importScripts(KRU.workbox + "workbox-sw.js");
workbox.setConfig({ modulePathPrefix: KRU.workbox, debug: false });
// workbox-sw loads a module on first use with importScripts, which a worker may call only
// while it starts: name every module used here now.
void [workbox.core, workbox.routing, workbox.strategies, workbox.precaching,
  workbox.expiration, workbox.rangeRequests, workbox.backgroundSync];

var PAGES = "kru-pages", COURSE = "kru-course:";

self.skipWaiting();
workbox.core.clientsClaim();
workbox.precaching.precacheAndRoute(KRU.shell);
workbox.precaching.cleanupOutdatedCaches();

var keepable = {
  cacheWillUpdate: async function (ctx) {
    var r = ctx.response;
    if (!r || r.status !== 200 || r.redirected || r.type === "opaqueredirect") { return null; }
    if (/no-store/.test(r.headers.get("Cache-Control") || "")) { return null; }
    return r;
  }
};
var refreshKept = {  // a page of a kept course seen online replaces the kept copy
  fetchDidSucceed: async function (ctx) {
    var r = ctx.response;
    if (r.status === 200 && !r.redirected && !/no-store/.test(r.headers.get("Cache-Control") || "")) {
      var names = (await caches.keys()).filter(function (n) { return n.indexOf(COURSE) === 0; });
      for (var i = 0; i < names.length; i++) {
        var cache = await caches.open(names[i]);
        if (await cache.match(ctx.request.url)) { await cache.put(ctx.request.url, r.clone()); }
      }
    }
    return r;
  }
};
var pages = new workbox.strategies.NetworkFirst({
  cacheName: PAGES,
  networkTimeoutSeconds: 8,
  plugins: [keepable, refreshKept, new workbox.expiration.ExpirationPlugin({ maxEntries: 300 })]
});

async function fromPhone(request) {
  var kept = await caches.match(request.url, { ignoreVary: true });
  return kept || workbox.precaching.matchPrecache(KRU.offline);
}

workbox.routing.registerRoute(
  function (o) { return o.request.mode === "navigate"; },
  async function (o) {
    try {
      var r = await pages.handle({ event: o.event, request: o.request });
      if (r) { return r; }
    } catch (e) { /* no network and not in kru-pages: look in the kept courses */ }
    return (await fromPhone(o.request)) || Response.error();
  }
);

workbox.routing.registerRoute(
  function (o) { return o.url.origin === self.location.origin && o.url.pathname.indexOf("/c/") === 0; },
  async function (o) {
    var kept = await caches.match(o.request.url, { ignoreVary: true });
    if (!kept) { return fetch(o.request); }
    if (o.request.headers.has("range")) {
      return workbox.rangeRequests.createPartialResponse(o.request, kept);
    }
    return kept;
  }
);

workbox.routing.registerRoute(
  function (o) { return o.url.origin === self.location.origin && o.url.pathname.indexOf("/static/") === 0; },
  new workbox.strategies.StaleWhileRevalidate({
    cacheName: "kru-static",
    plugins: [keepable, new workbox.expiration.ExpirationPlugin({ maxEntries: 100 })]
  })
);

async function tellPages(message) {
  var all = await self.clients.matchAll({ includeUncontrolled: true, type: "window" });
  all.forEach(function (c) { c.postMessage(message); });
}

// One Workbox queue per kind of work a page keeps on the phone: learning events
// (kru-events.js) and mentors' observations (observe.js). Each holds the page's latest copy.
function outboxFor(name, idsOf) {
  return new workbox.backgroundSync.Queue(name, {
    maxRetentionTime: 14 * 24 * 60,  // minutes: two weeks away from the Pi
    onSync: async function (o) {
      var entry;
      while ((entry = await o.queue.shiftRequest())) {
        var sent = null, r = null;
        try {
          sent = await entry.request.clone().json();
          r = await fetch(entry.request.clone());
        } catch (e) {
          await o.queue.unshiftRequest(entry);
          throw e;  // still away: Workbox tries again at the next sync
        }
        if (r.ok) {
          var body = await r.json().catch(function () { return {}; });
          await tellPages({ kru: "sent", queue: name, ids: idsOf(sent), graded: body.graded || [] });
        } else if (r.status === 401 || r.status === 429 || r.status >= 500) {
          await o.queue.unshiftRequest(entry);
          return;  // signed out or busy: the page sends it when it is opened again
        }  /* refused by the Pi: the page's own queue still holds it and says why */
      }
    }
  });
}
var outboxes = {
  "kru-events": outboxFor("kru-events", function (b) {
    return (b.events || []).map(function (e) { return e.id; });
  }),
  "kru-observations": outboxFor("kru-observations", function (b) { return [b.id]; })
};

async function replaceOutbox(data) {
  var queue = outboxes[data.queue || "kru-events"];
  if (!queue) { return; }
  while (await queue.shiftRequest()) { /* the page's queue is newer than this copy */ }
  var bodies = data.bodies || [];
  if (data.events) {  // learning events: batches of learning.events.MAX_BATCH
    for (var i = 0; i < data.events.length; i += 200) { bodies.push({ events: data.events.slice(i, i + 200) }); }
  }
  for (var j = 0; j < bodies.length; j++) {
    await queue.pushRequest({
      request: new Request(data.url, {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": data.csrf },
        body: JSON.stringify(bodies[j])
      })
    });
  }
}

async function forgetPages() {
  var names = await caches.keys();
  await Promise.all(names.filter(function (n) {
    return n === PAGES || n.indexOf(COURSE) === 0;
  }).map(function (n) { return caches.delete(n); }));
}

self.addEventListener("message", function (event) {
  var data = event.data || {};
  if (data.kru === "outbox") { event.waitUntil(replaceOutbox(data)); }
  else if (data.kru === "signed-out") { event.waitUntil(forgetPages()); }
});
