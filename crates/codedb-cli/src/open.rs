//! Opening the database a command works on: a SQLite path or a PostgreSQL URL, created or
//! not, read-only or not, brought to the code schema for a project. Every command opens its
//! database through here.

use codedb_backends::{Backend, DatabaseSpec};
use codedb_core::CodeDatabase;

use crate::context::Context;
use crate::output::CliError;

/// Refuses a database path that does not exist (for commands that must not create one); a
/// PostgreSQL database is the server's to refuse.
pub(crate) fn existing(spec: &DatabaseSpec) -> Result<(), CliError> {
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
    ctx: &Context,
    root: &std::path::Path,
    config: &codedb_server::Config,
) -> Result<(Backend, CodeDatabase), CliError> {
    let spec = project_database(ctx, root, config);
    if let Some(path) = spec.sqlite_path() {
        ensure_parent(path)?;
    }
    let (backend, db) = open_configured(&spec, config)?;
    sync_project_database(&spec, root, backend, db)
}

/// [`open`] with the project's settings (`database.*`: the pool, `connect_timeout_ms`,
/// `statement_timeout_ms`; the SQLite settings), which `index` and the file commands honour
/// as the server does.
fn open_configured(
    spec: &DatabaseSpec,
    config: &codedb_server::Config,
) -> Result<(Backend, CodeDatabase), CliError> {
    let backend = config.open_spec(spec.clone())?;
    let db = CodeDatabase::open_with_schema(backend.driver(), backend.schema_backend())?;
    Ok((backend, db))
}

/// [`open_project`] for a command that works on an indexed project (the write commands,
/// `recover`, `verify`, `history`): a SQLite database that does not exist is an error, not
/// a new empty one that the command would then agree with.
pub(crate) fn open_indexed_project(
    ctx: &Context,
    root: &std::path::Path,
    config: &codedb_server::Config,
) -> Result<(Backend, CodeDatabase), CliError> {
    let spec = project_database(ctx, root, config);
    if let Some(path) = spec.sqlite_path()
        && !path.is_file()
    {
        return Err(CliError(format!(
            "{}: no database here; run `codedb index {}` first, or pass the project's --db",
            path.display(),
            root.display()
        )));
    }
    let (backend, db) = open_configured(&spec, config)?;
    sync_project_database(&spec, root, backend, db)
}

/// The database of the project at `root`: `--db`, else the one its configuration names.
fn project_database(
    ctx: &Context,
    root: &std::path::Path,
    config: &codedb_server::Config,
) -> DatabaseSpec {
    match (&ctx.db, config.database_spec(root)) {
        (Some(_), _) => ctx.db_spec(),
        (None, DatabaseSpec::Sqlite(path)) => ctx.db_or(|| path),
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
        backup_dir: crate::context::default_backup_dir(spec, Some(root)),
        ..codedb_core::SyncOptions::default()
    })?;
    for w in &sync.warnings {
        tracing::warn!("{w}");
    }
    Ok((backend, db))
}
