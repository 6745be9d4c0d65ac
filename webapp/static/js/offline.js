/* The offline side of the pages: install the service worker, queue taps made without signal,
 * show "N waiting to send" and "needs attention", and send the queue when the signal returns.
 *
 * Words come from the page (#offline-config, rendered with _() in templates/offline/_status.html)
 * so they are translated like every other string. The queue itself is offline-queue.js.
 */
(function () {
  "use strict";
  var Q = window.KiryanaQueue;
  var config = null;
  var mine = {waiting: 0};
  var lastSubmit = null;
  var catalogPromise = null;

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
        li.append(el("span", {"class": "name"}, item.label),
                  el("span", {"class": "muted small"}, t("tapped", {time: pkTime(item.tapped_at)})));
        list.append(li);
      });
      document.getElementById("queue-waiting-title").hidden = !waiting.length;
      var alist = document.getElementById("queue-attention");
      alist.replaceChildren();
      attention.forEach(function (item) { alist.append(attentionItem(item)); });
      document.getElementById("queue-attention-title").hidden = !attention.length;
      var note = document.getElementById("queue-others");
      note.hidden = !others;
      note.textContent = t("other_user", {n: others});
    });
  }

  function attentionItem(item) {
    var li = el("li", {"class": "attention-item", "data-key": item.key});
    li.append(el("p", {}, item.label + " · " + t("tapped", {time: pkTime(item.tapped_at)})));
    li.append(el("p", {"class": "form-error", "role": "alert"},
                 (item.error && item.error.message) || t("refused")));
    var form = el("form", {"class": "inline-edit", "novalidate": ""});
    var id = "fix-" + item.seq;
    form.append(el("label", {"for": id}, t("quantity")));
    var input = el("input", {id: id, name: "quantity", inputmode: "decimal", autocomplete: "off"});
    input.value = item.payload.quantity;
    form.append(input, el("button", {type: "submit", "class": "secondary"}, t("send_again")));
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (!validQuantity(input.value)) { input.setAttribute("aria-invalid", "true"); return; }
      var payload = Object.assign({}, item.payload, {quantity: input.value.trim()});
      resend(item, payload, labelFor(payload, item.product_name));
    });
    li.append(form);
    var actions = el("p", {"class": "actions"});
    if (item.error && item.error.code === "insufficient_stock" && item.error.allow_negative_stock) {
      var anyway = el("button", {type: "button", "class": "secondary"}, t("record_anyway"));
      anyway.addEventListener("click", function () { resend(item, item.payload, item.label); });
      actions.append(anyway);
    }
    var discard = el("button", {type: "button", "class": "danger"}, t("discard"));
    discard.addEventListener("click", function () {
      // Two taps: a stray thumb must not throw a sale away.
      if (discard.dataset.armed) { Q.remove(item.seq).then(render); return; }
      discard.dataset.armed = "1";
      discard.textContent = t("discard_confirm");
    });
    actions.append(discard);
    li.append(actions);
    return li;
  }

  function resend(item, payload, label) {
    // A new key: the refused attempt wrote nothing, and this is a different request.
    Q.enqueue({kind: item.kind, store_id: item.store_id, user_id: item.user_id, payload: payload,
               label: label, tapped_at: item.tapped_at, product_name: item.product_name})
      .then(function () { return Q.remove(item.seq); })
      .then(render).then(flush);
  }

  function validQuantity(value) {
    return /^\d+(\.\d{1,3})?$/.test(String(value).trim()) && Number(value) > 0;
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
        }
        status.hidden = !status.textContent;
      }
      return render();
    }, function () { return render(); });
  }

  // --- the stock forms: queue when there is no signal (or older items are still waiting) ------

  function capture(form, submitter) {
    var data = new FormData(form);
    var type = submitter ? submitter.value : data.get("type");
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
    var sign = payload.type === "stock_in" ? 1 : -1;
    var next = Number(figure.dataset.quantity) + sign * Number(payload.quantity);
    next = Math.round(next * 1000) / 1000;
    figure.dataset.quantity = String(next);
    if (figure.firstChild && figure.firstChild.nodeType === 3) {
      figure.firstChild.textContent = String(next);
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

  document.addEventListener("htmx:sendError", function (event) {
    var elt = event.detail.elt;
    if (elt && elt.matches && elt.matches("form[data-offline-kind]") && lastSubmit &&
        lastSubmit.form === elt) {
      // The reply was lost: the server may have recorded it. Same key, so it lands once.
      keep(lastSubmit, true);
    } else if (elt && elt.matches && elt.matches("a[data-product-id]")) {
      selectFromLink(elt);
    } else if (event.detail.requestConfig && event.detail.requestConfig.boosted) {
      // A boosted link with no signal: a real navigation, which the service worker answers.
      window.location.href = event.detail.pathInfo.requestPath;
    }
  });

  // --- choosing a product with no signal --------------------------------------------------------

  function fromLink(link) {
    var name = link.querySelector(".name");
    var qty = link.querySelector(".qty");
    return {id: Number(link.dataset.productId),
            name: name && name.firstChild ? name.firstChild.textContent : "",
            sku: (link.querySelector(".sub") || {}).textContent || "",
            unit: (link.querySelector(".unit") || {}).textContent || "",
            quantity: qty ? qty.dataset.quantity : "0"};
  }

  function selectFromLink(link) { select(fromLink(link)); }

  /** Show a product in the panel from what the phone knows (page or saved catalogue). */
  function select(product) {
    var panel = document.getElementById("panel");
    if (!panel) { return; }
    var body = panel.querySelector(".panel-body");
    var hint = panel.querySelector("[data-offline-hint]");
    if (hint) { hint.hidden = true; }
    if (body) { body.hidden = false; }
    panel.querySelector("[data-field=name]").textContent = product.name;
    panel.querySelector("[data-field=details]").textContent = product.sku + " · " + product.unit;
    var figure = document.getElementById("panel-level");
    figure.replaceChildren(document.createTextNode(String(Number(product.quantity))));
    figure.append(el("span", {"class": "unit"}, " " + product.unit));
    figure.dataset.quantity = String(Number(product.quantity));
    document.getElementById("selected-product").value = product.id;
    var links = panel.querySelector("[data-online-only]");
    if (links) { links.hidden = true; }
    var saved = panel.querySelector("#offline-saved");
    if (saved) { saved.hidden = true; }
    try {
      var url = new URL(location.href);
      url.searchParams.set("product", product.id);
      history.replaceState(history.state, "", url);
    } catch (e) { /* ignore */ }
  }

  document.addEventListener("htmx:beforeRequest", function (event) {
    var elt = event.detail.elt;
    if (navigator.onLine || !readConfig()) { return; }
    if (elt && elt.matches && elt.matches("a[data-product-id]")) {
      event.preventDefault();
      selectFromLink(elt);
    } else if (elt && elt.id === "q") {
      event.preventDefault();
      searchOffline(elt.value);
    }
  });

  function loadCatalog() {
    if (!catalogPromise && config) {
      catalogPromise = fetch(config.catalog_url, {credentials: "same-origin",
                                                  headers: {"Accept": "application/json"}})
        .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
        .then(function (body) { return body.products; })
        .catch(function (error) { catalogPromise = null; throw error; });
    }
    return catalogPromise || Promise.reject(new Error("no store"));
  }

  function searchOffline(q) {
    var box = document.getElementById("picker-results");
    q = (q || "").trim().toLowerCase();
    if (!box) { return; }
    loadCatalog().then(function (products) {
      box.replaceChildren();
      if (!q) { return; }
      products.filter(function (p) {
        return p.name.toLowerCase().indexOf(q) >= 0 || p.sku.toLowerCase().indexOf(q) >= 0 ||
          (p.barcode || "") === q;
      }).slice(0, 10).forEach(function (p) {
        var a = el("a", {"class": "row", href: "?product=" + p.id});
        a.append(el("span", {"class": "name"}, p.name));
        a.append(el("span", {"class": "qty"}, p.quantity + " " + p.unit));
        a.addEventListener("click", function (event) { event.preventDefault(); select(p); });
        var li = el("li");
        li.append(a);
        box.append(li);
      });
    }, function () {
      box.replaceChildren(el("li", {"class": "muted row"}, t("offline_search")));
    });
  }

  function openRequestedProduct() {
    // Offline, the service worker may answer ?product=N with the plain store page.
    var wanted = Number(new URL(location.href).searchParams.get("product"));
    var input = document.getElementById("selected-product");
    if (!wanted || !input || Number(input.value) === wanted) { return; }
    var link = document.querySelector("a[data-product-id='" + wanted + "']");
    if (link) { selectFromLink(link); return; }
    loadCatalog().then(function (products) {
      var p = products.find(function (x) { return x.id === wanted; });
      if (p) { select(p); }
    }).catch(function () { return null; });
  }

  // --- the scanner loads only when Scan is tapped --------------------------------------------------

  var scannerLoading = null;
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-scan]");
    if (!button || !readConfig()) { return; }
    event.preventDefault();
    if (!scannerLoading) {
      scannerLoading = new Promise(function (resolve, reject) {
        var script = el("script", {src: config.scanner_url});
        script.onload = resolve;
        script.onerror = function () { scannerLoading = null; reject(); };
        document.head.append(script);
      });
    }
    scannerLoading.then(function () {
      window.KiryanaScanner.open({config: config, t: t, catalog: loadCatalog, select: onScanned});
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
      }, function () { select(product); });
    } else {
      select(product);
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
    if (!navigator.onLine) { openRequestedProduct(); }
    if ("serviceWorker" in navigator && window.caches) {
      navigator.serviceWorker.ready.then(function () {
        // The first visit loaded before the worker ran: save this page now if it is missing.
        return caches.open("kiryana-pages").then(function (cache) {
          var here = location.pathname + location.search;
          return cache.match(here).then(function (hit) { return hit || cache.add(here); });
        });
      }).catch(function () { return null; });
    }
  }

  window.addEventListener("online", function () { showBanner(); flush(); });
  window.addEventListener("offline", showBanner);
  if (window.BroadcastChannel && Q) {
    new BroadcastChannel(Q.CHANNEL).onmessage = function () { render(); };
  }
  // Retry while something waits (a 5xx, a timeout): cheap, and only with signal.
  setInterval(function () { if (mine.waiting && navigator.onLine) { flush(); } }, 30000);
  document.addEventListener("htmx:afterSettle", function (event) {
    if (event.target === document.body) { start(); }
  });
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
