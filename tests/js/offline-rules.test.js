// The phone's number rules (static/js/offline.js KiryanaRules), run by `node --test tests/js`
// (tests/test_javascript.py runs it in `make test`).
"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const R = require("../../webapp/static/js/offline.js");
const {cases} = require("./number_cases.json");

test("every typed number reads as the server reads it (number_cases.json)", () => {
  for (const c of cases) {
    assert.equal(R.numberText(c.typed), c.reads, JSON.stringify(c.typed));
  }
});

test("a quantity is positive with at most 3 decimals, kept as the server keeps it", () => {
  for (const typed of ["1,5", "١٫٥", "۱٫۵", "1.500", " 1,5 "]) {
    assert.equal(R.quantity(typed), "1.5", typed);
  }
  assert.equal(R.quantity("0,250"), "0.25");
  assert.equal(R.quantity("2"), "2");
  for (const typed of ["0", "-1", "1.2345", "1,500", "abc", ""]) {
    assert.equal(R.quantity(typed), null, typed);
  }
});

test("an amount in rupees has at most 2 decimals", () => {
  assert.equal(R.amount("۱۰۰"), "100");
  assert.equal(R.amount("99,50"), "99.5");
  assert.equal(R.amount("1.005"), null);
  assert.equal(R.amount("0"), null);
});

test("zero is zero in every script", () => {
  for (const typed of ["0", "٠", "۰", "0,0", "0.000"]) { assert.equal(R.isZero(typed), true); }
  for (const typed of ["1", "abc", "", "0,001"]) { assert.equal(R.isZero(typed), false); }
});

test("quantities move exactly, in thousandths (no 0.1 + 0.2)", () => {
  assert.equal(R.addQuantity("1.5", 1), "2.5");
  assert.equal(R.addQuantity("1.005", 1), "2.005");
  assert.equal(R.addQuantity("0.1", "0.2"), "0.3");
  assert.equal(R.addQuantity("1", -1), "0");
  assert.equal(R.addQuantity("0.5", -1), "-0.5");
  assert.equal(R.addQuantity("10", "-0.25"), "9.75");
  assert.equal(R.canonical("01.500"), "1.5");
  assert.equal(R.canonical("+.5"), "0.5");
  assert.equal(R.canonical("-0.0"), "0");
});

const WORDS = {
  label_basket: "Sell {lines} = {total}", label_basket_open: "Sell {lines}",
  amount_of: "{amount} of {name}", money: "Rs {amount}"
};
function t(name, values) {
  let text = WORDS[name];
  for (const [k, v] of Object.entries(values || {})) { text = text.split("{" + k + "}").join(v); }
  return text;
}

test("a queued basket's label names its lines; the total only as the server gave it", () => {
  const lines = [{product_id: 1, quantity: "2"}, {product_id: 2, amount: "100"}];
  const products = [{name: "Basmati Chawal", unit: "kg"}, {name: "Cheeni", unit: "kg"}];
  assert.equal(R.basketLabel(lines, products, "Rs 300", t, false),
               "Sell 2 kg Basmati Chawal, Rs 100 of Cheeni = Rs 300");
  // Changed with no signal: nobody priced it yet, and the phone does not.
  assert.equal(R.basketLabel(lines, products, null, t, false),
               "Sell 2 kg Basmati Chawal, Rs 100 of Cheeni");
  // Right to left: each name keeps its own direction, and the Urdu comma joins them.
  assert.equal(R.basketLabel(lines.slice(0, 1), products, null, t, true),
               "Sell \u20682 kg Basmati Chawal\u2069");
});
