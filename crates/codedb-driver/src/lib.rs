//! The backend-neutral driver layer of codedb.
//!
//! Everything above this crate (`codedb-schema`, `codedb-core`, `codedb-commands`) talks to a
//! database only through the two traits defined here:
//!
//! * [`SpecificDriver`]: one database, shared by every thread of the process. Statements run
//!   through it directly are autocommit writes or reads of committed data.
//! * [`DriverTransaction`]: an open write transaction, obtained from
//!   [`SpecificDriver::begin`]. It owns the database's write side until it is committed or
//!   rolled back; savepoints nest inside it.
//!
//! Values cross the boundary as [`Value`] (null, integer, real, text, blob), results as
//! [`Rows`] and [`ExecResult`], and work in bulk as a [`Batch`], so that a backend that has to
//! ship work to another thread or server pays one round trip per batch, not per row.
//!
//! Errors are one [`Error`] type with a backend-neutral [`ErrorKind`]; the backend's own error
//! stays attached as the `source`. Nothing here assumes SQLite: the SQL text is the backend's
//! dialect, parameters are positional.
//!
//! Code written against the traits runs on every backend (`codedb-sqlite`,
//! `codedb-postgres`):
//!
//! ```
//! use codedb_driver::{Batch, ErrorKind, Result, SpecificDriver, params};
//!
//! /// Moves `amount` between two accounts, all or nothing; a conflict is worth a retry.
//! fn transfer(db: &dyn SpecificDriver, from: i64, to: i64, amount: i64) -> Result<()> {
//!     let mut tx = db.begin()?; // dropped without commit: rolled back
//!     let balance: i64 = tx
//!         .query("SELECT balance FROM accounts WHERE id = ?1", params![from])?
//!         .scalar()?;
//!     if balance < amount {
//!         return Err(codedb_driver::Error::new(ErrorKind::Other, "not enough money"));
//!     }
//!     let mut batch = Batch::new(); // one round trip for both statements
//!     batch.push("UPDATE accounts SET balance = balance - ?2 WHERE id = ?1", params![from, amount]);
//!     batch.push("UPDATE accounts SET balance = balance + ?2 WHERE id = ?1", params![to, amount]);
//!     tx.execute_batch(batch)?;
//!     tx.commit()
//! }
//! # let _ = transfer;
//! ```

mod batch;
mod error;
mod traits;
mod value;

pub use batch::{Batch, BatchResult, BatchStep};
pub use error::{Error, ErrorKind, Result};
pub use traits::{
    DriverTransaction, ExecResult, STREAM_CHUNK, STREAM_SAVEPOINT, SpecificDriver, end_savepoint,
    validate_savepoint_name,
};
pub use value::{FromValue, Row, Rows, Value};
