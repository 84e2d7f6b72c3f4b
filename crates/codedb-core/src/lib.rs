//! `CodeDatabase`: codedb's domain API over any [`SpecificDriver`].
//!
//! This crate knows nothing about SQLite or any other backend: it is handed an
//! `Arc<dyn SpecificDriver>` (for SQLite, `codedb_sqlite::DBWorkerManager::driver`) and speaks
//! only the driver traits.
//!
//! Transactions belong to the caller (a command):
//!
//! ```ignore
//! let mut tx = db.begin_transaction()?;     // BEGIN IMMEDIATE; other writers now wait
//! tx.execute("INSERT ...", params![...])?;  // every write through `tx` joins it
//! tx.atomic(|sp| { ... })?;                 // a SAVEPOINT inside the open transaction
//! tx.commit()?;                             // or rollback(); dropping `tx` rolls back
//! ```
//!
//! The closure form [`CodeDatabase::transaction`] commits on `Ok` and rolls back on `Err`.
//! Methods that must be atomic are written once against [`Executor`] and call
//! [`Executor::atomic`]: on the database that opens a transaction of their own, inside a
//! transaction a savepoint. No helper ever commits on its own.
//!
//! Reads made on the [`CodeDatabase`] itself see the last committed state and never wait for
//! a writer; reads made through a [`Transaction`] see its own writes.
//!
//! `CodeDatabase::open` never changes the schema.

mod database;
mod error;
mod executor;
mod transaction;

pub use codedb_driver::{
    Batch, BatchResult, DriverTransaction, ErrorKind, ExecResult, FromValue, Row, Rows,
    STREAM_CHUNK, SpecificDriver, Value, params,
};
pub use database::CodeDatabase;
pub use error::{Error, Result};
pub use executor::Executor;
pub use transaction::Transaction;
