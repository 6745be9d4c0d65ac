// The offline queue (static/js/offline-queue.js) under node --test: items kept in order with
// their key and tap time, sent in order, and none leaves without a 2xx or a person's decision.
// Node has no IndexedDB: a small in-memory one below (the object store calls the queue makes);
// fetch answers as the server would, from a script per test.
"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");

function fakeIndexedDB() {
  const stores = {};
  function later(fn) { setTimeout(fn, 0); }
  function request(produce) {
    const req = {};
    later(() => {
      try { req.result = produce(); } catch (error) { req.error = error; }
      if (req.error) { if (req.onerror) { req.onerror(); } } else if (req.onsuccess) { req.onsuccess(); }
    });
    return req;
  }
  function objectStore(name) {
    const s = stores[name];
    return {
      createIndex() {},
      getAll: () => request(() => [...s.rows.values()].map((r) => structuredClone(r))),
      add: (record) => request(() => {
        if ([...s.rows.values()].some((r) => r.key === record.key)) { throw new Error("key"); }
        const row = structuredClone(record);
        row.seq = s.next++;
        s.rows.set(row.seq, row);
        return row.seq;
      }),
      put: (record) => request(() => { s.rows.set(record.seq, structuredClone(record)); }),
      delete: (seq) => request(() => { s.rows.delete(seq); })
    };
  }
  const db = {
    createObjectStore(name) { stores[name] = {rows: new Map(), next: 1}; return objectStore(name); },
    transaction(name) {
      const t = {objectStore: () => objectStore(name)};
      // Completes after the requests made in this tick have answered.
      later(() => later(() => { if (t.oncomplete) { t.oncomplete(); } }));
      return t;
    },
    close() {}
  };
  return {
    stores,
    open() {
      const req = {result: db};
      later(() => {
        if (!stores.queue && req.onupgradeneeded) { req.onupgradeneeded(); }
        req.onsuccess();
      });
      return req;
    }
  };
}

function reply(status, body) {
  return {ok: status >= 200 && status < 300, status, json: async () => body};
}

/** fetch as the server answers: /offline/session gives the user and a token; each POST gets
 * the next answer from `answers` (a status, or [status, body]). */
function server(answers, who = {user_id: 7, csrf_token: "t1"}) {
  const sent = [];
  let sessions = 0;
  const fetch = async (url, options) => {
    if (url === "/offline/session") {
      sessions += 1;
      if (who === 401) { return reply(401, {}); }
      return reply(200, Object.assign({}, who, {csrf_token: who.csrf_token + "-" + sessions}));
    }
    sent.push({url, token: options.headers["X-CSRFToken"], body: JSON.parse(options.body)});
    const answer = answers.shift();
    if (answer === "network") { throw new TypeError("Failed to fetch"); }
    const [status, body] = Array.isArray(answer) ? answer : [answer, {}];
    return reply(status, body);
  };
  return {fetch, sent, sessions: () => sessions};
}

function fresh() {
  globalThis.indexedDB = fakeIndexedDB();
  delete require.cache[require.resolve("../../webapp/static/js/offline-queue.js")];
  return require("../../webapp/static/js/offline-queue.js");
}

async function keep(Q, count, fields = {}) {
  for (let i = 0; i < count; i += 1) {
    await Q.enqueue(Object.assign({kind: "movement", store_id: 3, user_id: 7,
                                   payload: {type: "sale", product_id: 1, quantity: String(i + 1)},
                                   label: "Sell " + (i + 1)}, fields));
  }
}

test("an item is kept with its key, its tap time and its user, oldest first", async () => {
  const Q = fresh();
  await keep(Q, 2);
  await Q.enqueue({kind: "sale", store_id: 3, user_id: 7, key: "basket-1",
                   payload: {lines: [{product_id: 2, quantity: "1.5"}]}});
  const items = await Q.all();
  assert.deepEqual(items.map((i) => i.payload.quantity || "basket"), ["1", "2", "basket"]);
  assert.equal(items[2].key, "basket-1");
  assert.ok(items.every((i) => i.status === "waiting" && i.tapped_at && i.user_id === 7));
  assert.equal(new Set(items.map((i) => i.key)).size, 3);
});

test("the queue is sent in order, each with its key and tap time, and leaves on a 2xx", async () => {
  const Q = fresh();
  await keep(Q, 2);
  await Q.enqueue({kind: "sale", store_id: 3, user_id: 7,
                   payload: {lines: [{product_id: 2, amount: "100"}]}});
  const items = await Q.all();
  const s = server([201, 201, 201]);
  globalThis.fetch = s.fetch;
  const outcome = await Q.flush();
  assert.equal(outcome.sent, 3);
  assert.deepEqual(s.sent.map((r) => r.url), ["/offline/stores/3/movements",
                                              "/offline/stores/3/movements",
                                              "/offline/stores/3/sales"]);
  assert.deepEqual(s.sent.map((r) => r.body.key), items.map((i) => i.key));
  assert.deepEqual(s.sent.map((r) => r.body.occurred_at), items.map((i) => i.tapped_at));
  assert.deepEqual(s.sent[2].body.lines, [{product_id: 2, amount: "100"}]);
  assert.ok(s.sent.every((r) => r.token === "t1-1"));
  assert.deepEqual(await Q.all(), []);
});

