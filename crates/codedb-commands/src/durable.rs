//! File-system helpers for writing durably: fsynced writes, atomic replacement through a
//! temp file, directory fsyncs, reads and removals that treat "absent" as an answer, and the
//! temp files the write commands leave beside their targets.
//!
//! A command's temp file is named `.` + (at most 64 bytes of) the target's name +
//! [`TEMP_MARKER`] + the command id, so that its name stays far below the 255-byte limit of
//! a file name whatever the target's length. While its command runs the temp file is
//! `flock`ed: `recover` removes only a temp file whose lock it can take (its command is
//! dead), without needing to know which target it was written for.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::{CommandError, Result};

/// What every temp file codedb writes in the tree has in its name: how `recover` and
/// `verify` find them, and the watcher ignores them.
pub const TEMP_MARKER: &str = ".codedb-tmp-";

/// How many bytes of the target's name a temp file's name repeats.
const TEMP_NAME_PREFIX: usize = 64;

/// `path` relative to `root`, `/`-separated (what the database stores). On Unix a
/// backslash is part of a name, never a separator: it stays.
pub(crate) fn relative_path(root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    let parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    parts.join("/")
}

/// Lowercase hex (also the server's bearer token).
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// Lowercase hex sha256 of `bytes`.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

pub(crate) use codedb_core::now_ms;

/// The number of lines of `bytes` as `str::lines` counts them (a last line without a
/// newline counts; an empty text has none), without decoding them.
pub(crate) fn line_count(bytes: &[u8]) -> usize {
    let newlines = bytes.iter().filter(|b| **b == b'\n').count();
    newlines + usize::from(bytes.last().is_some_and(|b| *b != b'\n'))
}

/// Writes `bytes` to `path` and fsyncs it (the file is created or truncated).
pub(crate) fn write_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut f = File::create(path).map_err(|e| CommandError::io("create", path, e))?;
    f.write_all(bytes)
        .map_err(|e| CommandError::io("write", path, e))?;
    f.sync_all().map_err(|e| CommandError::io("fsync", path, e))
}

/// The bytes of `path`, or `None` when there is no such file.
pub(crate) fn read_if_present(path: &Path) -> Result<Option<Vec<u8>>> {
    match std::fs::read(path) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(CommandError::io("read", path, e)),
    }
}

/// Removes `path` if it exists; returns whether it did. `op` names the work in an error.
pub(crate) fn remove_if_present(path: &Path, op: &'static str) -> Result<bool> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(CommandError::io(op, path, e)),
    }
}

/// Makes `path` hold `bytes` atomically and durably: written to `temp` (beside it) and
/// fsynced, renamed over `path`, the directory fsynced. A failed rename removes `temp`;
/// `op` says what was being done, in the error.
pub(crate) fn replace_durably(
    path: &Path,
    temp: &Path,
    bytes: &[u8],
    op: &'static str,
) -> Result<()> {
    write_synced(temp, bytes)?;
    std::fs::rename(temp, path).map_err(|e| {
        let _ = std::fs::remove_file(temp);
        CommandError::io(op, path, e)
    })?;
    sync_dir(path.parent().unwrap_or(Path::new(".")))
}

/// fsyncs the directory `dir`, so that a rename or unlink in it survives a crash.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| CommandError::io("fsync the directory", dir, e))
}

/// The name of command `id`'s temp file for the target `target` (a path).
pub(crate) fn temp_name(target: &Path, id: &str) -> String {
    let name = target
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    let mut end = name.len().min(TEMP_NAME_PREFIX);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    format!(".{}{TEMP_MARKER}{id}", &name[..end])
}

/// The command id in `name` if it is the name of a codedb temp file (see the module docs):
/// `.` + at most [`TEMP_NAME_PREFIX`] bytes + [`TEMP_MARKER`] + an id as `journal::new_id`
/// makes them (hex time, hex pid, hex counter). A user's file that merely contains the
/// marker (`notes.codedb-tmp-draft.md`) is not one.
pub(crate) fn temp_file_id(name: &str) -> Option<&str> {
    let rest = name.strip_prefix('.')?;
    let at = rest.rfind(TEMP_MARKER)?;
    if at > TEMP_NAME_PREFIX {
        return None;
    }
    let id = &rest[at + TEMP_MARKER.len()..];
    let mut parts = id.split('-');
    let hex = |p: Option<&str>| {
        p.is_some_and(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        })
    };
    let (time, pid, counter) = (parts.next(), parts.next(), parts.next());
    (time.is_some_and(|t| t.len() == 12)
        && hex(time)
        && hex(pid)
        && hex(counter)
        && parts.next().is_none())
    .then_some(id)
}

/// Whether `name` is the name of a codedb temp file: `.` + at most 64 bytes of the
/// target's name + [`TEMP_MARKER`] + a command id (a user's file that merely contains the
/// marker is not one).
pub fn is_temp_name(name: &str) -> bool {
    temp_file_id(name).is_some()
}

