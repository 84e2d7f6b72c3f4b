//! [`SQLiteDriver`]: one rusqlite connection with codedb's settings, and the statement helpers
//! that the worker's connection and the reader pool share.

use std::path::{Path, PathBuf};

use codedb_driver::{
    BatchResult, BatchStep, Error, ErrorKind, ExecResult, Result, Row, Rows, Value,
};
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, OpenFlags};

use crate::config::SqliteConfig;
use crate::error::{map_err, with_sql};

/// One SQLite connection configured as codedb needs it: WAL (set once, on open),
/// `synchronous=NORMAL`, `foreign_keys=ON`, a `busy_timeout`, a prepared-statement cache.
///
/// It is not `Sync` and knows nothing of other threads: the [`DBWorker`](crate::DBWorker)
/// owns the one that writes. Every method takes `&mut self`.
#[derive(Debug)]
pub struct SQLiteDriver {
    conn: Connection,
    path: PathBuf,
    read_only: bool,
}

impl SQLiteDriver {
    /// Opens (creating if absent) the database of `config` for reading and writing.
    ///
    /// A directory, a missing parent directory or a file that is not a SQLite database is a
    /// [`ErrorKind::CannotOpen`] or [`ErrorKind::NotADatabase`] error naming the path, and the
    /// file is left exactly as it was.
    pub fn open(config: &SqliteConfig) -> Result<Self> {
        let path = config.path.clone();
        let ctx = |e: Error| e.with_context(format!("opening {}", path.display()));
        let conn = if config.is_memory() {
            Connection::open_in_memory().map_err(|e| map_err(e, None))
        } else {
            check_openable(&path)?;
            let mode = if config.read_only {
                OpenFlags::SQLITE_OPEN_READ_ONLY
            } else {
                OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE
            };
            Connection::open_with_flags(
                &path,
                mode | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI,
            )
            .map_err(|e| map_err(e, None))
        }
        .map_err(ctx)?;
        let driver = SQLiteDriver {
            conn,
            path: path.clone(),
            read_only: config.read_only && !config.is_memory(),
        };
        driver.configure(config).map_err(ctx)?;
        Ok(driver)
    }

    fn configure(&self, config: &SqliteConfig) -> Result<()> {
        self.conn
            .busy_timeout(config.busy_timeout)
            .map_err(|e| map_err(e, None))?;
        // Read before anything is written: a file that is not a database fails here, untouched.
        probe(&self.conn)?;
        if self.read_only {
            // Nothing is changed: the file keeps its journal mode and settings.
            self.conn
                .execute_batch("PRAGMA query_only=ON; PRAGMA foreign_keys=ON;")
                .map_err(|e| map_err(e, None))?;
            self.conn
                .set_prepared_statement_cache_capacity(config.statement_cache);
            return Ok(());
        }
        let mode: String = self
            .conn
            .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
            .map_err(with_sql("PRAGMA journal_mode=WAL"))?;
        if !config.is_memory() && !mode.eq_ignore_ascii_case("wal") {
            return Err(Error::new(
                ErrorKind::Other,
                format!("could not switch the database to WAL mode (it stays in {mode} mode)"),
            ));
        }
        // A 64 MiB page cache (SQLite's default is 2 MiB): a bulk index otherwise spills dirty
        // pages to the WAL mid-transaction and reads index pages back. Checkpoints every
        // 10,000 pages (40 MiB of WAL) instead of 1,000: a checkpoint fsyncs, and during an
        // index each one stalled the pipeline.
        self.conn
            .execute_batch(
                "PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; \
                 PRAGMA cache_size=-65536; PRAGMA wal_autocheckpoint=10000;",
            )
            .map_err(|e| map_err(e, None))?;
        self.conn
            .set_prepared_statement_cache_capacity(config.statement_cache);
        Ok(())
    }

    /// The database path this connection was opened on.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The underlying connection, for SQLite-specific code inside this crate's users
    /// (introspection, pragmas). Statements run through it bypass nothing: they are the
    /// worker's.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// `true` when no transaction is open on this connection.
    pub fn is_autocommit(&self) -> bool {
        self.conn.is_autocommit()
    }