test("no signal or a 5xx stops the run: the rest wait, in order, keys unchanged", async () => {
  const Q = fresh();
  await keep(Q, 3);
  const before = (await Q.all()).map((i) => i.key);
  const s = server([201, 503]);
  globalThis.fetch = s.fetch;
  const outcome = await Q.flush();
  assert.equal(outcome.sent, 1);
  assert.equal(outcome.offline, true);
  assert.deepEqual((await Q.all()).map((i) => i.key), before.slice(1));
  globalThis.fetch = server(["network"]).fetch;
  assert.equal((await Q.flush()).offline, true);
  assert.deepEqual((await Q.all()).map((i) => i.key), before.slice(1));
});

test("a refusal is kept under needs attention with the server's reason; the rest go on",
     async () => {
  const Q = fresh();
  await keep(Q, 2);
  const refusal = {error: {code: "insufficient_stock", message: "Only 2 in stock.",
                           fields: {quantity: "Only 2 in stock."}}};
  globalThis.fetch = server([[409, refusal], 201]).fetch;
  const outcome = await Q.flush();
  assert.deepEqual([outcome.sent, outcome.refused], [1, 1]);
  const [left] = await Q.all();
  assert.equal(left.status, "attention");
  assert.deepEqual(left.error, refusal.error);
  // It is not sent again by itself: it waits for a person.
  const s = server([]);
  globalThis.fetch = s.fetch;
  await Q.flush();
  assert.deepEqual(s.sent, []);
});

test("a stale token (400) is renewed once and the same item sent again", async () => {
  const Q = fresh();
  await keep(Q, 1);
  const s = server([[400, {error: {code: "bad_request", message: "CSRF"}}], 201]);
  globalThis.fetch = s.fetch;
  assert.equal((await Q.flush()).sent, 1);
  assert.deepEqual(s.sent.map((r) => r.token), ["t1-1", "t1-2"]);
  assert.equal(s.sent[0].body.key, s.sent[1].body.key);
});

test("only the logged-in user's items are sent; logged out, nothing is", async () => {
  const Q = fresh();
  await keep(Q, 1);
  await keep(Q, 1, {user_id: 8});
  const s = server([201]);
  globalThis.fetch = s.fetch;
  assert.equal((await Q.flush()).sent, 1);
  assert.deepEqual((await Q.all()).map((i) => i.user_id), [8]);
  const out = server([], 401);
  globalThis.fetch = out.fetch;
  assert.equal((await Q.flush()).loggedOut, true);
  assert.deepEqual(out.sent, []);
  assert.equal((await Q.all()).length, 1);
});

test("an udhaar basket and a customer payment go to their doors in order, with their keys",
     async () => {
  const Q = fresh();
  await Q.enqueue({kind: "sale", store_id: 3, user_id: 7, key: "b1",
                   payload: {lines: [{product_id: 2, quantity: "1"}], pay: "credit",
                             customer_id: 5, paid_now: "100"}});
  await Q.enqueue({kind: "payment", store_id: 3, user_id: 7, key: "p1",
                   payload: {customer_id: 5, amount: "200", method: "cash"}});
  const limit = {error: {code: "credit_limit_exceeded",
                         message: "Asif may owe at most Rs 1,000; Rs 100 is left on the khata.",
                         fields: {payments: "…"}}};
  const s = server([[409, limit], 201]);
  globalThis.fetch = s.fetch;
  const outcome = await Q.flush();
  assert.deepEqual([outcome.sent, outcome.refused], [1, 1]);
  assert.deepEqual(s.sent.map((r) => [r.url, r.body.key]),
                   [["/offline/stores/3/sales", "b1"], ["/offline/stores/3/payments", "p1"]]);
  assert.deepEqual([s.sent[0].body.pay, s.sent[0].body.customer_id, s.sent[0].body.paid_now],
                   ["credit", 5, "100"]);
  assert.deepEqual([s.sent[1].body.amount, s.sent[1].body.method], ["200", "cash"]);
  // The refused credit sale waits under needs attention with the server's reason.
  const [left] = await Q.all();
  assert.deepEqual([left.key, left.status, left.error.code],
                   ["b1", "attention", "credit_limit_exceeded"]);
});
