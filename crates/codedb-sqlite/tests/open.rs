//! Opening bad paths and files: clear errors naming the cause, nothing created or changed.
#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

use std::fs;

use codedb_driver::{ErrorKind, SpecificDriver, params};
use codedb_sqlite::{DBWorkerManager, SqliteConfig, inspect};

#[test]
fn a_directory_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let err = DBWorkerManager::start(SqliteConfig::new(dir.path())).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::CannotOpen);
    assert!(err.to_string().contains("is a directory"), "{err}");
    assert!(
        err.to_string().contains(&dir.path().display().to_string()),
        "{err}"
    );
    assert_eq!(
        fs::read_dir(dir.path()).unwrap().count(),
        0,
        "nothing was created"
    );
}

#[test]
fn a_missing_parent_directory_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("missing").join("db.sqlite");
    let err = DBWorkerManager::start(SqliteConfig::new(&path)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::CannotOpen);
    assert!(err.to_string().contains("does not exist"), "{err}");
    assert!(!dir.path().join("missing").exists());
}

#[test]
fn a_file_that_is_not_sqlite_is_refused_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.txt");
    let content = "these are notes, not a database\n".repeat(200);
    fs::write(&path, &content).unwrap();
    let err = DBWorkerManager::start(SqliteConfig::new(&path)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotADatabase, "{err}");
    assert!(err.to_string().contains("not a database"), "{err}");
    assert!(err.to_string().contains("notes.txt"), "{err}");
    assert_eq!(fs::read_to_string(&path).unwrap(), content);
    let names: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["notes.txt"], "no -wal or -shm file was created");

    let err = inspect(&path).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotADatabase, "{err}");
    assert_eq!(fs::read_to_string(&path).unwrap(), content);
}

#[test]
fn inspect_reports_a_healthy_database_and_refuses_missing_ones() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.sqlite");
    let err = inspect(&path).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::CannotOpen);
    assert!(err.to_string().contains("no such file"), "{err}");
    assert!(!path.exists(), "inspect created nothing");

    let manager = codedb_sqlite::open(&path).unwrap();
    manager
        .driver()
        .execute("CREATE TABLE t(x)", params![])
        .unwrap();
    manager.stop().unwrap();
    let info = inspect(&path).unwrap();
    assert_eq!(info.journal_mode, "wal");
    assert_eq!(info.integrity_check, "ok");
    assert_eq!(info.schema_objects, 1);
    assert!(info.page_count >= 2, "{info:?}");
    assert!(info.sqlite_version.starts_with('3'), "{info:?}");
}

#[test]
fn backups_are_consistent_copies_including_wal_pages() {
    let dir = tempfile::tempdir().unwrap();
    let manager = codedb_sqlite::open(dir.path().join("db.sqlite")).unwrap();
    let driver = manager.driver();
    driver.execute("CREATE TABLE t(x)", params![]).unwrap();
    driver.execute_many_for_test(500);
    // Pages still sit in the WAL (no checkpoint ran): a raw copy of the main file could miss them.
    let dest = dir.path().join("backup.sqlite");
    driver.backup_to(&dest).unwrap();
    let err = driver.backup_to(&dest).unwrap_err();
    assert!(err.to_string().contains("already exists"), "{err}");
    manager.stop().unwrap();

    let copy = codedb_sqlite::open(&dest).unwrap();
    let n: i64 = copy
        .driver()
        .query("SELECT count(*) FROM t", params![])
        .unwrap()
        .scalar()
        .unwrap();
    assert_eq!(n, 500);
    assert_eq!(inspect(&dest).unwrap().integrity_check, "ok");
}

trait InsertMany {
    fn execute_many_for_test(&self, n: i64);
}

impl InsertMany for std::sync::Arc<dyn SpecificDriver> {
    fn execute_many_for_test(&self, n: i64) {
        let batch = codedb_driver::Batch::new().many(
            "INSERT INTO t VALUES (?1)",
            (0..n).map(|i| params![i]).collect(),
        );
        assert_eq!(self.execute_batch(batch).unwrap().rows_affected, n as u64);
    }
}

