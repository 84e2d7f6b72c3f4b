//! The BackupManager: the bytes a file had before a command changed it, stored under
//! `.codedb/file-backups/<sha256[..2]>/<sha256>` (content-addressed, so the same bytes are
//! stored once), each written to a temp file, fsynced and renamed into place.
//!
//! The index of backups (which path, which command, when) is the `file_backups` table, written
//! inside the command's own transaction ([`codedb_core::HistoryStore`]): atomic, safe under
//! concurrent writers, and free of the separator bugs of a hand-made index file. Bytes are
//! checked against their name when read back.

use std::path::{Path, PathBuf};

use crate::durable::{remove_if_present, replace_durably, sha256_hex};
use crate::error::{CommandError, Result};

/// The file-backup store of one project.
#[derive(Debug, Clone)]
pub struct BackupStore {
    dir: PathBuf,
}

impl BackupStore {
    /// The store under `state_dir` (a project's `.codedb/`).
    pub fn new(state_dir: &Path) -> Self {
        BackupStore {
            dir: state_dir.join("file-backups"),
        }
    }

    fn blob(&self, sha256: &str) -> PathBuf {
        self.dir.join(&sha256[..2.min(sha256.len())]).join(sha256)
    }

    /// Stores `bytes` (durably); returns their sha256 and whether this call created the blob
    /// (false when the same bytes were already stored).
    pub fn put(&self, bytes: &[u8]) -> Result<(String, bool)> {
        let sha = sha256_hex(bytes);
        let path = self.blob(&sha);
        if path.exists() {
            return Ok((sha, false));
        }
        let dir = path.parent().unwrap_or(&self.dir).to_owned();
        std::fs::create_dir_all(&dir).map_err(|e| CommandError::io("create", &dir, e))?;
        let temp = dir.join(format!(".{sha}.{}.tmp", std::process::id()));
        replace_durably(&path, &temp, bytes, "store the backup")?;
        Ok((sha, true))
    }

    /// The bytes stored as `sha256`, checked.
    pub fn get(&self, sha256: &str) -> Result<Vec<u8>> {
        let path = self.blob(sha256);
        let bytes =
            std::fs::read(&path).map_err(|e| CommandError::io("read the backup", &path, e))?;
        if sha256_hex(&bytes) != sha256 {
            return Err(CommandError::io(
                "check the backup",
                &path,
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    "its bytes do not match its sha256 (the backup is damaged)",
                ),
            ));
        }
        Ok(bytes)
    }

    /// Whether the bytes `sha256` are stored.
    pub fn contains(&self, sha256: &str) -> bool {
        self.blob(sha256).exists()
    }

    /// Every stored blob: its sha256 and its age.
    pub fn list(&self) -> Result<Vec<(String, std::time::Duration)>> {
        let mut out = Vec::new();
        let Ok(dirs) = std::fs::read_dir(&self.dir) else {
            return Ok(out);
        };
        for dir in dirs.flatten().filter(|d| d.path().is_dir()) {
            let entries = std::fs::read_dir(dir.path())
                .map_err(|e| CommandError::io("read", &dir.path(), e))?;
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if name.len() == 64 && name.bytes().all(|b| b.is_ascii_hexdigit()) {
                    let age = e
                        .metadata()
                        .and_then(|m| m.modified())
                        .ok()
                        .and_then(|t| t.elapsed().ok())
                        .unwrap_or_default();
                    out.push((name, age));
                }
            }
        }
        Ok(out)
    }

    /// Removes the bytes `sha256` (nothing if absent).
    pub fn remove(&self, sha256: &str) -> Result<()> {
        remove_if_present(&self.blob(sha256), "remove the backup").map(drop)
    }
}
