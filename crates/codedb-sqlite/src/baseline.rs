//! Reference measurements on plain rusqlite, for benchmarks that compare codedb's SQLite path
//! against the fastest thing SQLite can do. This crate is the only one that may name rusqlite,
//! so the baselines live here.

use std::path::Path;
use std::time::{Duration, Instant};

use codedb_driver::{Result, Value};
use rusqlite::Connection;

use crate::error::{map_err, with_sql};

/// Inserts `rows` rows made by `row` with `insert_sql` into a database at `path` that
/// `setup_sql` prepares: one rusqlite connection with codedb's pragmas (WAL,
/// `synchronous=NORMAL`), one transaction, one prepared statement. Returns the time spent
/// from `BEGIN` to `COMMIT` included.
pub fn direct_insert(
    path: &Path,
    setup_sql: &str,
    insert_sql: &str,
    rows: usize,
    mut row: impl FnMut(usize) -> Vec<Value>,
) -> Result<Duration> {
    let mut conn = Connection::open(path).map_err(|e| map_err(e, None))?;
    conn.execute_batch(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
    )
    .map_err(|e| map_err(e, None))?;
    conn.execute_batch(setup_sql).map_err(with_sql(setup_sql))?;
    let start = Instant::now();
    let tx = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(|e| map_err(e, None))?;
    {
        let mut stmt = tx
            .prepare_cached(insert_sql)
            .map_err(with_sql(insert_sql))?;
        for i in 0..rows {
            let values = row(i);
            stmt.execute(rusqlite::params_from_iter(
                values.iter().map(crate::connection::to_sql),
            ))
            .map_err(with_sql(insert_sql))?;
        }
    }
    tx.commit().map_err(|e| map_err(e, None))?;
    Ok(start.elapsed())
}
