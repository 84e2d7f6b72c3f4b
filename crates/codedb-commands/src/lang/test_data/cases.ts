function f(a: string): void;
function f(a: any) {}
declare function g(): void;
export abstract class A<T> extends B {
  x = () => 1;
  constructor(a: number);
  constructor(a: any) {}
  abstract m(): void;
  get y() { return 1 }
  static s() {}
}
interface I { m(): void; p: number; }
namespace N.M { export function h() {} }
declare module "foo" { function k(): void; }
enum E { A }
type T = { m(): void };
const c = () => 1, d = function() {};
const K = class { q() {} };
import x = require("y");
import { a } from "b";
import "side";
const r = require("z");
