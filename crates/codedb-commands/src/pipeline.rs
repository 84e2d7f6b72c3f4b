//! The write commands (edit, replace a symbol, create, delete, move, restore) and the one
//! pipeline they all run through:
//!
//! 1. resolve leftover intents (`recover`); resolve the paths inside the root; lock them (a locked file is a
//!    conflict); check the expected version;
//! 2. form the new content's CST with tree-sitter and validate it (a syntax error is refused
//!    with `path:line:column` and nothing changes);
//! 3. back up the old bytes ([`BackupStore`]);
//! 4. write the new content to a temp file beside the target, fsync it;
//! 5. write the intent record and fsync it ([`Journal`]);
//! 6. update the database inside the command's transaction;
//! 7. rename the temp file over the target (the commit point), fsync the directory;
//! 8. commit the touched paths to git when the root is in a repository;
//! 9. commit the transaction; clear the intent.
//!
//! A failure at any step undoes what was done (database rolled back, file restored, commit
//! reverted, temp file, intent and new backup removed) and is reported as such. A crash
//! (`kill -9`) leaves the intent record, which the next command's `recover` resolves.
//!
//! With the `failpoints` feature, a failpoint after each step (`cmd-after-<step>`, steps
//! `validate`, `backup`, `temp`, `intent`, `db`, `rename`, `git`, `commit`) makes the step
//! fail (`return`) or simulates a crash there (`return(crash)`: the command stops without
//! undoing anything, as if killed); `cmd-disk-full` makes writing the temp file fail with
//! ENOSPC.

use std::path::{Path, PathBuf};

use codedb_core::history::{CommandRecord, FileBackup, HistoryStore};
use codedb_core::store::{FileMeta, Parsed};
use codedb_core::{CodeStore, Executor, params};
use serde::Serialize;

use crate::backups::BackupStore;
use crate::git::Commit;
use crate::journal::{Action, Intent, Journal, new_id};
use crate::lang::{self, LanguageDef};
use crate::project::{
    CommandError, FileLock, Project, ProjectPath, Result, TEMP_MARKER, now_ms, read_if_present,
    remove_if_present, replace_durably, sha256_hex, sync_dir, write_synced,
};
use crate::recover::recover_intents;
use crate::symbol;

/// Options every write command takes.
#[derive(Debug, Clone, Default)]
pub struct EditOptions {
    /// The commit message (default: `codedb: <command> <path>`).
    pub message: Option<String>,
    /// Refuse unless the file on disk has this sha256 (lost-update guard).
    pub expect_sha256: Option<String>,
}

/// What a write command did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CommandReport {
    /// The command's id (`None` when nothing needed to change).
    pub command_id: Option<String>,
    /// `edit`, `replace_symbol`, `create`, `delete`, `move`, `restore`.
    pub kind: String,
    /// The paths it changed.
    pub paths: Vec<String>,
    /// sha256 of the file's new content (`None` after a delete): chain it as
    /// `expect_sha256`.
    pub sha256: Option<String>,
    /// Ids of the file backups it took.
    pub backups: Vec<i64>,
    /// The git commit it made.
    pub git_commit: Option<String>,
    /// True when the content was already what was asked: nothing was changed.
    pub unchanged: bool,
}

/// Replaces the whole content of the existing file `path`.
pub fn edit(
    project: &Project<'_>,
    path: &str,
    content: &str,
    options: &EditOptions,
) -> Result<CommandReport> {
    let (target, locks, old) = open_existing(project, path, options)?;
    run_write(
        project,
        "edit",
        target,
        Some(old),
        content.to_owned(),
        options,
        locks,
        true,
    )
}

/// Replaces one class, function or method of `path` (by qualified name, e.g.
/// `Parser.parse`) with `source`, re-indented to where the symbol stands.
pub fn replace_symbol(
    project: &Project<'_>,
    path: &str,
    qualified_name: &str,
    source: &str,
    options: &EditOptions,
) -> Result<CommandReport> {
    let (target, locks, old) = open_existing(project, path, options)?;
    let lang = language(&target)?;
    let text = std::str::from_utf8(&old).map_err(|_| CommandError::Symbol {
        path: target.rel.clone(),
        reason: "the file is not valid UTF-8".into(),
    })?;
    let content = symbol::replace(&target.rel, lang, text, qualified_name, source)?;
    run_write(
        project,
        "replace_symbol",
        target,
        Some(old),
        content,
        options,
        locks,
        true,
    )
}

