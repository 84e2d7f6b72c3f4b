//! Argument definitions and dispatch.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::db;

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
    /// The database file [default: .codedb/codedb.sqlite under the current directory].
    #[arg(long, global = true, value_name = "PATH")]
    pub(crate) db: Option<PathBuf>,

    /// Print one JSON object on stdout instead of text.
    #[arg(long, global = true)]
    pub(crate) json: bool,
}

impl GlobalArgs {
    pub(crate) fn db_path(&self) -> PathBuf {
        self.db.clone().unwrap_or_else(|| PathBuf::from(DEFAULT_DB))
    }
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// The database itself: create it, inspect it.
    #[command(subcommand)]
    Db(DbCommand),
}

#[derive(Debug, Subcommand)]
pub(crate) enum DbCommand {
    /// Create the database (and its directory) if absent, in WAL mode, then report on it.
    Init,
    /// Report on an existing database without changing it: SQLite version, journal mode,
    /// page count, integrity check.
    Info,
}

pub(crate) fn run(cli: &Cli) -> Result<(), crate::output::CliError> {
    match &cli.command {
        Command::Db(DbCommand::Init) => db::init(&cli.global),
        Command::Db(DbCommand::Info) => db::info(&cli.global),
    }
}
