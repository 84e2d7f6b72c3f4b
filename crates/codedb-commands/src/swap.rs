//! The commit point of a write command, made so that another program's bytes are never
//! lost: the file is checked again right before it is replaced, and the replacement itself
//! tells exactly which bytes it displaced.
//!
//! codedb's own commands exclude each other with locks, but an editor, a formatter or a
//! script does not take them. A command reads the file (and records its device, inode,
//! size and mtime), backs those bytes up, prepares the new content in a temp file, and
//! then, as late as possible:
//!
//! 1. checks the file again: the same inode, size and mtime, or (when any differs) the same
//!    bytes; otherwise it refuses (a conflict) and nothing changed;
//! 2. swaps the temp file and the target in one step (Linux `renameat2(RENAME_EXCHANGE)`):
//!    the target's name now holds the new content and the temp file's name the inode that
//!    was displaced, which is read and compared with the bytes backed up;
//! 3. if they differ (a program wrote between the check and the swap), swaps back and
//!    refuses: the other program's bytes are in the file again;
//! 4. keeps the displaced inode open until the command has landed, then looks at it once
//!    more (a program that opened the file before the swap may write into it late): bytes
//!    that changed are kept as a backup of the file before the inode is removed.
//!
//! What remains: a program that opened the file before the swap and writes after that last
//! look writes into an inode no name refers to any more; those bytes are lost, as they are
//! with any program that replaces a file by rename (editors included). POSIX has no way to
//! revoke another process's open file. Where `RENAME_EXCHANGE` is not available (other
//! systems, file systems that lack it), step 1 is followed by a plain rename, and a write
//! between the two is lost.
//!
//! Creating a file never replaces one that appeared meanwhile (`RENAME_NOREPLACE`, or a
//! hard link, which fails when the name exists); a move never overwrites its destination,
//! and a move or a delete first takes the file away under a name of its own, then checks
//! the bytes it took, and puts them back if they are not the ones it read.

use std::fs::File;
use std::io::{Read, Seek};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use crate::durable::sha256_hex;
use crate::error::{CommandError, Result};

/// What identifies a version of a file without reading it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stamp {
    dev: u64,
    ino: u64,
    size: u64,
    mtime: (i64, i64),
}

impl Stamp {
    fn of(meta: &std::fs::Metadata) -> Stamp {
        Stamp {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.size(),
            mtime: (meta.mtime(), meta.mtime_nsec()),
        }
    }
}

/// A file's bytes as a command read them, and how to recognise that version again.
#[derive(Debug, Clone)]
pub(crate) struct Seen {
    /// The bytes.
    pub(crate) bytes: Vec<u8>,
    /// Their sha256.
    pub(crate) sha256: String,
    /// Its permissions (kept by the new content).
    pub(crate) permissions: std::fs::Permissions,
    stamp: Stamp,
}

/// Reads `path` (`None`: there is no such file), recording what identifies this version.
pub(crate) fn read_seen(path: &Path) -> Result<Option<Seen>> {
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(CommandError::io("read", path, e)),
    };
    let meta = file
        .metadata()
        .map_err(|e| CommandError::io("stat", path, e))?;
    if !meta.is_file() {
        return Err(CommandError::InvalidPath {
            path: path.display().to_string(),
            reason: "not a regular file".into(),
        });
    }
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    file.read_to_end(&mut bytes)
        .map_err(|e| CommandError::io("read", path, e))?;
    Ok(Some(Seen {
        sha256: sha256_hex(&bytes),
        permissions: meta.permissions(),
        stamp: Stamp::of(&meta),
        bytes,
    }))
}

/// Whether `path` still holds the version `seen`: the same inode, size and mtime, or the
/// same bytes.
pub(crate) fn still_as_seen(path: &Path, seen: &Seen) -> Result<bool> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if Stamp::of(&meta) == seen.stamp => return Ok(true),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(CommandError::io("stat", path, e)),
    }
    Ok(crate::durable::read_if_present(path)?.is_some_and(|b| sha256_hex(&b) == seen.sha256))
}

/// The conflict every check below reports.
pub(crate) fn changed_meanwhile(rel: &str) -> CommandError {
    CommandError::Conflict {
        path: rel.to_owned(),
        reason:
            "changed by another program while the command ran; nothing was changed, read it again"
                .into(),
    }
}

/// The inode a replacement displaced, still open, at the temp file's name.
#[derive(Debug)]
pub(crate) struct Displaced {
    file: File,
    stamp: Stamp,
}

