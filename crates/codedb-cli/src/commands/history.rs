//! `codedb history PATH`: a file's backups, newest first.

use super::project::with_project;
use crate::context::Context;
use crate::output::{CliError, emit, emit_lines};

/// List a file's backups, newest first.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The file, relative to the project root.
    path: String,
}

pub(crate) fn run(ctx: &Context, a: &Args) -> Result<(), CliError> {
    let path = &a.path;
    let backups = with_project(ctx, |p| Ok(codedb_commands::history(p, path)?))?;
    if ctx.json {
        return emit(
            true,
            &serde_json::json!({ "path": path, "backups": backups }),
            Vec::new,
        );
    }
    if backups.is_empty() {
        emit_lines(&[format!("{path}: no backups")])?;
        return Ok(());
    }
    let mut lines = vec![format!(
        "{:>6}  {:<14}  {:>9}  {:<64}  command",
        "id", "taken (unix ms)", "bytes", "sha256"
    )];
    lines.extend(backups.iter().map(|b| {
        format!(
            "{:>6}  {:<14}  {:>9}  {:<64}  {} {}",
            b.id, b.created_at, b.size, b.sha256, b.command, b.command_id
        )
    }));
    emit_lines(&lines)?;
    Ok(())
}
