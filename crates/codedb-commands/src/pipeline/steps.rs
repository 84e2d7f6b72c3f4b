//! The one pipeline every write command runs, one function per step, in this order:
//!
//! 1. `preflight`: git refusals (a merge in progress, a detached HEAD) before anything
//!    changes; the git commit is built meanwhile on a thread (blobs, tree, commit object:
//!    a path git would leave out fails it), awaited before the commit point;
//! 2. `back_up`: the old bytes into the backup store ([`BackupStore`]);
//! 3. `write_temp`: the new content into a temp file beside the target, fsynced;
//! 4. `write_intent`: the intent record, fsynced ([`Journal`]);
//! 5. `update_database`: the rows, inside the command's transaction (not committed yet);
//! 6. `commit_point`: the file is checked once more and replaced (or removed, or moved) in
//!    one atomic step that tells which bytes it displaced ([`crate::swap`]); another
//!    program's change found there refuses the command as a conflict. A plan of several
//!    files (a rename across files) replaces each the same way, then rewrites its intent
//!    as `committed`: that rewrite is its commit point, and a failure before it puts back
//!    every file already replaced ([`crate::recover::put_back`], which `recover` runs too);
//! 7. `finish`: the git branch moved to the commit built in step 1 (of exactly the touched
//!    paths; built again if the branch moved meanwhile), the transaction committed, the
//!    displaced bytes removed, the intent cleared.
//!
//! A failure before the commit point undoes what was done (the transaction rolls back, the
//! temp file, the intent and a new backup blob are removed) and is reported as rolled back.
//! After the commit point the command has landed: a failing step is not undone, the
//! remaining steps still run, and the command reports [`CommandError::Landed`] with what is
//! left, its intent staying in the journal for `recover`, exactly as after a crash there.
//!
//! Bytes this command did not write and did not back up are never removed: a temp file or
//! a displaced inode that holds anything else is kept as a backup of its file first.
//!
//! With the `failpoints` feature, a failpoint after each step (`cmd-after-<step>`, steps
//! `validate`, `backup`, `temp`, `intent`, `db`, `rename`, `git`, `commit`; and `swap`
//! after each file's replacement in a plan of several files, before its commit point)
//! makes the step fail (`return`) or simulates a crash there (`return(crash)`: the command
//! stops without undoing anything, as if killed); `cmd-disk-full` makes writing the temp
//! file fail with ENOSPC.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use codedb_core::history::{CommandRecord, FileBackup, HistoryStore};
use codedb_core::store::FileMeta;
use codedb_core::{CodeStore, Transaction};

use super::{Change, CommandKind, CommandReport, Plan};
use crate::backups::BackupStore;
use crate::durable::{TempFile, now_ms, remove_if_present, sha256_hex, sync_dir, temp_name};
use crate::error::{CommandError, LeftOver, Result};
use crate::git::{Blob, Change as GitChange, OwnedChange, Prepared};
use crate::journal::{Action, Intent, Journal, new_id};
use crate::lang::LanguageDef;
use crate::locks::FileLock;
use crate::project::Project;
use crate::swap::{self, Displaced, Refused, Seen};

/// Runs the pipeline for `plan` (see the module docs), holding `locks` throughout.
pub(super) fn run(
    project: &Project,
    kind: CommandKind,
    message: String,
    plan: Plan,
    locks: Vec<FileLock>,
) -> Result<CommandReport> {
    let id = new_id();
    let _span = tracing::info_span!("command", kind = %kind, id = %id).entered();
    let mut command = Command {
        project,
        id,
        kind,
        message,
        plan,
        done: Done::default(),
        intent: None,
        left: Vec::new(),
        git_prepared: None,
        prepared: None,
    };
    let result = command.steps();
    let outcome = match result {
        Ok(report) => {
            command.prune();
            Ok(report)
        }
        Err(Fault::Crash(step)) => Err(CommandError::SimulatedCrash(step)),
        Err(Fault::Landed(e)) => Err(e),
        Err(Fault::Stuck(e)) => Err(CommandError::UndoFailed {
            error: Box::new(CommandError::Conflict {
                path: command.first_path(),
                reason: "changed by another program while the command ran".into(),
            }),
            undo: Box::new(e),
        }),
        Err(Fault::Fail(error)) => {
            let anything = command.done.anything();
            match command.undo() {
                Ok(()) if anything => Err(CommandError::RolledBack {
                    error: Box::new(error),
                }),
                Ok(()) => Err(error),
                Err(u) => Err(CommandError::UndoFailed {
                    error: Box::new(error),
                    undo: Box::new(u),
                }),
            }
        }
    };
    drop(locks);
    outcome
}

