//! [`inspect`]: read-only facts about a SQLite database file, for `codedb db info`.

use std::path::{Path, PathBuf};

use codedb_driver::{Error, ErrorKind, Result};
use rusqlite::{Connection, OpenFlags};

use crate::connection::integrity_report;
use crate::error::with_sql;

/// What `codedb db info` reports.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DatabaseInfo {
    /// The file inspected.
    pub path: PathBuf,
    /// The SQLite library version codedb links (bundled).
    pub sqlite_version: String,
    /// `PRAGMA journal_mode` (`wal` for a database codedb has opened).
    pub journal_mode: String,
    /// Pages in the database.
    pub page_count: i64,
    /// Bytes per page.
    pub page_size: i64,
    /// Pages on the free list.
    pub freelist_count: i64,
    /// Tables, indexes, views and triggers in `sqlite_schema`.
    pub schema_objects: i64,
    /// `ok` when `PRAGMA integrity_check` found nothing, else its findings joined by `; `.
    pub integrity_check: String,
}

/// Inspects the database at `path` without creating or changing anything.
///
/// A missing file, a directory or a file that is not a SQLite database is an error naming the
/// path and the cause.
pub fn inspect(path: &Path) -> Result<DatabaseInfo> {
    inspect_inner(path).map_err(|e| e.with_context(path.display().to_string()))
}

fn inspect_inner(path: &Path) -> Result<DatabaseInfo> {
    if path.is_dir() {
        return Err(Error::new(
            ErrorKind::CannotOpen,
            "is a directory, not a database file",
        ));
    }
    if !path.exists() {
        return Err(Error::new(ErrorKind::CannotOpen, "no such file"));
    }
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| crate::error::map_err(e, None))?;
    let int =
        |sql: &str| -> Result<i64> { conn.query_row(sql, [], |r| r.get(0)).map_err(with_sql(sql)) };
    let schema_objects = int("SELECT count(*) FROM sqlite_schema")?;
    let journal_mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .map_err(with_sql("PRAGMA journal_mode"))?;
    let report = integrity_report(&conn)?;
    Ok(DatabaseInfo {
        path: path.to_owned(),
        sqlite_version: rusqlite::version().to_owned(),
        journal_mode,
        page_count: int("PRAGMA page_count")?,
        page_size: int("PRAGMA page_size")?,
        freelist_count: int("PRAGMA freelist_count")?,
        schema_objects,
        integrity_check: report.join("; "),
    })
}
