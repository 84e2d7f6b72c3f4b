//! codedb's PostgreSQL backend: [`PostgresDriver`], a [`codedb_driver::SpecificDriver`] over
//! the synchronous `postgres` crate with an `r2d2` pool, for teams whose
//! index lives on a shared server.
//!
//! * SQL is written once, SQLite-style (`?1` placeholders); the driver rewrites the
//!   placeholders and converts values to the types the server asks for.
//! * Transactions map to the same guard (`BEGIN` ... `COMMIT` on one pooled connection),
//!   savepoints to savepoints; batches are all or nothing.
//! * Errors map to the same `ErrorKind`s; serialization failures and deadlocks become
//!   `SerializationFailure`, which callers may retry.
//! * Backups are `pg_dump` archives, with a clear error when `pg_dump` is not on the PATH;
//!   the password reaches `pg_dump` through its environment, never its command line.
//! * Connections are made within `connect_timeout` (the handshake included) and carry a
//!   `statement_timeout`; every URL shown goes through [`redact`].
//!
//! ```no_run
//! use codedb_driver::{SpecificDriver, params};
//!
//! # fn main() -> codedb_driver::Result<()> {
//! let pg = codedb_postgres::open("postgres://postgres@127.0.0.1:5432/code")?;
//! let mut tx = pg.begin()?;
//! tx.execute("CREATE TABLE IF NOT EXISTS notes(id BIGSERIAL PRIMARY KEY, text TEXT)", params![])?;
//! tx.execute("INSERT INTO notes(text) VALUES (?1)", params!["written once, SQLite-style"])?;
//! tx.commit()?;
//! let n: i64 = pg.query("SELECT count(*) FROM notes", params![])?.scalar()?;
//! # let _ = n;
//! # Ok(())
//! # }
//! ```
//!
//! * [`PostgresSchema`]: the same schema sync as SQLite (introspection from `pg_catalog`).
//! * [`inspect`]: read-only facts about the database, for `codedb db info`.
//!
//! Most callers open it through `codedb_backends`, which also picks SQLite for a path.

mod connect;
mod convert;
mod ddl;
mod driver;
mod error;
mod info;
mod schema;
mod url;

pub use driver::{PgTransaction, PostgresConfig, PostgresDriver};
pub use info::{DatabaseInfo, inspect};
pub use schema::PostgresSchema;
pub use url::redact;

/// Opens the PostgreSQL database at `url` with default pool settings.
pub fn open(url: &str) -> codedb_driver::Result<PostgresDriver> {
    PostgresDriver::open(&PostgresConfig::new(url))
}
