// The provisional receipt number (static/js/receipt-number.js, taken by offline-queue.js) under
// node --test: the device id is made once and kept; the sequence is taken in the transaction
// that keeps the basket, only goes up and goes on after a "reload" (a new copy of the module
// over the same database); two tabs keeping baskets at the same moment never get the same
// number; the number is sent with its basket. The WhatsApp text is one line per value.
"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");

const NUMBER_PATH = require.resolve("../../webapp/static/js/receipt-number.js");

/** A fresh copy of the module, as a reloaded page or another tab has. */
function load() {
  delete require.cache[NUMBER_PATH];
  return require(NUMBER_PATH);
}

/** localStorage (the device id lives there). */
function sharedStorage() {
  const data = new Map();
  return {
    data,
    getItem: (k) => (data.has(k) ? data.get(k) : null),
    setItem: (k, v) => { data.set(k, String(v)); },
    removeItem: (k) => { data.delete(k); }
  };
}

/** IndexedDB as every tab of the site shares it: one database, and read-write transactions
 * whose stores overlap run one at a time, in the order they were asked for (the guarantee the
 * numbering relies on); each request answers a little later, so tabs interleave everywhere
 * else. Only the calls offline-queue.js makes. */
function sharedIndexedDB() {
  const stores = {};
  let running = Promise.resolve();
  const later = (fn) => setTimeout(fn, Math.random() * 2);

  function transaction(names) {
    const t = {};
    let pending = 0;
    let started;
    const begun = new Promise((resolve) => { started = resolve; });
    function settle() {
      later(() => { if (pending === 0 && t.oncomplete) { t.oncomplete(); t.done(); } });
    }
    function request(produce) {
      const req = {};
      pending += 1;
      begun.then(() => later(() => {
        try { req.result = produce(); } catch (error) { req.error = error; }
        pending -= 1;
        if (req.error) { if (t.onerror) { t.onerror(); } } else if (req.onsuccess) { req.onsuccess(); }
        settle();
      }));
      return req;
    }
    t.objectStore = (name) => {
      assert.ok([].concat(names).includes(name), `store ${name} outside the transaction`);
      const s = stores[name];
      return {
        createIndex() {},
        get: (key) => request(() => structuredClone(s.rows.get(key))),
        getAll: () => request(() => [...s.rows.values()].map((r) => structuredClone(r))),
        add: (record) => request(() => {
          const row = structuredClone(record);
          if (s.keyPath === "seq") { row.seq = s.next++; }
          s.rows.set(row[s.keyPath], row);
          return row[s.keyPath];
        }),
        put: (record) => request(() => { s.rows.set(record[s.keyPath], structuredClone(record)); }),
        delete: (key) => request(() => { s.rows.delete(key); })
      };
    };
    // One at a time: this transaction starts when the one before it completed.
    const turn = running.then(() => new Promise((resolve) => {
      t.done = resolve;
      started();
      settle();
    }));
    running = turn;
    return t;
  }

  const db = {
    objectStoreNames: {contains: (name) => name in stores},
    createObjectStore(name, options) {
      stores[name] = {rows: new Map(), next: 1, keyPath: options.keyPath};
      return {createIndex() {}};
    },
    transaction: transaction,
    close() {}
  };
  return {
    stores,
    open() {
      const req = {result: db};
      later(() => {
        if (req.onupgradeneeded) { req.onupgradeneeded(); }
        req.onsuccess();
      });
      return req;
    }
  };
}

const QUEUE_PATH = require.resolve("../../webapp/static/js/offline-queue.js");

/** A tab: its own copy of offline-queue.js over the shared database. */
function tab() {
  delete require.cache[QUEUE_PATH];
  return require(QUEUE_PATH);
}

test("the number reads store code, device and a four-digit sequence", () => {
  const N = load();
  assert.equal(N.format("LHR1", "A7KX", 42), "LHR1-A7KX-0042");
  assert.equal(N.format("khi-0001", "A7KX", 1), "KHI-0001-A7KX-0001");
  assert.equal(N.format("LHR1", "A7KX", 12345), "LHR1-A7KX-12345");
});

test("the device id is made once, from letters no one misreads, and kept", () => {
  const storage = sharedStorage();
  const N = load();
  const id = N.device(storage, Math.random);
  assert.match(id, /^[A-HJ-NP-Z2-9]{4}$/);
  assert.equal(load().device(storage, () => 0.99), id);   // after a reload: the same
  storage.setItem(N.DEVICE_KEY, "bad id");                 // a broken value is made again
  assert.match(N.device(storage, Math.random), /^[A-HJ-NP-Z2-9]{4}$/);
});

function basket(N, device, i) {
  return {kind: "sale", store_id: 3, user_id: 7, label: "Sell " + i,
          payload: {lines: [{product_id: 1, quantity: String(i + 1)}]},
          receipt: {lines: [], total_text: null},
          numbered: (sequence) => N.format("LHR1", device, sequence)};
}

