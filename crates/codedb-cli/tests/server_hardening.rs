//! `codedb serve` and the commands around it as a hostile user meets them: every MCP tool
//! on every backend (the `status` tool once aborted the server on PostgreSQL), a password
//! that must appear on no output channel, a server that accepts connections and never
//! answers, configuration values out of range, `.codedb/` kept out of `git status`, writes
//! over the size limit, and an edit that landed with its git commit left for `recover`.
#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

mod support;

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use codedb_backends::testing::TestDatabase;
use serde_json::{Value, json};
use support::{codedb, git, stderr, stdout};

/// A `codedb serve` child spoken to line by line.
struct Mcp {
    child: Child,
    /// The server's stderr goes to a file: a pipe nobody reads would fill and block it.
    log: tempfile::NamedTempFile,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    next: u64,
}

impl Mcp {
    fn start(root: &Path, args: &[&str]) -> Mcp {
        let log = tempfile::NamedTempFile::new().unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_codedb"))
            .current_dir(root)
            .arg("serve")
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log.reopen().unwrap())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let mut mcp = Mcp {
            child,
            log,
            stdin,
            stdout,
            next: 1,
        };
        mcp.request(
            "initialize",
            json!({"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}),
        );
        mcp.send(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
        mcp
    }

    fn send(&mut self, v: &Value) {
        let stdin = self.stdin.as_mut().unwrap();
        writeln!(stdin, "{v}").unwrap();
        stdin.flush().unwrap();
    }

    fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.next;
        self.next += 1;
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        loop {
            let mut line = String::new();
            let n = self.stdout.read_line(&mut line).unwrap();
            assert!(
                n > 0,
                "the server closed its output while {method} was pending"
            );
            let v: Value = serde_json::from_str(&line).unwrap();
            if v["id"] == json!(id) {
                return v;
            }
        }
    }

    /// A tool call's structured result; panics (with the answer) unless it succeeded.
    fn call(&mut self, tool: &str, args: Value) -> Value {
        let answer = self.request("tools/call", json!({"name": tool, "arguments": args}));
        let result = &answer["result"];
        assert!(
            answer.get("error").is_none() && result["isError"] != json!(true),
            "{tool}: {answer}"
        );
        result["structuredContent"].clone()
    }

    /// Ends input and returns what the server wrote on stderr.
    fn finish(mut self) -> String {
        drop(self.stdin.take());
        let status = self.child.wait().unwrap();
        let log = fs::read_to_string(self.log.path()).unwrap();
        assert!(status.success(), "serve: {status:?} {log}");
        log
    }
}

fn git_project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    fs::write(
        root.join("parser.py"),
        "class Parser:\n    def parse(self, text):\n        return text.split()\n",
    )
    .unwrap();
    git(root, &["init", "-q", "-b", "main"]);
    git(root, &["config", "user.email", "t@example.com"]);
    git(root, &["config", "user.name", "t"]);
    git(root, &["add", "-A"]);
    git(root, &["commit", "-q", "-m", "init"]);
    dir
}

