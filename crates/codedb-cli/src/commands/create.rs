//! `codedb create PATH --content-file FILE`.

use std::path::PathBuf;

use super::project::{WriteArgs, read_content, write_command};
use crate::context::Context;
use crate::output::CliError;

/// Create a file (it must not exist).
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The file, relative to the project root.
    path: String,
    /// Its content ("-" reads stdin).
    #[arg(long, value_name = "FILE")]
    content_file: PathBuf,
    #[command(flatten)]
    write: WriteArgs,
}

pub(crate) fn run(ctx: &Context, a: &Args) -> Result<(), CliError> {
    let content = read_content(ctx, &a.content_file)?;
    write_command(ctx, |p| {
        codedb_commands::create(p, &a.path, &content, &a.write.options())
    })
}
