//! [`SQLiteDriverProxy`]: the [`SpecificDriver`] of a SQLite database served by a
//! [`DBWorker`], with the writer gate and the transaction state.
//!
//! The worker's one connection is shared by every thread, so whatever a transaction does must
//! not interleave with anybody else's writes. The proxy makes sure of it with a gate: a
//! transaction holds it from `BEGIN IMMEDIATE` to `COMMIT`/`ROLLBACK`, and an autocommit write
//! holds it for its one job. A writer that cannot get the gate within `gate_timeout` gets a
//! `Busy` error naming the wait, instead of queueing inside SQLite. Reads made outside a
//! transaction skip the gate and go to the reader pool.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::ThreadId;
use std::time::Duration;

use codedb_driver::{
    Batch, BatchResult, DriverTransaction, Error, ErrorKind, ExecResult, Result, Rows,
    STREAM_CHUNK, STREAM_SAVEPOINT, SpecificDriver, Value, end_savepoint,
};
use parking_lot::lock_api::ArcMutexGuard;
use parking_lot::{Mutex, RawMutex};

use crate::connection::SQLiteDriver;
use crate::pool::ReaderPool;
use crate::worker::DBWorker;

/// The SQLite [`SpecificDriver`]: sends jobs to a [`DBWorker`] and keeps other writers out
/// while a transaction is open. Build it with [`DBWorkerManager`](crate::DBWorkerManager).
#[derive(Debug)]
pub struct SQLiteDriverProxy {
    worker: Arc<DBWorker>,
    readers: Option<ReaderPool>,
    gate: Arc<Gate>,
    path: PathBuf,
}

#[derive(Debug)]
struct Gate {
    lock: Arc<Mutex<()>>,
    owner: Mutex<Option<ThreadId>>,
    timeout: Duration,
}

/// Held while a writer may use the worker's connection.
struct GateGuard {
    gate: Arc<Gate>,
    _held: ArcMutexGuard<RawMutex, ()>,
}

impl Gate {
    fn enter(self: &Arc<Self>) -> Result<GateGuard> {
        let me = std::thread::current().id();
        if *self.owner.lock() == Some(me) {
            return Err(Error::new(
                ErrorKind::TransactionState,
                "this thread already has a transaction open on this database; run the statement \
                 through that transaction (waiting for it here would deadlock)",
            ));
        }
        let held = self.lock.try_lock_arc_for(self.timeout).ok_or_else(|| {
            Error::new(
                ErrorKind::Busy,
                format!(
                    "another transaction kept the database busy for longer than {:?}; try again later",
                    self.timeout
                ),
            )
        })?;
        *self.owner.lock() = Some(me);
        Ok(GateGuard {
            gate: Arc::clone(self),
            _held: held,
        })
    }
}

impl std::fmt::Debug for GateGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("GateGuard")
    }
}

impl Drop for GateGuard {
    fn drop(&mut self) {
        *self.gate.owner.lock() = None;
    }
}

impl SQLiteDriverProxy {
    pub(crate) fn new(
        worker: Arc<DBWorker>,
        readers: Option<ReaderPool>,
        gate_timeout: Duration,
        path: PathBuf,
    ) -> Self {
        let gate = Arc::new(Gate {
            lock: Arc::new(Mutex::new(())),
            owner: Mutex::new(None),
            timeout: gate_timeout,
        });
        SQLiteDriverProxy {
            worker,
            readers,
            gate,
            path,
        }
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The worker serving this database.
    pub fn worker(&self) -> &DBWorker {
        &self.worker
    }

    /// Runs `job` on the worker's connection as an autocommit write: it holds the writer gate,
    /// and if it panics or leaves a transaction open, that transaction is rolled back. For
    /// SQLite-specific work (introspection, pragmas) that the driver trait does not cover.
    pub fn with_connection<R, F>(&self, job: F) -> Result<R>
    where
        F: FnOnce(&mut SQLiteDriver) -> Result<R> + Send + 'static,
        R: Send + 'static,
    {
        let _gate = self.gate.enter()?;
        self.worker.call_autocommit(move |d| {
            let result = job(d);
            if !d.is_autocommit() {
                d.rollback()?;
                return Err(Error::new(
                    ErrorKind::TransactionState,
                    "a connection job left a transaction open; it was rolled back",
                ));
            }
            result
        })
    }
}

impl SpecificDriver for SQLiteDriverProxy {
    fn backend_name(&self) -> &'static str {
        "sqlite"
    }

