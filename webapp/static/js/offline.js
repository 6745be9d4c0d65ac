/* The offline side of the pages: install the service worker, queue taps made without signal,
 * show "N waiting to send" and "needs attention", and send the queue when the signal returns.
 *
 * Words come from the page (#offline-config, rendered with _() in templates/offline/_status.html)
 * so they are translated like every other string. The queue itself is offline-queue.js.
 */

/* The rules the phone needs with no signal, kept pure so `node --test` runs them
 * (tests/js/offline-rules.test.js). Typed numbers are read as the server reads them
 * (services/validation.number_text: ٠-٩ and ۰-۹ digits, ٫ as the point, 1,5 as 1.5; 1,500,
 * 1e2 and spaces inside refused): tests/js/number_cases.json is checked against both. No money
 * is computed here: figures in rupees come from the server (services/basket.py) or, for a
 * basket changed with no signal, from bill.js. */
var KiryanaRules = (function () {
  "use strict";
  var DIGITS = {"٫": ".", "٬": ",", "−": "-"};
  "٠١٢٣٤٥٦٧٨٩".split("").forEach(function (c, i) { DIGITS[c] = String(i); });
  "۰۱۲۳۴۵۶۷۸۹".split("").forEach(function (c, i) { DIGITS[c] = String(i); });
  var STRIP = " \t\r\n\u00a0\u202f\u2009\u200e\u200f\u2066\u2067\u2068\u2069";
  var PLAIN = /^[+-]?(\d+(\.\d*)?|\.\d+)$/;

  function strip(text) {
    var start = 0, end = text.length;
    while (start < end && STRIP.indexOf(text[start]) >= 0) { start += 1; }
    while (end > start && STRIP.indexOf(text[end - 1]) >= 0) { end -= 1; }
    return text.slice(start, end);
  }

  /** Plain ASCII decimal text of a typed number, or null where the server would refuse it. */
  function numberText(value) {
    var text = strip(String(value === null || value === undefined ? "" : value))
      .split("").map(function (c) { return DIGITS[c] || c; }).join("");
    if (!text) { return null; }
    if (text.indexOf(",") >= 0) {
      var at = text.indexOf(",");
      var whole = text.slice(0, at), decimals = text.slice(at + 1);
      if (decimals.indexOf(",") >= 0 || text.indexOf(".") >= 0 || !/^\d+$/.test(decimals)) {
        return null;
      }
      var digits = whole.replace(/^[+-]+/, "");
      if (decimals.length === 3 && /^\d+$/.test(digits) && digits[0] !== "0") { return null; }
      text = whole + "." + decimals;
    }
    return PLAIN.test(text) ? text : null;
  }

  /** "01.500" → "1.5", ".5" → "0.5", "+2" → "2": as the server keeps a number. */
  function canonical(text) {
    var sign = text[0] === "-" ? "-" : "";
    var parts = text.replace(/^[+-]/, "").split(".");
    var whole = parts[0].replace(/^0+/, "") || "0";
    var decimals = (parts[1] || "").replace(/0+$/, "");
    var out = decimals ? whole + "." + decimals : whole;
    return out === "0" ? "0" : sign + out;
  }

  function places(text) {
    return (canonical(text).split(".")[1] || "").length;
  }

  /** A positive quantity with at most 3 decimals, in any way the server reads: its canonical
   * text, or null. */
  function quantity(value) {
    var text = numberText(value);
    if (text === null || places(text) > 3) { return null; }
    text = canonical(text);
    return text[0] === "-" || text === "0" ? null : text;
  }

  /** An amount in rupees (more than zero, at most 2 decimals): its canonical text, or null. */
  function amount(value) {
    var text = quantity(value);
    return text !== null && places(text) <= 2 ? text : null;
  }

  /** Whether a typed number is zero (Set with 0 takes a line out, as − does). */
  function isZero(value) {
    var text = numberText(value);
    return text !== null && canonical(text) === "0";
  }

  function thousandths(text) {
    var parts = canonical(text).replace(/^-/, "").split(".");
    var value = Number(parts[0]) * 1000 + Number(((parts[1] || "") + "000").slice(0, 3));
    return text[0] === "-" ? -value : value;
  }

  function fromThousandths(value) {
    var sign = value < 0 ? "-" : "";
    value = Math.abs(value);
    var decimals = String(value % 1000);
    return canonical(sign + Math.floor(value / 1000) + "." + "000".slice(decimals.length) +
                     decimals);
  }

  /** A quantity moved by `by` units (−1, +1, or another quantity's text), exactly in thousandths
   * (no 0.1 + 0.2): canonical text. */
  function addQuantity(text, by) {
    var step = typeof by === "number" ? by * 1000 : thousandths(by);
    return fromThousandths(thousandths(text) + step);
  }

  /** "Sell 2 kg Basmati Chawal, Rs 100 of Cheeni = Rs 420": a queued basket's label. `t` gives
   * the page's words; the total only when the server priced the basket (`totalText`). */
  function basketLabel(lines, products, totalText, t, rtl) {
    var isolate = function (text) { return rtl ? "\u2068" + text + "\u2069" : text; };
    var parts = lines.map(function (line, i) {
      var product = products[i] || {};
      if (line.amount !== undefined && line.amount !== null) {
        return t("amount_of", {amount: t("money", {amount: line.amount}),
                               name: isolate(product.name || "")});
      }
      return isolate(line.quantity + " " + (product.unit || "") + " " + (product.name || ""));
    });
    var joined = parts.join(rtl ? "، " : ", ");
    return totalText ? t("label_basket", {lines: joined, total: totalText})
      : t("label_basket_open", {lines: joined});
  }

  return {numberText: numberText, canonical: canonical, quantity: quantity, amount: amount,
          isZero: isZero, addQuantity: addQuantity, basketLabel: basketLabel};
})();
if (typeof module === "object" && module.exports) { module.exports = KiryanaRules; }

