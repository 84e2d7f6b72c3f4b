//! Database backups: named `<db-stem>.<db-id>.<UTC yyyymmddThhmmssZ>.<schema fingerprint>.<ext>`
//! in a backup directory (default `backups/` beside the database), where `<db-id>` (8 hex
//! digits of the database's absolute path, or of its server and name) keeps apart the
//! backups of databases that share a directory and a file name.
//!
//! A backup is written under a temporary name (`.<stem>.<db-id>....tmp`, locked by its writer
//! while it is written), flushed, checked by the backend (SQLite: `PRAGMA integrity_check`),
//! and only then linked under its real name, so a backup killed half-way never looks like a
//! backup: [`Backups::list`] shows complete regular files only, and the next
//! [`Backups::create`] sweeps temporary files whose writer is gone. Listing orders by the
//! time in the name, then the file's modification time, newest first; pruning removes only
//! this database's own backups and goes on past a file it cannot remove.
//!
//! Restoring is the backend's business (a SQLite file is replaced, after checks, by
//! `codedb_sqlite::restore`); [`Backups::resolve`] finds the file an id names.

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

/// Unix milliseconds now: the one unit of every timestamp codedb stores (the sync log,
/// backup names, the code tables' `indexed_at`, the command log), defined once here, the
/// lowest crate that needs it.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// FNV-1a (64 bits) of `bytes`: stable across runs and platforms. The one hash of the
/// crate's ids and keys (backup ids, schema fingerprints, DDL keys).
pub(crate) fn fnv64(bytes: impl IntoIterator<Item = u8>) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in bytes {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

/// `20261126T234905Z`.
fn utc_stamp() -> String {
    humantime::format_rfc3339_seconds(SystemTime::now())
        .to_string()
        .replace(['-', ':'], "")
}

/// What every temporary backup file's name ends with.
const TMP_SUFFIX: &str = ".codedb-tmp";
/// Length of `20261126T234905Z`.
const STAMP_LEN: usize = 16;

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

/// What pruning did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pruned {
    /// Backups removed.
    pub removed: Vec<PathBuf>,
    /// Backups that could not be removed, each with the reason (they were skipped).
    pub failed: Vec<(PathBuf, String)>,
}

/// The backups of one database in one directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backups {
    dir: PathBuf,
    /// `<stem>.<db-id>.`: this database's own backups.
    prefix: String,
    /// `<stem>.`: backups named before the database id was part of the name (listed and
    /// restorable, never pruned: they may be another database's).
    legacy: String,
    extension: &'static str,
}

impl Backups {
    /// The backups of the database named `name` (a file, or for a server database its name),
    /// identified by `identity` (what tells it from other databases of the same name), with
    /// files ending in `.extension`, in `dir`.
    pub fn new(name: &Path, identity: &str, dir: &Path, extension: &'static str) -> Self {
        let stem = name.file_stem().map_or_else(
            || "database".to_owned(),
            |s| s.to_string_lossy().into_owned(),
        );
        let id = fnv64(identity.bytes()) as u32;
        Backups {
            dir: dir.to_owned(),
            prefix: format!("{stem}.{id:08x}."),
            legacy: format!("{stem}."),
            extension,
        }
    }