/// Creates the file `path` (which must not exist) with `content`; missing parent
/// directories are created.
pub fn create(
    project: &Project<'_>,
    path: &str,
    content: &str,
    options: &EditOptions,
) -> Result<CommandReport> {
    recover_intents(project)?;
    let target = project.resolve(path)?;
    let locks = project.lock(&[&target])?;
    if std::fs::symlink_metadata(&target.abs).is_ok() {
        return Err(CommandError::AlreadyExists(target.rel));
    }
    run_write(
        project,
        "create",
        target,
        None,
        content.to_owned(),
        options,
        locks,
        true,
    )
}

/// Deletes the file `path`.
pub fn delete(project: &Project<'_>, path: &str, options: &EditOptions) -> Result<CommandReport> {
    let (target, locks, old) = open_existing(project, path, options)?;
    let message = message(options, "delete", &target.rel);
    let plan = Plan::Delete { path: target, old };
    run(project, "delete", message, plan, locks)
}

/// Moves the file `from` to `to` (which must not exist); the database row moves with it,
/// so the ids of its entities survive.
pub fn move_file(
    project: &Project<'_>,
    from: &str,
    to: &str,
    options: &EditOptions,
) -> Result<CommandReport> {
    recover_intents(project)?;
    let from = project.resolve(from)?;
    let to = project.resolve(to)?;
    if from == to {
        return Err(CommandError::InvalidPath {
            path: to.rel,
            reason: "moving a file onto itself".into(),
        });
    }
    let locks = project.lock(&[&from, &to])?;
    let bytes = read_existing(&from)?;
    check_expected(&from, &bytes, options)?;
    if std::fs::symlink_metadata(&to.abs).is_ok() {
        return Err(CommandError::AlreadyExists(to.rel));
    }
    let lang = language(&to)?;
    let parsed = lang::parse(lang, &bytes);
    let message = options
        .message
        .clone()
        .unwrap_or_else(|| format!("codedb: move {} -> {}", from.rel, to.rel));
    let plan = Plan::Move {
        from,
        to,
        bytes,
        lang,
        parsed,
    };
    run(project, "move", message, plan, locks)
}

/// Puts back a backup of `path`: the one with id `backup`, or the newest. The file may
/// exist (its current bytes are backed up first) or not (it was deleted).
pub fn restore(
    project: &Project<'_>,
    path: &str,
    backup: Option<i64>,
    options: &EditOptions,
) -> Result<CommandReport> {
    recover_intents(project)?;
    let target = project.resolve(path)?;
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
    let old = read_if_present(&target.abs)?;
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
    run_write(
        project, "restore", target, old, content, &options, locks, false,
    )
}

/// The backups of `path`, newest first.
pub fn history(project: &Project<'_>, path: &str) -> Result<Vec<FileBackup>> {
    let target = project.resolve(path)?;
    Ok(project.db.file_backups(project.id, &target.rel)?)
}

/// The start of every command on an existing file: leftover intents resolved, the path
/// checked and locked, its bytes read and checked against `expect_sha256`.
fn open_existing(
    project: &Project<'_>,
    path: &str,
    options: &EditOptions,
) -> Result<(ProjectPath, Vec<FileLock>, Vec<u8>)> {
    recover_intents(project)?;
    let target = project.resolve(path)?;
    let locks = project.lock(&[&target])?;
    let old = read_existing(&target)?;
    check_expected(&target, &old, options)?;
    Ok((target, locks, old))
}

fn read_existing(target: &ProjectPath) -> Result<Vec<u8>> {
    match std::fs::read(&target.abs) {
        Ok(b) => Ok(b),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Err(CommandError::NotFound(target.rel.clone()))
        }
        Err(e) => Err(CommandError::io("read", &target.abs, e)),
    }
}

fn check_expected(target: &ProjectPath, old: &[u8], options: &EditOptions) -> Result<()> {
    if let Some(expected) = &options.expect_sha256 {
        let actual = sha256_hex(old);
        if !actual.eq_ignore_ascii_case(expected.trim()) {
            return Err(CommandError::Conflict {
                path: target.rel.clone(),
                reason: format!(
                    "the file on disk has sha256 {actual}, not the expected {}; read it again",
                    expected.trim()
                ),
            });
        }
    }
    Ok(())
}

