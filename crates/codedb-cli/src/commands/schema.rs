//! `codedb schema plan|sync|dump`.

use std::path::{Path, PathBuf};

use codedb_backends::Backend;
use codedb_core::{CodeDatabase, DiffOptions, Executor, SyncOptions, SyncReport};
use serde::Serialize;

use crate::context::Context;
use crate::output::{CliError, emit, emit_lines};

#[derive(Debug, clap::Subcommand)]
pub(crate) enum Command {
    /// Show what `schema sync` would change, without changing anything.
    Plan(SyncArgs),
    /// Bring the database to the desired schema: back up, apply atomically, verify, log.
    /// Creates the database when it does not exist.
    Sync {
        #[command(flatten)]
        args: SyncArgs,
        /// Plan only, like `schema plan`.
        #[arg(long)]
        dry_run: bool,
    },
    /// Print the live schema as DDL.
    Dump,
}

pub(crate) fn run(ctx: &Context, command: &Command) -> Result<(), CliError> {
    match command {
        Command::Plan(args) => run_sync(ctx, args, true),
        Command::Sync { args, dry_run } => run_sync(ctx, args, *dry_run),
        Command::Dump => dump(ctx),
    }
}

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

fn print_report(ctx: &Context, report: &SyncReport) -> Result<(), CliError> {
    if ctx.json {
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

fn run_sync(ctx: &Context, args: &SyncArgs, dry_run: bool) -> Result<(), CliError> {
    let spec = ctx.db_spec();
    let (manager, db) = if dry_run {
        crate::open::existing(&spec)?;
        crate::open::open_read_only(&spec)?
    } else {
        crate::open::open_creating(&spec)?
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
            .or_else(|| crate::context::default_backup_dir(&spec, None)),
        no_backup: args.no_backup,
        ..SyncOptions::default()
    };
    let report = db.sync_schema(&desired, &options)?;
    manager.stop()?;
    print_report(ctx, &report)
}

fn dump(ctx: &Context) -> Result<(), CliError> {
    let spec = ctx.db_spec();
    crate::open::existing(&spec)?;
    let (manager, db) = crate::open::open_read_only(&spec)?;
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
    if ctx.json {
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
