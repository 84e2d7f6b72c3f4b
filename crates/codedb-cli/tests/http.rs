//! `codedb serve --http`: the real binary over loopback HTTP, driven by a raw HTTP/1.1
//! client so that hostile requests can be sent as they are. One server answers MCP at
//! `/mcp` with the token it generated into `.codedb/token` (mode 0600) and refuses, each
//! with a clear answer and without stopping: no or a wrong token (401, nothing done), a
//! foreign `Origin` (403), another path (404), a body over `server.max_request_bytes`
//! (413), a body that is not JSON (-32700), arguments that are not an object (-32602), an
//! answer over `server.max_response_bytes`. Two clients at once are both served while a
//! third holds a half-sent request; SIGTERM lets a request in flight finish. A
//! non-loopback address without a configured token, and a token file others can read,
//! are refused before anything starts. One server serves two `[[project]]`s (on both
//! backends): each tool call works in the project it names, and no path leaves its root.
#![allow(clippy::unwrap_used, clippy::print_stdout)]

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};
use support::git;
use support::http::{Served, call, init_repo, mcp, parse_response, request, result, token_of};

fn git_project(config: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::write(
        root.join("parser.py"),
        "class Parser:\n    def parse(self, text):\n        return text.split()\n",
    )
    .unwrap();
    std::fs::write(root.join("codedb.toml"), config).unwrap();
    support::commit_all_new(root);
    dir
}

