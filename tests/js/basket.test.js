// The basket screen's edits with no signal (static/js/basket.js KiryanaBasketRules).
"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const path = require("node:path");
const B = require("../../webapp/static/js/basket.js");

const JS = path.join(__dirname, "../../webapp/static/js");

// A basket as the server rendered it (services/basket.state): lines with their figures.
function served() {
  return {
    key: "k1", total: "425.00", total_text: "Rs 425",
    lines: [
      {product_id: 1, mode: "q", value: "1", name: "Pepsi", unit: "piece", loose: false,
       price_text: "Rs 200", stock: "10", quantity: "1", total: "200.00", total_text: "Rs 200"},
      {product_id: 2, mode: "q", value: "1.5", name: "Cheeni", unit: "kg", loose: true,
       price_text: "Rs 150", stock: "20", quantity: "1.5", total: "225.00",
       total_text: "Rs 225"}
    ]
  };
}

test("Set 1,5 or ١٫٥ keeps 1.5, and the line waits for the server's figures", () => {
  for (const typed of ["1,5", "١٫٥", "۱٫۵"]) {
    const state = served();
    assert.equal(B.setLine(state, 0, "set", typed, ""), null);
    const line = state.lines[0];
    assert.deepEqual([line.mode, line.value, line.quantity], ["q", "1.5", "1.5"]);
    // No money is worked out on the phone: the line's and the bill's totals are gone.
    assert.deepEqual([line.total, line.total_text, state.total, state.total_text],
                     [null, null, null, null]);
    assert.equal(state.lines[1].total_text, "Rs 225");   // the untouched line keeps its own
  }
});

test("an amount in rupees makes a line sold by amount; its quantity is the server's to say", () => {
  const state = served();
  assert.equal(B.setLine(state, 1, "set", "1.5", "۱۰۰"), null);
  assert.deepEqual([state.lines[1].mode, state.lines[1].value, state.lines[1].quantity],
                   ["a", "100", null]);
  assert.deepEqual(B.requestLines(state.lines),
                   [{product_id: 1, quantity: "1"}, {product_id: 2, amount: "100"}]);
  assert.deepEqual(B.entries(state.lines), [[1, "q", "1"], [2, "a", "100"]]);
});

test("a number the server would refuse is refused here, the line unchanged", () => {
  const state = served();
  for (const typed of ["1,500", "1e2", "abc", "1.2345"]) {
    assert.equal(B.setLine(state, 1, "set", typed, ""), "bad_quantity", typed);
  }
  assert.equal(B.setLine(state, 1, "set", "", "1.005"), "bad_quantity");
  assert.equal(state.lines[1].value, "1.5");
  assert.equal(state.total_text, "Rs 425");   // nothing changed, the bill still holds
});

test("+ and − count exactly; − on one, 0 or a negative takes the line out", () => {
  const state = served();
  B.setLine(state, 1, "more");
  assert.equal(state.lines[1].value, "2.5");
  B.setLine(state, 1, "less");
  B.setLine(state, 1, "less");
  assert.equal(state.lines[1].value, "0.5");
  B.setLine(state, 0, "less");
  assert.deepEqual(state.lines.map((l) => l.name), ["Cheeni"]);
  B.setLine(state, 0, "set", "٠", "");
  assert.deepEqual(state.lines, []);
  const again = served();
  B.setLine(again, 0, "set", "-2", "");
  assert.equal(again.lines.length, 1);
});

test("a line sold by amount counts from one again on + (as the server does)", () => {
  const state = served();
  B.setLine(state, 1, "set", "", "100");
  B.setLine(state, 1, "more");
  assert.deepEqual([state.lines[1].mode, state.lines[1].value], ["q", "1"]);
});

test("adding counts one more of a line by quantity, never past the basket's size", () => {
  const state = served();
  assert.equal(B.add(state, {product_id: 2, name: "Cheeni", unit: "kg"}, 40), "added");
  assert.equal(state.lines[1].value, "2.5");
  assert.equal(B.add(state, {product_id: 3, name: "Daal", unit: "kg", loose: true,
                             price: "150.10", price_text: "Rs 150.10", stock: "5"}, 40),
               "added");
  assert.deepEqual(state.lines[2], {product_id: 3, mode: "q", value: "1", name: "Daal",
                                    unit: "kg", loose: true, price: "150.10",
                                    price_text: "Rs 150.10", stock: "5", quantity: "1",
                                    total: null, total_text: null, here: false});
  assert.equal(B.add(state, {product_id: 4, name: "Soap", unit: "piece"}, 3), "full");
  assert.equal(state.lines.length, 3);
});