/// How a step ended early.
enum Fault {
    /// Before the commit point: undo.
    Fail(CommandError),
    /// A simulated crash: leave everything, as `kill -9` would.
    #[cfg_attr(not(feature = "failpoints"), allow(dead_code))]
    Crash(&'static str),
    /// The command landed with steps left (the error says which): nothing to undo.
    Landed(CommandError),
    /// The commit point found another program's bytes and could not put them back: the
    /// intent stays for `recover`, which keeps them.
    Stuck(CommandError),
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
                Err(Fault::Fail(CommandError::InjectedFault(step)))
            }
        });
    }
    let _ = step;
    Ok(())
}

/// What has been done so far, for the undo.
#[derive(Default)]
struct Done {
    blobs_created: Vec<String>,
    created_dirs: Vec<PathBuf>,
    /// The temp file of each change that has one (by its index in the plan), until the
    /// commit point takes it.
    temps: Vec<(usize, TempFile)>,
    intent: bool,
    /// A plan of several files started replacing them: the undo puts them back.
    swapping: bool,
}

impl Done {
    fn anything(&self) -> bool {
        !self.blobs_created.is_empty() || !self.temps.is_empty() || self.intent
    }
}

/// An inode displaced at the commit point, to be kept (if it holds late bytes) and removed
/// once the command has landed.
struct DisplacedAt {
    /// The index of its change in the plan.
    change: usize,
    /// The name it is at: the temp file's, or the aside name of a deleted file.
    path: PathBuf,
    /// The open inode.
    inode: Displaced,
}

/// One running command.
struct Command<'p> {
    project: &'p Project,
    id: String,
    kind: CommandKind,
    message: String,
    plan: Plan,
    done: Done,
    /// The intent once written (a plan of several files rewrites it at its commit point).
    intent: Option<Intent>,
    /// Steps after the commit point that failed (left for `recover`).
    left: Vec<LeftOver>,
    /// The git commit, built in `preflight` on a thread (blobs, tree, commit object), and
    /// once awaited before the commit point, what it built.
    git_prepared: Option<std::thread::JoinHandle<Result<Prepared>>>,
    prepared: Option<Prepared>,
}

/// The backup a command took: the path, the bytes' sha256, their size.
struct Backup {
    rel: String,
    sha256: String,
    size: usize,
}

