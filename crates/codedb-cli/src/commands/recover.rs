//! `codedb recover`: finishes or undoes what interrupted commands left.

use super::project::with_project;
use crate::context::Context;
use crate::output::{CliError, emit, emit_lines};

pub(crate) fn run(ctx: &Context) -> Result<(), CliError> {
    let r = with_project(ctx, |p| Ok(codedb_commands::recover(p)?))?;
    if ctx.json {
        emit(true, &r, Vec::new)?;
    } else {
        let mut lines = vec![format!(
            "recover: {} rolled forward, {} rolled back, {} left to a running command, {} not finished",
            r.rolled_forward.len(),
            r.rolled_back.len(),
            r.busy,
            r.failed.len()
        )];
        lines.extend(
            r.failed
                .iter()
                .map(|u| format!("  {} ({}): {}", u.id, u.paths.join(", "), u.error)),
        );
        emit_lines(&lines)?;
    }
    match r.failed.first() {
        None => Ok(()),
        Some(u) => Err(CliError(format!(
            "{} interrupted command(s) could not be finished, first {} ({}): {}",
            r.failed.len(),
            u.id,
            u.paths.join(", "),
            u.error
        ))),
    }
}
