//! The global options, resolved once before a command runs: the output mode, the database
//! (`--db`, or a default that depends on the command), the project root (`--root`, or the
//! nearest ancestor of the current directory holding `.codedb/`), and where PostgreSQL
//! backups go. No command handler derives a default of its own.

use std::path::{Path, PathBuf};

use codedb_backends::DatabaseSpec;

use crate::cli::GlobalArgs;
use crate::output::CliError;

/// The default database, relative to the project root: SQLite, embedded.
pub(crate) const DEFAULT_DB: &str = ".codedb/codedb.sqlite";

/// The global options of this run.
#[derive(Debug)]
pub(crate) struct Context {
    /// One JSON object on stdout instead of text.
    pub(crate) json: bool,
    /// `--db` as given.
    pub(crate) db: Option<String>,
    /// `--root` as given.
    pub(crate) root: Option<PathBuf>,
    /// The current directory, read once.
    cwd: PathBuf,
}

impl Context {
    /// Resolves `global` (and reads the current directory).
    pub(crate) fn new(global: &GlobalArgs) -> Result<Context, CliError> {
        let cwd = std::env::current_dir()
            .map_err(|e| CliError(format!("cannot read the current directory: {e}")))?;
        Ok(Context {
            json: global.json,
            db: global.db.clone(),
            root: global.root.clone(),
            cwd,
        })
    }

    /// The database `--db` names (else `./.codedb/codedb.sqlite`); a path is made absolute
    /// so that what is printed (backup paths) is usable from anywhere.
    pub(crate) fn db_spec(&self) -> DatabaseSpec {
        self.db_or(|| PathBuf::from(DEFAULT_DB))
    }

    /// The database `--db` names, else the SQLite file `default()`.
    pub(crate) fn db_or(&self, default: impl FnOnce() -> PathBuf) -> DatabaseSpec {
        match self.db.as_deref().map(DatabaseSpec::parse) {
            Some(DatabaseSpec::Postgres(url)) => DatabaseSpec::Postgres(url),
            Some(DatabaseSpec::Sqlite(path)) => DatabaseSpec::Sqlite(absolute(path)),
            None => DatabaseSpec::Sqlite(absolute(default())),
        }
    }

    /// The current directory.
    pub(crate) fn cwd(&self) -> &Path {
        &self.cwd
    }

    /// `--root`, else the current directory.
    pub(crate) fn root_or_cwd(&self) -> PathBuf {
        self.root.clone().unwrap_or_else(|| self.cwd.clone())
    }

    /// The project root: `--root`, else the nearest ancestor of the current directory that
    /// holds `.codedb/`.
    pub(crate) fn project_root(&self) -> Result<PathBuf, CliError> {
        if let Some(root) = &self.root {
            if !root.is_dir() {
                return Err(CliError(format!(
                    "{}: not a directory (--root)",
                    root.display()
                )));
            }
            return Ok(root.clone());
        }
        self.cwd
            .ancestors()
            .find(|d| d.join(".codedb").is_dir())
            .map(Path::to_owned)
            .ok_or_else(|| {
                CliError(format!(
                    "no .codedb/ in {} or above; pass --root DIR or run `codedb index DIR` first",
                    self.cwd.display()
                ))
            })
    }
}

/// Where schema backups go when no `--backup-dir` is given: beside a SQLite file (`None`:
/// the schema crate's default); for PostgreSQL, `ROOT/.codedb/backups` when a command works
/// on a project, else `./codedb-backups` (never a `.codedb/` that would make the current
/// directory look like a project to the file commands).
pub(crate) fn default_backup_dir(spec: &DatabaseSpec, root: Option<&Path>) -> Option<PathBuf> {
    match (spec, root) {
        (DatabaseSpec::Sqlite(_), _) => None,
        (DatabaseSpec::Postgres(_), Some(root)) => {
            Some(absolute(root.join(".codedb").join("backups")))
        }
        (DatabaseSpec::Postgres(_), None) => Some(absolute(PathBuf::from("codedb-backups"))),
    }
}

fn absolute(path: PathBuf) -> PathBuf {
    std::path::absolute(&path).unwrap_or(path)
}
