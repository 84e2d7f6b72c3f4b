//! `codedb insert PATH --before|--after QUALNAME --with FILE` and `codedb delete-symbol
//! PATH QUALNAME`: symbol-level write commands, with every guarantee of `edit`.

use std::path::PathBuf;

use codedb_commands::Placement;

use super::project::{WriteArgs, read_content, write_command};
use crate::context::Context;
use crate::output::CliError;

/// Insert new source right before or after a class, function or method, re-indented to
/// its level.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("place").required(true).args(["before", "after"])))]
pub(crate) struct InsertArgs {
    /// The file, relative to the project root.
    path: String,
    /// Insert above this symbol (above its decorators and doc comments).
    #[arg(long, value_name = "QUALNAME")]
    before: Option<String>,
    /// Insert below this symbol.
    #[arg(long, value_name = "QUALNAME")]
    after: Option<String>,
    /// The source to insert ("-" reads stdin).
    #[arg(long, value_name = "FILE")]
    with: PathBuf,
    #[command(flatten)]
    write: WriteArgs,
}

/// Delete one class, function or method, with its decorators or attributes and the
/// comment lines right above it.
#[derive(Debug, clap::Args)]
pub(crate) struct DeleteSymbolArgs {
    /// The file, relative to the project root.
    path: String,
    /// The symbol's qualified name (`Parser.parse`; a bare name when unique).
    qualname: String,
    #[command(flatten)]
    write: WriteArgs,
}

pub(crate) fn run_insert(ctx: &Context, a: &InsertArgs) -> Result<(), CliError> {
    let (symbol, placement) = match (&a.before, &a.after) {
        (Some(s), None) => (s, Placement::Before),
        (None, Some(s)) => (s, Placement::After),
        _ => {
            return Err(CliError::usage(
                "insert takes one of --before QUALNAME or --after QUALNAME".into(),
            ));
        }
    };
    let source = read_content(ctx, &a.with)?;
    write_command(ctx, |p| {
        codedb_commands::insert_symbol(p, &a.path, symbol, placement, &source, &a.write.options())
    })
}

pub(crate) fn run_delete(ctx: &Context, a: &DeleteSymbolArgs) -> Result<(), CliError> {
    write_command(ctx, |p| {
        codedb_commands::delete_symbol(p, &a.path, &a.qualname, &a.write.options())
    })
}
