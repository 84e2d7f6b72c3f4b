//! [`SqliteConfig`]: everything needed to open a SQLite database behind a DBWorker.

use std::path::PathBuf;
use std::time::Duration;

/// How to open and serve one SQLite database. Deserializable, so that the server's config file
/// can carry it; every field has a default except the path.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SqliteConfig {
    /// The database file; `:memory:` for a private in-memory database (served without readers).
    pub path: PathBuf,
    /// Jobs that may wait in the worker's queue before senders block (backpressure).
    pub queue_capacity: usize,
    /// How long a sender waits for room in a full queue before it gets `Busy`.
    #[serde(with = "millis")]
    pub queue_timeout: Duration,
    /// How long a writer waits for another transaction of this process to end before it gets
    /// `Busy` (the writer gate).
    #[serde(with = "millis")]
    pub gate_timeout: Duration,
    /// SQLite's `busy_timeout`: how long a statement waits for a lock held by another process.
    #[serde(with = "millis")]
    pub busy_timeout: Duration,
    /// Read-only connections that serve queries made outside a transaction. 0 sends reads to
    /// the worker (they then wait for open transactions to end).
    pub readers: u32,
    /// Prepared statements cached per connection.
    pub statement_cache: usize,
}

impl Default for SqliteConfig {
    fn default() -> Self {
        SqliteConfig {
            path: PathBuf::from(":memory:"),
            queue_capacity: 1024,
            queue_timeout: Duration::from_secs(30),
            gate_timeout: Duration::from_secs(30),
            busy_timeout: Duration::from_secs(10),
            readers: 4,
            statement_cache: 128,
        }
    }
}

impl SqliteConfig {
    /// The defaults, for the database at `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        SqliteConfig {
            path: path.into(),
            ..Self::default()
        }
    }

    /// `true` for a private in-memory database.
    pub fn is_memory(&self) -> bool {
        let p = self.path.as_os_str();
        p == ":memory:" || p.is_empty()
    }
}

mod millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer};

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_millis)
    }
}
