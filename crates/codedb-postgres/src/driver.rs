//! [`PostgresDriver`]: a [`SpecificDriver`] over a pool of `postgres` connections, and
//! [`PgTransaction`], a transaction holding one of them.
//!
//! No DBWorker: PostgreSQL serves concurrent writers itself. Autocommit statements and
//! queries take any pooled connection; `begin` takes one for the transaction's life
//! (`BEGIN` ... `COMMIT`); batches run in a transaction of their own, or inside an open one
//! in a savepoint, so that they are all or nothing either way.
//!
//! One difference from SQLite the caller must know: in PostgreSQL a statement that fails
//! inside a transaction aborts it; only a rollback, or rolling back to a savepoint opened
//! before the statement (what `Executor::atomic` does), makes it usable again.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::connect::{Manager, connect};
use crate::convert::{Param, column, placeholders};
use crate::error::map_err;
use crate::url::{redact, without_password};
use codedb_driver::{
    Batch, BatchResult, BatchStep, DriverTransaction, Error, ErrorKind, ExecResult, Result, Row,
    Rows, SpecificDriver, Value, validate_savepoint_name,
};

type Pool = r2d2::Pool<Manager>;
type Conn = r2d2::PooledConnection<Manager>;

/// How to reach the server. Its `Debug` shows the URL redacted.
#[derive(Clone)]
pub struct PostgresConfig {
    /// `postgres://user@host:port/database` (or a key=value connection string).
    pub url: String,
    /// Connections kept (writers in transactions hold one each).
    pub pool_size: u32,
    /// How long making a connection may take, handshake included, and how long to wait for
    /// a free one before `Timeout`. The URL's `connect_timeout` (seconds) takes precedence.
    pub connect_timeout: Duration,
    /// The server-side limit on one statement (`statement_timeout`); `None`: no limit. The
    /// URL's `options=-c statement_timeout=...` takes precedence.
    pub statement_timeout: Option<Duration>,
}

impl std::fmt::Debug for PostgresConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresConfig")
            .field("url", &redact(&self.url))
            .field("pool_size", &self.pool_size)
            .field("connect_timeout", &self.connect_timeout)
            .field("statement_timeout", &self.statement_timeout)
            .finish()
    }
}

impl PostgresConfig {
    /// The default `connect_timeout`: 10 s.
    pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
    /// The default `statement_timeout`: 5 minutes.
    pub const DEFAULT_STATEMENT_TIMEOUT: Duration = Duration::from_secs(300);

    /// Defaults for `url`: 8 connections, a 10 s connect timeout, a 5 minute statement
    /// timeout.
    pub fn new(url: impl Into<String>) -> Self {
        PostgresConfig {
            url: url.into(),
            pool_size: 8,
            connect_timeout: Self::DEFAULT_CONNECT_TIMEOUT,
            statement_timeout: Some(Self::DEFAULT_STATEMENT_TIMEOUT),
        }
    }
}

/// A PostgreSQL database.
pub struct PostgresDriver {
    pool: Pool,
    url: String,
    connect_timeout: Duration,
    /// The connections' `statement_timeout` (what bounds a wait for a lock on the server).
    statement_timeout: Option<Duration>,
    closed: AtomicBool,
}

impl std::fmt::Debug for PostgresDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresDriver")
            .field("url", &redact(&self.url))
            .finish_non_exhaustive()
    }
}