(function () {
  "use strict";
  if (typeof window === "undefined") { return; }   // under node --test: the rules only
  var R = KiryanaRules;
  var Q = window.KiryanaQueue;
  var config = null;
  var mine = {waiting: 0};
  var lastSubmit = null;
  var toolsLoading = null;
  // The page as the server sent it, read before anything changes it (this script is deferred:
  // the document is parsed, no script has been added to it yet, htmx has not processed it).
  var received = {path: location.pathname + location.search,
                  html: "<!doctype html>\n" + document.documentElement.outerHTML};

  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/sw.js", {scope: "/"}).catch(function () { return null; });
  }

  function readConfig() {
    var node = document.getElementById("offline-config");
    config = node ? JSON.parse(node.getAttribute("data-config")) : null;
    return config;
  }

  function t(name, values) {
    var text = (config && config.strings[name]) || name;
    Object.keys(values || {}).forEach(function (k) { text = text.split("{" + k + "}").join(values[k]); });
    return text;
  }

  function pkTime(iso) {
    return new Date(iso).toLocaleTimeString("en-GB", {timeZone: "Asia/Karachi", hour: "2-digit",
                                                      minute: "2-digit"});
  }

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined) { node.textContent = text; }
    return node;
  }

  // --- what the page shows ----------------------------------------------------------------------

  function showBanner() {
    var banner = document.getElementById("offline-banner");
    if (!banner || !config) { return; }
    banner.hidden = navigator.onLine;
    banner.textContent = t("offline_as_of", {time: config.levels_as_of});
  }

  function render() {
    if (!readConfig() || !Q) { return Promise.resolve(); }
    return Q.all().then(function (items) {
      var own = items.filter(function (i) { return i.user_id === config.user_id; });
      var waiting = own.filter(function (i) { return i.status === "waiting"; });
      var attention = own.filter(function (i) { return i.status === "attention"; });
      var others = items.length - own.length;
      mine.waiting = waiting.length;
      var badge = document.getElementById("queue-badge");
      if (badge) {
        badge.hidden = !waiting.length;
        badge.textContent = t("waiting", {n: waiting.length});
      }
      var box = document.getElementById("offline-queue");
      if (!box) { return; }
      box.hidden = !(waiting.length || attention.length || others);
      var list = document.getElementById("queue-waiting");
      list.replaceChildren();
      waiting.forEach(function (item) {
        var li = el("li", {"class": "row", "data-key": item.key});
        var name = el("span", {"class": "name"}, item.label);
        var reference = item.payload && item.payload.reference;
        if (reference) {   // a basket's provisional receipt number, as the customer has it
          name.prepend(el("bdi", {"class": "queue-ref", dir: "ltr"}, reference), " · ");
        }
        li.append(name,
                  el("span", {"class": "muted small"}, t("tapped", {time: pkTime(item.tapped_at)})));
        list.append(li);
      });
      document.getElementById("queue-waiting-title").hidden = !waiting.length;
      var alist = document.getElementById("queue-attention");
      alist.replaceChildren();
      if (attention.length) {
        tools().then(function (T) {
          alist.replaceChildren();
          attention.forEach(function (item) { alist.append(T.attentionItem(item)); });
        });
      }
      document.getElementById("queue-attention-title").hidden = !attention.length;
      var note = document.getElementById("queue-others");
      note.hidden = !others;
      note.textContent = t("other_user", {n: others});
    });
  }


  function validQuantity(value) {
    return R.quantity(value) !== null;
  }

  function labelFor(payload, name) {
    return t("label_" + payload.type, {qty: payload.quantity, name: name || ""});
  }

  // --- sending ----------------------------------------------------------------------------------

  function flush() {
    if (!Q || !navigator.onLine) { return Promise.resolve(); }
    return Q.flush().then(function (outcome) {
      var status = document.getElementById("queue-status");
      if (status && config) {
        status.replaceChildren();
        if (outcome.loggedOut) {
          status.append(document.createTextNode(t("login_to_send") + " "));
          status.append(el("a", {href: "/login?next=" + encodeURIComponent(location.pathname)},
                           t("login")));
        } else if (outcome.sent) {
          status.textContent = t("sent", {n: outcome.sent});
          // Balances moved (a credit sale, a payment): the customers' copy is stale.
          if (config.customers_url) { customers(true).catch(function () { return null; }); }
        }
        status.hidden = !status.textContent;
      }
      return render();
    }, function () { return render(); });
  }

  // --- the stock forms: queue when there is no signal (or older items are still waiting) ------

  function capture(form, submitter) {
    var data = new FormData(form);
    // The pressed button's value, or the form's own `type` field (one form per stock action).
    var type = (submitter && submitter.value) || data.get("type");
    var payload = {type: type, product_id: Number(data.get("product_id")),
                   quantity: String(data.get("quantity") || "").trim()};
    if (type === "stock_in") {
      payload.supplier_id = data.get("supplier_id") ? Number(data.get("supplier_id")) : null;
      payload.unit_cost = data.get("unit_cost") || null;
    }
    if (type === "removal") {
      payload.reason = data.get("reason") || null;
      payload.note = data.get("note") || null;
    }
    var name = (document.querySelector("#panel [data-field=name]") || {}).textContent || "";
    return {form: form, key: data.get("key"), payload: payload, name: name.trim()};
  }

  function keep(submitted, sameKey) {
    var form = submitted.form;
    var problem = !validQuantity(submitted.payload.quantity) ? t("bad_quantity")
      : submitted.payload.type === "removal" && !submitted.payload.reason ? t("need_reason") : null;
    var message = form.closest("#panel").querySelector("#offline-saved");
    if (problem) {
      message.textContent = problem;
      message.className = "form-error";
      message.hidden = false;
      return;
    }
    // 1,5 and ١٫٥ are kept as the server reads them: 1.5.
    submitted.payload.quantity = R.quantity(submitted.payload.quantity);
    var label = labelFor(submitted.payload, submitted.name);
    Q.enqueue({kind: "movement", store_id: Number(form.dataset.storeId), user_id: config.user_id,
               payload: submitted.payload, label: label, product_name: submitted.name,
               key: sameKey ? submitted.key : null})
      .then(function () {
        // The next tap is a new action: it needs a key of its own.
        form.querySelector("input[name=key]").value = Q.newKey();
        message.textContent = t("saved", {what: label});
        message.className = "flash";
        message.hidden = false;
        moveFigure(submitted.payload);
        return render();
      }).then(flush);
  }

  function moveFigure(payload) {
    var figure = document.getElementById("panel-level");
    if (!figure || figure.dataset.quantity === undefined) { return; }
    var moved = R.quantity(payload.quantity);
    if (moved === null) { return; }
    var next = R.addQuantity(R.canonical(R.numberText(figure.dataset.quantity) || "0"),
                             payload.type === "stock_in" ? moved : "-" + moved);
    figure.dataset.quantity = next;
    if (figure.firstChild && figure.firstChild.nodeType === 3) {
      figure.firstChild.textContent = next;
    }
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.matches || !form.matches("form[data-offline-kind]") || !readConfig()) { return; }
    lastSubmit = capture(form, event.submitter);
    if (navigator.onLine && !mine.waiting) { return; }  // htmx posts it as usual
    event.preventDefault();
    event.stopImmediatePropagation();
    keep(lastSubmit, false);
  }, true);

  // --- a customer's Receive payment: queued like a stock action ---------------------------------

  function paymentLabel(payload, name) {
    return t("label_payment", {amount: t("money", {amount: payload.amount}), name: name,
                               method: t("method_" + payload.method)});
  }

  function keepPayment(form, sameKey) {
    var data = new FormData(form);
    var message = form.querySelector("[data-offline-saved]");
    var payload = {customer_id: Number(form.dataset.customerId),
                   amount: R.amount(data.get("amount")), method: data.get("method") || "cash"};
    if (payload.amount === null) {
      message.textContent = t("bad_amount");
      message.className = "form-error";
      message.hidden = false;
      return;
    }
    var name = form.dataset.customerName || "";
    var label = paymentLabel(payload, name);
    var key = form.querySelector("input[name=key]");
    Q.enqueue({kind: "payment", store_id: config.store_id, user_id: config.user_id,
               payload: payload, label: label, product_name: name,
               key: sameKey ? key.value : null})
      .then(function () {
        key.value = Q.newKey();   // the next payment is another one
        form.querySelector("input[name=amount]").value = "";
        message.textContent = t("saved", {what: label});
        message.className = "flash";
        message.hidden = false;
        return render();
      }).then(flush);
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.matches || !form.matches("form[data-offline-payment]") || !readConfig()) { return; }
    if (navigator.onLine && !mine.waiting) { return; }  // posted as usual
    event.preventDefault();
    event.stopImmediatePropagation();
    keepPayment(form, false);
  }, true);

  document.addEventListener("htmx:sendError", function (event) {
    var elt = event.detail.elt;
    if (elt && elt.matches && elt.matches("form[data-offline-kind]") && lastSubmit &&
        lastSubmit.form === elt) {
      // The reply was lost: the server may have recorded it. Same key, so it lands once.
      keep(lastSubmit, true);
    } else if (elt && elt.matches && elt.matches("form[data-offline-payment]")) {
      keepPayment(elt, true);   // the same: same key
    } else if (elt && elt.matches && elt.matches("a[data-product-id]")) {
      tools().then(function (T) { T.selectFromLink(elt); });
    } else if (event.detail.requestConfig && event.detail.requestConfig.boosted) {
      // A boosted link with no signal: a real navigation, which the service worker answers.
      window.location.href = event.detail.pathInfo.requestPath;
    }
  });


  document.addEventListener("htmx:beforeRequest", function (event) {
    var elt = event.detail.elt;
    if (navigator.onLine || !readConfig()) { return; }
    if (elt && elt.matches && elt.matches("a[data-product-id]")) {
      event.preventDefault();
      tools().then(function (T) { T.selectFromLink(elt); });
    } else if (elt && elt.id === "q") {
      event.preventDefault();
      tools().then(function (T) { T.searchOffline(elt.value); });
    }
  });


  // --- the store's product list and its customers, kept on the phone -----------------------------
  // Asked each time a store page opens with signal (the customers: only on the basket and khata
  // pages, and after the queue sent something), with the ETag of the copy the phone has: 304 (a
  // few hundred bytes) while nothing changed. Offline search, the scanner and udhaar read the
  // copies, so none of them needs the signal.

  var DATA_CACHE = "kiryana-data";
  var loading = {};

  function storedCopy(url) {
    if (!window.caches) { return Promise.resolve(null); }
    return caches.open(DATA_CACHE).then(function (cache) { return cache.match(url); })
      .catch(function () { return null; });
  }

  /** A list the phone keeps: this page's earlier answer, else asked (fresh: ask again anyway)
   * with the copy's ETag, else the copy. */
  function kept(url, fresh) {
    if (loading[url] && !fresh) { return loading[url]; }
    var promise = storedCopy(url).then(function (stored) {
      if (!navigator.onLine) {
        if (stored) { return stored.json(); }
        throw new Error("offline, no copy");
      }
      var headers = {"Accept": "application/json"};
      var tag = stored && stored.headers.get("ETag");
      if (tag) { headers["If-None-Match"] = tag; }
      return fetch(url, {credentials: "same-origin", headers: headers}).then(function (r) {
        if (r.status === 304 && stored) { return stored.json(); }
        if (!r.ok) { throw new Error(String(r.status)); }
        var copy = r.clone();
        if (window.caches) {
          caches.open(DATA_CACHE).then(function (cache) { return cache.put(url, copy); })
            .catch(function () { return null; });
        }
        return r.json();
      }, function (error) {
        if (stored) { return stored.json(); }
        throw error;
      });
    });
    loading[url] = promise;
    promise.catch(function () { if (loading[url] === promise) { delete loading[url]; } });
    return promise;
  }

  /** The store's products (services/offline.catalog). */
  function catalog(fresh) {
    if (!readConfig()) { return Promise.reject(new Error("no store")); }
    return kept(config.catalog_url, fresh).then(function (body) { return body.products; });
  }

  /** The store's customers with their balance as of the last sync (services/offline.customers);
   * only pages that set customers_url keep them. */
  function customers(fresh) {
    if (!readConfig() || !config.customers_url) { return Promise.resolve([]); }
    return kept(config.customers_url, fresh).then(function (body) { return body.customers; });
  }

  /** Each store page opened with signal refreshes the phone's copies (a 304 when unchanged). */
  function keepCopies() {
    if (!navigator.onLine || !readConfig()) { return; }
    catalog(true).catch(function () { return null; });
    if (config.customers_url) { customers(true).catch(function () { return null; }); }
  }

  // --- loaded on demand: offline-tools.js (needs attention, offline product choice) ------------

  function loadScript(src) {
    return new Promise(function (resolve, reject) {
      var script = el("script", {src: src});
      script.onload = resolve;
      script.onerror = reject;
      document.head.append(script);
    });
  }

  function tools() {
    if (!toolsLoading) {
      toolsLoading = loadScript("/static/js/offline-tools.js").then(function () {
        return window.KiryanaOfflineTools;
      });
      toolsLoading.catch(function () { toolsLoading = null; });
    }
    return toolsLoading;
  }

  window.KiryanaOffline = {
    Q: Q, R: R, t: t, el: el, pkTime: pkTime, render: render, flush: flush, tools: tools,
    validQuantity: validQuantity, labelFor: labelFor, paymentLabel: paymentLabel,
    readConfig: readConfig, catalog: catalog, customers: customers,
    config: function () { return config; }
  };

  // --- the basket page's offline side (basket.js) loads only there ------------------------------

  var basketLoading = null;

  function startBasket() {
    if (!document.getElementById("basket-config")) { return; }
    if (!basketLoading) {
      // With the provisional receipt number's rules: a basket kept offline takes one;
      // and the bill's (bill.js: a line changed with no signal is priced on the phone).
      basketLoading = Promise.all([loadScript("/static/js/receipt-number.js"),
                                   loadScript("/static/js/bill.js"),
                                   loadScript("/static/js/basket.js")]);
      basketLoading.catch(function () { basketLoading = null; });
    }
    basketLoading.then(function () { window.KiryanaBasket.start(); });
  }

  // --- the scanner loads only when Scan is tapped --------------------------------------------------

  var scannerLoading = null;
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-scan]");
    if (!button || !readConfig()) { return; }
    event.preventDefault();
    if (!scannerLoading) {
      scannerLoading = loadScript(config.scanner_url);
      scannerLoading.catch(function () { scannerLoading = null; });
    }
    Promise.all([scannerLoading, tools()]).then(function (both) {
      window.KiryanaScanner.open({config: config, t: t, catalog: both[1].loadCatalog,
                                  select: onScanned});
    });
  });

  function onScanned(product) {
    // A basket page (issue 11) takes the product itself by cancelling this event.
    var taken = !document.dispatchEvent(new CustomEvent("kiryana:scanned",
                                                        {detail: product, cancelable: true}));
    if (taken) { return; }
    var link = config.store_url + "?product=" + product.id;
    if (navigator.onLine && window.htmx) {
      window.htmx.ajax("GET", link, {target: "#panel", swap: "outerHTML"}).then(function () {
        history.pushState({}, "", link);
      }, function () { tools().then(function (T) { T.select(product); }); });
    } else {
      tools().then(function (T) { T.select(product); });
    }
  }

  // --- start ------------------------------------------------------------------------------------

  function start() {
    if (location.pathname === "/login" && window.caches) {
      // Someone logs in: the pages saved for the previous user are not theirs to see offline.
      caches.delete("kiryana-pages");
      caches.delete("kiryana-data");
    }
    if (!readConfig()) { flush(); return; }
    showBanner();
    // Boosted navigation keeps the first page's <head>: point the manifest at this store.
    var manifest = document.querySelector("link[rel=manifest]");
    if (manifest) { manifest.href = config.manifest_url; }
    var scan = document.querySelector("[data-scan]");
    if (scan && navigator.mediaDevices && navigator.mediaDevices.getUserMedia) { scan.hidden = false; }
    render().then(flush);
    startBasket();
    if (!navigator.onLine) { tools().then(function (T) { T.openRequestedProduct(); }); }
    if ("serviceWorker" in navigator && window.caches) {
      // The first visit loaded before the worker ran (and a boosted visit goes past it): save
      // this page if it is missing, from the copy the phone already received (fetching it
      // again cost a second copy of the page); only without one is it fetched.
      var here = location.pathname + location.search;
      var copy = received && received.path === here ? received.html : null;
      navigator.serviceWorker.ready.then(function () {
        return caches.open("kiryana-pages").then(function (cache) {
          return cache.match(here).then(function (hit) {
            if (hit) { return null; }
            return copy ? cache.put(here, new Response(copy, {headers: {
              "Content-Type": "text/html; charset=utf-8"}})) : cache.add(here);
          });
        });
      }).catch(function () { return null; });
    }
    keepCopies();
  }

  window.addEventListener("online", function () { showBanner(); flush(); });
  window.addEventListener("offline", showBanner);
  if (window.BroadcastChannel && Q) {
    new BroadcastChannel(Q.CHANNEL).onmessage = function () { render(); };
  }
  // Retry while something waits (a 5xx, a timeout): cheap, and only with signal.
  setInterval(function () { if (mine.waiting && navigator.onLine) { flush(); } }, 30000);
  // A boosted navigation receives the whole page: keep it as the copy to save for offline.
  document.addEventListener("htmx:afterRequest", function (event) {
    var detail = event.detail;
    var xhr = detail.xhr;
    if (!detail.boosted && !(detail.requestConfig && detail.requestConfig.boosted)) { return; }
    if (!xhr || xhr.status !== 200 || !/^text\/html/.test(xhr.getResponseHeader("Content-Type") || "")) {
      return;
    }
    try {
      var url = new URL(xhr.responseURL || location.href);
      received = {path: url.pathname + url.search, html: xhr.responseText};
    } catch (e) { received = null; }
  });
  document.addEventListener("htmx:afterSettle", function (event) {
    if (event.target === document.body) { start(); }
  });
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
