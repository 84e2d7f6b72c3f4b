//! `codedb move FROM TO`.

use super::project::{WriteArgs, write_command};
use crate::context::Context;
use crate::output::CliError;

/// Move a file; its entities keep their ids.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The file, relative to the project root.
    from: String,
    /// Where to, relative to the project root (must not exist).
    to: String,
    #[command(flatten)]
    write: WriteArgs,
}

pub(crate) fn run(ctx: &Context, a: &Args) -> Result<(), CliError> {
    write_command(ctx, |p| {
        codedb_commands::move_file(p, &a.from, &a.to, &a.write.options())
    })
}