#[test]
fn every_tool_answers_on_every_backend_and_codedb_stays_out_of_git_status() {
    for db in TestDatabase::all() {
        let dir = git_project();
        let root = dir.path();
        let arg = db.arg();
        let mut mcp = Mcp::start(root, &["--root", ".", "--db", &arg]);
        let name = db.name();
        mcp.call("index", json!({}));
        assert_eq!(mcp.call("stats", json!({}))["classes"], 1, "{name}");
        mcp.call("symbol", json!({"name": "Parser"}));
        mcp.call("search", json!({"query": "parse"}));
        mcp.call("usages", json!({"name": "text"}));
        mcp.call("file", json!({"path": "parser.py"}));
        let edited = mcp.call(
            "edit",
            json!({"path": "parser.py", "content": "class Parser:\n    def parse(self, text):\n        return text.split(',')\n"}),
        );
        mcp.call(
            "replace_symbol",
            json!({"path": "parser.py", "symbol": "Parser.parse", "content": "def parse(self, text):\n    return [text]\n"}),
        );
        mcp.call(
            "create",
            json!({"path": "b.py", "content": "def b():\n    return 2\n"}),
        );
        mcp.call("move", json!({"from": "b.py", "to": "c.py"}));
        mcp.call("delete", json!({"path": "c.py"}));
        mcp.call("history", json!({"path": "parser.py"}));
        mcp.call("restore", json!({"path": "parser.py"}));
        mcp.call("schema_plan", json!({}));
        assert_eq!(
            mcp.call("verify", json!({}))["mismatches"],
            json!([]),
            "{name}"
        );
        let status = mcp.call("status", json!({}));
        assert_eq!(status["pid"], json!(mcp.child.id()), "{name}: {status}");
        assert!(edited["sha256"].is_string(), "{name}: {edited}");
        mcp.finish();
        // `.codedb/` holds its own `.gitignore`: the user's status stays clean.
        assert_eq!(git(root, &["status", "--porcelain"]), "", "{name}");
    }
}

/// The size limit over MCP: an `edit` over `limits.max_file_bytes` and a `move` of a file
/// over it (written by another program, so never indexed) are refused naming the key, with
/// nothing changed; `verify` stays clean.
#[test]
fn mcp_writes_over_the_size_limit_are_refused_naming_the_key() {
    for db in TestDatabase::all() {
        let dir = git_project();
        let root = dir.path();
        fs::write(
            root.join("codedb.toml"),
            "[limits]\nmax_file_bytes = 1000\n",
        )
        .unwrap();
        let big = format!("X = 1\n{}", "# padding\n".repeat(150));
        fs::write(root.join("big.py"), &big).unwrap();
        let arg = db.arg();
        let name = db.name();
        let mut mcp = Mcp::start(root, &["--root", ".", "--db", &arg]);
        mcp.call("index", json!({}));
        for (tool, args) in [
            ("edit", json!({"path": "parser.py", "content": big})),
            ("move", json!({"from": "big.py", "to": "moved.py"})),
        ] {
            let answer = mcp.request("tools/call", json!({"name": tool, "arguments": args}));
            let message = answer["error"]["message"].as_str().unwrap_or_default();
            assert!(
                message.contains("over the file size limit of 1000 bytes")
                    && message.contains("limits.max_file_bytes"),
                "{name} {tool}: {answer}"
            );
        }
        assert!(root.join("big.py").exists() && !root.join("moved.py").exists());
        assert_eq!(
            fs::read_to_string(root.join("parser.py")).unwrap(),
            "class Parser:\n    def parse(self, text):\n        return text.split()\n"
        );
        assert_eq!(
            mcp.call("verify", json!({}))["mismatches"],
            json!([]),
            "{name}"
        );
        mcp.finish();
    }
}

/// An MCP `edit` whose git commit fails after the commit point (the branch's ref locked by
/// another git) answers the report with `left_for_recover` and the new `sha256`, as the
/// command line exits 4; once the lock is gone, `recover` finishes it and `verify` is clean.
#[test]
fn an_mcp_edit_that_landed_with_git_left_says_so_and_recover_finishes_it() {
    for db in TestDatabase::all() {
        let dir = git_project();
        let root = dir.path();
        let arg = db.arg();
        let name = db.name();
        let mut mcp = Mcp::start(root, &["--root", ".", "--db", &arg]);
        mcp.call("index", json!({}));
        let lock = root.join(".git/refs/heads/main.lock");
        fs::write(&lock, "").unwrap();
        let content = "class Parser:\n    def parse(self, text):\n        return [text]\n";
        let answer = mcp.call("edit", json!({"path": "parser.py", "content": content}));
        let sha: String = {
            use sha2::Digest;
            sha2::Sha256::digest(content.as_bytes())
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect()
        };
        assert_eq!(answer["sha256"], json!(sha), "{name}: {answer}");
        let left = answer["left_for_recover"].to_string();
        assert!(left.contains("git commit failed"), "{name}: {answer}");
        assert_eq!(fs::read_to_string(root.join("parser.py")).unwrap(), content);
        mcp.finish();
        fs::remove_file(&lock).unwrap();
        let o = codedb(root, &["recover", "--db", &arg]);
        assert!(o.status.success(), "{name}: {}", stderr(&o));
        let o = codedb(root, &["verify", "--json", "--db", &arg]);
        assert!(o.status.success(), "{name}: {}{}", stdout(&o), stderr(&o));
        assert_eq!(
            git(root, &["show", "HEAD:parser.py"]),
            content.trim_end(),
            "{name}"
        );
    }
}

