//! `CodeDatabase`: codedb's domain API over any [`SpecificDriver`].
//!
//! This crate knows no backend's client library: it is handed an `Arc<dyn SpecificDriver>`
//! (for SQLite, `codedb_sqlite::DBWorkerManager::driver`; for either backend,
//! `codedb_backends::Backend::driver`) and speaks only the driver traits. Where SQL must
//! differ between SQLite and PostgreSQL, [`Dialect`] (read from the driver's backend name)
//! says how; the code schema is rendered per dialect ([`schema::code_schema`]).
//!
//! Transactions belong to the caller (a command):
//!
//! ```
//! use codedb_core::{CodeDatabase, Executor, params};
//!
//! # fn main() -> codedb_core::Result<()> {
//! # let dir = tempfile::tempdir().unwrap();
//! let sqlite = codedb_sqlite::open(dir.path().join("code.sqlite"))?; // worker + readers
//! let db = CodeDatabase::open(sqlite.driver())?;
//! db.execute("CREATE TABLE notes(id INTEGER PRIMARY KEY, text TEXT NOT NULL)", params![])?;
//!
//! let mut tx = db.begin_transaction()?;           // BEGIN IMMEDIATE; other writers now wait
//! tx.execute("INSERT INTO notes(text) VALUES (?1)", params!["kept"])?; // joins the transaction
//! {
//!     let sp = tx.savepoint()?;                    // SAVEPOINT inside the transaction
//!     sp.execute("INSERT INTO notes(text) VALUES (?1)", params!["undone"])?;
//! }                                                // dropped unfinished: rolled back
//! tx.commit()?;                                    // dropping `tx` instead would roll back
//!
//! let n: i64 = db.query_scalar("SELECT count(*) FROM notes", params![])?;
//! assert_eq!(n, 1);
//! # Ok(())
//! # }
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
//! `CodeDatabase::open` never changes the schema; [`CodeDatabase::ensure_schema_synced`] is the
//! explicit step that brings a database to the code schema ([`schema::CODE_SCHEMA`]).

mod database;
mod dialect;
mod error;
mod executor;
pub mod history;
pub mod schema;
pub mod search;
pub mod store;
mod transaction;
mod writer_gate;

pub use codedb_driver::Error as DriverError;
pub use codedb_driver::{
    Batch, BatchResult, DriverTransaction, ErrorKind, ExecResult, FromValue, Row, Rows,
    STREAM_CHUNK, SpecificDriver, Value, params,
};
pub use codedb_schema::{DiffOptions, SyncOptions, SyncReport};
pub use database::CodeDatabase;
pub use dialect::{Dialect, POSTGRES_WRITE_LOCK, WriteScope, postgres_project_lock};
pub use error::{Error, Result, SymbolError};
pub use executor::Executor;
pub use history::HistoryStore;
pub use store::{CodeStore, RefStore, ReferenceGraph, Scope, now_ms};
pub use transaction::Transaction;
