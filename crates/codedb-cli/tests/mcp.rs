//! `codedb serve` with a real MCP client (rmcp's, over the child's stdio): the tools are
//! listed with their names; index, search and edit work on a temporary git project; bad
//! input gets an error and the server keeps serving; a server killed with `kill -9` during
//! edits leaves files, database and git consistent once it starts again.
#![allow(clippy::unwrap_used, clippy::print_stdout)]

mod support;

use std::process::{Command, Stdio};
use std::time::Duration;

use rmcp::ServiceExt;
use rmcp::model::CallToolRequestParams;
use rmcp::transport::{ConfigureCommandExt, TokioChildProcess};
use serde_json::{Value, json};
use support::git;

fn git_project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::write(
        root.join("parser.py"),
        "class Parser:\n    \"\"\"Splits text into words.\"\"\"\n\n    def parse(self, text):\n        return text.split()\n",
    )
    .unwrap();
    support::commit_all_new(root);
    dir
}

fn args(v: Value) -> serde_json::Map<String, Value> {
    v.as_object().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_mcp_client_lists_the_tools_and_indexes_searches_and_edits() {
    let dir = git_project();
    let root = dir.path().to_owned();
    let transport = TokioChildProcess::new(
        tokio::process::Command::new(env!("CARGO_BIN_EXE_codedb")).configure(|cmd| {
            cmd.arg("serve").arg("--root").arg(&root);
        }),
    )
    .unwrap();
    let client = ().serve(transport).await.unwrap();
    let mut names: Vec<String> = client
        .list_all_tools()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name.to_string())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "callees",
            "callers",
            "create",
            "delete",
            "delete_symbol",
            "deps",
            "edit",
            "file",
            "hierarchy",
            "history",
            "index",
            "insert",
            "map",
            "move",
            "outline",
            "projects",
            "rdeps",
            "refs",
            "rename",
            "replace_symbol",
            "restore",
            "schema_plan",
            "search",
            "stats",
            "status",
            "symbol",
            "usages",
            "verify"
        ]
    );
    let call = |name: &'static str, a: Value| {
        let client = &client;
        async move {
            client
                .call_tool(CallToolRequestParams::new(name).with_arguments(args(a)))
                .await
        }
    };
    let r = call("index", json!({})).await.unwrap();
    let s = r.structured_content.unwrap();
    assert_eq!(
        s["files_indexed"].as_u64().unwrap() + s["files_unchanged"].as_u64().unwrap(),
        1,
        "{s}"
    );

    let r = call("search", json!({"query": "Splits text"}))
        .await
        .unwrap();
    let s = r.structured_content.unwrap();
    assert_eq!(s["hits"][0]["path"], "parser.py", "{s}");
    assert_eq!(s["hits"][0]["line"], 2, "{s}");

    let r = call("file", json!({"path": "parser.py"})).await.unwrap();
    let sha = r.structured_content.unwrap()["sha256"]
        .as_str()
        .unwrap()
        .to_owned();

    let new = "class Parser:\n    \"\"\"Splits text on commas.\"\"\"\n\n    def parse(self, text):\n        return text.split(',')\n";
    let r = call(
        "edit",
        json!({"path": "parser.py", "content": new, "message": "commas", "expect_sha256": sha}),
    )
    .await
    .unwrap();
    let s = r.structured_content.unwrap();
    let new_sha = s["sha256"].as_str().unwrap().to_owned();
    assert_ne!(new_sha, sha);
    assert_eq!(
        std::fs::read_to_string(root.join("parser.py")).unwrap(),
        new
    );
    assert_eq!(git(&root, &["log", "-1", "--format=%s"]), "commas");
    // The stale sha is now a conflict; the returned one chains.
    let err = call(
        "edit",
        json!({"path": "parser.py", "content": "x = 1\n", "expect_sha256": sha}),
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("conflict"), "{err}");
    let r = call("replace_symbol", json!({"path": "parser.py", "symbol": "Parser.parse", "content": "def parse(self, text):\n    return [text]\n"}))
        .await
        .unwrap();
    assert!(r.structured_content.unwrap()["sha256"].is_string());
    let r = call("search", json!({"query": "commas"})).await.unwrap();
    assert!(
        r.structured_content
            .unwrap()
            .to_string()
            .contains("parser.py")
    );

    // Bad input: an error, and the server keeps serving.
    let err = call("nope", json!({})).await.unwrap_err();
    assert!(err.to_string().contains("not found"), "{err}");
    let r = call("search", json!({"query": 5})).await;
    match r {
        Ok(r) => assert_eq!(r.is_error, Some(true), "{r:?}"),
        Err(e) => assert!(e.to_string().contains("invalid"), "{e}"),
    }
    let err = call(
        "edit",
        json!({"path": "../outside.py", "content": "x = 1\n"}),
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains(".."), "{err}");
    let err = call("create", json!({"path": "bad.py", "content": "def f(:\n"}))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("bad.py:1:"), "{err}");
    let err = call("search", json!({"query": "x", "limit": 0}))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("limit"), "{err}");

    let r = call("verify", json!({})).await.unwrap();
    let v = r.structured_content.unwrap();
    assert_eq!(v["mismatches"], json!([]), "{v}");
    assert_eq!(v["pending_intents"], 0);
    let r = call("status", json!({})).await.unwrap();
    let workers = r.structured_content.unwrap()["workers"].clone();
    assert_eq!(workers.as_array().unwrap().len(), 3, "{workers}");
    client.cancel().await.unwrap();
}

