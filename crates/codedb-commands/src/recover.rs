//! `recover` and `verify`.
//!
//! `recover` resolves every intent a dead command left in the journal. The disk decides:
//! if the command's commit point (its rename or unlink; for a command on several files, its
//! intent rewritten as `committed`) happened, the command is rolled forward (the database is brought to the file's bytes, its backup and log rows are
//! written if they were lost, the paths are committed to git if they are not); otherwise it
//! is rolled back (its temp file removed, and the files of a command on several files that
//! were already replaced put back; the database, whose transaction never committed, already
//! agrees). Intents whose files are locked by a live command are left alone. Every
//! write command runs it first.
//!
//! `verify` checks the invariant: for every live file row, the sha256 of the file on disk is
//! the row's `sha256`; no codedb temp file is left in the tree; nothing codedb wrote is left
//! uncommitted in git; no intent is pending.

use std::path::Path;

use codedb_core::history::{CommandRecord, FileBackup, HistoryStore};
use codedb_core::store::FileMeta;
use codedb_core::{CodeStore, Executor};
use serde::Serialize;

use crate::backups::BackupStore;
use crate::durable::{
    read_if_present, remove_if_present, sha256_hex, temp_file_held, temp_file_id,
};
use crate::error::{CommandError, Result};
use crate::git::{Blob, Change};
use crate::journal::{Action, Intent, Journal};
use crate::lang;
use crate::locks::{FileLock, try_lock_at};
use crate::pipeline::discard;
use crate::project::Project;
use crate::visibility::Visibility;

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
    /// Commands it could not finish (their intents stay): what failed.
    pub failed: Vec<Unfinished>,
}

/// An interrupted command `recover` could not finish.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unfinished {
    /// The command's id.
    pub id: String,
    /// The paths it touches.
    pub paths: Vec<String>,
    /// Why it could not be finished.
    pub error: String,
}

/// Runs [`recover_intents`], then refuses to go on when an interrupted command that could
/// not be finished touches one of `paths`: what the next command does to a file must not
/// depend on a command half done on it. Commands on other files go on.
pub(crate) fn recover_before(project: &Project, paths: &[&str]) -> Result<()> {
    let report = recover_intents(project)?;
    if let Some(u) = report
        .failed
        .into_iter()
        .find(|u| u.paths.iter().any(|p| paths.contains(&p.as_str())))
    {
        let path = u
            .paths
            .iter()
            .find(|p| paths.contains(&p.as_str()))
            .cloned()
            .unwrap_or_default();
        return Err(CommandError::Unfinished {
            path,
            id: u.id,
            error: u.error,
        });
    }
    Ok(())
}

/// Resolves every leftover intent (see the module docs), then sweeps what a command killed
/// before it wrote its intent can leave: temp files in the tree (when no live command holds
/// their file) and backup bytes no row or intent references (when older than a minute, so
/// that a live command's fresh backup is never taken).
pub fn recover(project: &Project) -> Result<RecoverReport> {
    let mut report = recover_intents(project)?;
    report.swept = sweep(project)?;
    Ok(report)
}