    /// Runs one statement; rows it returns are discarded.
    pub fn execute(&mut self, sql: &str, params: &[Value]) -> Result<ExecResult> {
        execute_on(&self.conn, sql, params)
    }

    /// Runs one query and collects its rows.
    pub fn query(&mut self, sql: &str, params: &[Value]) -> Result<Rows> {
        query_on(&self.conn, sql, params)
    }

    /// Runs parameterless statements separated by `;`.
    pub fn execute_script(&mut self, sql: &str) -> Result<()> {
        self.conn.execute_batch(sql).map_err(with_sql(sql))
    }

    /// Runs the steps of a batch, all or nothing: inside an open transaction under a
    /// savepoint, otherwise in a transaction of its own.
    pub fn run_batch(&mut self, steps: &[BatchStep]) -> Result<BatchResult> {
        let nested = !self.conn.is_autocommit();
        let (open, keep, undo) = if nested {
            (
                "SAVEPOINT codedb_batch",
                "RELEASE codedb_batch",
                "ROLLBACK TO codedb_batch; RELEASE codedb_batch",
            )
        } else {
            ("BEGIN IMMEDIATE", "COMMIT", "ROLLBACK")
        };
        self.execute_script(open)?;
        match self.run_steps(steps) {
            Ok(result) => match self.execute_script(keep) {
                Ok(()) => Ok(result),
                Err(e) => Err(self.undo_after(e, undo)),
            },
            Err(e) => Err(self.undo_after(e, undo)),
        }
    }

    /// Runs the steps of a batch inside the open transaction with no savepoint: a failure
    /// may leave part of the batch done (the caller rolls the transaction back).
    pub fn run_batch_in_place(&mut self, steps: &[BatchStep]) -> Result<BatchResult> {
        if self.conn.is_autocommit() {
            return self.run_batch(steps);
        }
        self.run_steps(steps)
    }

    fn undo_after(&mut self, err: Error, undo: &str) -> Error {
        match self.execute_script(undo) {
            Ok(()) => err,
            Err(second) => err.with_context(format!("undoing the batch also failed ({second})")),
        }
    }

    fn run_steps(&mut self, steps: &[BatchStep]) -> Result<BatchResult> {
        let mut result = BatchResult::default();
        for step in steps {
            let changed = match step {
                BatchStep::Script(sql) => {
                    let before = self.conn.total_changes();
                    self.execute_script(sql)?;
                    self.conn.total_changes() - before
                }
                BatchStep::Statement { sql, param_sets } => {
                    self.execute_many(sql, param_sets, 0)?
                }
            };
            result.rows_affected += changed;
            result.per_step.push(changed);
        }
        if result.rows_affected > 0 {
            result.last_insert_id = Some(self.conn.last_insert_rowid());
        }
        Ok(result)
    }

    /// Runs one statement once per parameter set, without a savepoint of its own; returns the
    /// rows changed. An error names the failing set, counting from `first_index`.
    pub fn execute_many(
        &mut self,
        sql: &str,
        param_sets: &[Vec<Value>],
        first_index: usize,
    ) -> Result<u64> {
        let mut stmt = self.conn.prepare_cached(sql).map_err(with_sql(sql))?;
        let mut changed = 0;
        for (n, params) in param_sets.iter().enumerate() {
            changed += run_prepared(&mut stmt, params).map_err(|e| {
                map_err(e, Some(sql)).with_context(format!("parameter set {}", first_index + n))
            })?;
        }
        Ok(changed)
    }

    /// `BEGIN IMMEDIATE`: takes SQLite's write lock now, waiting up to `busy_timeout` for
    /// other processes, so that a transaction that reads first cannot fail later with
    /// `SQLITE_BUSY` when it starts writing.
    pub fn begin_immediate(&mut self) -> Result<()> {
        self.execute_script("BEGIN IMMEDIATE")
    }

    /// `COMMIT`. On failure the transaction is rolled back before the error is returned.
    pub fn commit(&mut self) -> Result<()> {
        match self.execute_script("COMMIT") {
            Ok(()) => Ok(()),
            Err(e) => {
                if !self.conn.is_autocommit()
                    && let Err(second) = self.execute_script("ROLLBACK")
                {
                    return Err(e.with_context(format!(
                        "rollback after the failed commit also failed ({second})"
                    )));
                }
                Err(e)
            }
        }
    }

