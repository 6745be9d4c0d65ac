/* The parts of the offline side that a normal online visit never needs, loaded on demand by
 * offline.js (and saved by the service worker at install, so they are there with no signal):
 * the "needs attention" choices (a basket's per line), choosing or searching products from what
 * the phone saved, and a queued basket's label (shared with basket.js).
 */
(function () {
  "use strict";
  var K = window.KiryanaOffline;

  function attentionItem(item) {
    if (item.kind === "sale") { return basketAttentionItem(item); }
    if (item.kind === "payment") {
      // A customer's payment refused (more than owed, customer gone): change the amount.
      return fixableItem(item, "amount", K.R.amount, K.paymentLabel);
    }
    return fixableItem(item, "quantity", function (text) {
      return K.validQuantity(text) ? K.R.quantity(text) : null;
    }, K.labelFor);
  }

  /** A refused item with the one value to change (`name` in its payload: a movement's quantity,
   * a payment's amount; `read` gives it from the text typed, or null), Send again and the
   * choices. */
  function fixableItem(item, name, read, label) {
    var li = K.el("li", {"class": "attention-item", "data-key": item.key});
    li.append(K.el("p", {}, item.label + " · " + K.t("tapped", {time: K.pkTime(item.tapped_at)})));
    li.append(K.el("p", {"class": "form-error", "role": "alert"},
                 (item.error && item.error.message) || K.t("refused")));
    var form = K.el("form", {"class": "inline-edit", "novalidate": ""});
    var id = "fix-" + item.seq;
    form.append(K.el("label", {"for": id}, K.t(name)));
    var input = K.el("input", {id: id, type: "text", name: name, inputmode: "decimal",
                               autocomplete: "off"});
    input.value = item.payload[name];
    form.append(input, K.el("button", {type: "submit", "class": "secondary"}, K.t("send_again")));
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var value = read(input.value);
      if (value === null) { input.setAttribute("aria-invalid", "true"); return; }
      var payload = Object.assign({}, item.payload);
      payload[name] = value;
      resend(item, payload, label(payload, item.product_name));
    });
    li.append(form, choices(item));
    return li;
  }

  /** Record anyway (only where the store allows negative stock) and Discard (two taps). */
  function choices(item) {
    var actions = K.el("p", {"class": "actions"});
    if (item.error && item.error.code === "insufficient_stock" && item.error.allow_negative_stock) {
      var anyway = K.el("button", {type: "button", "class": "secondary"}, K.t("record_anyway"));
      anyway.addEventListener("click", function () {
        resend(item, item.payload, item.label, item.products);
      });
      actions.append(anyway);
    }
    if (item.error && item.error.code === "credit_limit_exceeded" && item.kind === "sale") {
      // Past the customer's limit: the same basket, paid in cash (the customer pays now).
      var cash = K.el("button", {type: "button", "class": "secondary"}, K.t("cash_instead"));
      cash.addEventListener("click", function () {
        // The same basket (its note, its provisional receipt number) without the udhaar.
        var payload = Object.assign({}, item.payload);
        ["pay", "customer_id", "paid_now", "new_customer"].forEach(function (name) {
          delete payload[name];
        });
        resend(item, payload, basketLabel(payload.lines, item.products || [], null),
               item.products);
      });
      actions.append(cash);
    }
    var discard = K.el("button", {type: "button", "class": "danger"}, K.t("discard"));
    discard.addEventListener("click", function () {
      // Two taps: a stray thumb must not throw a sale away.
      if (discard.dataset.armed) { K.Q.remove(item.seq).then(K.render); return; }
      discard.dataset.armed = "1";
      discard.textContent = K.t("discard_confirm");
    });
    actions.append(discard);
    return actions;
  }

  function resend(item, payload, label, products) {
    // A new key: the refused attempt wrote nothing, and this is a different request. A basket
    // keeps its provisional receipt number (in the payload): the customer holds that paper.
    K.Q.enqueue({kind: item.kind, store_id: item.store_id, user_id: item.user_id, payload: payload,
               label: label, tapped_at: item.tapped_at, product_name: item.product_name,
               products: products, receipt: item.receipt})
      .then(function () { return K.Q.remove(item.seq); })
      .then(K.render).then(K.flush);
  }

  // --- baskets (the counter page's `sale` kind) ----------------------------------------------

  function rtl() {
    return (document.getElementById("page") || document.documentElement).dir === "rtl";
  }

  /** "Sell 2 kg Basmati Chawal, Rs 100 of Cheeni = Rs 420" (the total only when the server
   * or the phone's bill.js priced the basket). */
  function basketLabel(lines, products, totalText) {
    return K.R.basketLabel(lines, products, totalText, K.t, rtl());
  }

  /** A basket's label with how it is paid when not in cash: "… · by card", "… · udhaar to
   * Asif" (`name`: the customer's, kept with the item). */
  function paidLabel(payload, label, name) {
    return payload.pay ? K.t("label_" + payload.pay, {sale: label, name: name || ""}) : label;
  }

  function basketAttentionItem(item) {
    var li = K.el("li", {"class": "attention-item", "data-key": item.key});
    var products = item.products || [];
    var fields = (item.error && item.error.fields) || {};
    li.append(K.el("p", {}, item.label + " · " + K.t("tapped", {time: K.pkTime(item.tapped_at)})));
    li.append(K.el("p", {"class": "form-error", "role": "alert"},
                 (item.error && item.error.message) || K.t("refused")));
    var form = K.el("form", {"class": "basket-fix", "novalidate": ""});
    var inputs = item.payload.lines.map(function (line, i) {
      var product = products[i] || {};
      var byAmount = line.amount !== undefined && line.amount !== null;
      var id = "fix-" + item.seq + "-" + i;
      var row = K.el("div", {"class": "fix-line"});
      row.append(K.el("label", {"for": id},
                      K.t(byAmount ? "rupees_of" : "quantity_of", {name: product.name || ""})));
      var input = K.el("input", {id: id, type: "text", name: "line-" + i, inputmode: "decimal",
                                 autocomplete: "off"});
      input.value = byAmount ? line.amount : line.quantity;
      row.append(input);
      var problem = fields["lines." + i + ".quantity"] || fields["lines." + i + ".amount"] ||
        fields["lines." + i + ".product_id"] || fields["lines." + i + ".unit_price"];
      if (problem) {
        input.setAttribute("aria-invalid", "true");
        input.setAttribute("aria-describedby", id + "-error");
        row.append(K.el("p", {"class": "error-text", id: id + "-error"}, problem));
      }
      form.append(row);
      return {input: input, line: line, product: product, byAmount: byAmount};
    });
    var status = K.el("p", {"class": "muted small"}, K.t("zero_removes"));
    form.append(status, K.el("button", {type: "submit", "class": "secondary"}, K.t("send_again")));
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var lines = [], kept = [], bad = false;
      inputs.forEach(function (entry) {
        var typed = entry.input.value.trim();
        entry.input.removeAttribute("aria-invalid");
        if (K.R.isZero(typed)) { return; }   // 0: out of the basket
        var value = entry.byAmount ? K.R.amount(typed) : K.R.quantity(typed);
        if (value === null) {
          entry.input.setAttribute("aria-invalid", "true");
          bad = true;
          return;
        }
        var line = Object.assign({}, entry.line);
        if (entry.byAmount) { line.amount = value; } else { line.quantity = value; }
        lines.push(line);
        kept.push(entry.product);
      });
      if (bad) { return; }
      if (!lines.length) {
        status.textContent = K.t("need_a_line");
        status.className = "form-error";
        return;
      }
      var payload = Object.assign({}, item.payload, {lines: lines});
      resend(item, payload, paidLabel(payload, basketLabel(lines, kept, null), item.product_name),
             kept);
    });
    li.append(form, choices(item));
    return li;
  }

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
    // No product was open: the placeholder becomes the figure (the id marks a product shown).
    var figure = document.getElementById("panel-level") ||
      panel.querySelector("[data-offline-level]");
    figure.id = "panel-level";
    figure.replaceChildren(document.createTextNode(String(Number(product.quantity))));
    figure.append(K.el("span", {"class": "unit"}, " " + product.unit));
    figure.dataset.quantity = String(Number(product.quantity));
    // The live list's #selected-product and each action form's own product_id.
    panel.querySelectorAll("input[name=product_id]").forEach(function (input) {
      input.value = product.id;
    });
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

  /** The store's products as the phone keeps them (offline.js asks with the copy's ETag). */
  function loadCatalog() {
    return K.catalog(false);
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
        var a = K.el("a", {"class": "row", href: "?product=" + p.id});
        a.append(K.el("span", {"class": "name"}, p.name));
        a.append(K.el("span", {"class": "qty"}, p.quantity + " " + p.unit));
        a.addEventListener("click", function (event) { event.preventDefault(); select(p); });
        var li = K.el("li");
        li.append(a);
        box.append(li);
      });
    }, function () {
      box.replaceChildren(K.el("li", {"class": "muted row"}, K.t("offline_search")));
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

  window.KiryanaOfflineTools = {
    attentionItem: attentionItem, select: select, selectFromLink: selectFromLink,
    searchOffline: searchOffline, loadCatalog: loadCatalog,
    openRequestedProduct: openRequestedProduct, basketLabel: basketLabel, paidLabel: paidLabel
  };
})();
