//! The write commands (edit, replace a symbol, create, delete, move, restore, and
//! `rename`, which changes many files): each checks its paths, locks them, reads what it
//! replaces, prepares its new content (parsed and validated) into a `Plan` of one change
//! per file, and hands it to the one pipeline every command runs through (`steps`: back
//! up, temp files, intent, database, commit point, git, commit).
//!
//! A command whose content is already on disk changes nothing when the database and git
//! agree with the file too (`unchanged: true`); when they do not (an earlier writer left
//! them behind), it brings them to the file, as a command of its own.

mod steps;

pub(crate) use steps::{discard, keep_bytes};
mod rename;

pub use rename::{RenameOptions, RenameSummary, RenamedFile, rename};

use std::path::Path;

use codedb_core::CodeStore;
use codedb_core::history::{FileBackup, HistoryStore};
use codedb_core::store::Parsed;
use serde::{Deserialize, Serialize};

use crate::backups::BackupStore;
use crate::error::{CommandError, Result};
use crate::lang::{self, LanguageDef};
use crate::locks::FileLock;
use crate::project::{Project, ProjectPath};
use crate::recover::recover_before;
use crate::swap::{Seen, read_seen};
use crate::symbol;

/// Options every write command takes.
#[derive(Debug, Clone, Default)]
pub struct EditOptions {
    /// The commit message (default: `codedb: <command> <path>`).
    pub message: Option<String>,
    /// Refuse unless the file on disk has this sha256 (lost-update guard).
    pub expect_sha256: Option<String>,
}

/// Which write command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum CommandKind {
    /// Replace a whole file.
    Edit,
    /// Replace one class, function or method.
    ReplaceSymbol,
    /// Create a file.
    Create,
    /// Delete a file.
    Delete,
    /// Move a file.
    Move,
    /// Put a backup back.
    Restore,
    /// Insert new source before or after a class, function or method.
    InsertSymbol,
    /// Delete one class, function or method.
    DeleteSymbol,
    /// Rename a definition and its references across files.
    Rename,
}

impl CommandKind {
    /// Its name: `edit`, `replace_symbol`, `create`, `delete`, `move`, `restore`,
    /// `insert_symbol`, `delete_symbol`, `rename`.
    pub fn as_str(self) -> &'static str {
        match self {
            CommandKind::Edit => "edit",
            CommandKind::ReplaceSymbol => "replace_symbol",
            CommandKind::Create => "create",
            CommandKind::Delete => "delete",
            CommandKind::Move => "move",
            CommandKind::Restore => "restore",
            CommandKind::InsertSymbol => "insert_symbol",
            CommandKind::DeleteSymbol => "delete_symbol",
            CommandKind::Rename => "rename",
        }
    }
}

impl std::fmt::Display for CommandKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a write command did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CommandReport {
    /// The command's id (`None` when nothing needed to change).
    pub command_id: Option<String>,
    /// Which command.
    pub kind: CommandKind,
    /// The paths it changed.
    pub paths: Vec<String>,
    /// sha256 of the file's new content (`None` after a delete): chain it as
    /// `expect_sha256`.
    pub sha256: Option<String>,
    /// Ids of the file backups it took.
    pub backups: Vec<i64>,
    /// The git commit it made.
    pub git_commit: Option<String>,
    /// True when file, database and git already held what was asked: nothing was changed.
    pub unchanged: bool,
    /// What a rename changed, file by file (rename only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rename: Option<RenameSummary>,
}

/// Replaces the whole content of the existing file `path`.
pub fn edit(
    project: &Project,
    path: &str,
    content: &str,
    options: &EditOptions,
) -> Result<CommandReport> {
    let (target, locks, old) = open_existing(project, path, options)?;
    write(
        project,
        Write {
            kind: CommandKind::Edit,
            target,
            old: Some(old),
            content: content.to_owned(),
            check_syntax: true,
        },
        options,
        locks,
    )
}

