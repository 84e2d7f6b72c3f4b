/** Adds. */
function add(a, b) { return a + b; }
function* gen() {}
const arrow = () => 1, plain = 2;
let expr = function named() {};
class A extends B {
  constructor() { super(); }
  get v() { return 1; }
  set v(x) {}
  static s() {}
  #p() {}
  handler = () => {};
  field = 1;
}
const K = class { k() {} };
foo(class { anon() {} });
const obj = { method() {}, prop: function () {} };
module.exports = function exported() {};
exports.helper = function () {};
A.prototype.extra = function () {};
function outer() { function inner() {} const local = () => {}; }
const fs = require("fs");
const notOne = require(name);
import("dynamic");
import def from "mod";
export default function () {}
export function exp() {}
const el = <div onClick={() => 1}>hi</div>;
