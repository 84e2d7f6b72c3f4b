//! A project as the write commands see it: its root, its `.codedb/` state directory, its
//! row in the database, its git repository if it has one; safe path resolution; per-file
//! locks; and the errors every command can return.
//!
//! Paths given to commands are relative to the project root (or absolute inside it).
//! Refused before anything is read: `..`, absolute paths outside the root, a path through a
//! symbolic link that leads out of the root, a symbolic link as the target itself, and
//! anything under `.git/` or `.codedb/`.
//!
//! Locks are `flock`s (through `std::fs::File::try_lock`) on files under `.codedb/locks/`:
//! the operating system drops them when a process dies, so a `kill -9` never leaves a stale
//! lock behind.

use std::fs::File;
use std::path::{Component, Path, PathBuf};

use codedb_core::{CodeDatabase, CodeStore};
use sha2::{Digest, Sha256};

use crate::git::Git;

/// What can go wrong in a write command, `recover` or `verify`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CommandError {
    /// The path is not one codedb may write.
    #[error("{path}: {reason}")]
    InvalidPath {
        /// As given.
        path: String,
        /// Why it is refused.
        reason: String,
    },
    /// The file must exist and does not.
    #[error("{0}: no such file")]
    NotFound(String),
    /// The file must not exist and does.
    #[error("{0}: already exists")]
    AlreadyExists(String),
    /// codedb does not parse this kind of file.
    #[error("{0}: not a language codedb indexes (python, rust); codedb edits only those")]
    Unsupported(String),
    /// The new content does not parse.
    #[error("{path}:{line}:{column}: {message} at `{construct}`; nothing was changed")]
    Syntax {
        /// The file.
        path: String,
        /// 1-based line.
        line: i64,
        /// 1-based column.
        column: i64,
        /// What tree-sitter found.
        message: String,
        /// The offending source text (its line, trimmed).
        construct: String,
    },
    /// Another command holds the file, or it is not the version the caller expected.
    #[error("{path}: conflict: {reason}")]
    Conflict {
        /// The file.
        path: String,
        /// What conflicts.
        reason: String,
    },
    /// A symbol could not be found or is ambiguous.
    #[error("{path}: {reason}")]
    Symbol {
        /// The file.
        path: String,
        /// What is wrong, with the candidates.
        reason: String,
    },
    /// The repository is in a state codedb will not commit into.
    #[error("git refused: {0}; nothing was changed")]
    GitRefused(String),
    /// A git command failed.
    #[error("git failed while {step}: {message}")]
    Git {
        /// What codedb was doing.
        step: String,
        /// git's own message.
        message: String,
    },
    /// A file-system operation failed.
    #[error("{op} {}: {source}", path.display())]
    Io {
        /// What codedb was doing.
        op: &'static str,
        /// On what.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The database failed.
    #[error(transparent)]
    Database(#[from] codedb_core::Error),
    /// A failure after part of the command had happened; everything was undone.
    #[error("{error}; the command was rolled back")]
    RolledBack {
        /// The failure.
        #[source]
        error: Box<CommandError>,
    },
    /// A failure whose undo failed as well: `codedb recover` finishes the job.
    #[error("{error}; undoing it also failed ({undo}); run `codedb recover`")]
    UndoFailed {
        /// The failure.
        #[source]
        error: Box<CommandError>,
        /// Why the undo failed.
        undo: String,
    },
    /// A simulated crash at a failpoint (tests only): nothing was undone, as after `kill -9`.
    #[error("simulated crash after {0}")]
    SimulatedCrash(&'static str),
}

impl CommandError {
    /// An I/O error on `path`.
    pub(crate) fn io(op: &'static str, path: &Path, source: std::io::Error) -> Self {
        CommandError::Io {
            op,
            path: path.to_owned(),
            source,
        }
    }

    /// Whether this is a conflict (another writer, or an unexpected version).
    pub fn is_conflict(&self) -> bool {
        match self {
            CommandError::Conflict { .. } => true,
            CommandError::RolledBack { error } | CommandError::UndoFailed { error, .. } => {
                error.is_conflict()
            }
            _ => false,
        }
    }
}

/// Result of the command layer.
pub(crate) type Result<T, E = CommandError> = std::result::Result<T, E>;

/// Settings of the write commands.
#[derive(Debug, Clone)]
pub struct CommandOptions {
    /// File backups kept per path; older ones are pruned after each command.
    pub keep_backups: usize,
    /// Commit to git when the root is (inside) a git repository.
    pub git: bool,
}

impl Default for CommandOptions {
    fn default() -> Self {
        CommandOptions {
            keep_backups: 20,
            git: true,
        }
    }
}

/// A project opened for write commands.
pub struct Project<'a> {
    pub(crate) root: PathBuf,
    pub(crate) state: PathBuf,
    pub(crate) db: &'a CodeDatabase,
    pub(crate) id: i64,
    pub(crate) options: CommandOptions,
    pub(crate) git: Option<Git>,
}

impl std::fmt::Debug for Project<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Project")
            .field("root", &self.root)
            .field("id", &self.id)
            .field("git", &self.git.is_some())
            .finish_non_exhaustive()
    }
}

