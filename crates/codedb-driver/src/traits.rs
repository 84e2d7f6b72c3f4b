//! The driver traits: [`SpecificDriver`] (a database) and [`DriverTransaction`] (a write
//! transaction open on it).

use std::fmt::Debug;
use std::path::Path;
use std::time::Duration;

use crate::batch::{Batch, BatchResult};
use crate::error::Result;
use crate::value::{Rows, Value};

/// What a write statement did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExecResult {
    /// Rows inserted, updated or deleted by the statement.
    pub rows_affected: u64,
    /// The id of the most recently inserted row, where the backend reports one.
    pub last_insert_id: Option<i64>,
}

/// One database, shared by all threads of a process. Object safe: `codedb-core` holds it as
/// `Arc<dyn SpecificDriver>` and picks the backend at run time.
///
/// Outside a transaction, [`execute`](Self::execute) and
/// [`execute_batch`](Self::execute_batch) are autocommit writes and wait (up to the driver's
/// timeout, then [`ErrorKind::Busy`](crate::ErrorKind::Busy)) while another transaction is
/// open; [`query`](Self::query) reads the last committed state and never waits for a writer.
pub trait SpecificDriver: Send + Sync + Debug {
    /// A short name of the backend (`"sqlite"`, `"postgres"`).
    fn backend_name(&self) -> &'static str;

    /// Runs one statement as its own transaction. Rows it may return are discarded.
    fn execute(&self, sql: &str, params: Vec<Value>) -> Result<ExecResult>;

    /// Runs one statement and returns its rows, from the last committed state.
    fn query(&self, sql: &str, params: Vec<Value>) -> Result<Rows>;

    /// Runs a batch as one transaction: all of it, or on error none of it.
    fn execute_batch(&self, batch: Batch) -> Result<BatchResult>;

    /// Opens a write transaction (SQLite: `BEGIN IMMEDIATE`). Until it ends, other writers of
    /// this process wait; a writer that waits longer than the driver's timeout gets
    /// [`ErrorKind::Busy`](crate::ErrorKind::Busy).
    fn begin(&self) -> Result<Box<dyn DriverTransaction>>;

    /// How long one statement may wait on the server for a lock another connection holds
    /// (PostgreSQL: the connections' `statement_timeout`); `None` when the server sets no
    /// bound, or when the backend keeps its writers apart itself (SQLite's gate). A caller
    /// that makes writers wait in the process instead of on the server bounds that wait by
    /// it.
    fn lock_wait_limit(&self) -> Option<Duration> {
        None
    }

    /// Writes a consistent copy of the whole database to `dest`, which must not exist yet.
    fn backup_to(&self, dest: &Path) -> Result<()>;

    /// Finishes queued work and closes the database. Later calls fail with
    /// [`ErrorKind::Closed`](crate::ErrorKind::Closed). Closing twice is not an error.
    fn close(&self) -> Result<()>;
}

/// An open write transaction. Every statement run through it sees its own earlier writes.
///
/// Dropping it without [`commit`](Self::commit) or [`rollback`](Self::rollback) rolls it back.
pub trait DriverTransaction: Send + Debug {
    /// Runs one statement inside the transaction.
    fn execute(&mut self, sql: &str, params: Vec<Value>) -> Result<ExecResult>;

    /// Runs one query inside the transaction (it sees the transaction's own writes).
    fn query(&mut self, sql: &str, params: Vec<Value>) -> Result<Rows>;

    /// Runs a batch inside the transaction; a failing batch leaves no effect but the
    /// transaction stays open.
    fn execute_batch(&mut self, batch: Batch) -> Result<BatchResult>;

    /// Runs a batch inside the transaction without the savepoint that lets
    /// [`execute_batch`](Self::execute_batch) undo a failed batch alone: a failing batch may
    /// leave part of its effect, so the caller must then roll the whole transaction back.
    /// For bulk writes, where the savepoint is the larger cost: SQLite copies every page
    /// the batch changes into a journal of its own. The default runs `execute_batch`.
    fn execute_batch_in_place(&mut self, batch: Batch) -> Result<BatchResult> {
        self.execute_batch(batch)
    }

    /// Runs `sql` once for each parameter set that `rows` yields, all or nothing, and returns
    /// the rows changed. Unlike a [`Batch`], the parameter sets are drawn lazily, so a backend
    /// may send them in chunks and run one chunk while the caller produces the next. The
    /// default collects chunks of `STREAM_CHUNK` and runs each as a batch inside a savepoint.
    fn execute_stream(
        &mut self,
        sql: &str,
        rows: &mut dyn Iterator<Item = Vec<Value>>,
    ) -> Result<u64> {
        self.savepoint(STREAM_SAVEPOINT)?;
        let mut run = || -> Result<u64> {
            let mut total = 0;
            loop {
                let chunk: Vec<Vec<Value>> = (&mut *rows).take(STREAM_CHUNK).collect();
                if chunk.is_empty() {
                    return Ok(total);
                }
                total += self
                    .execute_batch(Batch::new().many(sql, chunk))?
                    .rows_affected;
            }
        };
        let result = run();
        end_savepoint(self, STREAM_SAVEPOINT, result)
    }

