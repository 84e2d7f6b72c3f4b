//! `codedb schema` and `codedb backup` as a user runs them, bad input included.
#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

mod support;

use std::fs;
use std::path::Path;
use std::process::Output;
use support::{codedb, stderr};

fn json(o: &Output) -> serde_json::Value {
    assert!(
        o.status.success(),
        "exit {:?}: {}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&o.stdout)))
}

/// Runs `sql` (statements and data) on the database at `path` through the library.
fn seed(path: &Path, sql: &str) {
    let manager = codedb_sqlite::open(path).unwrap();
    manager
        .driver()
        .execute_batch(codedb_driver::Batch::new().script(sql))
        .unwrap();
    manager.stop().unwrap();
}

#[test]
fn plan_then_sync_the_code_schema_reports_every_field() {
    let dir = tempfile::tempdir().unwrap();
    // A database at the default place that predates the code schema.
    fs::create_dir(dir.path().join(".codedb")).unwrap();
    seed(
        &dir.path().join(".codedb/codedb.sqlite"),
        "CREATE TABLE notes (x TEXT);",
    );
    let plan = json(&codedb(dir.path(), &["schema", "plan", "--json"]));
    for key in [
        "tables_added",
        "tables_removed",
        "tables_rebuilt",
        "columns_added",
        "columns_removed",
        "columns_modified",
        "indexes_added",
        "indexes_removed",
        "views_changed",
        "triggers_changed",
        "warnings",
        "backup_path",
        "dry_run",
    ] {
        assert!(plan.get(key).is_some(), "plan lacks {key}: {plan}");
    }
    assert_eq!(plan["dry_run"], true);
    assert!(plan["backup_path"].is_null());
    assert!(
        plan["tables_added"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t == "files")
    );
    // The plan changed nothing.
    let again = json(&codedb(dir.path(), &["schema", "plan", "--json"]));
    assert_eq!(again["tables_added"], plan["tables_added"]);

    let sync = json(&codedb(dir.path(), &["schema", "sync", "--json"]));
    assert_eq!(sync["dry_run"], false);
    let backup = sync["backup_path"].as_str().expect("a backup was taken");
    assert!(Path::new(backup).is_file(), "{backup}");
    assert!(backup.contains("/.codedb/backups/codedb."), "{backup}");
    // A second sync is a no-op: no steps, no backup.
    let noop = json(&codedb(dir.path(), &["schema", "sync", "--json"]));
    assert!(noop["backup_path"].is_null());
    assert_eq!(noop["tables_added"].as_array().unwrap().len(), 0);
    assert!(
        noop["warnings"]
            .to_string()
            .contains("table notes is not in the desired schema; kept"),
        "{noop}"
    );
    let dump = codedb(dir.path(), &["schema", "dump"]);
    assert!(String::from_utf8_lossy(&dump.stdout).contains("CREATE TABLE files"));
}

#[test]
fn a_refusal_exits_non_zero_with_one_line_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("d.sqlite");
    seed(
        &db,
        "CREATE TABLE t (id INTEGER PRIMARY KEY, code TEXT); INSERT INTO t VALUES (1, '007');",
    );
    fs::write(
        dir.path().join("want.sql"),
        "CREATE TABLE t (id INTEGER PRIMARY KEY, code INTEGER);",
    )
    .unwrap();
    let dump_before = codedb(dir.path(), &["schema", "dump", "--db", "d.sqlite"]).stdout;

    // Without --allow-rebuild: a warning, nothing changed, exit 0.
    let report = json(&codedb(
        dir.path(),
        &[
            "schema",
            "sync",
            "--db",
            "d.sqlite",
            "--desired",
            "want.sql",
            "--json",
        ],
    ));
    assert!(
        report["warnings"].to_string().contains("needs a rebuild"),
        "{report}"
    );
    assert!(report["backup_path"].is_null());

    // With it: the rebuild would turn '007' into 7, so it is refused.
    let o = codedb(
        dir.path(),
        &[
            "schema",
            "sync",
            "--db",
            "d.sqlite",
            "--desired",
            "want.sql",
            "--allow-rebuild",
        ],
    );
    assert!(!o.status.success());
    let err = stderr(&o);
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    assert!(
        err.contains("refused") && err.contains("would change stored values"),
        "{err}"
    );
    assert_eq!(
        codedb(dir.path(), &["schema", "dump", "--db", "d.sqlite"]).stdout,
        dump_before
    );
    let rows = {
        let m = codedb_sqlite::open(&db).unwrap();
        let r = m
            .driver()
            .query("SELECT code FROM t", vec![])
            .unwrap()
            .scalar::<String>()
            .unwrap();
        m.stop().unwrap();
        r
    };
    assert_eq!(rows, "007");
}