/// The leftover temp files and unreferenced backup bytes (see [`recover`]); returns how
/// many were removed. A temp file is removed when no intent names it and its command holds
/// no lock on it (it is dead): a command killed before its intent wrote only its new
/// content there. (A command that has just created its temp file and not yet locked it
/// would find it gone and fail before its commit point, changing nothing.)
fn sweep(project: &Project) -> Result<usize> {
    let journal = Journal::new(&project.state);
    let pending = journal.pending()?;
    let mut removed = 0;
    for temp in temp_files(&project.root) {
        let named = |i: &Intent| {
            i.actions.iter().any(|a| match a {
                Action::Write { temp: t, .. } => t.as_deref() == Some(temp.name.as_str()),
                Action::Delete { aside, .. } => aside.as_deref() == Some(temp.name.as_str()),
                Action::Move { .. } => false,
            })
        };
        if pending.iter().any(named) || temp_file_held(&temp.path) || journal.is_pending(&temp.id) {
            continue;
        }
        remove_if_present(&temp.path, "remove the stale temp file")?;
        tracing::info!(path = %temp.path.display(), "recover: removed a stale temp file");
        removed += 1;
    }
    let store = BackupStore::new(&project.state);
    let claimed: Vec<&str> = pending
        .iter()
        .flat_map(|i| {
            i.actions
                .iter()
                .filter_map(|a| a.backup().map(|(_, sha)| sha))
        })
        .collect();
    for (sha, age) in store.list()? {
        if age.as_secs() > 60
            && !claimed.contains(&sha.as_str())
            && !project.db.backup_referenced(project.id, &sha)?
        {
            store.remove(&sha)?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// A codedb temp file found in the tree.
struct TempFile {
    path: std::path::PathBuf,
    /// Its file name.
    name: String,
    /// Its path relative to the root.
    rel: String,
    /// The id of the command that wrote it.
    id: String,
}

/// Every codedb temp file in the tree under `root` (`.git/` and `.codedb/` aside; hidden and
/// ignored files included: a temp file is hidden, and may be written beside an ignored file).
fn temp_files(root: &Path) -> Vec<TempFile> {
    let rel = |p: &Path| crate::durable::relative_path(root, p);
    ignore::WalkBuilder::new(root)
        .hidden(false)
        .git_ignore(false)
        .ignore(false)
        .parents(false)
        .follow_links(false)
        .filter_entry(|e| !matches!(e.file_name().to_str(), Some(".git" | ".codedb")))
        .build()
        .flatten()
        .filter(|entry| entry.file_type().is_some_and(|t| t.is_file()))
        .filter_map(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            let id = temp_file_id(&name)?.to_owned();
            Some(TempFile {
                rel: rel(entry.path()),
                id,
                path: entry.into_path(),
                name,
            })
        })
        .collect()
}

/// Resolves every leftover intent (what every write command does first).
pub(crate) fn recover_intents(project: &Project) -> Result<RecoverReport> {
    let journal = Journal::new(&project.state);
    let mut report = RecoverReport::default();
    // Private indexes a killed command left, whether or not it recorded its intent.
    if let Some(git) = &project.git {
        git.clean_private_indexes();
    }
    let pending = journal.pending()?;
    if pending.is_empty() {
        return Ok(report);
    }
    for intent in pending {
        let Some(locks) = lock_intent(&project.state, &journal, &intent, &mut report)? else {
            continue;
        };
        // One intent that cannot be finished (git refuses, the disk is full) is reported and
        // left; it does not stop the others, nor commands on other files.
        let forward = match resolve(project, &intent) {
            Ok(forward) => forward,
            Err(e) => {
                tracing::warn!(id = %intent.id, kind = %intent.kind, "recover: cannot finish: {e}");
                report.failed.push(Unfinished {
                    id: intent.id.clone(),
                    paths: intent.paths().into_iter().map(str::to_owned).collect(),
                    error: e.to_string(),
                });
                continue;
            }
        };
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

/// The locks of every file of `intent`, when no live command holds any of them (else it
/// is counted busy) and the intent is still there (its command may have finished
/// meanwhile): `None` means leave this intent alone.
fn lock_intent(
    state: &Path,
    journal: &Journal,
    intent: &Intent,
    report: &mut RecoverReport,
) -> Result<Option<Vec<FileLock>>> {
    let mut paths: Vec<&str> = intent.paths();
    paths.sort_unstable();
    paths.dedup();
    let mut locks = Vec::new();
    for p in paths {
        match try_lock_at(state, p)? {
            Some(l) => locks.push(l),
            None => {
                report.busy += 1;
                return Ok(None);
            }
        }
    }
    Ok(journal.is_pending(&intent.id).then_some(locks))
}

fn disk_sha(root: &Path, rel: &str) -> Result<Option<String>> {
    Ok(read_if_present(&root.join(rel))?.map(|b| sha256_hex(&b)))
}

/// Whether `intent`'s command passed its commit point. A command whose database
/// transaction committed (`landed`) surely did; otherwise the disk tells, by what is where,
/// never by whether the file still holds the command's bytes (another program may have
/// written to it since):
/// * a write: its temp file holds the new content until the swap and the displaced bytes
///   after it, and is gone once the command cleaned up (or after a plain rename);
/// * a delete: the file taken aside, or gone;
/// * a move: the file gone from `from`, or at `to` with the moved bytes.
/// * several files: the intent's `committed` mark, written once every file was replaced.
fn passed_commit_point(root: &Path, intent: &Intent, landed: bool) -> Result<bool> {
    if landed {
        return Ok(true);
    }
    let [action] = intent.actions.as_slice() else {
        return Ok(intent.committed);
    };
    Ok(match action {
        Action::Write {
            path,
            new_sha256,
            temp,
            ..
        } => match temp {
            Some(name) => read_if_present(&root.join(path).with_file_name(name))?
                .is_none_or(|bytes| sha256_hex(&bytes) != *new_sha256),
            // Only the database and git were to be brought to the file.
            None => true,
        },
        Action::Delete { path, aside, .. } => {
            aside
                .as_ref()
                .is_some_and(|a| root.join(path).with_file_name(a).exists())
                || disk_sha(root, path)?.is_none()
        }
        Action::Move { from, to, sha256 } => match (disk_sha(root, from)?, disk_sha(root, to)?) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(_), Some(at_to)) => at_to == *sha256,
        },
    })
}

/// Whether the file `intent`'s command backed up still holds those bytes: only then can a
/// rolled-back command's backup go (else it is the only copy of what the file held).
fn still_holds_backup(root: &Path, path: &str, sha: &str) -> Result<bool> {
    Ok(disk_sha(root, path)?.as_deref() == Some(sha))
}

/// Puts back every file of `intent` (a command on several files that did not reach its
/// commit point) that its command already replaced: where the temp file holds the bytes
/// the replacement displaced, the two are swapped back (the temp name then holds the new
/// content, or what another program wrote to the file since, for [`discard`]); where a
/// plain rename replaced the file (no exchange on this file system) and it still holds the
/// command's bytes, the backed-up bytes are written back. A file never replaced is left.
/// The in-process undo of such a command runs this too.
pub(crate) fn put_back(project: &Project, intent: &Intent) -> Result<()> {
    put_back_files(&project.root, &project.state, intent)
}

/// Removes what `intent`'s command left beside its files (its temp files, the bytes it
/// displaced); another program's bytes found there are kept as backups first.
pub(crate) fn discard_leftovers(project: &Project, intent: &Intent) -> Result<()> {
    let known = known_shas(intent);
    for (path, rel) in leftovers(&project.root, intent) {
        discard(project, &path, &rel, &known, &intent.id, intent.kind)?;
    }
    Ok(())
}

fn put_back_files(root: &Path, state: &Path, intent: &Intent) -> Result<()> {
    for action in &intent.actions {
        let Action::Write {
            path,
            old_sha256: Some(old_sha256),
            new_sha256,
            temp: Some(temp),
        } = action
        else {
            continue;
        };
        let target = root.join(path);
        let temp = target.with_file_name(temp);
        match read_if_present(&temp)? {
            Some(bytes) if sha256_hex(&bytes) == *new_sha256 => {}
            Some(_) => crate::swap::put_back(&temp, &target)?,
            None if disk_sha(root, path)?.as_deref() == Some(new_sha256.as_str()) => {
                let old = BackupStore::new(state).get(old_sha256)?;
                crate::durable::replace_durably(&target, &temp, &old, "put back")?;
            }
            None => {}
        }
    }
    Ok(())
}

/// The files beside its target an interrupted command may have left: its temp file (the
/// new content before the commit point, the displaced old bytes after it) or the name a
/// delete moved the file to. With the path each belongs to, relative to the root.
fn leftovers(root: &Path, intent: &Intent) -> Vec<(std::path::PathBuf, String)> {
    let beside = |path: &str, name: &Option<String>| {
        name.as_ref()
            .map(|n| (root.join(path).with_file_name(n), path.to_owned()))
    };
    intent
        .actions
        .iter()
        .filter_map(|action| match action {
            Action::Write { path, temp, .. } => beside(path, temp),
            Action::Delete { path, aside, .. } => beside(path, aside),
            Action::Move { .. } => None,
        })
        .collect()
}

/// The sha256s of the bytes `intent`'s command wrote or backed up: a leftover holding
/// anything else holds another program's bytes.
fn known_shas(intent: &Intent) -> Vec<String> {
    let mut known = Vec::new();
    for action in &intent.actions {
        match action {
            Action::Write {
                old_sha256,
                new_sha256,
                ..
            } => known.extend(old_sha256.iter().chain([new_sha256]).cloned()),
            Action::Delete { old_sha256, .. } => known.push(old_sha256.clone()),
            Action::Move { sha256, .. } => known.push(sha256.clone()),
        }
    }
    known
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
    'intents: for intent in journal.pending()? {
        let Some(_locks) = lock_intent(&state, &journal, &intent, &mut report)? else {
            continue;
        };
        if passed_commit_point(&root, &intent, false)? {
            continue;
        }
        if intent.is_batch() {
            put_back_files(&root, &state, &intent)?;
        }
        // Rolled back: its leftovers go, unless one holds bytes that must be kept as a
        // backup, which needs the database (`recover` does it).
        let known = known_shas(&intent);
        let files = leftovers(&root, &intent);
        for (path, _) in &files {
            if read_if_present(path)?.is_some_and(|b| !known.contains(&sha256_hex(&b))) {
                continue 'intents;
            }
        }
        for (path, _) in &files {
            remove_if_present(path, "remove the temp file")?;
        }
        journal.clear(&intent.id)?;
        tracing::info!(id = %intent.id, kind = %intent.kind, "recover: rolled back");
        report.rolled_back.push(intent.id);
    }
    Ok(report)
}

/// Rolls one intent forward or back; returns whether it went forward.
fn resolve(project: &Project, intent: &Intent) -> Result<bool> {
    let landed = project.db.command_landed(&intent.id)?;
    let forward = passed_commit_point(&project.root, intent, landed)?;
    if !forward && intent.is_batch() {
        // Files already replaced go back before the database is brought to the disk.
        put_back(project, intent)?;
    }
    let paths: Vec<String> = intent.paths().into_iter().map(str::to_owned).collect();
    let tx = project.db.begin_project_transaction(project.id)?;
    if forward && let [Action::Move { from, to, .. }] = intent.actions.as_slice() {
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
    let visibility = Visibility::new(&project.root);
    for p in &paths {
        sync_path(project, &visibility, &tx, p)?;
    }
    if forward && !tx.command_landed(&intent.id)? {
        let store = BackupStore::new(&project.state);
        for (path, sha) in intent
            .actions
            .iter()
            .filter_map(Action::backup)
            .filter(|(_, sha)| store.contains(sha))
        {
            let size = store.get(sha).map_or(0, |b| b.len());
            tx.add_file_backup(
                project.id,
                &FileBackup {
                    id: 0,
                    path: path.to_owned(),
                    sha256: sha.to_owned(),
                    size: i64::try_from(size).unwrap_or(i64::MAX),
                    command_id: intent.id.clone(),
                    command: intent.kind.as_str().to_owned(),
                    created_at: intent.created_at,
                },
            )?;
        }
        tx.record_command(
            project.id,
            &CommandRecord {
                id: intent.id.clone(),
                kind: intent.kind.as_str().to_owned(),
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
        // The files as they are now: rolling forward brings git to the disk.
        let mut contents = Vec::new();
        for p in &paths {
            let abs = project.root.join(p);
            let executable = std::fs::metadata(&abs).is_ok_and(|m| {
                std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o111 != 0
            });
            contents.push((p.as_str(), read_if_present(&abs)?, executable));
        }
        let changes: Vec<Change<'_>> = contents
            .iter()
            .map(|(path, bytes, executable)| Change {
                path,
                content: bytes.as_deref().map(|bytes| Blob {
                    bytes,
                    executable: *executable,
                }),
            })
            .collect();
        if let Some(commit) = git.commit_if_changed(&changes, &intent.message)? {
            project.db.set_command_git_commit(&intent.id, &commit.new)?;
        }
    }
    discard_leftovers(project, intent)?;
    for (path, sha) in intent.actions.iter().filter_map(Action::backup) {
        if forward {
            break;
        }
        let store = BackupStore::new(&project.state);
        if still_holds_backup(&project.root, path, sha)? {
            // A backup taken for a command that did not land is not history.
            if !project.db.backup_referenced(project.id, sha)? {
                store.remove(sha)?;
            }
        } else if store.contains(sha) && !project.db.backup_referenced(project.id, sha)? {
            // The file no longer holds them (another program changed it): these bytes
            // exist nowhere else, so they stay, as a backup of the file.
            let bytes = store.get(sha)?;
            let tx = project.db.begin_project_transaction(project.id)?;
            crate::pipeline::keep_bytes(project, &tx, path, &bytes, &intent.id, intent.kind)?;
            tx.commit()?;
        }
    }
    Ok(forward)
}

/// Brings the database's row of `rel` to the bytes on disk (re-parsing them when they
/// differ); a missing file's live row is soft-deleted.
pub(crate) fn sync_path(
    project: &Project,
    visibility: &Visibility,
    ex: &impl Executor,
    rel: &str,
) -> Result<()> {
    let abs = project.root.join(rel);
    let row = ex.get_file_by_path(project.id, rel)?;
    let language = lang::detect(Path::new(rel)).filter(|_| visibility.path(rel).is_none());
    match std::fs::read(&abs) {
        Ok(bytes) => {
            let language = language.map(|l| lang::refine(l, Path::new(rel), &bytes));
            let sha = sha256_hex(&bytes);
            if row.as_ref().is_some_and(|r| {
                !r.deleted
                    && r.meta.sha256 == sha
                    && r.meta.language.as_deref() == language.map(|l| l.name)
            }) {
                return Ok(());
            }
            let Some(language) = language else {
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
            let before = crate::resolve::snapshot(ex, project.id, &[rel])?;
            ex.update_file_data_atomic(project.id, &file, &text, &parsed)?;
            let fresh = std::collections::HashMap::from([(rel.to_owned(), parsed.refs)]);
            crate::resolve::resolve_stored(ex, project.id, before, &[rel], fresh)?;
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if let Some(r) = row.filter(|r| !r.deleted) {
                let before = crate::resolve::snapshot(ex, project.id, &[rel])?;
                ex.mark_file_deleted(r.id)?;
                let fresh = std::collections::HashMap::new();
                crate::resolve::resolve_stored(ex, project.id, before, &[rel], fresh)?;
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
    /// `database_corrupt`, `sha256_differs`, `missing`, `ignored`, `not_indexable`,
    /// `not_indexed`, `temp_file`, `uncommitted`.
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
pub fn verify(project: &Project) -> Result<VerifyReport> {
    let mut report = VerifyReport::default();
    let corrupt = match project.db.integrity_problems() {
        Ok(problems) if problems.is_empty() => None,
        Ok(problems) => Some(problems.into_iter().take(5).collect::<Vec<_>>().join("; ")),
        Err(e) => Some(e.to_string()),
    };
    if let Some(detail) = corrupt {
        // Nothing else the database says can be trusted.
        report.mismatches.push(Mismatch {
            path: String::new(),
            problem: "database_corrupt".into(),
            detail: format!("the database's integrity check failed: {detail}"),
        });
        report.pending_intents = Journal::new(&project.state).count()?;
        return Ok(report);
    }
    let files = project.db.list_files(project.id, false)?;
    let visibility = Visibility::new(&project.root);
    let mut agreed = std::collections::HashSet::new();
    for f in &files {
        report.files_checked += 1;
        if let Some(hidden) = visibility.path(&f.meta.path) {
            report.mismatches.push(Mismatch {
                path: f.meta.path.clone(),
                problem: "ignored".into(),
                detail: format!("the database has a live row of a file the index leaves out ({hidden}); the next `codedb index` removes it"),
            });
            continue;
        }
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
    // The other way round: what the index would keep, and what it would drop.
    let mut skipped = Vec::new();
    let options = crate::IndexOptions {
        max_file_bytes: project.options.max_file_bytes,
        ..crate::IndexOptions::default()
    };
    let on_disk = crate::indexer::walk(&project.root, &options, &mut skipped);
    let live: std::collections::HashSet<&str> =
        files.iter().map(|f| f.meta.path.as_str()).collect();
    for c in on_disk.iter().filter(|c| !live.contains(c.rel.as_str())) {
        report.mismatches.push(Mismatch {
            path: c.rel.clone(),
            problem: "not_indexed".into(),
            detail: "a file the index sees has no live row; `codedb index` adds it".into(),
        });
    }
    for s in skipped.iter().filter(|s| live.contains(s.path.as_str())) {
        report.mismatches.push(Mismatch {
            path: s.path.clone(),
            problem: "not_indexable".into(),
            detail: format!("the database has a live row of a file the index skips ({}); the next `codedb index` removes it", s.reason),
        });
    }
    for temp in temp_files(&project.root) {
        report.mismatches.push(Mismatch {
            path: temp.rel,
            problem: "temp_file".into(),
            detail: "a codedb temp file left in the tree".into(),
        });
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
                detail: "codedb changed this file and its content now is not committed".into(),
            });
        }
    }
    report.pending_intents = Journal::new(&project.state).count()?;
    Ok(report)
}
