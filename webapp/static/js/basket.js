/* The counter's basket with no signal. Loaded by offline.js on the basket page only.
 *
 * Online, the basket lives in the server's session and htmx swaps it; every render carries its
 * lines and their figures (`data-basket-state` on #basket, services/basket.state) and this file
 * keeps a copy on the phone (localStorage, per user and store). With no signal, or when a basket
 * request fails for lack of network, the same forms change that copy here and the basket is
 * drawn from it; Complete keeps the whole basket in the offline queue (kind `sale`, its
 * idempotency key and tap time, and how it is paid: cash, card, wallet, or udhaar to a customer
 * from the list the phone keeps or one added here, and a provisional receipt number taken as it
 * is kept: receipt-number.js) and empties it, and shows that basket's provisional receipt at
 * once (print, WhatsApp) from what the phone knows. When the signal returns, what is left of the
 * basket goes back to the server (counter.replace) and the queue is sent by offline.js. A
 * scanned product (kiryana:scanned) is added the same way.
 *
 * Online, a line shows the total the server worked out for it (services/basket.py). A line
 * changed with no signal is priced here by bill.js, in exact integers with the server's rules,
 * from the price the line carries (the page's or the saved product list's), and the bill and
 * the provisional receipt say they were priced on this phone: the queued sale is priced again
 * by the server when it lands, at the shop's prices, and that receipt is the bill.
 */

/* The basket's edits, pure (tests/js/basket.test.js runs them under node --test). */
var KiryanaBasketRules = (function (R) {
  "use strict";

  /** A line changed here: the server's figures for it, and the bill's, no longer hold (bill.js
   * prices it again on the phone). */
  function unpriced(state, line) {
    if (line) {
      line.quantity = line.mode === "q" ? line.value : null;
      line.total = null;
      line.total_text = null;
      line.here = false;
    }
    state.total = null;
    state.total_text = null;
  }

  function takesOut(typed) {
    var text = R.numberText(typed);
    return text !== null && (R.canonical(text) === "0" || R.canonical(text)[0] === "-");
  }

  /** Add one of `product` ({product_id, name, unit, loose, price, price_text, stock}), or one
   * more of a line counted by quantity. Returns "added" or "full". */
  function add(state, product, maxLines) {
    var line = state.lines.find(function (l) { return l.product_id === product.product_id; });
    if (line) {
      if (line.mode === "q") {
        line.value = R.addQuantity(line.value, 1);
        unpriced(state, line);
      }
      return "added";
    }
    if (state.lines.length >= maxLines) { return "full"; }
    line = {product_id: product.product_id, mode: "q", value: "1", name: product.name,
            unit: product.unit, loose: !!product.loose, price: product.price || null,
            price_text: product.price_text, stock: product.stock};
    state.lines.push(line);
    unpriced(state, line);
    return "added";
  }

  /** − / + / remove / Set (a quantity, an amount in rupees, or whole packs) on line `index`, as
   * counter.set_line does. Returns null, or "bad_quantity" when the typed number does not read. */
  function setLine(state, index, action, quantity, amount, packs) {
    var line = state.lines[index];
    if (!line) { return null; }
    if (action === "remove") {
      state.lines.splice(index, 1);
      unpriced(state);
      return null;
    }
    if (action === "more" || action === "less") {
      // A line sold by amount goes back to counting from one (as on the server); a line in
      // packs counts packs.
      var counted = line.mode === "q" || line.mode === "p";
      var next = counted ? R.addQuantity(line.value, action === "more" ? 1 : -1) : "1";
      if (next === "0" || next[0] === "-") {
        state.lines.splice(index, 1);
        unpriced(state);
      } else {
        line.mode = line.mode === "p" ? "p" : "q";
        line.value = next;
        unpriced(state, line);
      }
      return null;
    }
    var byPacks = !!String(packs || "").trim();
    var byAmount = !byPacks && !!String(amount || "").trim();
    var typed = String((byPacks ? packs : byAmount ? amount : quantity) || "").trim();
    if (!typed) { return null; }
    if (takesOut(typed)) {
      state.lines.splice(index, 1);
      unpriced(state);
      return null;
    }
    var value = byAmount ? R.amount(typed) : R.quantity(typed);
    if (value === null) { return "bad_quantity"; }
    line.mode = byPacks ? "p" : byAmount ? "a" : "q";
    line.value = value;
    unpriced(state, line);
    return null;
  }

  /** The lines as a sale request sends them (counter.complete, the offline queue). */
  function requestLines(lines) {
    return lines.map(function (l) {
      var line = {product_id: l.product_id};
      line[{a: "amount", p: "packs"}[l.mode] || "quantity"] = l.value;
      return line;
    });
  }

  /** The lines as counter.replace takes them back: [[product_id, mode, text], …]. */
  function entries(lines) {
    return lines.map(function (l) { return [l.product_id, l.mode, l.value]; });
  }

  /** The Complete step as a queued basket carries it (services/offline.complete_sale): cash (no
   * fields), card or wallet for the whole bill, or udhaar to a chosen customer or one added
   * here (created once by a key of its own, the basket's key + "-customer", as the page does)
   * with an optional part paid now in cash. The phone's bill is provisional: the server works out the
   * rest. `choice` holds the form's values → {fields} or {problem: a word's name}. */
  function paymentStep(choice, key) {
    var pay = choice.pay || "cash";
    if (pay === "cash") { return {fields: {}}; }
    if (pay === "card" || pay === "wallet") { return {fields: {pay: pay}}; }
    if (pay !== "credit") { return {problem: "bad_pay"}; }
    var fields = {pay: "credit"};
    var now = String(choice.paid_now || "").trim();
    if (now && !R.isZero(now)) {
      fields.paid_now = R.amount(now);
      if (fields.paid_now === null) { return {problem: "bad_paid_now"}; }
    }
    var id = Number(choice.customer_id) || 0;
    var name = String(choice.new_name || "").trim();
    if (id > 0) {
      fields.customer_id = id;
    } else if (name) {
      fields.new_customer = {name: name, phone: String(choice.new_phone || "").trim() || null,
                             key: key + "-customer"};
    } else {
      return {problem: "need_customer"};
    }
    return {fields: fields};
  }

  /** "Asif · +923001234567 · owes Rs 1,200": a kept customer as the udhaar list shows it
   * (the balance as the server wrote it at the last sync). */
  function customerText(customer, owes) {
    return [customer.name, customer.phone, owes.split("{amount}").join(customer.balance_text)]
      .filter(Boolean).join(" · ");
  }

  return {unpriced: unpriced, add: add, setLine: setLine, requestLines: requestLines,
          entries: entries, paymentStep: paymentStep, customerText: customerText};
})(typeof KiryanaRules !== "undefined" ? KiryanaRules : require("./offline.js"));
if (typeof module === "object" && module.exports) { module.exports = KiryanaBasketRules; }

