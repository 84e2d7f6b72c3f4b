//! Argument definitions and dispatch: the global options ([`GlobalArgs`], resolved once into
//! a [`Context`]) and one variant per command, each handled by its module under
//! `commands/`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::commands;
use crate::context::Context;
use crate::output::CliError;

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

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Index a source tree (incremental: only what changed is parsed again).
    Index(commands::index::Args),
    /// Query the index (of the project here, or `--all-projects`).
    Query(commands::query::Args),
    /// The database itself: create it, inspect it.
    #[command(subcommand)]
    Db(commands::db::Command),
    /// The database's schema: plan and apply changes towards the code schema or a DDL file.
    #[command(subcommand)]
    Schema(commands::schema::Command),
    /// Database backups: create, list, restore.
    #[command(subcommand)]
    Backup(commands::backup::Command),
    /// Replace a whole file, or one class, function or method of it: validated, backed up,
    /// journaled, stored and committed to git, all or nothing.
    Edit(commands::edit::Args),
    /// Insert new source right before or after a class, function or method (re-indented
    /// to its level), with every guarantee of `edit`.
    Insert(commands::symbol_edit::InsertArgs),
    /// Delete one class, function or method (with its decorators and doc comments), with
    /// every guarantee of `edit`.
    DeleteSymbol(commands::symbol_edit::DeleteSymbolArgs),
    /// Rename a definition and every exact or inferred reference to it across files: one
    /// command (all files or none, one git commit), with every guarantee of `edit`.
    Rename(commands::rename::Args),
    /// Create a file (it must not exist).
    Create(commands::create::Args),
    /// Delete a file (a backup is kept).
    Delete(commands::delete::Args),
    /// Move a file; its entities keep their ids.
    Move(commands::move_file::Args),
    /// List a file's backups, newest first.
    History(commands::history::Args),
    /// Put a file back as a backup has it (the newest, or --backup ID).
    Restore(commands::restore::Args),
    /// Finish or undo what interrupted commands left (every command does this first).
    Recover,
    /// Serve MCP over stdio: config, recover, database, schema sync, workers, then tools.
    /// `--db` (a SQLite path or a postgres:// URL) takes the place of the configured database.
    Serve(commands::serve::Args),
    /// The state of a running server's workers (from ROOT/.codedb/status.json).
    Status,
    /// Check that files, database and git agree; exit 1 unless they do.
    Verify,
}

/// Runs the command `cli` names.
pub(crate) fn run(cli: &Cli) -> Result<(), CliError> {
    let ctx = Context::new(&cli.global)?;
    let ctx = &ctx;
    match &cli.command {
        Command::Index(a) => commands::index::run(ctx, a),
        Command::Query(a) => commands::query::run(ctx, a),
        Command::Db(c) => commands::db::run(ctx, c),
        Command::Schema(c) => commands::schema::run(ctx, c),
        Command::Backup(c) => commands::backup::run(ctx, c),
        Command::Edit(a) => commands::edit::run(ctx, a),
        Command::Insert(a) => commands::symbol_edit::run_insert(ctx, a),
        Command::DeleteSymbol(a) => commands::symbol_edit::run_delete(ctx, a),
        Command::Rename(a) => commands::rename::run(ctx, a),
        Command::Create(a) => commands::create::run(ctx, a),
        Command::Delete(a) => commands::delete::run(ctx, a),
        Command::Move(a) => commands::move_file::run(ctx, a),
        Command::History(a) => commands::history::run(ctx, a),
        Command::Restore(a) => commands::restore::run(ctx, a),
        Command::Recover => commands::recover::run(ctx),
        Command::Serve(a) => commands::serve::run(ctx, a),
        Command::Status => commands::status::run(ctx),
        Command::Verify => commands::verify::run(ctx),
    }
}
