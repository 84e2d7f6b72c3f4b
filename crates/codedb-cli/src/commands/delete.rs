//! `codedb delete PATH`.

use super::project::{WriteArgs, write_command};
use crate::context::Context;
use crate::output::CliError;

/// Delete a file (a backup is kept).
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The file, relative to the project root.
    path: String,
    #[command(flatten)]
    write: WriteArgs,
}

pub(crate) fn run(ctx: &Context, a: &Args) -> Result<(), CliError> {
    write_command(ctx, |p| {
        codedb_commands::delete(p, &a.path, &a.write.options())
    })
}