#[test]
fn index_and_the_first_command_keep_codedb_out_of_git_status() {
    let dir = git_project();
    let root = dir.path();
    let o = codedb(root, &["index", "."]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(git(root, &["status", "--porcelain"]), "");
    let ignore = fs::read_to_string(root.join(".codedb/.gitignore")).unwrap();
    assert!(ignore.lines().any(|l| l == "*"), "{ignore}");
    // A .gitignore the user wrote there is theirs: never rewritten.
    fs::write(root.join(".codedb/.gitignore"), "*\n# mine\n").unwrap();
    let o = codedb(root, &["index", "."]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        fs::read_to_string(root.join(".codedb/.gitignore")).unwrap(),
        "*\n# mine\n"
    );
}

/// Every output channel, searched for `secret`, its URL-encoded form and each of its halves
/// around its `@` (a password half-masked shows one of them).
fn assert_hidden(secret: &str, channel: &str, text: &str) {
    let encoded = secret.replace('@', "%40");
    for part in [secret, &encoded].into_iter().chain(secret.split('@')) {
        assert!(
            !text.contains(part),
            "the password (or {part}) is in {channel}: {text}"
        );
    }
}

#[test]
fn a_password_appears_on_no_output_channel() {
    let Some(pg) = TestDatabase::postgres() else {
        return; // the reason is printed
    };
    // The test server trusts local connections: any password is accepted, and none may show.
    // It holds an `@`: URL-encoded in the user information (where the client library needs
    // it so), as it is in the query.
    let secret = "Pw_s3cret@Tail_7q";
    let plain = pg.arg();
    let with_userinfo = plain.replacen(
        "postgres@",
        &format!("postgres:{}@", secret.replace('@', "%40")),
        1,
    );
    let with_query = format!("{plain}?password={secret}&application_name=codedb-test");
    let with_at = plain.replacen("postgres@", &format!("postgres:{secret}@x@"), 1);
    let dir = git_project();
    let root = dir.path();
    for url in [&with_userinfo, &with_query] {
        assert!(url.contains(secret.split('@').next().unwrap()));
        for args in [
            vec!["db", "info", "--db", url],
            vec!["db", "info", "--db", url, "--json", "-vvv"],
            vec!["schema", "plan", "--db", url, "-vvv"],
            vec!["index", ".", "--db", url, "--json", "-vvv"],
        ] {
            let o = codedb(root, &args);
            assert!(o.status.success(), "{args:?}: {}", stderr(&o));
            assert_hidden(secret, &format!("stdout of {args:?}"), &stdout(&o));
            assert_hidden(secret, &format!("stderr of {args:?}"), &stderr(&o));
        }
    }
    // Errors: a database that does not exist, a malformed URL, a password holding `@`.
    for url in [
        with_userinfo.replace(
            &format!("/{}", plain.rsplit('/').next().unwrap()),
            "/no_such_db_x",
        ),
        format!("postgres://postgres:{secret}@127.0.0.1:1/x?password={secret}"),
        format!("postgres://127.0.0.1:1/x?password={secret}"),
        with_at.clone(),
        format!("postgres://:{secret}@@@/?password={secret}&&"),
    ] {
        let o = codedb(root, &["db", "info", "--db", &url, "-vvv"]);
        assert!(!o.status.success(), "{url}");
        assert_hidden(secret, "an error", &stderr(&o));
        assert_hidden(secret, "an error's stdout", &stdout(&o));
    }
    // The server: its log at -vvv, its MCP answers, status.json and `codedb status`.
    let mut mcp = Mcp::start(root, &["--root", ".", "--db", &with_query, "-vvv"]);
    for (tool, args) in [
        ("status", json!({})),
        ("schema_plan", json!({})),
        ("stats", json!({})),
        ("index", json!({})),
    ] {
        let answer = mcp.call(tool, args);
        assert_hidden(secret, tool, &answer.to_string());
    }
    let status_file = fs::read_to_string(root.join(".codedb/status.json")).unwrap();
    let status = codedb(root, &["status", "--json"]);
    let log = mcp.finish();
    assert_hidden(secret, "the server's log", &log);
    assert_hidden(secret, "status.json", &status_file);
    assert_hidden(secret, "codedb status", &stdout(&status));
    // pg_dump gets the password in its environment, never on its command line.
    let bin = tempfile::tempdir().unwrap();
    let record = bin.path().join("record");
    let fake = bin.path().join("pg_dump");
    fs::write(
        &fake,
        format!(
            "#!/bin/sh\necho \"$@\" > '{r}.args'\necho \"$PGPASSWORD\" > '{r}.env'\n\
             while [ $# -gt 0 ]; do if [ \"$1\" = --file ]; then echo dump > \"$2\"; fi; shift; done\n",
            r = record.display()
        ),
    )
    .unwrap();
    std::os::unix::fs::PermissionsExt::set_mode(
        &mut fs::metadata(&fake).unwrap().permissions(),
        0o755,
    );
    fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}",
        bin.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    for url in [&with_userinfo, &with_query] {
        let o = Command::new(env!("CARGO_BIN_EXE_codedb"))
            .current_dir(root)
            .env("PATH", &path)
            .args([
                "backup",
                "create",
                "--db",
                url,
                "--backup-dir",
                "bk",
                "-vvv",
            ])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        assert_hidden(
            secret,
            "backup create's output",
            &format!("{}{}", stdout(&o), stderr(&o)),
        );
        let argv = fs::read_to_string(record.with_extension("args")).unwrap();
        assert_hidden(secret, "pg_dump's command line", &argv);
        assert!(argv.contains("127.0.0.1"), "{argv}");
        assert_eq!(
            fs::read_to_string(record.with_extension("env"))
                .unwrap()
                .trim(),
            secret
        );
    }
}

