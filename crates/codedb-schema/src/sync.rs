//! The sync procedure: introspect, diff, (dry run stops here), back up, apply atomically with
//! verification, log, prune old backups.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::backup::{self, Backups};
use crate::diff::{Change, DiffOptions, Plan, Reason, Warning, diff};
use crate::error::{Error, Result};
use crate::model::Schema;

/// What a backend provides to the sync procedure.
pub trait SchemaBackend: Send + Sync + std::fmt::Debug {
    /// The live schema, without codedb's own bookkeeping tables, with `has_rows` set.
    fn introspect(&self) -> Result<Schema>;

    /// The schema that `ddl` creates, read back from a scratch database. Invalid DDL is an
    /// [`Error::InvalidDdl`] naming the statement.
    fn schema_from_ddl(&self, ddl: &str) -> Result<Schema>;

    /// Applies `plan` in one transaction; before committing, checks that a fresh
    /// `diff(live, desired, options)` has no step and that no foreign key is violated, and
    /// records `log` in the sync log. Any failure rolls everything back.
    fn apply(
        &self,
        plan: &Plan,
        desired: &Schema,
        options: DiffOptions,
        log: &SyncLog,
    ) -> Result<()>;

    /// Writes a consistent, integrity-checked copy of the database to `dest` (which must not
    /// exist).
    fn backup_to(&self, dest: &Path) -> Result<()>;

    /// The database file, for naming backups; `None` when there is no file.
    fn database_path(&self) -> Option<PathBuf>;

    /// What tells this database from others whose backups share a directory and a name
    /// (default: the absolute path of [`database_path`](Self::database_path)).
    fn database_identity(&self) -> Option<String> {
        let path = self.database_path()?;
        Some(
            std::path::absolute(&path)
                .unwrap_or(path)
                .display()
                .to_string(),
        )
    }

    /// The file extension of this backend's backups (`sqlite`: a database file).
    fn backup_extension(&self) -> &'static str {
        "sqlite"
    }

    /// A token that changes whenever the live schema does, read without introspecting it
    /// (SQLite: a hash of every schema statement's text, codedb's own tables aside); `None`
    /// when the backend has no cheap one. What [`remembered_in_sync`] compares.
    fn live_schema_token(&self) -> Result<Option<String>> {
        Ok(None)
    }

    /// What [`remember_in_sync`](Self::remember_in_sync) last stored: the desired schema's
    /// key and the live token then.
    fn remembered_sync(&self) -> Result<Option<(String, String)>> {
        Ok(None)
    }

    /// Remembers that the live schema, whose token is `live_token`, is the desired schema
    /// whose key is `desired_key` (after a sync that left nothing to do).
    fn remember_in_sync(&self, desired_key: &str, live_token: &str) -> Result<()> {
        let _ = (desired_key, live_token);
        Ok(())
    }
}

/// A key of the desired schema's DDL text (FNV-1a, hex): what a remembered sync is keyed by.
pub fn ddl_key(ddl: &str) -> String {
    format!("{:016x}", crate::backup::fnv64(ddl.bytes()))
}

/// Whether `backend`'s live schema is, as last remembered, the desired schema of key
/// `desired_key` and unchanged since (its token is the one remembered): then a sync has
/// nothing to do, and neither introspection nor diff need to run. Someone who alters the
/// database behind codedb's back changes the token, and the next sync looks again.
pub fn remembered_in_sync(backend: &dyn SchemaBackend, desired_key: &str) -> Result<bool> {
    let Some(token) = backend.live_schema_token()? else {
        return Ok(false);
    };
    Ok(backend
        .remembered_sync()?
        .is_some_and(|(key, live)| key == desired_key && live == token))
}

/// After a sync of the desired schema `desired_key` that left nothing to do (no step, no
/// warning), remembers it for [`remembered_in_sync`]. Best effort: a failure only costs the
/// next sync its shortcut.
pub fn remember_if_in_sync(backend: &dyn SchemaBackend, desired_key: &str, report: &SyncReport) {
    // Something was left alone (a warning) or applied (the next sync, finding nothing to
    // do, remembers it); a dry run writes nothing.
    if report.dry_run || !report.steps.is_empty() || !report.warnings.is_empty() {
        return;
    }
    let remembered = backend.live_schema_token().and_then(|token| match token {
        Some(token) => backend.remember_in_sync(desired_key, &token),
        None => Ok(()),
    });
    if let Err(e) = remembered {
        tracing::debug!("remembering the synced schema failed: {e}");
    }
}

