// A C++ header: `namespace` makes it one.
#pragma once
#include <string>
namespace geo {
/// A point.
struct Point { double x, y; double norm() const { return x + y; } };
inline double dot(const Point& a, const Point& b) { return a.x * b.x; }
}
