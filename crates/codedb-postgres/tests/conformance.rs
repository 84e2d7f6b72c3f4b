//! One set of driver tests, run against every backend: SQLite (always) and PostgreSQL (the
//! server on 127.0.0.1:5432, or `CODEDB_TEST_POSTGRES`; each test creates and drops a
//! uniquely named database; without a server the PostgreSQL half is skipped with a printed
//! reason). Table definitions are the only per-backend text.
#![allow(clippy::unwrap_used, clippy::print_stdout, clippy::print_stderr)]

use std::sync::Arc;

use codedb_backends::testing::TestDatabase;
use codedb_driver::{Batch, ErrorKind, SpecificDriver, Value, params};

/// A database under test (from `codedb_backends::testing`), removed when dropped.
struct Backend {
    name: &'static str,
    driver: Arc<dyn SpecificDriver>,
    _open: codedb_backends::Backend,
    _test: TestDatabase,
}

fn open(test: TestDatabase) -> Backend {
    let open = test.open();
    Backend {
        name: test.name(),
        driver: open.driver(),
        _open: open,
        _test: test,
    }
}

fn postgres() -> Option<Backend> {
    TestDatabase::postgres().map(open)
}

/// Every backend available here.
fn backends() -> Vec<Backend> {
    TestDatabase::all().into_iter().map(open).collect()
}

/// The one per-backend text: a table with each kind of value.
fn create_table(b: &Backend) {
    let ddl = match b.name {
        "postgres" => {
            "CREATE TABLE t (id BIGINT PRIMARY KEY, i BIGINT, r DOUBLE PRECISION, s TEXT NOT NULL DEFAULT '', b BYTEA)"
        }
        _ => {
            "CREATE TABLE t (id INTEGER PRIMARY KEY, i INTEGER, r REAL, s TEXT NOT NULL DEFAULT '', b BLOB)"
        }
    };
    b.driver.execute(ddl, params![]).unwrap();
    b.driver
        .execute(
            "CREATE TABLE counter (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)",
            params![],
        )
        .unwrap();
    b.driver
        .execute("INSERT INTO counter (id, n) VALUES (1, 0)", params![])
        .unwrap();
}

fn count(b: &Backend) -> i64 {
    b.driver
        .query("SELECT count(*) FROM t", params![])
        .unwrap()
        .scalar()
        .unwrap()
}

#[test]
fn values_round_trip() {
    for b in backends() {
        create_table(&b);
        b.driver
            .execute(
                "INSERT INTO t (id, i, r, s, b) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![1, i64::MAX, 2.5, "héllo 'quoted' ?1", vec![0u8, 255, 7]],
            )
            .unwrap();
        b.driver
            .execute(
                "INSERT INTO t (id, i, r, s, b) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![2, Value::Null, Value::Null, "", Value::Null],
            )
            .unwrap();
        let rows = b
            .driver
            .query("SELECT id, i, r, s, b FROM t ORDER BY id", params![])
            .unwrap();
        assert_eq!(rows.columns, ["id", "i", "r", "s", "b"], "{}", b.name);
        let r = &rows.rows[0];
        assert_eq!(r.get::<i64>(1).unwrap(), i64::MAX, "{}", b.name);
        assert_eq!(r.get::<f64>(2).unwrap(), 2.5, "{}", b.name);
        assert_eq!(
            r.get::<String>(3).unwrap(),
            "héllo 'quoted' ?1",
            "{}",
            b.name
        );
        assert_eq!(
            r.get::<Vec<u8>>(4).unwrap(),
            vec![0u8, 255, 7],
            "{}",
            b.name
        );
        assert!(
            rows.rows[1].values()[1..3].iter().all(Value::is_null),
            "{}",
            b.name
        );
    }
}

#[test]
fn transactions_commit_roll_back_and_roll_back_when_dropped() {
    for b in backends() {
        create_table(&b);
        let mut tx = b.driver.begin().unwrap();
        tx.execute("INSERT INTO t (id, s) VALUES (?1, ?2)", params![1, "a"])
            .unwrap();
        let seen: i64 = tx
            .query("SELECT count(*) FROM t", params![])
            .unwrap()
            .scalar()
            .unwrap();
        assert_eq!(seen, 1, "{}: a transaction sees its own writes", b.name);
        assert_eq!(count(&b), 0, "{}: others do not, before commit", b.name);
        tx.commit().unwrap();
        assert_eq!(count(&b), 1, "{}", b.name);

        let mut tx = b.driver.begin().unwrap();
        tx.execute("INSERT INTO t (id, s) VALUES (?1, ?2)", params![2, "b"])
            .unwrap();
        tx.rollback().unwrap();
        let mut tx = b.driver.begin().unwrap();
        tx.execute("INSERT INTO t (id, s) VALUES (?1, ?2)", params![3, "c"])
            .unwrap();
        drop(tx);
        assert_eq!(
            count(&b),
            1,
            "{}: rolled back and dropped leave nothing",
            b.name
        );
    }
}