/// A path inside the project, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ProjectPath {
    /// Relative to the root, `/`-separated: what the database stores.
    pub(crate) rel: String,
    /// Absolute.
    pub(crate) abs: PathBuf,
}

impl<'a> Project<'a> {
    /// Opens the project rooted at `root` (which must be a directory) in `db`, creating its
    /// row and `.codedb/` when missing.
    pub fn open(db: &'a CodeDatabase, root: &Path, options: CommandOptions) -> Result<Self> {
        let root = root.canonicalize().map_err(|e| CommandError::InvalidPath {
            path: root.display().to_string(),
            reason: format!("cannot open the project root: {e}"),
        })?;
        if !root.is_dir() {
            return Err(CommandError::InvalidPath {
                path: root.display().to_string(),
                reason: "the project root is not a directory".into(),
            });
        }
        let state = root.join(".codedb");
        crate::create_state_dir(&state).map_err(|e| CommandError::io("create", &state, e))?;
        for dir in [
            state.clone(),
            state.join("intents"),
            state.join("locks"),
            state.join("file-backups"),
        ] {
            std::fs::create_dir_all(&dir).map_err(|e| CommandError::io("create", &dir, e))?;
        }
        let root_text = root.to_string_lossy().into_owned();
        let name = root
            .file_name()
            .map_or_else(|| root_text.clone(), |n| n.to_string_lossy().into_owned());
        let id = db.get_or_create_project(&root_text, &name)?;
        let git = if options.git {
            Git::discover(&root)?
        } else {
            None
        };
        Ok(Project {
            root,
            state,
            db,
            id,
            options,
            git,
        })
    }

    /// The project root (canonical).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Whether commands commit to git here.
    pub fn has_git(&self) -> bool {
        self.git.is_some()
    }

