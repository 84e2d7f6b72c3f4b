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