impl Command<'_> {
    fn steps(&mut self) -> std::result::Result<CommandReport, Fault> {
        after("validate")?;
        self.preflight()?;
        let backups = self.back_up()?;
        after("backup")?;
        let actions = self.write_temp()?;
        after("temp")?;
        let created_at = self.write_intent(actions)?;
        after("intent")?;
        // New identifiers go into the shared `names` table before the transaction, so that
        // it never waits for another project's writer (PostgreSQL; nothing on SQLite).
        self.project.db.commit_names(self.plan.parsed())?;
        let tx = self.project.db.begin_project_transaction(self.project.id)?;
        let backups = self.update_database(&tx, created_at, &backups)?;
        after("db")?;
        self.paths_checked()?;
        let displaced = self.commit_point()?;
        // The command has landed: from here nothing is undone.
        self.finish(tx, displaced, backups)
    }

    /// Whether the command only brings git and the database to bytes the file already
    /// holds (git may have them too: no empty commit is made).
    fn is_sync(&self) -> bool {
        matches!(self.plan.changes.as_slice(), [Change::Sync { .. }])
    }

    fn first_path(&self) -> String {
        self.plan
            .paths()
            .first()
            .map(|p| p.rel.clone())
            .unwrap_or_default()
    }

    /// Step 1: git refusals come before anything changes. The commit is built on a thread
    /// meanwhile (blobs, tree, commit object: [`crate::git::Git::prepare`]), and awaited
    /// before the commit point ([`Self::paths_checked`]).
    fn preflight(&mut self) -> Result<()> {
        if let Some(git) = &self.project.git {
            git.preflight()?;
            let git = git.clone();
            // Owned for the thread: each path and the bytes the commit will hold.
            let changes: Vec<OwnedChange> =
                self.git_changes().iter().map(OwnedChange::of).collect();
            let message = self.message.clone();
            let skip_unchanged = self.is_sync();
            self.git_prepared = Some(std::thread::spawn(move || {
                let changes: Vec<GitChange<'_>> =
                    changes.iter().map(OwnedChange::as_change).collect();
                git.prepare(&changes, &message, skip_unchanged)
            }));
        }
        Ok(())
    }

    /// A path git would leave out of the commit (or bytes it cannot store) fails the
    /// command here, before its commit point: undone, instead of landed with a commit that
    /// misses it.
    fn paths_checked(&mut self) -> Result<()> {
        match self.git_prepared.take().map(std::thread::JoinHandle::join) {
            None => Ok(()),
            Some(Ok(Ok(prepared))) => {
                self.prepared = Some(prepared);
                Ok(())
            }
            Some(Ok(Err(e))) => Err(e),
            Some(Err(_)) => Err(CommandError::Git {
                step: "checking the paths".into(),
                message: "the check panicked".into(),
            }),
        }
    }

    /// Step 2: the old bytes of each file into the backup store.
    fn back_up(&mut self) -> Result<Vec<Backup>> {
        let store = BackupStore::new(&self.project.state);
        let mut backups = Vec::new();
        for (path, seen) in self.plan.backups() {
            let (sha256, created) = store.put(&seen.bytes)?;
            if created {
                self.done.blobs_created.push(sha256.clone());
            }
            backups.push(Backup {
                rel: path.rel.clone(),
                sha256,
                size: seen.bytes.len(),
            });
        }
        Ok(backups)
    }

    /// Step 3: the new content of each file into a temp file beside it (missing
    /// directories made); returns what the intent records.
    fn write_temp(&mut self) -> Result<Vec<Action>> {
        let mut actions = Vec::with_capacity(self.plan.changes.len());
        for i in 0..self.plan.changes.len() {
            let action = self.write_temp_of(i)?;
            actions.push(action);
        }
        Ok(actions)
    }

    fn write_temp_of(&mut self, i: usize) -> Result<Action> {
        Ok(match &self.plan.changes[i] {
            Change::Write {
                path,
                old,
                content,
                new_sha,
                ..
            } => {
                create_dirs(path.dir(), &self.project.root, &mut self.done.created_dirs)?;
                let name = temp_name(&path.abs, &self.id);
                #[cfg(feature = "failpoints")]
                fail::fail_point!("cmd-disk-full", |_| Err(CommandError::io(
                    "write",
                    &path.dir().join(&name),
                    std::io::Error::from_raw_os_error(28),
                )));
                let temp = TempFile::write(
                    path.dir(),
                    &name,
                    content.as_bytes(),
                    old.as_ref().map(|o| o.permissions.clone()),
                )?;
                self.done.temps.push((i, temp));
                Action::Write {
                    path: path.rel.clone(),
                    old_sha256: old.as_ref().map(|o| o.sha256.clone()),
                    new_sha256: new_sha.clone(),
                    temp: Some(name),
                }
            }
            Change::Sync { path, seen, .. } => Action::Write {
                path: path.rel.clone(),
                old_sha256: Some(seen.sha256.clone()),
                new_sha256: seen.sha256.clone(),
                temp: None,
            },
            Change::Delete { path, old } => Action::Delete {
                path: path.rel.clone(),
                old_sha256: old.sha256.clone(),
                aside: Some(temp_name(&path.abs, &self.id)),
            },
            Change::Move { from, to, old, .. } => {
                create_dirs(to.dir(), &self.project.root, &mut self.done.created_dirs)?;
                Action::Move {
                    from: from.rel.clone(),
                    to: to.rel.clone(),
                    sha256: old.sha256.clone(),
                }
            }
        })
    }

    /// Step 4: the intent record, fsynced; returns its time.
    fn write_intent(&mut self, actions: Vec<Action>) -> Result<i64> {
        let intent = Intent {
            id: self.id.clone(),
            kind: self.kind,
            message: self.message.clone(),
            git: self.project.git.is_some(),
            pid: std::process::id(),
            created_at: now_ms(),
            actions,
            committed: false,
        };
        Journal::new(&self.project.state).write(&intent)?;
        self.done.intent = true;
        let created_at = intent.created_at;
        self.intent = Some(intent);
        Ok(created_at)
    }

    /// Step 5: the rows, in the command's transaction: the backups, the files' data (and
    /// the references that depend on them), the log.
    fn update_database(
        &self,
        tx: &Transaction<'_>,
        created_at: i64,
        backup: &[Backup],
    ) -> Result<Vec<i64>> {
        let project = self.project;
        let mut backups = Vec::new();
        for b in backup {
            backups.push(tx.add_file_backup(
                project.id,
                &FileBackup {
                    id: 0,
                    path: b.rel.clone(),
                    sha256: b.sha256.clone(),
                    size: i64::try_from(b.size).unwrap_or(i64::MAX),
                    command_id: self.id.clone(),
                    command: self.kind.as_str().to_owned(),
                    created_at,
                },
            )?);
        }
        // What the files offered the others before: the references that depend on them
        // are resolved again in this transaction.
        let paths: Vec<&str> = self.plan.paths().iter().map(|p| p.rel.as_str()).collect();
        let before = crate::resolve::snapshot(tx, project.id, &paths)?;
        for (i, change) in self.plan.changes.iter().enumerate() {
            self.store_change(tx, i, change)?;
        }
        let fresh = self.plan.parsed_refs();
        crate::resolve::resolve_stored(tx, project.id, before, &paths, fresh)?;
        tx.record_command(
            project.id,
            &CommandRecord {
                id: self.id.clone(),
                kind: self.kind.as_str().to_owned(),
                paths: self.rel_paths(),
                message: self.message.clone(),
                git_commit: None,
                created_at,
            },
        )?;
        Ok(backups)
    }

    /// The rows of one change (the `i`th of the plan).
    fn store_change(&self, tx: &Transaction<'_>, i: usize, change: &Change) -> Result<()> {
        let project = self.project;
        match change {
            Change::Write {
                path,
                content,
                lang,
                parsed,
                ..
            } => {
                let temp = self.temp_of(i).map_or(&path.abs, |t| &t.path);
                let meta = file_meta(&path.rel, lang, content.as_bytes(), temp)?;
                tx.update_file_data_atomic(project.id, &meta, content, parsed)?;
            }
            Change::Sync {
                path,
                seen,
                lang,
                parsed,
            } => {
                let meta = file_meta(&path.rel, lang, &seen.bytes, &path.abs)?;
                let text = String::from_utf8_lossy(&seen.bytes);
                tx.update_file_data_atomic(project.id, &meta, &text, parsed)?;
            }
            Change::Delete { path, .. } => {
                if let Some(row) = tx
                    .get_file_by_path(project.id, &path.rel)?
                    .filter(|r| !r.deleted)
                {
                    tx.mark_file_deleted(row.id)?;
                }
            }
            Change::Move {
                from,
                to,
                old,
                lang,
                parsed,
            } => {
                let meta = file_meta(&to.rel, lang, &old.bytes, &from.abs)?;
                let row = tx
                    .get_file_by_path(project.id, &from.rel)?
                    .filter(|r| !r.deleted);
                // Same bytes, same language, new path: the row moves with everything derived
                // from it (the entities keep their ids); only the path and the meta change.
                let keeps_entities = row.as_ref().is_some_and(|r| {
                    r.meta.sha256 == meta.sha256
                        && r.indexed_at.is_some()
                        && r.meta.language == meta.language
                });
                if let Some(row) = &row {
                    tx.move_file(project.id, row.id, &to.rel)?;
                }
                if keeps_entities {
                    tx.add_file(project.id, &meta)?;
                } else {
                    let text = String::from_utf8_lossy(&old.bytes);
                    tx.update_file_data_atomic(project.id, &meta, &text, parsed)?;
                }
            }
        }
        Ok(())
    }

    /// The temp file of the `i`th change, until the commit point takes it.
    fn temp_of(&self, i: usize) -> Option<&TempFile> {
        self.done
            .temps
            .iter()
            .find(|(j, _)| *j == i)
            .map(|(_, t)| t)
    }

    fn rel_paths(&self) -> Vec<String> {
        self.plan.paths().iter().map(|p| p.rel.clone()).collect()
    }

    /// Step 6: the commit point (see [`crate::swap`]); returns the displaced inodes to
    /// remove once the command has landed. One file: its replacement is the commit point.
    /// Several: each is replaced (checked again, as one file is), then the intent is
    /// rewritten as `committed`, the commit point; a failure before that puts every file
    /// back (in `undo`).
    fn commit_point(&mut self) -> std::result::Result<Vec<DisplacedAt>, Fault> {
        if !self.plan.is_batch() {
            return Ok(self.replace(0)?.into_iter().collect());
        }
        self.done.swapping = true;
        let mut displaced = Vec::new();
        for i in 0..self.plan.changes.len() {
            displaced.extend(self.replace(i)?);
            after("swap")?;
        }
        // The commit point: the intent rewritten (temp file, fsync, rename) as committed.
        if let Some(intent) = &mut self.intent {
            intent.committed = true;
            Journal::new(&self.project.state).write(intent)?;
        }
        // The command has landed: nothing is put back any more.
        self.done.swapping = false;
        Ok(displaced)
    }

    /// Replaces (or removes, or moves) the file of the `i`th change, checked once more;
    /// returns the displaced inode, if any.
    fn replace(&mut self, i: usize) -> std::result::Result<Option<DisplacedAt>, Fault> {
        let refused = |r: Refused, rel: &str| match r {
            Refused::Changed => Fault::Fail(swap::changed_meanwhile(rel)),
            Refused::Failed(e) => Fault::Fail(e),
            Refused::Stuck(e) => Fault::Stuck(e),
        };
        let displaced = match &self.plan.changes[i] {
            Change::Write { path, old, .. } => {
                let temp = match self.temp_of(i) {
                    Some(t) => {
                        if old.is_some() {
                            t.take_metadata_of(&path.abs)?;
                        }
                        t.path.clone()
                    }
                    None => PathBuf::new(),
                };
                let displaced = match old {
                    Some(old) => swap::replace(&temp, &path.abs, old)
                        .map_err(|r| refused(r, &path.rel))?
                        .map(|inode| DisplacedAt {
                            change: i,
                            path: temp,
                            inode,
                        }),
                    None => {
                        if !swap::rename_noreplace(&temp, &path.abs)? {
                            return Err(Fault::Fail(CommandError::Conflict {
                                path: path.rel.clone(),
                                reason: "created by another program while the command ran; \
                                         nothing was changed"
                                    .into(),
                            }));
                        }
                        None
                    }
                };
                // The temp file's name now holds the displaced inode, or nothing.
                self.done.temps.retain(|(j, _)| *j != i);
                if let Err(e) = sync_dir(path.dir()) {
                    self.left.push(LeftOver::new("rename", e));
                }
                displaced
            }
            Change::Sync { path, seen, .. } => {
                if !swap::still_as_seen(&path.abs, seen)? {
                    return Err(Fault::Fail(swap::changed_meanwhile(&path.rel)));
                }
                None
            }
            Change::Delete { path, old } => {
                let aside = path.dir().join(temp_name(&path.abs, &self.id));
                let inode =
                    swap::take_away(&path.abs, &aside, old).map_err(|r| refused(r, &path.rel))?;
                if let Err(e) = sync_dir(path.dir()) {
                    self.left.push(LeftOver::new("rename", e));
                }
                Some(DisplacedAt {
                    change: i,
                    path: aside,
                    inode,
                })
            }
            Change::Move { from, to, old, .. } => {
                // The moved inode is the file itself at its new name: nothing to remove.
                swap::take_away(&from.abs, &to.abs, old).map_err(|r| match r {
                    Refused::Failed(CommandError::AlreadyExists(_)) => {
                        Fault::Fail(CommandError::Conflict {
                            path: to.rel.clone(),
                            reason: "created by another program while the command ran; \
                                     nothing was changed"
                                .into(),
                        })
                    }
                    other => refused(other, &from.rel),
                })?;
                for dir in [to.dir(), from.dir()] {
                    if let Err(e) = sync_dir(dir) {
                        self.left.push(LeftOver::new("rename", e));
                    }
                }
                None
            }
        };
        Ok(displaced)
    }

    fn report(&self, backups: Vec<i64>, git_commit: Option<String>) -> CommandReport {
        // One file's new sha256 (several files' are the caller's to report).
        let sha256 = match self.plan.changes.as_slice() {
            [Change::Write { new_sha, .. }] => Some(new_sha.clone()),
            [Change::Sync { seen, .. } | Change::Move { old: seen, .. }] => {
                Some(seen.sha256.clone())
            }
            _ => None,
        };
        CommandReport {
            command_id: Some(self.id.clone()),
            kind: self.kind,
            paths: self.rel_paths(),
            sha256,
            backups,
            git_commit,
            unchanged: false,
            rename: None,
        }
    }

    /// Step 7, after the commit point: git, the transaction, the displaced bytes, the
    /// intent. Every step runs even when one before it failed; what failed is left for
    /// `recover`.
    fn finish(
        &mut self,
        tx: Transaction<'_>,
        mut displaced: Vec<DisplacedAt>,
        mut backups: Vec<i64>,
    ) -> std::result::Result<CommandReport, Fault> {
        let mut left = std::mem::take(&mut self.left);
        let mut note = |step: &'static str, r: std::result::Result<(), Fault>| match r {
            Ok(()) => Ok(true),
            Err(Fault::Fail(e) | Fault::Landed(e) | Fault::Stuck(e)) => {
                left.push(LeftOver::new(step, e));
                Ok(false)
            }
            Err(crash) => Err(crash),
        };
        note("rename", after("rename"))?;
        let mut git_commit = None;
        // The user's index entries, set while the transaction commits; awaited below.
        let mut index_refresh = None;
        if let Some(git) = &self.project.git {
            let committed = match self.prepared.take() {
                Some(prepared) => {
                    git.commit_prepared(prepared, &self.message)
                        .map(|(commit, refresh)| {
                            index_refresh = Some(refresh);
                            commit
                        })
                }
                // Not prepared ahead (no step awaited it): made now.
                None if self.is_sync() => git.commit_if_changed(&self.git_changes(), &self.message),
                None => git
                    .entries(&self.git_changes())
                    .and_then(|entries| git.commit_entries(&entries, &self.message))
                    .map(Some),
            };
            match committed {
                Ok(commit) => git_commit = commit.map(|c| c.new),
                Err(e) => {
                    note("git commit", Err(Fault::Fail(e)))?;
                }
            }
            if let Some(commit) = &git_commit {
                let recorded = tx.set_command_git_commit(&self.id, commit);
                note("database", recorded.map_err(|e| Fault::Fail(e.into())))?;
            }
        }
        note("git", after("git"))?;
        for d in &mut displaced {
            let kept = self.keep_late_bytes(&tx, d.change, &mut d.inode, &mut backups);
            note("keeping late bytes", kept.map_err(Fault::Fail))?;
        }
        let stored = note("database", tx.commit().map_err(|e| Fault::Fail(e.into())))?;
        note("commit", after("commit"))?;
        // The displaced bytes are backed up (or, when the database failed, left for
        // `recover`, which keeps what is not).
        for d in displaced.iter().filter(|_| stored) {
            note(
                "cleanup",
                remove_if_present(&d.path, "remove the displaced file")
                    .map(drop)
                    .map_err(Fault::Fail),
            )?;
        }
        if let (Some(git), Some(refresh)) = (&self.project.git, index_refresh) {
            note("git index", git.refreshed(refresh).map_err(Fault::Fail))?;
        }
        let report = self.report(backups, git_commit);
        if !left.is_empty() {
            return Err(Fault::Landed(CommandError::Landed {
                report: Box::new(report),
                left,
            }));
        }
        if let Err(e) = Journal::new(&self.project.state).clear(&self.id) {
            // Harmless: the next `recover` finds everything done and clears it.
            tracing::warn!("the command landed but its intent record stays until `recover`: {e}");
        }
        Ok(report)
    }

    /// What the git commit makes of each touched path: exactly the bytes this command
    /// wrote (never re-read from the work tree, where another program may have written
    /// since), or the path removed.
    fn git_changes(&self) -> Vec<GitChange<'_>> {
        fn blob<'a>(bytes: &'a [u8], seen: Option<&Seen>) -> Blob<'a> {
            Blob {
                bytes,
                executable: seen.is_some_and(|s| s.permissions.mode() & 0o111 != 0),
            }
        }
        let mut changes = Vec::new();
        for change in &self.plan.changes {
            match change {
                Change::Write {
                    path, content, old, ..
                } => changes.push(GitChange {
                    path: &path.rel,
                    content: Some(blob(content.as_bytes(), old.as_ref())),
                }),
                Change::Sync { path, seen, .. } => changes.push(GitChange {
                    path: &path.rel,
                    content: Some(blob(&seen.bytes, Some(seen))),
                }),
                Change::Delete { path, .. } => changes.push(GitChange {
                    path: &path.rel,
                    content: None,
                }),
                Change::Move { from, to, old, .. } => changes.extend([
                    GitChange {
                        path: &from.rel,
                        content: None,
                    },
                    GitChange {
                        path: &to.rel,
                        content: Some(blob(&old.bytes, Some(old))),
                    },
                ]),
            }
        }
        changes
    }

    /// Bytes written into the displaced inode after the swap by a program that had it
    /// open, kept as a backup of the file.
    fn keep_late_bytes(
        &self,
        tx: &Transaction<'_>,
        i: usize,
        displaced: &mut Displaced,
        backups: &mut Vec<i64>,
    ) -> Result<()> {
        let Some((path, seen)) = self.plan.changes[i].backup() else {
            return Ok(());
        };
        if let Some(bytes) = displaced.late_bytes()?
            && sha256_hex(&bytes) != seen.sha256
        {
            tracing::warn!(path = %path.rel, "a program wrote into the file while it was replaced; its bytes are kept as a backup");
            backups.push(keep_bytes(
                self.project,
                tx,
                &path.rel,
                &bytes,
                &self.id,
                self.kind,
            )?);
        }
        Ok(())
    }

    /// Undoes what `done` records, newest first; the transaction was already rolled back
    /// (its guard dropped when the steps returned). Runs only before the commit point.
    fn undo(&mut self) -> Result<()> {
        let project = self.project;
        let mut first_error = None;
        if self.done.swapping
            && let Some(intent) = &self.intent
        {
            // Files already replaced go back (as `recover` puts them back), and every temp
            // name, holding the new content again, is discarded.
            let put_back = crate::recover::put_back(project, intent)
                .and_then(|()| crate::recover::discard_leftovers(project, intent));
            if let Err(e) = put_back {
                first_error.get_or_insert(e);
            }
        }
        let known = self.known_shas();
        for (i, temp) in std::mem::take(&mut self.done.temps) {
            let rel = self.plan.changes[i]
                .paths()
                .first()
                .map(|p| p.rel.clone())
                .unwrap_or_default();
            if let Err(e) = discard(project, &temp.path, &rel, &known, &self.id, self.kind) {
                first_error.get_or_insert(e);
            }
        }
        for d in self.done.created_dirs.iter().rev() {
            let _ = std::fs::remove_dir(d);
        }
        if self.done.intent {
            if let Err(e) = Journal::new(&project.state).clear(&self.id) {
                first_error.get_or_insert(e);
            }
            self.done.intent = false;
        }
        for sha in &self.done.blobs_created {
            match project.db.backup_referenced(project.id, sha) {
                Ok(false) => {
                    if let Err(e) = BackupStore::new(&project.state).remove(sha) {
                        first_error.get_or_insert(e);
                    }
                }
                Ok(true) => {}
                Err(e) => {
                    first_error.get_or_insert(e.into());
                }
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// The sha256s of the bytes this command wrote or backed up.
    fn known_shas(&self) -> Vec<String> {
        let mut known: Vec<String> = self
            .plan
            .backups()
            .into_iter()
            .map(|(_, s)| s.sha256.clone())
            .collect();
        for change in &self.plan.changes {
            if let Change::Write { new_sha, .. } = change {
                known.push(new_sha.clone());
            }
        }
        known
    }

    /// Keeps the newest backups of each touched path, per the retention setting; best
    /// effort (a failure is logged: the command itself has landed).
    fn prune(&self) {
        for (path, _) in self.plan.backups() {
            self.prune_path(&path.rel);
        }
    }

    fn prune_path(&self, rel: &str) {
        let project = self.project;
        let store = BackupStore::new(&project.state);
        match project
            .db
            .prune_file_backups(project.id, rel, project.options.keep_backups)
        {
            Ok(freed) => {
                for sha in freed {
                    if let Err(e) = store.remove(&sha) {
                        tracing::warn!("pruning backups of {rel}: {e}");
                    }
                }
            }
            Err(e) => tracing::warn!("pruning backups of {rel}: {e}"),
        }
    }
}

/// Removes the file at `path` (a temp file or a displaced inode of command `id`, for the
/// file `rel`) unless it holds bytes none of `known`: those are kept as a backup of `rel`
/// first.
pub(crate) fn discard(
    project: &Project,
    path: &Path,
    rel: &str,
    known: &[String],
    id: &str,
    kind: CommandKind,
) -> Result<()> {
    let Some(bytes) = crate::durable::read_if_present(path)? else {
        return Ok(());
    };
    if !known.contains(&sha256_hex(&bytes)) {
        tracing::warn!(path = %rel, "keeping bytes another program wrote as a backup");
        let tx = project.db.begin_project_transaction(project.id)?;
        keep_bytes(project, &tx, rel, &bytes, id, kind)?;
        tx.commit()?;
    }
    remove_if_present(path, "remove the temp file").map(drop)
}

/// Stores `bytes` as a backup of `rel` taken by command `id`; returns its row id.
pub(crate) fn keep_bytes(
    project: &Project,
    tx: &Transaction<'_>,
    rel: &str,
    bytes: &[u8],
    id: &str,
    kind: CommandKind,
) -> Result<i64> {
    let (sha256, _) = BackupStore::new(&project.state).put(bytes)?;
    Ok(tx.add_file_backup(
        project.id,
        &FileBackup {
            id: 0,
            path: rel.to_owned(),
            sha256,
            size: i64::try_from(bytes.len()).unwrap_or(i64::MAX),
            command_id: id.to_owned(),
            command: kind.as_str().to_owned(),
            created_at: now_ms(),
        },
    )?)
}

/// The row of a file about to hold `bytes`, its mtime read from `from` (the temp file
/// becomes the target by rename, which keeps the mtime).
fn file_meta(rel: &str, lang: &LanguageDef, bytes: &[u8], from: &Path) -> Result<FileMeta> {
    let meta = std::fs::metadata(from).map_err(|e| CommandError::io("stat", from, e))?;
    Ok(FileMeta {
        path: rel.to_owned(),
        language: Some(lang.name.to_owned()),
        size: i64::try_from(bytes.len()).unwrap_or(i64::MAX),
        mtime_ns: crate::indexer::mtime_ns(&meta),
        sha256: sha256_hex(bytes),
        lines: i64::try_from(crate::durable::line_count(bytes)).unwrap_or(i64::MAX),
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