    /// The backups of `backend`'s database in `dir` (default: `backups/` beside it); `None`
    /// when the database has no name (an in-memory database).
    pub fn of(backend: &dyn SchemaBackend, dir: Option<&Path>) -> Option<Self> {
        let name = backend.database_path()?;
        let identity = backend.database_identity()?;
        let dir = dir.map_or_else(|| default_dir(&name), Path::to_owned);
        Some(Self::new(
            &name,
            &identity,
            &dir,
            backend.backup_extension(),
        ))
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Takes a backup through `backend` (its schema's fingerprint goes into the name) and
    /// returns its path.
    pub fn create(&self, backend: &dyn SchemaBackend, fingerprint: &str) -> Result<PathBuf> {
        self.create_with(fingerprint, |dest| backend.backup_to(dest))
    }

    /// Takes a backup by calling `write(temp)`, which must write a complete, checked backup
    /// into the (empty) file `temp`; the file is then flushed and linked under its name.
    pub fn create_with(
        &self,
        fingerprint: &str,
        write: impl FnOnce(&Path) -> Result<()>,
    ) -> Result<PathBuf> {
        fs::create_dir_all(&self.dir).map_err(|e| {
            Error::backup(
                &self.dir,
                format!("cannot create the backup directory: {e}"),
            )
        })?;
        self.sweep();
        let base = format!("{}{}.{}", self.prefix, utc_stamp(), fingerprint);
        let tmp = self.dir.join(format!(
            ".{base}.{}.{}{TMP_SUFFIX}",
            std::process::id(),
            now_ms()
        ));
        let file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .map_err(|e| Error::backup(&tmp, format!("cannot create: {e}")))?;
        // Held while the backup is written: a sweeper that can take it knows the writer died.
        let _ = file.try_lock();
        let written = write(&tmp).and_then(|()| {
            file.sync_all()
                .map_err(|e| Error::backup(&tmp, format!("cannot flush: {e}")))
        });
        let placed = written.and_then(|()| self.place(&tmp, &base));
        let _ = fs::remove_file(&tmp);
        drop(file);
        let path = placed?;
        sync_dir(&self.dir);
        tracing::info!(path = %path.display(), "database backed up");
        Ok(path)
    }

    /// Links the finished `tmp` under the first free name `base[-n].ext` (a link never
    /// replaces an existing file).
    fn place(&self, tmp: &Path, base: &str) -> Result<PathBuf> {
        for n in 0..1000 {
            let name = if n == 0 {
                format!("{base}.{}", self.extension)
            } else {
                format!("{base}-{n}.{}", self.extension)
            };
            let path = self.dir.join(name);
            match fs::hard_link(tmp, &path) {
                Ok(()) => return Ok(path),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => {
                    return Err(Error::backup(&path, format!("cannot name the backup: {e}")));
                }
            }
        }
        Err(Error::backup(&self.dir, "no free backup name"))
    }

    /// Removes temporary files of this database whose writer is gone (their lock is free).
    fn sweep(&self) {
        let Ok(entries) = fs::read_dir(&self.dir) else {
            return;
        };
        let own = format!(".{}", self.prefix);
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if !(name.starts_with(&own) && name.ends_with(TMP_SUFFIX)) {
                continue;
            }
            let path = entry.path();
            let abandoned = fs::OpenOptions::new()
                .write(true)
                .open(&path)
                .is_ok_and(|f| f.try_lock().is_ok());
            if abandoned && fs::remove_file(&path).is_ok() {
                tracing::info!(path = %path.display(), "removed an unfinished backup");
            }
        }
    }

    /// This database's backups, newest first. A missing directory has none. Only complete
    /// regular files count (starting with their format's header); temporary files, files
    /// left empty or cut short by older versions, and anything else are left out.
    pub fn list(&self) -> Result<Vec<BackupEntry>> {
        Ok(self
            .scan(true)?
            .into_iter()
            .map(|(entry, _, _)| entry)
            .collect())
    }

    /// The backups with their sort keys, newest first; `legacy`: include backups named
    /// without the database id.
    #[allow(clippy::type_complexity)]
    fn scan(&self, legacy: bool) -> Result<Vec<(BackupEntry, String, SystemTime)>> {
        let entries = match fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => {
                return Err(Error::backup(
                    &self.dir,
                    format!("cannot list backups: {e}"),
                ));
            }
        };
        let suffix = format!(".{}", self.extension);
        let mut out = Vec::new();
        for entry in entries.flatten() {
            let id = entry.file_name().to_string_lossy().into_owned();
            let rest = if let Some(rest) = id.strip_prefix(&self.prefix) {
                rest
            } else if legacy && let Some(rest) = id.strip_prefix(&self.legacy) {
                rest
            } else {
                continue;
            };
            let stamp = rest.get(..STAMP_LEN).unwrap_or_default();
            let is_stamp = stamp.len() == STAMP_LEN
                && stamp.as_bytes()[8] == b'T'
                && stamp.ends_with('Z')
                && stamp[..8].bytes().all(|b| b.is_ascii_digit());
            // Symbolic links are not followed: a backup is a regular file of its own.
            let Ok(meta) = fs::symlink_metadata(entry.path()) else {
                continue;
            };
            if !is_stamp
                || !id.ends_with(&suffix)
                || !meta.file_type().is_file()
                || !has_header(&entry.path(), self.extension)
            {
                continue;
            }
            let modified = meta.modified().unwrap_or(UNIX_EPOCH);
            out.push((
                BackupEntry {
                    bytes: meta.len(),
                    path: entry.path(),
                    id: id.clone(),
                },
                stamp.to_owned(),
                modified,
            ));
        }
        out.sort_by(|(a, a_stamp, a_time), (b, b_stamp, b_time)| {
            (b_stamp, b_time, &b.id).cmp(&(a_stamp, a_time, &a.id))
        });
        Ok(out)
    }

