//! What an agent needs on top of the queries, on the command line and over MCP, on every
//! backend this machine has: bounded list answers (`--limit`, `--offset`, `--count`; the
//! MCP character budget), `query outline`, line-level search (words, `--regex`, `--path`,
//! `--language`, `--kind`, case), and the symbol-level write commands `insert` and
//! `delete-symbol`; with hostile arguments (huge limits, negative offsets, bad patterns and
//! globs, paths outside the root).
#![allow(clippy::unwrap_used, clippy::print_stdout)]

mod support;

use std::fs;
use std::path::Path;
use std::process::Output;

use serde_json::{Value, json};
use support::{databases, git, json_on, run_on, stderr, stdout};

const PARSER: &str = "\"\"\"Parsing.\"\"\"\n\n\nclass Parser:\n    \"\"\"Splits text into words.\n\n    More.\n    \"\"\"\n\n    def parse(self, text):\n        \"\"\"Parse TEXT.\"\"\"\n        return text.split()\n\n    def reset(self):\n        pass\n\n\ndef parse_all(texts):\n    return [Parser().parse(t) for t in texts]\n";

fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    fs::write(root.join("parser.py"), PARSER).unwrap();
    fs::create_dir_all(root.join("tests")).unwrap();
    fs::write(
        root.join("tests/test_parser.py"),
        "from parser import Parser\n\n\ndef test_parse():\n    assert Parser().parse('a b') == ['a', 'b']\n",
    )
    .unwrap();
    fs::write(root.join("lib.rs"), "/// Parse it.\npub fn parse() {}\n").unwrap();
    fs::write(root.join(".gitignore"), ".codedb/\n").unwrap();
    git(root, &["init", "-q", "-b", "main"]);
    git(root, &["config", "user.email", "test@example.com"]);
    git(root, &["config", "user.name", "test"]);
    git(root, &["add", "-A"]);
    git(root, &["commit", "-q", "-m", "init"]);
    dir
}

fn run(root: &Path, db: &str, args: &[&str]) -> Output {
    run_on(root, db, args)
}

fn json(root: &Path, db: &str, args: &[&str]) -> Value {
    json_on(root, db, args)
}

fn fails(root: &Path, db: &str, args: &[&str], code: i32, needle: &str) {
    support::fails_on(root, db, args, code, needle);
}

