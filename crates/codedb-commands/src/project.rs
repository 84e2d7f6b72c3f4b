//! A project as the write commands see it: its root, its `.codedb/` state directory, its
//! row in the database, its git repository if it has one, and the checks a path passes
//! before a command may touch it.
//!
//! Paths given to commands are relative to the project root (or absolute inside it).
//! Refused before anything is read: `..`, absolute paths outside the root, a path through a
//! symbolic link (git tracks nothing beyond one; it may lead out of the root), a symbolic
//! link as the target itself, anything under `.git/` or `.codedb/`, every path git itself refuses to track ([`crate::gitpath`]),
//! and, for the commands that write, every path the index does not see (ignored or hidden:
//! [`crate::visibility`]).

use std::path::{Component, Path, PathBuf};

use codedb_core::{CodeDatabase, CodeStore};

use crate::error::{CommandError, Result};
use crate::git::Git;
use crate::gitpath::git_refuses;
use crate::locks::{FileLock, lock_all};
use crate::visibility::Visibility;

/// Settings of the write commands.
#[derive(Debug, Clone)]
pub struct CommandOptions {
    /// File backups kept per path; older ones are pruned after each command.
    pub keep_backups: usize,
    /// Commit to git when the root is (inside) a git repository.
    pub git: bool,
    /// The largest content a command writes, in bytes: the index's limit
    /// ([`crate::IndexOptions::max_file_bytes`]), so that what a command writes the index
    /// keeps.
    pub max_file_bytes: u64,
}

impl Default for CommandOptions {
    fn default() -> Self {
        CommandOptions {
            keep_backups: 20,
            git: true,
            max_file_bytes: crate::DEFAULT_MAX_FILE_BYTES,
        }
    }
}

/// A project opened for write commands. It holds its own handle on the database (a cheap
/// clone of the `CodeDatabase` it was opened with).
pub struct Project {
    pub(crate) root: PathBuf,
    pub(crate) state: PathBuf,
    pub(crate) db: CodeDatabase,
    pub(crate) id: i64,
    pub(crate) options: CommandOptions,
    pub(crate) git: Option<Git>,
}

impl std::fmt::Debug for Project {
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

impl ProjectPath {
    /// The directory that holds it.
    pub(crate) fn dir(&self) -> &Path {
        self.abs.parent().unwrap_or(Path::new("/"))
    }
}

impl Project {
    /// Opens the project rooted at `root` (which must be a directory) in `db`, creating its
    /// row and `.codedb/` when missing.
    pub fn open(db: &CodeDatabase, root: &Path, options: CommandOptions) -> Result<Self> {
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
            db: db.clone(),
            id,
            options,
            git,
        })
    }

    /// The project root (canonical).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Its row id in the database (what [`codedb_core::Scope::Project`] takes).
    pub fn id(&self) -> i64 {
        self.id
    }

    /// The project's database.
    pub fn db(&self) -> &CodeDatabase {
        &self.db
    }

    /// Whether commands commit to git here.
    pub fn has_git(&self) -> bool {
        self.git.is_some()
    }

    /// Checks `path` and places it in the project: a path a command may name (see the
    /// module docs; whether the index sees it is [`resolve_seen`](Self::resolve_seen)).
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
                    if p == ".codedb" {
                        return Err(refuse("inside .codedb/, which codedb never writes"));
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
        if let Some(reason) = git_refuses(&rel) {
            return Err(refuse(&format!(
                "{reason}; codedb writes only paths git tracks"
            )));
        }
        let abs = self.root.join(&rel);
        // No component may be a link (git tracks nothing beyond one, and a link may lead
        // out of the root or into `.git/`); the target itself may not be one either.
        // Nor may a directory be another repository's work tree: its files are that
        // repository's, which codedb does not commit to.
        let mut at = self.root.clone();
        for (i, part) in parts.iter().enumerate() {
            at.push(part);
            let shown = || {
                at.strip_prefix(&self.root)
                    .unwrap_or(&at)
                    .display()
                    .to_string()
            };
            match std::fs::symlink_metadata(&at) {
                Ok(meta) if meta.file_type().is_symlink() => {
                    return Err(refuse(&format!(
                        "{} is a symbolic link; codedb does not write through links \
                         (git tracks nothing beyond one)",
                        shown()
                    )));
                }
                Ok(_) if i + 1 < parts.len() && at.join(".git").exists() => {
                    return Err(refuse(&format!(
                        "{} holds a git repository of its own; codedb commits only to the \
                         project's repository",
                        shown()
                    )));
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
        Ok(ProjectPath { rel, abs })
    }

    /// [`resolve`](Self::resolve), and refuses a path the index does not see (ignored or
    /// hidden): what every command that writes a file takes.
    pub(crate) fn resolve_seen(&self, path: &str) -> Result<ProjectPath> {
        let p = self.resolve(path)?;
        if let Some(hidden) = Visibility::new(&self.root).path(&p.rel) {
            return Err(CommandError::InvalidPath {
                path: p.rel,
                reason: hidden.to_string(),
            });
        }
        Ok(p)
    }

    /// Takes the command locks of `paths` (another command holding one is a conflict).
    pub(crate) fn lock(&self, paths: &[&ProjectPath]) -> Result<Vec<FileLock>> {
        let rels: Vec<&str> = paths.iter().map(|p| p.rel.as_str()).collect();
        lock_all(&self.state, &rels)
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
