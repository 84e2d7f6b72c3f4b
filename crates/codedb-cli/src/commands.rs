//! The write commands (`edit`, `create`, `delete`, `move`, `restore`), `history`,
//! `recover` and `verify`: each finds the project root (`--root`, else the nearest ancestor
//! of the current directory holding `.codedb/`), opens its database (`--db`, else
//! `ROOT/.codedb/codedb.sqlite`), brings it to the code schema, and runs one library call
//! of `codedb_commands`. Paths are relative to the project root.

use std::path::{Path, PathBuf};

use clap::Args;
use codedb_commands::{CommandReport, EditOptions, Project};

use crate::cli::GlobalArgs;
use crate::output::{CliError, Failure, emit, emit_lines};

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
    fn options(&self) -> EditOptions {
        EditOptions {
            message: self.message.clone(),
            expect_sha256: self.expect_sha256.clone(),
        }
    }
}

/// The project root: `--root`, else the nearest ancestor of the current directory that
/// holds `.codedb/`.
fn find_root(global: &GlobalArgs) -> Result<PathBuf, CliError> {
    if let Some(root) = &global.root {
        if !root.is_dir() {
            return Err(CliError(format!(
                "{}: not a directory (--root)",
                root.display()
            )));
        }
        return Ok(root.clone());
    }
    let cwd = std::env::current_dir()
        .map_err(|e| CliError(format!("cannot read the current directory: {e}")))?;
    cwd.ancestors()
        .find(|d| d.join(".codedb").is_dir())
        .map(Path::to_owned)
        .ok_or_else(|| {
            CliError(format!(
                "no .codedb/ in {} or above; pass --root DIR or run `codedb index DIR` first",
                cwd.display()
            ))
        })
}

/// Opens the project (with the settings of its `codedb.toml`) and runs `f` on it, stopping
/// the database cleanly afterwards.
fn with_project<T>(
    global: &GlobalArgs,
    f: impl FnOnce(&Project) -> Result<T, CliError>,
) -> Result<T, CliError> {
    let root = find_root(global)?;
    let config = crate::config::of_project(&root)?;
    let (manager, db) = crate::db::open_indexed_project(global, &root, &config)?;
    let result = Project::open(&db, &root, config.command_options())
        .map_err(CliError::from)
        .and_then(|project| f(&project));
    manager.stop()?;
    result
}

