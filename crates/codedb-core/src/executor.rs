//! [`Executor`]: what both a [`CodeDatabase`](crate::CodeDatabase) and a
//! [`Transaction`] can run, so that domain methods are written once.

use codedb_driver::{Batch, BatchResult, ExecResult, FromValue, Row, Rows, Value};

use crate::error::Result;
use crate::transaction::Transaction;

/// Runs statements. Implemented by [`CodeDatabase`](crate::CodeDatabase) (each call its own
/// transaction, reads from the last committed state) and by [`Transaction`] (every call joins
/// the transaction and sees its writes).
pub trait Executor {
    /// The SQL dialect of the database underneath.
    fn dialect(&self) -> crate::Dialect;

    /// Runs one write statement.
    fn execute(&self, sql: &str, params: Vec<Value>) -> Result<ExecResult>;

    /// Runs one query.
    fn query(&self, sql: &str, params: Vec<Value>) -> Result<Rows>;

    /// Runs a batch, all or nothing, in one round trip.
    fn execute_batch(&self, batch: Batch) -> Result<BatchResult>;

    /// Runs a batch for a caller that gives up the whole transaction when it fails: in a
    /// transaction (not a savepoint), without the savepoint that lets a failed batch be
    /// undone alone, and a failure leaves the transaction able only to roll back (its
    /// commit fails). Bulk writes use it: on SQLite that savepoint copies every page the
    /// batch changes into a journal of its own. Elsewhere it is
    /// [`execute_batch`](Self::execute_batch).
    fn execute_batch_in_place(&self, batch: Batch) -> Result<BatchResult> {
        self.execute_batch(batch)
    }

    /// Runs `sql` once per parameter set drawn lazily from `rows`, all or nothing; returns
    /// the rows changed. For bulk writes: the backend may run one chunk while `rows` produces
    /// the next, so nothing needs to be collected first.
    fn execute_stream<I>(&self, sql: &str, rows: I) -> Result<u64>
    where
        I: IntoIterator<Item = Vec<Value>>,
        Self: Sized,
    {
        let mut rows = rows.into_iter();
        self.atomic(|tx| tx.stream_rows(sql, &mut rows))
    }

    /// Runs `f` atomically: in a new transaction on a database, in a savepoint inside a
    /// transaction. `Ok` keeps its writes, `Err` undoes them (and only them).
    fn atomic<R>(&self, f: impl FnOnce(&Transaction<'_>) -> Result<R>) -> Result<R>;

    /// Runs `sql` once per parameter set, in one round trip; returns the rows changed.
    fn execute_many(&self, sql: &str, param_sets: Vec<Vec<Value>>) -> Result<u64> {
        Ok(self
            .execute_batch(Batch::new().many(sql, param_sets))?
            .rows_affected)
    }

    /// The first row of a query, if any.
    fn query_row(&self, sql: &str, params: Vec<Value>) -> Result<Option<Row>> {
        Ok(self.query(sql, params)?.rows.into_iter().next())
    }

    /// The first column of the first row, converted; `NotFound` when there is no row.
    fn query_scalar<T: FromValue>(&self, sql: &str, params: Vec<Value>) -> Result<T> {
        Ok(self.query(sql, params)?.scalar()?)
    }
}