/// Replaces one class, function or method of `path` (by qualified name, e.g.
/// `Parser.parse`) with `source`, re-indented to where the symbol stands.
pub fn replace_symbol(
    project: &Project,
    path: &str,
    qualified_name: &str,
    source: &str,
    options: &EditOptions,
) -> Result<CommandReport> {
    let (target, locks, old) = open_existing(project, path, options)?;
    let lang = lang::refine(language(&target)?, Path::new(&target.rel), &old.bytes);
    let text = std::str::from_utf8(&old.bytes).map_err(|_| CommandError::Symbol {
        path: target.rel.clone(),
        reason: "the file is not valid UTF-8".into(),
    })?;
    let content = symbol::replace(&target.rel, lang, text, qualified_name, source)?;
    write(
        project,
        Write {
            kind: CommandKind::ReplaceSymbol,
            target,
            old: Some(old),
            content,
            check_syntax: true,
        },
        options,
        locks,
    )
}

/// Where [`insert_symbol`] puts the new source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// Right before the symbol (above its decorators and doc comments).
    Before,
    /// Right after the symbol.
    After,
}

/// Inserts `source` into `path` right before or after the class, function or method
/// `qualified_name`, re-indented to its level: a write command with every guarantee of
/// [`edit`] (the result must parse).
pub fn insert_symbol(
    project: &Project,
    path: &str,
    qualified_name: &str,
    placement: Placement,
    source: &str,
    options: &EditOptions,
) -> Result<CommandReport> {
    symbol_command(
        project,
        path,
        options,
        CommandKind::InsertSymbol,
        |rel, lang, text| {
            symbol::insert(
                rel,
                lang,
                text,
                qualified_name,
                source,
                placement == Placement::After,
            )
        },
    )
}

/// Deletes the class, function or method `qualified_name` of `path`, with its decorators
/// or attributes and the comment lines right above it: a write command with every
/// guarantee of [`edit`] (the result must parse: deleting the only method of a Python
/// class is refused as a syntax error).
pub fn delete_symbol(
    project: &Project,
    path: &str,
    qualified_name: &str,
    options: &EditOptions,
) -> Result<CommandReport> {
    symbol_command(
        project,
        path,
        options,
        CommandKind::DeleteSymbol,
        |rel, lang, text| symbol::delete(rel, lang, text, qualified_name),
    )
}

/// A command that rewrites one file's text by `change` (given the path, its language and
/// its text), through the pipeline.
fn symbol_command(
    project: &Project,
    path: &str,
    options: &EditOptions,
    kind: CommandKind,
    change: impl FnOnce(&str, &LanguageDef, &str) -> Result<String>,
) -> Result<CommandReport> {
    let (target, locks, old) = open_existing(project, path, options)?;
    let lang = lang::refine(language(&target)?, Path::new(&target.rel), &old.bytes);
    let text = std::str::from_utf8(&old.bytes).map_err(|_| CommandError::Symbol {
        path: target.rel.clone(),
        reason: "the file is not valid UTF-8".into(),
    })?;
    let content = change(&target.rel, lang, text)?;
    write(
        project,
        Write {
            kind,
            target,
            old: Some(old),
            content,
            check_syntax: true,
        },
        options,
        locks,
    )
}

/// Creates the file `path` (which must not exist) with `content`; missing parent
/// directories are created.
pub fn create(
    project: &Project,
    path: &str,
    content: &str,
    options: &EditOptions,
) -> Result<CommandReport> {
    let target = project.resolve_seen(path)?;
    recover_before(project, &[&target.rel])?;
    let locks = project.lock(&[&target])?;
    if std::fs::symlink_metadata(&target.abs).is_ok() {
        return Err(CommandError::AlreadyExists(target.rel));
    }
    write(
        project,
        Write {
            kind: CommandKind::Create,
            target,
            old: None,
            content: content.to_owned(),
            check_syntax: true,
        },
        options,
        locks,
    )
}

/// Deletes the file `path`.
pub fn delete(project: &Project, path: &str, options: &EditOptions) -> Result<CommandReport> {
    let (target, locks, old) = open_existing(project, path, options)?;
    let message = message(options, CommandKind::Delete, &target.rel);
    let plan = Plan::one(Change::Delete { path: target, old });
    steps::run(project, CommandKind::Delete, message, plan, locks)
}