#[test]
fn malformed_json_rpc_gets_a_parse_error_and_serving_goes_on() {
    let dir = git_project();
    let mut child = Command::new(env!("CARGO_BIN_EXE_codedb"))
        .args(["serve", "--root"])
        .arg(dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let input = [
        r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#,
        r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
        "this is not json {",
        r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"stats","arguments":{}}}"#,
        r#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"stats","arguments":["python"]}}"#,
        r#"{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"stats","arguments":"python"}}"#,
        r#"{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"stats"}}"#,
    ];
    use std::io::Write;
    let mut stdin = child.stdin.take().unwrap();
    for line in input {
        writeln!(stdin, "{line}").unwrap();
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(500));
    drop(stdin); // end of input: the server shuts down
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let lines: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(
        lines.iter().any(|l| l["error"]["code"] == -32700),
        "{lines:?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l["id"] == 2 && l["result"]["structuredContent"]["files"].is_number()),
        "{lines:?}"
    );
    // Arguments that are not an object are invalid params, not an unknown method; no
    // arguments at all are the empty object.
    for id in [3, 4] {
        assert!(
            lines.iter().any(|l| l["id"] == id
                && l["error"]["code"] == -32602
                && l["error"]["message"]
                    .as_str()
                    .unwrap()
                    .contains("must be an object")),
            "{id}: {lines:?}"
        );
    }
    assert!(
        lines
            .iter()
            .any(|l| l["id"] == 5 && l["result"]["structuredContent"]["files"].is_number()),
        "{lines:?}"
    );
}

#[test]
fn a_bad_config_exits_2_naming_key_and_line_and_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("codedb.toml");
    std::fs::write(
        &config,
        "[storage]\nkeep_backups = 3\n\n[server]\ntransport = \"websocket\"\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_codedb"))
        .args(["serve", "--root"])
        .arg(dir.path())
        .arg("--config")
        .arg(&config)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("codedb.toml") && err.contains("line 5") && err.contains("server.transport"),
        "{err}"
    );
    assert!(!dir.path().join(".codedb").exists());
}