impl Displaced {
    /// Opens what is now at `path` (the displaced inode) and reads it: the displaced
    /// bytes' sha256, and the open inode for [`late_bytes`](Self::late_bytes).
    fn open(path: &Path) -> Result<(Displaced, String)> {
        let mut file = File::open(path).map_err(|e| CommandError::io("read", path, e))?;
        let meta = file
            .metadata()
            .map_err(|e| CommandError::io("stat", path, e))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)
            .map_err(|e| CommandError::io("read", path, e))?;
        let stamp = Stamp::of(&meta);
        Ok((Displaced { file, stamp }, sha256_hex(&bytes)))
    }

    /// The displaced inode's bytes if they changed since it was displaced (a program that
    /// had it open wrote late), else `None`.
    pub(crate) fn late_bytes(&mut self) -> Result<Option<Vec<u8>>> {
        let meta = self
            .file
            .metadata()
            .map_err(|e| CommandError::io("stat", Path::new("(displaced file)"), e))?;
        if Stamp::of(&meta) == self.stamp {
            return Ok(None);
        }
        let mut bytes = Vec::new();
        self.file
            .rewind()
            .and_then(|()| self.file.read_to_end(&mut bytes))
            .map_err(|e| CommandError::io("read", Path::new("(displaced file)"), e))?;
        Ok(Some(bytes))
    }
}

/// The outcome of a replacement that did not go through.
#[derive(Debug)]
pub(crate) enum Refused {
    /// The target was not the version read, or changed during the swap; the tree is as it
    /// was (the temp file may hold more than the new content: the caller checks it).
    Changed,
    /// A failure; the tree is as it was.
    Failed(CommandError),
    /// The target was not the expected version and putting it back failed: the target
    /// holds the new content and `temp` the displaced bytes. Left for `recover`.
    Stuck(CommandError),
}

impl From<CommandError> for Refused {
    fn from(e: CommandError) -> Self {
        Refused::Failed(e)
    }
}

/// Replaces `target`, which must hold `seen`, by `temp` (see the module docs). On success,
/// the displaced inode (when the platform can tell it) is at `temp`'s name.
pub(crate) fn replace(
    temp: &Path,
    target: &Path,
    seen: &Seen,
) -> std::result::Result<Option<Displaced>, Refused> {
    if !still_as_seen(target, seen)? {
        return Err(Refused::Changed);
    }
    match exchange(temp, target) {
        Ok(true) => {}
        Ok(false) => {
            // No exchange here: a plain rename, right after the check.
            std::fs::rename(temp, target).map_err(|e| CommandError::io("replace", target, e))?;
            return Ok(None);
        }
        // Removed by another program since the check.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !temp.exists() => {
            return Err(CommandError::io("replace", target, e).into());
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(Refused::Changed),
        Err(e) => return Err(CommandError::io("replace", target, e).into()),
    }
    let opened = Displaced::open(temp);
    match opened {
        Ok((displaced, sha)) if sha == seen.sha256 => Ok(Some(displaced)),
        other => {
            // Not the bytes backed up (or unreadable): put them back.
            drop(other);
            match exchange(temp, target) {
                Ok(true) => Err(Refused::Changed),
                Ok(false) => Err(Refused::Stuck(CommandError::io(
                    "put back",
                    target,
                    std::io::Error::other("the exchange stopped working"),
                ))),
                Err(e) => Err(Refused::Stuck(CommandError::io("put back", target, e))),
            }
        }
    }
}

/// Swaps `temp` and `target` back after [`replace`] exchanged them: the target gets the
/// displaced inode again, `temp` what the target held (the new content, or what another
/// program wrote there since). Putting back a file of a command on several files that did
/// not reach its commit point.
pub(crate) fn put_back(temp: &Path, target: &Path) -> Result<()> {
    match exchange(temp, target) {
        Ok(true) => Ok(()),
        Ok(false) => Err(CommandError::io(
            "put back",
            target,
            std::io::Error::other("the exchange stopped working"),
        )),
        Err(e) => Err(CommandError::io("put back", target, e)),
    }
}

/// Moves `from` to `to` (which must not exist) without ever replacing a file that appeared
/// there; `Ok(false)` when one did.
pub(crate) fn rename_noreplace(from: &Path, to: &Path) -> Result<bool> {
    match rename_noreplace_raw(from, to) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(CommandError::io("rename", from, e)),
    }
}

/// Takes `path` away to `aside` (a fresh name) when it still holds `seen`, checking the
/// bytes it took: the commit point of a delete, and of a move (whose `aside` is its
/// destination, `Err(Refused::Failed(AlreadyExists))` when that exists).
pub(crate) fn take_away(
    path: &Path,
    aside: &Path,
    seen: &Seen,
) -> std::result::Result<Displaced, Refused> {
    if !still_as_seen(path, seen)? {
        return Err(Refused::Changed);
    }
    match rename_noreplace(path, aside) {
        Ok(true) => {}
        Ok(false) => {
            return Err(Refused::Failed(CommandError::AlreadyExists(
                aside.display().to_string(),
            )));
        }
        // Removed by another program since the check.
        Err(_) if !path.exists() => return Err(Refused::Changed),
        Err(e) => return Err(Refused::Failed(e)),
    }
    match Displaced::open(aside) {
        Ok((displaced, sha)) if sha == seen.sha256 => Ok(displaced),
        _ => match rename_noreplace(aside, path) {
            Ok(true) => Err(Refused::Changed),
            Ok(false) => Err(Refused::Stuck(CommandError::io(
                "put back",
                path,
                std::io::Error::other(
                    "another program created the file meanwhile; the bytes taken away stay beside it",
                ),
            ))),
            Err(e) => Err(Refused::Stuck(e)),
        },
    }
}

