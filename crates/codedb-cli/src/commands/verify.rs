//! `codedb verify`: whether files, database and git agree.

use super::project::with_project;
use crate::context::Context;
use crate::output::{CliError, Failure, emit, emit_lines};

/// `codedb verify`: exits non-zero unless the invariant holds. A database too damaged to
/// be opened is reported like one whose integrity check fails: `database_corrupt`.
pub(crate) fn run(ctx: &Context) -> Result<(), CliError> {
    let r = match with_project(ctx, |p| Ok(codedb_commands::verify(p)?)) {
        Ok(r) => r,
        Err(e) if e.kind == Failure::CorruptDatabase => codedb_commands::VerifyReport {
            mismatches: vec![codedb_commands::Mismatch {
                path: String::new(),
                problem: "database_corrupt".into(),
                detail: format!("the database cannot be read: {e}"),
            }],
            ..Default::default()
        },
        Err(e) => return Err(e),
    };
    if ctx.json {
        emit(true, &r, Vec::new)?;
    } else {
        let mut lines = vec![format!(
            "verify: {} files checked, {} mismatches, {} pending intents",
            r.files_checked,
            r.mismatches.len(),
            r.pending_intents
        )];
        lines.extend(
            r.mismatches
                .iter()
                .map(|m| format!("  {}: {} ({})", m.path, m.problem, m.detail)),
        );
        emit_lines(&lines)?;
    }
    if r.is_clean() {
        Ok(())
    } else {
        Err(CliError(format!(
            "verify found {} mismatches and {} pending intents",
            r.mismatches.len(),
            r.pending_intents
        )))
    }
}
