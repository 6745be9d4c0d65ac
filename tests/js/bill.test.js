// The bill the phone works out with no signal (static/js/bill.js), against the cases
// services/basket.py and web/filters.money give (tests/js/bill_cases.json, checked against the
// server by tests/test_javascript.py): the same lines, the same paisa.
"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const path = require("node:path");
const Bill = require("../../webapp/static/js/bill.js");
const R = require("../../webapp/static/js/offline.js");
const {rules, lines, bills, money} = require("./bill_cases.json");

/** A typed line as the phone reads and prices it (basket.js: R.quantity / R.amount, then the
 * bill). */
function price(c) {
  const value = c.mode === "a" ? R.amount(c.typed) : R.quantity(c.typed);
  return value === null ? {error: "invalid"} : Bill.priceLine(c.mode, value, c.product, rules);
}

function expected(c) {
  if (c.error) { return {error: c.error}; }
  const out = {quantity: c.quantity, total: c.total};
  if (c.packs !== undefined) { out.packs = c.packs; }
  return out;
}

test("every line of bill_cases.json is priced on the phone as basket.py prices it", () => {
  assert.ok(lines.length >= 30);
  for (const c of lines) {
    assert.deepEqual(price(c), expected(c), c.name);
  }
});

test("every bill is the exact sum of its lines, formatted as filters.money formats it", () => {
  const byName = Object.fromEntries(lines.map((c) => [c.name, c]));
  for (const b of bills) {
    const total = Bill.bill(b.lines.map((name) => price(byName[name]).total));
    assert.equal(total, b.total, b.name);
    assert.equal(Bill.money(total, "lakh"), b.lakh, b.name);
    assert.equal(Bill.money(total, "thousands"), b.thousands, b.name);
  }
});

test("rupee figures are grouped by lakh or by thousands, as the server writes them", () => {
  for (const m of money) {
    assert.equal(Bill.money(m.value, "lakh"), m.lakh, m.value);
    assert.equal(Bill.money(m.value, "thousands"), m.thousands, m.value);
  }
});

test("a line with no price known on the phone is not priced", () => {
  assert.deepEqual(Bill.priceLine("q", "1", {unit: "kg", price: undefined}, rules),
                   {error: "unpriced"});
});

test("bill.js does its money in integers: no float, no Number() of a figure", () => {
  const source = fs.readFileSync(path.join(__dirname, "../../webapp/static/js/bill.js"), "utf8");
  assert.doesNotMatch(source, /toFixed\(|Math\.|parseFloat\(|parseInt\(|Number\(/);
});