    /// Removes all but the newest `keep` of this database's own backups (never another
    /// database's, never anything but a regular file). A file that cannot be removed is
    /// logged, reported in [`Pruned::failed`] and skipped.
    pub fn prune(&self, keep: usize) -> Result<Pruned> {
        let mut pruned = Pruned::default();
        for (entry, _, _) in self.scan(false)?.into_iter().skip(keep) {
            match fs::remove_file(&entry.path) {
                Ok(()) => pruned.removed.push(entry.path),
                Err(e) => {
                    tracing::warn!(path = %entry.path.display(), error = %e, "cannot remove an old backup; skipped");
                    pruned.failed.push((entry.path, e.to_string()));
                }
            }
        }
        Ok(pruned)
    }

    /// The file a backup id names: a file name from [`list`](Self::list) in the directory,
    /// or a path (anything with a `/`). It must be an existing regular file.
    pub fn resolve(&self, id: &str) -> Result<PathBuf> {
        let source = if Path::new(id).is_absolute() || id.contains('/') {
            PathBuf::from(id)
        } else {
            self.dir.join(id)
        };
        match fs::metadata(&source) {
            Ok(m) if m.is_file() => Ok(source),
            Ok(_) => Err(Error::backup(
                &source,
                "not a backup file; `codedb backup list` shows the ids",
            )),
            Err(_) => Err(Error::backup(
                &source,
                "no such backup; `codedb backup list` shows the ids",
            )),
        }
    }
}

/// Whether the file at `path` starts as a complete backup of `extension` does (SQLite's
/// header, pg_dump's archive signature; any byte for another extension): a file that older
/// versions left empty or cut short under a backup's name does not.
fn has_header(path: &Path, extension: &str) -> bool {
    let magic: &[u8] = match extension {
        "sqlite" => b"SQLite format 3\0",
        "pgdump" => b"PGDMP",
        _ => b"",
    };
    let mut head = vec![0; magic.len().max(1)];
    fs::File::open(path)
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut head))
        .is_ok_and(|()| head.starts_with(magic))
}

/// Flushes a directory's entries (best effort: not every platform can).
pub fn sync_dir(dir: &Path) {
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SQLITE_HEADER: &[u8] = b"SQLite format 3\0";

    /// `n` backups of `backups`, each a file of SQLite's header alone.
    fn take(backups: &Backups, n: usize) -> Vec<PathBuf> {
        (0..n)
            .map(|_| {
                backups
                    .create_with("f00d", |tmp| {
                        fs::write(tmp, SQLITE_HEADER).map_err(|e| Error::backup(tmp, e.to_string()))
                    })
                    .unwrap()
            })
            .collect()
    }

    #[test]
    fn pruning_removes_only_this_databases_own_backup_files() {
        let dir = tempfile::tempdir().unwrap();
        // Two databases of the same file name, backed up into one directory.
        let ours = Backups::new(
            Path::new("/a/codedb.sqlite"),
            "/a/codedb.sqlite",
            dir.path(),
            "sqlite",
        );
        let theirs = Backups::new(
            Path::new("/b/codedb.sqlite"),
            "/b/codedb.sqlite",
            dir.path(),
            "sqlite",
        );
        let mine = take(&ours, 3);
        let others = take(&theirs, 3);
        // A directory named exactly like one of our backups (the newest, by its name), and
        // a backup named before the database id was part of the name.
        let lookalike = dir
            .path()
            .join(format!("{}20991231T235959Z.f00d.sqlite", ours.prefix));
        fs::create_dir(&lookalike).unwrap();
        let legacy = dir.path().join("codedb.20200101T000000Z.f00d.sqlite");
        fs::write(&legacy, SQLITE_HEADER).unwrap();

        let pruned = ours.prune(1).unwrap();
        assert_eq!(pruned.failed, Vec::new());
        assert_eq!(pruned.removed.len(), 2, "{pruned:?}");
        assert!(
            pruned.removed.iter().all(|p| mine.contains(p)),
            "{pruned:?}"
        );
        let kept: Vec<&PathBuf> = mine.iter().filter(|p| p.is_file()).collect();
        assert_eq!(kept.len(), 1, "one of our own is kept");
        for path in others.iter().chain([&legacy]) {
            assert!(path.is_file(), "{} was pruned", path.display());
        }
        assert!(lookalike.is_dir());
        let listed: Vec<PathBuf> = ours.list().unwrap().into_iter().map(|e| e.path).collect();
        assert_eq!(listed, vec![kept[0].clone(), legacy.clone()]);
        assert_eq!(
            theirs.list().unwrap().len(),
            4,
            "its three and the legacy one"
        );
    }
}
