//! `codedb db init` and `codedb db info`.

use codedb_core::CodeDatabase;
use codedb_sqlite::{DBWorkerManager, SqliteConfig, inspect};

use crate::cli::GlobalArgs;
use crate::output::{CliError, emit};

/// Creates the database through the real chain (worker, proxy, CodeDatabase), brings it to
/// the code schema, stops it cleanly, and reports on it.
pub(crate) fn init(global: &GlobalArgs) -> Result<(), CliError> {
    let path = global.db_path();
    let _span = tracing::info_span!("db_init", path = %path.display()).entered();
    ensure_parent(&path)?;
    let (manager, db) = open(&path)?;
    // Safe steps only: an existing database with other tables keeps them (see `schema sync`).
    let report = db.ensure_schema_synced(&codedb_core::SyncOptions::default())?;
    manager.stop()?;
    for warning in &report.warnings {
        tracing::warn!("{warning}");
    }
    info(global)
}

/// Reports on an existing database; never creates or changes it.
pub(crate) fn info(global: &GlobalArgs) -> Result<(), CliError> {
    let path = global.db_path();
    let info = inspect(&path)?;
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

/// Creates the directory that will hold the database at `path`, if missing.
pub(crate) fn ensure_parent(path: &std::path::Path) -> Result<(), CliError> {
    if let Some(dir) = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty() && !d.exists())
    {
        std::fs::create_dir_all(dir).map_err(|e| {
            CliError(format!(
                "cannot create the directory {}: {e}",
                dir.display()
            ))
        })?;
    }
    Ok(())
}

/// Starts the database at `path` and opens `CodeDatabase` on it with its schema backend.
pub(crate) fn open(path: &std::path::Path) -> Result<(DBWorkerManager, CodeDatabase), CliError> {
    let manager = DBWorkerManager::start(SqliteConfig::new(path))?;
    let db = CodeDatabase::open_with_schema(manager.driver(), manager.schema_backend())?;
    Ok((manager, db))
}
