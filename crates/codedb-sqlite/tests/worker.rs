//! The DBWorker under stress: panicking jobs, a full queue, shutdown with work queued.
#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

use std::sync::Arc;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use codedb_driver::{ErrorKind, SpecificDriver, params};
use codedb_sqlite::{DBWorkerManager, SqliteConfig};

const PATIENCE: Duration = Duration::from_secs(20);

fn start(adjust: impl FnOnce(&mut SqliteConfig)) -> (tempfile::TempDir, DBWorkerManager) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = SqliteConfig::new(dir.path().join("w.sqlite"));
    adjust(&mut config);
    let manager = DBWorkerManager::start(config).unwrap();
    manager
        .driver()
        .execute("CREATE TABLE t(x INTEGER)", params![])
        .unwrap();
    (dir, manager)
}

/// Blocks the worker until the returned sender is dropped or sent to.
fn block_worker(manager: &DBWorkerManager) -> (mpsc::Sender<()>, thread::JoinHandle<()>) {
    let (release, wait) = mpsc::channel::<()>();
    let (started, is_started) = mpsc::channel();
    let proxy = Arc::clone(manager.proxy());
    let blocker = thread::spawn(move || {
        proxy
            .worker()
            .call(move |_| {
                started.send(()).unwrap();
                let _ = wait.recv();
                Ok(())
            })
            .unwrap();
    });
    is_started
        .recv_timeout(PATIENCE)
        .expect("the blocking job started");
    (release, blocker)
}

fn wait_for_queue(manager: &DBWorkerManager, len: usize) {
    let deadline = std::time::Instant::now() + PATIENCE;
    while manager.proxy().worker().queue_len() < len {
        assert!(
            std::time::Instant::now() < deadline,
            "the queue never reached {len}"
        );
        thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn a_panicking_job_fails_alone_and_the_worker_keeps_serving() {
    let (_dir, manager) = start(|_| {});
    let proxy = manager.proxy();
    let err = proxy
        .with_connection(|_| -> codedb_driver::Result<()> { panic!("boom in a job") })
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Panicked);
    assert!(err.to_string().contains("boom in a job"), "{err}");

    // A job that panics half-way through its own transaction leaves nothing behind.
    let err = proxy
        .with_connection(|d| -> codedb_driver::Result<()> {
            d.begin_immediate()?;
            d.execute("INSERT INTO t VALUES (1)", &[])?;
            panic!("boom mid-transaction")
        })
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Panicked);
    let driver = manager.driver();
    driver
        .execute("INSERT INTO t VALUES (2)", params![])
        .unwrap();
    let rows = driver.query("SELECT x FROM t", params![]).unwrap();
    assert_eq!(rows.len(), 1, "only the later insert exists: {rows:?}");
    assert_eq!(rows.scalar::<i64>().unwrap(), 2);
    assert!(manager.is_running());
}

#[test]
fn a_full_queue_applies_backpressure_without_deadlock() {
    let (_dir, manager) = start(|c| c.queue_capacity = 2);
    let (release, blocker) = block_worker(&manager);
    let (done, finished) = mpsc::channel();
    // Jobs sent straight to the worker (writers through the proxy would queue at its gate).
    let senders: Vec<_> = (0..6)
        .map(|i| {
            let proxy = Arc::clone(manager.proxy());
            let done = done.clone();
            thread::spawn(move || {
                let result = proxy
                    .worker()
                    .call(move |d| d.execute("INSERT INTO t VALUES (?1)", &params![i]));
                done.send(()).unwrap();
                result
            })
        })
        .collect();
    wait_for_queue(&manager, 2);
    thread::sleep(Duration::from_millis(50));
    assert!(
        finished.try_recv().is_err(),
        "nothing finishes while the worker is blocked"
    );
    assert_eq!(
        manager.proxy().worker().queue_len(),
        2,
        "the queue holds no more than its capacity"
    );
    release.send(()).unwrap();
    blocker.join().unwrap();
    for s in senders {
        s.join()
            .unwrap()
            .expect("every blocked sender gets through once the queue drains");
    }
    let n: i64 = manager
        .driver()
        .query("SELECT count(*) FROM t", params![])
        .unwrap()
        .scalar()
        .unwrap();
    assert_eq!(n, 6);
}