    fn execute(&self, sql: &str, params: Vec<Value>) -> Result<ExecResult> {
        let sql = sql.to_owned();
        let _gate = self.gate.enter()?;
        self.worker
            .call_autocommit(move |d| d.execute(&sql, &params))
    }

    fn query(&self, sql: &str, params: Vec<Value>) -> Result<Rows> {
        if let Some(readers) = &self.readers {
            if !self.worker.is_running() {
                return Err(Error::new(
                    ErrorKind::Closed,
                    "the database has been closed",
                ));
            }
            return readers.query(sql, &params);
        }
        let sql = sql.to_owned();
        let _gate = self.gate.enter()?;
        self.worker.call_autocommit(move |d| d.query(&sql, &params))
    }

    fn execute_batch(&self, batch: Batch) -> Result<BatchResult> {
        let _gate = self.gate.enter()?;
        self.worker
            .call_autocommit(move |d| d.run_batch(batch.steps()))
    }

    fn begin(&self) -> Result<Box<dyn DriverTransaction>> {
        let gate = self.gate.enter()?;
        self.worker.call_autocommit(SQLiteDriver::begin_immediate)?;
        Ok(Box::new(SqliteTransaction {
            worker: Arc::clone(&self.worker),
            finished: false,
            aborted: None,
            last_insert_id: None,
            changes: 0,
            _gate: gate,
        }))
    }

    fn backup_to(&self, dest: &Path) -> Result<()> {
        let dest = dest.to_owned();
        let _gate = self.gate.enter()?;
        self.worker.call_autocommit(move |d| d.backup_to(&dest))
    }

    fn close(&self) -> Result<()> {
        self.worker.shutdown()
    }
}

/// Chunks of a stream queued at the worker at once: enough to keep it busy while the caller
/// produces the next, few enough to bound memory.
const STREAM_IN_FLIGHT: usize = 3;

/// An open transaction on the worker's connection; holds the writer gate until it ends.
#[derive(Debug)]
struct SqliteTransaction {
    worker: Arc<DBWorker>,
    finished: bool,
    /// Set when the transaction can no longer commit (a job panicked, or SQLite rolled it back
    /// on its own after an error such as a full disk).
    aborted: Option<String>,
    last_insert_id: Option<i64>,
    changes: u64,
    // Dropped last: the rollback in `Drop` runs while the gate is still held.
    _gate: GateGuard,
}

impl SqliteTransaction {
    /// Runs `job` inside the transaction, refusing when it is no longer open.
    fn run<R, F>(&mut self, job: F) -> Result<R>
    where
        F: FnOnce(&mut SQLiteDriver) -> Result<R> + Send + 'static,
        R: Send + 'static,
    {
        if let Some(reason) = &self.aborted {
            return Err(self
                .worker
                .unavailable()
                .unwrap_or_else(|| aborted_error(reason)));
        }
        let outcome = self.worker.call(move |d| {
            if d.is_autocommit() {
                let err = Error::new(
                    ErrorKind::TransactionState,
                    "the database rolled the transaction back",
                );
                return Ok((Err(err), false));
            }
            let result = job(d);
            Ok((result, !d.is_autocommit()))
        });
        let err = match outcome {
            Ok((result, true)) => return result,
            Ok((Err(e), false)) => e.with_context("the database rolled the transaction back"),
            Ok((Ok(_), false)) => Error::new(
                ErrorKind::TransactionState,
                "the statement ended the transaction; end it with commit() or rollback() instead",
            ),
            // A panicked job or a dead worker: the transaction's state is unknown.
            Err(e) => e,
        };
        self.aborted = Some(err.to_string());
        Err(err)
    }
}

impl SqliteTransaction {
    /// Keeps what a batch reports for `changes` and `last_insert_id`.
    fn note(&mut self, result: &BatchResult) {
        self.changes = result.rows_affected;
        if result.last_insert_id.is_some() {
            self.last_insert_id = result.last_insert_id;
        }
    }
}

fn aborted_error(reason: &str) -> Error {
    Error::new(
        ErrorKind::TransactionState,
        format!("the transaction was aborted ({reason}); roll it back and start again"),
    )
}

impl DriverTransaction for SqliteTransaction {
    fn execute(&mut self, sql: &str, params: Vec<Value>) -> Result<ExecResult> {
        let sql = sql.to_owned();
        let result = self.run(move |d| d.execute(&sql, &params))?;
        self.changes = result.rows_affected;
        if result.last_insert_id.is_some() {
            self.last_insert_id = result.last_insert_id;
        }
        Ok(result)
    }

