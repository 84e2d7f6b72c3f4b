//! `codedb restore PATH [--backup ID]`.

use super::project::{WriteArgs, write_command};
use crate::context::Context;
use crate::output::CliError;

/// Put a file back as a backup has it (the newest, or --backup ID).
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The file, relative to the project root.
    path: String,
    /// The backup id (from `history`).
    #[arg(long, value_name = "ID")]
    backup: Option<i64>,
    #[command(flatten)]
    write: WriteArgs,
}

pub(crate) fn run(ctx: &Context, a: &Args) -> Result<(), CliError> {
    write_command(ctx, |p| {
        codedb_commands::restore(p, &a.path, a.backup, &a.write.options())
    })
}
