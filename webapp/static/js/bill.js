/* The bill of a basket changed with no signal, worked out on the phone exactly as
 * services/basket.py works it out on the server: the provisional receipt handed over offline
 * carries its bill (issue 24).
 *
 * Exact integers only (BigInt): prices and amounts in paisa, quantities in thousandths of the
 * product's unit, never a float. A line by quantity costs quantity × price rounded half up to
 * the paisa once; an amount in rupees buys amount ÷ price rounded to the unit's places (down
 * for whole units) and costs the amount; whole packs cost packs × the pack price (or packs ×
 * size × the unit price); the bill is the sum of the line totals. The unit's places, the whole
 * units and the bounds come from the server (`rules`, services/basket.phone_rules), so no rule
 * is written twice. tests/js/bill_cases.json holds the cases both sides must agree on: pytest
 * runs basket.py over them (tests/test_javascript.py), node --test this file
 * (tests/js/bill.test.js).
 *
 * The server prices a queued basket again when it lands, at its own prices (services/offline.
 * complete_sale sends no price): the receipt it records is the bill; this one is provisional.
 */
var KiryanaBill = (function () {
  "use strict";
  var ZERO = BigInt(0), TWO = BigInt(2), TEN = BigInt(10);

  function pow10(n) { return TEN ** BigInt(n); }

  /** Plain decimal text ("150.1", "0.250") → BigInt in units of 10^-places, or null when it is
   * not one or has more decimals than `places`. */
  function scaled(text, places) {
    var m = /^(\d+)(?:\.(\d*))?$/.exec(String(text === null || text === undefined ? "" : text));
    if (!m) { return null; }
    var decimals = (m[2] || "").replace(/0+$/, "");
    if (decimals.length > places) { return null; }
    return BigInt(m[1] + (decimals + "000000").slice(0, places));
  }

  /** BigInt in units of 10^-places → text with exactly `places` decimals ("37.53"). */
  function fixed(value, places) {
    var sign = value < ZERO ? "-" : "";
    var digits = (value < ZERO ? -value : value).toString();
    if (!places) { return sign + digits; }
    while (digits.length <= places) { digits = "0" + digits; }
    return sign + digits.slice(0, -places) + "." + digits.slice(-places);
  }

  /** Thousandths → the quantity as the server keeps it: "0.667", "12", "1.5". */
  function quantityText(thousandths) {
    var text = fixed(thousandths, 3).replace(/0+$/, "").replace(/\.$/, "");
    return text === "-0" ? "0" : text;
  }

  /** a ÷ b rounded half up (a ≥ 0, b > 0). */
  function halfUp(a, b) { return (TWO * a + b) / (TWO * b); }

  function refuse(code) { return {error: code}; }

  /** One line priced: mode "q" (quantity), "a" (rupees) or "p" (whole packs), `value` the
   * canonical text the phone keeps, `product` {unit, price, pack: {size, price} | null},
   * `rules` {unit_places, whole_units, max_quantity, max_money}.
   * → {quantity, total, packs?} as text ("0.25", "37.53") or {error: "invalid" | "out_of_range"}
   * (the code services/basket.py refuses the line with). */
  function priceLine(mode, value, product, rules) {
    var maxQuantity = scaled(rules.max_quantity, 3);
    var maxMoney = scaled(rules.max_money, 2);
    var price = scaled(product.price, 2);
    if (price === null) { return refuse("unpriced"); }   // a copy that holds no price
    if (mode === "a") {
      var amount = scaled(value, 2);
      if (amount === null || amount > maxMoney) { return refuse("invalid"); }
      if (price === ZERO) { return refuse("invalid"); }
      var places = rules.unit_places[product.unit];
      places = places === undefined ? 3 : places;
      var units = amount * pow10(places);
      var bought = places === 0 ? units / price : halfUp(units, price);
      var quantity = bought * pow10(3 - places);
      if (quantity <= ZERO) { return refuse("invalid"); }
      if (quantity > maxQuantity) { return refuse("out_of_range"); }
      return {quantity: quantityText(quantity), total: fixed(amount, 2)};
    }
    var count = scaled(value, 3);
    if (count === null || count <= ZERO || count > maxQuantity) { return refuse("invalid"); }
    var total;
    if (mode === "p") {
      if (count % BigInt(1000) !== ZERO) { return refuse("invalid"); }
      var pack = product.pack;
      var size = pack ? scaled(pack.size, 3) : null;
      if (size === null || size <= BigInt(1000)) { return refuse("invalid"); }
      var packs = count / BigInt(1000);
      var inUnits = packs * size;
      if (inUnits > maxQuantity) { return refuse("out_of_range"); }
      var packPrice = pack.price === null || pack.price === undefined ? null
        : scaled(pack.price, 2);
      // Packs × pack price is exact in paisa; size × unit price rounds half up once.
      total = packPrice !== null ? packs * packPrice : halfUp(inUnits * price, BigInt(1000));
      if (total > maxMoney) { return refuse("out_of_range"); }
      return {quantity: quantityText(inUnits), total: fixed(total, 2),
              packs: quantityText(count)};
    }
    if (rules.whole_units.indexOf(product.unit) >= 0 && count % BigInt(1000) !== ZERO) {
      return refuse("invalid");
    }
    total = halfUp(count * price, BigInt(1000));
    if (total > maxMoney) { return refuse("out_of_range"); }
    return {quantity: quantityText(count), total: fixed(total, 2)};
  }

  /** The bill: the sum of the line totals ("37.53", …), never rounded again. */
  function bill(totals) {
    var sum = totals.reduce(function (acc, total) { return acc + scaled(total, 2); }, ZERO);
    return fixed(sum, 2);
  }

  /** A rupee figure as web/filters.money writes it: no decimals when whole, else two; grouped
   * by lakh (1,50,000.50) or thousands (150,000.50), the organisation's MONEY_GROUPING. */
  function money(text, grouping) {
    var value = scaled(String(text).replace(/^-/, ""), 2);
    if (value === null) { return String(text); }
    var sign = String(text)[0] === "-" && value !== ZERO ? "-" : "";
    var whole = (value / BigInt(100)).toString();
    var paisa = value % BigInt(100);
    var grouped = whole.slice(-3);
    var rest = whole.slice(0, -3);
    var size = grouping === "thousands" ? 3 : 2;
    while (rest.length) {
      grouped = rest.slice(-size) + "," + grouped;
      rest = rest.slice(0, -size);
    }
    return sign + grouped + (paisa === ZERO ? "" : "." + fixed(paisa + BigInt(100), 2).slice(-2));
  }

  /** Price on the phone the lines of a basket (static/js/basket.js's copy) that hold no
   * figure: a line the server priced keeps its own; a line changed with no signal is priced
   * from the price it carries (`price`, `pack`: the page's or the saved product list's) and
   * marked `here`. The bill is their sum, or none while a line cannot be priced (a copy with
   * no price, a line the server would refuse). `rupees(text)` writes a figure for the page. */
  function priceBasket(state, rules, rupees) {
    state.lines.forEach(function (line) {
      if (line.total) { return; }
      var priced = priceLine(line.mode, line.value,
                             {unit: line.unit, price: line.price, pack: line.pack}, rules);
      if (priced.error) {
        line.total = null;
        line.total_text = null;
        line.here = false;
        return;
      }
      line.quantity = priced.quantity;
      line.total = priced.total;
      line.total_text = rupees(priced.total);
      line.here = true;
    });
    var totals = state.lines.map(function (line) { return line.total; });
    var whole = state.lines.length && totals.every(Boolean);
    state.total = whole ? bill(totals) : null;
    state.total_text = whole ? rupees(state.total) : null;
    state.here = state.lines.some(function (line) { return line.here; });
    return state;
  }

  return {priceLine: priceLine, priceBasket: priceBasket, bill: bill, money: money,
          scaled: scaled};
})();
if (typeof module === "object" && module.exports) { module.exports = KiryanaBill; }
