//! The reference questions at the CLI (`codedb query refs|callers|callees|deps|rdeps|
//! hierarchy`) and as MCP tools of `codedb serve` (rmcp's client over the child's stdio),
//! on one small project: the same answers both ways, ambiguity and absence refused with the
//! candidates or the name (exit 2 at the CLI, an error result over MCP), bad arguments
//! refused, and the answers kept current by a write command; the MCP tools on every backend.
#![allow(clippy::unwrap_used, clippy::print_stdout)]

mod support;

use std::path::Path;

use rmcp::model::CallToolRequestParams;
use serde_json::{Value, json};
use support::{codedb, stderr, stdout};

const A_PY: &str = "class Base:\n    def run(self):\n        return helper()\n\n\nclass Child(Base):\n    def run(self):\n        return super().run()\n\n\ndef helper():\n    return 1\n";
const B_PY: &str =
    "from a import Child, helper\n\n\ndef main():\n    Child().run()\n    return helper()\n";

fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::write(root.join("a.py"), A_PY).unwrap();
    std::fs::write(root.join("b.py"), B_PY).unwrap();
    support::commit_all_new(root);
    dir
}

/// `path:line:column kind confidence` of each hit of a JSON answer's `key` list.
fn sites(v: &Value, key: &str) -> Vec<String> {
    v[key]
        .as_array()
        .unwrap_or_else(|| panic!("no {key} in {v}"))
        .iter()
        .map(|h| {
            let depth = h
                .get("depth")
                .map(|d| format!("[{d}] "))
                .unwrap_or_default();
            format!(
                "{depth}{}:{}:{} {} {}",
                h["path"].as_str().unwrap(),
                h["line"],
                h["column"],
                h["kind"].as_str().unwrap(),
                h["confidence"].as_str().unwrap()
            )
        })
        .collect()
}

fn json_of(root: &Path, args: &[&str]) -> Value {
    let o = codedb(root, args);
    assert!(o.status.success(), "{args:?}: {}", stderr(&o));
    serde_json::from_str(&stdout(&o)).unwrap()
}

const HELPER_REFS: [&str; 3] = [
    "a.py:3:16 call exact",
    "b.py:1:22 import exact",
    "b.py:6:12 call exact",
];

