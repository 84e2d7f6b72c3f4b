//! [`Transaction`]: the guard of an open transaction, or of a savepoint inside one.

use std::sync::atomic::{AtomicU32, Ordering};

use codedb_driver::{Batch, BatchResult, DriverTransaction, ExecResult, Rows, Value};
use parking_lot::Mutex;

use crate::Dialect;
use crate::database::finish;
use crate::error::Result;
use crate::executor::Executor;
use crate::writer_gate::WriterPass;

/// The driver's transaction, shared by a transaction and the savepoints nested in it.
#[derive(Debug)]
struct Shared {
    handle: Mutex<Option<Box<dyn DriverTransaction>>>,
    /// Why the transaction can only be rolled back: a batch run in place failed part-way.
    poisoned: Mutex<Option<String>>,
    next_savepoint: AtomicU32,
    dialect: Dialect,
    /// The writer's admission ([`WriterGate`](crate::writer_gate::WriterGate)), given back
    /// when the transaction is dropped: after its commit or rollback.
    _pass: Option<WriterPass>,
}

#[derive(Debug)]
enum Level<'a> {
    /// The outermost transaction: owns the driver's transaction.
    Top(Box<Shared>),
    /// A savepoint called `name` inside the transaction `shared`.
    Savepoint { shared: &'a Shared, name: String },
}

/// An open transaction (from [`CodeDatabase::begin_transaction`](crate::CodeDatabase::begin_transaction))
/// or a savepoint inside one (from [`Transaction::savepoint`] or [`Executor::atomic`]).
///
/// End it with [`commit`](Self::commit) or [`rollback`](Self::rollback). Dropping it
/// unfinished rolls back: the whole transaction, or only the savepoint's work.
#[derive(Debug)]
#[must_use = "a transaction is rolled back when dropped; call commit()"]
pub struct Transaction<'a> {
    level: Level<'a>,
    finished: bool,
}

impl<'a> Transaction<'a> {
    pub(crate) fn top(
        handle: Box<dyn DriverTransaction>,
        dialect: Dialect,
        pass: Option<WriterPass>,
    ) -> Transaction<'static> {
        Transaction {
            level: Level::Top(Box::new(Shared {
                handle: Mutex::new(Some(handle)),
                poisoned: Mutex::new(None),
                next_savepoint: AtomicU32::new(1),
                dialect,
                _pass: pass,
            })),
            finished: false,
        }
    }

    fn shared(&self) -> &Shared {
        match &self.level {
            Level::Top(shared) => shared,
            Level::Savepoint { shared, .. } => shared,
        }
    }

    fn with_handle<R>(
        &self,
        f: impl FnOnce(&mut dyn DriverTransaction) -> codedb_driver::Result<R>,
    ) -> Result<R> {
        if let Some(reason) = self.shared().poisoned.lock().as_deref() {
            return Err(poisoned_error(reason).into());
        }
        let mut guard = self.shared().handle.lock();
        let handle = guard.as_mut().ok_or_else(|| {
            codedb_driver::Error::new(
                codedb_driver::ErrorKind::TransactionState,
                "the transaction has already ended",
            )
        })?;
        Ok(f(handle.as_mut())?)
    }

    pub(crate) fn stream_rows(
        &self,
        sql: &str,
        rows: &mut dyn Iterator<Item = Vec<Value>>,
    ) -> Result<u64> {
        self.with_handle(|h| h.execute_stream(sql, rows))
    }

    /// `true` for a savepoint, `false` for the outermost transaction.
    pub fn is_savepoint(&self) -> bool {
        matches!(self.level, Level::Savepoint { .. })
    }

    /// Opens a savepoint inside this transaction. While it lives, this guard is borrowed;
    /// committing it keeps its work in the transaction, rolling it back (or dropping it)
    /// undoes only its work.
    pub fn savepoint(&mut self) -> Result<Transaction<'_>> {
        self.open_savepoint()
    }

    fn open_savepoint(&self) -> Result<Transaction<'_>> {
        let shared = self.shared();
        let name = format!(
            "codedb_sp{}",
            shared.next_savepoint.fetch_add(1, Ordering::Relaxed)
        );
        self.with_handle(|h| h.savepoint(&name))?;
        Ok(Transaction {
            level: Level::Savepoint { shared, name },
            finished: false,
        })
    }

    /// Commits: the transaction's writes become durable and visible, or the savepoint's
    /// writes become part of the enclosing transaction.
    pub fn commit(mut self) -> Result<()> {
        self.finished = true;
        match &mut self.level {
            Level::Top(shared) => {
                let handle = shared.handle.get_mut().take();
                if let Some(reason) = shared.poisoned.get_mut().clone() {
                    let err = poisoned_error(&reason);
                    return Err(match handle.map(|h| h.rollback()) {
                        Some(Err(second)) => err
                            .with_context(format!("rolling it back also failed ({second})"))
                            .into(),
                        _ => err.into(),
                    });
                }
                match handle {
                    Some(h) => Ok(h.commit()?),
                    None => Ok(()),
                }
            }
            Level::Savepoint { shared, name } => {
                let name = name.clone();
                with_shared(shared, |h| h.release_savepoint(&name))
            }
        }
    }

    /// Rolls back the transaction, or only the savepoint's work.
    pub fn rollback(mut self) -> Result<()> {
        self.finished = true;
        self.undo()
    }

    /// The original CodeDatabase's name for [`commit`](Self::commit).
    pub fn commit_transaction(self) -> Result<()> {
        self.commit()
    }

    /// The original CodeDatabase's name for [`rollback`](Self::rollback).
    pub fn rollback_transaction(self) -> Result<()> {
        self.rollback()
    }

    /// The id of the row most recently inserted through this transaction, if any.
    pub fn last_insert_id(&self) -> Option<i64> {
        self.with_handle(|h| Ok(h.last_insert_id())).ok().flatten()
    }

    /// Rows changed by the most recent statement or batch of this transaction.
    pub fn changes(&self) -> u64 {
        self.with_handle(|h| Ok(h.changes())).unwrap_or(0)
    }

    fn undo(&mut self) -> Result<()> {
        match &mut self.level {
            Level::Top(shared) => match shared.handle.get_mut().take() {
                Some(h) => Ok(h.rollback()?),
                None => Ok(()),
            },
            Level::Savepoint { shared, name } => {
                let name = name.clone();
                with_shared(shared, |h| h.rollback_to_savepoint(&name))
            }
        }
    }
}