    /// Checks `path` and places it in the project.
    pub(crate) fn resolve(&self, path: &str) -> Result<ProjectPath> {
        let refuse = |reason: &str| CommandError::InvalidPath {
            path: path.to_owned(),
            reason: reason.to_owned(),
        };
        if path.is_empty() {
            return Err(refuse("an empty path"));
        }
        let given = Path::new(path);
        let relative: PathBuf = if given.is_absolute() {
            // Compare against the canonical root, through the canonical parent of the path.
            let parent = given.parent().ok_or_else(|| refuse("not a file path"))?;
            let name = given.file_name().ok_or_else(|| refuse("not a file path"))?;
            let parent = deepest_canonical(parent);
            let full = parent.0.join(parent.1).join(name);
            full.strip_prefix(&self.root)
                .map_err(|_| refuse("outside the project root"))?
                .to_owned()
        } else {
            given.to_owned()
        };
        let mut parts = Vec::new();
        for c in relative.components() {
            match c {
                Component::Normal(p) => {
                    let p = p
                        .to_str()
                        .ok_or_else(|| refuse("the path is not valid UTF-8"))?;
                    if p == ".git" || p == ".codedb" {
                        return Err(refuse(&format!("inside {p}/, which codedb never writes")));
                    }
                    parts.push(p.to_owned());
                }
                Component::CurDir => {}
                Component::ParentDir => {
                    return Err(refuse(
                        "`..` is not allowed: paths stay inside the project root",
                    ));
                }
                Component::RootDir | Component::Prefix(_) => {
                    return Err(refuse("outside the project root"));
                }
            }
        }
        if parts.is_empty() {
            return Err(refuse("names the project root, not a file"));
        }
        let rel = parts.join("/");
        let abs = self.root.join(&rel);
        // No component may be a link that leads out; the target itself may not be a link.
        if let Ok(meta) = std::fs::symlink_metadata(&abs)
            && meta.file_type().is_symlink()
        {
            return Err(refuse(
                "a symbolic link; codedb does not write through links",
            ));
        }
        let (existing, _) = deepest_canonical(abs.parent().unwrap_or(&self.root));
        if !existing.starts_with(&self.root) {
            return Err(refuse(
                "leads outside the project root through a symbolic link",
            ));
        }
        Ok(ProjectPath { rel, abs })
    }

    /// Takes the command locks of `paths` (in a fixed order, so two commands never wait on
    /// each other); a path already locked by another command is a conflict.
    pub(crate) fn lock(&self, paths: &[&ProjectPath]) -> Result<Vec<FileLock>> {
        let mut names: Vec<&str> = paths.iter().map(|p| p.rel.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        let mut locks = Vec::new();
        for rel in names {
            let file = self.lock_file(rel)?;
            match file.try_lock() {
                Ok(()) => locks.push(FileLock(file)),
                Err(std::fs::TryLockError::WouldBlock) => {
                    return Err(CommandError::Conflict {
                        path: rel.to_owned(),
                        reason: "another codedb command is changing this file".into(),
                    });
                }
                Err(std::fs::TryLockError::Error(e)) => {
                    return Err(CommandError::io("lock", &self.lock_path(rel), e));
                }
            }
        }
        Ok(locks)
    }

    /// The lock of `rel` if no other command holds it (`recover` leaves a held one alone).
    pub(crate) fn try_lock_rel(&self, rel: &str) -> Result<Option<FileLock>> {
        try_lock_at(&self.state, rel)
    }

    fn lock_path(&self, rel: &str) -> PathBuf {
        lock_path(&self.state, rel)
    }

    fn lock_file(&self, rel: &str) -> Result<File> {
        lock_file(&self.state, rel)
    }
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

/// The deepest existing ancestor of `path`, canonicalized, and the rest below it.
fn deepest_canonical(path: &Path) -> (PathBuf, PathBuf) {
    let mut rest = Vec::new();
    let mut cur = path.to_owned();
    loop {
        if let Ok(c) = cur.canonicalize() {
            let tail: PathBuf = rest.iter().rev().collect();
            return (c, tail);
        }
        match (cur.file_name(), cur.parent()) {
            (Some(name), Some(parent)) => {
                rest.push(name.to_owned());
                cur = parent.to_owned();
            }
            _ => return (cur, rest.iter().rev().collect()),
        }
    }
}

/// Lowercase hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
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

/// Writes `bytes` to `path` and fsyncs it (the file is created or truncated).
pub(crate) fn write_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let mut f = File::create(path).map_err(|e| CommandError::io("create", path, e))?;
    f.write_all(bytes)
        .map_err(|e| CommandError::io("write", path, e))?;
    f.sync_all().map_err(|e| CommandError::io("fsync", path, e))
}

/// What every temp file codedb writes in the tree has in its name (`.NAME` + this + the
/// command id): how `recover` and `verify` find them, and the watcher ignores them.
pub const TEMP_MARKER: &str = ".codedb-tmp-";

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

/// Unix milliseconds now.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
