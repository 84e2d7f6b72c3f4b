namespace ns { namespace in {
class A : public B { public: A() = default; ~A() {} void f() const { } virtual void g() = 0; int h(); friend void fr() {} template<class T> T t() { return T(); } };
} }
void ns::in::A::h2() {}
int A::h() { return 1; }
template<class T> void L<T>::m() {}
template<> struct C<int> { };
template<class T> class D { };
A::~A() {}
bool operator==(const A&, const A&) { return true; }
auto l = [](){ return 1; };
