typedef struct { int a; } X;
typedef struct S { int b; } Y;
struct Z { struct { int q; } inner; };
enum E { A, B };
int *f(void) { return 0; }
int g(a, b) int a; char *b; { return a; }
static int (*h(int x))(int) { return 0; }
BZ_API(name)(int x) { return 1; }
#include <stdio.h>
#if 0
void dead(void) {}
#else
void live(void) {}
#endif
