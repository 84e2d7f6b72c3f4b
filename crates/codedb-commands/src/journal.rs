//! The intent journal: before a command touches the working tree it writes what it is about
//! to do to `.codedb/intents/<id>.json` (temp file, fsync, rename, fsync of the directory),
//! and it removes the record only once everything (file, database, git) has landed. A
//! record left behind means the command died half-way; [`crate::recover`] reads it and
//! rolls the command forward or back.
//!
//! The commit point of every command is one atomic file-system operation: for a command on
//! one file, the rename of the new content over the target, the unlink of a deleted file,
//! the rename of a moved one; for a command on several files (a rename across files), the
//! rewrite of its intent record as `committed`, once every file was replaced. `recover`
//! looks at the disk, and the database and git are brought to agree with it.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use serde::{Deserialize, Serialize};

use crate::durable::{now_ms, remove_if_present, replace_durably, sync_dir};
use crate::error::{CommandError, Result};
use crate::pipeline::CommandKind;

/// What a command is about to do to the working tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Action {
    /// Write `new_sha256` to `path` (edit, create, restore), from the temp file `temp`.
    Write {
        /// Relative path.
        path: String,
        /// sha256 of the bytes before (`None`: the file did not exist).
        old_sha256: Option<String>,
        /// sha256 of the bytes after.
        new_sha256: String,
        /// Name of the temp file beside the target, which holds the new content until the
        /// commit point and the displaced old bytes after it (`None`: the file already held
        /// the new content; only the database and git are brought to it).
        #[serde(default)]
        temp: Option<String>,
    },
    /// Remove `path`.
    Delete {
        /// Relative path.
        path: String,
        /// sha256 of the bytes removed (kept as a backup).
        old_sha256: String,
        /// The name beside it that the file is moved to at the commit point, and removed
        /// from once the command has landed.
        #[serde(default)]
        aside: Option<String>,
    },
    /// Rename `from` to `to`.
    Move {
        /// Relative path before.
        from: String,
        /// Relative path after.
        to: String,
        /// sha256 of the bytes moved.
        sha256: String,
    },
}

impl Action {
    /// The file whose previous bytes the command backed up, and their sha256 (none when the
    /// file already held the new bytes: nothing was replaced).
    pub fn backup(&self) -> Option<(&str, &str)> {
        match self {
            Action::Write {
                path,
                old_sha256,
                new_sha256,
                ..
            } => old_sha256
                .as_deref()
                .filter(|old| old != new_sha256)
                .map(|sha| (path.as_str(), sha)),
            Action::Delete {
                path, old_sha256, ..
            } => Some((path, old_sha256)),
            Action::Move { from, sha256, .. } => Some((from, sha256)),
        }
    }

    /// The paths the action touches.
    pub fn paths(&self) -> Vec<&str> {
        match self {
            Action::Write { path, .. } | Action::Delete { path, .. } => vec![path],
            Action::Move { from, to, .. } => vec![from, to],
        }
    }
}

/// One journal record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Intent {
    /// Unique id of the command (also in the `commands` and `file_backups` rows).
    pub id: String,
    /// Which command.
    pub kind: CommandKind,
    /// The commit message.
    pub message: String,
    /// Whether the command commits to git.
    pub git: bool,
    /// The process that wrote it.
    pub pid: u32,
    /// Unix milliseconds.
    pub created_at: i64,
    /// What it does, file by file: one action, or several (all of them land or none).
    /// Records written with one `action` read as a list of one.
    #[serde(alias = "action", deserialize_with = "one_or_many")]
    pub actions: Vec<Action>,
    /// For several actions: whether the command passed its commit point (every file was
    /// replaced, and the record rewritten saying so). Unused for one action, whose own
    /// file-system operation is the commit point.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub committed: bool,
}

impl Intent {
    /// Every path the actions touch, in order.
    pub fn paths(&self) -> Vec<&str> {
        self.actions.iter().flat_map(Action::paths).collect()
    }

    /// Whether the commit point is this record's `committed` mark (several actions) rather
    /// than its one action's own file-system operation.
    pub fn is_batch(&self) -> bool {
        self.actions.len() > 1
    }
}

