//! `codedb schema plan|sync|dump` and `codedb backup create|list|restore`.

use std::path::{Path, PathBuf};

use codedb_backends::{Backend, DatabaseSpec};
use codedb_core::{CodeDatabase, DiffOptions, Executor, SyncOptions, SyncReport};
use codedb_schema::backup;
use serde::Serialize;

use crate::cli::GlobalArgs;
use crate::output::{CliError, emit, emit_lines};

/// Options shared by `schema plan` and `schema sync`.
#[derive(Debug, clap::Args)]
pub(crate) struct SyncArgs {
    /// The desired schema as a DDL file [default: the code schema of CodeDatabase].
    #[arg(long, value_name = "FILE.sql")]
    pub(crate) desired: Option<PathBuf>,
    /// Drop tables, columns, indexes, views and triggers the desired schema lacks.
    #[arg(long)]
    pub(crate) allow_drop: bool,
    /// Rebuild tables whose column types or constraints change.
    #[arg(long)]
    pub(crate) allow_rebuild: bool,
    /// Where backups go [default: backups/ beside a SQLite file, ./codedb-backups for
    /// PostgreSQL].
    #[arg(long, value_name = "DIR")]
    pub(crate) backup_dir: Option<PathBuf>,
    /// Apply without a backup first (PostgreSQL backups need pg_dump on the PATH; this is
    /// the explicit way to go on without one).
    #[arg(long)]
    pub(crate) no_backup: bool,
}

/// Refuses a database path that does not exist (for commands that must not create one); a
/// PostgreSQL database is the server's to refuse.
fn existing(spec: &DatabaseSpec) -> Result<(), CliError> {
    let Some(path) = spec.sqlite_path() else {
        return Ok(());
    };
    if path.is_file() {
        Ok(())
    } else if path.is_dir() {
        Err(CliError(format!(
            "{}: is a directory, not a database file",
            path.display()
        )))
    } else {
        Err(CliError(format!(
            "{}: no such database (create it with `codedb db init`)",
            path.display()
        )))
    }
}

/// The desired schema: the code schema, or a DDL file read by the database's own backend
/// (in its dialect).
fn desired(
    db: &CodeDatabase,
    backend: &Backend,
    file: Option<&Path>,
) -> Result<codedb_schema::Schema, CliError> {
    match file {
        None => Ok(db.code_schema()?),
        Some(file) => {
            let ddl = std::fs::read_to_string(file)
                .map_err(|e| CliError(format!("cannot read {}: {e}", file.display())))?;
            backend
                .schema_backend()
                .schema_from_ddl(&ddl)
                .map_err(|e| CliError(format!("{}: {e}", file.display())))
        }
    }
}

fn print_report(global: &GlobalArgs, report: &SyncReport) -> Result<(), CliError> {
    if global.json {
        return emit(true, report, Vec::new);
    }
    let mut lines = Vec::new();
    if report.steps.is_empty() {
        lines.push("schema is up to date".to_owned());
    }
    let verb = if report.dry_run { "would" } else { "did" };
    lines.extend(report.steps.iter().map(|s| format!("{verb}: {s}")));
    lines.extend(report.warnings.iter().map(|w| format!("warning: {w}")));
    if let Some(path) = &report.backup_path {
        lines.push(format!("backup: {path}"));
    }
    emit_lines(&lines)?;
    Ok(())
}

pub(crate) fn run_sync(
    global: &GlobalArgs,
    args: &SyncArgs,
    dry_run: bool,
) -> Result<(), CliError> {
    let spec = global.db_spec();
    let (manager, db) = if dry_run {
        existing(&spec)?;
        crate::db::open_read_only(&spec)?
    } else {
        crate::db::open_creating(&spec)?
    };
    let desired = desired(&db, &manager, args.desired.as_deref())?;
    let options = SyncOptions {
        diff: DiffOptions {
            allow_drop: args.allow_drop,
            allow_rebuild: args.allow_rebuild,
        },
        dry_run,
        backup_dir: args
            .backup_dir
            .clone()
            .or_else(|| crate::cli::default_backup_dir(&spec, None)),
        no_backup: args.no_backup,
        ..SyncOptions::default()
    };
    let report = db.sync_schema(&desired, &options)?;
    manager.stop()?;
    print_report(global, &report)
}

pub(crate) fn dump(global: &GlobalArgs) -> Result<(), CliError> {
    let spec = global.db_spec();
    existing(&spec)?;
    let (manager, db) = crate::db::open_read_only(&spec)?;
    let schema = manager.schema_backend().introspect()?;
    // codedb's own bookkeeping is not part of the schema (no plan compares it), but it is in
    // the database: say what it is.
    let has_log = db
        .query(
            "SELECT count(*) FROM _codedb_schema_log",
            codedb_core::params![],
        )
        .is_ok();
    manager.stop()?;
    #[derive(Serialize)]
    struct Dump {
        ddl: String,
        fingerprint: String,
    }
    if global.json {
        emit(
            true,
            &Dump {
                ddl: schema.ddl(),
                fingerprint: schema.fingerprint(),
            },
            Vec::new,
        )
    } else {
        let mut lines = vec![schema.ddl().trim_end().to_owned()];
        if has_log {
            lines.push(
                "-- _codedb_schema_log: codedb's log of applied schema syncs (when, fingerprints, \
                 plan, backup); codedb's own, left out of plans and of this dump"
                    .to_owned(),
            );
        }
        emit_lines(&lines)?;
        Ok(())
    }
}