#[test]
fn bounded_answers_outline_and_search_on_the_command_line() {
    for (backend, db, _pg) in databases(Path::new("/nonexistent")) {
        let dir = project();
        let root = dir.path();
        let db = if backend == "sqlite" {
            root.join(".codedb/codedb.sqlite")
                .to_str()
                .unwrap()
                .to_owned()
        } else {
            db
        };
        let o = run(root, &db, &["index", "."]);
        assert!(o.status.success(), "{backend}: {}", stderr(&o));

        // Paging: total, offset, truncated; huge limits and offsets past the end are fine.
        let all = json(root, &db, &["query", "usages", "Parser"]);
        let total = all["total"].as_u64().unwrap();
        assert!(total >= 3, "{backend}: {all}");
        assert_eq!(all["truncated"], false);
        let page = json(
            root,
            &db,
            &["query", "usages", "Parser", "--limit", "1", "--offset", "1"],
        );
        assert_eq!(page["usages"].as_array().unwrap().len(), 1, "{page}");
        assert_eq!(page["usages"][0], all["usages"][1]);
        assert_eq!(
            (page["total"].as_u64(), &page["truncated"]),
            (Some(total), &json!(true))
        );
        let huge = json(
            root,
            &db,
            &[
                "query",
                "usages",
                "Parser",
                "--limit",
                "18446744073709551615",
            ],
        );
        assert_eq!(huge["usages"], all["usages"]);
        let past = json(
            root,
            &db,
            &["query", "symbol", "parse", "--offset", "1000000"],
        );
        assert_eq!(past["symbols"], json!([]));
        assert_eq!(past["truncated"], false);
        let count = json(root, &db, &["query", "usages", "Parser", "--count"]);
        assert_eq!(count, json!({ "total": total }), "{backend}");
        fails(
            root,
            &db,
            &["query", "usages", "Parser", "--offset", "-1"],
            2,
            "",
        );
        fails(
            root,
            &db,
            &["query", "usages", "Parser", "--limit", "x"],
            2,
            "",
        );
        let refs = json(root, &db, &["query", "refs", "Parser", "--count"]);
        assert!(refs["total"].as_u64().unwrap() >= 2, "{backend}: {refs}");

        // Outline: a tree with signatures, lines and the first docstring line.
        let outline = json(root, &db, &["query", "outline", "parser.py"]);
        assert_eq!(outline["total"], 2, "{backend}: {outline}");
        let class = &outline["outline"][0];
        assert_eq!(class["qualified_name"], "Parser");
        assert_eq!(class["doc"], "Splits text into words.");
        assert_eq!(class["children"][0]["qualified_name"], "Parser.parse");
        assert_eq!(class["children"][0]["doc"], "Parse TEXT.");
        assert_eq!(class["children"][0]["start_line"], 10);
        assert_eq!(outline["outline"][1]["qualified_name"], "parse_all");
        assert!(!outline.to_string().contains("text.split"), "no bodies");
        let text = stdout(&run(root, &db, &["query", "outline", "parser.py"]));
        assert!(text.contains("  method def parse(self, text)"), "{text}");
        fails(
            root,
            &db,
            &["query", "outline", "nope.py"],
            1,
            "not in the index",
        );

        // Search: words, line hits with column and snippet.
        let hits = json(root, &db, &["query", "search", "Splits text"]);
        assert_eq!(hits["total"], 1, "{backend}: {hits}");
        assert_eq!(
            hits["hits"][0],
            json!({"path": "parser.py", "line": 5, "column": 8, "snippet": "\"\"\"Splits text into words."})
        );
        // Regex, path globs (include and exclude), language, case.
        let defs = json(root, &db, &["query", "search", "--regex", r"def \w+\("]);
        assert_eq!(defs["total"], 4, "{backend}: {defs}");
        let only = json(
            root,
            &db,
            &[
                "query",
                "search",
                "--regex",
                r"def \w+\(",
                "--path",
                "*.py",
                "--path",
                "!tests/**",
            ],
        );
        assert_eq!(only["total"], 3, "{backend}: {only}");
        assert!(
            only["hits"]
                .as_array()
                .unwrap()
                .iter()
                .all(|h| h["path"] == "parser.py")
        );
        let rust = json(
            root,
            &db,
            &["query", "search", "--regex", "fn", "--language", "rust"],
        );
        assert_eq!(rust["hits"][0]["path"], "lib.rs", "{rust}");
        assert_eq!(rust["total"], 1, "{rust}");
        let upper = ["query", "search", "--regex", "PARSER"];
        assert_eq!(json(root, &db, &upper)["total"], 0);
        let mut insensitive = upper.to_vec();
        insensitive.push("-i");
        assert!(json(root, &db, &insensitive)["total"].as_u64().unwrap() > 0);
        // Words split where the full-text index splits them (`parse_all` holds `parse`).
        assert_eq!(
            json(
                root,
                &db,
                &["query", "search", "parse", "--case-sensitive", "--count"]
            )["total"],
            json(
                root,
                &db,
                &[
                    "query",
                    "search",
                    "--regex",
                    r"(^|[^\p{L}\p{N}])parse($|[^\p{L}\p{N}])",
                    "--count"
                ]
            )["total"]
        );
        // --kind: definitions only.
        let methods = json(
            root,
            &db,
            &[
                "query",
                "search",
                "--regex",
                "^(parse|reset)$",
                "--kind",
                "method",
            ],
        );
        assert_eq!(methods["total"], 2, "{backend}: {methods}");
        assert_eq!(methods["hits"][0]["kind"], "method");
        assert_eq!(methods["hits"][0]["qualified_name"], "Parser.parse");
        // Hostile: a bad regex, a bad glob, a glob outside the root, an unknown kind.
        fails(
            root,
            &db,
            &["query", "search", "--regex", "(unclosed"],
            2,
            "invalid pattern",
        );
        fails(
            root,
            &db,
            &["query", "search", "x", "--path", "a["],
            2,
            "path",
        );
        fails(
            root,
            &db,
            &["query", "search", "x", "--path", "../x"],
            2,
            "relative to the project root",
        );
        fails(
            root,
            &db,
            &["query", "search", "x", "--path", "/etc/*"],
            2,
            "relative to the project root",
        );
        fails(
            root,
            &db,
            &["query", "search", "x", "--kind", "module"],
            2,
            "unknown kind",
        );
        fails(root, &db, &["query", "search", "x", "--regex", "y"], 2, "");
        fails(
            root,
            &db,
            &["query", "search", "x", "--language", "cobol"],
            2,
            "unknown language",
        );
        assert_eq!(
            json(
                root,
                &db,
                &["query", "search", "--regex", "x", "--limit", "0"]
            )["hits"],
            json!([])
        );
    }
}