/// Moves the file `from` to `to` (which must not exist); the database row moves with it,
/// so the ids of its entities survive, unless the move changes the file's language (then
/// it is parsed again as the new language).
pub fn move_file(
    project: &Project,
    from: &str,
    to: &str,
    options: &EditOptions,
) -> Result<CommandReport> {
    let from = project.resolve_seen(from)?;
    let to = project.resolve_seen(to)?;
    recover_before(project, &[&from.rel, &to.rel])?;
    if from == to {
        return Err(CommandError::InvalidPath {
            path: to.rel,
            reason: "moving a file onto itself".into(),
        });
    }
    let locks = project.lock(&[&from, &to])?;
    let old = read_existing(&from)?;
    check_expected(&from, &old, options)?;
    if std::fs::symlink_metadata(&to.abs).is_ok() {
        return Err(CommandError::AlreadyExists(to.rel));
    }
    let lang = lang::refine(language(&to)?, Path::new(&to.rel), &old.bytes);
    check_size(project, &to, old.bytes.len())?;
    // A move changes no byte: content that does not parse as the destination's language
    // is indexed with its issues, as `index` would.
    let parsed = lang::parse(lang, &old.bytes);
    let message = options
        .message
        .clone()
        .unwrap_or_else(|| format!("codedb: move {} -> {}", from.rel, to.rel));
    let plan = Plan::one(Change::Move {
        from,
        to,
        old,
        lang,
        parsed,
    });
    steps::run(project, CommandKind::Move, message, plan, locks)
}

/// Puts back a backup of `path`: the one with id `backup`, or the newest. The file may
/// exist (its current bytes are backed up first) or not (it was deleted).
pub fn restore(
    project: &Project,
    path: &str,
    backup: Option<i64>,
    options: &EditOptions,
) -> Result<CommandReport> {
    let target = project.resolve_seen(path)?;
    recover_before(project, &[&target.rel])?;
    let locks = project.lock(&[&target])?;
    let chosen = match backup {
        Some(id) => project
            .db
            .file_backup(project.id, id)?
            .filter(|b| b.path == target.rel)
            .ok_or_else(|| CommandError::NotFound(format!("{} (backup {id})", target.rel)))?,
        None => project
            .db
            .file_backups(project.id, &target.rel)?
            .into_iter()
            .next()
            .ok_or_else(|| CommandError::NotFound(format!("{} (no backups)", target.rel)))?,
    };
    let bytes = BackupStore::new(&project.state).get(&chosen.sha256)?;
    let content = String::from_utf8(bytes).map_err(|_| CommandError::InvalidPath {
        path: target.rel.clone(),
        reason: format!("backup {} is not valid UTF-8", chosen.id),
    })?;
    let old = read_seen(&target.abs)?;
    if let Some(old) = &old {
        check_expected(&target, old, options)?;
    }
    let options = EditOptions {
        message: Some(options.message.clone().unwrap_or_else(|| {
            format!("codedb: restore {} from backup {}", target.rel, chosen.id)
        })),
        expect_sha256: None,
    };
    // A backup is what the file once was: put it back even if it did not parse.
    write(
        project,
        Write {
            kind: CommandKind::Restore,
            target,
            old,
            content,
            check_syntax: false,
        },
        &options,
        locks,
    )
}

/// The backups of `path`, newest first.
pub fn history(project: &Project, path: &str) -> Result<Vec<FileBackup>> {
    let target = project.resolve(path)?;
    Ok(project.db.file_backups(project.id, &target.rel)?)
}

/// The start of every command on an existing file: leftover intents resolved, the path
/// checked and locked, its bytes read and checked against `expect_sha256`.
fn open_existing(
    project: &Project,
    path: &str,
    options: &EditOptions,
) -> Result<(ProjectPath, Vec<FileLock>, Seen)> {
    let target = project.resolve_seen(path)?;
    recover_before(project, &[&target.rel])?;
    let locks = project.lock(&[&target])?;
    let old = read_existing(&target)?;
    check_expected(&target, &old, options)?;
    Ok((target, locks, old))
}

