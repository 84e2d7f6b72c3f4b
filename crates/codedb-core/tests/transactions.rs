//! Transaction guards, savepoints and the closure form of `CodeDatabase`: the general ones on
//! every backend (SQLite; PostgreSQL when a server answers), the DB worker's gate on SQLite.
#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

mod common;

use std::sync::mpsc;
use std::thread;

use codedb_core::{Error, ErrorKind, Executor, params};
use common::{short_gate, temp_db, temp_db_with};

fn setup(db: &impl Executor) {
    db.execute(
        "CREATE TABLE t(k TEXT PRIMARY KEY, v INTEGER NOT NULL)",
        params![],
    )
    .unwrap();
}

fn keys(db: &impl Executor) -> Vec<String> {
    db.query("SELECT k FROM t ORDER BY k", params![])
        .unwrap()
        .iter()
        .map(|r| r.get::<String>(0).unwrap())
        .collect()
}

#[test]
fn a_dropped_guard_rolls_back() {
    for t in common::databases() {
        setup(&t.db);
        {
            let tx = t.db.begin_transaction().unwrap();
            tx.execute("INSERT INTO t VALUES ('a', 1)", params![])
                .unwrap();
            assert_eq!(keys(&tx), ["a"], "a transaction reads its own writes");
            assert!(
                keys(&t.db).is_empty(),
                "readers outside see only committed state"
            );
        }
        assert!(keys(&t.db).is_empty());
        // The gate was released: a new transaction starts at once.
        let tx = t.db.begin_transaction().unwrap();
        tx.execute("INSERT INTO t VALUES ('b', 2)", params![])
            .unwrap();
        tx.commit().unwrap();
        assert_eq!(keys(&t.db), ["b"]);
    }
}

#[test]
fn a_rolled_back_savepoint_leaves_only_the_outer_writes() {
    for t in common::databases() {
        setup(&t.db);
        let mut tx = t.db.begin_transaction().unwrap();
        tx.execute("INSERT INTO t VALUES ('outer1', 1)", params![])
            .unwrap();
        {
            let sp = tx.savepoint().unwrap();
            sp.execute("INSERT INTO t VALUES ('inner', 2)", params![])
                .unwrap();
            assert_eq!(keys(&sp), ["inner", "outer1"]);
            sp.rollback().unwrap();
        }
        {
            let sp = tx.savepoint().unwrap();
            sp.execute("INSERT INTO t VALUES ('dropped', 3)", params![])
                .unwrap();
            // dropped unfinished: rolled back
        }
        {
            let mut sp = tx.savepoint().unwrap();
            sp.execute("INSERT INTO t VALUES ('kept', 4)", params![])
                .unwrap();
            let inner = sp.savepoint().unwrap();
            inner
                .execute("INSERT INTO t VALUES ('nested-undone', 5)", params![])
                .unwrap();
            inner.rollback().unwrap();
            sp.commit().unwrap();
        }
        tx.execute("INSERT INTO t VALUES ('outer2', 6)", params![])
            .unwrap();
        tx.commit().unwrap();
        assert_eq!(keys(&t.db), ["kept", "outer1", "outer2"]);
    }
}

#[test]
fn the_closure_form_commits_on_ok_and_rolls_back_on_err() {
    for t in common::databases() {
        setup(&t.db);
        let n =
            t.db.transaction(|tx| {
                tx.execute("INSERT INTO t VALUES ('a', 1)", params![])?;
                tx.query_scalar::<i64>("SELECT count(*) FROM t", params![])
            })
            .unwrap();
        assert_eq!(n, 1);
        let err =
            t.db.transaction(|tx| {
                tx.execute("INSERT INTO t VALUES ('b', 2)", params![])?;
                tx.execute("INSERT INTO t VALUES ('a', 3)", params![])?; // duplicate key
                Ok(())
            })
            .unwrap_err();
        assert_eq!(err.kind(), Some(ErrorKind::UniqueViolation), "{err}");
        assert_eq!(keys(&t.db), ["a"]);
    }
}

#[test]
fn atomic_is_a_transaction_outside_and_a_savepoint_inside() {
    for t in common::databases() {
        setup(&t.db);
        fn insert_pair(ex: &impl Executor, a: &str, b: &str) -> codedb_core::Result<()> {
            ex.atomic(|sp| {
                sp.execute("INSERT INTO t VALUES (?1, 1)", params![a])?;
                sp.execute("INSERT INTO t VALUES (?1, 1)", params![b])?;
                Ok(())
            })
        }
        insert_pair(&t.db, "a", "b").unwrap();
        assert!(insert_pair(&t.db, "c", "a").is_err());
        assert_eq!(
            keys(&t.db),
            ["a", "b"],
            "a failed atomic call on the database leaves nothing"
        );

        let tx = t.db.begin_transaction().unwrap();
        tx.execute("INSERT INTO t VALUES ('x', 1)", params![])
            .unwrap();
        let err = insert_pair(&tx, "y", "x").unwrap_err();
        assert_eq!(err.kind(), Some(ErrorKind::UniqueViolation));
        insert_pair(&tx, "y", "z").unwrap();
        tx.commit().unwrap();
        assert_eq!(
            keys(&t.db),
            ["a", "b", "x", "y", "z"],
            "only the failed savepoint was undone"
        );
    }
}