impl PostgresDriver {
    /// Connects (one connection is opened now, so that a wrong URL or a server that does not
    /// answer fails here, naming the server).
    pub fn open(config: &PostgresConfig) -> Result<Self> {
        let pg: postgres::Config = config.url.parse().map_err(|e| {
            Error::new(
                ErrorKind::CannotOpen,
                format!(
                    "{}: not a PostgreSQL connection URL: {e}",
                    redact(&config.url)
                ),
            )
        })?;
        // One connection now, made directly: a wrong URL, a missing database or a server
        // that does not answer fails here with the server's own reason (the pool would
        // retry until its timeout and report only that it timed out).
        let mut pg = pg;
        let timeout = match pg.get_connect_timeout() {
            Some(t) => *t,
            None => {
                pg.connect_timeout(config.connect_timeout);
                config.connect_timeout
            }
        };
        if let Some(limit) = config.statement_timeout {
            crate::connect::default_statement_timeout(&mut pg, limit);
        }
        let statement_timeout = crate::connect::statement_timeout(&pg, config.statement_timeout);
        let shown = redact(&config.url);
        let first = connect(&pg, timeout, &shown)?;
        drop(first);
        let manager = Manager::new(pg, timeout, shown);
        let pool = r2d2::Pool::builder()
            .max_size(config.pool_size.max(1))
            .min_idle(Some(0))
            .connection_timeout(timeout)
            .error_handler(Box::new(r2d2::NopErrorHandler))
            .build_unchecked(manager);
        Ok(PostgresDriver {
            pool,
            url: config.url.clone(),
            connect_timeout: timeout,
            statement_timeout,
            closed: AtomicBool::new(false),
        })
    }

    /// What tells this database from others of the same name: its servers, ports and name
    /// (no user, no password).
    pub fn identity(&self) -> String {
        match self.url.parse::<postgres::Config>() {
            Ok(c) => format!(
                "postgres:{:?}:{:?}/{}",
                c.get_hosts(),
                c.get_ports(),
                c.get_dbname().unwrap_or_default()
            ),
            Err(_) => redact(&self.url),
        }
    }

    pub(crate) fn conn(&self) -> Result<Conn> {
        if self.closed.load(Ordering::Acquire) {
            return Err(Error::new(ErrorKind::Closed, "the database is closed"));
        }
        self.pool.get().map_err(|e| {
            Error::new(
                ErrorKind::Timeout,
                format!(
                    "no PostgreSQL connection free or reachable ({}): {e}",
                    redact(&self.url)
                ),
            )
        })
    }
}

fn params<'a>(values: &'a [Value]) -> Vec<Param<'a>> {
    values.iter().map(Param).collect()
}