    /// `ROLLBACK`, a no-op when no transaction is open.
    pub fn rollback(&mut self) -> Result<()> {
        if self.conn.is_autocommit() {
            return Ok(());
        }
        self.execute_script("ROLLBACK")
    }

    /// Opens savepoint `name`.
    pub fn savepoint(&mut self, name: &str) -> Result<()> {
        codedb_driver::validate_savepoint_name(name)?;
        self.execute_script(&format!("SAVEPOINT {name}"))
    }

    /// Releases savepoint `name`, keeping its work.
    pub fn release_savepoint(&mut self, name: &str) -> Result<()> {
        codedb_driver::validate_savepoint_name(name)?;
        self.execute_script(&format!("RELEASE {name}"))
    }

    /// Rolls back to savepoint `name` and releases it.
    pub fn rollback_to_savepoint(&mut self, name: &str) -> Result<()> {
        codedb_driver::validate_savepoint_name(name)?;
        self.execute_script(&format!("ROLLBACK TO {name}; RELEASE {name}"))
    }

    /// Writes a consistent, integrity-checked copy of the database to `dest` with
    /// `VACUUM INTO` (never a raw file copy, which could miss pages still in the WAL).
    pub fn backup_to(&mut self, dest: &Path) -> Result<()> {
        let ctx = |e: Error| e.with_context(format!("backing up to {}", dest.display()));
        // An empty file is allowed: a caller may create and lock it first (backups do).
        if std::fs::metadata(dest).is_ok_and(|m| m.len() > 0) {
            return Err(ctx(Error::new(
                ErrorKind::InvalidParameter,
                "the destination already exists",
            )));
        }
        if !self.conn.is_autocommit() {
            return Err(ctx(Error::new(
                ErrorKind::TransactionState,
                "a backup cannot run inside an open transaction",
            )));
        }
        #[cfg(feature = "failpoints")]
        fail::fail_point!("backup-disk-full", |_| {
            // What SQLite reports when the destination's disk fills during VACUUM INTO.
            let _ = std::fs::write(dest, b"partial");
            Err(ctx(Error::new(
                ErrorKind::DiskFull,
                "database or disk is full",
            )))
        });
        let text = dest.to_str().ok_or_else(|| {
            ctx(Error::new(
                ErrorKind::InvalidParameter,
                "the destination path is not valid UTF-8",
            ))
        })?;
        self.conn
            .execute("VACUUM INTO ?1", [text])
            .map_err(|e| ctx(map_err(e, Some("VACUUM INTO ?1"))))?;
        let check = integrity_check(dest);
        if let Err(e) = check {
            let _ = std::fs::remove_file(dest);
            return Err(ctx(e));
        }
        Ok(())
    }

    /// Runs a WAL checkpoint; `TRUNCATE` also empties the `-wal` file. A read-only
    /// connection changes nothing: a no-op.
    pub fn checkpoint_truncate(&mut self) -> Result<()> {
        if self.read_only {
            return Ok(());
        }
        self.conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .map_err(with_sql("PRAGMA wal_checkpoint(TRUNCATE)"))
    }
}

/// Refuses paths SQLite would fail on with an unhelpful message.
fn check_openable(path: &Path) -> Result<()> {
    let fail = |msg: String| Err(Error::new(ErrorKind::CannotOpen, msg));
    if path.is_dir() {
        return fail(format!(
            "{} is a directory, not a database file",
            path.display()
        ));
    }
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty())
        && !parent.is_dir()
    {
        return fail(format!("directory {} does not exist", parent.display()));
    }
    Ok(())
}

/// Reads the schema table: fails with `NotADatabase` on a file that is not SQLite.
fn probe(conn: &Connection) -> Result<()> {
    const SQL: &str = "SELECT count(*) FROM sqlite_schema";
    conn.query_row(SQL, [], |_| Ok(())).map_err(with_sql(SQL))
}

/// Opens `path` read-only and runs `PRAGMA integrity_check`; `Corrupt` unless it says `ok`.
pub(crate) fn integrity_check(path: &Path) -> Result<()> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| map_err(e, None))?;
    let report = integrity_report(&conn)?;
    if report == ["ok"] {
        Ok(())
    } else {
        Err(Error::new(
            ErrorKind::Corrupt,
            format!("integrity check failed: {}", report.join("; ")),
        ))
    }
}

