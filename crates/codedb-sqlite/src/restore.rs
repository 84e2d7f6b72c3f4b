//! [`restore`]: replaces a SQLite database with a backup, checking everything before it
//! touches anything.
//!
//! In order: the backup must be a SQLite database that passes `PRAGMA integrity_check` and
//! whose schema codedb can read, and must not be the database itself; then the database
//! lock is taken exclusively (refused while another codedb process has the database open);
//! then the current state is backed up; then the backup is copied beside the database,
//! flushed, the stale `-wal` and `-shm` removed, and the copy renamed over the database (an
//! atomic replace), the directory flushed. A refusal or failure at any step before the
//! rename leaves the database exactly as it was.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use codedb_schema::backup::{Backups, sync_dir};
use codedb_schema::{Error, Result};
use rusqlite::{Connection, OpenFlags};

use crate::connection::integrity_report;
use crate::error::map_err;

/// What a restore did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restored {
    /// The backup put in place.
    pub source: PathBuf,
    /// The backup of the state the database had before.
    pub previous_state: PathBuf,
}

fn refuse(path: &Path, why: impl std::fmt::Display) -> Error {
    Error::Backup {
        path: path.to_owned(),
        message: format!("{why}; the database was not touched"),
    }
}

/// `file:` URI of `path` opened as an immutable file (no locks, no `-wal`/`-shm` created).
fn immutable_uri(path: &Path) -> String {
    let text = path.display().to_string();
    let mut out = String::from("file:");
    for c in text.chars() {
        match c {
            '%' | '?' | '#' => out.push_str(&format!("%{:02X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push_str("?immutable=1");
    out
}

/// Checks that `source` is a backup codedb can restore: a SQLite database file that passes
/// its integrity check and whose schema can be read. Returns the schema's fingerprint.
pub fn check_backup(source: &Path) -> Result<String> {
    let mut header = [0u8; 16];
    let read = fs::File::open(source).and_then(|mut f| f.read_exact(&mut header));
    if read.is_err() || &header != b"SQLite format 3\0" {
        return Err(refuse(source, "not a SQLite database (no SQLite header)"));
    }
    let conn = Connection::open_with_flags(
        immutable_uri(source),
        OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI,
    )
    .map_err(|e| refuse(source, map_err(e, None)))?;
    let report = integrity_report(&conn).map_err(|e| refuse(source, e))?;
    if report != ["ok"] {
        return Err(refuse(
            source,
            format!("integrity check failed: {}", report.join("; ")),
        ));
    }
    let schema = crate::schema::introspect(&conn)
        .map_err(|e| refuse(source, format!("its schema cannot be read: {e}")))?;
    Ok(schema.fingerprint())
}

/// Replaces the database at `db` with the backup `source`, after backing the current state
/// up into `backups` (see the module docs for the order of the checks).
pub fn restore(db: &Path, source: &Path, backups: &Backups) -> Result<Restored> {
    let same = match (fs::canonicalize(db), fs::canonicalize(source)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    if same {
        return Err(refuse(source, "this is the database itself, not a backup"));
    }
    check_backup(source)?;
    let _lock = crate::lock::exclusive(db).map_err(|e| refuse(db, e))?;
    let previous_state = backups
        .create_with(&live_fingerprint(db), |tmp| copy_live(db, tmp))
        .map_err(|e| refuse(db, format!("cannot back up its current state first: {e}")))?;
    replace(db, source)?;
    tracing::info!(from = %source.display(), to = %db.display(), "database restored");
    Ok(Restored {
        source: source.to_owned(),
        previous_state,
    })
}

fn live_fingerprint(db: &Path) -> String {
    Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .ok()
        .and_then(|c| crate::schema::introspect(&c).ok())
        .map_or_else(|| "unreadable".to_owned(), |s| s.fingerprint())
}

/// The current state into `tmp`: `VACUUM INTO` (which reads the WAL too), integrity-checked;
/// a database too damaged for that is copied byte for byte, so that nothing is lost.
fn copy_live(db: &Path, tmp: &Path) -> Result<()> {
    let vacuumed = (|| -> codedb_driver::Result<()> {
        let conn = Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(|e| map_err(e, None))?;
        let text = tmp.to_str().ok_or_else(|| {
            codedb_driver::Error::new(codedb_driver::ErrorKind::InvalidParameter, "not UTF-8")
        })?;
        conn.execute("VACUUM INTO ?1", [text])
            .map_err(|e| map_err(e, Some("VACUUM INTO ?1")))?;
        drop(conn);
        crate::connection::integrity_check(tmp)
    })();
    if let Err(e) = vacuumed {
        tracing::warn!(error = %e, "the current database cannot be copied through SQLite; keeping its bytes");
        fs::write(tmp, b"")
            .and_then(|()| fs::copy(db, tmp).map(drop))
            .map_err(|io| {
                Error::backup(tmp, format!("cannot copy the database: {io} (after: {e})"))
            })?;
    }
    Ok(())
}

/// The atomic replace: copy beside `db`, flush, remove the stale `-wal`/`-shm`, rename.
fn replace(db: &Path, source: &Path) -> Result<()> {
    let mut tmp_name = db.as_os_str().to_owned();
    tmp_name.push(".restore-tmp");
    let tmp = PathBuf::from(tmp_name);
    let copied = fs::copy(source, &tmp).and_then(|_| fs::File::open(&tmp)?.sync_all());
    if let Err(e) = copied {
        let _ = fs::remove_file(&tmp);
        return Err(refuse(db, format!("cannot copy the backup beside it: {e}")));
    }
    // What the WAL holds goes into the file first (best effort: a damaged database may
    // refuse), so that removing the WAL below loses nothing should the rename then fail.
    if let Ok(conn) = Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_WRITE) {
        let _ = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
    }
    for suffix in ["-wal", "-shm"] {
        let mut side = db.as_os_str().to_owned();
        side.push(suffix);
        let side = PathBuf::from(side);
        match fs::remove_file(&side) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                let _ = fs::remove_file(&tmp);
                return Err(Error::backup(
                    &side,
                    format!("cannot remove the stale file: {e}"),
                ));
            }
        }
    }
    fs::rename(&tmp, db)
        .map_err(|e| Error::backup(db, format!("cannot replace the database: {e}")))?;
    if let Some(parent) = db.parent().filter(|p| !p.as_os_str().is_empty()) {
        sync_dir(parent);
    }
    Ok(())
}
