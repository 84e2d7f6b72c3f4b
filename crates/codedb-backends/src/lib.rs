//! Opens the database that a `--db` value or `codedb.toml` names, on the backend it names:
//! a path is a SQLite file (the embedded default, served by its DB worker thread), a
//! `postgres://` or `postgresql://` URL a PostgreSQL database (a connection pool, no worker).
//!
//! ```no_run
//! use codedb_backends::{Backend, DatabaseSpec};
//!
//! # fn main() -> codedb_driver::Result<()> {
//! let spec = DatabaseSpec::parse(".codedb/codedb.sqlite");
//! let backend = Backend::open(&spec)?;
//! let (driver, schema) = (backend.driver(), backend.schema_backend());
//! // CodeDatabase::open_with_schema(driver, schema), then work; at the end:
//! backend.stop()?;
//! # drop((driver, schema));
//! # Ok(())
//! # }
//! ```
//!
//! With the `testing` feature, the `testing` module gives tests a fresh database on every backend
//! this machine has, so that one set of test definitions runs on all of them.

use std::path::PathBuf;
use std::sync::Arc;

use codedb_driver::{Result, SpecificDriver};
/// Read-only facts about a PostgreSQL database, for `codedb db info` (SQLite's are
/// `codedb_sqlite::inspect`, read from the file).
pub use codedb_postgres::{DatabaseInfo as PostgresInfo, inspect as inspect_postgres};
pub use codedb_postgres::{PostgresConfig, redact};
use codedb_postgres::{PostgresDriver, PostgresSchema};
use codedb_schema::SchemaBackend;
use codedb_sqlite::DBWorkerManager;
pub use codedb_sqlite::SqliteConfig;

#[cfg(feature = "testing")]
pub mod testing;

/// Which database: a SQLite file or a PostgreSQL URL.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseSpec {
    /// A SQLite database file.
    Sqlite(PathBuf),
    /// A PostgreSQL connection URL (`postgres://user[:password]@host[:port]/database`).
    Postgres(String),
}

impl std::fmt::Debug for DatabaseSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self}")
    }
}

/// The path, or the URL without its password.
impl std::fmt::Display for DatabaseSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DatabaseSpec::Sqlite(path) => write!(f, "{}", path.display()),
            DatabaseSpec::Postgres(url) => f.write_str(&redact(url)),
        }
    }
}

impl DatabaseSpec {
    /// `true` when `value` names a PostgreSQL database (`postgres://` or `postgresql://`).
    pub fn is_postgres_url(value: &str) -> bool {
        value.starts_with("postgres://") || value.starts_with("postgresql://")
    }

    /// A URL for PostgreSQL, anything else a SQLite path.
    pub fn parse(value: &str) -> DatabaseSpec {
        if Self::is_postgres_url(value) {
            DatabaseSpec::Postgres(value.to_owned())
        } else {
            DatabaseSpec::Sqlite(PathBuf::from(value))
        }
    }

    /// The SQLite file, if this is one.
    pub fn sqlite_path(&self) -> Option<&std::path::Path> {
        match self {
            DatabaseSpec::Sqlite(path) => Some(path),
            DatabaseSpec::Postgres(_) => None,
        }
    }
}

/// An open database and what serves it.
#[derive(Debug)]
pub enum Backend {
    /// SQLite: the DB worker thread and its reader pool.
    Sqlite(DBWorkerManager),
    /// PostgreSQL: a connection pool, and the schema backend over it.
    Postgres {
        /// The driver.
        driver: Arc<PostgresDriver>,
        /// Schema synchronisation on the same database.
        schema: Arc<PostgresSchema>,
    },
}

impl Backend {
    /// Opens `spec` with default settings (a SQLite file is created if missing; its parent
    /// directory must exist).
    pub fn open(spec: &DatabaseSpec) -> Result<Backend> {
        match spec {
            DatabaseSpec::Sqlite(path) => Self::open_sqlite(SqliteConfig::new(path)),
            DatabaseSpec::Postgres(url) => Self::open_postgres(&PostgresConfig::new(url.as_str())),
        }
    }

    /// Opens `spec` for reading only (plans, dry runs, dumps): a SQLite file is opened
    /// read-only, so nothing is created, no setting is changed and nothing is checkpointed
    /// (reads go to the worker's one connection); PostgreSQL as [`open`](Self::open).
    pub fn open_read_only(spec: &DatabaseSpec) -> Result<Backend> {
        match spec {
            DatabaseSpec::Sqlite(path) => Self::open_sqlite(SqliteConfig {
                read_only: true,
                readers: 0,
                ..SqliteConfig::new(path)
            }),
            DatabaseSpec::Postgres(_) => Self::open(spec),
        }
    }

    /// Starts the SQLite DB worker on `config`.
    pub fn open_sqlite(config: SqliteConfig) -> Result<Backend> {
        Ok(Backend::Sqlite(DBWorkerManager::start(config)?))
    }

    /// Connects to PostgreSQL.
    pub fn open_postgres(config: &PostgresConfig) -> Result<Backend> {
        let driver = Arc::new(PostgresDriver::open(config)?);
        let schema = Arc::new(PostgresSchema::new(Arc::clone(&driver)).map_err(|e| {
            codedb_driver::Error::new(codedb_driver::ErrorKind::CannotOpen, e.to_string())
        })?);
        Ok(Backend::Postgres { driver, schema })
    }

    /// `"sqlite"` or `"postgres"`.
    pub fn name(&self) -> &'static str {
        match self {
            Backend::Sqlite(_) => "sqlite",
            Backend::Postgres { .. } => "postgres",
        }
    }

    /// The driver, for `CodeDatabase::open_with_schema`.
    pub fn driver(&self) -> Arc<dyn SpecificDriver> {
        match self {
            Backend::Sqlite(manager) => manager.driver(),
            Backend::Postgres { driver, .. } => Arc::clone(driver) as Arc<dyn SpecificDriver>,
        }
    }

    /// The schema backend of the same database.
    pub fn schema_backend(&self) -> Arc<dyn SchemaBackend> {
        match self {
            Backend::Sqlite(manager) => manager.schema_backend(),
            Backend::Postgres { schema, .. } => Arc::clone(schema) as Arc<dyn SchemaBackend>,
        }
    }

    /// The SQLite worker manager, when this is SQLite.
    pub fn sqlite(&self) -> Option<&DBWorkerManager> {
        match self {
            Backend::Sqlite(manager) => Some(manager),
            Backend::Postgres { .. } => None,
        }
    }

    /// `Ok` while the database can serve: SQLite's worker thread runs; PostgreSQL answers.
    pub fn health(&self) -> std::result::Result<(), String> {
        match self {
            Backend::Sqlite(manager) if manager.is_running() => Ok(()),
            Backend::Sqlite(_) => Err("the DB worker thread is not running".into()),
            Backend::Postgres { driver, .. } => driver
                .query("SELECT 1", Vec::new())
                .map(drop)
                .map_err(|e| format!("PostgreSQL does not answer: {e}")),
        }
    }

    /// Finishes queued work and closes the database (SQLite: drains the worker and
    /// checkpoints; PostgreSQL: closes the pool). Idempotent.
    pub fn stop(&self) -> Result<()> {
        match self {
            Backend::Sqlite(manager) => manager.stop(),
            Backend::Postgres { driver, .. } => driver.close(),
        }
    }
}
