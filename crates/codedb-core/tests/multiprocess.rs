//! Two operating-system processes writing the same database file both succeed: each has its
//! own worker, and SQLite's `busy_timeout` with `BEGIN IMMEDIATE` orders them.
//!
//! The test starts two copies of this test binary in child mode (an environment variable says
//! which file to write to), then checks that every write of both arrived.
#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

mod common;

use std::path::Path;
use std::process::Command;

use codedb_core::{CodeDatabase, Executor, params};
use codedb_sqlite::DBWorkerManager;

const CHILD_ENV: &str = "CODEDB_TEST_CHILD_DB";
const CHILD_WRITER_ENV: &str = "CODEDB_TEST_CHILD_WRITER";
const TRANSACTIONS: i64 = 1000;

fn child_writes(path: &Path, writer: i64) {
    let manager = DBWorkerManager::start(codedb_sqlite::SqliteConfig::new(path))
        .expect("child opens the database");
    let db = CodeDatabase::open(manager.driver()).expect("child CodeDatabase");
    for seq in 0..TRANSACTIONS {
        db.transaction(|tx| {
            let n: i64 = tx.query_scalar("SELECT n FROM counter", params![])?;
            tx.execute("UPDATE counter SET n = ?1", params![n + 1])?;
            tx.execute(
                "INSERT INTO items(writer, seq) VALUES (?1, ?2)",
                params![writer, seq],
            )?;
            Ok(())
        })
        .unwrap_or_else(|e| panic!("child {writer} transaction {seq}: {e}"));
    }
    manager.stop().expect("child stops cleanly");
}

#[test]
fn two_processes_writing_one_database_both_succeed() {
    if let Ok(path) = std::env::var(CHILD_ENV) {
        let writer = std::env::var(CHILD_WRITER_ENV)
            .expect("writer id")
            .parse()
            .expect("numeric writer id");
        child_writes(Path::new(&path), writer);
        return;
    }
    let t = common::temp_db();
    t.db.execute_batch(codedb_core::Batch::new().script(
        "CREATE TABLE counter(n INTEGER NOT NULL); INSERT INTO counter VALUES (0);
         CREATE TABLE items(writer INTEGER NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY(writer, seq));",
    ))
    .unwrap();

    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = (1..=2)
        .map(|writer| {
            Command::new(&exe)
                .args([
                    "--exact",
                    "two_processes_writing_one_database_both_succeed",
                    "--nocapture",
                    "--test-threads=1",
                ])
                .env(CHILD_ENV, &t.path)
                .env(CHILD_WRITER_ENV, writer.to_string())
                .spawn()
                .expect("spawn child")
        })
        .collect();
    // This process writes too, at the same time.
    for seq in 0..TRANSACTIONS {
        t.db.transaction(|tx| {
            let n: i64 = tx.query_scalar("SELECT n FROM counter", params![])?;
            tx.execute("UPDATE counter SET n = ?1", params![n + 1])?;
            tx.execute(
                "INSERT INTO items(writer, seq) VALUES (0, ?1)",
                params![seq],
            )?;
            Ok(())
        })
        .unwrap();
    }
    for mut child in children {
        let status = child.wait().unwrap();
        assert!(status.success(), "a child process failed: {status}");
    }
    assert_eq!(
        t.db.query_scalar::<i64>("SELECT n FROM counter", params![])
            .unwrap(),
        3 * TRANSACTIONS
    );
    for writer in 0..3 {
        let n: i64 =
            t.db.query_scalar(
                "SELECT count(*) FROM items WHERE writer = ?1",
                params![writer],
            )
            .unwrap();
        assert_eq!(n, TRANSACTIONS, "writer {writer} lost writes");
    }
}
