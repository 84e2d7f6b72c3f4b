//! `recover` and `verify`.
//!
//! `recover` resolves every intent a dead command left in the journal. The disk decides:
//! if the command's commit point (its rename or unlink) happened, the command is rolled
//! forward (the database is brought to the file's bytes, its backup and log rows are
//! written if they were lost, the paths are committed to git if they are not); otherwise it
//! is rolled back (its temp file removed; the database, whose transaction never committed,
//! already agrees). Intents whose files are locked by a live command are left alone. Every
//! write command runs it first.
//!
//! `verify` checks the invariant: for every live file row, the sha256 of the file on disk is
//! the row's `sha256`; no codedb temp file is left in the tree; nothing codedb wrote is left
//! uncommitted in git; no intent is pending.

use std::path::Path;

use codedb_core::history::{CommandRecord, FileBackup, HistoryStore};
use codedb_core::store::FileMeta;
use codedb_core::{CodeStore, Executor, params};
use serde::Serialize;

use crate::backups::BackupStore;
use crate::journal::{Action, Intent, Journal};
use crate::lang;
use crate::project::{CommandError, Project, Result, sha256_hex};

/// What `recover` did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RecoverReport {
    /// Commands completed from their intent.
    pub rolled_forward: Vec<String>,
    /// Commands undone.
    pub rolled_back: Vec<String>,
    /// Intents left alone because a live command holds their files.
    pub busy: usize,
    /// Stale temp files and unreferenced backup bytes removed.
    pub swept: usize,
}

/// Resolves every leftover intent (see the module docs), then sweeps what a command killed
/// before it wrote its intent can leave: temp files in the tree (when no live command holds
/// their file) and backup bytes no row or intent references (when older than a minute, so
/// that a live command's fresh backup is never taken).
pub fn recover(project: &Project<'_>) -> Result<RecoverReport> {
    let mut report = recover_intents(project)?;
    report.swept = sweep(project)?;
    Ok(report)
}