#[test]
fn a_server_that_accepts_and_never_answers_is_a_clear_error_in_bounded_time() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    // Accepts, holds each connection open, never writes a byte.
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().take(16) {
            held.push(stream);
        }
        std::thread::sleep(Duration::from_secs(120));
    });
    let dir = tempfile::tempdir().unwrap();
    let url = format!("postgres://u:hidden@127.0.0.1:{port}/db?connect_timeout=1");
    let start = Instant::now();
    let o = codedb(dir.path(), &["db", "info", "--db", &url]);
    let took = start.elapsed();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("no answer from the server within 1000 ms"),
        "{err}"
    );
    assert!(!err.contains("hidden"), "{err}");
    assert!(took < Duration::from_secs(30), "took {took:?}");
    // The configuration's key, for the server.
    fs::write(
        dir.path().join("codedb.toml"),
        format!("[database]\ndriver = \"postgres\"\nurl = \"postgres://u@127.0.0.1:{port}/db\"\nconnect_timeout_ms = 500\n"),
    )
    .unwrap();
    let start = Instant::now();
    let o = codedb(
        dir.path(),
        &["serve", "--root", ".", "--config", "codedb.toml"],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("within 500 ms"), "{}", stderr(&o));
    assert!(start.elapsed() < Duration::from_secs(30));
}