#[test]
fn the_reference_queries_answer_at_the_cli() {
    let dir = project();
    let root = dir.path();
    let o = codedb(root, &["index", "."]);
    assert!(o.status.success(), "{}", stderr(&o));

    let v = json_of(root, &["query", "refs", "helper", "--json"]);
    assert_eq!(sites(&v, "refs"), HELPER_REFS);
    assert_eq!(v["refs"][2]["enclosing"], "main");
    assert_eq!(v["refs"][2]["target"], "a.py:helper");
    let v = json_of(
        root,
        &["query", "refs", "helper", "--kind", "call", "--json"],
    );
    assert_eq!(
        sites(&v, "refs"),
        ["a.py:3:16 call exact", "b.py:6:12 call exact"]
    );
    // `super().run()` is inferred: with --min-confidence exact it is left out.
    let v = json_of(root, &["query", "refs", "a.py:Base.run", "--json"]);
    assert_eq!(sites(&v, "refs"), ["a.py:8:24 call inferred"]);
    let v = json_of(
        root,
        &[
            "query",
            "refs",
            "a.py:Base.run",
            "--min-confidence",
            "exact",
            "--json",
        ],
    );
    assert_eq!(sites(&v, "refs"), Vec::<String>::new());
    let v = json_of(root, &["query", "refs", "Child.run", "--json"]);
    assert_eq!(sites(&v, "refs"), ["b.py:5:13 call exact"]);

    let v = json_of(
        root,
        &["query", "callers", "helper", "--depth", "2", "--json"],
    );
    assert_eq!(
        sites(&v, "callers"),
        [
            "[1] a.py:3:16 call exact",
            "[1] b.py:6:12 call exact",
            "[2] a.py:8:24 call inferred",
        ]
    );
    let v = json_of(root, &["query", "callees", "b.py:main", "--json"]);
    assert_eq!(
        sites(&v, "callees"),
        [
            "[1] b.py:5:5 call exact",
            "[1] b.py:5:13 call exact",
            "[1] b.py:6:12 call exact"
        ]
    );
    let v = json_of(root, &["query", "deps", "b.py", "--json"]);
    assert_eq!(v["deps"][0]["path"], "a.py", "{v}");
    let v = json_of(root, &["query", "rdeps", "a.py", "--json"]);
    assert_eq!(v["rdeps"][0]["path"], "b.py", "{v}");
    let v = json_of(root, &["query", "hierarchy", "Base", "--json"]);
    assert_eq!(v["subclasses"][0]["class"], "a.py:Child", "{v}");
    // The map: within its budget, helper (called from both files) before main.
    let v = json_of(root, &["query", "map", "--tokens", "60", "--json"]);
    assert!(v["tokens"].as_u64().unwrap() <= 60, "{v}");
    let ranked: Vec<&str> = v["ranked"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["qualified_name"].as_str().unwrap())
        .collect();
    assert!(ranked.contains(&"helper"), "{v}");
    assert!(v["text"].as_str().unwrap().contains("a.py:"), "{v}");
    // Focused on b.py: what b.py uses leads.
    let v = json_of(root, &["query", "map", "--focus", "b.py", "--json"]);
    let top = v["ranked"][0]["qualified_name"].as_str().unwrap();
    assert!(["helper", "Child", "Child.run"].contains(&top), "{v}");
    let o = codedb(root, &["query", "map", "--focus", "nope.py"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let text = stdout(&codedb(root, &["query", "map"]));
    assert!(
        text.contains("definitions") && text.contains("tokens"),
        "{text}"
    );
    let text = stdout(&codedb(root, &["query", "refs", "helper"]));
    assert!(
        text.contains("b.py:6:12") && text.contains("exact"),
        "{text}"
    );

    // Refused, exit 2: a name with two definitions (listing both), a missing name, a bad
    // kind or confidence, a depth out of range.
    let o = codedb(root, &["query", "refs", "run"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("a.py:Base.run") && err.contains("a.py:Child.run"),
        "{err}"
    );
    for args in [
        &["query", "refs", "nope"][..],
        &["query", "refs", "helper", "--kind", "sideways"],
        &["query", "refs", "helper", "--min-confidence", "certain"],
        &["query", "callers", "helper", "--depth", "0"],
        &["query", "callers", "helper", "--depth", "1000"],
        &["query", "hierarchy", "a.py:nope"],
    ] {
        let o = codedb(root, args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(!stderr(&o).is_empty(), "{args:?}");
    }

    // A write command keeps them current: helper renamed in a.py, b.py's import and call
    // no longer resolve to anything named helper.
    let content = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(content.path(), A_PY.replace("helper", "assist")).unwrap();
    let o = codedb(
        root,
        &[
            "edit",
            "a.py",
            "--content-file",
            content.path().to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let v = json_of(root, &["query", "refs", "assist", "--json"]);
    assert_eq!(sites(&v, "refs"), ["a.py:3:16 call exact"]);
    let o = codedb(root, &["query", "refs", "helper"]);
    assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
}

fn args(v: Value) -> serde_json::Map<String, Value> {
    v.as_object().unwrap().clone()
}

#[test]
fn the_reference_tools_answer_over_mcp() {
    // A project of its own per backend: the tools edit it. The PostgreSQL test database is
    // made and dropped outside the runtime (its client blocks).
    let dir = project();
    let sqlite = dir.path().join(".codedb/codedb.sqlite");
    support::block_on(reference_tools_over_mcp(
        "sqlite",
        dir.path(),
        sqlite.to_str().unwrap(),
    ));
    let Some(pg) = codedb_backends::testing::TestDatabase::postgres() else {
        return; // the reason is printed
    };
    let dir = project();
    support::block_on(reference_tools_over_mcp("postgres", dir.path(), &pg.arg()));
}

/// The reference tools of a server on `root` and the database `db`.
async fn reference_tools_over_mcp(backend: &str, root: &Path, db: &str) {
    eprintln!("on {backend}"); // a failure's output says which backend it happened on
    let client = support::serve_mcp(root, db).await;
    let call = |name: &'static str, a: Value| {
        let client = &client;
        async move {
            client
                .call_tool(CallToolRequestParams::new(name).with_arguments(args(a)))
                .await
        }
    };
    call("index", json!({})).await.unwrap();
    let out = |r: rmcp::model::CallToolResult| r.structured_content.unwrap();

    let v = out(call("refs", json!({"qualname": "helper"})).await.unwrap());
    assert_eq!(sites(&v, "refs"), HELPER_REFS);
    let v = out(
        call("refs", json!({"qualname": "helper", "kind": ["import"]}))
            .await
            .unwrap(),
    );
    assert_eq!(sites(&v, "refs"), ["b.py:1:22 import exact"]);
    let v = out(
        call("callers", json!({"qualname": "a.py:helper", "depth": 2}))
            .await
            .unwrap(),
    );
    assert_eq!(
        sites(&v, "callers"),
        [
            "[1] a.py:3:16 call exact",
            "[1] b.py:6:12 call exact",
            "[2] a.py:8:24 call inferred",
        ]
    );
    let v = out(call("callees", json!({"qualname": "main"})).await.unwrap());
    assert_eq!(sites(&v, "callees").len(), 3, "{v}");
    let v = out(call("deps", json!({"path": "b.py"})).await.unwrap());
    assert_eq!(v["deps"][0]["path"], "a.py", "{v}");
    let v = out(call("rdeps", json!({"path": "a.py"})).await.unwrap());
    assert_eq!(v["rdeps"][0]["path"], "b.py", "{v}");
    let v = out(call("hierarchy", json!({"class": "Child"})).await.unwrap());
    assert_eq!(v["bases"][0]["class"], "a.py:Base", "{v}");

    let v = out(call("map", json!({"tokens": 60})).await.unwrap());
    assert!(v["tokens"].as_u64().unwrap() <= 60, "{v}");
    let v = out(call("map", json!({"focus": ["a.py:Child"]})).await.unwrap());
    assert_eq!(v["ranked"][0]["qualified_name"], "Child", "{v}");
    assert!(call("map", json!({"tokens": 0})).await.is_err());

    // Refused with the reason; the server goes on serving.
    let err = call("refs", json!({"qualname": "run"})).await.unwrap_err();
    let err = err.to_string();
    assert!(
        err.contains("a.py:Base.run") && err.contains("a.py:Child.run"),
        "{err}"
    );
    for (tool, a) in [
        ("refs", json!({"qualname": "nope"})),
        ("refs", json!({"qualname": "helper", "kind": ["sideways"]})),
        (
            "refs",
            json!({"qualname": "helper", "min_confidence": "certain"}),
        ),
        ("callers", json!({"qualname": "helper", "depth": 0})),
        ("callees", json!({"qualname": "helper", "depth": 21})),
        ("hierarchy", json!({"class": "a.py:nope"})),
    ] {
        let err = call(tool, a.clone()).await.unwrap_err();
        assert!(!err.to_string().is_empty(), "{tool} {a}");
    }
    let v = out(call("refs", json!({"qualname": "helper"})).await.unwrap());
    assert_eq!(sites(&v, "refs"), HELPER_REFS, "still serving");

    // An edit through the server re-resolves b.py's references.
    let new = A_PY
        .replace("def helper", "def assist")
        .replace("return helper", "return assist");
    call("edit", json!({"path": "a.py", "content": new}))
        .await
        .unwrap();
    let v = out(call("refs", json!({"qualname": "assist"})).await.unwrap());
    assert_eq!(sites(&v, "refs"), ["a.py:3:16 call exact"]);
    let err = call("refs", json!({"qualname": "helper"}))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("helper"), "{err}");
    client.cancel().await.unwrap();
}