#[test]
fn http_serves_mcp_with_its_token_and_refuses_bad_requests_without_stopping() {
    let dir = git_project(
        "[watcher]\nenabled = false\n[server]\nmax_request_bytes = 4096\nmax_response_bytes = 4096\n",
    );
    let root = dir.path();
    assert!(support::codedb(root, &["index", "."]).status.success());
    let mut served = Served::start(root);
    let addr_owned = served.addr.clone();
    let addr = addr_owned.as_str();
    assert!(addr.starts_with("127.0.0.1:"), "{addr}");

    // The token: generated, 64 hex digits, readable by its owner only.
    let token = token_of(root);
    assert_eq!(token.len(), 64);
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(root.join(".codedb/token"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "test", "version": "1"}}});
    let (status, _, answer) = mcp(addr, &token, &[], &init);
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["result"]["serverInfo"]["name"], "codedb");

    let hits = call(addr, &token, 2, "symbol", json!({"name": "Parser.parse"}));
    assert_eq!(
        hits["result"]["structuredContent"]["symbols"][0]["path"], "parser.py",
        "{hits}"
    );

    // No token, a wrong one (same length, one digit off; shorter; another scheme): 401,
    // and the create they asked for did not happen.
    let create = json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call",
        "params": {"name": "create", "arguments": {"path": "evil.py", "content": "x = 1\n"}}});
    let mut wrong = token.clone().into_bytes();
    wrong[63] = if wrong[63] == b'0' { b'1' } else { b'0' };
    let wrong = String::from_utf8(wrong).unwrap();
    for auth in [
        None,
        Some(format!("Bearer {wrong}")),
        Some(format!("Bearer {}", &token[..32])),
        Some(format!("Basic {token}")),
        Some("Bearer ".to_owned()),
    ] {
        let mut headers = vec![("Content-Type", "application/json")];
        if let Some(a) = &auth {
            headers.push(("Authorization", a.as_str()));
        }
        let (status, head, body) = request(
            addr,
            "POST",
            "/mcp",
            &headers,
            create.to_string().as_bytes(),
        );
        assert_eq!(status, 401, "{auth:?}: {body}");
        assert!(head.contains("www-authenticate: bearer"), "{head}");
        assert!(body.contains("bearer token"), "{body}");
    }
    assert!(!root.join("evil.py").exists());

    // A foreign Origin: 403; a loopback one passes.
    let (status, _, answer) = mcp(addr, &token, &[("Origin", "http://evil.example")], &init);
    assert_eq!(status, 403, "{answer}");
    assert!(answer.to_string().contains("allowed_origins"), "{answer}");
    let (status, _, _) = mcp(addr, &token, &[("Origin", "http://localhost:6274")], &init);
    assert_eq!(status, 200);

    // Another path: 404.
    let auth = format!("Bearer {token}");
    let (status, _, body) = request(addr, "POST", "/other", &[("Authorization", &auth)], b"{}");
    assert_eq!(status, 404, "{body}");

    // A body over the limit: 413 with a JSON-RPC error naming the key.
    let big = json!({"jsonrpc": "2.0", "id": 4, "method": "tools/call",
        "params": {"name": "create", "arguments": {"path": "big.py", "content": "#".repeat(50_000)}}});
    let (status, _, answer) = mcp(addr, &token, &[], &big);
    assert_eq!(status, 413, "{answer}");
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("server.max_request_bytes")
    );
    assert!(!root.join("big.py").exists());

    // Not JSON; JSON with arguments that are not an object; an unknown tool.
    let (status, _, body) = request(
        addr,
        "POST",
        "/mcp",
        &[
            ("Authorization", &auth),
            ("Content-Type", "application/json"),
        ],
        b"{\"jsonrpc\": \"2.0\", \"id\": ",
    );
    assert_eq!(status, 400, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["error"]["code"], -32700, "{v}");
    let (_, _, answer) = mcp(
        addr,
        &token,
        &[],
        &json!({"jsonrpc": "2.0", "id": 5, "method": "tools/call",
                "params": {"name": "symbol", "arguments": [1, 2]}}),
    );
    assert_eq!(answer["error"]["code"], -32602, "{answer}");
    for garbage in [
        &b"\xff\xfe\x00"[..],
        b"[]",
        b"null",
        b"\"x\"",
        b"{\"method\": 7}",
    ] {
        let (status, _, body) = request(
            addr,
            "POST",
            "/mcp",
            &[
                ("Authorization", &auth),
                ("Content-Type", "application/json"),
                ("Accept", "application/json, text/event-stream"),
            ],
            garbage,
        );
        assert!((400..500).contains(&status), "{garbage:?}: {status} {body}");
    }

    // An answer over the limit (the tool list is larger than 4 KiB): an error naming it.
    let (status, _, answer) = mcp(
        addr,
        &token,
        &[],
        &json!({"jsonrpc": "2.0", "id": 6, "method": "tools/list"}),
    );
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["id"], 6);
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("server.max_response_bytes"),
        "{answer}"
    );

    // A client holding a half-sent request holds up no one; two clients at once, one
    // reading, one writing, are both served.
    let mut slow = TcpStream::connect(addr).unwrap();
    slow.write_all(b"POST /mcp HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
        .unwrap();
    std::thread::scope(|s| {
        let reader = s.spawn(|| {
            for i in 0..20 {
                let a = call(addr, &token, 100 + i, "search", json!({"query": "split"}));
                assert!(a["result"]["isError"] == false, "{a}");
            }
        });
        let writer = s.spawn(|| {
            for i in 0..5 {
                let a = call(
                    addr,
                    &token,
                    200 + i,
                    "create",
                    json!({"path": format!("m{i}.py"), "content": format!("def f{i}():\n    pass\n")}),
                );
                assert!(a["result"]["isError"] == false, "{a}");
            }
        });
        reader.join().unwrap();
        writer.join().unwrap();
    });
    for i in 0..5 {
        assert!(root.join(format!("m{i}.py")).exists());
    }
    let log = git(root, &["log", "--oneline"]);
    assert_eq!(log.lines().count(), 6, "{log}");
    drop(slow);

    // SIGTERM with a request in flight (its body not yet all sent): the server stops
    // taking connections, answers it, and exits 0.
    let body = json!({"jsonrpc": "2.0", "id": 300, "method": "tools/call",
        "params": {"name": "symbol", "arguments": {"name": "Parser"}}})
    .to_string();
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    write!(
        s,
        "POST /mcp HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\n\
         Connection: close\r\nContent-Length: {}\r\n\r\n{}",
        body.len(),
        &body[..10]
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let pid = served.child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    std::thread::sleep(Duration::from_millis(300));
    s.write_all(&body.as_bytes()[10..]).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let (status, _, answer) = parse_response(&raw);
    assert_eq!(status, 200, "{answer}");
    assert!(answer.contains("\"Parser\""), "{answer}");
    let exit = served.child.wait().unwrap();
    let log: Vec<String> = served.stderr.try_iter().collect();
    assert!(exit.success(), "{exit:?}: {log:#?}");
    assert!(TcpStream::connect(addr).is_err(), "still listening");
}

#[test]
fn http_refuses_a_public_address_without_a_token_and_a_token_file_others_can_read() {
    let dir = git_project("");
    let root = dir.path();
    let out = support::codedb(root, &["serve", "--http", "0.0.0.0:0", "--root", "."]);
    assert!(!out.status.success());
    let err = support::stderr(&out);
    assert!(
        err.contains("not a loopback address") && err.contains("server.token"),
        "{err}"
    );
    assert!(
        !root.join(".codedb/codedb.sqlite").exists(),
        "started anyway"
    );

    std::fs::create_dir_all(root.join(".codedb")).unwrap();
    std::fs::write(root.join(".codedb/token"), "0123456789abcdef0123\n").unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(
            root.join(".codedb/token"),
            std::fs::Permissions::from_mode(0o644),
        )
        .unwrap();
    }
    let out = support::codedb(root, &["serve", "--http", "127.0.0.1:0", "--root", "."]);
    assert!(!out.status.success());
    let err = support::stderr(&out);
    assert!(err.contains("chmod 600"), "{err}");

    std::fs::write(root.join("codedb.toml"), "[server]\nhttp = \"nowhere\"\n").unwrap();
    let out = support::codedb(root, &["serve", "--root", "."]);
    assert_eq!(out.status.code(), Some(2), "{}", support::stderr(&out));
    assert!(support::stderr(&out).contains("server.http"));
}