#[test]
fn a_sender_that_waits_too_long_for_a_full_queue_gets_busy() {
    let (_dir, manager) = start(|c| {
        c.queue_capacity = 1;
        c.queue_timeout = Duration::from_millis(100);
    });
    let (release, blocker) = block_worker(&manager);
    // Fill the one slot from another thread (it waits for its answer).
    let worker_proxy = Arc::clone(manager.proxy());
    let filler = thread::spawn(move || worker_proxy.worker().call(|_| Ok(1)));
    wait_for_queue(&manager, 1);
    let err = manager.proxy().worker().call(|_| Ok(2)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Busy, "{err}");
    assert!(err.to_string().contains("queue stayed full"), "{err}");
    release.send(()).unwrap();
    blocker.join().unwrap();
    assert_eq!(filler.join().unwrap().unwrap(), 1);
}

#[test]
fn shutdown_drains_the_queue_then_refuses_new_work() {
    let (dir, manager) = start(|_| {});
    let (release, blocker) = block_worker(&manager);
    let writers: Vec<_> = (0..5)
        .map(|i| {
            let driver = manager.driver();
            thread::spawn(move || driver.execute("INSERT INTO t VALUES (?1)", params![i]))
        })
        .collect();
    // Only one writer holds the gate at a time, so one job is queued behind the blocker.
    wait_for_queue(&manager, 1);
    let stopper = {
        let proxy = Arc::clone(manager.proxy());
        thread::spawn(move || proxy.close())
    };
    release.send(()).unwrap();
    blocker.join().unwrap();
    stopper.join().unwrap().expect("clean shutdown");
    let mut ok = 0;
    for w in writers {
        match w.join().unwrap() {
            Ok(_) => ok += 1,
            Err(e) => assert_eq!(e.kind(), ErrorKind::Closed, "{e}"),
        }
    }
    assert!(ok >= 1, "the queued job ran before the worker stopped");
    let err = manager
        .driver()
        .execute("INSERT INTO t VALUES (9)", params![])
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Closed);
    assert!(manager.driver().query("SELECT 1", params![]).is_err());
    assert!(!manager.is_running());
    // The WAL was checkpointed and truncated; the data is in the main file.
    let wal = dir.path().join("w.sqlite-wal");
    assert!(
        !wal.exists() || std::fs::metadata(&wal).unwrap().len() == 0,
        "WAL left with content"
    );
    let reopened = codedb_sqlite::open(dir.path().join("w.sqlite")).unwrap();
    let n: i64 = reopened
        .driver()
        .query("SELECT count(*) FROM t", params![])
        .unwrap()
        .scalar()
        .unwrap();
    assert_eq!(n, i64::from(ok));
}

#[test]
fn the_worker_thread_is_named_and_runs_jobs_in_the_callers_span() {
    let (_dir, manager) = start(|_| {});
    let name = manager
        .proxy()
        .worker()
        .call(|_| Ok(thread::current().name().map(str::to_owned)))
        .unwrap();
    assert_eq!(name.as_deref(), Some("codedb-db-worker"));

    // Spans are only recorded while a subscriber is installed; a bare registry will do.
    let _ = tracing::subscriber::set_global_default(tracing_subscriber::registry());
    let span = tracing::info_span!("caller_span", command = "test");
    let _entered = span.enter();
    let seen = manager
        .proxy()
        .worker()
        .call(|_| Ok(tracing::Span::current().metadata().map(|m| m.name())))
        .unwrap();
    assert_eq!(
        seen,
        Some("caller_span"),
        "the job ran outside the caller's span"
    );
}

#[test]
fn a_cached_select_star_follows_a_schema_change() {
    // A reader's cached `SELECT *` was prepared for two columns; after the writer drops one,
    // SQLite recompiles it on the first step and the row is one column wide.
    let (_dir, manager) = start(|_| {});
    let driver = manager.driver();
    driver
        .execute("CREATE TABLE s (a INTEGER, b INTEGER)", params![])
        .unwrap();
    driver
        .execute("INSERT INTO s VALUES (1, 2)", params![])
        .unwrap();
    let before = driver.query("SELECT * FROM s", params![]).unwrap();
    assert_eq!(before.columns, ["a", "b"]);
    driver
        .execute("ALTER TABLE s DROP COLUMN b", params![])
        .unwrap();
    let after = driver.query("SELECT * FROM s", params![]).unwrap();
    assert_eq!(after.columns, ["a"]);
    assert_eq!(after.rows[0].values(), [codedb_driver::Value::Integer(1)]);
    driver.execute("DELETE FROM s", params![]).unwrap();
    driver
        .execute("ALTER TABLE s ADD COLUMN c TEXT", params![])
        .unwrap();
    assert_eq!(
        driver.query("SELECT * FROM s", params![]).unwrap().columns,
        ["a", "c"],
        "no rows: names still current"
    );
}