#[test]
fn insert_and_delete_symbol_are_write_commands_on_the_command_line() {
    for (backend, db, _pg) in databases(Path::new("/nonexistent")) {
        let dir = project();
        let root = dir.path();
        let db = if backend == "sqlite" {
            root.join(".codedb/codedb.sqlite")
                .to_str()
                .unwrap()
                .to_owned()
        } else {
            db
        };
        assert!(run(root, &db, &["index", "."]).status.success());
        let new = root.join("new.py.txt");
        fs::write(&new, "def size(self):\n    return 0\n").unwrap();
        let new = new.to_str().unwrap();
        let r = json(
            root,
            &db,
            &[
                "insert",
                "parser.py",
                "--after",
                "Parser.parse",
                "--with",
                new,
            ],
        );
        assert_eq!(r["kind"], "insert_symbol", "{backend}: {r}");
        assert!(r["git_commit"].is_string(), "{r}");
        let text = fs::read_to_string(root.join("parser.py")).unwrap();
        assert!(
            text.contains("        return text.split()\n\n    def size(self):\n        return 0\n\n    def reset"),
            "{text}"
        );
        let found = json(root, &db, &["query", "symbol", "Parser.size"]);
        assert_eq!(found["total"], 1, "{backend}: {found}");
        let r = json(
            root,
            &db,
            &[
                "insert",
                "parser.py",
                "--before",
                "parse_all",
                "--with",
                new,
            ],
        );
        assert_eq!(r["kind"], "insert_symbol");
        assert!(
            fs::read_to_string(root.join("parser.py"))
                .unwrap()
                .contains("\n\n\ndef size(self):\n    return 0\n\n\ndef parse_all")
        );

        let r = json(root, &db, &["delete-symbol", "parser.py", "Parser.reset"]);
        assert_eq!(r["kind"], "delete_symbol", "{r}");
        assert_eq!(
            git(root, &["log", "-1", "--format=%s"]),
            "codedb: delete_symbol parser.py"
        );
        assert!(
            !fs::read_to_string(root.join("parser.py"))
                .unwrap()
                .contains("reset")
        );
        assert_eq!(json(root, &db, &["query", "symbol", "reset"])["total"], 0);
        let v = json(root, &db, &["verify"]);
        assert_eq!(v["mismatches"], json!([]), "{backend}: {v}");

        // Refusals: nothing changes.
        let before = fs::read_to_string(root.join("parser.py")).unwrap();
        fails(
            root,
            &db,
            &["delete-symbol", "parser.py", "Parser.nope"],
            1,
            "candidates",
        );
        fails(
            root,
            &db,
            &["delete-symbol", "../parser.py", "Parser.parse"],
            1,
            "..",
        );
        fails(root, &db, &["insert", "parser.py", "--with", new], 2, "");
        fs::write(root.join("bad.txt"), "def broken(:\n").unwrap();
        fails(
            root,
            &db,
            &[
                "insert",
                "parser.py",
                "--after",
                "Parser.parse",
                "--with",
                root.join("bad.txt").to_str().unwrap(),
            ],
            1,
            "parser.py:",
        );
        assert_eq!(fs::read_to_string(root.join("parser.py")).unwrap(), before);
    }
}

#[test]
fn mcp_tools_are_bounded_and_give_outlines_search_and_symbol_edits() {
    // The PostgreSQL test database is made and dropped outside the runtime (its client
    // blocks).
    for (backend, db, _pg) in databases(Path::new("/nonexistent")) {
        support::block_on(mcp_on(backend, db));
    }
}