fn poisoned_error(reason: &str) -> codedb_driver::Error {
    codedb_driver::Error::new(
        codedb_driver::ErrorKind::TransactionState,
        format!("a batch failed part-way ({reason}): the transaction can only be rolled back"),
    )
}

fn with_shared(
    shared: &Shared,
    f: impl FnOnce(&mut dyn DriverTransaction) -> codedb_driver::Result<()>,
) -> Result<()> {
    let mut guard = shared.handle.lock();
    match guard.as_mut() {
        Some(h) => Ok(f(h.as_mut())?),
        None => Err(codedb_driver::Error::new(
            codedb_driver::ErrorKind::TransactionState,
            "the transaction has already ended",
        )
        .into()),
    }
}

impl Drop for Transaction<'_> {
    fn drop(&mut self) {
        if !self.finished
            && let Err(e) = self.undo()
        {
            tracing::warn!(error = %e, "rolling back a dropped transaction failed");
        }
    }
}

impl Executor for Transaction<'_> {
    fn dialect(&self) -> Dialect {
        self.shared().dialect
    }

    fn execute(&self, sql: &str, params: Vec<Value>) -> Result<ExecResult> {
        self.with_handle(|h| h.execute(sql, params))
    }

    fn query(&self, sql: &str, params: Vec<Value>) -> Result<Rows> {
        self.with_handle(|h| h.query(sql, params))
    }

    fn execute_batch(&self, batch: Batch) -> Result<BatchResult> {
        self.with_handle(|h| h.execute_batch(batch))
    }

    fn execute_batch_in_place(&self, batch: Batch) -> Result<BatchResult> {
        if self.is_savepoint() {
            // Undoing the savepoint alone must stay possible.
            return self.execute_batch(batch);
        }
        let result = self.with_handle(|h| h.execute_batch_in_place(batch));
        if let Err(e) = &result {
            let mut poisoned = self.shared().poisoned.lock();
            poisoned.get_or_insert_with(|| e.to_string());
        }
        result
    }

    fn atomic<R>(&self, f: impl FnOnce(&Transaction<'_>) -> Result<R>) -> Result<R> {
        finish(self.open_savepoint()?, f)
    }
}