#[test]
fn one_http_server_serves_two_projects_each_within_its_root() {
    // On SQLite, and on PostgreSQL when a server answers (else the reason is printed).
    for db in codedb_backends::testing::TestDatabase::all() {
        println!("backend: {}", db.name());
        two_projects(&["--db", &db.arg()]);
    }
}

fn two_projects(db: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let top = dir.path();
    init_repo(&top.join("a"), "alpha.py", "def alpha():\n    return 1\n");
    init_repo(&top.join("b"), "beta.py", "def beta():\n    return 2\n");
    std::fs::write(
        top.join("codedb.toml"),
        "[watcher]\nenabled = false\n\n[[project]]\nname = \"a\"\nroot = \"a\"\n\n\
         [[project]]\nname = \"b\"\nroot = \"b\"\n",
    )
    .unwrap();
    let served = Served::start_with(top, db);
    let addr = served.addr.clone();
    let addr = addr.as_str();
    let token = token_of(top);
    let call = |tool: &str, args: Value| call(addr, &token, 1, tool, args);

    let listed = call("projects", json!({}));
    let listed = result(&listed).unwrap()["projects"].clone();
    assert_eq!(listed[0]["name"], "a", "{listed}");
    assert_eq!(listed[1]["name"], "b", "{listed}");
    assert_eq!(listed.as_array().unwrap().len(), 2);

    // Without `project`, with an unknown one: refused, naming the projects.
    let e = result(&call("symbol", json!({"name": "alpha"}))).unwrap_err();
    assert!(e.contains("several projects") && e.contains("a, b"), "{e}");
    let e = result(&call("symbol", json!({"name": "alpha", "project": "c"}))).unwrap_err();
    assert!(e.contains("unknown project"), "{e}");

    for p in ["a", "b"] {
        let r = call("index", json!({"project": p}));
        assert_eq!(result(&r).unwrap()["files_indexed"], 1, "{r}");
    }
    // Each project sees its own definitions; all_projects sees both.
    let hits = |p: &str, name: &str, all: bool| {
        let r = call(
            "symbol",
            json!({"name": name, "project": p, "all_projects": all}),
        );
        result(&r).unwrap()["symbols"].as_array().unwrap().len()
    };
    assert_eq!(hits("a", "alpha", false), 1);
    assert_eq!(hits("b", "alpha", false), 0);
    assert_eq!(hits("b", "alpha", true), 1);

    // Writes land in the named project, its file and its git; the other is untouched.
    // Two clients write to the two projects at once.
    std::thread::scope(|s| {
        for p in ["a", "b"] {
            let call = &call;
            s.spawn(move || {
                for i in 0..4 {
                    let r = call(
                        "create",
                        json!({"project": p, "path": format!("n{i}.py"), "content": format!("def {p}{i}():\n    pass\n")}),
                    );
                    result(&r).unwrap();
                }
            });
        }
    });
    for p in ["a", "b"] {
        let root = top.join(p);
        for i in 0..4 {
            let text = std::fs::read_to_string(root.join(format!("n{i}.py"))).unwrap();
            assert!(text.contains(&format!("def {p}{i}")), "{text}");
        }
        assert_eq!(git(&root, &["log", "--oneline"]).lines().count(), 5);
    }
    assert_eq!(hits("a", "b2", false), 0);
    assert_eq!(hits("b", "b2", false), 1);

    // No path reaches outside the named project's root: relative escapes, the other
    // project by absolute path, the server's own state.
    let b_file = top.join("b/beta.py").display().to_string();
    for path in [
        "../b/evil.py",
        "../b/beta.py",
        b_file.as_str(),
        "../.codedb/token",
        "/etc/passwd",
    ] {
        for (tool, args) in [
            (
                "create",
                json!({"project": "a", "path": path, "content": "x = 1\n"}),
            ),
            (
                "edit",
                json!({"project": "a", "path": path, "content": "x = 1\n"}),
            ),
            ("delete", json!({"project": "a", "path": path})),
            ("file", json!({"project": "a", "path": path})),
        ] {
            let r = call(tool, args);
            assert!(result(&r).is_err(), "{tool} {path}: {r}");
        }
        let r = call(
            "move",
            json!({"project": "a", "from": "alpha.py", "to": path}),
        );
        assert!(result(&r).is_err(), "move to {path}: {r}");
    }
    assert!(!top.join("b/evil.py").exists());
    assert_eq!(
        std::fs::read_to_string(top.join("b/beta.py")).unwrap(),
        "def beta():\n    return 2\n"
    );
    assert!(top.join("a/alpha.py").exists());
    for p in ["a", "b"] {
        let r = call("verify", json!({"project": p}));
        let v = result(&r).unwrap();
        assert_eq!(v["mismatches"], json!([]), "{v}");
        assert_eq!(v["pending_intents"], 0, "{v}");
    }
}
