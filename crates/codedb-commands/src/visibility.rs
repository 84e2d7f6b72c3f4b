//! Which files of a tree codedb sees: one rule for the indexer's walk, the write commands
//! and `verify`, so that a file a command may write is exactly a file the index keeps.
//!
//! A path is left out when any of its components is
//! * `.git` or `.codedb` (git's and codedb's own directories), or
//! * ignored by the ignore files: `.gitignore` files (in the directory and its parents, up
//!   to and including the directory that holds the repository's `.git`), the repository's
//!   `.git/info/exclude`, git's global excludes file (`core.excludesFile`), and `.ignore`
//!   files (ripgrep's convention, in every parent), with git's pattern rules (the last
//!   matching line of a file wins, `!` re-includes, a deeper file overrides a shallower one,
//!   `.ignore` overrides `.gitignore`; nothing under an ignored directory is seen), or
//! * hidden (its name starts with `.`) and not re-included by a `!` rule.
//!
//! These are the rules of the `ignore` crate's walker (ripgrep's) with its defaults, which
//! the indexer used directly before; the glob matching itself is the crate's
//! `gitignore::Gitignore`. The indexer walks with the crate's walker, its own filters off,
//! and asks [`Visibility`] about each entry; the commands ask about a whole path.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use ignore::Match;
use ignore::gitignore::{Gitignore, GitignoreBuilder};

/// Why a path is left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hidden {
    /// `.git` or `.codedb`.
    Reserved(String),
    /// Matched by an ignore rule: the component, the rule as written and its file.
    Ignored {
        /// The path (relative to the root) of the matched component.
        component: String,
        /// The pattern.
        rule: String,
        /// The ignore file that holds it (`None`: git's global excludes, unknown file).
        file: Option<PathBuf>,
    },
    /// A hidden file or directory (name starting with `.`).
    Dotfile(String),
}

impl std::fmt::Display for Hidden {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Hidden::Reserved(c) => write!(f, "inside {c}/, which codedb never indexes or writes"),
            Hidden::Ignored {
                component,
                rule,
                file,
            } => {
                write!(f, "ignored: `{component}` matches the rule `{rule}`")?;
                if let Some(file) = file {
                    write!(f, " in {}", file.display())?;
                }
                f.write_str("; codedb indexes, edits and commits only files its index sees")
            }
            Hidden::Dotfile(c) => write!(
                f,
                "`{c}` is hidden (its name starts with `.`); codedb indexes, edits and commits only files its index sees"
            ),
        }
    }
}

/// The ignore files of one directory.
#[derive(Debug)]
struct Level {
    /// `.ignore`.
    ignore: Gitignore,
    /// `.gitignore`.
    gitignore: Gitignore,
    /// `.git/info/exclude`, when the directory holds a repository.
    exclude: Gitignore,
    /// Whether the directory holds `.git` (the top of a work tree).
    has_git: bool,
}

impl Level {
    fn read(dir: &Path) -> Level {
        let load = |root: &Path, file: PathBuf| {
            let mut b = GitignoreBuilder::new(root);
            if file.is_file() {
                // A line that is not a valid glob is skipped, as git skips it.
                let _ = b.add(file);
            }
            b.build().unwrap_or_else(|_| Gitignore::empty())
        };
        let git = dir.join(".git");
        Level {
            ignore: load(dir, dir.join(".ignore")),
            gitignore: load(dir, dir.join(".gitignore")),
            exclude: load(dir, git.join("info").join("exclude")),
            has_git: git.exists(),
        }
    }
}

/// The visibility rules of one tree (see the module docs), with each directory's ignore
/// files read once.
#[derive(Debug)]
pub struct Visibility {
    root: PathBuf,
    /// The root's ancestors' levels, nearest first.
    above: Vec<Arc<Level>>,
    global: Gitignore,
    levels: Mutex<HashMap<PathBuf, Arc<Level>>>,
}

impl Visibility {
    /// The rules of the tree at `root` (an absolute, canonical directory).
    pub fn new(root: &Path) -> Visibility {
        let above = root
            .ancestors()
            .skip(1)
            .map(|d| Arc::new(Level::read(d)))
            .collect();
        Visibility {
            root: root.to_owned(),
            above,
            global: Gitignore::global().0,
            levels: Mutex::new(HashMap::new()),
        }
    }

    fn level(&self, dir: &Path) -> Arc<Level> {
        let mut levels = self.levels.lock().unwrap_or_else(|e| e.into_inner());
        Arc::clone(
            levels
                .entry(dir.to_owned())
                .or_insert_with(|| Arc::new(Level::read(dir))),
        )
    }

    /// Why the entry `rel` (relative to the root, `/`-separated) is left out, looking at
    /// its last component only: its parent directories are known to be seen (the walk
    /// checks each directory before it enters it).
    pub fn entry(&self, rel: &str, is_dir: bool) -> Option<Hidden> {
        let name = rel.rsplit('/').next().unwrap_or(rel);
        if name == ".git" || name == ".codedb" {
            return Some(Hidden::Reserved(name.to_owned()));
        }
        let abs = self.root.join(rel);
        let parent = abs.parent().unwrap_or(&self.root);
        // Deepest first: the parent, its parents up to the root, then above the root.
        let mut below: Vec<Arc<Level>> = parent
            .ancestors()
            .take_while(|d| d.starts_with(&self.root))
            .map(|d| self.level(d))
            .collect();
        below.extend(self.above.iter().cloned());
        let m = matched(&below, &self.global, &abs, is_dir);
        if let Match::Ignore(glob) = m {
            return Some(Hidden::Ignored {
                component: rel.to_owned(),
                rule: glob.original().to_owned(),
                file: glob.from().map(Path::to_owned),
            });
        }
        if name.starts_with('.') && !matches!(m, Match::Whitelist(_)) {
            return Some(Hidden::Dotfile(rel.to_owned()));
        }
        None
    }

    /// Why the file `rel` (relative to the root, `/`-separated) is left out: the first of
    /// its directories, or the file itself, that is.
    pub fn path(&self, rel: &str) -> Option<Hidden> {
        let parts: Vec<&str> = rel.split('/').collect();
        (1..=parts.len()).find_map(|k| self.entry(&parts[..k].join("/"), k < parts.len()))
    }
}

/// The ignore crate's precedence: the deepest `.ignore` match, else the deepest
/// `.gitignore` match (not looking above the repository's top), else `info/exclude`, else
/// the global excludes.
fn matched<'a>(
    levels: &'a [Arc<Level>],
    global: &'a Gitignore,
    path: &Path,
    is_dir: bool,
) -> Match<&'a ignore::gitignore::Glob> {
    let (mut m_ignore, mut m_gi, mut m_ex) = (Match::None, Match::None, Match::None);
    let mut saw_git = false;
    for level in levels {
        if m_ignore.is_none() {
            m_ignore = level.ignore.matched(path, is_dir);
        }
        if !saw_git && m_gi.is_none() {
            m_gi = level.gitignore.matched(path, is_dir);
        }
        if !saw_git && m_ex.is_none() {
            m_ex = level.exclude.matched(path, is_dir);
        }
        saw_git = saw_git || level.has_git;
    }
    m_ignore.or(m_gi).or(m_ex).or(global.matched(path, is_dir))
}