#[test]
fn a_database_locked_by_another_writer_is_refused_unchanged() {
    use codedb_schema::{SyncOptions, sync};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.sqlite");
    let mut config = SqliteConfig::new(&path);
    config.busy_timeout = std::time::Duration::from_millis(200);
    let manager = DBWorkerManager::start(config).unwrap();
    manager
        .driver()
        .execute("CREATE TABLE t (id INTEGER PRIMARY KEY)", params![])
        .unwrap();
    // Another process's writer, played by a second worker on the same file, holds the lock.
    let other = codedb_sqlite::open(&path).unwrap();
    let mut held = other.driver().begin().unwrap();
    held.execute("INSERT INTO t VALUES (1)", params![]).unwrap();

    let backend = manager.schema_backend();
    let before = backend.introspect().unwrap();
    let desired =
        codedb_sqlite::schema::schema_from_ddl("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT);")
            .unwrap();
    let options = SyncOptions {
        backup_dir: Some(dir.path().join("backups")),
        ..SyncOptions::default()
    };
    let err = sync(backend.as_ref(), &desired, &options).unwrap_err();
    assert!(
        err.to_string().contains("database unchanged") && err.to_string().contains("locked"),
        "{err}"
    );
    assert_eq!(backend.introspect().unwrap(), before);
    held.rollback().unwrap();
    assert!(sync(backend.as_ref(), &desired, &options).is_ok());
}

#[test]
fn apply_verifies_the_result_and_logs_each_sync() {
    use codedb_schema::{DiffOptions, Plan, SyncLog, SyncOptions, diff, sync};
    let dir = tempfile::tempdir().unwrap();
    let manager = codedb_sqlite::open(dir.path().join("db.sqlite")).unwrap();
    manager
        .driver()
        .execute("CREATE TABLE t (id INTEGER PRIMARY KEY)", params![])
        .unwrap();
    let backend = manager.schema_backend();
    let desired =
        codedb_sqlite::schema::schema_from_ddl("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT);")
            .unwrap();
    let log = SyncLog {
        at_ms: 1,
        fingerprint_before: "a".into(),
        fingerprint_after: "b".into(),
        plan: String::new(),
        backup_path: None,
    };
    // A plan that does not reach the desired schema (here: another table's step only): the
    // fresh diff is not empty, so what was applied is rolled back.
    let live = backend.introspect().unwrap();
    let other = codedb_sqlite::schema::schema_from_ddl(
        "CREATE TABLE t (id INTEGER PRIMARY KEY); CREATE TABLE extra (x INTEGER);",
    )
    .unwrap();
    let partial: Plan = diff(&live, &other, DiffOptions::default());
    assert_eq!(partial.steps.len(), 1);
    let err = backend
        .apply(&partial, &desired, DiffOptions::default(), &log)
        .unwrap_err();
    assert!(err.to_string().contains("still differs"), "{err}");
    assert_eq!(
        backend.introspect().unwrap(),
        live,
        "the partial plan was rolled back"
    );

    let options = SyncOptions {
        backup_dir: Some(dir.path().join("b")),
        ..SyncOptions::default()
    };
    let report = sync(backend.as_ref(), &desired, &options).unwrap();
    let logged = manager
        .driver()
        .query(
            "SELECT plan, backup_path FROM _codedb_schema_log",
            params![],
        )
        .unwrap();
    assert_eq!(logged.len(), 1);
    assert_eq!(logged.rows[0].get::<String>(0).unwrap(), "add column t.v");
    assert_eq!(
        logged.rows[0].get::<Option<String>>(1).unwrap(),
        report.backup_path
    );
    // The log table never shows up as a difference.
    assert!(
        diff(
            &backend.introspect().unwrap(),
            &desired,
            DiffOptions {
                allow_drop: true,
                allow_rebuild: true
            }
        )
        .is_empty()
    );
}