#[test]
fn a_server_killed_during_edits_recovers_on_restart() {
    let dir = git_project();
    let root = dir.path();
    let edit_request = |id: u32, content: &str| {
        json!({"jsonrpc":"2.0","id":id,"method":"tools/call","params":{"name":"edit","arguments":{"path":"parser.py","content":content}}}).to_string()
    };
    let versions = ["class Parser:\n    pass\n", "class Parser:\n    x = 1\n"];
    let mut seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    for round in 0..15 {
        let mut child = Command::new(env!("CARGO_BIN_EXE_codedb"))
            .args(["serve", "--root"])
            .arg(root)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        writeln!(stdin, r#"{{"jsonrpc":"2.0","id":1,"method":"initialize","params":{{"protocolVersion":"2025-06-18","capabilities":{{}},"clientInfo":{{"name":"t","version":"1"}}}}}}"#).unwrap();
        writeln!(
            stdin,
            r#"{{"jsonrpc":"2.0","method":"notifications/initialized"}}"#
        )
        .unwrap();
        for i in 0..5 {
            writeln!(
                stdin,
                "{}",
                edit_request(10 + i, versions[(round + i as usize) % 2])
            )
            .unwrap();
        }
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        std::thread::sleep(Duration::from_millis(50 + seed % 250));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        // Starting again recovers (step 4 of startup); verify through the CLI.
        let out = Command::new(env!("CARGO_BIN_EXE_codedb"))
            .args(["verify", "--json", "--root"])
            .arg(root)
            .output()
            .unwrap();
        let pending: Value = serde_json::from_slice(&out.stdout).unwrap();
        let mut restarted = Command::new(env!("CARGO_BIN_EXE_codedb"))
            .args(["serve", "--root"])
            .arg(root)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        drop(restarted.stdin.take()); // starts (recovering), then ends at end of input
        restarted.wait().unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_codedb"))
            .args(["verify", "--json", "--root"])
            .arg(root)
            .output()
            .unwrap();
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert!(
            out.status.success(),
            "round {round} (before restart: {pending}): {v}"
        );
        let content = std::fs::read_to_string(root.join("parser.py")).unwrap();
        assert!(
            versions.contains(&content.as_str()) || content.contains("Splits"),
            "{content}"
        );
        assert_eq!(git(root, &["status", "--porcelain"]), "", "round {round}");
    }
}

#[test]
fn codedb_status_shows_a_running_servers_workers() {
    let dir = git_project();
    let mut child = Command::new(env!("CARGO_BIN_EXE_codedb"))
        .args(["serve", "--root"])
        .arg(dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let status = || {
        Command::new(env!("CARGO_BIN_EXE_codedb"))
            .args(["status", "--json", "--root"])
            .arg(dir.path())
            .output()
            .unwrap()
    };
    let mut seen = None;
    for _ in 0..300 {
        let out = status();
        if out.status.success() {
            let v: Value = serde_json::from_slice(&out.stdout).unwrap();
            if v["workers"]
                .as_array()
                .is_some_and(|w| w.len() == 3 && w.iter().all(|w| w["state"] == "running"))
            {
                seen = Some(v);
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let v = seen.expect("status never showed three running workers");
    assert_eq!(v["running"], true);
    assert_eq!(v["pid"], child.id());
    drop(child.stdin.take());
    child.wait().unwrap();
    let v: Value = serde_json::from_slice(&status().stdout).unwrap();
    assert!(
        v["workers"]
            .as_array()
            .unwrap()
            .iter()
            .all(|w| w["state"] == "stopped"),
        "{v}"
    );
    // Text form.
    let out = Command::new(env!("CARGO_BIN_EXE_codedb"))
        .args(["status", "--root"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("watcher"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mcp_edits_while_another_program_appends_lose_nothing() {
    const APPENDS: usize = 60;
    let dir = git_project();
    let root = dir.path().canonicalize().unwrap();
    // Every backup kept (the server reads the root's codedb.toml), so that every replaced
    // byte can be looked for.
    std::fs::write(
        root.join("codedb.toml"),
        "[storage]\nkeep_file_backups = 1000\n",
    )
    .unwrap();
    let transport = TokioChildProcess::new(
        tokio::process::Command::new(env!("CARGO_BIN_EXE_codedb")).configure(|cmd| {
            cmd.arg("serve").arg("--root").arg(&root);
        }),
    )
    .unwrap();
    let client = ().serve(transport).await.unwrap();
    let target = root.join("parser.py");
    let appender = {
        let target = target.clone();
        std::thread::spawn(move || {
            use std::io::Write;
            for n in 0..APPENDS {
                let mut f = std::fs::OpenOptions::new()
                    .append(true)
                    .open(&target)
                    .unwrap();
                writeln!(f, "# m{n}").unwrap();
                drop(f);
                std::thread::sleep(Duration::from_millis(15 + (n as u64 % 5) * 5));
            }
        })
    };
    let (mut landed, mut refused) = (0, 0);
    for e in 0..30 {
        let bytes = std::fs::read(&target).unwrap();
        let sha: String = {
            use sha2::Digest;
            sha2::Sha256::digest(&bytes)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect()
        };
        let mut content = String::from_utf8(bytes).unwrap();
        content.push_str(&format!("# e{e}\n"));
        let mut a = json!({"path": "parser.py", "content": content});
        if e % 2 == 0 {
            a["expect_sha256"] = json!(sha);
        }
        match client
            .call_tool(CallToolRequestParams::new("edit").with_arguments(args(a)))
            .await
        {
            Ok(_) => landed += 1,
            Err(err) => {
                assert!(err.to_string().contains("conflict"), "{err}");
                refused += 1;
            }
        }
    }
    appender.join().unwrap();
    client.cancel().await.unwrap();
    let text = std::fs::read_to_string(&target).unwrap();
    let mut kept = String::new();
    for d in std::fs::read_dir(root.join(".codedb/file-backups"))
        .unwrap()
        .flatten()
    {
        for b in std::fs::read_dir(d.path()).unwrap().flatten() {
            kept.push_str(&String::from_utf8_lossy(&std::fs::read(b.path()).unwrap()));
        }
    }
    let lost: Vec<usize> = (0..APPENDS)
        .filter(|n| {
            let line = format!("# m{n}\n");
            !text.contains(&line) && !kept.contains(&line)
        })
        .collect();
    println!("mcp: {landed} edits landed, {refused} refused, lost: {lost:?}");
    assert!(lost.is_empty(), "appended lines lost: {lost:?}");
    assert!(landed > 0);
}

#[test]
fn the_tools_answer_for_the_servers_project_unless_asked_for_all() {
    let scratch = tempfile::tempdir().unwrap();
    let base = scratch.path().canonicalize().unwrap();
    let db = base.join("shared.sqlite");
    for name in ["a", "b"] {
        let root = base.join(name);
        std::fs::create_dir(&root).unwrap();
        std::fs::write(root.join("m.py"), "def run():\n    return 1\n").unwrap();
        let o = Command::new(env!("CARGO_BIN_EXE_codedb"))
            .arg("index")
            .arg(&root)
            .arg("--db")
            .arg(&db)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let mut child = Command::new(env!("CARGO_BIN_EXE_codedb"))
        .arg("serve")
        .arg("--root")
        .arg(base.join("a"))
        .arg("--db")
        .arg(&db)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let input = [
        r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#,
        r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
        r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"symbol","arguments":{"name":"run"}}}"#,
        r#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"symbol","arguments":{"name":"run","all_projects":true}}}"#,
        r#"{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"stats","arguments":{}}}"#,
    ];
    use std::io::Write;
    let mut stdin = child.stdin.take().unwrap();
    for line in input {
        writeln!(stdin, "{line}").unwrap();
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(500));
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    let lines: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let result = |id: i64| {
        lines
            .iter()
            .find(|l| l["id"] == id)
            .map(|l| l["result"]["structuredContent"].clone())
            .unwrap_or_else(|| panic!("no answer {id}: {lines:?}"))
    };
    let own = result(2)["symbols"].as_array().unwrap().clone();
    assert_eq!(own.len(), 1, "{own:?}");
    let all = result(3)["symbols"].as_array().unwrap().clone();
    assert_eq!(all.len(), 2, "{all:?}");
    assert!(all.iter().all(|h| h["project"].is_string()), "{all:?}");
    assert_eq!(result(4)["files"], 1);
}

/// `codedb serve` on `dir`, its stdin and stdout piped.
fn serve_piped(dir: &std::path::Path) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_codedb"))
        .args(["serve", "--root"])
        .arg(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

const INITIALIZE: [&str; 2] = [
    r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#,
    r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
];

#[test]
fn a_call_in_flight_at_the_end_of_input_is_answered() {
    use std::io::Write;
    for round in 0..6 {
        let dir = git_project();
        let mut child = serve_piped(dir.path());
        let mut stdin = child.stdin.take().unwrap();
        for line in INITIALIZE {
            writeln!(stdin, "{line}").unwrap();
        }
        let content = format!("class Parser:\n    pass\n\n\nROUND = {round}\n");
        let call = json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call",
            "params": {"name": "edit", "arguments": {"path": "parser.py", "content": content}}});
        writeln!(stdin, "{call}").unwrap();
        drop(stdin); // the client goes while the edit runs
        let out = child.wait_with_output().unwrap();
        let answered = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .any(|l| l["id"] == 7 && l["result"]["structuredContent"]["sha256"].is_string());
        let landed = std::fs::read_to_string(dir.path().join("parser.py")).unwrap() == content;
        assert_eq!(
            answered, landed,
            "round {round}: an edit that landed must be answered"
        );
        assert!(
            answered,
            "round {round}: the edit was read, it must run and be answered"
        );
    }
}

#[test]
fn a_signal_ends_the_server_without_waiting_for_the_client_to_close_its_end() {
    use std::io::Write;
    let dir = git_project();
    let mut child = serve_piped(dir.path());
    let mut stdin = child.stdin.take().unwrap();
    for line in INITIALIZE {
        writeln!(stdin, "{line}").unwrap();
    }
    std::thread::sleep(Duration::from_millis(800));
    let started = std::time::Instant::now();
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    // stdin stays open (held here) all along.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let exited = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break Some(s);
        }
        if std::time::Instant::now() > deadline {
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    drop(stdin);
    let Some(status) = exited else {
        let _ = child.kill();
        panic!("the server was still running 20 s after SIGTERM with its stdin open");
    };
    assert!(status.success(), "{status}");
    println!("exited {:?} after SIGTERM", started.elapsed());
}
