//! [`CodeDatabase`]: the entry point of the domain API.

use std::path::Path;
use std::sync::Arc;

use codedb_driver::{Batch, BatchResult, ExecResult, Rows, SpecificDriver, Value};
use codedb_schema::{Schema, SchemaBackend, SyncOptions, SyncReport};

use crate::dialect::{Dialect, WriteScope};
use crate::error::{Error, Result};
use crate::executor::Executor;
use crate::transaction::Transaction;
use crate::writer_gate::WriterGate;

/// One code database over any [`SpecificDriver`]. Share it between threads by reference or
/// in an `Arc`; every method takes `&self`.
#[derive(Debug, Clone)]
pub struct CodeDatabase {
    driver: Arc<dyn SpecificDriver>,
    schema: Option<Arc<dyn SchemaBackend>>,
    /// Where this database's writers (and its clones') wait for each other when the
    /// backend would make them wait on the server, holding a connection ([`WriterGate`]).
    writers: Arc<WriterGate>,
}

impl CodeDatabase {
    /// Wraps `driver` after checking that the database answers. Never changes the schema.
    pub fn open(driver: Arc<dyn SpecificDriver>) -> Result<Self> {
        let _span =
            tracing::debug_span!("code_database_open", backend = driver.backend_name()).entered();
        driver.query("SELECT 1", Vec::new())?;
        Ok(CodeDatabase {
            driver,
            schema: None,
            writers: Arc::default(),
        })
    }

    /// Wraps `driver` with the schema backend of the same database, which
    /// [`ensure_schema_synced`](Self::ensure_schema_synced) needs. Never changes the schema.
    pub fn open_with_schema(
        driver: Arc<dyn SpecificDriver>,
        schema: Arc<dyn SchemaBackend>,
    ) -> Result<Self> {
        Ok(CodeDatabase {
            schema: Some(schema),
            ..Self::open(driver)?
        })
    }

    fn schema_backend(&self) -> Result<&dyn SchemaBackend> {
        self.schema.as_deref().ok_or_else(|| {
            Error::Database(codedb_driver::Error::new(
                codedb_driver::ErrorKind::InvalidParameter,
                "this CodeDatabase was opened without a schema backend; use CodeDatabase::open_with_schema",
            ))
        })
    }

    /// The code schema as a model (read through the schema backend).
    pub fn code_schema(&self) -> Result<Schema> {
        Ok(self
            .schema_backend()?
            .schema_from_ddl(&crate::schema::code_schema(self.dialect()))?)
    }

    /// Brings the database to the code schema: the explicit startup step, run by `main()`
    /// after loading the configuration and before starting any worker that uses the tables.
    /// An up-to-date database is a no-op (no plan, no backup); otherwise a backup is taken
    /// first and the plan applied atomically (see [`codedb_schema::sync`]).
    ///
    /// A database synced to the code schema remembers it (the key of the code schema's DDL
    /// and a hash of its own schema, in `_codedb_schema_state`: on SQLite the hash of its
    /// schema's text, on PostgreSQL of the catalog's relations, columns, indexes,
    /// constraints, triggers and views, read in one query): while neither changes, a later
    /// call returns at once, without introspecting or diffing (on PostgreSQL that spared a
    /// CLI command about 100-150 ms: a no-op `index` of Django went from 0.18-0.25 s to
    /// 0.08-0.12 s).
    /// Someone who alters the schema behind codedb's back changes the hash, and the next
    /// call looks again.
    pub fn ensure_schema_synced(&self, options: &SyncOptions) -> Result<SyncReport> {
        let backend = self.schema_backend()?;
        let ddl = crate::schema::code_schema(self.dialect());
        let key = codedb_schema::ddl_key(&ddl);
        if codedb_schema::remembered_in_sync(backend, &key)? {
            return Ok(SyncReport {
                dry_run: options.dry_run,
                ..SyncReport::default()
            });
        }
        let desired = backend.schema_from_ddl(&ddl)?;
        let report = self.sync_schema(&desired, options)?;
        codedb_schema::remember_if_in_sync(backend, &key, &report);
        Ok(report)
    }

    /// Brings the database to `desired` (the original CodeDatabase's name for the
    /// underlying call).
    pub fn sync_schema(&self, desired: &Schema, options: &SyncOptions) -> Result<SyncReport> {
        Ok(codedb_schema::sync(
            self.schema_backend()?,
            desired,
            options,
        )?)
    }

    /// The driver underneath.
    pub fn driver(&self) -> &Arc<dyn SpecificDriver> {
        &self.driver
    }

