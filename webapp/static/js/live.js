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
   The schedule is `interval()`: tests/test_counter_browser.py measures ten idle minutes of it.

   Push (issue 28: those polls were a third of the fleet's CPU): when the list carries
   data-events, an EventSource on that URL says each new version of the store. While the stream
   is open the timed polls stay home (but one every 5 minutes, a net for a stream that stalled
   unseen and for the Pakistan day the list's ETag carries); a version other than the list's
   data-version refreshes it at once. The stream not open (connecting, closed, server gone): the
   schedule above runs as before, so a change still shows within 5 s. Hidden: no stream.
   tests/js/live.test.js and tests/test_live_browser.py. */
(function () {
  "use strict";
  var IDLE_AFTER_MS = 60000;
  var ACTIVE_STEPS = [[5, 4], [2, 2], [0, 1]];        // [unchanged answers in a row, seconds]
  var IDLE_STEPS = [[240000, 30], [120000, 15], [0, 8]];  // [ms idle beyond the minute, seconds]
  var STREAM_POLL_S = 300;   // between polls while the stream is open
  var REOPEN_MS = [5000, 300000];  // a stream the browser gave up on: again after 5 s, doubling
  var quiet = 0;    // unchanged answers in a row
  var ticks = 0;    // poll ticks (1 s each) since the last request
  var lastTouch = Date.now();
  var source = null;   // the one EventSource, for the list's data-events URL (sourceUrl)
  var sourceUrl = null;
  var latest = null;   // the newest version the stream said
  var reopenIn = REOPEN_MS[0];
  var reopenTimer = null;

  function isLive(elt) {
    return elt && elt.hasAttribute && elt.hasAttribute("data-live");
  }

  function list() {
    return document.querySelector("[data-live]");
  }

  function step(steps, value) {
    for (var i = 0; i < steps.length; i += 1) {
      if (value >= steps[i][0]) { return steps[i][1]; }
    }
    return 1;
  }

  function streaming() {
    return source !== null && source.readyState === 1;   // EventSource.OPEN
  }

  /** Seconds between polls now. */
  function interval() {
    if (streaming()) { return STREAM_POLL_S; }
    var idleFor = Date.now() - lastTouch;
    if (idleFor >= IDLE_AFTER_MS) { return step(IDLE_STEPS, idleFor - IDLE_AFTER_MS); }
    return step(ACTIVE_STEPS, quiet);
  }

  function refreshNow() {
    quiet = 0;
    ticks = 0;
    if (list()) { htmx.trigger(document.body, "stock-changed"); }
  }

  // The list does not show the newest version the stream said: fetch it (conditional on the
  // ETag, so a 304 if it already does). Run after each swap too: a refresh asked while a poll
  // was in flight is dropped by htmx when that poll's answer replaces the element.
  function sync() {
    var elt = list();
    if (elt && latest !== null && latest !== elt.getAttribute("data-version")) { refreshNow(); }
  }

  function close() {
    clearTimeout(reopenTimer);
    reopenTimer = null;
    if (source) { source.close(); }
    source = null;
  }

  /** The stream for the list's data-events URL, while visible: kept across swaps of the list
   * (same URL), replaced when the URL changes, closed when there is none. */
  function connect() {
    var elt = list();
    var url = elt && window.EventSource && document.visibilityState === "visible" ?
      elt.getAttribute("data-events") : null;
    if (source && url === sourceUrl) { return; }
    close();
    latest = null;
    if (!url) { return; }
    var mine = source = new EventSource(url);
    var opened = false;
    sourceUrl = url;
    mine.addEventListener("open", function () {
      opened = true;
      reopenIn = REOPEN_MS[0];
    });
    mine.addEventListener("version", function (event) {
      if (source !== mine) { return; }
      latest = event.data;
      sync();
    });
    mine.addEventListener("error", function () {
      if (source !== mine) { return; }
      // An open stream ended: polls from the schedule's first step, the first at once (what
      // changed just before it ended may have gone unsaid). Failed reconnects change nothing.
      if (opened) { refreshNow(); }
      opened = false;
      if (mine.readyState === 2) {   // CLOSED (an answer not a stream): no reconnecting by itself
        source = null;
        reopenTimer = setTimeout(connect, reopenIn);
        reopenIn = Math.min(reopenIn * 2, REOPEN_MS[1]);
      }
    });
  }

  function touched() {
    var wasIdle = Date.now() - lastTouch >= IDLE_AFTER_MS;
    lastTouch = Date.now();
    // (The stream, when open, has said every change already.)
    if (wasIdle && document.visibilityState === "visible" && !streaming()) { refreshNow(); }
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

  // A new list (outerHTML swap): same stream if the same URL, and its version checked.
  document.addEventListener("htmx:load", function (event) {
    if (!isLive(event.detail.elt)) { return; }
    connect();
    sync();
  });

  document.addEventListener("visibilitychange", function () {
    connect();   // closed while hidden: no data spent on a page nobody sees
    if (document.visibilityState === "visible") {
      lastTouch = Date.now();
      refreshNow();
    }
  });

  connect();
  window.KiryanaLive = {interval: interval, streaming: streaming};
})();
