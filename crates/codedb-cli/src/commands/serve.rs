//! `codedb serve [--config FILE] [--http ADDR]`: the MCP server over stdio, or over
//! streamable HTTP.

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
    /// Serve MCP over streamable HTTP at http://ADDR/mcp instead of stdio (HOST:PORT, or a
    /// port on 127.0.0.1); every request needs `Authorization: Bearer TOKEN`, the token
    /// being `server.token` or `.codedb/token` (generated on first start). Default: the
    /// configuration's `server.http` when set, else stdio.
    #[arg(long, value_name = "ADDR")]
    http: Option<String>,
}

/// The root is `--root`, else the current directory.
pub(crate) fn run(ctx: &Context, a: &Args) -> Result<(), CliError> {
    let root = ctx.root_or_cwd();
    let config = a.config.as_deref();
    let database = ctx.db.is_some().then(|| ctx.db_spec());
    let default_config = crate::config::file_of(&root);
    let config = config.or(default_config.as_deref());
    let http = match (&a.http, config) {
        (Some(_), _) => true,
        (None, Some(path)) => codedb_server::Config::load(path)
            .map(|c| c.server.is_http())
            .unwrap_or(false),
        (None, None) => false,
    };
    let result = if http {
        codedb_server::serve_http(&root, config, database, a.http.as_deref())
    } else {
        codedb_server::serve_on(&root, config, database)
    };
    result.map_err(|e| {
        if matches!(e, codedb_server::StartError::Config(_)) {
            CliError::usage(e.to_string())
        } else {
            CliError(e.to_string())
        }
    })
}