    /// Opens a write transaction that may change anything in the database. Until the
    /// returned guard is committed, rolled back or dropped (which rolls back), other writers
    /// wait: on SQLite those of this process (one that waits longer than the driver's
    /// timeout gets a `Busy` error) and of others (SQLite's lock); on PostgreSQL every other
    /// write transaction of a `CodeDatabase` on the same database, of any project
    /// ([`WriteScope::Database`]). Readers never wait. A writer of one project's rows opens
    /// [`begin_project_transaction`](Self::begin_project_transaction) instead.
    pub fn begin_transaction(&self) -> Result<Transaction<'_>> {
        self.begin_scoped(WriteScope::Database)
    }

    /// Opens a write transaction that changes only the rows of project `project_id` (its
    /// files, what is derived from them, its history). On PostgreSQL it waits only for
    /// writers of the same project and for [`begin_transaction`](Self::begin_transaction)'s
    /// writers, so writers of different projects run at once ([`WriteScope::Project`]); on
    /// SQLite it is [`begin_transaction`](Self::begin_transaction).
    pub fn begin_project_transaction(&self, project_id: i64) -> Result<Transaction<'_>> {
        self.begin_scoped(WriteScope::Project(project_id))
    }

    /// Opens a write transaction of `scope`. Where the backend keeps writers apart on the
    /// server ([`Dialect::write_lock`]: PostgreSQL), the writer first waits in the process
    /// for the writers of this database it may not run beside ([`WriterGate`]), so that a
    /// waiting writer holds no pooled connection, and only then takes a connection and the
    /// server's lock (which still keeps it apart from other processes' writers).
    fn begin_scoped(&self, scope: WriteScope) -> Result<Transaction<'_>> {
        let dialect = Dialect::of(self.driver.as_ref());
        let Some(lock) = dialect.write_lock(scope) else {
            return Ok(Transaction::top(self.driver.begin()?, dialect, None));
        };
        let pass = self.writers.admit(scope, self.driver.lock_wait_limit())?;
        let tx = Transaction::top(self.driver.begin()?, dialect, Some(pass));
        // Dropped on error: the transaction rolls back.
        tx.query(&lock, Vec::new())?;
        Ok(tx)
    }

    /// Runs `f` in a transaction: commits when it returns `Ok`, rolls back when it returns
    /// `Err` (a failed rollback is reported together with the error that caused it).
    pub fn transaction<R>(&self, f: impl FnOnce(&Transaction<'_>) -> Result<R>) -> Result<R> {
        let tx = self.begin_transaction()?;
        finish(tx, f)
    }

    /// [`transaction`](Self::transaction) for a writer of project `project_id`'s rows only
    /// (see [`begin_project_transaction`](Self::begin_project_transaction)).
    pub fn project_transaction<R>(
        &self,
        project_id: i64,
        f: impl FnOnce(&Transaction<'_>) -> Result<R>,
    ) -> Result<R> {
        let tx = self.begin_project_transaction(project_id)?;
        finish(tx, f)
    }

    /// The problems the backend's own check finds in the database (empty: sound; see
    /// [`Dialect::integrity_check`]). A database too damaged to be read at all is an error.
    pub fn integrity_problems(&self) -> Result<Vec<String>> {
        let Some(sql) = self.dialect().integrity_check() else {
            return Ok(Vec::new());
        };
        let rows = self.driver.query(sql, Vec::new())?;
        let mut problems = Vec::new();
        for row in rows.iter() {
            let text: String = row.get(0)?;
            if text != "ok" {
                problems.push(text);
            }
        }
        Ok(problems)
    }

    /// Trims the write-ahead log if the backend keeps one for codedb to trim (see
    /// [`Dialect::checkpoint`]); does nothing otherwise.
    pub fn checkpoint(&self) -> Result<()> {
        if let Some(sql) = self.dialect().checkpoint() {
            self.driver.query(sql, Vec::new())?;
        }
        Ok(())
    }

    /// Writes a consistent copy of the database to `dest` (which must not exist).
    pub fn backup_to(&self, dest: &Path) -> Result<()> {
        Ok(self.driver.backup_to(dest)?)
    }

    /// Finishes queued work and closes the database.
    pub fn close(&self) -> Result<()> {
        Ok(self.driver.close()?)
    }
}

/// Runs `f` on `tx`, then commits or rolls back; shared by transactions and savepoints.
pub(crate) fn finish<R>(
    tx: Transaction<'_>,
    f: impl FnOnce(&Transaction<'_>) -> Result<R>,
) -> Result<R> {
    match f(&tx) {
        Ok(value) => {
            tx.commit()?;
            Ok(value)
        }
        Err(error) => match tx.rollback() {
            Ok(()) => Err(error),
            Err(rollback) => Err(Error::RollbackFailed {
                error: Box::new(error),
                rollback: Box::new(rollback),
            }),
        },
    }
}

impl Executor for CodeDatabase {
    fn dialect(&self) -> Dialect {
        Dialect::of(self.driver.as_ref())
    }

    fn execute(&self, sql: &str, params: Vec<Value>) -> Result<ExecResult> {
        Ok(self.driver.execute(sql, params)?)
    }

    fn query(&self, sql: &str, params: Vec<Value>) -> Result<Rows> {
        Ok(self.driver.query(sql, params)?)
    }

    fn execute_batch(&self, batch: Batch) -> Result<BatchResult> {
        Ok(self.driver.execute_batch(batch)?)
    }

    fn atomic<R>(&self, f: impl FnOnce(&Transaction<'_>) -> Result<R>) -> Result<R> {
        self.transaction(f)
    }
}