#[test]
fn invalid_ddl_names_the_statement() {
    let dir = tempfile::tempdir().unwrap();
    seed(
        &dir.path().join("d.sqlite"),
        "CREATE TABLE t (id INTEGER PRIMARY KEY);",
    );
    fs::write(
        dir.path().join("bad.sql"),
        "CREATE TABLE ok (a INTEGER);\nCREATE TABLE broken (a INTEGER,, b TEXT);",
    )
    .unwrap();
    let o = codedb(
        dir.path(),
        &["schema", "sync", "--db", "d.sqlite", "--desired", "bad.sql"],
    );
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains("bad.sql")
            && err.contains("statement 2")
            && err.contains("CREATE TABLE broken"),
        "{err}"
    );
    let o = codedb(
        dir.path(),
        &[
            "schema",
            "plan",
            "--db",
            "d.sqlite",
            "--desired",
            "missing.sql",
        ],
    );
    assert!(
        stderr(&o).contains("cannot read") && stderr(&o).contains("missing.sql"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_corrupt_database_is_refused_and_left_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("d.sqlite");
    let rows: String = (0..2000)
        .map(|i| format!("INSERT INTO t VALUES ({i}, '{}');", "x".repeat(50)))
        .collect();
    seed(
        &db,
        &format!("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); {rows}"),
    );
    let mut bytes = fs::read(&db).unwrap();
    let page = 4096;
    for b in &mut bytes[3 * page..3 * page + 200] {
        *b = 0xA5;
    }
    fs::write(&db, &bytes).unwrap();
    let o = codedb(
        dir.path(),
        &["schema", "sync", "--db", "d.sqlite", "--json"],
    );
    assert!(!o.status.success(), "a corrupt database must not be synced");
    let err = stderr(&o).to_lowercase();
    assert!(
        err.contains("corrupt") || err.contains("malformed") || err.contains("integrity"),
        "{err}"
    );
    assert_eq!(
        fs::read(&db).unwrap(),
        bytes,
        "the corrupt file was changed"
    );
}

#[test]
fn an_unusable_backup_directory_stops_the_sync_before_any_change() {
    let dir = tempfile::tempdir().unwrap();
    seed(
        &dir.path().join("d.sqlite"),
        "CREATE TABLE t (id INTEGER PRIMARY KEY);",
    );
    let not_a_dir = dir.path().join("backups-file");
    fs::write(&not_a_dir, "a file where the backup directory should be").unwrap();
    let dump_before = codedb(dir.path(), &["schema", "dump", "--db", "d.sqlite"]).stdout;
    let o = codedb(
        dir.path(),
        &[
            "schema",
            "sync",
            "--db",
            "d.sqlite",
            "--backup-dir",
            not_a_dir.to_str().unwrap(),
        ],
    );
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("backup") && stderr(&o).contains("backups-file"),
        "{}",
        stderr(&o)
    );
    assert_eq!(
        codedb(dir.path(), &["schema", "dump", "--db", "d.sqlite"]).stdout,
        dump_before
    );
}

#[test]
fn backup_create_list_restore_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("d.sqlite");
    seed(
        &db,
        "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t VALUES (1, 'original');",
    );
    let created = json(&codedb(
        dir.path(),
        &["backup", "create", "--db", "d.sqlite", "--json"],
    ));
    let path = created["backup_path"].as_str().unwrap().to_owned();
    let id = Path::new(&path)
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    seed(&db, "UPDATE t SET v = 'changed'; CREATE TABLE later (x);");
    let listed = json(&codedb(
        dir.path(),
        &["backup", "list", "--db", "d.sqlite", "--json"],
    ));
    assert!(
        listed["backups"]
            .as_array()
            .unwrap()
            .iter()
            .any(|b| b["id"] == id.as_str()),
        "{listed}"
    );

    let restored = json(&codedb(
        dir.path(),
        &["backup", "restore", &id, "--db", "d.sqlite", "--json"],
    ));
    assert!(Path::new(restored["previous_state_backup"].as_str().unwrap()).is_file());
    assert!(
        !dir.path().join("d.sqlite-wal").exists()
            || fs::metadata(dir.path().join("d.sqlite-wal")).unwrap().len() == 0
    );
    let m = codedb_sqlite::open(&db).unwrap();
    assert_eq!(
        m.driver()
            .query("SELECT v FROM t", vec![])
            .unwrap()
            .scalar::<String>()
            .unwrap(),
        "original"
    );
    assert_eq!(
        m.driver()
            .query(
                "SELECT count(*) FROM sqlite_schema WHERE name = 'later'",
                vec![]
            )
            .unwrap()
            .scalar::<i64>()
            .unwrap(),
        0
    );
    m.stop().unwrap();

    let o = codedb(
        dir.path(),
        &["backup", "restore", "nope.sqlite", "--db", "d.sqlite"],
    );
    assert!(!o.status.success());
    assert!(stderr(&o).contains("no such backup"), "{}", stderr(&o));
}