#[test]
fn out_of_range_configuration_values_exit_2_before_anything_is_created() {
    for (text, key, line) in [
        (
            "[worker]\nqueue_capacity = 1000000000000\n",
            "worker.queue_capacity",
            2,
        ),
        (
            "[worker]\nqueue_capacity = 100000000\n",
            "worker.queue_capacity",
            2,
        ),
        (
            "[worker]\n\nbusy_timeout_ms = 2147483648\n",
            "worker.busy_timeout_ms",
            3,
        ),
        ("[storage]\nkeep_backups = 0\n", "storage.keep_backups", 2),
        (
            "[maintenance]\ninterval_ms = 99999999999\n",
            "maintenance.interval_ms",
            2,
        ),
        ("[database]\npool_size = 100000\n", "database.pool_size", 2),
    ] {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("codedb.toml"), text).unwrap();
        let o = codedb(
            dir.path(),
            &["serve", "--root", ".", "--config", "codedb.toml"],
        );
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{text}: {err}");
        assert!(
            err.contains(key) && err.contains(&format!("line {line}")),
            "{text}: {err}"
        );
        assert!(
            !dir.path().join(".codedb").exists(),
            "{text}: something was created"
        );
    }
}

#[test]
fn serve_logs_each_startup_step_on_stderr_by_default() {
    let dir = tempfile::tempdir().unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_codedb"))
        .current_dir(dir.path())
        .args(["serve", "--root", "."])
        .stdin(Stdio::null()) // end of input at once: start, then shut down
        .output()
        .unwrap();
    let log = stderr(&o);
    assert!(
        !log.contains('\u{1b}'),
        "colour codes in a log that is not a terminal: {log}"
    );
    for step in [
        "config",
        "recover",
        "database",
        "schema",
        "recover_database",
        "workers",
        "ready",
    ] {
        assert!(
            log.contains(&format!("step=\"{step}\"")),
            "{step} missing: {log}"
        );
    }
}

#[test]
fn postgres_connections_carry_a_statement_timeout_unless_the_url_sets_one() {
    let Some(pg) = TestDatabase::postgres() else {
        return; // the reason is printed
    };
    let show = |url: &str, timeout: Option<Duration>| {
        let mut config = codedb_backends::PostgresConfig::new(url);
        config.statement_timeout = timeout;
        let backend = codedb_backends::Backend::open_postgres(&config).unwrap();
        let value = backend
            .driver()
            .query("SHOW statement_timeout", vec![])
            .unwrap()
            .scalar::<String>()
            .unwrap();
        backend.stop().unwrap();
        value
    };
    let url = pg.arg();
    assert_eq!(show(&url, Some(Duration::from_secs(300))), "5min");
    assert_eq!(show(&url, Some(Duration::from_millis(1500))), "1500ms");
    assert_eq!(
        show(
            &format!("{url}?options=-c%20statement_timeout%3D7s"),
            Some(Duration::from_secs(300))
        ),
        "7s"
    );
}

#[test]
fn a_statement_over_the_configured_timeout_fails_saying_it_timed_out() {
    let Some(pg) = TestDatabase::postgres() else {
        return; // the reason is printed
    };
    let dir = tempfile::tempdir().unwrap();
    let config = codedb_server::Config::parse(
        &format!(
            "[database]\ndriver = \"postgres\"\nurl = \"{}\"\nstatement_timeout_ms = 200\n",
            pg.arg()
        ),
        Path::new("codedb.toml"),
    )
    .unwrap();
    let backend = config.open_database(dir.path()).unwrap();
    let start = Instant::now();
    let err = backend
        .driver()
        .query("SELECT pg_sleep(5)", vec![])
        .unwrap_err();
    let took = start.elapsed();
    backend.stop().unwrap();
    assert_eq!(err.kind(), codedb_driver::ErrorKind::Timeout, "{err}");
    let message = err.to_string();
    assert!(
        message.contains("timed out") && message.contains("statement_timeout_ms"),
        "{message}"
    );
    assert!(took < Duration::from_secs(4), "took {took:?}");
}
