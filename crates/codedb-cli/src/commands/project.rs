//! What the commands that work on a project share: opening it (its root, its
//! `codedb.toml`, its database), reading a command's content argument, running a write
//! command and printing its report.

use std::path::Path;

use clap::Args;
use codedb_commands::{CommandReport, EditOptions, Project};

use crate::context::Context;
use crate::output::{CliError, emit, emit_lines};

/// Options of the commands that change a file.
#[derive(Debug, Args)]
pub(crate) struct WriteArgs {
    /// The commit message [default: "codedb: <command> <path>"].
    #[arg(long, short)]
    pub(crate) message: Option<String>,
    /// Refuse unless the file on disk has this sha256 (lowercase hex): a lost-update guard.
    #[arg(long, value_name = "HEX")]
    pub(crate) expect_sha256: Option<String>,
}

impl WriteArgs {
    pub(crate) fn options(&self) -> EditOptions {
        EditOptions {
            message: self.message.clone(),
            expect_sha256: self.expect_sha256.clone(),
        }
    }
}

/// Opens the project (with the settings of its `codedb.toml`) and runs `f` on it, stopping
/// the database cleanly afterwards.
pub(crate) fn with_project<T>(
    ctx: &Context,
    f: impl FnOnce(&Project) -> Result<T, CliError>,
) -> Result<T, CliError> {
    let root = ctx.project_root()?;
    let config = crate::config::of_project(&root)?;
    let (manager, db) = crate::open::open_indexed_project(ctx, &root, &config)?;
    let result = Project::open(&db, &root, config.command_options())
        .map_err(CliError::from)
        .and_then(|project| f(&project));
    manager.stop()?;
    result
}

/// The content of `file` (`-`: stdin), read up to the project's size limit: a larger one
/// (`/dev/zero`, a runaway pipe) is refused once the limit is passed, not read to the end.
pub(crate) fn read_content(ctx: &Context, file: &Path) -> Result<String, CliError> {
    use std::io::Read;
    let limit = ctx
        .project_root()
        .and_then(|root| crate::config::of_project(&root))
        .map_or(codedb_commands::DEFAULT_MAX_FILE_BYTES, |c| {
            c.limits.max_file_bytes
        });
    let (what, reader): (String, Box<dyn Read>) = if file == Path::new("-") {
        ("stdin".into(), Box::new(std::io::stdin()))
    } else {
        let f = std::fs::File::open(file).map_err(|e| {
            CliError(format!(
                "{}: cannot read the content file: {e}",
                file.display()
            ))
        })?;
        (file.display().to_string(), Box::new(f))
    };
    let mut bytes = Vec::new();
    reader
        .take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| CliError(format!("{what}: cannot read the content: {e}")))?;
    if bytes.len() as u64 > limit {
        return Err(CliError(format!(
            "{what}: more than {limit} bytes is over the file size limit of {limit} bytes (`limits.max_file_bytes` in codedb.toml); nothing was changed"
        )));
    }
    String::from_utf8(bytes).map_err(|e| {
        CliError(format!(
            "{what}: the content is not UTF-8 ({e}); nothing was changed"
        ))
    })
}

/// Runs the write command `f` on the project and prints its report. A command that landed
/// with steps left for `recover` prints its report too (the file has its new content, and
/// its sha256 is worth chaining), then fails with exit code 4.
pub(crate) fn write_command(
    ctx: &Context,
    f: impl FnOnce(&Project) -> Result<CommandReport, codedb_commands::CommandError>,
) -> Result<(), CliError> {
    let mut landed = None;
    let result = with_project(ctx, |p| match f(p) {
        Ok(r) => Ok(r),
        Err(e) => {
            if let codedb_commands::CommandError::Landed { report, .. } = &e {
                landed = Some((**report).clone());
            }
            Err(CliError::from(e))
        }
    });
    match (result, landed) {
        (Ok(r), _) => report(ctx, &r).map_err(|e| {
            // The command landed: a failed report must not read as "nothing changed".
            CliError(format!(
                "{} {} landed (sha256 {}), but its report could not be written: {e}",
                r.kind,
                r.paths.join(" -> "),
                r.sha256.as_deref().unwrap_or("-")
            ))
        }),
        (Err(e), Some(r)) => {
            let _ = report(ctx, &r);
            Err(e)
        }
        (Err(e), None) => Err(e),
    }
}

pub(crate) fn report(ctx: &Context, r: &CommandReport) -> Result<(), CliError> {
    if ctx.json {
        return emit(true, r, Vec::new);
    }
    if let Some(rename) = &r.rename {
        return rename_report(r, rename);
    }
    let what = if r.unchanged {
        format!(
            "{}: unchanged (the content was already that)",
            r.paths.join(" -> ")
        )
    } else {
        format!("{} {}", r.kind, r.paths.join(" -> "))
    };
    let mut lines = vec![what];
    if let Some(sha) = &r.sha256 {
        lines.push(format!("sha256 {sha}"));
    }
    if !r.backups.is_empty() {
        let ids: Vec<String> = r.backups.iter().map(i64::to_string).collect();
        lines.push(format!("backup {}", ids.join(", ")));
    }
    if let Some(c) = &r.git_commit {
        lines.push(format!("git commit {c}"));
    }
    emit_lines(&lines)?;
    Ok(())
}

/// A rename's text report: its diff (dry run), or what it changed.
fn rename_report(
    r: &CommandReport,
    rename: &codedb_commands::RenameSummary,
) -> Result<(), CliError> {
    let mut lines = Vec::new();
    if let Some(diff) = &rename.diff {
        lines.extend(diff.lines().map(str::to_owned));
    }
    lines.push(format!(
        "{}rename {} -> {}: {} definition(s), {} reference(s) ({} by name) in {} file(s){}",
        if rename.dry_run { "dry run: " } else { "" },
        rename.definition,
        rename.qualified_name,
        rename.definitions_changed,
        rename.references_changed,
        rename.name_matches_changed,
        rename.files.len(),
        if rename.references_kept > 0 {
            format!(
                "; {} reference(s) through another name kept",
                rename.references_kept
            )
        } else {
            String::new()
        }
    ));
    if !rename.dry_run {
        for f in &rename.files {
            lines.push(format!(
                "{} ({} occurrence(s)) sha256 {}",
                f.path, f.occurrences, f.sha256
            ));
        }
    }
    if !r.backups.is_empty() {
        let ids: Vec<String> = r.backups.iter().map(i64::to_string).collect();
        lines.push(format!("backup {}", ids.join(", ")));
    }
    if let Some(c) = &r.git_commit {
        lines.push(format!("git commit {c}"));
    }
    emit_lines(&lines)
}
