//! The server in-process: its startup order (a database that needs a schema change is
//! backed up and synced before any worker starts; a refused sync starts none), the file
//! watcher (an edit by another program is indexed within 2 s; a burst of 1,000 changes is
//! coalesced and none is lost; a file over the size limit is skipped), and the status of the
//! workers.
#![allow(clippy::unwrap_used, clippy::print_stdout)]

use std::path::Path;
use std::time::{Duration, Instant};

use codedb_core::{CodeDatabase, CodeStore, Executor, SyncOptions, params};
use codedb_server::{Server, StartError, State};

fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.py"), "def a():\n    return 1\n").unwrap();
    dir
}

/// A database at the default place with the code schema, then changed by `sql`.
fn database_with(root: &Path, sql: &str) {
    std::fs::create_dir_all(root.join(".codedb")).unwrap();
    let m = codedb_sqlite::open(root.join(".codedb/codedb.sqlite")).unwrap();
    let db = CodeDatabase::open_with_schema(m.driver(), m.schema_backend()).unwrap();
    db.ensure_schema_synced(&SyncOptions::default()).unwrap();
    for statement in sql.split(';').map(str::trim).filter(|s| !s.is_empty()) {
        db.execute(statement, params![]).unwrap();
    }
    m.stop().unwrap();
}

fn wait_until(limit: Duration, mut f: impl FnMut() -> bool) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if f() {
            return Some(start.elapsed());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

#[test]
fn startup_runs_in_order_and_a_schema_change_is_backed_up_before_any_worker() {
    let dir = project();
    // A database from before the commands table existed.
    database_with(dir.path(), "DROP TABLE commands;");
    let count = || std::fs::read_dir(dir.path().join(".codedb/backups")).map_or(0, |d| d.count());
    let before = count();
    let server = Server::start(dir.path(), None).unwrap();
    assert_eq!(
        server.steps(),
        [
            "config",
            "recover",
            "database",
            "schema",
            "recover_database",
            "workers",
            "ready"
        ]
    );
    assert_eq!(count(), before + 1, "one backup, taken by the sync");
    let n: i64 = server
        .database()
        .query_scalar(
            "SELECT count(*) FROM sqlite_master WHERE name = 'commands'",
            params![],
        )
        .unwrap();
    assert_eq!(n, 1);
    let names: Vec<String> = server.status().into_iter().map(|s| s.name).collect();
    assert_eq!(names, ["db", "watcher", "maintenance"]);
    server.shutdown();
    let status: codedb_server::StatusFile = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join(".codedb/status.json")).unwrap(),
    )
    .unwrap();
    assert!(
        status.workers.iter().all(|w| w.state == State::Stopped),
        "{status:?}"
    );
}

#[test]
fn a_refused_sync_starts_no_worker() {
    let dir = project();
    // files.size as TEXT: only a rebuild would fix it.
    database_with(
        dir.path(),
        "PRAGMA foreign_keys=OFF; CREATE TABLE files2 AS SELECT * FROM files; DROP TABLE files; \
         CREATE TABLE files (id INTEGER PRIMARY KEY, project_id INTEGER NOT NULL, path TEXT NOT NULL, \
         language TEXT, size TEXT NOT NULL DEFAULT '0', mtime_ns INTEGER NOT NULL DEFAULT 0, \
         sha256 TEXT NOT NULL DEFAULT '', lines INTEGER NOT NULL DEFAULT 0, deleted INTEGER NOT NULL DEFAULT 0, \
         indexed_at INTEGER, UNIQUE (project_id, path)); DROP TABLE files2; \
         DROP INDEX classes_name;",
    );
    let db = dir.path().join(".codedb/codedb.sqlite");
    let dump = || {
        let m = codedb_sqlite::open(&db).unwrap();
        let s = m.schema_backend().introspect().unwrap().ddl();
        m.stop().unwrap();
        s
    };
    let before = dump();
    let backups = || std::fs::read_dir(dir.path().join(".codedb/backups")).map_or(0, |d| d.count());
    let backups_before = backups();
    let err = Server::start(dir.path(), None).unwrap_err();
    assert!(matches!(err, StartError::RebuildNeeded { .. }), "{err}");
    let msg = err.to_string();
    assert!(msg.contains("files") && msg.contains("rebuild"), "{msg}");
    assert!(
        !dir.path().join(".codedb/status.json").exists(),
        "no worker ever started"
    );
    // A refused startup changes nothing: no backup, no safe step (the dropped index stays
    // dropped), and it names the exact command for this database, runnable from anywhere.
    assert_eq!(backups(), backups_before, "a backup was taken");
    assert_eq!(dump(), before, "the refused startup changed the schema");
    assert!(
        msg.contains(&format!(
            "codedb schema sync --allow-rebuild --db {} --backup-dir {}",
            dir.path()
                .canonicalize()
                .unwrap()
                .join(".codedb/codedb.sqlite")
                .display(),
            dir.path()
                .canonicalize()
                .unwrap()
                .join(".codedb/backups")
                .display()
        )),
        "{msg}"
    );
}