#[test]
fn savepoints_and_batches_are_all_or_nothing() {
    for b in backends() {
        create_table(&b);
        let mut tx = b.driver.begin().unwrap();
        tx.execute("INSERT INTO t (id) VALUES (1)", params![])
            .unwrap();
        tx.savepoint("inner").unwrap();
        tx.execute("INSERT INTO t (id) VALUES (2)", params![])
            .unwrap();
        tx.rollback_to_savepoint("inner").unwrap();
        // A batch whose last statement fails leaves nothing, and the transaction goes on.
        let err = tx
            .execute_batch(
                Batch::new()
                    .many(
                        "INSERT INTO t (id) VALUES (?1)",
                        vec![params![10], params![11]],
                    )
                    .many("INSERT INTO t (id) VALUES (?1)", vec![params![1]]),
            )
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::UniqueViolation, "{}: {err}", b.name);
        tx.execute("INSERT INTO t (id) VALUES (3)", params![])
            .unwrap();
        tx.commit().unwrap();
        let ids: Vec<i64> = b
            .driver
            .query("SELECT id FROM t ORDER BY id", params![])
            .unwrap()
            .rows
            .iter()
            .map(|r| r.get(0).unwrap())
            .collect();
        assert_eq!(ids, [1, 3], "{}", b.name);
        // Outside a transaction too.
        let err = b
            .driver
            .execute_batch(Batch::new().many(
                "INSERT INTO t (id) VALUES (?1)",
                vec![params![20], params![3]],
            ))
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::UniqueViolation, "{}", b.name);
        assert_eq!(count(&b), 2, "{}", b.name);
        // A stream, in chunks, all or nothing.
        let mut tx = b.driver.begin().unwrap();
        let n = tx
            .execute_stream(
                "INSERT INTO t (id) VALUES (?1)",
                &mut (100..5100).map(|i: i64| params![i]),
            )
            .unwrap();
        assert_eq!(n, 5000, "{}", b.name);
        tx.commit().unwrap();
        assert_eq!(count(&b), 5002, "{}", b.name);
    }
}

#[test]
fn errors_have_the_same_kinds_on_every_backend() {
    for b in backends() {
        create_table(&b);
        b.driver
            .execute("INSERT INTO t (id) VALUES (1)", params![])
            .unwrap();
        let kind = |sql: &str| b.driver.execute(sql, params![]).unwrap_err().kind();
        assert_eq!(
            kind("INSERT INTO t (id) VALUES (1)"),
            ErrorKind::UniqueViolation,
            "{}",
            b.name
        );
        assert_eq!(
            kind("INSERT INTO t (id, s) VALUES (2, NULL)"),
            ErrorKind::NotNullViolation,
            "{}",
            b.name
        );
        assert_eq!(
            kind("INSERT INTO nope VALUES (1)"),
            ErrorKind::Syntax,
            "{}",
            b.name
        );
        assert_eq!(kind("SELEC 1"), ErrorKind::Syntax, "{}", b.name);
        let err = b
            .driver
            .execute("INSERT INTO nope VALUES (1)", params![])
            .unwrap_err();
        assert!(err.to_string().contains("nope"), "{}: {err}", b.name);
        // A closed driver says so.
        b.driver.close().unwrap();
        assert_eq!(
            b.driver.query("SELECT 1", params![]).unwrap_err().kind(),
            ErrorKind::Closed,
            "{}",
            b.name
        );
    }
}

#[test]
fn concurrent_writers_lose_nothing() {
    for b in backends() {
        create_table(&b);
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let d = Arc::clone(&b.driver);
                std::thread::spawn(move || {
                    for _ in 0..50 {
                        loop {
                            let attempt = (|| {
                                let mut tx = d.begin()?;
                                tx.execute("UPDATE counter SET n = n + 1 WHERE id = 1", params![])?;
                                tx.commit()
                            })();
                            match attempt {
                                Ok(()) => break,
                                Err(e)
                                    if matches!(
                                        e.kind(),
                                        ErrorKind::SerializationFailure | ErrorKind::Busy
                                    ) => {}
                                Err(e) => panic!("{e}"),
                            }
                        }
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let n: i64 = b
            .driver
            .query("SELECT n FROM counter WHERE id = 1", params![])
            .unwrap()
            .scalar()
            .unwrap();
        assert_eq!(n, 200, "{}", b.name);
    }
}

#[test]
fn a_serialization_failure_is_retryable() {
    let Some(b) = postgres() else { return };
    create_table(&b);
    b.driver
        .execute("INSERT INTO t (id, i) VALUES (1, 0)", params![])
        .unwrap();
    let mut first = b.driver.begin().unwrap();
    first
        .execute("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE", params![])
        .unwrap();
    let mut second = b.driver.begin().unwrap();
    second
        .execute("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE", params![])
        .unwrap();
    let _ = first
        .query("SELECT i FROM t WHERE id = 1", params![])
        .unwrap();
    let _ = second
        .query("SELECT i FROM t WHERE id = 1", params![])
        .unwrap();
    first
        .execute("UPDATE t SET i = 1 WHERE id = 1", params![])
        .unwrap();
    first.commit().unwrap();
    let err = second
        .execute("UPDATE t SET i = 2 WHERE id = 1", params![])
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::SerializationFailure, "{err}");
}

#[test]
fn a_wrong_url_or_absent_server_is_a_clear_error() {
    let err = codedb_postgres::open("not a url at all").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::CannotOpen, "{err}");
    let mut config =
        codedb_postgres::PostgresConfig::new("postgres://nobody:secret@127.0.0.1:1/none");
    config.connect_timeout = std::time::Duration::from_millis(500);
    let e = codedb_postgres::PostgresDriver::open(&config).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::CannotOpen, "{e}");
    assert!(
        e.to_string().contains("127.0.0.1:1"),
        "names the server: {e}"
    );
    assert!(
        !e.to_string().contains("secret"),
        "the password is not printed: {e}"
    );
}
