//! [`Dialect`]: the few places where the domain API's SQL differs between backends.
//!
//! Almost every statement of the store is plain SQL both SQLite and PostgreSQL run
//! (`ON CONFLICT`, `RETURNING`, `CAST`, multi-row `VALUES`). What differs is collected here,
//! so that the store reads as one piece of code with a switch where a backend needs its own
//! words: full-text search (FTS5 on SQLite, `tsvector` + GIN on PostgreSQL), reading a JSON
//! array, case-insensitive `LIKE`, and how a write transaction keeps writers one at a time.

use codedb_driver::SpecificDriver;

/// The SQL dialect of a backend, read from [`SpecificDriver::backend_name`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dialect {
    /// SQLite (the embedded default).
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

/// The key of the transaction-level advisory lock that every PostgreSQL write transaction
/// of a `CodeDatabase` takes first ("code" in ASCII).
pub const POSTGRES_WRITE_LOCK: i64 = 0x636f_6465;

impl Dialect {
    /// The dialect of `driver`'s backend.
    pub fn of(driver: &dyn SpecificDriver) -> Dialect {
        match driver.backend_name() {
            "postgres" => Dialect::Postgres,
            _ => Dialect::Sqlite,
        }
    }

    /// The statement that makes a just-opened write transaction the only writer of the code
    /// tables until it ends, if the backend needs one. SQLite's `BEGIN IMMEDIATE` already
    /// does; on PostgreSQL a transaction-level advisory lock does (released by COMMIT or
    /// ROLLBACK, also when the client dies). Readers never wait for it.
    ///
    /// Keeping writers one at a time is what lets the store assign ids client-side and
    /// replace a file's rows as a sequence of statements without deadlocks between
    /// concurrent index runs; PostgreSQL still serves any number of readers and processes
    /// on any number of machines.
    pub fn write_lock(self) -> Option<String> {
        match self {
            Dialect::Sqlite => None,
            Dialect::Postgres => Some(format!(
                "SELECT pg_advisory_xact_lock({POSTGRES_WRITE_LOCK})"
            )),
        }
    }

    /// A query whose rows are the problems the backend finds in the database's own
    /// structures (none: a sound database), if it has such a check. SQLite's
    /// `integrity_check` answers one row `ok` when it finds nothing; PostgreSQL keeps its
    /// pages checksummed and checked itself, with no query of this kind by default.
    pub fn integrity_check(self) -> Option<&'static str> {
        match self {
            Dialect::Sqlite => Some("PRAGMA integrity_check"),
            Dialect::Postgres => None,
        }
    }

    /// The case-insensitive `LIKE` operator (SQLite's `LIKE` is case-insensitive for ASCII).
    pub fn ilike(self) -> &'static str {
        match self {
            Dialect::Sqlite => "LIKE",
            Dialect::Postgres => "ILIKE",
        }
    }

    /// A table expression `j` with a column `value`: the elements of the JSON array of
    /// strings in `column`.
    pub fn json_strings(self, column: &str) -> String {
        match self {
            Dialect::Sqlite => format!("json_each({column}) AS j"),
            Dialect::Postgres => format!("json_array_elements_text({column}::json) AS j(value)"),
        }
    }
}
