//! Argument definitions and dispatch.

use std::path::{Path, PathBuf};

use codedb_backends::DatabaseSpec;

use clap::{Args, Parser, Subcommand};

use crate::commands::{self, WriteArgs};
use crate::{db, index, schema};

/// The default database, relative to the project root: SQLite, embedded.
pub(crate) const DEFAULT_DB: &str = ".codedb/codedb.sqlite";

/// codedb: a code index and crash-safe code editing on a database.
#[derive(Debug, Parser)]
#[command(name = "codedb", version, about, long_about = None, propagate_version = true)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub(crate) global: GlobalArgs,

    /// More log output on stderr (-v info, -vv debug, -vvv trace); RUST_LOG overrides it.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub(crate) verbose: u8,

    #[command(subcommand)]
    pub(crate) command: Command,
}

/// Options every subcommand accepts, before or after its name.
#[derive(Debug, Args)]
pub(crate) struct GlobalArgs {
    /// The database: a SQLite file, or a PostgreSQL URL (postgres://user@host:port/db)
    /// [default: ROOT/.codedb/codedb.sqlite for `index` and the file commands, the nearest
    /// .codedb/codedb.sqlite for `query`, ./.codedb/codedb.sqlite otherwise].
    #[arg(long, global = true, value_name = "PATH|URL")]
    pub(crate) db: Option<String>,

    /// Print one JSON object on stdout instead of text.
    #[arg(long, global = true)]
    pub(crate) json: bool,

    /// The project root for the file commands [default: the nearest ancestor of the current
    /// directory holding .codedb/]. Their paths are relative to it.
    #[arg(long, global = true, value_name = "DIR")]
    pub(crate) root: Option<PathBuf>,
}

impl GlobalArgs {
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

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Index a source tree (incremental: only what changed is parsed again).
    Index {
        /// The project root.
        root: PathBuf,
    },
    /// Query the index (of the project here, or `--all-projects`).
    Query(index::QueryArgs),
    /// The database itself: create it, inspect it.
    #[command(subcommand)]
    Db(DbCommand),
    /// The database's schema: plan and apply changes towards the code schema or a DDL file.
    #[command(subcommand)]
    Schema(SchemaCommand),
    /// Database backups: create, list, restore.
    #[command(subcommand)]
    Backup(schema::BackupCommand),
    /// Replace a whole file, or one class, function or method of it: validated, backed up,
    /// journaled, stored and committed to git, all or nothing.
    Edit {
        /// The file, relative to the project root.
        path: String,
        /// The new content ("-" reads stdin).
        #[arg(long, value_name = "FILE", conflicts_with_all = ["replace_symbol", "with"])]
        content_file: Option<PathBuf>,
        /// The qualified name of the symbol to replace (e.g. `Parser.parse`).
        #[arg(long, value_name = "QUALNAME", requires = "with")]
        replace_symbol: Option<String>,
        /// The symbol's new source ("-" reads stdin); re-indented to fit.
        #[arg(long, value_name = "FILE", requires = "replace_symbol")]
        with: Option<PathBuf>,
        #[command(flatten)]
        args: WriteArgs,
    },
    /// Create a file (it must not exist).
    Create {
        /// The file, relative to the project root.
        path: String,
        /// Its content ("-" reads stdin).
        #[arg(long, value_name = "FILE")]
        content_file: PathBuf,
        #[command(flatten)]
        args: WriteArgs,
    },
    /// Delete a file (a backup is kept).
    Delete {
        /// The file, relative to the project root.
        path: String,
        #[command(flatten)]
        args: WriteArgs,
    },
    /// Move a file; its entities keep their ids.
    Move {
        /// The file, relative to the project root.
        from: String,
        /// Where to, relative to the project root (must not exist).
        to: String,
        #[command(flatten)]
        args: WriteArgs,
    },
    /// List a file's backups, newest first.
    History {
        /// The file, relative to the project root.
        path: String,
    },
    /// Put a file back as a backup has it (the newest, or --backup ID).
    Restore {
        /// The file, relative to the project root.
        path: String,
        /// The backup id (from `history`).
        #[arg(long, value_name = "ID")]
        backup: Option<i64>,
        #[command(flatten)]
        args: WriteArgs,
    },
    /// Finish or undo what interrupted commands left (every command does this first).
    Recover,
    /// Serve MCP over stdio: config, recover, database, schema sync, workers, then tools.
    /// `--db` (a SQLite path or a postgres:// URL) takes the place of the configured database.
    Serve {
        /// The configuration file (codedb.toml) [default: built-in defaults].
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
    /// The state of a running server's workers (from ROOT/.codedb/status.json).
    Status,
    /// Check that files, database and git agree; exit 1 unless they do.
    Verify,
}

#[derive(Debug, Subcommand)]
pub(crate) enum SchemaCommand {
    /// Show what `schema sync` would change, without changing anything.
    Plan(schema::SyncArgs),
    /// Bring the database to the desired schema: back up, apply atomically, verify, log.
    /// Creates the database when it does not exist.
    Sync {
        #[command(flatten)]
        args: schema::SyncArgs,
        /// Plan only, like `schema plan`.
        #[arg(long)]
        dry_run: bool,
    },
    /// Print the live schema as DDL.
    Dump,
}

#[derive(Debug, Subcommand)]
pub(crate) enum DbCommand {
    /// Create the database (and its directory) if absent, in WAL mode, bring it to the code
    /// schema (safe steps only), then report on it.
    Init,
    /// Report on an existing database without changing it: SQLite version, journal mode,
    /// page count, integrity check.
    Info,
}

pub(crate) fn run(cli: &Cli) -> Result<(), crate::output::CliError> {
    match &cli.command {
        Command::Index { root } => index::run_index(&cli.global, root),
        Command::Query(command) => index::run_query(&cli.global, command),
        Command::Db(DbCommand::Init) => db::init(&cli.global),
        Command::Db(DbCommand::Info) => db::info(&cli.global),
        Command::Schema(SchemaCommand::Plan(args)) => schema::run_sync(&cli.global, args, true),
        Command::Schema(SchemaCommand::Sync { args, dry_run }) => {
            schema::run_sync(&cli.global, args, *dry_run)
        }
        Command::Schema(SchemaCommand::Dump) => schema::dump(&cli.global),
        Command::Backup(command) => schema::run_backup(&cli.global, command),
        Command::Edit {
            path,
            content_file,
            replace_symbol,
            with,
            args,
        } => commands::edit(
            &cli.global,
            path,
            content_file.as_deref(),
            replace_symbol.as_deref(),
            with.as_deref(),
            args,
        ),
        Command::Create {
            path,
            content_file,
            args,
        } => commands::create(&cli.global, path, content_file, args),
        Command::Delete { path, args } => commands::delete(&cli.global, path, args),
        Command::Move { from, to, args } => commands::move_file(&cli.global, from, to, args),
        Command::History { path } => commands::history(&cli.global, path),
        Command::Restore { path, backup, args } => {
            commands::restore(&cli.global, path, *backup, args)
        }
        Command::Recover => commands::recover(&cli.global),
        Command::Serve { config } => commands::serve(&cli.global, config.as_deref()),
        Command::Status => commands::status(&cli.global),
        Command::Verify => commands::verify(&cli.global),
    }
}