/// The leftover temp files and unreferenced backup bytes (see [`recover`]); returns how
/// many were removed.
fn sweep(project: &Project<'_>) -> Result<usize> {
    let journal = Journal::new(&project.state);
    let pending = journal.pending()?;
    let mut removed = 0;
    let walker = ignore::WalkBuilder::new(&project.root)
        .hidden(false)
        .git_ignore(false)
        .ignore(false)
        .parents(false)
        .follow_links(false)
        .filter_entry(|e| !matches!(e.file_name().to_str(), Some(".git" | ".codedb")))
        .build();
    for entry in walker.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(at) = name.find(".codedb-tmp-") else {
            continue;
        };
        if pending
            .iter()
            .any(|i| matches!(&i.action, Action::Write { temp, .. } if *temp == name))
        {
            continue;
        }
        let target = entry
            .path()
            .with_file_name(name[..at].trim_start_matches('.'));
        let rel = target
            .strip_prefix(&project.root)
            .unwrap_or(&target)
            .to_string_lossy()
            .replace('\\', "/");
        if let Some(_lock) = project.try_lock_rel(&rel)? {
            std::fs::remove_file(entry.path())
                .map_err(|e| CommandError::io("remove the stale temp file", entry.path(), e))?;
            tracing::info!(path = %entry.path().display(), "recover: removed a stale temp file");
            removed += 1;
        }
    }
    let store = BackupStore::new(&project.state);
    let claimed: Vec<String> = pending
        .iter()
        .filter_map(|i| match &i.action {
            Action::Write { old_sha256, .. } => old_sha256.clone(),
            Action::Delete { old_sha256, .. } => Some(old_sha256.clone()),
            Action::Move { sha256, .. } => Some(sha256.clone()),
        })
        .collect();
    for (sha, age) in store.list()? {
        if age.as_secs() > 60 && !claimed.contains(&sha) && !project.db.backup_referenced(&sha)? {
            store.remove(&sha)?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// Resolves every leftover intent (what every write command does first).
pub(crate) fn recover_intents(project: &Project<'_>) -> Result<RecoverReport> {
    let journal = Journal::new(&project.state);
    let mut report = RecoverReport::default();
    let pending = journal.pending()?;
    if pending.is_empty() {
        return Ok(report);
    }
    if let Some(git) = &project.git {
        git.clean_private_indexes();
    }
    for intent in pending {
        let mut locks = Vec::new();
        let mut busy = false;
        let mut paths: Vec<&str> = intent.action.paths();
        paths.sort_unstable();
        for p in paths {
            match project.try_lock_rel(p)? {
                Some(l) => locks.push(l),
                None => busy = true,
            }
        }
        if busy {
            report.busy += 1;
            continue;
        }
        // Re-read under the locks: the command may have finished meanwhile.
        if !journal.pending()?.iter().any(|i| i.id == intent.id) {
            continue;
        }
        let forward = resolve(project, &intent)?;
        journal.clear(&intent.id)?;
        if forward {
            tracing::info!(id = %intent.id, kind = %intent.kind, "recover: rolled forward");
            report.rolled_forward.push(intent.id);
        } else {
            tracing::info!(id = %intent.id, kind = %intent.kind, "recover: rolled back");
            report.rolled_back.push(intent.id);
        }
        drop(locks);
    }
    Ok(report)
}

fn disk_sha(root: &Path, rel: &str) -> Result<Option<String>> {
    let path = root.join(rel);
    match std::fs::read(&path) {
        Ok(b) => Ok(Some(sha256_hex(&b))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(CommandError::io("read", &path, e)),
    }
}

/// Whether `intent`'s command passed its commit point (the disk has its result), and the
/// backup bytes it took (path, sha256). Removes its temp file, which is never needed again.
fn decide(root: &Path, intent: &Intent) -> Result<(bool, Option<(String, String)>)> {
    Ok(match &intent.action {
        Action::Write {
            path,
            old_sha256,
            new_sha256,
            temp,
        } => {
            let dir = root.join(path);
            let dir = dir.parent().unwrap_or(root);
            match std::fs::remove_file(dir.join(temp)) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(CommandError::io("remove", &dir.join(temp), e)),
            }
            let on_disk = disk_sha(root, path)?;
            (
                on_disk.as_deref() == Some(new_sha256.as_str()),
                old_sha256.clone().map(|s| (path.clone(), s)),
            )
        }
        Action::Delete { path, old_sha256 } => (
            disk_sha(root, path)?.is_none(),
            Some((path.clone(), old_sha256.clone())),
        ),
        Action::Move { from, to, sha256 } => (
            disk_sha(root, from)?.is_none()
                && disk_sha(root, to)?.as_deref() == Some(sha256.as_str()),
            Some((from.clone(), sha256.clone())),
        ),
    })
}

/// The part of [`recover`] that needs no database, for a server's startup before it opens
/// one: every leftover command that died before its commit point is rolled back (its temp
/// file removed, its intent cleared; its database transaction never committed). Commands
/// that passed it are left for [`recover`], which brings the database and git to them.
pub fn recover_files(root: &Path) -> Result<RecoverReport> {
    let mut report = RecoverReport::default();
    let root = root
        .canonicalize()
        .map_err(|e| CommandError::io("open the project root", root, e))?;
    let state = root.join(".codedb");
    if !state.join("intents").is_dir() {
        return Ok(report);
    }
    let journal = Journal::new(&state);
    for intent in journal.pending()? {
        let mut paths: Vec<&str> = intent.action.paths();
        paths.sort_unstable();
        let mut locks = Vec::new();
        for p in paths {
            match crate::project::try_lock_at(&state, p)? {
                Some(l) => locks.push(l),
                None => {
                    report.busy += 1;
                    break;
                }
            }
        }
        if locks.len() != intent.action.paths().len() {
            continue;
        }
        if !journal.pending()?.iter().any(|i| i.id == intent.id) {
            continue;
        }
        let (forward, _) = decide(&root, &intent)?;
        if !forward {
            journal.clear(&intent.id)?;
            tracing::info!(id = %intent.id, kind = %intent.kind, "recover: rolled back");
            report.rolled_back.push(intent.id);
        }
    }
    Ok(report)
}

/// Rolls one intent forward or back; returns whether it went forward.
fn resolve(project: &Project<'_>, intent: &Intent) -> Result<bool> {
    let (forward, backup_of) = decide(&project.root, intent)?;
    let paths: Vec<String> = intent
        .action
        .paths()
        .into_iter()
        .map(str::to_owned)
        .collect();
    let tx = project.db.begin_transaction()?;
    if forward && let Action::Move { from, to, .. } = &intent.action {
        let moved_row = tx
            .get_file_by_path(project.id, from)?
            .filter(|r| !r.deleted);
        let target_live = tx
            .get_file_by_path(project.id, to)?
            .is_some_and(|r| !r.deleted);
        if let (Some(row), false) = (moved_row, target_live) {
            tx.move_file(project.id, row.id, to)?;
        }
    }
    for p in &paths {
        sync_path(project, &tx, p)?;
    }
    if forward && !tx.command_landed(&intent.id)? {
        let store = BackupStore::new(&project.state);
        if let Some((path, sha)) = backup_of.filter(|(_, sha)| store.contains(sha)) {
            let size = store.get(&sha).map_or(0, |b| b.len());
            tx.add_file_backup(
                project.id,
                &FileBackup {
                    id: 0,
                    path,
                    sha256: sha,
                    size: i64::try_from(size).unwrap_or(i64::MAX),
                    command_id: intent.id.clone(),
                    command: intent.kind.clone(),
                    created_at: intent.created_at,
                },
            )?;
        }
        tx.record_command(
            project.id,
            &CommandRecord {
                id: intent.id.clone(),
                kind: intent.kind.clone(),
                paths: paths.clone(),
                message: intent.message.clone(),
                git_commit: None,
                created_at: intent.created_at,
            },
        )?;
    }
    tx.commit()?;
    if forward
        && intent.git
        && let Some(git) = &project.git
    {
        let refs: Vec<&str> = paths.iter().map(String::as_str).collect();
        if let Some(commit) = git.commit(&refs, &intent.message, true)? {
            project.db.execute(
                "UPDATE commands SET git_commit = ?2 WHERE id = ?1 AND git_commit IS NULL",
                params![intent.id.as_str(), commit.new.as_str()],
            )?;
        }
    }
    if !forward {
        // A backup taken for a command that did not land is not history.
        if let Some(sha) = unreferenced_backup(project, intent)? {
            BackupStore::new(&project.state).remove(&sha)?;
        }
    }
    Ok(forward)
}

/// The backup bytes `intent` stored, when no backup row references them.
fn unreferenced_backup(project: &Project<'_>, intent: &Intent) -> Result<Option<String>> {
    let sha = match &intent.action {
        Action::Write { old_sha256, .. } => old_sha256.clone(),
        Action::Delete { old_sha256, .. } => Some(old_sha256.clone()),
        Action::Move { sha256, .. } => Some(sha256.clone()),
    };
    match sha {
        Some(sha) if !project.db.backup_referenced(&sha)? => Ok(Some(sha)),
        _ => Ok(None),
    }
}

/// Brings the database's row of `rel` to the bytes on disk (re-parsing them when they
/// differ); a missing file's live row is soft-deleted.
pub(crate) fn sync_path(project: &Project<'_>, ex: &impl Executor, rel: &str) -> Result<()> {
    let abs = project.root.join(rel);
    let row = ex.get_file_by_path(project.id, rel)?;
    match std::fs::read(&abs) {
        Ok(bytes) => {
            let sha = sha256_hex(&bytes);
            if row
                .as_ref()
                .is_some_and(|r| !r.deleted && r.meta.sha256 == sha)
            {
                return Ok(());
            }
            let Some(language) = lang::detect(Path::new(rel)) else {
                return Ok(());
            };
            let meta = std::fs::metadata(&abs).map_err(|e| CommandError::io("stat", &abs, e))?;
            let text = String::from_utf8_lossy(&bytes).into_owned();
            let parsed = lang::parse(language, &bytes);
            let file = FileMeta {
                path: rel.to_owned(),
                language: Some(language.name.to_owned()),
                size: i64::try_from(bytes.len()).unwrap_or(i64::MAX),
                mtime_ns: crate::indexer::mtime_ns(&meta),
                sha256: sha,
                lines: i64::try_from(text.lines().count()).unwrap_or(i64::MAX),
            };
            ex.update_file_data_atomic(project.id, &file, &text, &parsed)?;
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if let Some(r) = row.filter(|r| !r.deleted) {
                ex.mark_file_deleted(r.id)?;
            }
        }
        Err(e) => return Err(CommandError::io("read", &abs, e)),
    }
    Ok(())
}

/// One violation of the invariant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mismatch {
    /// Relative path.
    pub path: String,
    /// `sha256_differs`, `missing`, `temp_file`, `uncommitted`.
    pub problem: String,
    /// Details.
    pub detail: String,
}

/// What `verify` found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    /// Live file rows checked against the disk.
    pub files_checked: usize,
    /// Every violation.
    pub mismatches: Vec<Mismatch>,
    /// Intents left in the journal.
    pub pending_intents: usize,
}

