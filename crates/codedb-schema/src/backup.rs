//! Database backups: named `<db-stem>.<UTC yyyymmddThhmmssZ>.<schema fingerprint>.sqlite` in
//! a backup directory (default `backups/` beside the database), taken through the backend
//! (for SQLite `VACUUM INTO`, never a raw copy of a WAL database) and integrity-checked,
//! listed newest first, pruned to the newest N, restored by an atomic replace that also
//! removes the stale `-wal` and `-shm` files.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::error::{Error, Result};
use crate::sync::SchemaBackend;

/// The default backup directory of the database at `db`: `backups/` beside it.
pub fn default_dir(db: &Path) -> PathBuf {
    db.parent()
        .unwrap_or_else(|| Path::new("."))
        .join("backups")
}

/// Unix milliseconds now.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn stem(db: &Path) -> String {
    db.file_stem().map_or_else(
        || "database".to_owned(),
        |s| s.to_string_lossy().into_owned(),
    )
}

/// `20261126T234905Z`.
fn utc_stamp() -> String {
    humantime::format_rfc3339_seconds(SystemTime::now())
        .to_string()
        .replace(['-', ':'], "")
}

/// Takes a backup of `db` into `dir` and returns its path.
pub fn create(
    backend: &dyn SchemaBackend,
    db: &Path,
    dir: &Path,
    fingerprint: &str,
) -> Result<PathBuf> {
    fs::create_dir_all(dir)
        .map_err(|e| Error::backup(dir, format!("cannot create the backup directory: {e}")))?;
    let base = format!("{}.{}.{}", stem(db), utc_stamp(), fingerprint);
    let ext = backend.backup_extension();
    let mut path = dir.join(format!("{base}.{ext}"));
    let mut n = 1;
    while path.exists() {
        path = dir.join(format!("{base}-{n}.{ext}"));
        n += 1;
    }
    backend.backup_to(&path).map_err(|e| {
        let _ = fs::remove_file(&path);
        Error::backup(&path, e.to_string())
    })?;
    tracing::info!(path = %path.display(), "database backed up");
    Ok(path)
}

/// One backup file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BackupEntry {
    /// The file name, which is also its id.
    pub id: String,
    /// The full path.
    pub path: PathBuf,
    /// Its size in bytes.
    pub bytes: u64,
}

/// The backups of `db` in `dir`, newest first. A missing directory has none.
pub fn list(db: &Path, dir: &Path) -> Result<Vec<BackupEntry>> {
    let prefix = format!("{}.", stem(db));
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::backup(dir, format!("cannot list backups: {e}"))),
    };
    let mut out: Vec<BackupEntry> = entries
        .flatten()
        .filter_map(|e| {
            let id = e.file_name().to_string_lossy().into_owned();
            let ok = id.starts_with(&prefix)
                && (id.ends_with(".sqlite") || id.ends_with(".pgdump"))
                && id.len() > prefix.len() + 17;
            ok.then(|| BackupEntry {
                bytes: e.metadata().map_or(0, |m| m.len()),
                path: e.path(),
                id,
            })
        })
        .collect();
    out.sort_by(|a, b| b.id.cmp(&a.id));
    Ok(out)
}

/// Removes all but the newest `keep` backups of `db` in `dir`; returns the removed paths.
pub fn prune(db: &Path, dir: &Path, keep: usize) -> Result<Vec<PathBuf>> {
    let mut removed = Vec::new();
    for entry in list(db, dir)?.into_iter().skip(keep) {
        fs::remove_file(&entry.path)
            .map_err(|e| Error::backup(&entry.path, format!("cannot remove: {e}")))?;
        removed.push(entry.path);
    }
    Ok(removed)
}

/// Replaces the database at `db` with the backup `id` (a file name from [`list`], or a
/// path). Nothing may have the database open. The replacement is atomic (copy to a
/// temporary file beside it, then rename); the old `-wal` and `-shm` files are removed first,
/// since SQLite would otherwise replay the old database's log onto the restored file.
pub fn restore(db: &Path, dir: &Path, id: &str) -> Result<PathBuf> {
    let source = if Path::new(id).is_absolute() || id.contains('/') {
        PathBuf::from(id)
    } else {
        dir.join(id)
    };
    if !source.is_file() {
        return Err(Error::backup(
            &source,
            "no such backup; `codedb backup list` shows the ids",
        ));
    }
    let tmp = db.with_extension("restore-tmp");
    fs::copy(&source, &tmp)
        .map_err(|e| Error::backup(&tmp, format!("cannot copy the backup: {e}")))?;
    let synced = fs::File::open(&tmp).and_then(|f| f.sync_all());
    if let Err(e) = synced {
        let _ = fs::remove_file(&tmp);
        return Err(Error::backup(&tmp, format!("cannot flush the copy: {e}")));
    }
    for suffix in ["-wal", "-shm"] {
        let side = PathBuf::from(format!("{}{suffix}", db.display()));
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
    if let Some(parent) = db.parent().filter(|p| !p.as_os_str().is_empty())
        && let Ok(d) = fs::File::open(parent)
    {
        let _ = d.sync_all();
    }
    tracing::info!(from = %source.display(), to = %db.display(), "database restored");
    Ok(source)
}
