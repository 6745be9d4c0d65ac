/* Kiryana's service worker: the app opens and keeps selling with no signal.
 *
 * - Static files (CSS, JS, icons, the scanner's decoder once loaded): served from the cache, and
 *   fetched only when missing, so a page view on mobile data costs the page alone. VERSION is a
 *   digest of every static file, written in by the server (/sw.js): a deploy that changes one
 *   makes a new worker, which drops the old cache and fetches the files once.
 * - Pages: network first; the store pages a user opened (home, basket, count, transfer, the
 *   khata's customers and each customer's page) are kept,
 *   and offline the last copy is shown (the page itself says "offline · levels as of …"; the
 *   basket page draws the basket from the phone's own copy). Logging in again or out clears them.
 * - The store's product catalogue and customers (/offline/stores/<id>/catalog, …/customers):
 *   network first, cache fallback, for offline search, scanning and udhaar.
 * - Background Sync: the queue (offline-queue.js) is sent when the signal returns.
 * - The live list's event stream passes to the network, never cached.
 * Writes are never cached or replayed here: the queue does that, with idempotency keys.
 */
importScripts("/static/js/offline-queue.js");

var VERSION = "dev";
var STATIC = "kiryana-static-" + VERSION;
var PAGES = "kiryana-pages";
var DATA = "kiryana-data";
var SHELL = ["/static/css/app.css", "/static/js/htmx-2.0.11.min.js", "/static/js/app.js",
             "/static/js/offline.js", "/static/js/offline-queue.js", "/static/js/offline-tools.js",
             "/static/css/counter.css", "/static/js/counter.js", "/static/js/basket.js",
             "/static/js/receipt-number.js", "/static/js/bill.js",
             "/static/icons/icon-192.png", "/offline"];
var STORE_PAGE = /^\/stores\/\d+\/(count|transfer|basket|customers|customers\/\d+)?$/;
var CATALOG = /^\/offline\/stores\/\d+\/(catalog|customers)$/;

self.addEventListener("install", function (event) {
  event.waitUntil(caches.open(STATIC).then(function (cache) { return cache.addAll(SHELL); })
    .then(function () { return self.skipWaiting(); }));
});

self.addEventListener("activate", function (event) {
  event.waitUntil(caches.keys().then(function (names) {
    return Promise.all(names.filter(function (name) {
      return name.indexOf("kiryana-static-") === 0 && name !== STATIC;
    }).map(function (name) { return caches.delete(name); }));
  }).then(function () { return self.clients.claim(); }));
});

function cacheFirst(request) {
  return caches.open(STATIC).then(function (cache) {
    return cache.match(request).then(function (cached) {
      return cached || fetch(request).then(function (response) {
        if (response.ok) { cache.put(request, response.clone()); }
        return response;
      });
    });
  });
}

function networkFirst(request, cacheName, keep) {
  return fetch(request).then(function (response) {
    if (keep(response)) {
      var copy = response.clone();
      caches.open(cacheName).then(function (cache) { cache.put(request, copy); });
    }
    return response;
  }, function () {
    return caches.open(cacheName).then(function (cache) {
      return cache.match(request, {ignoreVary: true}).then(function (hit) {
        // A product opened on a page never cached: the store page, which opens it itself.
        return hit || cache.match(request, {ignoreVary: true, ignoreSearch: true});
      });
    }).then(function (hit) { return hit || offlinePage(); });
  });
}

function offlinePage() {
  // Rendered by the server in the user's language and saved when the worker installed.
  return caches.match("/offline").then(function (page) {
    return page || new Response("Offline", {status: 503});
  });
}

function isHtmlPage(response) {
  return response.ok && !response.redirected &&
    (response.headers.get("Content-Type") || "").indexOf("text/html") === 0;
}

self.addEventListener("fetch", function (event) {
  var request = event.request;
  var url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin) { return; }
  // The live list's event stream (live.js) goes to the network untouched: never cached, and a
  // stream answered from here could not end when the server ends it.
  if (request.headers.get("Accept") === "text/event-stream") { return; }
  if (url.pathname.indexOf("/static/") === 0) {
    event.respondWith(cacheFirst(request));
  } else if (request.mode === "navigate") {
    var keep = STORE_PAGE.test(url.pathname) ? isHtmlPage : function () { return false; };
    event.respondWith(networkFirst(request, PAGES, keep));
  } else if (CATALOG.test(url.pathname)) {
    event.respondWith(networkFirst(request, DATA, function (r) { return r.ok; }));
  }
});

self.addEventListener("sync", function (event) {
  if (event.tag === KiryanaQueue.SYNC_TAG) {
    event.waitUntil(KiryanaQueue.flush().then(function (outcome) {
      // Background Sync retries later when the promise rejects: do so while still offline.
      if (outcome.offline) { throw new Error("still offline"); }
    }));
  }
});

self.addEventListener("message", function (event) {
  if (event.data && event.data.type === "flush") {
    event.waitUntil(KiryanaQueue.flush());
  } else if (event.data && event.data.type === "forget-pages") {
    event.waitUntil(caches.delete(PAGES).then(function () { return caches.delete(DATA); }));
  }
});
