//! `codedb rename [PATH:]QUALNAME NEW_NAME`: a definition and its references across files,
//! one command (all files or none, one git commit), with every guarantee of `edit`.

use super::project::write_command;
use crate::context::Context;
use crate::output::CliError;

/// Rename a definition and every exact or inferred reference to it, in every file.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The definition: `QUALNAME` or `PATH:QUALNAME` (as `query refs` takes it).
    qualname: String,
    /// Its new name (an identifier of its language, not a keyword).
    new_name: String,
    /// Rename the references resolved by name only (`name`, `ambiguous`) too; without it,
    /// any such reference refuses the rename.
    #[arg(long)]
    include_name_matches: bool,
    /// Print the unified diff of every file; change nothing.
    #[arg(long)]
    dry_run: bool,
    /// The commit message [default: "codedb: rename PATH:QUALNAME -> NEW_NAME"].
    #[arg(long, short)]
    message: Option<String>,
}

pub(crate) fn run(ctx: &Context, a: &Args) -> Result<(), CliError> {
    let options = codedb_commands::RenameOptions {
        include_name_matches: a.include_name_matches,
        dry_run: a.dry_run,
        message: a.message.clone(),
    };
    write_command(ctx, |p| {
        codedb_commands::rename(p, &a.qualname, &a.new_name, &options)
    })
}
