//! The server benchmark, run with `cargo xtask bench serve [--json]`: `codedb serve` as a
//! process over stdio, on a git project of 1,000 Python files whose database is up to date.
//!
//! * `startup_ms`: from starting the process to the answer to `initialize` (config, database,
//!   schema check, recover, workers, MCP handshake); median of 10 starts. Target <= 200;
//! * `tool_search_p50_ms`: a `search` tool call, request written to answer read. Target <= 5;
//! * `tool_edit_p50_ms`: an `edit` tool call (validation, backup, journal, database, rename,
//!   git commit).
#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::cast_precision_loss)]

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::Instant;

use serde_json::{Value, json};

#[path = "../tests/support/mod.rs"]
mod support;
use support::git;

const FILES: usize = 1000;

fn module(i: usize, variant: usize) -> String {
    let mut s = format!("\"\"\"Module {i}.\"\"\"\nimport os\n\n\nclass Thing{i}:\n");
    for m in 0..8 {
        s.push_str(&format!(
            "    def method_{m}(self, x):\n        \"\"\"Method {m} of thing {i}.\"\"\"\n        return x * {m} + {variant}\n\n"
        ));
    }
    s
}

struct Session {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    next: u64,
}

impl Session {
    fn start(root: &Path) -> (Session, f64) {
        let t = Instant::now();
        let mut child = Command::new(env!("CARGO_BIN_EXE_codedb"))
            .args(["serve", "--root"])
            .arg(root)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let mut s = Session {
            child,
            stdin,
            stdout,
            next: 1,
        };
        s.request("initialize", json!({"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "bench", "version": "1"}}));
        let ms = t.elapsed().as_secs_f64() * 1e3;
        writeln!(
            s.stdin,
            r#"{{"jsonrpc":"2.0","method":"notifications/initialized"}}"#
        )
        .unwrap();
        (s, ms)
    }

    fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.next;
        self.next += 1;
        writeln!(
            self.stdin,
            "{}",
            json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})
        )
        .unwrap();
        self.stdin.flush().unwrap();
        loop {
            let mut line = String::new();
            assert!(
                self.stdout.read_line(&mut line).unwrap() > 0,
                "the server closed"
            );
            let v: Value = serde_json::from_str(&line).unwrap();
            if v["id"] == id {
                assert!(v.get("error").is_none(), "{v}");
                return v;
            }
        }
    }

    fn tool(&mut self, name: &str, args: Value) -> Value {
        let v = self.request("tools/call", json!({"name": name, "arguments": args}));
        assert_ne!(v["result"]["isError"], true, "{v}");
        v
    }

    fn stop(self) {
        drop(self.stdin);
        let mut child = self.child;
        child.wait().unwrap();
    }
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn main() {
    let json_out = std::env::args().any(|a| a == "--json");
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    for i in 0..FILES {
        let sub = root.join(format!("pkg{}", i / 100));
        std::fs::create_dir_all(&sub).unwrap();
        std::fs::write(sub.join(format!("m{i}.py")), module(i, 0)).unwrap();
    }
    std::fs::write(root.join(".gitignore"), ".codedb/\n").unwrap();
    git(root, &["init", "-q", "-b", "main"]);
    git(root, &["config", "user.email", "bench@example.com"]);
    git(root, &["config", "user.name", "bench"]);
    git(root, &["add", "-A"]);
    git(root, &["commit", "-q", "-m", "init"]);
    let out = Command::new(env!("CARGO_BIN_EXE_codedb"))
        .args(["index"])
        .arg(root)
        .output()
        .unwrap();
    assert!(out.status.success());

    let mut starts = Vec::new();
    for _ in 0..10 {
        let (s, ms) = Session::start(root);
        starts.push(ms);
        s.stop();
    }
    let (mut s, _) = Session::start(root);
    let mut searches = Vec::new();
    for i in 0..100 {
        let t = Instant::now();
        let v = s.tool(
            "search",
            json!({"query": format!("thing {}", (i * 7) % FILES), "limit": 10}),
        );
        searches.push(t.elapsed().as_secs_f64() * 1e3);
        assert!(v["result"]["structuredContent"]["symbols"].is_array());
    }
    let mut edits = Vec::new();
    for round in 0..40 {
        let i = (round * 37) % FILES;
        let t = Instant::now();
        let v = s.tool(
            "edit",
            json!({"path": format!("pkg{}/m{i}.py", i / 100), "content": module(i, round + 1)}),
        );
        edits.push(t.elapsed().as_secs_f64() * 1e3);
        assert!(
            v["result"]["structuredContent"]["git_commit"].is_string(),
            "{v}"
        );
    }
    let v = s.tool("verify", json!({}));
    assert_eq!(
        v["result"]["structuredContent"]["mismatches"],
        json!([]),
        "{v}"
    );
    s.stop();

    let (startup, search, edit) = (
        median(&mut starts),
        median(&mut searches),
        median(&mut edits),
    );
    if json_out {
        println!(
            "{}",
            json!({
                "benchmark": "serve",
                "files": FILES,
                "startup_ms": (startup * 100.0).round() / 100.0,
                "tool_search_p50_ms": (search * 1000.0).round() / 1000.0,
                "tool_edit_p50_ms": (edit * 100.0).round() / 100.0,
                "targets": {"startup_ms": 200.0, "tool_search_p50_ms": 5.0},
            })
        );
    } else {
        println!("serve benchmark: codedb serve over stdio, git project of {FILES} indexed files");
        println!("  startup_ms          {startup:.2}   (target <= 200)");
        println!("  tool_search_p50_ms  {search:.3}   (target <= 5)");
        println!("  tool_edit_p50_ms    {edit:.2}");
    }
}