/// One row of the sync log.
#[derive(Debug, Clone, Serialize)]
pub struct SyncLog {
    /// Unix milliseconds.
    pub at_ms: i64,
    /// Fingerprint of the schema before.
    pub fingerprint_before: String,
    /// Fingerprint of the desired schema.
    pub fingerprint_after: String,
    /// The plan's step descriptions, one per line.
    pub plan: String,
    /// The backup taken first.
    pub backup_path: Option<String>,
}

/// How to sync.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncOptions {
    /// Drops and rebuilds allowed.
    pub diff: DiffOptions,
    /// Plan only.
    pub dry_run: bool,
    /// Where backups go; default `backups/` beside the database file.
    pub backup_dir: Option<PathBuf>,
    /// Backups kept (newest first); older ones are removed after a successful sync.
    pub keep_backups: usize,
    /// Apply without taking a backup first (an explicit opt-out, for a server where the
    /// backup tool is missing or backups are taken another way).
    pub no_backup: bool,
}

impl Default for SyncOptions {
    fn default() -> Self {
        SyncOptions {
            diff: DiffOptions::default(),
            dry_run: false,
            backup_dir: None,
            keep_backups: 10,
            no_backup: false,
        }
    }
}

/// What a sync did (or, with `dry_run`, would do). The JSON form is what `codedb schema plan`
/// and `codedb schema sync --json` print.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SyncReport {
    /// Tables created.
    pub tables_added: Vec<String>,
    /// Tables dropped.
    pub tables_removed: Vec<String>,
    /// Tables rebuilt.
    pub tables_rebuilt: Vec<String>,
    /// Columns added, by table.
    pub columns_added: BTreeMap<String, Vec<String>>,
    /// Columns dropped, by table.
    pub columns_removed: BTreeMap<String, Vec<String>>,
    /// Columns whose definition or name changed, by table.
    pub columns_modified: BTreeMap<String, Vec<String>>,
    /// Indexes created (new or changed).
    pub indexes_added: Vec<String>,
    /// Indexes dropped (removed or changed).
    pub indexes_removed: Vec<String>,
    /// Views created, dropped or replaced.
    pub views_changed: Vec<String>,
    /// Triggers created, dropped or replaced.
    pub triggers_changed: Vec<String>,
    /// Differences left alone, and why.
    pub warnings: Vec<Warning>,
    /// Tables left alone because their change needs a rebuild that was not allowed.
    pub tables_needing_rebuild: Vec<String>,
    /// The backup taken before the change; `null` when nothing changed.
    pub backup_path: Option<String>,
    /// Planned only.
    pub dry_run: bool,
    /// Each step's line, in order.
    pub steps: Vec<String>,
    /// The most dangerous step's class.
    pub max_safety: Option<crate::diff::Safety>,
}

impl SyncReport {
    /// Why the tables of [`tables_needing_rebuild`](Self::tables_needing_rebuild) were left
    /// alone (their warnings, joined); `None` when no change needed a rebuild. What a caller
    /// that refuses to go on without those changes (the server's startup) says.
    pub fn rebuild_needed(&self) -> Option<String> {
        if self.tables_needing_rebuild.is_empty() {
            return None;
        }
        let why: Vec<&str> = self
            .warnings
            .iter()
            .filter(|w| matches!(w.reason, Reason::NeedsRebuild { .. }))
            .map(|w| w.message.as_str())
            .collect();
        Some(why.join("; "))
    }

