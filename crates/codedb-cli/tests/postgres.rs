//! The `codedb` binary on PostgreSQL (`--db postgres://...`): eight processes indexing and
//! editing disjoint files of one project on one database at once lose nothing, and `verify`
//! is clean afterwards. Skipped, saying why, when no PostgreSQL server answers (see
//! `codedb_backends::testing`).
#![allow(clippy::unwrap_used, clippy::print_stdout)]

mod support;

use std::fs;
use std::process::{Command, Output};

use codedb_backends::testing::TestDatabase;
use support::{codedb, git};

fn ok(o: &Output, what: &str) -> serde_json::Value {
    assert!(
        o.status.success(),
        "{what}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).unwrap_or(serde_json::Value::Null)
}

const PROCESSES: usize = 8;
const ROUNDS: usize = 4;

#[test]
fn eight_processes_index_and_edit_disjoint_files_of_one_project_on_one_database() {
    let Some(pg) = TestDatabase::postgres() else {
        return; // the reason is printed
    };
    let url = pg.arg();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    for p in 0..PROCESSES {
        fs::create_dir(root.join(format!("w{p}"))).unwrap();
        for f in 0..2 {
            fs::write(
                root.join(format!("w{p}/f{f}.py")),
                format!("def w{p}_f{f}():\n    return 0\n"),
            )
            .unwrap();
        }
    }
    fs::write(root.join(".gitignore"), ".codedb/\nscratch/\n").unwrap();
    git(&root, &["init", "-q", "-b", "main"]);
    git(&root, &["config", "user.email", "t@example.com"]);
    git(&root, &["config", "user.name", "t"]);
    git(&root, &["add", "-A"]);
    git(&root, &["commit", "-q", "-m", "init"]);
    fs::create_dir(root.join("scratch")).unwrap();
    let root_s = root.to_str().unwrap().to_owned();
    ok(
        &codedb(&root, &["index", &root_s, "--db", &url, "--json"]),
        "first index",
    );
    let commits_before: usize = git(&root, &["rev-list", "--count", "HEAD"])
        .parse()
        .unwrap();

    // Each process owns w{p}/: every round it edits f0.py through codedb (file, database
    // and git together), writes f1.py and a new file behind codedb's back, and indexes the
    // whole project (which also finds what the other processes are doing meanwhile).
    let workers: Vec<_> = (0..PROCESSES)
        .map(|p| {
            let (root, root_s, url) = (root.clone(), root_s.clone(), url.clone());
            std::thread::spawn(move || {
                for r in 0..ROUNDS {
                    let content = root.join(format!("scratch/p{p}.py"));
                    fs::write(&content, format!("def w{p}_f0():\n    return {}\n", r + 1)).unwrap();
                    let edit = codedb(
                        &root,
                        &[
                            "edit",
                            &format!("w{p}/f0.py"),
                            "--content-file",
                            content.to_str().unwrap(),
                            "--db",
                            &url,
                            "--root",
                            &root_s,
                            "--json",
                        ],
                    );
                    ok(&edit, &format!("process {p} round {r}: edit"));
                    fs::write(
                        root.join(format!("w{p}/f1.py")),
                        format!("def w{p}_f1():\n    return {}\n", r + 1),
                    )
                    .unwrap();
                    fs::write(
                        root.join(format!("w{p}/new{r}.py")),
                        format!("class W{p}New{r}:\n    pass\n"),
                    )
                    .unwrap();
                    let index = codedb(&root, &["index", &root_s, "--db", &url, "--json"]);
                    ok(&index, &format!("process {p} round {r}: index"));
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }

    // Every edit landed: its commit, its bytes, its row.
    let commits: usize = git(&root, &["rev-list", "--count", "HEAD"])
        .parse()
        .unwrap();
    assert_eq!(commits, commits_before + PROCESSES * ROUNDS);
    let verify = ok(
        &codedb(
            &root,
            &["verify", "--db", &url, "--root", &root_s, "--json"],
        ),
        "verify",
    );
    assert_eq!(
        verify["mismatches"].as_array().map(Vec::len),
        Some(0),
        "{verify}"
    );
    assert_eq!(verify["pending_intents"], 0, "{verify}");
    // Nothing written behind codedb's back was lost either: every file and every class.
    let stats = ok(
        &codedb(&root, &["query", "stats", "--db", &url, "--json"]),
        "stats",
    );
    assert_eq!(stats["files"], PROCESSES * (2 + ROUNDS), "{stats}");
    assert_eq!(stats["classes"], PROCESSES * ROUNDS, "{stats}");
    for p in 0..PROCESSES {
        let hits = ok(
            &codedb(
                &root,
                &[
                    "query",
                    "search",
                    &format!("w{p}_f1"),
                    "--db",
                    &url,
                    "--json",
                ],
            ),
            "search",
        );
        assert!(
            hits.to_string().contains(&format!("w{p}/f1.py")),
            "w{p}/f1.py is searchable: {hits}"
        );
    }
}

#[test]
fn a_missing_pg_dump_stops_the_sync_clearly_and_no_backup_is_the_explicit_way_on() {
    let Some(pg) = TestDatabase::postgres() else {
        return; // the reason is printed
    };
    let url = pg.arg();
    let dir = tempfile::tempdir().unwrap();
    // No pg_dump on this PATH.
    let o = Command::new(env!("CARGO_BIN_EXE_codedb"))
        .current_dir(dir.path())
        .env("PATH", dir.path())
        .args(["schema", "sync", "--db", &url])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("pg_dump"), "{err}");
    assert!(!err.contains("secret"), "{err}");
    let tables = || {
        let o = codedb(dir.path(), &["schema", "dump", "--db", &url, "--json"]);
        ok(&o, "schema dump")["ddl"]
            .as_str()
            .unwrap_or("")
            .matches("CREATE TABLE")
            .count()
    };
    assert_eq!(tables(), 0, "the database is unchanged");
    let o = Command::new(env!("CARGO_BIN_EXE_codedb"))
        .current_dir(dir.path())
        .env("PATH", dir.path())
        .args(["schema", "sync", "--no-backup", "--db", &url, "--json"])
        .output()
        .unwrap();
    let report = ok(&o, "schema sync --no-backup");
    assert_eq!(report["backup_path"], serde_json::Value::Null, "{report}");
    assert!(tables() >= 12, "the code schema was created");
    assert!(
        !dir.path().join(".codedb").exists(),
        "schema commands outside a project make no .codedb/ (it would mark a project root)"
    );
}

#[test]
fn serve_takes_a_postgres_url_from_the_command_line() {
    let Some(pg) = TestDatabase::postgres() else {
        return; // the reason is printed
    };
    let url = pg.arg();
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("a.py"), "def served():\n    return 1\n").unwrap();
    let root = dir.path().to_str().unwrap();
    // End of input at once: the server starts (schema sync into PostgreSQL, recovery,
    // workers), then finds no MCP client and stops.
    let o = Command::new(env!("CARGO_BIN_EXE_codedb"))
        .current_dir(dir.path())
        .args(["serve", "--db", &url, "--root", root])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("MCP initialization"), "{err}");
    assert!(!dir.path().join(".codedb/codedb.sqlite").exists());
    let dump = ok(
        &codedb(dir.path(), &["schema", "dump", "--db", &url, "--json"]),
        "schema dump",
    );
    assert!(
        dump["ddl"].as_str().unwrap_or("").contains("CREATE TABLE"),
        "serve synced the code schema into PostgreSQL: {dump}"
    );
    let o = codedb(dir.path(), &["index", root, "--db", &url, "--json"]);
    ok(&o, "index");
    let hits = ok(
        &codedb(
            dir.path(),
            &["query", "symbol", "served", "--db", &url, "--json"],
        ),
        "query",
    );
    assert!(hits.to_string().contains("a.py"), "{hits}");
}

/// A tree of `n` Python modules under `root`.
fn modules(root: &std::path::Path, n: usize) {
    fs::create_dir_all(root).unwrap();
    for i in 0..n {
        let body: String = (0..20)
            .map(|k| format!("def f{i}_{k}(x):\n    return helper_{k}(x) + {i}\n\n"))
            .collect();
        fs::write(
            root.join(format!("m{i}.py")),
            format!("class M{i}:\n    pass\n\n{body}"),
        )
        .unwrap();
    }
}

#[test]
fn an_index_killed_mid_transaction_holds_up_no_one_and_the_next_run_finishes_it() {
    let Some(pg) = TestDatabase::postgres() else {
        return; // the reason is printed
    };
    let url = pg.arg();
    let dir = tempfile::tempdir().unwrap();
    let top = dir.path().canonicalize().unwrap();
    let (a, b) = (top.join("a"), top.join("b"));
    modules(&a, 600);
    modules(&b, 300);
    ok(
        &codedb(&top, &["schema", "sync", "--db", &url]),
        "schema sync",
    );
    // Project a's index run is killed (-9) while it writes; project b's run beside it
    // finishes, and so does a's next run: no lock outlives its client.
    let mut killed = Command::new(env!("CARGO_BIN_EXE_codedb"))
        .current_dir(&top)
        .args(["index", a.to_str().unwrap(), "--db", &url])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let other = {
        let (top, b, url) = (top.clone(), b.clone(), url.clone());
        std::thread::spawn(move || {
            ok(
                &codedb(
                    &top,
                    &["index", b.to_str().unwrap(), "--db", &url, "--json"],
                ),
                "project b",
            )
        })
    };
    std::thread::sleep(std::time::Duration::from_millis(1500));
    killed.kill().unwrap();
    let status = killed.wait().unwrap();
    let b_report = other.join().unwrap();
    assert_eq!(b_report["files_indexed"], 300, "{b_report}");
    let started = std::time::Instant::now();
    let a_report = ok(
        &codedb(
            &top,
            &["index", a.to_str().unwrap(), "--db", &url, "--json"],
        ),
        "project a again",
    );
    println!(
        "killed run: {status:?}; next run: {a_report} in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let stats = |root: &std::path::Path| {
        ok(
            &codedb(root, &["query", "stats", "--db", &url, "--json"]),
            "stats",
        )
    };
    assert_eq!(stats(&a)["files"], 600);
    assert_eq!(stats(&a)["functions"], 600 * 20);
    assert_eq!(stats(&b)["files"], 300);
    for root in [&a, &b] {
        let verify = ok(
            &codedb(
                root,
                &[
                    "verify",
                    "--db",
                    &url,
                    "--root",
                    root.to_str().unwrap(),
                    "--json",
                ],
            ),
            "verify",
        );
        assert_eq!(verify["mismatches"], serde_json::json!([]), "{verify}");
    }
}

/// `codedb index` takes `database.*` from the project's `codedb.toml` as the server does:
/// with `statement_timeout_ms = 300`, a writer that another connection keeps waiting gives
/// up after about that long, saying so, instead of waiting out the other (it used the
/// built-in 5 minutes: only the URL's options were read).
#[test]
fn index_honours_the_statement_timeout_of_codedb_toml() {
    let Some(pg) = TestDatabase::postgres() else {
        return; // the reason is printed
    };
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    fs::write(root.join("a.py"), "def a():\n    return 1\n").unwrap();
    fs::write(
        root.join("codedb.toml"),
        format!(
            "[database]\ndriver = \"postgres\"\nurl = \"{}\"\nstatement_timeout_ms = 300\n",
            pg.arg()
        ),
    )
    .unwrap();
    let root_s = root.to_str().unwrap().to_owned();
    ok(&codedb(&root, &["index", &root_s, "--json"]), "first index");
    fs::write(root.join("a.py"), "def a():\n    return 2\n").unwrap();
    // Every codedb writer takes the database key, shared or exclusive: held exclusively
    // here, it keeps them all waiting.
    let holder = pg.open();
    let mut tx = holder.driver().begin().unwrap();
    tx.query("SELECT pg_advisory_xact_lock(1668244581)", Vec::new())
        .unwrap();
    let started = std::time::Instant::now();
    let out = codedb(&root, &["index", &root_s, "--json"]);
    let took = started.elapsed();
    tx.rollback().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "the index waited the lock out: {stderr}"
    );
    assert!(stderr.contains("statement_timeout"), "{stderr}");
    assert!(
        took < std::time::Duration::from_secs(20),
        "gave up only after {took:?}"
    );
    holder.stop().unwrap();
    ok(
        &codedb(&root, &["index", &root_s, "--json"]),
        "index after the lock",
    );
}