test("offline, a changed line is priced on the phone by bill.js; the server's keep theirs", () => {
  const Bill = require("../../webapp/static/js/bill.js");
  const {rules} = require("./bill_cases.json");
  const rupees = (text) => "Rs " + Bill.money(text, "lakh");
  const state = served();
  state.lines[0].price = "200.00";
  state.lines[1].price = "150.00";
  B.setLine(state, 1, "set", "", "۱۰۰");          // Rs 100 of Cheeni at Rs 150 a kg
  Bill.priceBasket(state, rules, rupees);
  assert.deepEqual([state.lines[1].quantity, state.lines[1].total, state.lines[1].total_text,
                    state.lines[1].here], ["0.667", "100.00", "Rs 100", true]);
  assert.deepEqual([state.lines[0].total, state.lines[0].here], ["200.00", undefined]);
  assert.deepEqual([state.total, state.total_text, state.here], ["300.00", "Rs 300", true]);
  B.add(state, {product_id: 3, name: "Daal", unit: "kg", loose: true, price: "150.10"}, 40);
  B.setLine(state, 2, "set", "0,250", "");
  Bill.priceBasket(state, rules, rupees);
  assert.deepEqual([state.lines[2].total, state.total, state.total_text],
                   ["37.53", "337.53", "Rs 337.53"]);
  // A copy kept before prices travelled with the lines: no bill until the server prices it.
  B.add(state, {product_id: 4, name: "Soap", unit: "piece"}, 40);
  Bill.priceBasket(state, rules, rupees);
  assert.deepEqual([state.lines[3].total, state.total, state.total_text], [null, null, null]);
});

test("the basket screen and the queue do no money arithmetic", () => {
  // Rupee figures come from the server (services/basket.py) or, offline, from bill.js (exact
  // integers, bill.test.js); a float rounding is how 0.250 kg x Rs 150.10 once showed 37.52
  // and charged 37.53.
  for (const name of ["basket.js", "offline-tools.js", "offline.js", "offline-queue.js"]) {
    const source = fs.readFileSync(path.join(JS, name), "utf8");
    assert.doesNotMatch(source, /toFixed\(|Math\.round\(|parseFloat\(|UNIT_PLACES|LOOSE_UNITS/,
                        name);
  }
});

test("whole packs make a line sold by the pack; + counts packs and the request says packs", () => {
  const state = served();
  assert.equal(B.setLine(state, 0, "set", "", "", "1"), null);
  assert.deepEqual([state.lines[0].mode, state.lines[0].value, state.lines[0].quantity],
                   ["p", "1", null]);
  B.setLine(state, 0, "more");
  assert.deepEqual([state.lines[0].mode, state.lines[0].value], ["p", "2"]);
  assert.deepEqual(B.requestLines(state.lines),
                   [{product_id: 1, packs: "2"}, {product_id: 2, quantity: "1.5"}]);
  assert.deepEqual(B.entries(state.lines), [[1, "p", "2"], [2, "q", "1.5"]]);
});

test("Complete's payment step: cash sends nothing, card and wallet pay the whole bill", () => {
  assert.deepEqual(B.paymentStep({}, "k1"), {fields: {}});
  assert.deepEqual(B.paymentStep({pay: "cash", customer_id: "5"}, "k1"), {fields: {}});
  assert.deepEqual(B.paymentStep({pay: "card"}, "k1"), {fields: {pay: "card"}});
  assert.deepEqual(B.paymentStep({pay: "wallet", paid_now: "9"}, "k1"), {fields: {pay: "wallet"}});
  assert.deepEqual(B.paymentStep({pay: "cheque"}, "k1"), {problem: "bad_pay"});
});

test("udhaar needs a customer from the list or a new one; paid now reads as the server reads it",
     () => {
  assert.deepEqual(B.paymentStep({pay: "credit", customer_id: "5", paid_now: "١٠٠"}, "k1"),
                   {fields: {pay: "credit", paid_now: "100", customer_id: 5}});
  // Nothing or 0 paid now: all of it on the khata (the server works out the rest).
  for (const now of ["", " ", "0", "0.00"]) {
    assert.deepEqual(B.paymentStep({pay: "credit", customer_id: "5", paid_now: now}, "k1"),
                     {fields: {pay: "credit", customer_id: 5}});
  }
  assert.deepEqual(B.paymentStep({pay: "credit", customer_id: "5", paid_now: "1,500"}, "k1"),
                   {problem: "bad_paid_now"});
  assert.deepEqual(B.paymentStep({pay: "credit", customer_id: "", new_name: "  "}, "k1"),
                   {problem: "need_customer"});
  // A customer added on the phone is created once, by a key of its own made from the basket's
  // (the page uses the same one, so a lost reply and its queued copy add one customer).
  assert.deepEqual(B.paymentStep({pay: "credit", customer_id: "", new_name: " Dawood ",
                                  new_phone: "0301 7654321"}, "k9"),
                   {fields: {pay: "credit", new_customer: {name: "Dawood",
                                                          phone: "0301 7654321",
                                                          key: "k9-customer"}}});
  // A chosen customer wins over a name typed in the new-customer fields.
  assert.deepEqual(B.paymentStep({pay: "credit", customer_id: "7", new_name: "X"}, "k1").fields,
                   {pay: "credit", customer_id: 7});
});

test("a kept customer reads with the balance the server wrote at the last sync", () => {
  const owes = "owes {amount}";
  assert.equal(B.customerText({name: "Asif", phone: "+923001234567", balance_text: "Rs 1,200"},
                              owes), "Asif · +923001234567 · owes Rs 1,200");
  assert.equal(B.customerText({name: "Bilal", phone: null, balance_text: "Rs 0"}, owes),
               "Bilal · owes Rs 0");
});