fn read_existing(target: &ProjectPath) -> Result<Seen> {
    read_seen(&target.abs)?.ok_or_else(|| CommandError::NotFound(target.rel.clone()))
}

fn check_expected(target: &ProjectPath, old: &Seen, options: &EditOptions) -> Result<()> {
    if let Some(expected) = &options.expect_sha256
        && !(expected.trim().len() == 64 && expected.trim().bytes().all(|b| b.is_ascii_hexdigit()))
    {
        return Err(CommandError::InvalidArgument {
            name: "expect_sha256",
            reason: format!("{expected:?} is not a sha256 (64 hexadecimal digits)"),
        });
    }
    if let Some(expected) = &options.expect_sha256
        && !old.sha256.eq_ignore_ascii_case(expected.trim())
    {
        return Err(CommandError::Conflict {
            path: target.rel.clone(),
            reason: format!(
                "the file on disk has sha256 {}, not the expected {}; read it again",
                old.sha256,
                expected.trim()
            ),
        });
    }
    Ok(())
}

/// Refuses content over the project's size limit (the index's: beyond it, the index would
/// not keep the file).
fn check_size(project: &Project, target: &ProjectPath, size: usize) -> Result<()> {
    let size = u64::try_from(size).unwrap_or(u64::MAX);
    if size > project.options.max_file_bytes {
        return Err(CommandError::TooLarge {
            path: target.rel.clone(),
            size,
            limit: project.options.max_file_bytes,
        });
    }
    Ok(())
}

fn language(target: &ProjectPath) -> Result<&'static LanguageDef> {
    lang::detect(Path::new(&target.rel))
        .ok_or_else(|| CommandError::Unsupported(target.rel.clone()))
}

fn message(options: &EditOptions, kind: CommandKind, rel: &str) -> String {
    options
        .message
        .clone()
        .unwrap_or_else(|| format!("codedb: {kind} {rel}"))
}

/// Refuses `parsed` if it has a syntax issue, naming the place and the construct.
pub(crate) fn validate(rel: &str, content: &str, parsed: &Parsed) -> Result<()> {
    if let Some(issue) = parsed.issues.first() {
        let line = content
            .lines()
            .nth(usize::try_from(issue.line - 1).unwrap_or(0))
            .unwrap_or("")
            .trim();
        let construct: String = line.chars().take(80).collect();
        return Err(CommandError::Syntax {
            path: rel.to_owned(),
            line: issue.line,
            column: issue.column,
            message: issue.message.clone(),
            construct,
        });
    }
    Ok(())
}

/// A command that writes one file's whole content.
struct Write {
    kind: CommandKind,
    target: ProjectPath,
    old: Option<Seen>,
    content: String,
    check_syntax: bool,
}

fn write(
    project: &Project,
    w: Write,
    options: &EditOptions,
    locks: Vec<FileLock>,
) -> Result<CommandReport> {
    let lang = lang::refine(
        language(&w.target)?,
        Path::new(&w.target.rel),
        w.content.as_bytes(),
    );
    check_size(project, &w.target, w.content.len())?;
    let new_sha = crate::durable::sha256_hex(w.content.as_bytes());
    let message = message(options, w.kind, &w.target.rel);
    if let Some(old) = w.old.as_ref().filter(|o| o.sha256 == new_sha) {
        // The content is on disk already: nothing to do if the database and git agree.
        if agrees(project, &w.target, &new_sha)? {
            return Ok(CommandReport {
                command_id: None,
                kind: w.kind,
                paths: vec![w.target.rel],
                sha256: Some(new_sha),
                backups: Vec::new(),
                git_commit: None,
                unchanged: true,
                rename: None,
            });
        }
        let parsed = lang::parse(lang, &old.bytes);
        let plan = Plan::one(Change::Sync {
            path: w.target,
            seen: old.clone(),
            lang,
            parsed,
        });
        return steps::run(project, w.kind, message, plan, locks);
    }
    let parsed = lang::parse(lang, w.content.as_bytes());
    if w.check_syntax {
        validate(&w.target.rel, &w.content, &parsed)?;
    }
    let plan = Plan::one(Change::Write {
        path: w.target,
        old: w.old,
        content: w.content,
        new_sha,
        lang,
        parsed,
    });
    steps::run(project, w.kind, message, plan, locks)
}

