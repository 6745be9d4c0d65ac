/* The provisional receipt number a basket sold with no signal is handed over under (issue 24):
 * store code + device + sequence, "LHR1-A7KX-0042". The server keeps it as the sale's
 * `reference` when the queued sale lands (services/sales.py: unique in the store), so the paper
 * the customer took home finds its sale.
 *
 * - The device is this browser: a 4-letter id kept in localStorage (no 0/O, 1/I to misread).
 * - The sequence is one counter per browser, taken in the same IndexedDB transaction that keeps
 *   the basket in the queue (offline-queue.js, `numbered`): IndexedDB runs read-write
 *   transactions on the same stores one at a time across every tab and the service worker, so
 *   two tabs can never take the same number, and a number is never taken for a basket that was
 *   not kept. (localStorage would not do: Chromium syncs it between tabs after the fact, so a
 *   lock around a read-add-write there still lets two tabs read the same value.) Numbers are
 *   unique per browser whatever the device id, so two of its references never clash.
 *
 * Pure (`storage` is localStorage or a stand-in), so node --test runs it
 * (tests/js/receipt-number.test.js). No money is worked out here: a total is the text the
 * server or the phone's bill (bill.js) wrote, or none.
 */
var KiryanaReceiptNumber = (function () {
  "use strict";
  var DEVICE_KEY = "kiryana-device";
  var ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789";   // 32 signs, none two look alike
  var DEVICE = /^[A-HJ-NP-Z2-9]{4}$/;

  function newDevice(random) {
    var id = "";
    for (var i = 0; i < 4; i += 1) { id += ALPHABET[Math.floor(random() * 32) % 32]; }
    return id;
  }

  /** This browser's device id, made once and kept. */
  function device(storage, random) {
    var id = storage.getItem(DEVICE_KEY);
    if (id && DEVICE.test(id)) { return id; }
    id = newDevice(random || Math.random);
    storage.setItem(DEVICE_KEY, id);
    return id;
  }

  /** "LHR1-A7KX-0042": at least four digits, more once past 9999. */
  function format(storeCode, deviceId, sequence) {
    var digits = String(sequence);
    while (digits.length < 4) { digits = "0" + digits; }
    return String(storeCode).toUpperCase() + "-" + deviceId + "-" + digits;
  }

  /** A value on one line of a message (a name with a line break cannot add a line). */
  function oneLine(text) {
    return String(text === null || text === undefined ? "" : text)
      .replace(/[\u0000-\u001f\u007f\u2028\u2029]+/g, " ").trim();
  }

  /** The provisional receipt as a WhatsApp message, from what the phone knows. `receipt` =
   * {reference, store: {name, code}, time, lines: [{name, quantity_text, total_text}],
   * total_text, priced_here}; `words(name, values)` gives the page's translated words. A bill
   * priced on the phone says that the shop's receipt, made when the sale lands, is final. */
  function text(receipt, words) {
    var out = [oneLine(receipt.store.name) + " (" + oneLine(receipt.store.code) + ")",
               words("share_number", {reference: receipt.reference, time: receipt.time})];
    receipt.lines.forEach(function (line) {
      out.push(oneLine(line.name) + ": " + oneLine(line.quantity_text) +
               (line.total_text ? " = " + line.total_text : ""));
    });
    out.push(words("share_total", {total: receipt.total_text || words("unpriced")}));
    if (receipt.priced_here) { out.push(words("priced_here_note")); }
    out.push(words("share_provisional"));
    return out.join("\n");
  }

  function shareUrl(receipt, words) {
    return "https://wa.me/?text=" + encodeURIComponent(text(receipt, words));
  }

  return {DEVICE_KEY: DEVICE_KEY, device: device, format: format, text: text,
          shareUrl: shareUrl, oneLine: oneLine};
})();
if (typeof module === "object" && module.exports) { module.exports = KiryanaReceiptNumber; }
