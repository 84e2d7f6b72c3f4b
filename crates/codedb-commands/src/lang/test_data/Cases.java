package p;
import java.util.*;
import static java.lang.Math.max;
@interface Ann { String value() default ""; int x(); }
public class A<T> extends B {
  A() {}
  void m() { new Runnable() { public void run() {} }; class Local { void lm() {} } }
  enum E { X { void f() {} }; void g() {} }
  record R(int a) { R { } int b() { return a; } }
  interface I { void i(); default void j() {} }
}