/// Whether the database's row of `target` and git (when the project has it) both hold the
/// bytes `sha256` that the file on disk has.
fn agrees(project: &Project, target: &ProjectPath, sha256: &str) -> Result<bool> {
    let row = project.db.get_file_by_path(project.id, &target.rel)?;
    if !row.is_some_and(|r| !r.deleted && r.meta.sha256 == sha256) {
        return Ok(false);
    }
    match &project.git {
        Some(git) => Ok(git.dirty(std::slice::from_ref(&target.rel))?.is_empty()),
        None => Ok(true),
    }
}

/// What a command will do, fully prepared (read, parsed, validated): one change per file.
/// A plan of several changes (a rename) writes files that exist; their commit point is
/// the intent marked `committed` once all are replaced (see `steps`).
struct Plan {
    changes: Vec<Change>,
}

/// One file's change.
enum Change {
    /// Write `content` to `path` (which holds `old`, or does not exist).
    Write {
        path: ProjectPath,
        old: Option<Seen>,
        content: String,
        new_sha: String,
        lang: &'static LanguageDef,
        parsed: Parsed,
    },
    /// Remove `path`, which holds `old`.
    Delete { path: ProjectPath, old: Seen },
    /// Rename `from` (which holds `old`) to `to`.
    Move {
        from: ProjectPath,
        to: ProjectPath,
        old: Seen,
        lang: &'static LanguageDef,
        parsed: Parsed,
    },
    /// `path` already holds `seen`, which is what was asked: bring the database and git to
    /// it.
    Sync {
        path: ProjectPath,
        seen: Seen,
        lang: &'static LanguageDef,
        parsed: Parsed,
    },
}

impl Plan {
    /// A plan of one change.
    fn one(change: Change) -> Plan {
        Plan {
            changes: vec![change],
        }
    }

    /// Whether the plan changes several files (its commit point is the intent's mark).
    fn is_batch(&self) -> bool {
        self.changes.len() > 1
    }

    fn paths(&self) -> Vec<&ProjectPath> {
        self.changes.iter().flat_map(Change::paths).collect()
    }

    /// What was parsed from the contents the command stores (none for a delete).
    fn parsed(&self) -> impl Iterator<Item = &codedb_core::store::Parsed> {
        self.changes.iter().filter_map(|c| match c {
            Change::Write { parsed, .. }
            | Change::Sync { parsed, .. }
            | Change::Move { parsed, .. } => Some(parsed),
            Change::Delete { .. } => None,
        })
    }

    /// The references parsed from the content each path gets, by relative path.
    fn parsed_refs(
        &self,
    ) -> std::collections::HashMap<String, Vec<codedb_core::store::SymbolicRef>> {
        self.changes
            .iter()
            .filter_map(|c| match c {
                Change::Write { path, parsed, .. } | Change::Sync { path, parsed, .. } => {
                    Some((path.rel.clone(), parsed.refs.clone()))
                }
                Change::Move { to, parsed, .. } => Some((to.rel.clone(), parsed.refs.clone())),
                Change::Delete { .. } => None,
            })
            .collect()
    }

    /// The bytes to back up, and the path they belong to, file by file.
    fn backups(&self) -> Vec<(&ProjectPath, &Seen)> {
        self.changes.iter().filter_map(Change::backup).collect()
    }
}

impl Change {
    fn paths(&self) -> Vec<&ProjectPath> {
        match self {
            Change::Write { path, .. }
            | Change::Delete { path, .. }
            | Change::Sync { path, .. } => {
                vec![path]
            }
            Change::Move { from, to, .. } => vec![from, to],
        }
    }

    /// The bytes to back up, and the path they belong to.
    fn backup(&self) -> Option<(&ProjectPath, &Seen)> {
        match self {
            Change::Write { path, old, .. } => old.as_ref().map(|o| (path, o)),
            Change::Delete { path, old } => Some((path, old)),
            Change::Move { from, old, .. } => Some((from, old)),
            Change::Sync { .. } => None,
        }
    }
}
