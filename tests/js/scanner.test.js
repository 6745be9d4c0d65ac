// The scanner's catalogue lookup (static/js/scanner.js find): no camera needed.
"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const S = require("../../webapp/static/js/scanner.js");

const products = [
  {id: 1, name: "Cheeni", barcode: "8961000000016"},
  {id: 2, name: "Pepsi", barcode: "012345678905"},    // UPC-A as printed
  {id: 3, name: "Loose daal", barcode: null}
];

test("a scanned code finds its product", () => {
  assert.equal(S.find(products, "8961000000016").id, 1);
});

test("UPC-A and its EAN-13 form (a leading 0) are the same code", () => {
  assert.equal(S.find(products, "0012345678905").id, 2);
  assert.equal(S.find([{id: 4, barcode: "0012345678905"}], "012345678905").id, 4);
});

test("an unknown code, or a product without a barcode, finds nothing", () => {
  assert.equal(S.find(products, "4006381333931"), undefined);
  assert.equal(S.find(products, ""), undefined);
});

test("a camera that cannot open says why, in the page's words for each reason", () => {
  assert.equal(S.cameraProblem({name: "NotAllowedError"}), "scan_camera_denied");
  assert.equal(S.cameraProblem({name: "NotFoundError"}), "scan_camera_missing");
  assert.equal(S.cameraProblem({name: "NotReadableError"}), "scan_camera_busy");
  assert.equal(S.cameraProblem(null), "scan_camera_failed");
});