#[test]
fn a_plan_and_a_dry_run_change_no_byte_of_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("d.sqlite");
    seed(&db, "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT);");
    // A writer that keeps its connection: its last commit stays in the WAL.
    let writer = codedb_sqlite::open(&db).unwrap();
    writer
        .driver()
        .execute("INSERT INTO t VALUES (1, 'in the wal')", vec![])
        .unwrap();
    let meta = || fs::metadata(&db).unwrap();
    let (bytes, mtime) = (fs::read(&db).unwrap(), meta().modified().unwrap());
    let wal = fs::read(dir.path().join("d.sqlite-wal")).unwrap();
    assert!(!wal.is_empty());
    std::thread::sleep(std::time::Duration::from_millis(20));
    for args in [
        &["schema", "plan", "--db", "d.sqlite", "--json"][..],
        &["schema", "sync", "--dry-run", "--db", "d.sqlite", "--json"],
        &["schema", "dump", "--db", "d.sqlite"],
        &["backup", "list", "--db", "d.sqlite"],
    ] {
        let o = codedb(dir.path(), args);
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        assert_eq!(
            fs::read(&db).unwrap(),
            bytes,
            "{args:?} changed the database file"
        );
        assert_eq!(
            meta().modified().unwrap(),
            mtime,
            "{args:?} touched the database file"
        );
        assert_eq!(
            fs::read(dir.path().join("d.sqlite-wal")).unwrap(),
            wal,
            "{args:?} checkpointed"
        );
    }
    writer.stop().unwrap();
}

/// `d.sqlite` in `dir` holding the user's own `files` and `classes` tables (which only a
/// rebuild could bring to the code schema), in rollback-journal mode; its bytes.
fn rollback_journal_database_needing_a_rebuild(dir: &Path) -> Vec<u8> {
    let db = dir.join("d.sqlite");
    seed(
        &db,
        "CREATE TABLE files (name TEXT); CREATE TABLE classes (x INTEGER); \
         INSERT INTO files VALUES ('mine');",
    );
    let m = codedb_sqlite::DBWorkerManager::start(codedb_sqlite::SqliteConfig {
        readers: 0, // the worker's connection alone: leaving WAL needs it
        ..codedb_sqlite::SqliteConfig::new(&db)
    })
    .unwrap();
    m.driver()
        .query("PRAGMA journal_mode=DELETE", vec![])
        .unwrap();
    m.stop().unwrap();
    let info = json(&codedb(dir, &["db", "info", "--db", "d.sqlite", "--json"]));
    assert_eq!(info["journal_mode"], "delete");
    fs::read(&db).unwrap()
}

/// `d.sqlite` in `dir` is still `bytes`, in rollback-journal mode, with no WAL beside it.
fn assert_unchanged(dir: &Path, bytes: &[u8], what: &str) {
    let info = json(&codedb(dir, &["db", "info", "--db", "d.sqlite", "--json"]));
    assert_eq!(
        info["journal_mode"], "delete",
        "{what} switched the journal mode"
    );
    assert_eq!(fs::read(dir.join("d.sqlite")).unwrap(), bytes, "{what}");
    assert!(!dir.join("d.sqlite-wal").exists(), "{what} left a WAL");
}

#[test]
fn a_refused_db_init_leaves_the_database_as_it_was_journal_mode_included() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = rollback_journal_database_needing_a_rebuild(dir.path());
    let o = codedb(dir.path(), &["db", "init", "--db", "d.sqlite"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("database unchanged"), "{}", stderr(&o));
    assert_unchanged(dir.path(), &bytes, "the refused init");
}

#[test]
fn a_refused_serve_leaves_the_database_as_it_was_journal_mode_included() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = rollback_journal_database_needing_a_rebuild(dir.path());
    // No input: a startup that went through would serve and end at once.
    let o = codedb(dir.path(), &["serve", "--root", ".", "--db", "d.sqlite"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("schema sync --allow-rebuild"),
        "{}",
        stderr(&o)
    );
    assert_unchanged(dir.path(), &bytes, "the refused serve");
}

#[test]
fn the_sync_log_stays_out_of_plans_and_the_dump_says_what_it_is() {
    for test in codedb_backends::testing::TestDatabase::all() {
        let dir = tempfile::tempdir().unwrap();
        let db = test.arg();
        let name = test.name();
        fs::write(
            dir.path().join("seed.sql"),
            "CREATE TABLE t (id INTEGER PRIMARY KEY);",
        )
        .unwrap();
        fs::write(
            dir.path().join("want.sql"),
            "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT);",
        )
        .unwrap();
        let sync = |desired: &str| {
            json(&codedb(
                dir.path(),
                &[
                    "schema",
                    "sync",
                    "--db",
                    &db,
                    "--desired",
                    desired,
                    "--allow-drop",
                    "--json",
                ],
            ))
        };
        sync("seed.sql");
        let first = sync("want.sql");
        assert!(first["backup_path"].is_string(), "{name}: {first}");
        // The log now exists; a sync that allows drops neither drops nor reports it.
        let again = sync("want.sql");
        assert_eq!(again["steps"], serde_json::json!([]), "{name}: {again}");
        assert!(
            !again.to_string().contains("_codedb_schema_log"),
            "{name}: {again}"
        );
        let dump =
            String::from_utf8_lossy(&codedb(dir.path(), &["schema", "dump", "--db", &db]).stdout)
                .into_owned();
        assert!(
            !dump.contains("CREATE TABLE _codedb_schema_log"),
            "{name}: {dump}"
        );
        assert!(
            dump.contains("-- _codedb_schema_log: codedb's log of applied schema syncs"),
            "{name}: {dump}"
        );
    }
}
