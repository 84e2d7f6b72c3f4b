//! `codedb db init` and `codedb db info`, and [`open`], which every command opens its
//! database with (a SQLite path or a PostgreSQL URL).

use codedb_backends::{Backend, DatabaseSpec};
use codedb_core::{CodeDatabase, Executor, params};
use codedb_sqlite::inspect;

use crate::cli::GlobalArgs;
use crate::output::{CliError, emit};

/// Creates the database through the real chain (worker, proxy, CodeDatabase; or the pool on
/// PostgreSQL), brings it to the code schema, stops it cleanly, and reports on it.
pub(crate) fn init(global: &GlobalArgs) -> Result<(), CliError> {
    let spec = global.db_spec();
    let _span = tracing::info_span!("db_init", db = %spec).entered();
    if spec.sqlite_path().is_some_and(std::path::Path::is_file) {
        // Checked read-only first: a database init would refuse is left exactly as it is,
        // its journal mode included.
        let (backend, db) = open_read_only(&spec)?;
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
    let (backend, db) = open_creating(&spec)?;
    // Safe steps only: an existing database with other tables keeps them (see `schema sync`).
    let report = db.ensure_schema_synced(&codedb_core::SyncOptions {
        backup_dir: crate::cli::default_backup_dir(&spec, None),
        ..codedb_core::SyncOptions::default()
    })?;
    backend.stop()?;
    for warning in &report.warnings {
        tracing::warn!("{warning}");
    }
    info(global)
}

/// Reports on an existing database; never creates or changes it.
pub(crate) fn info(global: &GlobalArgs) -> Result<(), CliError> {
    let spec = global.db_spec();
    let path = match &spec {
        DatabaseSpec::Sqlite(path) => path,
        DatabaseSpec::Postgres(_) => return postgres_info(global, &spec),
    };
    let info = inspect(path)?;
    emit(global.json, &info, || {
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

/// What `db info` says of a PostgreSQL database.
#[derive(serde::Serialize)]
struct PostgresInfo {
    url: String,
    server_version: String,
    database: String,
    size_bytes: i64,
    schema_objects: i64,
}

fn postgres_info(global: &GlobalArgs, spec: &DatabaseSpec) -> Result<(), CliError> {
    let (backend, db) = open(spec)?;
    let row = db
        .query_row(
            "SELECT current_setting('server_version'), current_database(), \
             pg_database_size(current_database()), \
             (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
              WHERE n.nspname = 'public' AND c.relkind IN ('r', 'i', 'v'))",
            params![],
        )?
        .ok_or_else(|| CliError("the server returned no row".into()))?;
    let info = PostgresInfo {
        url: spec.to_string(),
        server_version: row.get(0)?,
        database: row.get(1)?,
        size_bytes: row.get(2)?,
        schema_objects: row.get(3)?,
    };
    backend.stop()?;
    emit(global.json, &info, || {
        vec![
            ("url", info.url.clone()),
            ("postgresql version", info.server_version.clone()),
            ("database", info.database.clone()),
            ("size", format!("{} bytes", info.size_bytes)),
            ("schema objects", info.schema_objects.to_string()),
        ]
    })
}

/// Creates the directory that will hold the database at `path`, if missing (a `.codedb/`
/// with its `.gitignore`).
pub(crate) fn ensure_parent(path: &std::path::Path) -> Result<(), CliError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        codedb_commands::create_state_dir(dir).map_err(|e| {
            CliError(format!(
                "cannot create the directory {}: {e}",
                dir.display()
            ))
        })?;
    }
    Ok(())
}

/// Opens the database `spec` names and `CodeDatabase` on it with its schema backend.
pub(crate) fn open(spec: &DatabaseSpec) -> Result<(Backend, CodeDatabase), CliError> {
    let backend = Backend::open(spec)?;
    let db = CodeDatabase::open_with_schema(backend.driver(), backend.schema_backend())?;
    Ok((backend, db))
}

/// [`open`] for reading only: a SQLite file is opened read-only (see
/// [`Backend::open_read_only`]).
pub(crate) fn open_read_only(spec: &DatabaseSpec) -> Result<(Backend, CodeDatabase), CliError> {
    let backend = Backend::open_read_only(spec)?;
    let db = CodeDatabase::open_with_schema(backend.driver(), backend.schema_backend())?;
    Ok((backend, db))
}

/// [`open`], creating a SQLite file's directory first.
pub(crate) fn open_creating(spec: &DatabaseSpec) -> Result<(Backend, CodeDatabase), CliError> {
    if let Some(path) = spec.sqlite_path() {
        ensure_parent(path)?;
    }
    open(spec)
}

/// The database of the project at `root` (`--db`, else the one its configuration names:
/// by default `ROOT/.codedb/codedb.sqlite`), opened and brought to the code schema (a backup
/// first under `ROOT/.codedb/backups` for PostgreSQL; warnings logged): what `index` and the
/// file commands start with.
pub(crate) fn open_project(
    global: &GlobalArgs,
    root: &std::path::Path,
    config: &codedb_server::Config,
) -> Result<(Backend, CodeDatabase), CliError> {
    let spec = project_database(global, root, config);
    let (backend, db) = open_creating(&spec)?;
    sync_project_database(&spec, root, backend, db)
}

/// [`open_project`] for a command that works on an indexed project (the write commands,
/// `recover`, `verify`, `history`): a SQLite database that does not exist is an error, not
/// a new empty one that the command would then agree with.
pub(crate) fn open_indexed_project(
    global: &GlobalArgs,
    root: &std::path::Path,
    config: &codedb_server::Config,
) -> Result<(Backend, CodeDatabase), CliError> {
    let spec = project_database(global, root, config);
    if let Some(path) = spec.sqlite_path()
        && !path.is_file()
    {
        return Err(CliError(format!(
            "{}: no database here; run `codedb index {}` first, or pass the project's --db",
            path.display(),
            root.display()
        )));
    }
    let (backend, db) = open(&spec)?;
    sync_project_database(&spec, root, backend, db)
}

/// The database of the project at `root`: `--db`, else the one its configuration names.
fn project_database(
    global: &GlobalArgs,
    root: &std::path::Path,
    config: &codedb_server::Config,
) -> DatabaseSpec {
    match (&global.db, config.database_spec(root)) {
        (Some(_), _) => global.db_spec(),
        (None, DatabaseSpec::Sqlite(path)) => global.db_or(|| path),
        (None, postgres) => postgres,
    }
}

/// Brings the project's database (`spec`, opened as `backend` and `db`) to the code schema
/// (a backup first under `ROOT/.codedb/backups` for PostgreSQL; warnings logged).
fn sync_project_database(
    spec: &DatabaseSpec,
    root: &std::path::Path,
    backend: Backend,
    db: CodeDatabase,
) -> Result<(Backend, CodeDatabase), CliError> {
    if let DatabaseSpec::Postgres(_) = spec {
        // Its backups go to ROOT/.codedb/backups.
        let state = root.join(codedb_commands::STATE_DIR);
        codedb_commands::create_state_dir(&state).map_err(|e| {
            CliError(format!(
                "cannot create the directory {}: {e}",
                state.display()
            ))
        })?;
    }
    let sync = db.ensure_schema_synced(&codedb_core::SyncOptions {
        backup_dir: crate::cli::default_backup_dir(spec, Some(root)),
        ..codedb_core::SyncOptions::default()
    })?;
    for w in &sync.warnings {
        tracing::warn!("{w}");
    }
    Ok((backend, db))
}