/// An intent's `action` (one, as records before batches were written) or `actions`.
fn one_or_many<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<Vec<Action>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(Action),
        Many(Vec<Action>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(a) => vec![a],
        OneOrMany::Many(v) => v,
    })
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A new command id: time, process and a counter, unique on this machine.
pub fn new_id() -> String {
    format!(
        "{:012x}-{:x}-{:x}",
        now_ms(),
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// The journal directory of a project.
#[derive(Debug, Clone)]
pub struct Journal {
    dir: PathBuf,
}

impl Journal {
    /// The journal under `state_dir` (a project's `.codedb/`).
    pub fn new(state_dir: &Path) -> Self {
        Journal {
            dir: state_dir.join("intents"),
        }
    }

    fn path(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.json"))
    }

    /// Writes `intent` durably.
    pub fn write(&self, intent: &Intent) -> Result<PathBuf> {
        let path = self.path(&intent.id);
        let temp = self.dir.join(format!(".{}.tmp", intent.id));
        let json = serde_json::to_vec_pretty(intent)
            .map_err(|e| CommandError::io("encode the intent", &path, std::io::Error::other(e)))?;
        replace_durably(&path, &temp, &json, "write the intent")?;
        Ok(path)
    }

    /// Whether the record of `id` is still there.
    pub fn is_pending(&self, id: &str) -> bool {
        self.path(id).exists()
    }

    /// Removes the record of `id` durably.
    pub fn clear(&self, id: &str) -> Result<()> {
        if remove_if_present(&self.path(id), "clear the intent")? {
            sync_dir(&self.dir)?;
        }
        Ok(())
    }

    /// Every record left, oldest first. A record that cannot be read is an error naming it
    /// (it is never skipped silently), except one removed since the directory was listed
    /// (another command ending meanwhile: every write command reads the journal first);
    /// half-written temp records are removed.
    pub fn pending(&self) -> Result<Vec<Intent>> {
        let entries =
            std::fs::read_dir(&self.dir).map_err(|e| CommandError::io("read", &self.dir, e))?;
        let mut out = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| CommandError::io("read", &self.dir, e))?;
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') && name.ends_with(".tmp") {
                // Written before its rename: the command never started changing anything.
                // Only a dead writer's temp is removed (a live one is still renaming it).
                if is_stale(&path) {
                    let _ = std::fs::remove_file(&path);
                }
                continue;
            }
            if !name.ends_with(".json") {
                continue;
            }
            let bytes = match std::fs::read(&path) {
                Ok(bytes) => bytes,
                // Cleared since the listing: its command landed (or was rolled back) and
                // removed it, as every command does at its end; nothing is left to do.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(CommandError::io("read", &path, e)),
            };
            let intent: Intent = serde_json::from_slice(&bytes).map_err(|e| {
                CommandError::io(
                    "decode the intent",
                    &path,
                    std::io::Error::new(std::io::ErrorKind::InvalidData, e),
                )
            })?;
            out.push(intent);
        }
        out.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(out)
    }

    /// How many records are left.
    pub fn count(&self) -> Result<usize> {
        Ok(self.pending()?.len())
    }
}

/// Older than a minute: no live command takes that long between writing and renaming.
fn is_stale(path: &Path) -> bool {
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.elapsed().ok())
        .is_some_and(|age| age.as_secs() > 60)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;

    #[test]
    fn reading_the_journal_while_other_commands_clear_their_records_never_fails() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("intents")).unwrap();
        let journal = Journal::new(dir.path());
        let done = AtomicBool::new(false);
        let intent = || Intent {
            id: new_id(),
            kind: CommandKind::Edit,
            message: String::new(),
            git: false,
            pid: std::process::id(),
            created_at: now_ms(),
            actions: vec![Action::Move {
                from: "a".into(),
                to: "b".into(),
                sha256: String::new(),
            }],
            committed: false,
        };
        std::thread::scope(|s| {
            s.spawn(|| {
                // Commands landing: each wrote its record and clears it as it ends.
                for _ in 0..20 {
                    let ids: Vec<String> = (0..50)
                        .map(|_| {
                            let i = intent();
                            journal.write(&i).unwrap();
                            i.id
                        })
                        .collect();
                    for id in ids {
                        journal.clear(&id).unwrap();
                    }
                }
                done.store(true, Ordering::Release);
            });
            while !done.load(Ordering::Acquire) {
                journal.pending().unwrap();
            }
        });
    }

    #[test]
    fn a_record_of_one_action_reads_as_a_list_of_one() {
        let old = r#"{"id": "x", "kind": "edit", "message": "m", "git": true, "pid": 1,
            "created_at": 2, "action": {"op": "delete", "path": "a.py", "old_sha256": "s"}}"#;
        let intent: Intent = serde_json::from_str(old).unwrap();
        assert_eq!(intent.paths(), ["a.py"]);
        assert!(!intent.is_batch() && !intent.committed);
        let again: Intent = serde_json::from_slice(&serde_json::to_vec(&intent).unwrap()).unwrap();
        assert_eq!(again, intent);
    }
}