impl VerifyReport {
    /// Whether the invariant holds.
    pub fn is_clean(&self) -> bool {
        self.mismatches.is_empty() && self.pending_intents == 0
    }
}

/// Checks the invariant (see the module docs); changes nothing.
pub fn verify(project: &Project<'_>) -> Result<VerifyReport> {
    let mut report = VerifyReport::default();
    let files = project.db.list_files(project.id, false)?;
    let mut agreed = std::collections::HashSet::new();
    for f in &files {
        report.files_checked += 1;
        match disk_sha(&project.root, &f.meta.path)? {
            None => report.mismatches.push(Mismatch {
                path: f.meta.path.clone(),
                problem: "missing".into(),
                detail: "the database has a live row, the disk has no file".into(),
            }),
            Some(sha) if sha != f.meta.sha256 => report.mismatches.push(Mismatch {
                path: f.meta.path.clone(),
                problem: "sha256_differs".into(),
                detail: format!("database {}, disk {sha}", f.meta.sha256),
            }),
            Some(_) => {
                agreed.insert(f.meta.path.clone());
            }
        }
    }
    let walker = ignore::WalkBuilder::new(&project.root)
        .hidden(false)
        .git_ignore(false)
        .ignore(false)
        .parents(false)
        .follow_links(false)
        .filter_entry(|e| !matches!(e.file_name().to_str(), Some(".git" | ".codedb")))
        .build();
    for entry in walker.flatten() {
        let name = entry.file_name().to_string_lossy();
        if name.contains(".codedb-tmp-") {
            let rel = entry
                .path()
                .strip_prefix(&project.root)
                .unwrap_or(entry.path())
                .to_string_lossy()
                .replace('\\', "/");
            report.mismatches.push(Mismatch {
                path: rel,
                problem: "temp_file".into(),
                detail: "a codedb temp file left in the tree".into(),
            });
        }
    }
    if let Some(git) = &project.git {
        let written: Vec<String> = project
            .db
            .commanded_paths(project.id)?
            .into_iter()
            .filter(|p| agreed.contains(p) || !project.root.join(p).exists())
            .collect();
        for path in git.dirty(&written)? {
            report.mismatches.push(Mismatch {
                path,
                problem: "uncommitted".into(),
                detail: "codedb wrote this file and git does not have it committed".into(),
            });
        }
    }
    report.pending_intents = Journal::new(&project.state).count()?;
    Ok(report)
}
