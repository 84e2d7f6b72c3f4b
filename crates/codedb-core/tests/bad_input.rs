//! Bad SQL and bad parameters get clear errors naming the cause, and change nothing.
#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

mod common;

use codedb_core::{ErrorKind, Executor, params};

fn snapshot(t: &common::TempDb) -> Vec<(i64, String)> {
    t.db.query("SELECT id, name FROM t ORDER BY id", params![])
        .unwrap()
        .iter()
        .map(|r| (r.get(0).unwrap(), r.get(1).unwrap()))
        .collect()
}

fn setup() -> common::TempDb {
    let t = common::temp_db();
    t.db.execute(
        "CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT NOT NULL)",
        params![],
    )
    .unwrap();
    t.db.execute("INSERT INTO t VALUES (1, 'one')", params![])
        .unwrap();
    t
}

#[test]
fn malformed_sql_is_a_syntax_error_that_quotes_the_statement() {
    let t = setup();
    let before = snapshot(&t);
    for sql in [
        "INSRT INTO t VALUES (2, 'two')",
        "INSERT INTO t VALUES (2, 'two'",
        "SELECT * FROM nowhere",
    ] {
        let err = t.db.execute(sql, params![]).unwrap_err();
        assert_eq!(err.kind(), Some(ErrorKind::Syntax), "{sql}: {err}");
        assert!(
            err.to_string().contains(sql.trim()),
            "the message quotes the SQL: {err}"
        );
        let err =
            t.db.transaction(|tx| tx.execute(sql, params![]).map(|_| ()))
                .unwrap_err();
        assert_eq!(err.kind(), Some(ErrorKind::Syntax), "{sql}: {err}");
    }
    assert_eq!(snapshot(&t), before);
}

#[test]
fn a_wrong_parameter_count_names_both_counts() {
    let t = setup();
    let before = snapshot(&t);
    let err =
        t.db.execute("INSERT INTO t VALUES (?1, ?2)", params![2])
            .unwrap_err();
    assert_eq!(err.kind(), Some(ErrorKind::InvalidParameter), "{err}");
    assert!(err.to_string().contains("takes 2, 1 given"), "{err}");
    let err =
        t.db.execute("INSERT INTO t VALUES (?1, ?2)", params![2, "x", 3])
            .unwrap_err();
    assert_eq!(err.kind(), Some(ErrorKind::InvalidParameter), "{err}");
    let err =
        t.db.query("SELECT * FROM t WHERE id = ?1", params![])
            .unwrap_err();
    assert_eq!(err.kind(), Some(ErrorKind::InvalidParameter), "{err}");
    // In a batch, the failing parameter set is named and nothing of the batch stays.
    let err =
        t.db.execute_many(
            "INSERT INTO t VALUES (?1, ?2)",
            vec![params![5, "five"], params![6]],
        )
        .unwrap_err();
    assert!(err.to_string().contains("parameter set 1"), "{err}");
    assert_eq!(snapshot(&t), before);
}

#[test]
fn two_statements_in_one_call_are_refused_with_advice() {
    let t = setup();
    let before = snapshot(&t);
    let err =
        t.db.execute(
            "INSERT INTO t VALUES (2, 'a'); INSERT INTO t VALUES (3, 'b')",
            params![],
        )
        .unwrap_err();
    assert!(err.to_string().contains("more than one statement"), "{err}");
    assert_eq!(snapshot(&t), before);
}