/// The content of `file` (`-`: stdin), read up to the project's size limit: a larger one
/// (`/dev/zero`, a runaway pipe) is refused once the limit is passed, not read to the end.
fn read_content(global: &GlobalArgs, file: &Path) -> Result<String, CliError> {
    use std::io::Read;
    let limit = find_root(global)
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
fn write_command(
    global: &GlobalArgs,
    f: impl FnOnce(&Project) -> Result<CommandReport, codedb_commands::CommandError>,
) -> Result<(), CliError> {
    let mut landed = None;
    let result = with_project(global, |p| match f(p) {
        Ok(r) => Ok(r),
        Err(e) => {
            if let codedb_commands::CommandError::Landed { report, .. } = &e {
                landed = Some((**report).clone());
            }
            Err(CliError::from(e))
        }
    });
    match (result, landed) {
        (Ok(r), _) => report(global, &r).map_err(|e| {
            // The command landed: a failed report must not read as "nothing changed".
            CliError(format!(
                "{} {} landed (sha256 {}), but its report could not be written: {e}",
                r.kind,
                r.paths.join(" -> "),
                r.sha256.as_deref().unwrap_or("-")
            ))
        }),
        (Err(e), Some(r)) => {
            let _ = report(global, &r);
            Err(e)
        }
        (Err(e), None) => Err(e),
    }
}

fn report(global: &GlobalArgs, r: &CommandReport) -> Result<(), CliError> {
    if global.json {
        return emit(true, r, Vec::new);
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

/// `codedb edit PATH --content-file FILE | --replace-symbol QUALNAME --with FILE`.
pub(crate) fn edit(
    global: &GlobalArgs,
    path: &str,
    content_file: Option<&Path>,
    replace_symbol: Option<&str>,
    with: Option<&Path>,
    args: &WriteArgs,
) -> Result<(), CliError> {
    match (content_file, replace_symbol, with) {
        (Some(file), None, None) => {
            let content = read_content(global, file)?;
            write_command(global, |p| {
                codedb_commands::edit(p, path, &content, &args.options())
            })
        }
        (None, Some(symbol), Some(file)) => {
            let source = read_content(global, file)?;
            write_command(global, |p| {
                codedb_commands::replace_symbol(p, path, symbol, &source, &args.options())
            })
        }
        _ => Err(CliError::usage(
            "edit takes --content-file FILE, or --replace-symbol QUALNAME --with FILE".into(),
        )),
    }
}

/// `codedb create PATH --content-file FILE`.
pub(crate) fn create(
    global: &GlobalArgs,
    path: &str,
    content_file: &Path,
    args: &WriteArgs,
) -> Result<(), CliError> {
    let content = read_content(global, content_file)?;
    write_command(global, |p| {
        codedb_commands::create(p, path, &content, &args.options())
    })
}

/// `codedb delete PATH`.
pub(crate) fn delete(global: &GlobalArgs, path: &str, args: &WriteArgs) -> Result<(), CliError> {
    write_command(global, |p| {
        codedb_commands::delete(p, path, &args.options())
    })
}

/// `codedb move FROM TO`.
pub(crate) fn move_file(
    global: &GlobalArgs,
    from: &str,
    to: &str,
    args: &WriteArgs,
) -> Result<(), CliError> {
    write_command(global, |p| {
        codedb_commands::move_file(p, from, to, &args.options())
    })
}

/// `codedb restore PATH [--backup ID]`.
pub(crate) fn restore(
    global: &GlobalArgs,
    path: &str,
    backup: Option<i64>,
    args: &WriteArgs,
) -> Result<(), CliError> {
    write_command(global, |p| {
        codedb_commands::restore(p, path, backup, &args.options())
    })
}

/// `codedb history PATH`.
pub(crate) fn history(global: &GlobalArgs, path: &str) -> Result<(), CliError> {
    let backups = with_project(global, |p| Ok(codedb_commands::history(p, path)?))?;
    if global.json {
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

/// `codedb recover`.
pub(crate) fn recover(global: &GlobalArgs) -> Result<(), CliError> {
    let r = with_project(global, |p| Ok(codedb_commands::recover(p)?))?;
    if global.json {
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

/// `codedb verify`: exits non-zero unless the invariant holds. A database too damaged to
/// be opened is reported like one whose integrity check fails: `database_corrupt`.
pub(crate) fn verify(global: &GlobalArgs) -> Result<(), CliError> {
    let r = match with_project(global, |p| Ok(codedb_commands::verify(p)?)) {
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
    if global.json {
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

/// `codedb serve [--config FILE]`: the root is `--root`, else the current directory.
pub(crate) fn serve(global: &GlobalArgs, config: Option<&Path>) -> Result<(), CliError> {
    let root = match &global.root {
        Some(r) => r.clone(),
        None => std::env::current_dir()
            .map_err(|e| CliError(format!("cannot read the current directory: {e}")))?,
    };
    let database = global.db.is_some().then(|| global.db_spec());
    let default_config = crate::config::file_of(&root);
    let config = config.or(default_config.as_deref());
    codedb_server::serve_on(&root, config, database).map_err(|e| {
        if matches!(e, codedb_server::StartError::Config(_)) {
            CliError::usage(e.to_string())
        } else {
            CliError(e.to_string())
        }
    })
}

/// `codedb status`: reads the status file a running server keeps.
pub(crate) fn status(global: &GlobalArgs) -> Result<(), CliError> {
    let root = find_root(global)?;
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
    if global.json {
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