fn refs<'a>(params: &'a [Param<'a>]) -> Vec<&'a (dyn postgres::types::ToSql + Sync)> {
    params
        .iter()
        .map(|p| p as &(dyn postgres::types::ToSql + Sync))
        .collect()
}

fn execute_on(
    client: &mut impl postgres::GenericClient,
    sql: &str,
    values: &[Value],
) -> Result<u64> {
    let pg_sql = placeholders(sql);
    let p = params(values);
    client
        .execute(pg_sql.as_str(), &refs(&p))
        .map_err(|e| map_err(&e, sql))
}

fn query_on(
    client: &mut impl postgres::GenericClient,
    sql: &str,
    values: &[Value],
) -> Result<Rows> {
    let pg_sql = placeholders(sql);
    let statement = client.prepare(&pg_sql).map_err(|e| map_err(&e, sql))?;
    let p = params(values);
    let rows = client
        .query(&statement, &refs(&p))
        .map_err(|e| map_err(&e, sql))?;
    let columns = statement
        .columns()
        .iter()
        .map(|c| c.name().to_owned())
        .collect();
    let rows = rows
        .iter()
        .map(|r| {
            (0..r.len())
                .map(|i| column(r, i))
                .collect::<Result<Vec<_>>>()
                .map(Row)
        })
        .collect::<Result<Vec<_>>>()
        .map_err(|e| e.with_sql(sql))?;
    Ok(Rows { columns, rows })
}

fn run_steps(client: &mut impl postgres::GenericClient, batch: Batch) -> Result<BatchResult> {
    let mut result = BatchResult::default();
    for step in batch.into_steps() {
        let n = match step {
            BatchStep::Statement { sql, param_sets } => {
                let pg_sql = placeholders(&sql);
                let statement = client.prepare(&pg_sql).map_err(|e| map_err(&e, &sql))?;
                let mut n = 0;
                for set in &param_sets {
                    let p = params(set);
                    n += client
                        .execute(&statement, &refs(&p))
                        .map_err(|e| map_err(&e, &sql))?;
                }
                n
            }
            BatchStep::Script(script) => {
                client
                    .batch_execute(&script)
                    .map_err(|e| map_err(&e, &script))?;
                0
            }
        };
        result.per_step.push(n);
        result.rows_affected += n;
    }
    Ok(result)
}

impl SpecificDriver for PostgresDriver {
    fn backend_name(&self) -> &'static str {
        "postgres"
    }

    fn execute(&self, sql: &str, params: Vec<Value>) -> Result<ExecResult> {
        let mut conn = self.conn()?;
        let rows_affected = execute_on(&mut *conn, sql, &params)?;
        Ok(ExecResult {
            rows_affected,
            last_insert_id: None,
        })
    }

    fn query(&self, sql: &str, params: Vec<Value>) -> Result<Rows> {
        let mut conn = self.conn()?;
        query_on(&mut *conn, sql, &params)
    }

    fn execute_batch(&self, batch: Batch) -> Result<BatchResult> {
        let mut conn = self.conn()?;
        let mut tx = conn.transaction().map_err(|e| map_err(&e, "BEGIN"))?;
        let result = run_steps(&mut tx, batch)?;
        tx.commit().map_err(|e| map_err(&e, "COMMIT"))?;
        Ok(result)
    }

    fn begin(&self) -> Result<Box<dyn DriverTransaction>> {
        let mut conn = self.conn()?;
        conn.batch_execute("BEGIN")
            .map_err(|e| map_err(&e, "BEGIN"))?;
        Ok(Box::new(PgTransaction {
            conn: Some(conn),
            changes: 0,
        }))
    }

    fn lock_wait_limit(&self) -> Option<Duration> {
        self.statement_timeout
    }

    fn backup_to(&self, dest: &Path) -> Result<()> {
        if std::fs::metadata(dest).is_ok_and(|m| m.len() > 0) {
            return Err(Error::new(
                ErrorKind::CannotOpen,
                format!("{}: already exists", dest.display()),
            ));
        }
        // The password goes through the environment, never the command line (which any
        // local user can read in /proc).
        let parsed: Option<postgres::Config> = self.url.parse().ok();
        let mut command = std::process::Command::new("pg_dump");
        command
            .args(["--format=custom", "--no-owner", "--file"])
            .arg(dest)
            .arg(without_password(&self.url))
            .env_remove("PGPASSWORD");
        if let Some(password) = parsed.as_ref().and_then(|c| c.get_password()) {
            command.env("PGPASSWORD", String::from_utf8_lossy(password).as_ref());
        }
        if parsed
            .as_ref()
            .is_none_or(|c| c.get_connect_timeout().is_none())
        {
            command.env(
                "PGCONNECT_TIMEOUT",
                self.connect_timeout.as_secs().max(2).to_string(),
            );
        }
        let out = command.output().map_err(|e| {
            Error::new(
                ErrorKind::Io,
                format!(
                    "cannot back up the PostgreSQL database: pg_dump is not on the PATH ({e}); \
                         install the PostgreSQL client tools or pass --no-backup"
                ),
            )
        })?;
        if !out.status.success() {
            let _ = std::fs::remove_file(dest);
            return Err(Error::new(
                ErrorKind::Io,
                format!(
                    "pg_dump failed: {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                ),
            ));
        }
        Ok(())
    }

    fn close(&self) -> Result<()> {
        self.closed.store(true, Ordering::Release);
        Ok(())
    }
}

/// An open PostgreSQL transaction on its own pooled connection.
pub struct PgTransaction {
    conn: Option<Conn>,
    changes: u64,
}

impl std::fmt::Debug for PgTransaction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgTransaction")
            .field("open", &self.conn.is_some())
            .finish_non_exhaustive()
    }
}

impl PgTransaction {
    fn conn(&mut self) -> Result<&mut Conn> {
        self.conn
            .as_mut()
            .ok_or_else(|| Error::new(ErrorKind::TransactionState, "the transaction has ended"))
    }

