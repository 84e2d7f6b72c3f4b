//! Many writers and readers on one `CodeDatabase`: no lost write, no Busy error under the
//! default timeouts, and readers only ever see committed states.
#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;

use codedb_core::{Executor, params};
use common::temp_db;

const WRITERS: i64 = 8;
const TRANSACTIONS: i64 = 500;
const ACCOUNTS: i64 = 10;
const TOTAL: i64 = ACCOUNTS * 1000;

#[test]
fn eight_threads_by_500_read_modify_write_transactions_lose_nothing() {
    let t = temp_db();
    let db = Arc::new(t.db.clone());
    db.execute_batch(
        codedb_core::Batch::new()
            .script(
                "CREATE TABLE counter(id INTEGER PRIMARY KEY, n INTEGER NOT NULL);
                 CREATE TABLE items(id INTEGER PRIMARY KEY, writer INTEGER NOT NULL, seq INTEGER NOT NULL,
                                    seen INTEGER NOT NULL, UNIQUE(writer, seq));
                 CREATE TABLE accounts(id INTEGER PRIMARY KEY, balance INTEGER NOT NULL);
                 INSERT INTO counter VALUES (1, 0);",
            )
            .many("INSERT INTO accounts VALUES (?1, 1000)", (0..ACCOUNTS).map(|i| params![i]).collect()),
    )
    .unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let reads = Arc::new(AtomicU64::new(0));
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let (db, stop, reads) = (Arc::clone(&db), Arc::clone(&stop), Arc::clone(&reads));
            thread::spawn(move || {
                let mut last = -1;
                while !stop.load(Ordering::Acquire) {
                    // One statement, one snapshot: every committed state satisfies both.
                    let row = db
                        .query_row(
                            "SELECT (SELECT n FROM counter), (SELECT count(*) FROM items),
                                    (SELECT sum(balance) FROM accounts)",
                            params![],
                        )
                        .unwrap()
                        .unwrap();
                    let (n, items, sum) = (
                        row.get::<i64>(0).unwrap(),
                        row.get::<i64>(1).unwrap(),
                        row.get::<i64>(2).unwrap(),
                    );
                    assert_eq!(
                        n, items,
                        "counter and item count disagree: an uncommitted state was seen"
                    );
                    assert_eq!(
                        sum, TOTAL,
                        "money appeared or vanished: an uncommitted state was seen"
                    );
                    assert!(n >= last, "a reader went back in time: {n} after {last}");
                    last = n;
                    reads.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();

    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let db = Arc::clone(&db);
            thread::spawn(move || {
                for seq in 0..TRANSACTIONS {
                    db.transaction(|tx| {
                        let n: i64 =
                            tx.query_scalar("SELECT n FROM counter WHERE id = 1", params![])?;
                        tx.execute("UPDATE counter SET n = ?1 WHERE id = 1", params![n + 1])?;
                        tx.execute(
                            "INSERT INTO items(writer, seq, seen) VALUES (?1, ?2, ?3)",
                            params![w, seq, n],
                        )?;
                        let from = (w + seq) % ACCOUNTS;
                        let to = (from + 1) % ACCOUNTS;
                        tx.execute(
                            "UPDATE accounts SET balance = balance - 1 WHERE id = ?1",
                            params![from],
                        )?;
                        tx.execute(
                            "UPDATE accounts SET balance = balance + 1 WHERE id = ?1",
                            params![to],
                        )?;
                        Ok(())
                    })
                    .unwrap_or_else(|e| panic!("writer {w} transaction {seq}: {e}"));
                }
            })
        })
        .collect();
    for w in writers {
        w.join().expect("writer thread");
    }
    stop.store(true, Ordering::Release);
    for r in readers {
        r.join().expect("reader thread");
    }

    let expected = WRITERS * TRANSACTIONS;
    assert_eq!(
        db.query_scalar::<i64>("SELECT n FROM counter", params![])
            .unwrap(),
        expected
    );
    assert_eq!(
        db.query_scalar::<i64>("SELECT count(*) FROM items", params![])
            .unwrap(),
        expected
    );
    // Each transaction saw a distinct counter value: read-modify-write was never interleaved.
    assert_eq!(
        db.query_scalar::<i64>("SELECT count(DISTINCT seen) FROM items", params![])
            .unwrap(),
        expected
    );
    assert_eq!(
        db.query_scalar::<i64>("SELECT sum(balance) FROM accounts", params![])
            .unwrap(),
        TOTAL
    );
    assert!(reads.load(Ordering::Relaxed) > 0, "the readers never ran");
}
