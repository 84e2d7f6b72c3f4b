//! `codedb edit PATH --content-file FILE | --replace-symbol QUALNAME --with FILE`.

use std::path::PathBuf;

use super::project::{WriteArgs, read_content, write_command};
use crate::context::Context;
use crate::output::CliError;

/// Replace a whole file, or one class, function or method of it: validated, backed up,
/// journaled, stored and committed to git, all or nothing.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
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
    write: WriteArgs,
}

pub(crate) fn run(ctx: &Context, a: &Args) -> Result<(), CliError> {
    match (&a.content_file, &a.replace_symbol, &a.with) {
        (Some(file), None, None) => {
            let content = read_content(ctx, file)?;
            write_command(ctx, |p| {
                codedb_commands::edit(p, &a.path, &content, &a.write.options())
            })
        }
        (None, Some(symbol), Some(file)) => {
            let source = read_content(ctx, file)?;
            write_command(ctx, |p| {
                codedb_commands::replace_symbol(p, &a.path, symbol, &source, &a.write.options())
            })
        }
        _ => Err(CliError::usage(
            "edit takes --content-file FILE, or --replace-symbol QUALNAME --with FILE".into(),
        )),
    }
}