#[test]
fn a_second_writer_on_the_same_thread_fails_fast_instead_of_deadlocking() {
    let t = temp_db();
    setup(&t.db);
    let tx = t.db.begin_transaction().unwrap();
    let err =
        t.db.execute("INSERT INTO t VALUES ('a', 1)", params![])
            .unwrap_err();
    assert_eq!(err.kind(), Some(ErrorKind::TransactionState), "{err}");
    assert!(
        err.to_string().contains("through that transaction"),
        "{err}"
    );
    let err = t.db.begin_transaction().unwrap_err();
    assert_eq!(err.kind(), Some(ErrorKind::TransactionState));
    tx.rollback().unwrap();
    t.db.execute("INSERT INTO t VALUES ('a', 1)", params![])
        .unwrap();
}

#[test]
fn a_writer_that_waits_past_the_gate_timeout_gets_busy() {
    let t = temp_db_with(short_gate);
    setup(&t.db);
    let tx = t.db.begin_transaction().unwrap();
    let db = t.db.clone();
    let (done_tx, done_rx) = mpsc::channel();
    let waiter = thread::spawn(move || {
        let result = db.execute("INSERT INTO t VALUES ('b', 1)", params![]);
        done_tx.send(()).unwrap();
        result
    });
    let err = waiter.join().unwrap().unwrap_err();
    done_rx.recv().unwrap();
    assert_eq!(err.kind(), Some(ErrorKind::Busy), "{err}");
    assert!(err.to_string().contains("longer than"), "{err}");
    // Reads do not wait for the writer.
    assert!(keys(&t.db).is_empty());
    tx.commit().unwrap();
}

#[test]
fn a_statement_that_ends_the_transaction_behind_the_guards_back_is_refused() {
    let t = temp_db();
    setup(&t.db);
    let tx = t.db.begin_transaction().unwrap();
    tx.execute("INSERT INTO t VALUES ('a', 1)", params![])
        .unwrap();
    let err = tx.execute("COMMIT", params![]).unwrap_err();
    assert_eq!(err.kind(), Some(ErrorKind::TransactionState), "{err}");
    let err = tx
        .execute("INSERT INTO t VALUES ('b', 1)", params![])
        .unwrap_err();
    assert!(err.to_string().contains("aborted"), "{err}");
    let err = tx.commit().unwrap_err();
    assert!(matches!(err, Error::Database(_)), "{err}");
}

#[test]
fn batches_are_all_or_nothing_inside_and_outside_transactions() {
    for t in common::databases() {
        setup(&t.db);
        let rows = (0..100).map(|i| params![format!("k{i:03}"), i]).collect();
        assert_eq!(
            t.db.execute_many("INSERT INTO t VALUES (?1, ?2)", rows)
                .unwrap(),
            100
        );
        let mut rows: Vec<_> = (100..110).map(|i| params![format!("k{i:03}"), i]).collect();
        rows.push(params!["k000", 0]); // duplicate: the whole batch fails
        assert!(
            t.db.execute_many("INSERT INTO t VALUES (?1, ?2)", rows.clone())
                .is_err()
        );
        assert_eq!(
            t.db.query_scalar::<i64>("SELECT count(*) FROM t", params![])
                .unwrap(),
            100
        );

        let tx = t.db.begin_transaction().unwrap();
        tx.execute("INSERT INTO t VALUES ('zz', 1)", params![])
            .unwrap();
        assert!(
            tx.execute_many("INSERT INTO t VALUES (?1, ?2)", rows)
                .is_err()
        );
        tx.commit().unwrap();
        assert_eq!(
            t.db.query_scalar::<i64>("SELECT count(*) FROM t", params![])
                .unwrap(),
            101
        );
    }
}

