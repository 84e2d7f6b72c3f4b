//! `codedb serve [--config FILE]`: the MCP server over stdio.

use std::path::PathBuf;

use crate::context::Context;
use crate::output::CliError;

/// Serve MCP over stdio: config, recover, database, schema sync, workers, then tools.
/// `--db` (a SQLite path or a postgres:// URL) takes the place of the configured database.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The configuration file [default: ROOT/codedb.toml when there is one, else the
    /// built-in defaults].
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

/// The root is `--root`, else the current directory.
pub(crate) fn run(ctx: &Context, a: &Args) -> Result<(), CliError> {
    let root = ctx.root_or_cwd();
    let config = a.config.as_deref();
    let database = ctx.db.is_some().then(|| ctx.db_spec());
    let default_config = crate::config::file_of(&root);
    let config = config.or(default_config.as_deref());
    codedb_server::serve_on(&root, config, database).map_err(|e| {
        if matches!(e, codedb_server::StartError::Config(_)) {
            CliError::usage(e.to_string())
        } else {
            CliError(e.to_string())
        }
    })
}