(function () {
  "use strict";
  if (typeof window === "undefined" || window.KiryanaBasket) { return; }
  var K = window.KiryanaOffline;
  var Q = window.KiryanaQueue;
  var B = KiryanaBasketRules;
  var config = null;
  var pushing = null;
  var completing = false;

  function readConfig() {
    var node = document.getElementById("basket-config");
    config = node ? JSON.parse(node.getAttribute("data-config")) : null;
    return config;
  }

  function say(name, values) {
    var text = (config && config.strings[name]) || name;
    Object.keys(values || {}).forEach(function (k) {
      text = text.split("{" + k + "}").join(values[k]);
    });
    return text;
  }

  // --- the phone's copy -------------------------------------------------------------------------

  function storageKey() {
    var offline = K.config() || K.readConfig();
    return offline ? "kiryana-basket:" + offline.user_id + ":" + offline.store_id : null;
  }

  function load() {
    try {
      return JSON.parse(localStorage.getItem(storageKey()) || "null");
    } catch (e) {
      return null;
    }
  }

  function save(state) {
    try { localStorage.setItem(storageKey(), JSON.stringify(state)); } catch (e) { /* full */ }
  }

  function fromPage() {
    var node = document.getElementById("basket");
    if (!node || node.hasAttribute("data-local") || !node.hasAttribute("data-basket-state")) {
      return null;
    }
    return JSON.parse(node.getAttribute("data-basket-state"));
  }

  function edited() {
    var saved = load();
    return !!(saved && saved.dirty);
  }

  /** Which basket is true now: the page's while online and unedited, else the phone's copy
   * (offline, a page from the cache may be older than the copy). */
  function current() {
    var saved = load();
    if (saved && (saved.dirty || !navigator.onLine)) { return priced(saved); }
    var page = fromPage();
    if (page) { return pageState(page); }
    return saved || {key: Q.newKey(), lines: [], dirty: false, total: "0", total_text: null};
  }

  /** A rupee figure ("1712.53") as the page writes it: "Rs 1,712.53" / "1,712.53 روپے". */
  function rupees(text) {
    var offline = K.config() || {};
    return K.t("money", {amount: window.KiryanaBill.money(text, offline.money_grouping)});
  }

  /** The lines changed on the phone priced here (bill.js), with the server's rules. */
  function priced(state) {
    if (window.KiryanaBill && config && config.rules) {
      window.KiryanaBill.priceBasket(state, config.rules, rupees);
    }
    return state;
  }

  function pageState(page) {
    return {key: page.key, lines: page.lines, dirty: false, total: page.total,
            total_text: page.total_text};
  }

  function mirror() {
    // A render from the server while online: that is the basket now.
    var page = fromPage();
    if (page && navigator.onLine && !edited()) {
      save(pageState(page));
    }
  }

  function change(edit) {
    var state = current();
    var message = edit(state);
    // Like the server, every change is a new sale to complete: a new key.
    state.key = Q.newKey();
    state.dirty = true;
    save(priced(state));
    draw(message);
    push();
  }

  // --- the forms -------------------------------------------------------------------------------

  function productOf(form) {
    var data = new FormData(form);
    var unit = form.dataset.unit || "";
    return {product_id: Number(data.get("product_id")), name: form.dataset.name || "",
            unit: unit, loose: config.loose_units.indexOf(unit) >= 0,
            price: form.dataset.price || null, price_text: form.dataset.priceText || "",
            stock: form.dataset.stock || ""};
  }

  function add(product) {
    if (!product.product_id) { return; }
    change(function (state) {
      return B.add(state, product, config.max_lines) === "full" ? say("full")
        : say("added", {name: product.name});
    });
  }

  function setLine(index, action, quantity, amount, packs) {
    change(function (state) {
      var problem = B.setLine(state, index, action, quantity, amount, packs);
      return problem ? K.t(problem) : null;
    });
  }

  /** Keep the basket in the offline queue as one sale with its Complete step (`choice`: the
   * form's pay, customer and paid-now values; none: cash) and its provisional receipt number,
   * empty it, and show its receipt. */
  function complete(key, choice) {
    var state = current();
    if (!state.lines.length || completing) { return Promise.resolve(); }
    key = key || state.key;
    var step = B.paymentStep(choice || {}, key);
    if (step.problem) { return draw(say(step.problem)); }
    completing = true;   // a second tap while this one is being kept is the same sale
    var offline = K.config();
    var lines = B.requestLines(state.lines);
    var products = state.lines.map(function (l) { return {name: l.name, unit: l.unit}; });
    var N = window.KiryanaReceiptNumber;
    var device = N ? N.device(localStorage) : null;
    return K.tools().then(function (T) {
      var payload = Object.assign({lines: lines}, step.fields);
      // The customer's name is kept with the item, for its label if it is sent again.
      var name = (choice && choice.name) || (step.fields.new_customer || {}).name || "";
      return Q.enqueue({kind: "sale", store_id: offline.store_id, user_id: offline.user_id,
                        payload: payload, product_name: name,
                        label: T.paidLabel(payload, T.basketLabel(lines, products,
                                                                  state.total_text), name),
                        products: products, key: key,
                        receipt: receiptOf(state),
                        numbered: N ? function (sequence) {
                          return N.format(config.store.code, device, sequence);
                        } : null});
    }).then(function (record) {
      save({key: Q.newKey(), lines: [], dirty: true, total: "0", total_text: null});
      draw(K.t("saved", {what: record.label}));
      showReceipt(record);
      push();
      return K.render();
    }).finally(function () { completing = false; }).then(K.flush);
  }

  // --- the provisional receipt (counter/basket.html's #provisional-template) -------------------

  function measured(value, unit) {
    var words = (config.unit_words || {})[unit];
    if (!words) { return value + " " + unit; }
    return words[R().canonical(value) === "1" ? 0 : 1].split("{n}").join(value);
  }

  function R() { return K.R; }

  /** What the receipt shows, from the phone's basket: quantities, and money as the server
   * worked it out or, for lines changed with no signal, as this phone priced them (`here`:
   * the receipt says so; the server prices the sale again when it lands). */
  function receiptOf(state) {
    var now = new Date();
    return {
      store: config.store, time: stamp(now.toISOString()),
      lines: state.lines.map(function (l) {
        var text = l.mode === "a" && !l.quantity ? rupees(l.value)
          : measured(l.mode === "q" ? l.value : (l.quantity || l.value),
                     l.mode === "p" ? "pack" : l.unit);
        return {name: l.name, quantity_text: text, total_text: l.total_text || null};
      }),
      total_text: state.total_text || null,
      priced_here: !!state.here
    };
  }

  function stamp(iso) {
    var parts = new Intl.DateTimeFormat("en-GB", {
      timeZone: "Asia/Karachi", day: "2-digit", month: "2-digit", year: "numeric",
      hour: "2-digit", minute: "2-digit", hour12: false}).formatToParts(new Date(iso));
    var get = function (type) {
      return (parts.find(function (p) { return p.type === type; }) || {}).value || "";
    };
    return get("day") + "-" + get("month") + "-" + get("year") + " " + get("hour") + ":" +
      get("minute");
  }

  function showReceipt(record) {
    var template = document.getElementById("provisional-template");
    var receipt = record && record.receipt;
    if (!template || !receipt || !receipt.reference) { return; }
    var old = document.getElementById("provisional-receipt");
    if (old) { old.remove(); }
    var node = template.content.firstElementChild.cloneNode(true);
    node.querySelector("[data-field=reference]").textContent = receipt.reference;
    var time = node.querySelector("[data-field=time]");
    time.textContent = receipt.time;
    time.setAttribute("datetime", record.tapped_at);
    var body = node.querySelector("[data-field=lines]");
    receipt.lines.forEach(function (line) {
      var row = K.el("tr");
      var what = K.el("td", {}, line.name);
      what.append(K.el("br"));
      var sub = K.el("span", {"class": "muted small"});
      sub.append(K.el("bdi", {}, line.quantity_text));
      what.append(sub);
      var amount = K.el("td", {"class": "num"});
      amount.append(K.el("bdi", {}, line.total_text || "—"));
      row.append(what, amount);
      body.append(row);
    });
    node.querySelector("[data-field=total]").textContent = receipt.total_text || say("unpriced");
    node.querySelector("[data-field=priced-here]").hidden = !receipt.priced_here;
    node.querySelector("[data-field=share]").href =
      window.KiryanaReceiptNumber.shareUrl(receipt, say);
    node.querySelector("[data-close]").addEventListener("click", function () {
      node.remove();
      document.body.classList.remove("has-provisional");
      var search = document.getElementById("basket-q");
      if (search) { search.focus(); }
    });
    var head = document.querySelector(".store-head");
    if (head) { head.after(node); } else { document.querySelector("main").prepend(node); }
    document.body.classList.add("has-provisional");
    node.scrollIntoView({block: "start"});
    node.focus({preventScroll: true});
  }

  /** Make a basket form's change on the phone. `sent`: the form reached the network (its reply
   * was lost), so a Complete keeps the key the server may have used. */
  function apply(form, sent) {
    var data = new FormData(form);
    var kind = form.dataset.basket;
    if (kind === "add") {
      add(productOf(form));
    } else if (kind === "line") {
      setLine(Number(form.dataset.index), data.get("action") || "set", data.get("quantity"),
              data.get("amount"), data.get("packs"));
    } else if (kind === "clear") {
      change(function (state) { state.lines.length = 0; B.unpriced(state); return null; });
    } else if (kind === "complete") {
      var chosen = form.querySelector("select[name=customer_id] option:checked");
      complete(sent ? data.get("key") : null, {
        pay: data.get("pay"), customer_id: data.get("customer_id"),
        name: chosen && chosen.value ? chosen.dataset.name : "",
        paid_now: data.get("paid_now"), new_name: data.get("new_name"),
        new_phone: data.get("new_phone")});
    }
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.matches || !form.matches("form[data-basket]") || !readConfig()) { return; }
    if (!form.hasAttribute("data-local") && navigator.onLine && !edited()) {
      return;   // htmx posts it as usual
    }
    event.preventDefault();
    event.stopImmediatePropagation();
    apply(form, false);
  }, true);

  document.addEventListener("htmx:sendError", function (event) {
    var form = event.detail.elt;
    if (form && form.matches && form.matches("form[data-basket]") && readConfig()) {
      // No reply: a basket change never reached the session (a cookie), so make it here. A
      // Complete may have been recorded: queued with the same key, it lands once.
      apply(form, true);
    }
  });

  document.addEventListener("htmx:afterSettle", mirror);

  document.addEventListener("kiryana:scanned", function (event) {
    var form = document.getElementById("scan-add");
    if (!form || !readConfig()) { return; }
    event.preventDefault();   // taken: the store page's panel is not here
    var product = event.detail;
    form.querySelector("input[name=product_id]").value = product.id;
    form.dataset.name = product.name;
    form.dataset.unit = product.unit;
    form.dataset.priceText = product.price_text || "";
    form.dataset.price = product.sale_price || "";
    form.dataset.stock = product.quantity;
    form.requestSubmit();
  });

  // Offline search from the product list the phone saved (services/offline.catalog).
  document.addEventListener("htmx:beforeRequest", function (event) {
    var input = event.detail.elt;
    if (navigator.onLine || !input || input.id !== "basket-q" || !readConfig()) { return; }
    event.preventDefault();
    var q = input.value.trim().toLowerCase();
    var box = document.getElementById("basket-results");
    K.tools().then(function (T) { return T.loadCatalog(); }).then(function (products) {
      box.replaceChildren();
      var found = q ? products.filter(function (p) {
        return p.name.toLowerCase().indexOf(q) >= 0 || p.sku.toLowerCase().indexOf(q) >= 0 ||
          (p.barcode || "") === q;
      }).slice(0, 10) : [];
      found.forEach(function (p) {
        var li = K.el("li");
        li.append(addForm(p));
        box.append(li);
      });
      if (q && !found.length) {
        box.append(K.el("li", {"class": "muted row"}, say("no_match", {q: q})));
      }
    }, function () {
      box.replaceChildren(K.el("li", {"class": "muted row"}, K.t("offline_search")));
    });
  });

  function addForm(p) {
    var form = K.el("form", {"class": "add-form", "data-basket": "add", "data-local": "",
                             "data-name": p.name, "data-unit": p.unit,
                             "data-price": p.sale_price || "",
                             "data-price-text": p.price_text || "", "data-stock": p.quantity});
    var id = K.el("input", {type: "hidden", name: "product_id"});
    id.value = p.id;
    var button = K.el("button", {type: "submit", "class": "row add", "data-product-id": p.id});
    var name = K.el("span", {"class": "name"}, p.name);
    name.append(K.el("span", {"class": "sub"}, p.unit + " · " + say("in_stock", {n: p.quantity})));
    button.append(name, K.el("span", {"class": "plus", "aria-hidden": "true"}, "+"));
    form.append(id, button);
    return form;
  }

  // --- drawing the phone's copy (the same markup as counter/basket.html's basket block) ---------

  function draw(message) {
    var people = K.customers().catch(function () { return null; });
    return Promise.all([K.tools(), people]).then(function (ready) {
      var customers = ready[1];
      var old = document.getElementById("basket");
      if (!old) { return; }
      var state = current();
      var section = K.el("section", {id: "basket", "class": "card basket", "data-local": "",
                                     "aria-label": say("basket"), "aria-live": "polite"});
      var title = K.el("h2", {}, say("basket") + " ");
      title.append(K.el("span", {"class": "muted small"}, "(" + state.lines.length + ")"));
      section.append(title);
      if (message) { section.append(K.el("p", {"class": "muted small"}, message)); }
      var list = K.el("ul", {"class": "rows basket-lines"});
      state.lines.forEach(function (line, index) { list.append(drawLine(line, index)); });
      if (!state.lines.length) { list.append(K.el("li", {"class": "muted row"}, say("empty"))); }
      section.append(list);
      if (state.lines.length) {
        var clear = localForm({"class": "actions", "data-basket": "clear"});
        clear.append(K.el("button", {type: "submit", "class": "link small"}, say("empty_basket")));
        section.append(clear);
      }
      if (state.lines.length) { section.append(payOther(state.key), udhaar(state.key, customers)); }
      var checkout = localForm({id: "checkout", "class": "checkout", "data-basket": "complete"});
      var key = K.el("input", {type: "hidden", name: "key"});
      key.value = state.key;
      var bill = K.el("p", {"class": "bill"});
      // The server's bill while it holds; after a change here, this phone's (said so).
      // (An empty bill is written here too: a `0|rupees` in the template is folded into the
      // compiled template in the language it was first compiled in.)
      var shown = state.lines.length ? state.total_text : rupees("0");
      var label = K.el("span", {}, say("total") + " ");
      label.append(K.el("span", {"class": "badge bar-count", id: "bar-count"},
                        String(state.lines.length)));
      bill.append(label, " ",
                  K.el("strong", {id: "bill-total", "data-total": shown ? state.total || "0" : ""},
                       shown || say("unpriced")));
      if (state.lines.length && state.here) {
        bill.append(K.el("span", {"class": "bar-note", id: "bill-here"}, say("priced_here")));
      }
      var done = K.el("button", {type: "submit", "class": "sell complete"}, say("complete"));
      done.disabled = !state.lines.length;
      checkout.append(key, bill, done);
      section.append(checkout);
      old.replaceWith(section);
    });
  }

  /** Card and Wallet for the whole bill, each its own form (as on the page). */
  function payOther(key) {
    var box = K.el("div", {"class": "pay-other", "aria-label": say("other_payment")});
    [["card", say("card")], ["wallet", say("wallet")]].forEach(function (method) {
      var form = localForm({"data-basket": "complete"});
      form.append(hidden("key", key), hidden("pay", method[0]),
                  K.el("button", {type: "submit", "class": "secondary block",
                                  id: "pay-" + method[0]}, method[1]));
      box.append(form);
    });
    return box;
  }

  /** Udhaar with no signal: a customer from the list the phone keeps (balances as of the last
   * sync), or a new one by name and phone, and what is paid now in cash. */
  function udhaar(key, customers) {
    var details = K.el("details", {"class": "udhaar"});
    details.append(K.el("summary", {}, say("udhaar")));
    var form = localForm({id: "udhaar-form", "data-basket": "complete"});
    form.append(hidden("key", key), hidden("pay", "credit"));
    var field = K.el("div", {"class": "field"});
    field.append(K.el("label", {"for": "udhaar-customer"}, say("customer")));
    var select = K.el("select", {id: "udhaar-customer", name: "customer_id"});
    select.append(K.el("option", {value: ""}, say("new_customer_below")));
    (customers || []).forEach(function (c) {
      var option = K.el("option", {value: String(c.id), "data-name": c.name},
                        B.customerText(c, say("owes")));
      select.append(option);
    });
    field.append(select, K.el("p", {"class": "muted small"},
                              customers ? say("as_of_sync") : say("no_customers")));
    form.append(field);
    var grid = K.el("div", {"class": "notes-grid"});
    grid.append(input("udhaar-name", "new_name", say("new_name"), {maxlength: "120"}),
                input("udhaar-phone", "new_phone", say("phone"),
                      {inputmode: "tel", dir: "ltr", placeholder: "0300 1234567"}));
    form.append(grid, input("udhaar-now", "paid_now", say("paid_now"),
                            {inputmode: "decimal", placeholder: "0"}),
                K.el("button", {type: "submit", "class": "block", id: "pay-udhaar"},
                     say("complete_udhaar")));
    details.append(form);
    return details;
  }

  function hidden(name, value) {
    var node = K.el("input", {type: "hidden", name: name});
    node.value = value;
    return node;
  }

  function input(id, name, label, attrs) {
    var field = K.el("div", {"class": "field"});
    field.append(K.el("label", {"for": id}, label),
                 K.el("input", Object.assign({id: id, type: "text", name: name,
                                              autocomplete: "off"}, attrs)));
    return field;
  }

  function localForm(attrs) {
    return K.el("form", Object.assign({"data-local": "", novalidate: ""}, attrs));
  }

  function drawLine(line, index) {
    var li = K.el("li", {"class": "basket-line", "data-product-id": line.product_id});
    var head = K.el("div", {"class": "line-head"});
    var name = K.el("span", {"class": "name"}, line.name);
    name.append(K.el("span", {"class": "sub"}, line.price_text + " / " + line.unit + " · " +
                                             say("in_stock", {n: line.stock})));
    head.append(name, K.el("span", {"class": "line-total",
                                    "data-line-total": line.total_text ? line.total : ""},
                           line.total_text || "—"));
    var controls = K.el("div", {"class": "line-controls"});
    controls.append(stepForm(index, "less", "−", say("less", {name: line.name})));
    var form = localForm({"class": "line-form", "data-basket": "line", "data-index": index});
    var qid = "line-" + index + "-quantity";
    form.append(K.el("label", {"class": "visually-hidden", "for": qid},
                     say("quantity_of", {name: line.name})));
    var quantity = K.el("input", {id: qid, type: "text", name: "quantity", inputmode: "decimal",
                                  autocomplete: "off", "class": "line-qty"});
    quantity.value = line.quantity || "";
    form.append(quantity, K.el("span", {"class": "unit"}, line.unit));
    if (line.loose) {
      var aid = "line-" + index + "-amount";
      form.append(K.el("label", {"class": "visually-hidden", "for": aid},
                       say("rupees_of", {name: line.name})));
      var amount = K.el("input", {id: aid, type: "text", name: "amount", inputmode: "decimal",
                                  autocomplete: "off", "class": "line-amount",
                                  placeholder: say("rs")});
      amount.value = line.mode === "a" ? line.value : "";
      form.append(amount);
    }
    form.append(K.el("button", {type: "submit", "class": "secondary set"}, say("set")));
    controls.append(form, stepForm(index, "more", "+", say("more", {name: line.name})));
    li.append(head, controls);
    return li;
  }

  function stepForm(index, action, sign, label) {
    var form = localForm({"data-basket": "line", "data-index": index});
    var input = K.el("input", {type: "hidden", name: "action"});
    input.value = action;
    form.append(input, K.el("button", {type: "submit", "class": "secondary step",
                                       "aria-label": label}, sign));
    return form;
  }

  // --- back online: the server takes the basket back --------------------------------------------

  function freshToken() {
    return fetch("/offline/session", {credentials: "same-origin", cache: "no-store",
                                      headers: {"Accept": "application/json"}})
      .then(function (response) {
        if (!response.ok) { throw new Error("session " + response.status); }
        return response.json();
      }).then(function (who) {
        // A page from the phone's cache carries old tokens: every form gets the fresh one.
        document.querySelectorAll("input[name=csrf_token]").forEach(function (input) {
          input.value = who.csrf_token;
        });
        document.body.setAttribute("hx-headers", JSON.stringify({"X-CSRFToken": who.csrf_token}));
        return who.csrf_token;
      });
  }

  function push() {
    var state = load();
    if (pushing || !state || !state.dirty || !navigator.onLine || !config) { return pushing; }
    var sent = state.key;
    pushing = freshToken().then(function (token) {
      var body = new FormData();
      body.append("csrf_token", token);
      body.append("lines", JSON.stringify(B.entries(state.lines)));
      return fetch(config.replace_url, {method: "POST", body: body, credentials: "same-origin",
                                        headers: {"HX-Request": "true", "X-CSRFToken": token}});
    }).then(function (response) {
      if (!response.ok) { throw new Error("replace " + response.status); }
      return response.text();
    }).then(function (html) {
      var now = load();
      if (!now || now.key !== sent) { return; }   // changed meanwhile: sent again below
      var holder = document.createElement("template");
      holder.innerHTML = html;
      var fresh = holder.content.querySelector("#basket");
      var old = document.getElementById("basket");
      if (!fresh || !old) { return; }
      old.replaceWith(fresh);
      save(pageState(fromPage()));   // the server's lines and figures, as it priced them
      if (window.htmx) { window.htmx.process(fresh); }
      mirror();
    }).catch(function () { return null; }).then(function () {
      pushing = null;
      var now = load();
      if (now && now.dirty && now.key !== sent) { push(); }
    });
    return pushing;
  }

  // --- start -----------------------------------------------------------------------------------

  function start() {
    if (!readConfig() || !document.getElementById("basket")) { return; }
    if (edited() || !navigator.onLine) {
      if (load()) { draw(); }
      push();
    } else {
      mirror();
    }
  }

  window.addEventListener("online", push);
  // A request that failed with the phone still "online" brings no `online` event when the
  // network recovers: try again now and then while the phone holds an edited basket.
  setInterval(function () { if (edited() && navigator.onLine) { push(); } }, 30000);
  window.KiryanaBasket = {start: start, push: push, current: current, showReceipt: showReceipt};
})();
