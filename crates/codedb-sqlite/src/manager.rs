//! [`DBWorkerManager`]: starts a database's worker, reader pool and proxy from a
//! [`SqliteConfig`], and stops them cleanly.

use std::sync::Arc;

use codedb_driver::{Result, SpecificDriver};

use crate::config::SqliteConfig;
use crate::connection::SQLiteDriver;
use crate::pool::ReaderPool;
use crate::proxy::SQLiteDriverProxy;
use crate::worker::DBWorker;

/// Owns one SQLite database's serving machinery. Start it once per database and process;
/// hand [`driver`](Self::driver) to `CodeDatabase`.
#[derive(Debug)]
pub struct DBWorkerManager {
    config: SqliteConfig,
    proxy: Arc<SQLiteDriverProxy>,
    /// The database lock, held shared until [`stop`](Self::stop) has closed the database
    /// (`None` for an in-memory database).
    lock: parking_lot::Mutex<Option<crate::lock::DatabaseLock>>,
}

impl DBWorkerManager {
    /// Opens the write connection (creating the file if needed, switching it to WAL), starts
    /// the worker thread `codedb-db-worker`, and opens the reader pool.
    pub fn start(config: SqliteConfig) -> Result<Self> {
        let _span = tracing::info_span!("db_worker_start", path = %config.path.display()).entered();
        config.validate().map_err(|e| {
            codedb_driver::Error::new(codedb_driver::ErrorKind::InvalidParameter, e)
        })?;
        // Before the file is opened: a restore replacing it must not slip in between.
        let parent_ok = config
            .path
            .parent()
            .is_none_or(|p| p.as_os_str().is_empty() || p.is_dir());
        let lock = if config.is_memory() || !parent_ok || !could_be_sqlite(&config.path) {
            None // nothing to lock; opening fails with the reason, creating nothing
        } else {
            Some(crate::lock::shared(&config.path, config.busy_timeout)?)
        };
        let driver = SQLiteDriver::open(&config)?;
        let worker = Arc::new(DBWorker::spawn(
            driver,
            "codedb-db-worker",
            config.queue_capacity,
            config.queue_timeout,
        )?);
        let readers = if config.is_memory() || config.readers == 0 {
            None
        } else {
            match ReaderPool::new(&config) {
                Ok(pool) => Some(pool),
                Err(e) => {
                    // Leave nothing running behind a failed start.
                    let _ = worker.shutdown();
                    return Err(e.with_context(format!("opening {}", config.path.display())));
                }
            }
        };
        let proxy = Arc::new(SQLiteDriverProxy::new(
            worker,
            readers,
            config.gate_timeout,
            config.path.clone(),
        ));
        tracing::info!(
            readers = config.readers,
            queue = config.queue_capacity,
            "database worker running"
        );
        Ok(DBWorkerManager {
            config,
            proxy,
            lock: parking_lot::Mutex::new(lock),
        })
    }

    /// The driver to hand to `CodeDatabase`.
    pub fn driver(&self) -> Arc<dyn SpecificDriver> {
        Arc::clone(&self.proxy) as Arc<dyn SpecificDriver>
    }

    /// The schema backend of this database, for `CodeDatabase::open_with_schema`.
    pub fn schema_backend(&self) -> Arc<dyn codedb_schema::SchemaBackend> {
        Arc::new(crate::schema::SqliteSchema::new(Arc::clone(&self.proxy)))
    }

    /// The concrete proxy, for SQLite-specific work.
    pub fn proxy(&self) -> &Arc<SQLiteDriverProxy> {
        &self.proxy
    }

    /// The configuration it was started with.
    pub fn config(&self) -> &SqliteConfig {
        &self.config
    }

    /// `true` while the worker serves.
    pub fn is_running(&self) -> bool {
        self.proxy.worker().is_running()
    }

    /// Lets queued jobs finish, checkpoints the WAL and stops the worker. Idempotent.
    pub fn stop(&self) -> Result<()> {
        let _span =
            tracing::info_span!("db_worker_stop", path = %self.config.path.display()).entered();
        let closed = self.proxy.close();
        if closed.is_ok() {
            self.lock.lock().take();
        }
        closed
    }
}

/// `false` for a directory or a non-empty file without SQLite's header (which opening
/// refuses): no lock file is made beside those.
fn could_be_sqlite(path: &std::path::Path) -> bool {
    use std::io::Read;
    match std::fs::metadata(path) {
        Err(_) => true,
        Ok(m) if m.is_dir() => false,
        Ok(m) if m.len() == 0 => true,
        Ok(_) => {
            let mut header = [0u8; 16];
            std::fs::File::open(path)
                .and_then(|mut f| f.read_exact(&mut header))
                .is_ok_and(|()| &header == b"SQLite format 3\0")
        }
    }
}

impl Drop for DBWorkerManager {
    fn drop(&mut self) {
        if let Err(e) = self.stop() {
            tracing::warn!(error = %e, "stopping the database worker failed");
        }
    }
}
