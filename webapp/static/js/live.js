/* Live stock lists on prepaid data: poll only while the page is visible, back off while
   nothing changes (1 s, then 2 s, then 4 s: a change elsewhere still shows within 5 s), and
   refresh at once when the page comes back into view. A write on this page refreshes at once
   too (the stock-changed event). Unchanged polls cost a 304 with no body (ETag). */
(function () {
  "use strict";
  var quiet = 0;    // unchanged answers in a row
  var ticks = 0;    // poll ticks since the last request

  function isLive(elt) {
    return elt && elt.hasAttribute && elt.hasAttribute("data-live");
  }

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
    var every = quiet >= 5 ? 4 : (quiet >= 2 ? 2 : 1);
    ticks += 1;
    if (ticks < every) {
      event.preventDefault();
      return;
    }
    ticks = 0;
  });

  document.addEventListener("htmx:afterRequest", function (event) {
    if (!isLive(event.detail.elt)) { return; }
    quiet = event.detail.xhr && event.detail.xhr.status === 304 ? quiet + 1 : 0;
  });

  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible" && document.querySelector("[data-live]")) {
      quiet = 0;
      htmx.trigger(document.body, "stock-changed");
    }
  });
})();
