//! `codedb backup create|list|restore`.

use std::path::{Path, PathBuf};

use codedb_backends::{Backend, DatabaseSpec};
use codedb_schema::backup;
use serde::Serialize;

use crate::context::Context;
use crate::output::{CliError, emit, emit_lines};

#[derive(Debug, clap::Subcommand)]
pub(crate) enum Command {
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
        .or_else(|| crate::context::default_backup_dir(spec, None));
    backup::Backups::of(backend.schema_backend().as_ref(), dir.as_deref())
        .ok_or_else(|| CliError("this database has no name to give its backups".into()))
}

pub(crate) fn run(ctx: &Context, command: &Command) -> Result<(), CliError> {
    let spec = ctx.db_spec();
    crate::open::existing(&spec)?;
    match (&spec, command) {
        (DatabaseSpec::Postgres(_), Command::Restore { .. }) => Err(CliError(format!(
            "{spec}: codedb restores SQLite backups only; restore a PostgreSQL backup with \
             `pg_restore --clean --if-exists -d URL FILE.pgdump`"
        ))),
        // Restore opens nothing through the worker: it must hold the database alone.
        (DatabaseSpec::Sqlite(db), Command::Restore { id, backup_dir }) => {
            restore(ctx, db, id, backup_dir.as_deref())
        }
        (_, command) => {
            let (backend, _db) = match command {
                Command::List { .. } => crate::open::open_read_only(&spec)?,
                _ => crate::open::open(&spec)?,
            };
            let result = backup_command(ctx, command, &backend, &spec);
            backend.stop()?;
            result
        }
    }
}

fn restore(ctx: &Context, db: &Path, id: &str, backup_dir: Option<&Path>) -> Result<(), CliError> {
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
    emit(ctx.json, &out, || {
        vec![
            ("restored from", out.restored_from.clone()),
            ("previous state", out.previous_state_backup.clone()),
        ]
    })
}

fn backup_command(
    ctx: &Context,
    command: &Command,
    backend: &Backend,
    spec: &DatabaseSpec,
) -> Result<(), CliError> {
    match command {
        Command::Create { backup_dir } => {
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
                ctx.json,
                &Created {
                    backup_path: shown.clone(),
                },
                || vec![("backup", shown)],
            )
        }
        Command::List { backup_dir } => {
            let entries = backups_of(backend, spec, backup_dir.as_deref())?.list()?;
            if ctx.json {
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
        Command::Restore { .. } => Err(CliError(
            "restore runs without an open database; this is a bug".into(),
        )),
    }
}
