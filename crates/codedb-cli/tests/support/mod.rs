//! What the CLI's test files share: running the `codedb` binary (on each backend this
//! machine has) and git, reading what they printed, and a seeded generator for kill tests.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

pub mod http;

use std::path::Path;
use std::process::{Command, Output};

/// Runs the `codedb` binary built for these tests in `dir`.
pub fn codedb(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_codedb"))
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run codedb")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs git in `root`; fails the test (with git's stderr) unless it succeeds.
pub fn git(root: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .current_dir(root)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A fresh git repository in `root` with everything in it committed (`.codedb/` ignored).
pub fn commit_all_new(root: &Path) {
    std::fs::write(root.join(".gitignore"), ".codedb/\n").unwrap();
    git(root, &["init", "-q", "-b", "main"]);
    git(root, &["config", "user.email", "test@example.com"]);
    git(root, &["config", "user.name", "test"]);
    git(root, &["add", "-A"]);
    git(root, &["commit", "-q", "-m", "init"]);
}

/// The databases to run on: a SQLite file in `root`, and PostgreSQL when a server answers
/// (name, `--db` value, the test database to drop afterwards).
pub fn databases(
    root: &Path,
) -> Vec<(
    &'static str,
    String,
    Option<codedb_backends::testing::TestDatabase>,
)> {
    let mut dbs = vec![(
        "sqlite",
        root.join(".codedb/codedb.sqlite")
            .to_str()
            .unwrap()
            .to_owned(),
        None,
    )];
    if let Some(pg) = codedb_backends::testing::TestDatabase::postgres() {
        dbs.push(("postgres", pg.arg(), Some(pg)));
    }
    dbs
}

/// Runs `codedb ARGS --db DB` in `root`.
pub fn run_on(root: &Path, db: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_codedb"))
        .current_dir(root)
        .args(args)
        .args(["--db", db])
        .output()
        .unwrap()
}

/// `codedb ARGS --json --db DB` in `root`, which must succeed: its JSON.
pub fn json_on(root: &Path, db: &str, args: &[&str]) -> serde_json::Value {
    let mut all = args.to_vec();
    all.push("--json");
    let o = run_on(root, db, &all);
    assert!(o.status.success(), "codedb {args:?}: {}", stderr(&o));
    serde_json::from_slice(&o.stdout).unwrap()
}

/// A small deterministic generator (xorshift), seeded from the clock and printed.
pub struct Rng(pub u64);

impl Rng {
    /// A generator seeded from the clock, and its seed (print it: a failure replays with it).
    pub fn from_clock() -> (Rng, u64) {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64
            | 1;
        (Rng(seed), seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Runs `future` to its end on a runtime of two worker threads (a test that makes a
/// PostgreSQL test database does so outside the runtime: its client blocks).
pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(future)
}

/// An MCP client of `codedb serve --root ROOT --db DB`, over the child's stdio.
pub async fn serve_mcp(
    root: &Path,
    db: &str,
) -> rmcp::service::RunningService<rmcp::RoleClient, ()> {
    use rmcp::ServiceExt;
    use rmcp::transport::{ConfigureCommandExt, TokioChildProcess};
    let transport = TokioChildProcess::new(
        tokio::process::Command::new(env!("CARGO_BIN_EXE_codedb")).configure(|cmd| {
            cmd.arg("serve").arg("--root").arg(root).arg("--db").arg(db);
        }),
    )
    .unwrap();
    ().serve(transport).await.unwrap()
}

/// Calls the tool `name` with `args` (an object): its structured answer, or the error as
/// text (a protocol error, or a tool error's content).
pub async fn call_tool(
    client: &rmcp::service::RunningService<rmcp::RoleClient, ()>,
    name: &'static str,
    args: serde_json::Value,
) -> Result<serde_json::Value, String> {
    let params = rmcp::model::CallToolRequestParams::new(name)
        .with_arguments(args.as_object().unwrap().clone());
    let r = client.call_tool(params).await.map_err(|e| e.to_string())?;
    if r.is_error == Some(true) {
        return Err(format!("{:?}", r.content));
    }
    Ok(r.structured_content.unwrap_or_default())
}

/// Runs `codedb ARGS --db DB` in `root`, which must fail with exit `code` and say `needle`.
pub fn fails_on(root: &Path, db: &str, args: &[&str], code: i32, needle: &str) {
    let o = run_on(root, db, args);
    assert_eq!(
        o.status.code(),
        Some(code),
        "codedb {args:?}: {}",
        stderr(&o)
    );
    assert!(
        stderr(&o).contains(needle),
        "codedb {args:?}: {} lacks {needle:?}",
        stderr(&o)
    );
}

/// Starts `codedb ARGS` in `root` (output discarded) and kills it with SIGKILL after
/// `delay`, waiting for it to end.
pub fn kill_9_after(root: &Path, args: &[&str], delay: std::time::Duration) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_codedb"))
        .current_dir(root)
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(delay);
    let _ = child.kill(); // SIGKILL
    let _ = child.wait();
}
