//! The reader pool: read-only (`query_only`) connections that serve queries made outside a
//! transaction, so that reads never queue behind the writer (WAL lets them read the last
//! committed state while it writes).

use std::time::Duration;

use codedb_driver::{Error, ErrorKind, Result, Rows, Value};
use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::OpenFlags;

use crate::config::SqliteConfig;
use crate::connection::query_on;

#[derive(Debug)]
pub(crate) struct ReaderPool {
    pool: r2d2::Pool<SqliteConnectionManager>,
}

impl ReaderPool {
    /// Opens up to `config.readers` reader connections (lazily, one at first).
    pub(crate) fn new(config: &SqliteConfig) -> Result<Self> {
        let busy = config.busy_timeout;
        let cache = config.statement_cache;
        let manager = SqliteConnectionManager::file(&config.path)
            .with_flags(
                OpenFlags::SQLITE_OPEN_READ_WRITE
                    | OpenFlags::SQLITE_OPEN_NO_MUTEX
                    | OpenFlags::SQLITE_OPEN_URI,
            )
            .with_init(move |conn| {
                conn.busy_timeout(busy)?;
                conn.set_prepared_statement_cache_capacity(cache);
                conn.execute_batch("PRAGMA query_only=ON; PRAGMA mmap_size=268435456;")
            });
        let pool = r2d2::Pool::builder()
            .max_size(config.readers.max(1))
            .min_idle(Some(1))
            .test_on_check_out(false)
            .connection_timeout(config.gate_timeout.max(Duration::from_millis(1)))
            .build(manager)
            .map_err(|e| {
                Error::new(
                    ErrorKind::CannotOpen,
                    format!("cannot open the reader connections: {e}"),
                )
                .with_source(e)
            })?;
        Ok(ReaderPool { pool })
    }

    /// Runs a query on a free reader connection.
    pub(crate) fn query(&self, sql: &str, params: &[Value]) -> Result<Rows> {
        let conn = self.pool.get().map_err(|e| {
            Error::new(
                ErrorKind::Timeout,
                format!("no reader connection became free in time: {e}"),
            )
            .with_source(e)
        })?;
        query_on(&conn, sql, params)
    }
}
