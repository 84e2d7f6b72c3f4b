//! `codedb status`: the state of a running server's workers.

use std::path::Path;

use crate::context::Context;
use crate::output::{CliError, emit, emit_lines};

/// `codedb status`: reads the status file a running server keeps.
pub(crate) fn run(ctx: &Context) -> Result<(), CliError> {
    let root = ctx.project_root()?;
    let path = root.join(".codedb/status.json");
    let text = std::fs::read_to_string(&path).map_err(|e| {
        CliError(format!(
            "{}: no server status ({e}); is `codedb serve` running here?",
            path.display()
        ))
    })?;
    let status: codedb_server::StatusFile = serde_json::from_str(&text)
        .map_err(|e| CliError(format!("{}: unreadable status: {e}", path.display())))?;
    let running =
        Path::new(&format!("/proc/{}", status.pid)).exists() || !cfg!(target_os = "linux");
    if ctx.json {
        return emit(
            true,
            &serde_json::json!({ "pid": status.pid, "running": running, "workers": status.workers }),
            Vec::new,
        );
    }
    let mut lines = vec![format!(
        "server pid {} ({})",
        status.pid,
        if running {
            "running"
        } else {
            "not running: the state below is its last"
        }
    )];
    lines.extend(status.workers.iter().map(|w| {
        format!(
            "  {:<12} {:<10} restarts {:<3} {}",
            w.name,
            format!("{:?}", w.state).to_lowercase(),
            w.restarts,
            w.last_error.as_deref().unwrap_or("")
        )
    }));
    emit_lines(&lines)?;
    Ok(())
}