#[derive(Debug, clap::Subcommand)]
pub(crate) enum BackupCommand {
    /// Take a consistent, integrity-checked backup now.
    Create {
        /// Where backups go [default: backups/ beside a SQLite file, ./codedb-backups for
        /// PostgreSQL].
        #[arg(long, value_name = "DIR")]
        backup_dir: Option<PathBuf>,
    },
    /// List the backups, newest first.
    List {
        /// Where backups go [default: backups/ beside a SQLite file, ./codedb-backups for
        /// PostgreSQL].
        #[arg(long, value_name = "DIR")]
        backup_dir: Option<PathBuf>,
    },
    /// Replace the database with a backup (the current state is backed up first).
    Restore {
        /// The backup's id (its file name, from `codedb backup list`) or path.
        id: String,
        /// Where backups go [default: backups/ beside a SQLite file, ./codedb-backups for
        /// PostgreSQL].
        #[arg(long, value_name = "DIR")]
        backup_dir: Option<PathBuf>,
    },
}

/// The backups of the database `backend` serves, in `dir` (default: beside a SQLite file,
/// `./codedb-backups` for PostgreSQL).
fn backups_of(
    backend: &Backend,
    spec: &DatabaseSpec,
    dir: Option<&Path>,
) -> Result<backup::Backups, CliError> {
    let dir = dir
        .map(Path::to_owned)
        .or_else(|| crate::cli::default_backup_dir(spec, None));
    backup::Backups::of(backend.schema_backend().as_ref(), dir.as_deref())
        .ok_or_else(|| CliError("this database has no name to give its backups".into()))
}

pub(crate) fn run_backup(global: &GlobalArgs, command: &BackupCommand) -> Result<(), CliError> {
    let spec = global.db_spec();
    existing(&spec)?;
    match (&spec, command) {
        (DatabaseSpec::Postgres(_), BackupCommand::Restore { .. }) => Err(CliError(format!(
            "{spec}: codedb restores SQLite backups only; restore a PostgreSQL backup with \
             `pg_restore --clean --if-exists -d URL FILE.pgdump`"
        ))),
        // Restore opens nothing through the worker: it must hold the database alone.
        (DatabaseSpec::Sqlite(db), BackupCommand::Restore { id, backup_dir }) => {
            restore(global, db, id, backup_dir.as_deref())
        }
        (_, command) => {
            let (backend, _db) = match command {
                BackupCommand::List { .. } => crate::db::open_read_only(&spec)?,
                _ => crate::db::open(&spec)?,
            };
            let result = backup_command(global, command, &backend, &spec);
            backend.stop()?;
            result
        }
    }
}

fn restore(
    global: &GlobalArgs,
    db: &Path,
    id: &str,
    backup_dir: Option<&Path>,
) -> Result<(), CliError> {
    let dir = backup_dir.map_or_else(|| backup::default_dir(db), Path::to_owned);
    let identity = codedb_sqlite::schema::database_identity(db);
    let backups = backup::Backups::new(db, &identity, &dir, "sqlite");
    let source = backups.resolve(id)?;
    let restored = codedb_sqlite::restore(db, &source, &backups)?;
    #[derive(Serialize)]
    struct Restored {
        restored_from: String,
        previous_state_backup: String,
    }
    let out = Restored {
        restored_from: restored.source.display().to_string(),
        previous_state_backup: restored.previous_state.display().to_string(),
    };
    emit(global.json, &out, || {
        vec![
            ("restored from", out.restored_from.clone()),
            ("previous state", out.previous_state_backup.clone()),
        ]
    })
}

fn backup_command(
    global: &GlobalArgs,
    command: &BackupCommand,
    backend: &Backend,
    spec: &DatabaseSpec,
) -> Result<(), CliError> {
    match command {
        BackupCommand::Create { backup_dir } => {
            let backups = backups_of(backend, spec, backup_dir.as_deref())?;
            let schema = backend.schema_backend();
            let fingerprint = schema.introspect()?.fingerprint();
            let taken = backups.create(schema.as_ref(), &fingerprint)?;
            #[derive(Serialize)]
            struct Created {
                backup_path: String,
            }
            let shown = taken.display().to_string();
            emit(
                global.json,
                &Created {
                    backup_path: shown.clone(),
                },
                || vec![("backup", shown)],
            )
        }
        BackupCommand::List { backup_dir } => {
            let entries = backups_of(backend, spec, backup_dir.as_deref())?.list()?;
            if global.json {
                #[derive(Serialize)]
                struct Listed {
                    backups: Vec<backup::BackupEntry>,
                }
                emit(true, &Listed { backups: entries }, Vec::new)
            } else {
                let mut lines: Vec<String> = entries
                    .iter()
                    .map(|e| format!("{}  {} bytes", e.id, e.bytes))
                    .collect();
                if lines.is_empty() {
                    lines.push("no backups".to_owned());
                }
                emit_lines(&lines)?;
                Ok(())
            }
        }
        BackupCommand::Restore { .. } => Err(CliError(
            "restore runs without an open database; this is a bug".into(),
        )),
    }
}
