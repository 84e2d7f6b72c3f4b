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
    /// Open the file read-only: nothing is created, no setting is changed, nothing is
    /// checkpointed (plans and dry runs). Writes fail with SQLite's read-only error.
    pub read_only: bool,
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
            read_only: false,
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

    /// The largest `queue_capacity` (the queue is allocated up front: 64 bytes a slot).
    pub const MAX_QUEUE_CAPACITY: usize = 100_000;
    /// The largest `readers`.
    pub const MAX_READERS: u32 = 64;
    /// The largest timeout (one hour; SQLite's `busy_timeout` takes at most 2^31 - 1 ms).
    pub const MAX_TIMEOUT: Duration = Duration::from_secs(3600);
    /// The largest `statement_cache`.
    pub const MAX_STATEMENT_CACHE: usize = 10_000;

    /// Checks every value against its range (in the README); an error names the field.
    pub fn validate(&self) -> Result<(), String> {
        let range = |name: &str, v: u128, min: u128, max: u128| {
            if v < min || v > max {
                Err(format!("{name} = {v}: must be between {min} and {max}"))
            } else {
                Ok(())
            }
        };
        let max_ms = Self::MAX_TIMEOUT.as_millis();
        range(
            "queue_capacity",
            self.queue_capacity as u128,
            1,
            Self::MAX_QUEUE_CAPACITY as u128,
        )?;
        range("readers", self.readers.into(), 0, Self::MAX_READERS.into())?;
        range(
            "statement_cache",
            self.statement_cache as u128,
            0,
            Self::MAX_STATEMENT_CACHE as u128,
        )?;
        range(
            "queue_timeout (ms)",
            self.queue_timeout.as_millis(),
            1,
            max_ms,
        )?;
        range(
            "gate_timeout (ms)",
            self.gate_timeout.as_millis(),
            1,
            max_ms,
        )?;
        range(
            "busy_timeout (ms)",
            self.busy_timeout.as_millis(),
            0,
            max_ms,
        )
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
