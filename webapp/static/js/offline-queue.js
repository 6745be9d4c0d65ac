/* Offline queue: taps kept in IndexedDB with key + tap time, sent in order by pages and by the
 * service worker (Background Sync). An item leaves only with a result (2xx, or discarded after
 * a refusal); no signal / 5xx keeps it, key unchanged; only the logged-in user's items are sent.
 * Kinds: a store page's sale, stock-in or removal (`movement`), a counter basket (`sale`, with
 * its Complete step: cash, card, wallet or udhaar) and a customer's payment (`payment`).
 * A new kind: one KINDS entry + a route; see services/offline.py.
 * A basket kept with no signal takes its provisional receipt number (`numbered`) from a counter
 * in the same transaction that keeps it: see receipt-number.js. */
(function (global) {
  "use strict";

  var DB_NAME = "kiryana-offline";
  var DB_VERSION = 2;   // 2: the counters store (provisional receipt numbers)
  var QUEUE = "queue";
  var COUNTERS = "counters";
  var CHANNEL = "kiryana-queue";
  var SYNC_TAG = "kiryana-queue";
  var SEND_TIMEOUT_MS = 20000;

  var KINDS = {
    movement: "/offline/stores/{store}/movements",
    sale: "/offline/stores/{store}/sales",
    payment: "/offline/stores/{store}/payments"
  };

  function open() {
    return new Promise(function (resolve, reject) {
      var request = indexedDB.open(DB_NAME, DB_VERSION);
      request.onupgradeneeded = function () {
        var db = request.result;
        var names = db.objectStoreNames;
        if (!names || !names.contains(QUEUE)) {
          var store = db.createObjectStore(QUEUE, {keyPath: "seq", autoIncrement: true});
          store.createIndex("key", "key", {unique: true});
        }
        if (!names || !names.contains(COUNTERS)) {
          db.createObjectStore(COUNTERS, {keyPath: "name"});
        }
      };
      request.onsuccess = function () { resolve(request.result); };
      request.onerror = function () { reject(request.error); };
    });
  }

  function tx(mode, work, scope) {
    return open().then(function (db) {
      return new Promise(function (resolve, reject) {
        var t = db.transaction(scope || QUEUE, mode);
        var result;
        t.oncomplete = function () { db.close(); resolve(result); };
        t.onerror = t.onabort = function () { db.close(); reject(t.error); };
        result = scope ? work(t) : work(t.objectStore(QUEUE));
      });
    });
  }

  /** Every item, oldest first (a request's result is read once the transaction completes). */
  function all() {
    var holder = {};
    return tx("readonly", function (store) {
      var request = store.getAll();
      request.onsuccess = function () { holder.items = request.result; };
    }).then(function () {
      return (holder.items || []).sort(function (a, b) { return a.seq - b.seq; });
    });
  }

  function put(item) {
    return tx("readwrite", function (store) { store.put(item); }).then(announce);
  }

  function remove(seq) {
    return tx("readwrite", function (store) { store.delete(seq); }).then(announce);
  }

  function newKey() {
    if (global.crypto && global.crypto.randomUUID) { return global.crypto.randomUUID(); }
    return Date.now().toString(36) + "-" + Math.random().toString(36).slice(2, 14);
  }

  /** Keep one tapped action; `item` = {kind, store_id, user_id, payload, label, key?}.
   * `product_name` (a movement) or `products` (a basket: [{name, unit, price}] per line) and
   * `receipt` (a basket's provisional receipt) are for showing the item again, never sent.
   * `numbered(sequence)` → a reference: the item takes the next number of this browser's
   * counter in the transaction that keeps it (payload.reference, sent; receipt.reference). */
  function enqueue(item) {
    var record = {
      key: item.key || newKey(), kind: item.kind, store_id: item.store_id,
      user_id: item.user_id, payload: item.payload, label: item.label || "",
      product_name: item.product_name || "", products: item.products || null,
      receipt: item.receipt || null,
      tapped_at: item.tapped_at || new Date().toISOString(), status: "waiting", error: null
    };
    var kept = item.numbered ? keepNumbered(record, item.numbered)
      : tx("readwrite", function (store) { store.add(record); });
    return kept.then(announce).then(requestSync).then(function () { return record; });
  }

  /** Counter + 1 and the item, in one read-write transaction over both stores: IndexedDB runs
   * such transactions one at a time across tabs and workers, so no two items get one number,
   * and a number is taken only if its item is kept. */
  function keepNumbered(record, numbered) {
    return tx("readwrite", function (t) {
      var counters = t.objectStore(COUNTERS);
      var read = counters.get("receipt");
      read.onsuccess = function () {
        var sequence = ((read.result && read.result.last) || 0) + 1;
        counters.put({name: "receipt", last: sequence});
        var reference = numbered(sequence);
        record.payload = Object.assign({}, record.payload, {reference: reference});
        record.receipt = Object.assign({}, record.receipt || {}, {reference: reference,
                                                                  sequence: sequence});
        t.objectStore(QUEUE).add(record);
      };
    }, [QUEUE, COUNTERS]);
  }

  function announce() {
    if (global.BroadcastChannel) {
      var channel = new BroadcastChannel(CHANNEL);
      channel.postMessage({type: "changed"});
      channel.close();
    }
  }

  function requestSync() {
    // Background Sync sends the queue when the signal returns, even with no page open.
    var sw = global.navigator && global.navigator.serviceWorker;
    if (!sw || !global.SyncManager) { return null; }
    return sw.ready.then(function (registration) {
      return registration.sync.register(SYNC_TAG);
    }).catch(function () { return null; });
  }

  function timedFetch(url, options) {
    var controller = new AbortController();
    var timer = setTimeout(function () { controller.abort(); }, SEND_TIMEOUT_MS);
    options.signal = controller.signal;
    options.credentials = "same-origin";
    options.cache = "no-store";
    return fetch(url, options).finally(function () { clearTimeout(timer); });
  }

  function session() {
    return timedFetch("/offline/session", {headers: {"Accept": "application/json"}})
      .then(function (response) {
        if (response.status === 401) { return {loggedOut: true}; }
        if (!response.ok) { throw new Error("session " + response.status); }
        return response.json();
      });
  }

  function send(item, token) {
    var url = KINDS[item.kind].replace("{store}", encodeURIComponent(item.store_id));
    var body = Object.assign({}, item.payload, {
      key: item.key, user_id: item.user_id, occurred_at: item.tapped_at
    });
    return timedFetch(url, {
      method: "POST",
      headers: {"Content-Type": "application/json", "Accept": "application/json",
                "X-CSRFToken": token},
      body: JSON.stringify(body)
    });
  }

  function readError(response) {
    return response.json().then(function (body) {
      return body && body.error ? body.error : {code: "error", message: String(response.status)};
    }, function () {
      return {code: response.status === 400 ? "bad_request" : "error",
              message: String(response.status)};
    });
  }

  function lock(work) {
    var locks = global.navigator && global.navigator.locks;
    if (locks) { return locks.request("kiryana-queue", work); }
    // No Web Locks: one run at a time in this context; the keys cover the rest.
    lock.running = (lock.running || Promise.resolve()).then(work, work);
    return lock.running;
  }

  /** Send the logged-in user's waiting items in order. Resolves to what happened. */
  function flush() {
    return lock(function () { return run(); });
  }

  function run() {
    var outcome = {sent: 0, refused: 0, loggedOut: false, offline: false, userId: null};
    return all().then(function (items) {
      var waiting = items.filter(function (i) { return i.status === "waiting" && KINDS[i.kind]; });
      if (!waiting.length) { return outcome; }
      return session().then(function (who) {
        if (who.loggedOut) { outcome.loggedOut = true; return outcome; }
        outcome.userId = who.user_id;
        var token = who.csrf_token;
        var mine = waiting.filter(function (i) { return i.user_id === who.user_id; });
        var index = 0;
        var renewed = false;
        function next() {
          if (index >= mine.length) { return outcome; }
          var item = mine[index];
          return send(item, token).then(function (response) {
            if (response.ok) {
              renewed = false;
              index += 1;
              outcome.sent += 1;
              return remove(item.seq).then(next);
            }
            if (response.status === 401) { outcome.loggedOut = true; return outcome; }
            if (response.status === 429 || response.status >= 500) {
              outcome.offline = true;  // try again later, same key
              return outcome;
            }
            return readError(response).then(function (error) {
              if (response.status === 400 && !renewed) {
                // The token went stale (new session meanwhile): renew once, resend the item.
                renewed = true;
                return session().then(function (again) {
                  if (again.loggedOut) { outcome.loggedOut = true; return outcome; }
                  token = again.csrf_token;
                  return next();
                });
              }
              renewed = false;
              index += 1;
              outcome.refused += 1;
              item.status = "attention";
              item.error = error;
              return put(item).then(next);
            });
          }, function () {
            outcome.offline = true;  // no signal again: the rest wait, in order
            return outcome;
          });
        }
        return next();
      }, function () {
        outcome.offline = true;
        return outcome;
      });
    }).then(function (result) {
      announce();
      return result;
    });
  }

  global.KiryanaQueue = {
    KINDS: KINDS, CHANNEL: CHANNEL, SYNC_TAG: SYNC_TAG, DB_NAME: DB_NAME,
    all: all, put: put, remove: remove, enqueue: enqueue, flush: flush, newKey: newKey
  };
  // Under node --test (tests/js/offline-queue.test.js), with its own indexedDB and fetch.
  if (typeof module === "object" && module.exports) { module.exports = global.KiryanaQueue; }
})(typeof self !== "undefined" ? self : globalThis);
