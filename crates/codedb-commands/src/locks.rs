//! The per-file command locks: `flock`s (through `std::fs::File::try_lock`) on files under
//! `.codedb/locks/`, one per path (named by a hash of it). The operating system drops them
//! when a process dies, so a `kill -9` never leaves a stale lock behind. Another command
//! holding a path's lock is a conflict, never a wait.

use std::fs::File;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::durable::hex;
use crate::error::{CommandError, Result};

/// A held command lock. Released explicitly when dropped: a child process forked by another
/// thread at the wrong moment (git, say) shares the lock's open file description until it
/// execs, and a plain close would leave the lock held until then.
#[derive(Debug)]
pub(crate) struct FileLock(File);

impl Drop for FileLock {
    fn drop(&mut self) {
        let _ = self.0.unlock();
    }
}

/// Takes the locks of `paths` (relative to the root) in the state directory `state`, in a
/// fixed order (so two commands never wait on each other); a path already locked by another
/// command is a conflict.
pub(crate) fn lock_all(state: &Path, paths: &[&str]) -> Result<Vec<FileLock>> {
    let mut names = paths.to_vec();
    names.sort_unstable();
    names.dedup();
    let mut locks = Vec::new();
    for rel in names {
        match try_lock_at(state, rel)? {
            Some(lock) => locks.push(lock),
            None => {
                return Err(CommandError::Conflict {
                    path: rel.to_owned(),
                    reason: "another codedb command is changing this file".into(),
                });
            }
        }
    }
    Ok(locks)
}

/// The command lock of `rel` in the state directory `state`, if no other command holds it.
pub(crate) fn try_lock_at(state: &Path, rel: &str) -> Result<Option<FileLock>> {
    let file = lock_file(state, rel)?;
    match file.try_lock() {
        Ok(()) => Ok(Some(FileLock(file))),
        Err(std::fs::TryLockError::WouldBlock) => Ok(None),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(CommandError::io("lock", &lock_path(state, rel), e))
        }
    }
}

fn lock_path(state: &Path, rel: &str) -> PathBuf {
    let digest = hex(&Sha256::digest(rel.as_bytes()));
    state.join("locks").join(format!("{}.lock", &digest[..20]))
}

fn lock_file(state: &Path, rel: &str) -> Result<File> {
    let path = lock_path(state, rel);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| CommandError::io("create", dir, e))?;
    }
    std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| CommandError::io("open the lock", &path, e))
}