/// A temp file a running command wrote, locked while the command runs (see the module
/// docs). Dropping it releases the lock; it does not remove the file.
#[derive(Debug)]
pub(crate) struct TempFile {
    /// Where it is.
    pub(crate) path: PathBuf,
    file: File,
}

impl TempFile {
    /// Creates the temp file `name` in `dir` (it must not exist), locks it, writes `bytes`
    /// with the permissions `mode` (those of the file it will replace) and fsyncs it.
    pub(crate) fn write(
        dir: &Path,
        name: &str,
        bytes: &[u8],
        permissions: Option<std::fs::Permissions>,
    ) -> Result<TempFile> {
        let path = dir.join(name);
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| CommandError::io("create", &path, e))?;
        let temp = TempFile {
            path: path.clone(),
            file: file
                .try_clone()
                .map_err(|e| CommandError::io("open", &path, e))?,
        };
        let written = (|| {
            temp.file.try_lock().map_err(|e| {
                CommandError::io("lock", &path, std::io::Error::other(e.to_string()))
            })?;
            if let Some(p) = permissions {
                file.set_permissions(p)
                    .map_err(|e| CommandError::io("set the permissions of", &path, e))?;
            }
            file.write_all(bytes)
                .map_err(|e| CommandError::io("write", &path, e))?;
            file.sync_all()
                .map_err(|e| CommandError::io("fsync", &path, e))
        })();
        match written {
            Ok(()) => Ok(temp),
            Err(e) => {
                let _ = std::fs::remove_file(&path);
                Err(e)
            }
        }
    }
}

impl TempFile {
    /// Gives the temp file the permissions and owner `target` has now (another program may
    /// have changed them since the command read it), just before it takes its place. An
    /// owner this process may not give (it is not root) is left as it is.
    pub(crate) fn take_metadata_of(&self, target: &Path) -> Result<()> {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let Ok(theirs) = std::fs::metadata(target) else {
            return Ok(());
        };
        let mine = self
            .file
            .metadata()
            .map_err(|e| CommandError::io("stat", &self.path, e))?;
        if mine.permissions().mode() & 0o7777 != theirs.permissions().mode() & 0o7777 {
            self.file
                .set_permissions(theirs.permissions())
                .map_err(|e| CommandError::io("set the permissions of", &self.path, e))?;
        }
        if (mine.uid(), mine.gid()) != (theirs.uid(), theirs.gid()) {
            let _ = std::os::unix::fs::fchown(&self.file, Some(theirs.uid()), Some(theirs.gid()));
        }
        Ok(())
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        // Explicitly: a child forked by another thread may share the open file description
        // (see `locks::FileLock`).
        let _ = self.file.unlock();
    }
}

/// Whether a live command holds the temp file at `path` (its lock is taken). A file that
/// cannot be opened is reported as not held.
pub(crate) fn temp_file_held(path: &Path) -> bool {
    let Ok(file) = std::fs::OpenOptions::new().write(true).open(path) else {
        return false;
    };
    match file.try_lock() {
        Ok(()) => {
            let _ = file.unlock();
            false
        }
        Err(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temp_names_stay_short_whatever_the_target() {
        let long = "é".repeat(120) + ".py"; // 243 bytes
        let name = temp_name(Path::new(&long), "0123456789ab-1f-2");
        assert!(name.len() < 100, "{} bytes: {name}", name.len());
        assert!(name.contains(TEMP_MARKER));
        assert!(name.starts_with(".é"));
        let short = temp_name(Path::new("dir/a.py"), "id");
        assert_eq!(short, format!(".a.py{TEMP_MARKER}id"));
    }

    #[test]
    fn only_names_codedb_makes_are_temp_names() {
        let id = crate::journal::new_id();
        let name = temp_name(Path::new("dir/a.py"), &id);
        assert_eq!(temp_file_id(&name), Some(id.as_str()));
        assert_eq!(
            temp_file_id(&temp_name(Path::new(&"é".repeat(200)), &id)),
            Some(id.as_str())
        );
        for user in [
            "notes.codedb-tmp-draft.md",
            ".notes.codedb-tmp-draft.md",
            "my.codedb-tmp-backup.txt",
            "x.codedb-tmp-1",
            ".a.py.codedb-tmp-0123456789ab-1f",
            ".a.py.codedb-tmp-0123456789AB-1f-2",
            ".a.py.codedb-tmp-0123456789ab-1f-2-3",
        ] {
            assert_eq!(temp_file_id(user), None, "{user}");
        }
    }

    #[test]
    fn a_temp_file_is_held_while_it_lives() {
        let dir = tempfile::tempdir().unwrap();
        let t = TempFile::write(dir.path(), "t", b"x", None).unwrap();
        assert!(temp_file_held(&t.path));
        let path = t.path.clone();
        drop(t);
        assert!(!temp_file_held(&path));
        assert_eq!(std::fs::read(&path).unwrap(), b"x");
    }
}
