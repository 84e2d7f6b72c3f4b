//! The SQLite backend of codedb.
//!
//! ```text
//! CodeDatabase -> SQLiteDriverProxy (SpecificDriver) -> DBWorker (thread, FIFO queue) -> SQLiteDriver (rusqlite)
//!                        \-> reader pool (r2d2_sqlite, query_only) for reads outside a transaction
//! ```
//!
//! * [`SQLiteDriver`]: one rusqlite connection with codedb's settings (WAL, `synchronous=NORMAL`,
//!   `foreign_keys=ON`, `busy_timeout`, statement cache).
//! * [`DBWorker`]: the named thread that owns the write connection and runs jobs from a bounded
//!   queue, in order. It knows nothing about transactions.
//! * [`SQLiteDriverProxy`]: the [`SpecificDriver`](codedb_driver::SpecificDriver); keeps the
//!   transaction state and the writer gate, sends reads outside a transaction to the pool.
//! * [`DBWorkerManager`]: starts all of it from a [`SqliteConfig`] and stops it cleanly
//!   (drains the queue, checkpoints the WAL).
//! * [`inspect`]: read-only facts about a database file (`codedb db info`).
//! * [`lock`]: the database lock every process holds while it has the file open, and
//!   [`restore()`], which takes it exclusively to replace the file with a checked backup.
//!
//! This is the only crate that names rusqlite, r2d2 or r2d2_sqlite (`cargo xtask tidy`).
//!
//! ```
//! use codedb_driver::params;
//!
//! # fn main() -> codedb_driver::Result<()> {
//! # let dir = tempfile::tempdir().unwrap();
//! let sqlite = codedb_sqlite::open(dir.path().join("code.sqlite"))?; // worker + readers
//! let db = sqlite.driver(); // an Arc<dyn SpecificDriver>, for CodeDatabase or direct use
//! db.execute("CREATE TABLE t(x INTEGER)", params![])?; // on the worker's connection
//! let mut tx = db.begin()?; // BEGIN IMMEDIATE; other writers of this process wait
//! tx.execute("INSERT INTO t VALUES (?1)", params![42])?;
//! tx.commit()?;
//! let x: i64 = db.query("SELECT x FROM t", params![])?.scalar()?; // a reader connection
//! assert_eq!(x, 42);
//! sqlite.stop()?; // drains the queue, checkpoints and truncates the WAL
//! # Ok(())
//! # }
//! ```

pub mod baseline;
mod config;
mod connection;
mod error;
mod info;
pub mod lock;
mod manager;
mod pool;
mod proxy;
mod restore;
pub mod schema;
mod worker;

pub use config::SqliteConfig;
pub use connection::SQLiteDriver;
pub use info::{DatabaseInfo, inspect};
pub use manager::DBWorkerManager;
pub use proxy::SQLiteDriverProxy;
pub use restore::{Restored, check_backup, restore};
pub use worker::{DBWorker, PendingReply};

/// Starts a database with the default settings: shorthand for
/// `DBWorkerManager::start(SqliteConfig::new(path))`.
pub fn open(path: impl Into<std::path::PathBuf>) -> codedb_driver::Result<DBWorkerManager> {
    DBWorkerManager::start(SqliteConfig::new(path))
}