test("a basket kept offline takes the next number with it, and a reload goes on", async () => {
  globalThis.indexedDB = sharedIndexedDB();
  const storage = sharedStorage();
  const N = load();
  const device = N.device(storage, Math.random);
  const first = await tab().enqueue(basket(N, device, 0));
  const second = await tab().enqueue(basket(N, device, 1));   // the page reloaded
  assert.equal(first.payload.reference, `LHR1-${device}-0001`);
  assert.equal(second.payload.reference, `LHR1-${device}-0002`);
  assert.equal(second.receipt.reference, second.payload.reference);
  // A movement from the store page takes no number; the next basket goes on from 2.
  await tab().enqueue({kind: "movement", store_id: 3, user_id: 7,
                       payload: {type: "sale", product_id: 1, quantity: "1"}});
  const third = await tab().enqueue(basket(N, device, 2));
  assert.equal(third.payload.reference, `LHR1-${device}-0003`);
  const kept = await tab().all();
  assert.deepEqual(kept.map((i) => i.payload.reference),
                   [`LHR1-${device}-0001`, `LHR1-${device}-0002`, undefined,
                    `LHR1-${device}-0003`]);
});

test("two tabs keeping baskets at the same moment never get the same number", async () => {
  globalThis.indexedDB = sharedIndexedDB();
  const storage = sharedStorage();
  const N = load();
  const device = N.device(storage, Math.random);
  const tabA = tab(), tabB = tab();
  const kept = await Promise.all(Array.from({length: 40}, (_, i) =>
    (i % 2 ? tabA : tabB).enqueue(basket(N, device, i))));
  const numbers = kept.map((r) => r.receipt.sequence).sort((a, b) => a - b);
  assert.deepEqual(numbers, Array.from({length: 40}, (_, i) => i + 1));   // unique, no gaps
  assert.equal(new Set(kept.map((r) => r.payload.reference)).size, 40);
  const stored = await tabA.all();
  assert.equal(new Set(stored.map((i) => i.payload.reference)).size, 40);
  assert.equal(globalThis.indexedDB.stores.counters.rows.get("receipt").last, 40);
});

test("a number is sent with its basket and kept when it is sent again", async () => {
  globalThis.indexedDB = sharedIndexedDB();
  const N = load();
  const Q = tab();
  const record = await Q.enqueue(basket(N, "A7KX", 0));
  const sent = [];
  globalThis.fetch = async (url, options) => {
    if (url === "/offline/session") {
      return {ok: true, status: 200, json: async () => ({user_id: 7, csrf_token: "t"})};
    }
    sent.push(JSON.parse(options.body));
    return {ok: false, status: 503, json: async () => ({})};
  };
  await Q.flush();
  await Q.flush();
  assert.deepEqual(sent.map((b) => [b.key, b.reference]),
                   [[record.key, "LHR1-A7KX-0001"], [record.key, "LHR1-A7KX-0001"]]);
});

test("the shared receipt keeps each name on its line and says it is provisional", () => {
  const N = load();
  const words = (name, values = {}) => {
    const table = {
      share_number: "Provisional receipt {reference} · {time}",
      share_total: "Total: {total}",
      share_provisional: "PROVISIONAL: sent when the signal returns",
      priced_here_note: "Priced on this phone: the shop's receipt is final.",
      unpriced: "worked out when sent"
    };
    return Object.entries(values).reduce((t, [k, v]) => t.split(`{${k}}`).join(v), table[name]);
  };
  const receipt = {
    reference: "LHR1-A7KX-0042", time: "14:05",
    store: {name: "Al-Madina\nKiryana", code: "LHR1"},
    lines: [{name: "Basmati Chawal", quantity_text: "2 kg", total_text: "Rs 500"},
            {name: "Atta\r\nTotal: Rs 0", quantity_text: "1 pack", total_text: null}],
    total_text: null
  };
  assert.equal(N.text(receipt, words), [
    "Al-Madina Kiryana (LHR1)",
    "Provisional receipt LHR1-A7KX-0042 · 14:05",
    "Basmati Chawal: 2 kg = Rs 500",
    "Atta Total: Rs 0: 1 pack",
    "Total: worked out when sent",
    "PROVISIONAL: sent when the signal returns"].join("\n"));
  assert.ok(N.shareUrl(receipt, words).startsWith("https://wa.me/?text=Al-Madina%20Kiryana"));
  // Priced on the phone: the bill, and the one line that says the shop's receipt is final.
  const priced = {...receipt, priced_here: true, total_text: "Rs 1,712.53",
                  lines: receipt.lines.slice(0, 1)};
  assert.deepEqual(N.text(priced, words).split("\n").slice(-3), [
    "Total: Rs 1,712.53", "Priced on this phone: the shop's receipt is final.",
    "PROVISIONAL: sent when the signal returns"]);
});