    /// Opens a savepoint called `name` (an identifier: letters, digits, `_`).
    fn savepoint(&mut self, name: &str) -> Result<()>;

    /// Keeps the work since savepoint `name` and closes it.
    fn release_savepoint(&mut self, name: &str) -> Result<()>;

    /// Undoes the work since savepoint `name` and closes it.
    fn rollback_to_savepoint(&mut self, name: &str) -> Result<()>;

    /// Makes the transaction's writes durable and visible. On error the transaction has been
    /// rolled back.
    fn commit(self: Box<Self>) -> Result<()>;

    /// Undoes the transaction's writes.
    fn rollback(self: Box<Self>) -> Result<()>;

    /// The id of the row most recently inserted through this transaction, if any.
    fn last_insert_id(&self) -> Option<i64>;

    /// Rows changed by the most recent statement or batch run through this transaction.
    fn changes(&self) -> u64;
}

/// The savepoint that makes [`DriverTransaction::execute_stream`] all or nothing.
pub const STREAM_SAVEPOINT: &str = "codedb_stream";

/// Closes savepoint `name` after work that produced `result`: releases it on `Ok`, rolls it
/// back on `Err` (reporting a failed rollback together with the error that caused it).
pub fn end_savepoint<T, D>(tx: &mut D, name: &str, result: Result<T>) -> Result<T>
where
    D: DriverTransaction + ?Sized,
{
    match result {
        Ok(value) => {
            tx.release_savepoint(name)?;
            Ok(value)
        }
        Err(e) => match tx.rollback_to_savepoint(name) {
            Ok(()) => Err(e),
            Err(second) => {
                Err(e.with_context(format!("undoing savepoint {name} also failed ({second})")))
            }
        },
    }
}

/// Parameter sets per chunk of [`DriverTransaction::execute_stream`].
pub const STREAM_CHUNK: usize = 2048;

/// Checks that `name` can be used as a savepoint name without quoting.
pub fn validate_savepoint_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit());
    if ok {
        Ok(())
    } else {
        Err(crate::Error::new(
            crate::ErrorKind::InvalidParameter,
            format!(
                "invalid savepoint name {name:?}: use letters, digits and '_', not starting with a digit"
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::BatchStep;
    use crate::{Error, ErrorKind};

    /// A transaction over a list of rows; a NULL parameter fails like a NOT NULL constraint.
    #[derive(Debug, Default)]
    struct Mock {
        rows: Vec<Vec<Value>>,
        savepoints: Vec<(String, usize)>,
        batches: usize,
    }

    impl DriverTransaction for Mock {
        fn execute(&mut self, _: &str, _: Vec<Value>) -> Result<ExecResult> {
            Ok(ExecResult::default())
        }
        fn query(&mut self, _: &str, _: Vec<Value>) -> Result<Rows> {
            Ok(Rows::default())
        }
        fn execute_batch(&mut self, batch: Batch) -> Result<BatchResult> {
            self.batches += 1;
            let mut n = 0;
            for step in batch.into_steps() {
                if let BatchStep::Statement { param_sets, .. } = step {
                    for set in param_sets {
                        if set.iter().any(Value::is_null) {
                            return Err(Error::new(ErrorKind::NotNullViolation, "null"));
                        }
                        self.rows.push(set);
                        n += 1;
                    }
                }
            }
            Ok(BatchResult {
                rows_affected: n,
                ..BatchResult::default()
            })
        }
        fn savepoint(&mut self, name: &str) -> Result<()> {
            self.savepoints.push((name.to_owned(), self.rows.len()));
            Ok(())
        }
        fn release_savepoint(&mut self, name: &str) -> Result<()> {
            assert_eq!(self.savepoints.pop().map(|s| s.0).as_deref(), Some(name));
            Ok(())
        }
        fn rollback_to_savepoint(&mut self, name: &str) -> Result<()> {
            let (sp, len) = self.savepoints.pop().expect("open savepoint");
            assert_eq!(sp, name);
            self.rows.truncate(len);
            Ok(())
        }
        fn commit(self: Box<Self>) -> Result<()> {
            Ok(())
        }
        fn rollback(self: Box<Self>) -> Result<()> {
            Ok(())
        }
        fn last_insert_id(&self) -> Option<i64> {
            None
        }
        fn changes(&self) -> u64 {
            0
        }
    }

    #[test]
    fn the_default_stream_sends_chunks_and_undoes_all_of_them_on_failure() {
        let mut tx = Mock::default();
        let n = 2 * STREAM_CHUNK + 1;
        let mut rows = (0..n).map(|i| vec![Value::from(i as i64)]);
        assert_eq!(tx.execute_stream("INSERT", &mut rows).unwrap(), n as u64);
        assert_eq!((tx.rows.len(), tx.batches), (n, 3));
        assert!(tx.savepoints.is_empty());

        let mut rows = (0..n).map(|i| {
            vec![if i == n - 1 {
                Value::Null
            } else {
                Value::from(1)
            }]
        });
        let err = tx.execute_stream("INSERT", &mut rows).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotNullViolation);
        assert_eq!(tx.rows.len(), n, "the failed stream left nothing");
        assert!(tx.savepoints.is_empty());
    }
}
