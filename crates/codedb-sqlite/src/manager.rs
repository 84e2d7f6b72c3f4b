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
}

impl DBWorkerManager {
    /// Opens the write connection (creating the file if needed, switching it to WAL), starts
    /// the worker thread `codedb-db-worker`, and opens the reader pool.
    pub fn start(config: SqliteConfig) -> Result<Self> {
        let _span = tracing::info_span!("db_worker_start", path = %config.path.display()).entered();
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
        Ok(DBWorkerManager { config, proxy })
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
        self.proxy.close()
    }
}

impl Drop for DBWorkerManager {
    fn drop(&mut self) {
        if let Err(e) = self.stop() {
            tracing::warn!(error = %e, "stopping the database worker failed");
        }
    }
}
