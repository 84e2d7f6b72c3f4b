//! Every language through the write commands and the queries, on every backend (SQLite;
//! PostgreSQL when a server answers): a file created, found by qualified name, its usages
//! and words searchable, one definition replaced by qualified name, a syntax error refused
//! with its place, and `stats` per language. One row of data per language.
#![allow(clippy::unwrap_used, clippy::print_stdout)]

#[path = "support/project.rs"]
mod support;

use codedb_commands::{CommandError, EditOptions, create, edit, replace_symbol};
use codedb_core::{CodeStore, Scope};
use support::TestProject;

struct Case {
    language: &'static str,
    path: &'static str,
    source: &'static str,
    /// A definition's qualified name and its kind.
    symbol: (&'static str, &'static str),
    /// Its replacement, and a line the file must then hold.
    replacement: &'static str,
    after: &'static str,
    /// Content with a syntax error.
    broken: &'static str,
}

const CASES: &[Case] = &[
    Case {
        language: "typescript",
        path: "src/service.ts",
        source: "import { Db } from \"./db\";\n\nexport class Service {\n  start(): void;\n  start(port: number): void;\n  start(port?: number) {\n    return port;\n  }\n}\n",
        symbol: ("Service.start", "method"),
        replacement: "start(port = 80) {\n  return port + 1;\n}\n",
        after: "  start(port = 80) {\n    return port + 1;\n  }\n}\n",
        broken: "export class Service {\n  start( {\n}\n",
    },
    Case {
        language: "tsx",
        path: "src/view.tsx",
        source: "export function View(p: { title: string }) {\n  return <h1>{p.title}</h1>;\n}\n",
        symbol: ("View", "function"),
        replacement: "export function View() {\n  return <h2>x</h2>;\n}\n",
        after: "export function View() {\n  return <h2>x</h2>;\n}\n",
        broken: "export function View() {\n  return <h1>;\n}\n",
    },
    Case {
        language: "javascript",
        path: "lib/util.js",
        source: "const fs = require(\"fs\");\nclass Cache {\n  get(key) {\n    return fs.existsSync(key);\n  }\n}\nmodule.exports = { Cache };\n",
        symbol: ("Cache.get", "method"),
        replacement: "get(key) {\n  return null;\n}",
        after: "  get(key) {\n    return null;\n  }\n",
        broken: "class Cache {\n  get(key {\n}\n",
    },
    Case {
        language: "go",
        path: "server/server.go",
        source: "package server\n\nimport \"net/http\"\n\ntype Server struct{ mux *http.ServeMux }\n\nfunc (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {\n\ts.mux.ServeHTTP(w, r)\n}\n",
        symbol: ("Server.ServeHTTP", "method"),
        replacement: "func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {\n\tw.WriteHeader(204)\n}\n",
        after: "func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {\n\tw.WriteHeader(204)\n}\n",
        broken: "package server\n\nfunc (s *Server) ServeHTTP( {\n}\n",
    },
    Case {
        language: "java",
        path: "src/main/java/p/Greeter.java",
        source: "package p;\n\nimport java.util.List;\n\npublic class Greeter {\n    /** Says hello. */\n    public String greet(String name) {\n        return \"hello \" + name;\n    }\n}\n",
        symbol: ("Greeter.greet", "method"),
        replacement: "public String greet(String name) {\n    return \"hi \" + name;\n}\n",
        after: "    public String greet(String name) {\n        return \"hi \" + name;\n    }\n}\n",
        broken: "public class Greeter {\n    void f( {\n}\n",
    },
    Case {
        language: "c",
        path: "src/list.c",
        source: "#include \"list.h\"\n\nstruct node { struct node *next; };\n\nint list_len(const struct node *n) {\n    int k = 0;\n    for (; n; n = n->next) k++;\n    return k;\n}\n",
        symbol: ("list_len", "function"),
        replacement: "int list_len(const struct node *n) {\n    return n ? 1 + list_len(n->next) : 0;\n}\n",
        after: "int list_len(const struct node *n) {\n    return n ? 1 + list_len(n->next) : 0;\n}\n",
        broken: "int list_len(const struct node *n {\n}\n",
    },
    Case {
        language: "cpp",
        path: "src/parser.cpp",
        source: "#include <string>\n\nnamespace ns {\nclass Parser {\n public:\n  int parse(const std::string& s);\n};\n}  // namespace ns\n\nint ns::Parser::parse(const std::string& s) {\n  return static_cast<int>(s.size());\n}\n",
        symbol: ("ns::Parser::parse", "method"),
        replacement: "int ns::Parser::parse(const std::string& s) {\n  return 0;\n}\n",
        after: "int ns::Parser::parse(const std::string& s) {\n  return 0;\n}\n",
        broken: "namespace ns {\nclass Parser {\n  int parse(;\n};\n",
    },
];

#[test]
fn every_language_is_created_found_replaced_by_qualified_name_and_validated() {
    TestProject::each(|t| {
        let p = t.project();
        let opts = EditOptions::default();
        for c in CASES {
            let at = format!("{} on {}", c.language, t.backend());
            create(&p, c.path, c.source, &opts).unwrap_or_else(|e| panic!("{at}: {e}"));
            let hits = t.db.find_symbol(Scope::All, c.symbol.0).unwrap();
            assert_eq!(hits.len(), 1, "{at}: {hits:?}");
            assert_eq!(hits[0].kind, c.symbol.1, "{at}");
            assert_eq!(hits[0].path, c.path, "{at}");
            let file =
                t.db.get_file_by_path(t.project().id(), c.path)
                    .unwrap()
                    .unwrap();
            assert_eq!(file.meta.language.as_deref(), Some(c.language), "{at}");
            let stats = t.db.stats(Scope::All, Some(c.language)).unwrap();
            assert_eq!(stats.files, 1, "{at}: {stats:?}");
            let name = c.symbol.0.rsplit(['.', ':']).next().unwrap();
            assert!(
                !t.db
                    .full_text_search(Scope::All, name, 10)
                    .unwrap()
                    .symbols
                    .is_empty(),
                "{at}: search {name}"
            );

            replace_symbol(&p, c.path, c.symbol.0, c.replacement, &opts)
                .unwrap_or_else(|e| panic!("{at}: {e}"));
            let text = t.read(c.path).unwrap();
            assert!(text.contains(c.after), "{at}: {text}");
            assert_eq!(
                t.db.find_symbol(Scope::All, c.symbol.0).unwrap().len(),
                1,
                "{at}: still one definition after the replacement"
            );

            let before = t.snapshot();
            let err = edit(&p, c.path, c.broken, &opts).unwrap_err();
            assert!(matches!(err, CommandError::Syntax { .. }), "{at}: {err}");
            let msg = err.to_string();
            assert!(msg.starts_with(&format!("{}:", c.path)), "{at}: {msg}");
            assert_eq!(t.snapshot(), before, "{at}: nothing changed");
        }
    });
}
