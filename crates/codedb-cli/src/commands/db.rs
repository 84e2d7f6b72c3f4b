//! `codedb db init` and `codedb db info`.

use codedb_backends::DatabaseSpec;
use codedb_sqlite::inspect;

use crate::context::Context;
use crate::output::{CliError, emit};

#[derive(Debug, clap::Subcommand)]
pub(crate) enum Command {
    /// Create the database (and its directory) if absent, in WAL mode, bring it to the code
    /// schema (safe steps only), then report on it.
    Init,
    /// Report on an existing database without changing it: SQLite version, journal mode,
    /// page count, integrity check.
    Info,
}

pub(crate) fn run(ctx: &Context, command: &Command) -> Result<(), CliError> {
    match command {
        Command::Init => init(ctx),
        Command::Info => info(ctx),
    }
}

/// Creates the database through the real chain (worker, proxy, CodeDatabase; or the pool on
/// PostgreSQL), brings it to the code schema, stops it cleanly, and reports on it.
fn init(ctx: &Context) -> Result<(), CliError> {
    let spec = ctx.db_spec();
    let _span = tracing::info_span!("db_init", db = %spec).entered();
    if spec.sqlite_path().is_some_and(std::path::Path::is_file) {
        // Checked read-only first: a database init would refuse is left exactly as it is,
        // its journal mode included.
        let (backend, db) = crate::open::open_read_only(&spec)?;
        let plan = db.ensure_schema_synced(&codedb_core::SyncOptions {
            dry_run: true,
            ..codedb_core::SyncOptions::default()
        });
        backend.stop()?;
        let plan = plan?;
        if let Some(why) = plan.rebuild_needed() {
            return Err(CliError(format!(
                "sync refused, database unchanged (not even its journal mode): {why}; \
                 `codedb schema plan --db {spec}` shows the whole plan"
            )));
        }
    }
    let (backend, db) = crate::open::open_creating(&spec)?;
    // Safe steps only: an existing database with other tables keeps them (see `schema sync`).
    let report = db.ensure_schema_synced(&codedb_core::SyncOptions {
        backup_dir: crate::context::default_backup_dir(&spec, None),
        ..codedb_core::SyncOptions::default()
    })?;
    backend.stop()?;
    for warning in &report.warnings {
        tracing::warn!("{warning}");
    }
    info(ctx)
}

/// Reports on an existing database; never creates or changes it.
fn info(ctx: &Context) -> Result<(), CliError> {
    let spec = ctx.db_spec();
    let path = match &spec {
        DatabaseSpec::Sqlite(path) => path,
        DatabaseSpec::Postgres(_) => return postgres_info(ctx, &spec),
    };
    let info = inspect(path)?;
    emit(ctx.json, &info, || {
        vec![
            ("path", info.path.display().to_string()),
            ("sqlite version", info.sqlite_version.clone()),
            ("journal mode", info.journal_mode.clone()),
            ("page size", info.page_size.to_string()),
            ("page count", info.page_count.to_string()),
            ("free pages", info.freelist_count.to_string()),
            ("schema objects", info.schema_objects.to_string()),
            ("integrity check", info.integrity_check.clone()),
        ]
    })
}

/// What `db info` says of a PostgreSQL database: its URL (password blanked), then the facts.
#[derive(serde::Serialize)]
struct PostgresInfo {
    url: String,
    #[serde(flatten)]
    facts: codedb_backends::PostgresInfo,
}

fn postgres_info(ctx: &Context, spec: &DatabaseSpec) -> Result<(), CliError> {
    let (backend, _db) = crate::open::open(spec)?;
    let info = PostgresInfo {
        url: spec.to_string(),
        facts: codedb_backends::inspect_postgres(backend.driver().as_ref())?,
    };
    backend.stop()?;
    emit(ctx.json, &info, || {
        vec![
            ("url", info.url.clone()),
            ("postgresql version", info.facts.server_version.clone()),
            ("database", info.facts.database.clone()),
            ("size", format!("{} bytes", info.facts.size_bytes)),
            ("schema objects", info.facts.schema_objects.to_string()),
        ]
    })
}
