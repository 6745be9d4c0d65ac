// The live stock list's push and poll decisions (static/js/live.js), run by `node --test tests/js`
// (tests/test_javascript.py runs it in `make test`): the page's own script in a small stand-in
// of the page (its #stock-list element, htmx's events, EventSource, timers), so what is decided
// is the script's, with no browser. tests/test_live_browser.py runs it against the real servers.
"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const path = require("node:path");
const vm = require("node:vm");

const CODE = fs.readFileSync(path.join(__dirname, "../../webapp/static/js/live.js"), "utf8");
const EVENTS = "/live/stores/7/events?t=abc";

/** Something events are dispatched on: listeners by type, as addEventListener keeps them. */
function target(object) {
  const on = {};
  object.addEventListener = (type, listener) => { (on[type] = on[type] || []).push(listener); };
  object.fire = (type, event) => { (on[type] || []).forEach((listener) => listener(event)); };
  return object;
}

/** A stock list element (#stock-list) with these attributes. */
function element(attributes) {
  return {
    hasAttribute: (name) => name in attributes,
    getAttribute: (name) => (name in attributes ? attributes[name] : null)
  };
}

/** The store page with live.js loaded: `attributes` are the list's. */
function page(attributes = {"data-live": "", "data-events": EVENTS, "data-version": "12"},
              {eventSource = true} = {}) {
  const sources = [];
  const triggered = [];
  const timers = [];
  class FakeEventSource {
    constructor(url) {
      target(this);
      this.url = url;
      this.readyState = 0;   // CONNECTING
      sources.push(this);
    }
    close() { this.readyState = 2; this.closed = true; }
    open() { this.readyState = 1; this.fire("open", {}); }
    version(value) { this.fire("version", {data: String(value)}); }
    /** The connection lost (the browser reconnects) or refused for good (`closed`). */
    fail(closed) { this.readyState = closed ? 2 : 0; this.fire("error", {}); }
  }
  const document = target({visibilityState: "visible", body: {}});
  const state = {list: element(attributes)};
  document.querySelector = (selector) => {
    assert.equal(selector, "[data-live]");
    return state.list;
  };
  const window = target({
    document,
    Date,
    htmx: {trigger: (elt, name) => { assert.equal(elt, document.body); triggered.push(name); }},
    setTimeout: (run, ms) => timers.push({run, ms}),
    clearTimeout: (id) => { if (id) { timers[id - 1].cancelled = true; } }
  });
  if (eventSource) { window.EventSource = FakeEventSource; }
  window.window = window;
  vm.runInNewContext(CODE, window);

  /** htmx about to send the list's request; true if it went. */
  function request(triggeringEvent) {
    let stopped = false;
    document.fire("htmx:beforeRequest", {
      detail: {elt: state.list, requestConfig: {triggeringEvent}},
      preventDefault: () => { stopped = true; }
    });
    return !stopped;
  }
  return {
    sources, triggered, timers, document, window, state,
    get live() { return window.KiryanaLive; },
    /** The next `seconds` ticks of `every 1s`: the seconds at which a poll went (answered 304). */
    ticks(seconds) {
      const sent = [];
      for (let second = 1; second <= seconds; second += 1) {
        if (request(null)) {
          sent.push(second);
          document.fire("htmx:afterRequest", {detail: {elt: state.list, xhr: {status: 304}}});
        }
      }
      return sent;
    },
    refreshGoes: () => request({type: "stock-changed"}),
    /** A new list element from an outerHTML swap. */
    swap(newAttributes) {
      state.list = element(newAttributes);
      document.fire("htmx:load", {detail: {elt: state.list}});
    },
    show(visibility) {
      document.visibilityState = visibility;
      document.fire("visibilitychange", {});
    }
  };
}

test("without data-events the list is polled as before: 1 s, then 2 s, then 4 s", () => {
  const p = page({"data-live": ""});
  assert.equal(p.sources.length, 0);
  assert.equal(p.live.streaming(), false);
  assert.deepEqual(p.ticks(21), [1, 2, 4, 6, 8, 12, 16, 20]);
});

test("without EventSource in the browser, data-events or not, the list is polled", () => {
  const p = page(undefined, {eventSource: false});
  assert.equal(p.live.streaming(), false);
  assert.deepEqual(p.ticks(5), [1, 2, 4]);
});

test("one stream for the list's URL; the schedule runs until it is open, then timed polls " +
     "stay home but for one every 5 minutes, and refreshes always go", () => {
  const p = page();
  assert.deepEqual(p.sources.map((s) => s.url), [EVENTS]);
  assert.deepEqual(p.ticks(2), [1, 2]);       // connecting: polled as before
  p.sources[0].open();
  assert.equal(p.live.streaming(), true);
  assert.equal(p.live.interval(), 300);
  assert.deepEqual(p.ticks(600), [300, 600]);
  assert.equal(p.refreshGoes(), true);
  assert.deepEqual(p.triggered, []);
});