fn language(target: &ProjectPath) -> Result<&'static LanguageDef> {
    lang::detect(Path::new(&target.rel))
        .ok_or_else(|| CommandError::Unsupported(target.rel.clone()))
}

fn message(options: &EditOptions, kind: &str, rel: &str) -> String {
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

#[allow(clippy::too_many_arguments)]
fn run_write(
    project: &Project<'_>,
    kind: &str,
    target: ProjectPath,
    old: Option<Vec<u8>>,
    content: String,
    options: &EditOptions,
    locks: Vec<FileLock>,
    check_syntax: bool,
) -> Result<CommandReport> {
    let lang = language(&target)?;
    let new_sha = sha256_hex(content.as_bytes());
    if old.as_deref().is_some_and(|o| sha256_hex(o) == new_sha) {
        return Ok(CommandReport {
            command_id: None,
            kind: kind.to_owned(),
            paths: vec![target.rel],
            sha256: Some(new_sha),
            backups: Vec::new(),
            git_commit: None,
            unchanged: true,
        });
    }
    let parsed = lang::parse(lang, content.as_bytes());
    if check_syntax {
        validate(&target.rel, &content, &parsed)?;
    }
    let message = message(options, kind, &target.rel);
    let plan = Plan::Write {
        path: target,
        old,
        content,
        new_sha,
        lang,
        parsed,
    };
    run(project, kind, message, plan, locks)
}

/// What a command will do, fully prepared (read, parsed, validated).
enum Plan {
    Write {
        path: ProjectPath,
        old: Option<Vec<u8>>,
        content: String,
        new_sha: String,
        lang: &'static LanguageDef,
        parsed: Parsed,
    },
    Delete {
        path: ProjectPath,
        old: Vec<u8>,
    },
    Move {
        from: ProjectPath,
        to: ProjectPath,
        bytes: Vec<u8>,
        lang: &'static LanguageDef,
        parsed: Parsed,
    },
}

impl Plan {
    fn paths(&self) -> Vec<&ProjectPath> {
        match self {
            Plan::Write { path, .. } | Plan::Delete { path, .. } => vec![path],
            Plan::Move { from, to, .. } => vec![from, to],
        }
    }

    /// The bytes to back up, and the path they belong to.
    fn backup(&self) -> Option<(&ProjectPath, &[u8])> {
        match self {
            Plan::Write { path, old, .. } => old.as_deref().map(|o| (path, o)),
            Plan::Delete { path, old } => Some((path, old)),
            Plan::Move { from, bytes, .. } => Some((from, bytes)),
        }
    }
}

/// A step failed (undo) or a simulated crash (leave everything).
enum Fault {
    Fail(CommandError),
    #[cfg_attr(not(feature = "failpoints"), allow(dead_code))]
    Crash(&'static str),
}

impl From<CommandError> for Fault {
    fn from(e: CommandError) -> Self {
        Fault::Fail(e)
    }
}

impl From<codedb_core::Error> for Fault {
    fn from(e: codedb_core::Error) -> Self {
        Fault::Fail(e.into())
    }
}

/// The failpoint after `step`.
#[allow(clippy::unnecessary_wraps)]
fn after(step: &'static str) -> std::result::Result<(), Fault> {
    #[cfg(feature = "failpoints")]
    {
        let name = format!("cmd-after-{step}");
        fail::fail_point!(&name, |arg: Option<String>| {
            if arg.as_deref() == Some("crash") {
                Err(Fault::Crash(step))
            } else {
                Err(Fault::Fail(CommandError::Io {
                    op: "step",
                    path: PathBuf::from(step),
                    source: std::io::Error::other(format!("injected failure after {step}")),
                }))
            }
        });
    }
    let _ = step;
    Ok(())
}

/// What has been done so far, for the undo.
#[derive(Default)]
struct Done {
    blob_created: Option<String>,
    created_dirs: Vec<PathBuf>,
    temp: Option<PathBuf>,
    intent: Option<String>,
    changed_tree: bool,
    commit: Option<Commit>,
}

fn run(
    project: &Project<'_>,
    kind: &str,
    message: String,
    plan: Plan,
    locks: Vec<FileLock>,
) -> Result<CommandReport> {
    let id = new_id();
    let _span = tracing::info_span!("command", kind, id = %id).entered();
    let mut done = Done::default();
    let result = steps(project, &id, kind, &message, &plan, &mut done);
    let outcome = match result {
        Ok(report) => {
            prune(project, &plan);
            Ok(report)
        }
        Err(Fault::Crash(step)) => Err(CommandError::SimulatedCrash(step)),
        Err(Fault::Fail(error)) => {
            let anything =
                done.blob_created.is_some() || done.temp.is_some() || done.intent.is_some();
            match undo(project, &plan, &done) {
                Ok(()) if anything => Err(CommandError::RolledBack {
                    error: Box::new(error),
                }),
                Ok(()) => Err(error),
                Err(u) => Err(CommandError::UndoFailed {
                    error: Box::new(error),
                    undo: u.to_string(),
                }),
            }
        }
    };
    drop(locks);
    outcome
}

fn steps(
    project: &Project<'_>,
    id: &str,
    kind: &str,
    message: &str,
    plan: &Plan,
    done: &mut Done,
) -> std::result::Result<CommandReport, Fault> {
    after("validate")?;
    // Git refusals come before anything changes.
    if let Some(git) = &project.git {
        git.preflight()?;
    }
    // 3. backup
    let store = BackupStore::new(&project.state);
    let backup = match plan.backup() {
        Some((path, bytes)) => {
            let (sha, created) = store.put(bytes)?;
            if created {
                done.blob_created = Some(sha.clone());
            }
            Some((path.rel.clone(), sha, bytes.len()))
        }
        None => None,
    };
    after("backup")?;
    // 4. temp file
    let action = match plan {
        Plan::Write {
            path,
            old,
            content,
            new_sha,
            ..
        } => {
            let dir = path.abs.parent().unwrap_or(&project.root).to_owned();
            create_dirs(&dir, &project.root, &mut done.created_dirs)?;
            let name = path
                .abs
                .file_name()
                .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
            let temp_name = format!(".{name}{TEMP_MARKER}{id}");
            let temp = dir.join(&temp_name);
            done.temp = Some(temp.clone());
            #[cfg(feature = "failpoints")]
            fail::fail_point!("cmd-disk-full", |_| Err(Fault::Fail(CommandError::io(
                "write",
                &temp,
                std::io::Error::from_raw_os_error(28),
            ))));
            write_synced(&temp, content.as_bytes())?;
            Action::Write {
                path: path.rel.clone(),
                old_sha256: old.as_deref().map(sha256_hex),
                new_sha256: new_sha.clone(),
                temp: temp_name,
            }
        }
        Plan::Delete { path, old } => Action::Delete {
            path: path.rel.clone(),
            old_sha256: sha256_hex(old),
        },
        Plan::Move {
            from, to, bytes, ..
        } => {
            let dir = to.abs.parent().unwrap_or(&project.root).to_owned();
            create_dirs(&dir, &project.root, &mut done.created_dirs)?;
            Action::Move {
                from: from.rel.clone(),
                to: to.rel.clone(),
                sha256: sha256_hex(bytes),
            }
        }
    };
    after("temp")?;
    // 5. intent
    let journal = Journal::new(&project.state);
    let intent = Intent {
        id: id.to_owned(),
        kind: kind.to_owned(),
        message: message.to_owned(),
        git: project.git.is_some(),
        pid: std::process::id(),
        created_at: now_ms(),
        action,
    };
    journal.write(&intent)?;
    done.intent = Some(id.to_owned());
    after("intent")?;
    // 6. database, in the command's transaction
    let tx = project.db.begin_transaction()?;
    let mut backups = Vec::new();
    if let Some((path, sha, size)) = &backup {
        backups.push(tx.add_file_backup(
            project.id,
            &FileBackup {
                id: 0,
                path: path.clone(),
                sha256: sha.clone(),
                size: i64::try_from(*size).unwrap_or(i64::MAX),
                command_id: id.to_owned(),
                command: kind.to_owned(),
                created_at: intent.created_at,
            },
        )?);
    }
    let new_sha = match plan {
        Plan::Write {
            path,
            content,
            new_sha,
            lang,
            parsed,
            ..
        } => {
            let temp = done.temp.as_deref().unwrap_or(&path.abs);
            let meta = file_meta(&path.rel, lang, content.as_bytes(), temp)?;
            tx.update_file_data_atomic(project.id, &meta, content, parsed)?;
            Some(new_sha.clone())
        }
        Plan::Delete { path, .. } => {
            if let Some(row) = tx
                .get_file_by_path(project.id, &path.rel)?
                .filter(|r| !r.deleted)
            {
                tx.mark_file_deleted(row.id)?;
            }
            None
        }
        Plan::Move {
            from,
            to,
            bytes,
            lang,
            parsed,
        } => {
            let meta = file_meta(&to.rel, lang, bytes, &from.abs)?;
            let indexed = tx
                .get_file_by_path(project.id, &from.rel)?
                .filter(|r| !r.deleted && r.meta.sha256 == meta.sha256 && r.indexed_at.is_some());
            if let Some(row) = indexed {
                // Same bytes, new path: the row moves with everything derived from it (the
                // entities keep their ids); only the path and the file's meta change.
                tx.move_file(project.id, row.id, &to.rel)?;
                tx.add_file(project.id, &meta)?;
            } else {
                if let Some(row) = tx
                    .get_file_by_path(project.id, &from.rel)?
                    .filter(|r| !r.deleted)
                {
                    tx.move_file(project.id, row.id, &to.rel)?;
                }
                let text = String::from_utf8_lossy(bytes);
                tx.update_file_data_atomic(project.id, &meta, &text, parsed)?;
            }
            Some(meta.sha256)
        }
    };
    let paths: Vec<String> = plan.paths().iter().map(|p| p.rel.clone()).collect();
    tx.record_command(
        project.id,
        &CommandRecord {
            id: id.to_owned(),
            kind: kind.to_owned(),
            paths: paths.clone(),
            message: message.to_owned(),
            git_commit: None,
            created_at: intent.created_at,
        },
    )?;
    after("db")?;
    // 7. the commit point
    match plan {
        Plan::Write { path, .. } => {
            let temp = done.temp.clone().unwrap_or_default();
            std::fs::rename(&temp, &path.abs)
                .map_err(|e| CommandError::io("replace", &path.abs, e))?;
            done.temp = None;
            done.changed_tree = true;
            sync_dir(path.abs.parent().unwrap_or(&project.root))?;
        }
        Plan::Delete { path, .. } => {
            std::fs::remove_file(&path.abs)
                .map_err(|e| CommandError::io("delete", &path.abs, e))?;
            done.changed_tree = true;
            sync_dir(path.abs.parent().unwrap_or(&project.root))?;
        }
        Plan::Move { from, to, .. } => {
            std::fs::rename(&from.abs, &to.abs)
                .map_err(|e| CommandError::io("move", &from.abs, e))?;
            done.changed_tree = true;
            sync_dir(to.abs.parent().unwrap_or(&project.root))?;
            sync_dir(from.abs.parent().unwrap_or(&project.root))?;
        }
    }
    after("rename")?;
    // 8. git
    let mut git_commit = None;
    if let Some(git) = &project.git {
        let refs: Vec<&str> = paths.iter().map(String::as_str).collect();
        let commit = git.commit(&refs, message, false)?;
        if let Some(c) = &commit {
            git_commit = Some(c.new.clone());
            tx.execute(
                "UPDATE commands SET git_commit = ?2 WHERE id = ?1",
                params![id, c.new.as_str()],
            )?;
        }
        done.commit = commit;
    }
    after("git")?;
    // 9. commit, clear the intent
    tx.commit()?;
    // The command has landed: what follows is never undone. An intent that cannot be
    // cleared is harmless (the next `recover` finds everything done and clears it).
    if let Err(Fault::Crash(step)) = after("commit") {
        return Err(Fault::Crash(step));
    }
    done.intent = None;
    if let Err(e) = journal.clear(id) {
        tracing::warn!("the command landed but its intent record stays until `recover`: {e}");
    }
    Ok(CommandReport {
        command_id: Some(id.to_owned()),
        kind: kind.to_owned(),
        paths,
        sha256: new_sha,
        backups,
        git_commit,
        unchanged: false,
    })
}

/// The row of a file about to hold `bytes`, its mtime read from `from` (the temp file
/// becomes the target by rename, which keeps the mtime).
fn file_meta(
    rel: &str,
    lang: &LanguageDef,
    bytes: &[u8],
    from: &Path,
) -> std::result::Result<FileMeta, Fault> {
    let meta = std::fs::metadata(from).map_err(|e| CommandError::io("stat", from, e))?;
    Ok(FileMeta {
        path: rel.to_owned(),
        language: Some(lang.name.to_owned()),
        size: i64::try_from(bytes.len()).unwrap_or(i64::MAX),
        mtime_ns: crate::indexer::mtime_ns(&meta),
        sha256: sha256_hex(bytes),
        lines: i64::try_from(String::from_utf8_lossy(bytes).lines().count()).unwrap_or(i64::MAX),
    })
}

/// Creates `dir` and its missing ancestors (inside `root`), recording each one created.
fn create_dirs(dir: &Path, root: &Path, created: &mut Vec<PathBuf>) -> Result<()> {
    let mut missing = Vec::new();
    let mut cur = dir.to_owned();
    while !cur.exists() && cur.starts_with(root) && cur != root {
        missing.push(cur.clone());
        match cur.parent() {
            Some(p) => cur = p.to_owned(),
            None => break,
        }
    }
    for d in missing.into_iter().rev() {
        std::fs::create_dir(&d).map_err(|e| CommandError::io("create", &d, e))?;
        created.push(d);
    }
    Ok(())
}

/// Undoes what `done` records, newest first. The transaction was already rolled back (its
/// guard dropped when the steps returned).
fn undo(project: &Project<'_>, plan: &Plan, done: &Done) -> Result<()> {
    if done.changed_tree {
        match plan {
            Plan::Write {
                path,
                old: Some(old),
                ..
            } => put_back(path, old)?,
            Plan::Write {
                path, old: None, ..
            } => {
                std::fs::remove_file(&path.abs)
                    .map_err(|e| CommandError::io("remove", &path.abs, e))?;
            }
            Plan::Delete { path, old } => put_back(path, old)?,
            Plan::Move { from, to, .. } => {
                std::fs::rename(&to.abs, &from.abs)
                    .map_err(|e| CommandError::io("move back", &to.abs, e))?;
            }
        }
    }
    if let Some(git) = &project.git {
        let paths: Vec<&str> = plan.paths().iter().map(|p| p.rel.as_str()).collect();
        match &done.commit {
            Some(commit) => git.revert(commit, &paths)?,
            // The git step may have staged the new content before it failed.
            None if done.changed_tree => git.refresh(&paths)?,
            None => {}
        }
    }
    if let Some(temp) = &done.temp {
        remove_if_present(temp, "remove")?;
    }
    for d in done.created_dirs.iter().rev() {
        let _ = std::fs::remove_dir(d);
    }
    if let Some(id) = &done.intent {
        Journal::new(&project.state).clear(id)?;
    }
    if let Some(sha) = &done.blob_created
        && !project.db.backup_referenced(sha)?
    {
        BackupStore::new(&project.state).remove(sha)?;
    }
    Ok(())
}

/// Writes `bytes` back to `path` the safe way (temp file, fsync, rename, fsync).
pub(crate) fn put_back(path: &ProjectPath, bytes: &[u8]) -> Result<()> {
    let dir = path.abs.parent().map_or_else(PathBuf::new, Path::to_owned);
    let name = path
        .abs
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    let temp = dir.join(format!(".{name}{TEMP_MARKER}undo-{}", std::process::id()));
    replace_durably(&path.abs, &temp, bytes, "restore")
}

/// Keeps the newest backups of each touched path, per the retention setting; best effort
/// (a failure is logged: the command itself has landed).
fn prune(project: &Project<'_>, plan: &Plan) {
    let Some((path, _)) = plan.backup() else {
        return;
    };
    let store = BackupStore::new(&project.state);
    match project
        .db
        .prune_file_backups(project.id, &path.rel, project.options.keep_backups)
    {
        Ok(freed) => {
            for sha in freed {
                if let Err(e) = store.remove(&sha) {
                    tracing::warn!("pruning backups of {}: {e}", path.rel);
                }
            }
        }
        Err(e) => tracing::warn!("pruning backups of {}: {e}", path.rel),
    }
}
