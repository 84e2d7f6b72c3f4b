//! `codedb index ROOT`: the incremental index of a tree, with a progress bar on a terminal.

use std::path::PathBuf;

use codedb_commands::{IndexOptions, index};

use crate::context::Context;
use crate::output::{CliError, emit, emit_lines};

/// Index a source tree (incremental: only what changed is parsed again).
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The project root.
    root: PathBuf,
}

pub(crate) fn run(ctx: &Context, a: &Args) -> Result<(), CliError> {
    let root = a.root.as_path();
    if !root.is_dir() {
        let why = if root.exists() {
            "is a file, not a directory"
        } else {
            "no such directory"
        };
        return Err(CliError(format!("{}: {why}", root.display())));
    }
    let config = crate::config::of_project(root)?;
    let (manager, db) = crate::open::open_project(ctx, root, &config)?;
    let options = IndexOptions {
        progress: progress_bar(),
        ..config.index_options()
    };
    let summary = index(&db, root, &options).map_err(|e| CliError(e.to_string()));
    if let Some(bar) = PROGRESS.get() {
        bar.finish_and_clear();
    }
    let summary = summary?;
    manager.stop()?;
    if ctx.json {
        return emit(true, &summary, Vec::new);
    }
    let mut lines = vec![format!(
        "indexed {} files, {} unchanged, {} removed, {} skipped, {} with parse errors in {:.2}s",
        summary.files_indexed,
        summary.files_unchanged,
        summary.files_removed,
        summary.files_skipped,
        summary.parse_errors,
        summary.seconds
    )];
    if summary.files_superseded > 0 {
        lines.push(format!(
            "{} files were stored by another writer meanwhile (left to it)",
            summary.files_superseded
        ));
    }
    lines.extend(
        summary
            .skipped
            .iter()
            .map(|s| format!("skipped {}: {}", s.path, s.reason)),
    );
    emit_lines(&lines)?;
    Ok(())
}

static PROGRESS: std::sync::OnceLock<indicatif::ProgressBar> = std::sync::OnceLock::new();

/// A progress bar on stderr when it is a terminal; none when piped.
fn progress_bar() -> Option<fn(usize, usize)> {
    use std::io::IsTerminal;
    if !std::io::stderr().is_terminal() {
        return None;
    }
    fn update(done: usize, found: usize) {
        let bar = PROGRESS.get_or_init(|| {
            let bar = indicatif::ProgressBar::new(0);
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "{bar:40} {pos}/{len} files stored ({elapsed})",
            ) {
                bar.set_style(style);
            }
            bar
        });
        bar.set_length(found as u64);
        bar.set_position(done as u64);
    }
    Some(update)
}
