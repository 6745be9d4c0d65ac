/* Camera barcode scanning: loaded only when Scan is tapped (offline.js), cached by the service
 * worker once loaded, so it works with no signal.
 *
 * The browser's own BarcodeDetector when it has one that reads our formats (Android Chrome);
 * otherwise the vendored `barcode-detector` ponyfill (ZXing compiled to WebAssembly, see
 * static/vendor/README.md), loaded only then; on a metered connection (Save-Data, cellular,
 * 2G/3G) the first download waits for a yes after saying its size (about 1.1 MB). Reads EAN-13, EAN-8, UPC-A and Code 128 from the
 * rear camera; a hit vibrates briefly and selects the product; an unknown code says so and, for
 * managers, offers "Add product" with the barcode filled in.
 */
(function () {
  "use strict";
  var FORMATS = ["ean_13", "ean_8", "upc_a", "code_128"];
  var VENDOR = "/static/vendor/barcode-detector-3.2.2/ponyfill.iife.js";
  var WASM_DIR = "/static/vendor/zxing-wasm-3.1.3/";
  var detectorPromise = null;
  var state = null;

  function loadScript(src) {
    return new Promise(function (resolve, reject) {
      var script = document.createElement("script");
      script.src = src;
      script.onload = resolve;
      script.onerror = reject;
      document.head.append(script);
    });
  }

  function nativeDetector() {
    if (!("BarcodeDetector" in window)) { return Promise.resolve(null); }
    return window.BarcodeDetector.getSupportedFormats().then(function (supported) {
      var all = FORMATS.every(function (f) { return supported.indexOf(f) >= 0; });
      return all ? new window.BarcodeDetector({formats: FORMATS}) : null;
    }, function () { return null; });
  }

  /** Whether data may cost the shopkeeper: Save-Data, or a cellular or slow connection. */
  function metered() {
    var c = navigator.connection;
    return !!(c && (c.saveData || c.type === "cellular" || /(^|-)(2g|3g)$/.test(c.effectiveType || "")));
  }

  function decoderSaved() {
    if (!window.caches) { return Promise.resolve(false); }
    return caches.match(WASM_DIR + "zxing_reader.wasm").then(function (hit) { return !!hit; },
                                                             function () { return false; });
  }

  /** Before the first download of the decoder on a metered connection, say its size and wait
   * for a yes (the phone's own BarcodeDetector, where there is one, costs nothing). */
  function mayDownload(options) {
    if (!metered()) { return Promise.resolve(); }
    return decoderSaved().then(function (saved) {
      if (saved) { return null; }
      return new Promise(function (resolve, reject) {
        var status = document.querySelector("#scanner [data-scan-status]");
        var size = options.config.scanner_download || "";
        status.textContent = options.t("scan_download", {size: size}) + " ";
        var yes = document.createElement("button");
        yes.type = "button";
        yes.className = "secondary";
        yes.setAttribute("data-scan-download", "");
        yes.textContent = options.t("scan_download_yes", {size: size});
        yes.onclick = function () { status.textContent = options.t("scan_loading"); resolve(); };
        status.append(yes);
        if (state) { state.refuse = reject; }
      });
    });
  }

  function detector(options) {
    if (!detectorPromise) {
      detectorPromise = nativeDetector().then(function (found) {
        if (found) { return found; }
        return mayDownload(options).then(function () { return loadScript(VENDOR); }).then(function () {
          var api = window.BarcodeDetectionAPI;
          api.prepareZXingModule({overrides: {locateFile: function (path, prefix) {
            return path.endsWith(".wasm") ? WASM_DIR + path : prefix + path;
          }}});
          return new api.BarcodeDetector({formats: FORMATS});
        });
      });
      detectorPromise.catch(function () { detectorPromise = null; });
    }
    return detectorPromise;
  }

  /** The catalogue entry for a scanned code; UPC-A and its EAN-13 form (leading 0) match. */
  function find(products, code) {
    var forms = [code];
    if (/^\d{12}$/.test(code)) { forms.push("0" + code); }
    if (/^0\d{12}$/.test(code)) { forms.push(code.slice(1)); }
    return products.find(function (p) { return p.barcode && forms.indexOf(p.barcode) >= 0; });
  }

  function close() {
    if (!state) { return; }
    state.stopped = true;
    if (state.refuse) { state.refuse(new Error("closed")); }
    if (state.stream) { state.stream.getTracks().forEach(function (track) { track.stop(); }); }
    state.box.hidden = true;
    state.video.srcObject = null;
    state = null;
  }

  function say(options, message, link) {
    var out = document.getElementById("scan-result");
    out.replaceChildren(document.createTextNode(message));
    if (link) {
      var a = document.createElement("a");
      a.href = link.href;
      a.className = "button secondary";
      a.textContent = link.text;
      out.append(" ", a);
    }
    out.hidden = false;
  }

  function hit(options, code) {
    if (navigator.vibrate) { navigator.vibrate(80); }
    close();
    options.catalog().then(function (products) {
      var product = find(products, code);
      if (product) {
        document.getElementById("scan-result").hidden = true;
        options.select(product);
        return;
      }
      var config = options.config;
      say(options, options.t("scan_unknown", {code: code}), config.new_product_url ? {
        href: config.new_product_url + "?barcode=" + encodeURIComponent(code),
        text: options.t("add_product")} : null);
    }, function (error) {
      if (window.console) { console.warn("catalog", error); }
      say(options, options.t("scan_no_catalog"));
    });
  }

  function loop(options, scan) {
    if (!state || state.stopped) { return; }
    var video = state.video;
    var next = function () { setTimeout(function () { loop(options, scan); }, 150); };
    if (video.readyState < 2) { next(); return; }
    scan.detect(video).then(function (codes) {
      if (state && !state.stopped && codes.length) { hit(options, codes[0].rawValue); } else { next(); }
    }, next);
  }

  /** The words for why the camera did not start: the browser's error names are English. */
  function cameraProblem(error) {
    var name = error && error.name;
    if (name === "NotAllowedError" || name === "SecurityError") { return "scan_camera_denied"; }
    if (name === "NotFoundError" || name === "OverconstrainedError") { return "scan_camera_missing"; }
    if (name === "NotReadableError" || name === "AbortError") { return "scan_camera_busy"; }
    return "scan_camera_failed";
  }

  function open(options) {
    if (state) { return; }
    var box = document.getElementById("scanner");
    var video = box.querySelector("video");
    var status = box.querySelector("[data-scan-status]");
    state = {box: box, video: video, stopped: false, stream: null};
    box.hidden = false;
    status.textContent = options.t("scan_loading");
    box.querySelector("[data-scan-close]").onclick = close;
    var current = state;
    // The decoder first: on a metered connection it may wait for the shopkeeper's yes, and
    // the camera should not be lit meanwhile.
    detector(options).then(function (scan) {
      return navigator.mediaDevices.getUserMedia({audio: false,
                                                  video: {facingMode: {ideal: "environment"}}})
        .then(function (stream) { return [stream, scan]; });
    }).then(function (both) {
      if (current.stopped) { both[0].getTracks().forEach(function (t) { t.stop(); }); return; }
      current.stream = both[0];
      video.srcObject = both[0];
      video.play().catch(function () { return null; });
      status.textContent = options.t("scan_point");
      loop(options, both[1]);
    }, function (error) {
      if (current.stopped) { return; }
      status.textContent = options.t(cameraProblem(error));
    });
  }

  var api = {open: open, close: close, find: find, cameraProblem: cameraProblem,
             metered: metered};
  if (typeof window !== "undefined") { window.KiryanaScanner = api; }
  // Under node --test (tests/js/scanner.test.js): find() needs no browser.
  if (typeof module === "object" && module.exports) { module.exports = api; }
})();
