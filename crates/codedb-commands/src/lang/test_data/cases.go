package main
import ( "fmt"; m "math" )
import "os"
type S struct { a int }
type I interface { M(); fmt.Stringer; N(x int) error }
type A = S
type N int
type G[T any] struct{}
func (s *S) Get() int { return 1 }
func (g G[T]) Put() {}
func F() { type Local struct{}; f := func() {} ; _ = f }