    /// Summarizes `plan`.
    pub fn from_plan(plan: &Plan, dry_run: bool) -> Self {
        let mut r = SyncReport {
            warnings: plan.warnings.clone(),
            tables_needing_rebuild: plan.needs_rebuild.clone(),
            dry_run,
            max_safety: plan.max_safety(),
            ..Self::default()
        };
        let push_unique = |list: &mut Vec<String>, name: &str| {
            if !list.iter().any(|n| n.eq_ignore_ascii_case(name)) {
                list.push(name.to_owned());
            }
        };
        for step in &plan.steps {
            r.steps.push(step.description.clone());
            match &step.change {
                Change::CreateTable { table } => r.tables_added.push(table.name.clone()),
                Change::DropTable { name } => r.tables_removed.push(name.clone()),
                Change::RenameTable { to, .. } => r.tables_added.push(to.clone()),
                Change::RenameColumn { table, to, .. } => {
                    r.columns_modified
                        .entry(table.clone())
                        .or_default()
                        .push(to.clone());
                }
                Change::AddColumn { table, column, .. } => {
                    r.columns_added
                        .entry(table.clone())
                        .or_default()
                        .push(column.clone());
                }
                Change::RebuildTable {
                    table,
                    copy,
                    dropped,
                    modified,
                    ..
                } => {
                    r.tables_rebuilt.push(table.name.clone());
                    let added: Vec<String> = table
                        .columns
                        .iter()
                        .filter(|c| {
                            !copy
                                .iter()
                                .any(|(new, _)| new.eq_ignore_ascii_case(&c.name))
                        })
                        .map(|c| c.name.clone())
                        .collect();
                    let renamed = copy
                        .iter()
                        .filter(|(new, old)| !new.eq_ignore_ascii_case(old))
                        .map(|(n, _)| n.clone());
                    let modified: Vec<String> = modified.iter().cloned().chain(renamed).collect();
                    for (map, cols) in [
                        (&mut r.columns_added, added),
                        (&mut r.columns_removed, dropped.clone()),
                        (&mut r.columns_modified, modified),
                    ] {
                        if !cols.is_empty() {
                            map.entry(table.name.clone()).or_default().extend(cols);
                        }
                    }
                }
                Change::CreateIndex { index } => push_unique(&mut r.indexes_added, &index.name),
                Change::DropIndex { name } => push_unique(&mut r.indexes_removed, name),
                Change::CreateView { view } => push_unique(&mut r.views_changed, &view.name),
                Change::DropView { name } => push_unique(&mut r.views_changed, name),
                Change::CreateTrigger { trigger } => {
                    push_unique(&mut r.triggers_changed, &trigger.name)
                }
                Change::DropTrigger { name } => push_unique(&mut r.triggers_changed, name),
            }
        }
        r
    }
}

/// Brings the live schema of `backend` to `desired`.
///
/// An identical schema is a no-op: no plan, no backup. Otherwise a backup is taken first
/// (integrity-checked), the plan is applied atomically and verified, the sync is logged, and
/// backups beyond `keep_backups` are pruned. Any failure leaves the database as it was, and
/// a refused apply also removes the backup it took (it holds nothing the database does not).
pub fn sync(
    backend: &dyn SchemaBackend,
    desired: &Schema,
    options: &SyncOptions,
) -> Result<SyncReport> {
    let _span = tracing::info_span!("schema_sync", dry_run = options.dry_run).entered();
    let live = backend.introspect()?;
    let plan = diff(&live, desired, options.diff);
    let mut report = SyncReport::from_plan(&plan, options.dry_run);
    if options.dry_run || plan.is_empty() {
        tracing::info!(
            steps = plan.steps.len(),
            warnings = plan.warnings.len(),
            "schema sync: nothing applied"
        );
        return Ok(report);
    }
    let backups = Backups::of(backend, options.backup_dir.as_deref());
    let backup_path = match &backups {
        Some(_) if options.no_backup => {
            tracing::warn!("schema sync without a backup (no_backup)");
            None
        }
        Some(backups) => Some(backups.create(backend, &live.fingerprint())?),
        None => None,
    };
    let log = SyncLog {
        at_ms: backup::now_ms(),
        fingerprint_before: live.fingerprint(),
        fingerprint_after: desired.fingerprint(),
        plan: report.steps.join("\n"),
        backup_path: backup_path.as_ref().map(|p| p.display().to_string()),
    };
    if let Err(e) = backend.apply(&plan, desired, options.diff, &log) {
        if let Some(taken) = &backup_path {
            let _ = std::fs::remove_file(taken);
        }
        // Two processes syncing one database at once (a team's first commands on a new
        // database) plan the same changes, and the one that applies second fails on what
        // the other just made. If the database now needs nothing, it is where this sync
        // was to bring it.
        if let Ok(now) = backend.introspect() {
            let left = diff(&now, desired, options.diff);
            if left.is_empty() {
                return Ok(SyncReport::from_plan(&left, false));
            }
        }
        return Err(match e {
            Error::Refused(_) => e,
            other => Error::Refused(other.to_string()),
        });
    }
    if let (Some(backups), Some(_)) = (&backups, &backup_path) {
        match backups.prune(options.keep_backups) {
            Ok(pruned) => report
                .warnings
                .extend(pruned.failed.into_iter().map(|(path, error)| {
                    Warning::new(
                        "backup",
                        &path.display().to_string(),
                        Reason::PruneFailed { error },
                    )
                })),
            Err(e) => report.warnings.push(Warning::new(
                "backup",
                "directory",
                Reason::PruneFailed {
                    error: e.to_string(),
                },
            )),
        }
    }
    report.backup_path = backup_path.map(|p| p.display().to_string());
    tracing::info!(steps = plan.steps.len(), "schema sync applied");
    Ok(report)
}
