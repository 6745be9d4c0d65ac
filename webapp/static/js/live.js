/* Live stock lists on prepaid data (issue 24: an idle page cost ~215 KB in 10 minutes, most of
   it request headers going up).

   - Poll only while the page is visible.
   - While someone is using the page (a touch, a key, a scroll or focus in the last minute),
     back off while nothing changes: 1 s, then 2 s, then 4 s between polls, so a change made
     elsewhere still shows within 5 s.
   - Once nobody has touched the page for a minute, back off further: 8 s, then 15 s, then 30 s.
     The first touch, focus or return to the page polls at once and starts over at 1 s.
   - A write on this page refreshes at once (the stock-changed event).
   - Unchanged polls cost a 304 with no body (ETag), and the poll sends only the headers it
     needs (htmx's HX-Current-URL, HX-Target and HX-Trigger, and the CSRF token, are dropped:
     the server reads none of them for the list). The page carries the ETag of the list it
     shows, so even the first poll is a 304 when nothing changed.
   The schedule is `interval()`: tests/test_counter_browser.py measures ten idle minutes of it. */
(function () {
  "use strict";
  var IDLE_AFTER_MS = 60000;
  var ACTIVE_STEPS = [[5, 4], [2, 2], [0, 1]];        // [unchanged answers in a row, seconds]
  var IDLE_STEPS = [[240000, 30], [120000, 15], [0, 8]];  // [ms idle beyond the minute, seconds]
  var quiet = 0;    // unchanged answers in a row
  var ticks = 0;    // poll ticks (1 s each) since the last request
  var lastTouch = Date.now();

  function isLive(elt) {
    return elt && elt.hasAttribute && elt.hasAttribute("data-live");
  }

  function step(steps, value) {
    for (var i = 0; i < steps.length; i += 1) {
      if (value >= steps[i][0]) { return steps[i][1]; }
    }
    return 1;
  }

  /** Seconds between polls now. */
  function interval() {
    var idleFor = Date.now() - lastTouch;
    if (idleFor >= IDLE_AFTER_MS) { return step(IDLE_STEPS, idleFor - IDLE_AFTER_MS); }
    return step(ACTIVE_STEPS, quiet);
  }

  function refreshNow() {
    quiet = 0;
    ticks = 0;
    if (document.querySelector("[data-live]")) { htmx.trigger(document.body, "stock-changed"); }
  }

  function touched() {
    var wasIdle = Date.now() - lastTouch >= IDLE_AFTER_MS;
    lastTouch = Date.now();
    if (wasIdle && document.visibilityState === "visible") { refreshNow(); }
  }

  ["pointerdown", "keydown", "scroll", "focus"].forEach(function (name) {
    window.addEventListener(name, touched, {passive: true, capture: true});
  });

  document.addEventListener("htmx:beforeRequest", function (event) {
    var elt = event.detail.elt;
    if (!isLive(elt)) { return; }
    if (document.visibilityState !== "visible") {
      event.preventDefault();
      return;
    }
    var config = event.detail.requestConfig || {};
    var byEvent = config.triggeringEvent && config.triggeringEvent.type === "stock-changed";
    if (byEvent) { ticks = 0; return; }
    ticks += 1;
    if (ticks < interval()) {
      event.preventDefault();
      return;
    }
    ticks = 0;
  });

  document.addEventListener("htmx:configRequest", function (event) {
    if (!isLive(event.detail.elt)) { return; }
    var headers = event.detail.headers;
    // A GET needs no CSRF token (the body's hx-headers adds one to every request).
    ["HX-Current-URL", "HX-Target", "HX-Trigger", "HX-Trigger-Name",
     "X-CSRFToken"].forEach(function (name) {
      delete headers[name];
    });
  });

  document.addEventListener("htmx:afterRequest", function (event) {
    if (!isLive(event.detail.elt)) { return; }
    quiet = event.detail.xhr && event.detail.xhr.status === 304 ? quiet + 1 : 0;
  });

  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") {
      lastTouch = Date.now();
      refreshNow();
    }
  });

  window.KiryanaLive = {interval: interval};
})();