#[test]
fn a_bad_config_starts_nothing() {
    let dir = project();
    let config = dir.path().join("codedb.toml");
    std::fs::write(&config, "[watcher]\ndebounce = 5\n").unwrap();
    let err = Server::start(dir.path(), Some(&config)).unwrap_err();
    assert!(matches!(err, StartError::Config(_)), "{err}");
    assert!(err.to_string().contains("line 2"), "{err}");
    assert!(!dir.path().join(".codedb").exists(), "nothing created");
}

#[test]
fn the_watcher_indexes_changes_by_other_programs_and_coalesces_bursts() {
    let dir = project();
    let config = dir.path().join("codedb.toml");
    std::fs::write(&config, "[watcher]\ndebounce_ms = 200\n").unwrap();
    let server = Server::start(dir.path(), Some(&config)).unwrap();
    let db = server.database();
    // Indexed by the first change the watcher sees, or by this edit.
    std::fs::write(dir.path().join("b.py"), "def b():\n    return 2\n").unwrap();
    let took = wait_until(Duration::from_secs(2), || {
        !db.find_symbol(codedb_core::Scope::All, "b")
            .unwrap()
            .is_empty()
    });
    let took = took.expect("the edit was not indexed within 2 s");
    println!("an edit by another program was indexed after {took:?}");
    // Edit again: the new definition replaces the old.
    std::fs::write(dir.path().join("b.py"), "def b2():\n    return 2\n").unwrap();
    assert!(
        wait_until(Duration::from_secs(2), || db
            .find_symbol(codedb_core::Scope::All, "b")
            .unwrap()
            .is_empty()
            && !db
                .find_symbol(codedb_core::Scope::All, "b2")
                .unwrap()
                .is_empty())
        .is_some()
    );
    // A burst of 1,000 new files.
    let runs_before = server.watcher_runs();
    std::fs::create_dir(dir.path().join("burst")).unwrap();
    for i in 0..1000 {
        std::fs::write(
            dir.path().join(format!("burst/m{i}.py")),
            format!("def f{i}():\n    return {i}\n"),
        )
        .unwrap();
    }
    let all = wait_until(Duration::from_secs(30), || {
        db.stats(codedb_core::Scope::All, Some("python"))
            .unwrap()
            .files
            == 1002
    });
    assert!(
        all.is_some(),
        "files indexed: {}",
        db.stats(codedb_core::Scope::All, Some("python"))
            .unwrap()
            .files
    );
    for i in [0, 499, 999] {
        assert_eq!(
            db.find_symbol(codedb_core::Scope::All, &format!("f{i}"))
                .unwrap()
                .len(),
            1
        );
    }
    let runs = server.watcher_runs() - runs_before;
    println!("1,000 new files indexed in {runs} watcher runs");
    assert!(runs <= 20, "{runs} runs for one burst: not coalesced");
    // Files removed by another program are removed from the index.
    std::fs::remove_dir_all(dir.path().join("burst")).unwrap();
    assert!(
        wait_until(Duration::from_secs(10), || db
            .stats(codedb_core::Scope::All, Some("python"))
            .unwrap()
            .files
            == 2)
        .is_some()
    );
    assert!(server.status().iter().all(|w| w.state == State::Running));
}

/// The watcher keeps the one size limit (`limits.max_file_bytes`): a file another program
/// writes over it is not indexed, a file under it written with it is, and `verify` stays
/// clean (the file over the limit is one the index leaves out, not a missing row).
#[test]
fn the_watcher_skips_a_file_over_the_size_limit_and_verify_stays_clean() {
    let dir = project();
    let config = dir.path().join("codedb.toml");
    std::fs::write(
        &config,
        "[limits]\nmax_file_bytes = 1000\n\n[watcher]\ndebounce_ms = 100\n",
    )
    .unwrap();
    let server = Server::start(dir.path(), Some(&config)).unwrap();
    let db = server.database();
    let big = format!("def big():\n    return 1\n{}", "# padding\n".repeat(150));
    std::fs::write(dir.path().join("big.py"), big).unwrap();
    std::fs::write(dir.path().join("small.py"), "def small():\n    return 2\n").unwrap();
    let found = |name: &str| {
        !db.find_symbol(codedb_core::Scope::All, name)
            .unwrap()
            .is_empty()
    };
    assert!(
        wait_until(Duration::from_secs(5), || found("small")).is_some(),
        "small.py was not indexed within 5 s"
    );
    // Both files were written before the burst that indexed small.py ended.
    assert!(!found("big"), "a file over the limit was indexed");
    let project = codedb_commands::Project::open(
        db,
        &dir.path().canonicalize().unwrap(),
        server.config().command_options(),
    )
    .unwrap();
    let report = codedb_commands::verify(&project).unwrap();
    assert!(report.is_clean(), "{report:?}");
    server.shutdown();
}

