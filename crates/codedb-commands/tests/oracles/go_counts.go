// Counts Go definitions by codedb's rules (README, "What the indexer counts") with Go's
// own front end, go/parser and go/ast: for every .go file under the directory given,
// {"path": [classes, functions, methods, imports]} as JSON on stdout.
//
// classes: type specs (not aliases) whose type is a struct or an interface, anywhere;
// methods: function declarations with a receiver, and the methods listed in an interface
// that is a type spec's own type; functions: declarations without a receiver;
// imports: import specs.
package main

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

func count(path string) [4]int {
	var n [4]int
	fset := token.NewFileSet()
	f, _ := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
	if f == nil {
		return n
	}
	n[3] = len(f.Imports)
	ast.Inspect(f, func(node ast.Node) bool {
		switch x := node.(type) {
		case *ast.TypeSpec:
			if x.Assign.IsValid() {
				return true
			}
			switch t := x.Type.(type) {
			case *ast.StructType:
				n[0]++
			case *ast.InterfaceType:
				n[0]++
				for _, m := range t.Methods.List {
					if _, ok := m.Type.(*ast.FuncType); ok {
						n[2] += len(m.Names)
					}
				}
			}
		case *ast.FuncDecl:
			if x.Recv != nil {
				n[2]++
			} else {
				n[1]++
			}
		}
		return true
	})
	return n
}

func main() {
	root := os.Args[1]
	out := map[string][4]int{}
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".go") {
			rel, _ := filepath.Rel(root, p)
			out[filepath.ToSlash(rel)] = count(p)
		}
		return nil
	})
	json.NewEncoder(os.Stdout).Encode(out)
}