async fn mcp_on(backend: &str, db: String) {
    {
        let dir = project();
        let root = dir.path().to_owned();
        // A budget small enough to cut the usages of a name used 120 times.
        let mut many = String::from("def hot():\n    pass\n\n");
        for _ in 0..120 {
            many.push_str("hot()  # a comment long enough to make the file exceed the budget\n");
        }
        fs::write(root.join("many.py"), many).unwrap();
        fs::write(
            root.join("codedb.toml"),
            "[server]\nmax_answer_chars = 2000\n",
        )
        .unwrap();
        let db = if backend == "sqlite" {
            root.join(".codedb/codedb.sqlite")
                .to_str()
                .unwrap()
                .to_owned()
        } else {
            db
        };
        let client = support::serve_mcp(&root, &db).await;
        let call = |name: &'static str, a: Value| support::call_tool(&client, name, a);
        call("index", json!({})).await.unwrap();

        // The budget cuts, and says where to go on.
        let u = call("usages", json!({"name": "hot", "limit": 1000}))
            .await
            .unwrap();
        let total = u["total"].as_u64().unwrap();
        assert!(total >= 120, "{backend}: {u}");
        assert_eq!(u["truncated"], true);
        assert_eq!(u["cut_by_budget"], true);
        let shown = u["usages"].as_array().unwrap().len();
        assert!(shown > 5 && (shown as u64) < total, "{shown}");
        assert_eq!(u["next_offset"], shown);
        assert!(u.to_string().len() <= 2000, "{}", u.to_string().len());
        let next = call(
            "usages",
            json!({"name": "hot", "offset": shown, "limit": 2}),
        )
        .await
        .unwrap();
        assert_eq!(next["usages"].as_array().unwrap().len(), 2, "{next}");
        assert_eq!(next["offset"], shown);
        let c = call("usages", json!({"name": "hot", "count": true}))
            .await
            .unwrap();
        assert_eq!(c, json!({"name": "hot", "total": total}));
        // Hostile paging: a negative offset or limit 0 is invalid, a huge one is fine.
        assert!(
            call("usages", json!({"name": "hot", "offset": -1}))
                .await
                .is_err()
        );
        let e = call("symbol", json!({"name": "hot", "limit": 0}))
            .await
            .unwrap_err();
        assert!(e.to_string().contains("limit"), "{e}");
        let s = call(
            "symbol",
            json!({"name": "hot", "limit": u64::MAX, "offset": u64::MAX}),
        )
        .await
        .unwrap();
        assert_eq!(
            (s["total"].as_u64(), s["symbols"].as_array().map(Vec::len)),
            (Some(1), Some(0))
        );

        // file: the outline by default; the source when asked, by line range, cut to fit.
        let f = call("file", json!({"path": "parser.py"})).await.unwrap();
        assert!(f.get("content").is_none(), "{f}");
        assert_eq!(
            f["outline"][0]["children"][1]["qualified_name"],
            "Parser.reset"
        );
        let f = call(
            "file",
            json!({"path": "parser.py", "start_line": 10, "end_line": 11}),
        )
        .await
        .unwrap();
        assert_eq!(
            f["content"], "    def parse(self, text):\n        \"\"\"Parse TEXT.\"\"\"\n",
            "{f}"
        );
        let f = call("file", json!({"path": "many.py", "source": true}))
            .await
            .unwrap();
        assert_eq!(f["content_truncated"], true, "{f}");
        let next = f["next_start_line"].as_u64().unwrap();
        assert!(f["content"].as_str().unwrap().lines().count() as u64 == next - 1);
        assert!(
            call("file", json!({"path": "parser.py", "start_line": 0}))
                .await
                .is_err()
        );
        assert!(
            call("file", json!({"path": "parser.py", "start_line": 500}))
                .await
                .is_err()
        );
        assert!(
            call("file", json!({"path": "../etc/passwd"}))
                .await
                .is_err()
        );
        let o = call("outline", json!({"path": "parser.py"})).await.unwrap();
        assert_eq!(o["outline"][1]["signature"], "def parse_all(texts)", "{o}");

        // search: the CLI's arguments.
        let h = call(
            "search",
            json!({"regex": r"def \w+\(", "path": ["*.py", "!tests/**", "!many.py"]}),
        )
        .await
        .unwrap();
        assert_eq!(h["total"], 3, "{backend}: {h}");
        assert_eq!(h["hits"][0]["line"], 10);
        let h = call("search", json!({"query": "hot", "kind": ["function"]}))
            .await
            .unwrap();
        assert_eq!(h["hits"][0]["qualified_name"], "hot", "{h}");
        let h = call(
            "search",
            json!({"regex": "PARSER", "case": "insensitive", "count": true}),
        )
        .await
        .unwrap();
        assert!(h["total"].as_u64().unwrap() > 0, "{h}");
        let e = call("search", json!({"regex": "(x"})).await.unwrap_err();
        assert!(e.to_string().contains("invalid pattern"), "{e}");
        let e = call("search", json!({"query": "x", "path": ["../*"]}))
            .await
            .unwrap_err();
        assert!(e.to_string().contains("relative"), "{e}");
        assert!(
            call("search", json!({"query": "x", "case": "upper"}))
                .await
                .is_err()
        );

        // insert and delete_symbol.
        let r = call("insert", json!({"path": "parser.py", "before": "Parser.reset", "content": "def size(self):\n    return 0"})).await.unwrap();
        assert!(r["sha256"].is_string(), "{r}");
        let text = fs::read_to_string(root.join("parser.py")).unwrap();
        assert!(
            text.contains("    def size(self):\n        return 0\n\n    def reset(self):"),
            "{text}"
        );
        let r = call(
            "delete_symbol",
            json!({"path": "parser.py", "symbol": "Parser.size", "expect_sha256": r["sha256"]}),
        )
        .await
        .unwrap();
        assert!(r["git_commit"].is_string(), "{r}");
        assert_eq!(fs::read_to_string(root.join("parser.py")).unwrap(), PARSER);
        let e = call("insert", json!({"path": "parser.py", "content": "x = 1"}))
            .await
            .unwrap_err();
        assert!(e.to_string().contains("before or after"), "{e}");
        let e = call(
            "delete_symbol",
            json!({"path": "parser.py", "symbol": "nope"}),
        )
        .await
        .unwrap_err();
        assert!(e.to_string().contains("candidates"), "{e}");
        let v = call("verify", json!({})).await.unwrap();
        assert_eq!(v["mismatches"], json!([]), "{backend}: {v}");
        client.cancel().await.unwrap();
    }
}