#[test]
fn a_postgres_database_from_the_config_serves_the_same_startup_and_tools() {
    let Some(pg) = codedb_backends::testing::TestDatabase::postgres() else {
        return; // the reason is printed
    };
    let dir = project();
    let config = dir.path().join("codedb.toml");
    std::fs::write(
        &config,
        format!(
            "[database]\ndriver = \"postgres\"\nurl = \"{}\"\npool_size = 4\n\n[watcher]\ndebounce_ms = 50\n",
            pg.arg()
        ),
    )
    .unwrap();
    let server = Server::start(dir.path(), Some(&config)).unwrap();
    assert_eq!(server.steps().len(), 7, "{:?}", server.steps());
    assert!(
        !dir.path().join(".codedb/codedb.sqlite").exists(),
        "no SQLite file when the config names PostgreSQL"
    );
    // The catch-up index at start, through the watcher, into PostgreSQL.
    let found = wait_until(Duration::from_secs(10), || {
        server
            .database()
            .find_symbol(codedb_core::Scope::All, "a")
            .is_ok_and(|hits| hits.len() == 1)
    });
    assert!(found.is_some(), "a.py was indexed into PostgreSQL");
    let backups: Vec<String> = std::fs::read_dir(dir.path().join(".codedb/backups"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        backups.iter().all(|b| b.ends_with(".pgdump")) && !backups.is_empty(),
        "{backups:?}"
    );
    let status = server.status();
    assert!(
        status.iter().all(|s| s.state == State::Running),
        "{status:?}"
    );
    server.shutdown();
}

#[test]
fn database_settings_that_cannot_work_are_refused_with_their_line() {
    let dir = project();
    let config = dir.path().join("codedb.toml");
    for (text, key) in [
        ("[database]\ndriver = \"postgres\"\n", "database.url"),
        (
            "[database]\ndriver = \"sqlite\"\nurl = \"postgres://h/db\"\n",
            "database.url",
        ),
        (
            "[database]\ndriver = \"postgres\"\nurl = \"mysql://h/db\"\n",
            "database.url",
        ),
        (
            "[database]\ndriver = \"postgres\"\nurl = \"postgres://h/db\"\npool_size = 0\n",
            "database.pool_size",
        ),
    ] {
        std::fs::write(&config, text).unwrap();
        let err = Server::start(dir.path(), Some(&config)).unwrap_err();
        assert!(matches!(err, StartError::Config(_)), "{err}");
        let msg = err.to_string();
        assert!(msg.contains(key) && msg.contains("line"), "{text}: {msg}");
    }
    assert!(!dir.path().join(".codedb").exists(), "nothing created");
}

#[test]
fn maintenance_goes_on_past_a_backup_it_cannot_prune() {
    let dir = project();
    database_with(dir.path(), "");
    // A directory named like a backup of this database: pruning once failed on it, the
    // maintenance worker went unhealthy after five restarts, and checkpoints stopped with it.
    let backups = dir.path().join(".codedb/backups");
    std::fs::create_dir_all(backups.join("codedb.20000101T000000Z.0000000000000000.sqlite"))
        .unwrap();
    let config = dir.path().join("codedb.toml");
    std::fs::write(
        &config,
        "[storage]\nkeep_backups = 1\n[maintenance]\ninterval_ms = 100\n[watcher]\nenabled = false\n",
    )
    .unwrap();
    let server = Server::start(dir.path(), Some(&config)).unwrap();
    std::thread::sleep(Duration::from_millis(1200));
    let maintenance = server
        .status()
        .into_iter()
        .find(|s| s.name == "maintenance")
        .unwrap();
    assert_eq!(maintenance.restarts, 0, "{maintenance:?}");
    assert!(
        matches!(maintenance.state, State::Running),
        "{maintenance:?}"
    );
    server.shutdown();
    assert!(
        backups
            .join("codedb.20000101T000000Z.0000000000000000.sqlite")
            .is_dir()
    );
}