/// The lines `PRAGMA integrity_check` prints (`["ok"]` for a sound database).
pub(crate) fn integrity_report(conn: &Connection) -> Result<Vec<String>> {
    const SQL: &str = "PRAGMA integrity_check";
    let mut stmt = conn.prepare(SQL).map_err(with_sql(SQL))?;
    let lines = stmt
        .query_map([], |r| r.get::<_, String>(0))
        .and_then(Iterator::collect)
        .map_err(with_sql(SQL))?;
    Ok(lines)
}

pub(crate) fn to_sql(value: &Value) -> ToSqlOutput<'_> {
    ToSqlOutput::Borrowed(match value {
        Value::Null => ValueRef::Null,
        Value::Integer(i) => ValueRef::Integer(*i),
        Value::Real(r) => ValueRef::Real(*r),
        Value::Text(s) => ValueRef::Text(s.as_bytes()),
        Value::Blob(b) => ValueRef::Blob(b),
    })
}

fn from_sql(value: ValueRef<'_>) -> Value {
    match value {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::Integer(i),
        ValueRef::Real(r) => Value::Real(r),
        ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => Value::Blob(b.to_vec()),
    }
}

/// Runs a prepared statement once with `params`; rows it returns are stepped through and
/// dropped. Returns the rows it changed.
fn run_prepared(stmt: &mut rusqlite::Statement<'_>, params: &[Value]) -> rusqlite::Result<u64> {
    let params = rusqlite::params_from_iter(params.iter().map(to_sql));
    if stmt.column_count() > 0 {
        let mut rows = stmt.query(params)?;
        while rows.next()?.is_some() {}
        drop(rows);
        Ok(0)
    } else {
        stmt.execute(params).map(|n| n as u64)
    }
}

/// Runs one statement on `conn`.
pub(crate) fn execute_on(conn: &Connection, sql: &str, params: &[Value]) -> Result<ExecResult> {
    let mut stmt = conn.prepare_cached(sql).map_err(with_sql(sql))?;
    let before = conn.last_insert_rowid();
    let rows_affected = run_prepared(&mut stmt, params).map_err(with_sql(sql))?;
    let after = conn.last_insert_rowid();
    let last_insert_id =
        (rows_affected > 0 && (after != before || is_insert(sql))).then_some(after);
    Ok(ExecResult {
        rows_affected,
        last_insert_id,
    })
}

/// `true` when the statement's first keyword is `INSERT` or `REPLACE`.
fn is_insert(sql: &str) -> bool {
    let word: String = sql
        .trim_start()
        .chars()
        .take(7)
        .collect::<String>()
        .to_ascii_uppercase();
    word.starts_with("INSERT") || word.starts_with("REPLACE")
}

/// Runs one query on `conn` and collects its rows.
///
/// Column names and the row width are read after the statement has run: a cached statement
/// prepared before a schema change is recompiled by SQLite on its first step, and `SELECT *`
/// may then have other columns than it had when it was cached.
pub(crate) fn query_on(conn: &Connection, sql: &str, params: &[Value]) -> Result<Rows> {
    let mut stmt = conn.prepare_cached(sql).map_err(with_sql(sql))?;
    let mut columns: Option<Vec<String>> = None;
    let mut out = Vec::new();
    {
        let mut rows = stmt
            .query(rusqlite::params_from_iter(params.iter().map(to_sql)))
            .map_err(with_sql(sql))?;
        while let Some(row) = rows.next().map_err(with_sql(sql))? {
            let width = row.as_ref().column_count();
            if columns.is_none() {
                columns = Some(
                    row.as_ref()
                        .column_names()
                        .into_iter()
                        .map(str::to_owned)
                        .collect(),
                );
            }
            let mut values = Vec::with_capacity(width);
            for i in 0..width {
                values.push(from_sql(row.get_ref(i).map_err(with_sql(sql))?));
            }
            out.push(Row(values));
        }
    }
    let columns =
        columns.unwrap_or_else(|| stmt.column_names().into_iter().map(str::to_owned).collect());
    Ok(Rows { columns, rows: out })
}