#[test]
fn a_batch_run_in_place_that_fails_part_way_leaves_a_transaction_that_only_rolls_back() {
    use codedb_core::Batch;
    for t in common::databases() {
        setup(&t.db);
        let tx = t.db.begin_transaction().unwrap();
        tx.execute("INSERT INTO t VALUES ('kept?', 1)", params![])
            .unwrap();
        let batch = Batch::new()
            .statement("INSERT INTO t VALUES ('a', 1)", params![])
            .statement("INSERT INTO t VALUES ('a', 2)", params![]); // duplicate key
        let err = tx.execute_batch_in_place(batch).unwrap_err();
        assert_eq!(err.kind(), Some(ErrorKind::UniqueViolation), "{err}");
        let later = tx
            .execute("INSERT INTO t VALUES ('b', 1)", params![])
            .unwrap_err();
        assert_eq!(later.kind(), Some(ErrorKind::TransactionState), "{later}");
        let commit = tx.commit().unwrap_err();
        assert_eq!(commit.kind(), Some(ErrorKind::TransactionState), "{commit}");
        assert!(
            commit.to_string().contains("can only be rolled back"),
            "{commit}"
        );
        assert!(keys(&t.db).is_empty(), "nothing of the transaction is kept");
        // The database takes the next writer at once.
        t.db.transaction(|tx| {
            tx.execute_batch_in_place(
                Batch::new().statement("INSERT INTO t VALUES ('c', 1)", params![]),
            )
        })
        .unwrap();
        assert_eq!(keys(&t.db), ["c"]);
        // Inside a savepoint it stays undoable alone.
        let mut tx = t.db.begin_transaction().unwrap();
        {
            let sp = tx.savepoint().unwrap();
            let dup = Batch::new()
                .statement("INSERT INTO t VALUES ('d', 1)", params![])
                .statement("INSERT INTO t VALUES ('c', 2)", params![]);
            assert!(sp.execute_batch_in_place(dup).is_err());
            sp.rollback().unwrap();
        }
        tx.execute("INSERT INTO t VALUES ('e', 1)", params![])
            .unwrap();
        tx.commit().unwrap();
        assert_eq!(keys(&t.db), ["c", "e"]);
    }
}

#[test]
fn last_insert_id_and_changes_are_reported() {
    let t = temp_db();
    t.db.execute("CREATE TABLE n(id INTEGER PRIMARY KEY, x)", params![])
        .unwrap();
    let r =
        t.db.execute("INSERT INTO n(x) VALUES (1)", params![])
            .unwrap();
    assert_eq!(r.last_insert_id, Some(1));
    let tx = t.db.begin_transaction().unwrap();
    tx.execute("INSERT INTO n(x) VALUES (2)", params![])
        .unwrap();
    assert_eq!(tx.last_insert_id(), Some(2));
    tx.execute("UPDATE n SET x = 0", params![]).unwrap();
    assert_eq!(tx.changes(), 2);
    tx.commit().unwrap();
}

#[test]
fn a_stream_of_many_chunks_is_all_or_nothing_and_names_the_failing_row() {
    for t in common::databases() {
        setup(&t.db);
        let n = 3 * codedb_core::STREAM_CHUNK + 17;
        let rows = (0..n).map(|i| params![format!("k{i:06}"), i as i64]);
        assert_eq!(
            t.db.execute_stream("INSERT INTO t VALUES (?1, ?2)", rows)
                .unwrap(),
            n as u64
        );
        assert_eq!(
            t.db.query_scalar::<i64>("SELECT count(*) FROM t", params![])
                .unwrap(),
            n as i64
        );

        // Inside a transaction: a failure in a late chunk undoes the whole stream, not the
        // transaction's earlier writes, and the error names the row (counted across chunks).
        let tx = t.db.begin_transaction().unwrap();
        tx.execute("INSERT INTO t VALUES ('before', 1)", params![])
            .unwrap();
        let bad = 2 * codedb_core::STREAM_CHUNK + 5;
        let rows = (0..n).map(|i| {
            if i == bad {
                params!["dup", codedb_core::Value::Null]
            } else {
                params![format!("s{i:06}"), 1]
            }
        });
        let err = tx
            .execute_stream("INSERT INTO t VALUES (?1, ?2)", rows)
            .unwrap_err();
        assert_eq!(err.kind(), Some(ErrorKind::NotNullViolation), "{err}");
        assert!(
            err.to_string().contains(&format!("parameter set {bad}")),
            "{err}"
        );
        assert_eq!(
            tx.query_scalar::<i64>("SELECT count(*) FROM t WHERE k LIKE 's%'", params![])
                .unwrap(),
            0
        );
        tx.execute("INSERT INTO t VALUES ('after', 1)", params![])
            .unwrap();
        tx.commit().unwrap();
        assert_eq!(
            t.db.query_scalar::<i64>("SELECT count(*) FROM t", params![])
                .unwrap(),
            n as i64 + 2
        );

        // An empty stream is a no-op.
        assert_eq!(
            t.db.execute_stream("INSERT INTO t VALUES (?1, ?2)", std::iter::empty())
                .unwrap(),
            0
        );
    }
}