/// Swaps two names atomically; `Ok(false)` when this system or file system cannot.
#[cfg(target_os = "linux")]
fn exchange(a: &Path, b: &Path) -> std::io::Result<bool> {
    use rustix::fs::{CWD, RenameFlags, renameat_with};
    match renameat_with(CWD, a, CWD, b, RenameFlags::EXCHANGE) {
        Ok(()) => Ok(true),
        Err(e)
            if e == rustix::io::Errno::INVAL
                || e == rustix::io::Errno::NOSYS
                || e == rustix::io::Errno::OPNOTSUPP =>
        {
            Ok(false)
        }
        Err(e) => Err(e.into()),
    }
}

#[cfg(not(target_os = "linux"))]
fn exchange(_a: &Path, _b: &Path) -> std::io::Result<bool> {
    Ok(false)
}

/// `rename` that fails with `AlreadyExists` instead of replacing `to`.
fn rename_noreplace_raw(from: &Path, to: &Path) -> std::io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        use rustix::fs::{CWD, RenameFlags, renameat_with};
        match renameat_with(CWD, from, CWD, to, RenameFlags::NOREPLACE) {
            Ok(()) => return Ok(()),
            Err(e)
                if e == rustix::io::Errno::INVAL
                    || e == rustix::io::Errno::NOSYS
                    || e == rustix::io::Errno::OPNOTSUPP => {}
            Err(e) => return Err(e.into()),
        }
    }
    // A hard link fails when the name exists; then the old name goes.
    std::fs::hard_link(from, to)?;
    std::fs::remove_file(from)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(path: &Path) -> Seen {
        read_seen(path).unwrap().unwrap()
    }

    #[test]
    fn replace_displaces_exactly_what_was_read() {
        let dir = tempfile::tempdir().unwrap();
        let (target, temp) = (dir.path().join("a"), dir.path().join("t"));
        std::fs::write(&target, "old").unwrap();
        let s = seen(&target);
        std::fs::write(&temp, "new").unwrap();
        let displaced = replace(&temp, &target, &s).unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"new");
        if displaced.is_some() {
            assert_eq!(std::fs::read(&temp).unwrap(), b"old");
        }
    }

    #[test]
    fn replace_refuses_a_file_changed_since_it_was_read() {
        let dir = tempfile::tempdir().unwrap();
        let (target, temp) = (dir.path().join("a"), dir.path().join("t"));
        std::fs::write(&target, "old").unwrap();
        let s = seen(&target);
        std::fs::write(&target, "old + theirs").unwrap();
        std::fs::write(&temp, "new").unwrap();
        assert!(matches!(replace(&temp, &target, &s), Err(Refused::Changed)));
        assert_eq!(std::fs::read(&target).unwrap(), b"old + theirs");
    }

    #[test]
    fn late_writes_into_the_displaced_inode_are_seen() {
        let dir = tempfile::tempdir().unwrap();
        let (target, temp) = (dir.path().join("a"), dir.path().join("t"));
        std::fs::write(&target, "old").unwrap();
        let s = seen(&target);
        // A program opens the file before the swap...
        let mut late = std::fs::OpenOptions::new()
            .append(true)
            .open(&target)
            .unwrap();
        std::fs::write(&temp, "new").unwrap();
        let Some(mut displaced) = replace(&temp, &target, &s).unwrap() else {
            return; // no exchange on this file system: nothing to observe
        };
        assert_eq!(displaced.late_bytes().unwrap(), None);
        // ...and writes after it.
        std::thread::sleep(std::time::Duration::from_millis(5));
        std::io::Write::write_all(&mut late, b" + late").unwrap();
        assert_eq!(
            displaced.late_bytes().unwrap().as_deref(),
            Some(&b"old + late"[..])
        );
    }

    #[test]
    fn rename_noreplace_never_replaces() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        std::fs::write(&a, "a").unwrap();
        std::fs::write(&b, "b").unwrap();
        assert!(!rename_noreplace(&a, &b).unwrap());
        assert_eq!(std::fs::read(&b).unwrap(), b"b");
        std::fs::remove_file(&b).unwrap();
        assert!(rename_noreplace(&a, &b).unwrap());
        assert!(!a.exists());
    }

    #[test]
    fn take_away_puts_back_bytes_it_did_not_read() {
        let dir = tempfile::tempdir().unwrap();
        let (path, aside) = (dir.path().join("a"), dir.path().join("aside"));
        std::fs::write(&path, "old").unwrap();
        let s = seen(&path);
        std::fs::write(&path, "theirs").unwrap();
        assert!(matches!(
            take_away(&path, &aside, &s),
            Err(Refused::Changed)
        ));
        assert_eq!(std::fs::read(&path).unwrap(), b"theirs");
        assert!(!aside.exists());
        let s = seen(&path);
        take_away(&path, &aside, &s).unwrap();
        assert!(!path.exists());
        assert_eq!(std::fs::read(&aside).unwrap(), b"theirs");
    }
}