    fn command(&mut self, sql: &str) -> Result<()> {
        self.conn()?
            .batch_execute(sql)
            .map_err(|e| map_err(&e, sql))
    }
}

const BATCH_SAVEPOINT: &str = "codedb_batch";

impl DriverTransaction for PgTransaction {
    fn execute(&mut self, sql: &str, params: Vec<Value>) -> Result<ExecResult> {
        let n = execute_on(&mut **self.conn()?, sql, &params)?;
        self.changes = n;
        Ok(ExecResult {
            rows_affected: n,
            last_insert_id: None,
        })
    }

    fn query(&mut self, sql: &str, params: Vec<Value>) -> Result<Rows> {
        query_on(&mut **self.conn()?, sql, &params)
    }

    /// One prepared statement run per row inside a savepoint; an error names the row
    /// (counted over the whole stream) and undoes only the stream.
    fn execute_stream(
        &mut self,
        sql: &str,
        rows: &mut dyn Iterator<Item = Vec<Value>>,
    ) -> Result<u64> {
        self.savepoint(codedb_driver::STREAM_SAVEPOINT)?;
        let mut run = || -> Result<u64> {
            let conn = self.conn()?;
            let statement = conn
                .prepare(&placeholders(sql))
                .map_err(|e| map_err(&e, sql))?;
            let mut total = 0;
            for (i, set) in rows.enumerate() {
                let p = params(&set);
                total += conn
                    .execute(&statement, &refs(&p))
                    .map_err(|e| map_err(&e, sql).with_context(format!("parameter set {i}")))?;
            }
            Ok(total)
        };
        let result = run();
        let total = codedb_driver::end_savepoint(self, codedb_driver::STREAM_SAVEPOINT, result)?;
        self.changes = total;
        Ok(total)
    }

    fn execute_batch(&mut self, batch: Batch) -> Result<BatchResult> {
        self.savepoint(BATCH_SAVEPOINT)?;
        let result = run_steps(&mut **self.conn()?, batch);
        let result = codedb_driver::end_savepoint(self, BATCH_SAVEPOINT, result)?;
        self.changes = result.rows_affected;
        Ok(result)
    }

    fn execute_batch_in_place(&mut self, batch: Batch) -> Result<BatchResult> {
        // A failed statement aborts a PostgreSQL transaction anyway: only ROLLBACK is
        // accepted after it.
        let result = run_steps(&mut **self.conn()?, batch)?;
        self.changes = result.rows_affected;
        Ok(result)
    }

    fn savepoint(&mut self, name: &str) -> Result<()> {
        validate_savepoint_name(name)?;
        self.command(&format!("SAVEPOINT \"{name}\""))
    }

    fn release_savepoint(&mut self, name: &str) -> Result<()> {
        validate_savepoint_name(name)?;
        self.command(&format!("RELEASE SAVEPOINT \"{name}\""))
    }

    fn rollback_to_savepoint(&mut self, name: &str) -> Result<()> {
        validate_savepoint_name(name)?;
        self.command(&format!("ROLLBACK TO SAVEPOINT \"{name}\""))?;
        self.command(&format!("RELEASE SAVEPOINT \"{name}\""))
    }

    fn commit(mut self: Box<Self>) -> Result<()> {
        let result = self.command("COMMIT");
        if result.is_err() {
            let _ = self.command("ROLLBACK");
        }
        self.conn = None;
        result
    }

    fn rollback(mut self: Box<Self>) -> Result<()> {
        let result = self.command("ROLLBACK");
        self.conn = None;
        result
    }

    fn last_insert_id(&self) -> Option<i64> {
        None
    }

    fn changes(&self) -> u64 {
        self.changes
    }
}

impl Drop for PgTransaction {
    fn drop(&mut self) {
        if let Some(mut conn) = self.conn.take()
            && let Err(e) = conn.batch_execute("ROLLBACK")
        {
            tracing::warn!("rolling back a dropped PostgreSQL transaction failed: {e}");
        }
    }
}
