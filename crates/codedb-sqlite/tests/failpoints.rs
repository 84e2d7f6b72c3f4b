//! A worker thread that dies (a panic outside any job's guard, injected with the `fail`
//! crate) is reported as `WorkerCrashed` to every caller, waiting or new, and never hangs.
//! Runs only with `--features failpoints` (`cargo test --all-features`); the failpoint state
//! is process-global, so this binary holds this one test.
#![allow(clippy::unwrap_used)] // tests fail loudly on purpose
#![cfg(feature = "failpoints")]

use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use codedb_driver::{ErrorKind, params};

#[test]
fn a_dead_worker_gives_worker_crashed_never_a_hang() {
    let scenario = fail::FailScenario::setup();
    let dir = tempfile::tempdir().unwrap();
    let manager = codedb_sqlite::open(dir.path().join("db.sqlite")).unwrap();
    let driver = manager.driver();
    driver.execute("CREATE TABLE t(x)", params![]).unwrap();
    let tx = driver.begin().unwrap();

    fail::cfg("dbworker-crash", "panic(injected worker crash)").unwrap();
    let (done, finished) = mpsc::channel();
    let tx_driver = driver.clone();
    thread::spawn(move || {
        let mut tx = tx;
        let first = tx.execute("INSERT INTO t VALUES (1)", params![]);
        let commit = tx.commit();
        // A writer that waited at the gate behind the dead transaction.
        let later = tx_driver.execute("INSERT INTO t VALUES (2)", params![]);
        done.send((first, commit, later)).unwrap();
    });
    let (first, commit, later) = finished
        .recv_timeout(Duration::from_secs(20))
        .expect("callers of a dead worker must not hang");
    fail::remove("dbworker-crash");
    for result in [first.map(|_| ()), commit, later.map(|_| ())] {
        let err = result.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::WorkerCrashed, "{err}");
        assert!(err.to_string().contains("has died"), "{err}");
    }
    assert!(!manager.is_running());
    assert_eq!(driver.begin().unwrap_err().kind(), ErrorKind::WorkerCrashed);
    scenario.teardown();
}

#[test]
fn a_full_disk_during_the_backup_stops_the_sync_before_any_change() {
    use codedb_schema::{SyncOptions, sync};
    let scenario = fail::FailScenario::setup();
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
    let before = backend.introspect().unwrap();
    fail::cfg("backup-disk-full", "return").unwrap();
    let options = SyncOptions {
        backup_dir: Some(dir.path().join("backups")),
        ..SyncOptions::default()
    };
    let err = sync(backend.as_ref(), &desired, &options).unwrap_err();
    fail::remove("backup-disk-full");
    assert!(err.to_string().contains("disk is full"), "{err}");
    assert_eq!(backend.introspect().unwrap(), before, "nothing was applied");
    let left: Vec<_> = std::fs::read_dir(dir.path().join("backups"))
        .unwrap()
        .collect();
    assert!(left.is_empty(), "the partial backup was removed: {left:?}");
    // Once there is room again, the same sync goes through.
    assert!(
        sync(backend.as_ref(), &desired, &options)
            .unwrap()
            .backup_path
            .is_some()
    );
    scenario.teardown();
}