test("a version other than the list's refreshes it at once; its own or a repeat does not", () => {
  const p = page();
  const stream = p.sources[0];
  stream.open();
  stream.version(12);              // the list's own (the stream's first event)
  assert.deepEqual(p.triggered, []);
  stream.version(13);
  assert.deepEqual(p.triggered, ["stock-changed"]);
  // The refreshed list shows 13: the same stream goes on, and 13 again asks nothing.
  p.swap({"data-live": "", "data-events": EVENTS, "data-version": "13"});
  stream.version(13);
  assert.deepEqual(p.triggered, ["stock-changed"]);
  assert.equal(p.sources.length, 1);
  assert.equal(stream.closed, undefined);
});

test("a list swapped in older than the stream's newest version is refreshed again", () => {
  // A refresh asked while a poll was in flight is dropped by htmx when the poll's answer (read
  // before the change) replaces the element.
  const p = page();
  p.sources[0].open();
  p.sources[0].version(14);
  p.swap({"data-live": "", "data-events": EVENTS, "data-version": "13"});
  assert.deepEqual(p.triggered, ["stock-changed", "stock-changed"]);
});

test("a swapped list with another URL switches streams; with none, the stream closes", () => {
  const p = page();
  p.sources[0].open();
  p.swap({"data-live": "", "data-events": "/live/stores/8/events?t=x", "data-version": "3"});
  assert.equal(p.sources[0].closed, true);
  assert.deepEqual(p.sources.map((s) => s.url), [EVENTS, "/live/stores/8/events?t=x"]);
  assert.equal(p.live.streaming(), false);   // the new one is still connecting
  p.swap({"data-live": "", "data-version": "3"});
  assert.equal(p.sources[1].closed, true);
  assert.equal(p.sources.length, 2);
  assert.deepEqual(p.ticks(2), [1, 2]);
});

test("an open stream that ends refreshes at once and polls from 1 s; failed reconnects " +
     "add nothing", () => {
  const p = page();
  const stream = p.sources[0];
  stream.open();
  p.ticks(100);
  stream.fail(false);               // the server went away: the browser reconnects by itself
  assert.deepEqual(p.triggered, ["stock-changed"]);
  assert.equal(p.live.streaming(), false);
  assert.deepEqual(p.ticks(4), [1, 2, 4]);
  stream.fail(false);               // a reconnect refused
  stream.fail(false);
  assert.deepEqual(p.triggered, ["stock-changed"]);
  assert.deepEqual(p.ticks(8), [2, 4, 8]);   // the schedule backs off as before
  assert.equal(p.sources.length, 1);      // the browser's own reconnecting, no second stream
  stream.open();
  assert.deepEqual(p.ticks(10), []);
});

test("a stream the browser gave up on is opened again after 5 s, then 10 s, polling " +
     "meanwhile", () => {
  const p = page();
  p.sources[0].fail(true);          // refused before it ever opened (e.g. a 502)
  assert.deepEqual(p.triggered, []);
  assert.deepEqual(p.timers.map((t) => t.ms), [5000]);
  assert.deepEqual(p.ticks(2), [1, 2]);
  p.timers[0].run();
  assert.equal(p.sources.length, 2);
  p.sources[1].fail(true);
  assert.deepEqual(p.timers.map((t) => t.ms), [5000, 10000]);
  p.timers[1].run();
  p.sources[2].open();              // open again: the next give-up waits 5 s again
  p.sources[2].fail(true);
  assert.deepEqual(p.triggered, ["stock-changed"]);
  assert.deepEqual(p.timers.map((t) => t.ms), [5000, 10000, 5000]);
});

test("hidden: the stream is closed and nothing is sent; visible: a new stream and a " +
     "refresh at once", () => {
  const p = page();
  p.sources[0].open();
  p.show("hidden");
  assert.equal(p.sources[0].closed, true);
  assert.equal(p.live.streaming(), false);
  assert.deepEqual(p.ticks(60), []);
  assert.equal(p.refreshGoes(), false);
  p.show("visible");
  assert.equal(p.sources.length, 2);
  assert.equal(p.sources[1].closed, undefined);
  assert.deepEqual(p.triggered, ["stock-changed"]);
});

test("a reopen due while the page is hidden opens nothing", () => {
  const p = page();
  p.sources[0].fail(true);
  p.show("hidden");
  assert.equal(p.timers[0].cancelled, true);
  p.timers[0].run();               // had it fired anyway
  assert.equal(p.sources.length, 1);
});

test("an event from a stream already replaced is ignored", () => {
  const p = page();
  const old = p.sources[0];
  old.open();
  p.swap({"data-live": "", "data-events": "/live/stores/8/events", "data-version": "3"});
  old.version(99);
  old.fail(true);
  assert.deepEqual(p.triggered, []);
  assert.deepEqual(p.timers, []);
});
