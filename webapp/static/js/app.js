/* Kiryana's own few lines on top of htmx: swap 422 forms, skip 304 polls, toast errors. */
(function () {
  "use strict";
  // The CSP allows no inline styles or scripts: keep htmx from writing or running any.
  htmx.config.includeIndicatorStyles = false;
  htmx.config.attributesToSettle = ["class", "width", "height"];
  htmx.config.allowEval = false;
  htmx.config.allowScriptTags = false;
  htmx.config.responseHandling = [
    {code: "204", swap: false},
    {code: "304", swap: false},
    {code: "[23]..", swap: true},
    {code: "422", swap: true},
    {code: "[45]..", swap: false, error: true},
    {code: "...", swap: false}
  ];

  // Filters folded away on phones (<details data-fold>) stand open on a wide screen.
  htmx.onLoad(function (root) {
    if (!window.matchMedia("(min-width: 720px)").matches) { return; }
    var folds = root.querySelectorAll ? root.querySelectorAll("details[data-fold]") : [];
    Array.prototype.forEach.call(folds, function (fold) { fold.open = true; });
  });

  // Live stock lists carry the ETag of what they show; the server answers 304 when unchanged.
  document.addEventListener("htmx:configRequest", function (event) {
    var etag = event.detail.elt.getAttribute("data-etag");
    if (etag && event.detail.verb === "get") {
      event.detail.headers["If-None-Match"] = etag;
    }
  });

  // The messages come translated from the page (data-msg-* on #toast); English if missing.
  function text(name, fallback) {
    var box = document.getElementById("toast");
    return (box && box.getAttribute("data-msg-" + name)) || fallback;
  }

  function toast(message) {
    var box = document.getElementById("toast");
    if (!box) { return; }
    box.textContent = message;
    box.hidden = false;
    clearTimeout(box.hideTimer);
    box.hideTimer = setTimeout(function () { box.hidden = true; }, 6000);
  }

  document.addEventListener("htmx:responseError", function (event) {
    var status = event.detail.xhr.status;
    if (status === 429) {
      toast(text("429", "Too many requests. Wait a moment and try again."));
    } else if (status === 400) {
      toast(text("400", "Your page expired. Reload it and try again."));
    } else if (status === 401) {
      window.location.href = "/login";
    } else {
      toast(text("error", "Something went wrong ({status}). Try again.")
        .replace("{status}", status));
    }
  });

  document.addEventListener("htmx:sendError", function (event) {
    // Forms marked data-offline are queued on the phone instead (offline.js): no alarm.
    // With no signal on a page that works offline, its banner says so once (offline.js).
    var offlinePage = !navigator.onLine && document.getElementById("offline-config");
    if (!event.detail.elt.hasAttribute("data-etag") && !event.detail.elt.closest("[data-offline]") &&
        !offlinePage) {
      toast(text("offline", "No connection. Check your internet and try again."));
    }
  });
})();