    fn query(&mut self, sql: &str, params: Vec<Value>) -> Result<Rows> {
        let sql = sql.to_owned();
        self.run(move |d| d.query(&sql, &params))
    }

    fn execute_batch(&mut self, batch: Batch) -> Result<BatchResult> {
        let result = self.run(move |d| d.run_batch(batch.steps()))?;
        self.note(&result);
        Ok(result)
    }

    fn execute_batch_in_place(&mut self, batch: Batch) -> Result<BatchResult> {
        match self.run(move |d| d.run_batch_in_place(batch.steps())) {
            Ok(result) => {
                self.note(&result);
                Ok(result)
            }
            Err(e) => {
                // Part of the batch may be done: the transaction can only be rolled back.
                self.aborted
                    .get_or_insert_with(|| format!("a batch failed part-way: {e}"));
                Err(e)
            }
        }
    }

    /// Pipelined: chunks are queued as separate jobs (at most [`STREAM_IN_FLIGHT`] at once),
    /// so the worker inserts one chunk while the caller's iterator produces the next.
    fn execute_stream(
        &mut self,
        sql: &str,
        rows: &mut dyn Iterator<Item = Vec<Value>>,
    ) -> Result<u64> {
        self.savepoint(STREAM_SAVEPOINT)?;
        let worker = Arc::clone(&self.worker);
        let sql: Arc<str> = Arc::from(sql);
        let mut in_flight = VecDeque::new();
        let mut total = 0;
        let mut failure = None;
        let mut sent = 0;
        loop {
            let chunk: Vec<Vec<Value>> = (&mut *rows).take(STREAM_CHUNK).collect();
            if chunk.is_empty() {
                break;
            }
            let (sql, first) = (Arc::clone(&sql), sent);
            sent += chunk.len();
            let job = worker.send_job(move |d| {
                if d.is_autocommit() {
                    return Err(Error::new(
                        ErrorKind::TransactionState,
                        "the database rolled the transaction back",
                    ));
                }
                d.execute_many(&sql, &chunk, first)
            });
            match job {
                Ok(pending) => in_flight.push_back(pending),
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
            if in_flight.len() >= STREAM_IN_FLIGHT
                && let Some(pending) = in_flight.pop_front()
            {
                match pending.wait() {
                    Ok(n) => total += n,
                    Err(e) => {
                        failure = Some(e);
                        break;
                    }
                }
            }
        }
        // Every queued chunk is answered before the savepoint is closed either way.
        for pending in in_flight {
            match pending.wait() {
                Ok(n) => total += n,
                Err(e) => {
                    failure.get_or_insert(e);
                }
            }
        }
        let result = failure.map_or(Ok(total), Err);
        let total = end_savepoint(self, STREAM_SAVEPOINT, result)?;
        self.changes = total;
        Ok(total)
    }

    fn savepoint(&mut self, name: &str) -> Result<()> {
        codedb_driver::validate_savepoint_name(name)?;
        let name = name.to_owned();
        self.run(move |d| d.savepoint(&name))
    }

    fn release_savepoint(&mut self, name: &str) -> Result<()> {
        codedb_driver::validate_savepoint_name(name)?;
        let name = name.to_owned();
        self.run(move |d| d.release_savepoint(&name))
    }

    fn rollback_to_savepoint(&mut self, name: &str) -> Result<()> {
        codedb_driver::validate_savepoint_name(name)?;
        let name = name.to_owned();
        self.run(move |d| d.rollback_to_savepoint(&name))
    }

    fn commit(mut self: Box<Self>) -> Result<()> {
        self.finished = true;
        if let Some(reason) = self.aborted.take() {
            return Err(match self.worker.call(SQLiteDriver::rollback) {
                Ok(()) => aborted_error(&reason),
                Err(second) => {
                    second.with_context(format!("the transaction was aborted ({reason})"))
                }
            });
        }
        self.worker.call(SQLiteDriver::commit)
    }

    fn rollback(mut self: Box<Self>) -> Result<()> {
        self.finished = true;
        self.worker.call(SQLiteDriver::rollback)
    }

    fn last_insert_id(&self) -> Option<i64> {
        self.last_insert_id
    }

    fn changes(&self) -> u64 {
        self.changes
    }
}

impl Drop for SqliteTransaction {
    fn drop(&mut self) {
        if !self.finished
            && let Err(e) = self.worker.call(SQLiteDriver::rollback)
        {
            tracing::warn!(error = %e, "rolling back a dropped transaction failed");
        }
    }
}
