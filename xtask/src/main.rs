//! `cargo xtask`: codedb's developer tasks.
//!
//! * `cargo xtask tidy`: the architecture invariants of `ARCHITECTURE.md` (crate layering,
//!   which crates may name rusqlite/r2d2 or install a tracing subscriber, `//!` docs on every
//!   `.rs` file, no ignored tests). Each check is also a `#[test]`, so `cargo test` enforces
//!   them.
//! * `cargo xtask ci`: everything CI runs: fmt --check, clippy with warnings denied, tidy,
//!   the docs with warnings denied, the tests (with all features, so failpoint tests and
//!   the crates' doc examples run too).
//! * `cargo xtask bench worker [--json]`: the DBWorker benchmark (see `bench.rs`).
//!
//! xtask depends on no codedb crate: it reads `cargo metadata` and the source tree, and runs
//! cargo.

#![allow(clippy::print_stdout)] // a command-line tool reports on stdout

mod bench;
mod tidy;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("tidy") => tidy::run(&workspace_root()),
        Some("ci") => ci(),
        Some("bench") => bench::run(&args[1..]),
        _ => Err(USAGE.to_owned()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

const USAGE: &str = "usage: cargo xtask <tidy | ci | bench worker [--json]>";

/// The workspace root (the parent of this crate's directory).
pub(crate) fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Runs `cargo ARGS` in the workspace root, failing with the command line on a non-zero exit.
pub(crate) fn cargo(args: &[&str]) -> Result<(), String> {
    cargo_with_env(args, &[])
}

/// [`cargo`] with more environment variables for the child.
fn cargo_with_env(args: &[&str], env: &[(&str, &str)]) -> Result<(), String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let shown: Vec<String> = env.iter().map(|(k, v)| format!("{k}={v} ")).collect();
    eprintln!("$ {}cargo {}", shown.concat(), args.join(" "));
    let status = Command::new(&cargo)
        .args(args)
        .envs(env.iter().copied())
        .current_dir(workspace_root())
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`cargo {}` failed ({status})", args.join(" ")))
    }
}

fn ci() -> Result<(), String> {
    cargo(&["fmt", "--all", "--check"])?;
    cargo(&[
        "clippy",
        "--workspace",
        "--all-targets",
        "--all-features",
        "--",
        "-D",
        "warnings",
    ])?;
    eprintln!("$ cargo xtask tidy");
    tidy::run(&workspace_root())?;
    // The docs build without a warning (broken intra-doc links are errors); their examples
    // run as doctests below.
    cargo_with_env(
        &["doc", "--no-deps", "--workspace", "--all-features"],
        &[("RUSTDOCFLAGS", "-D warnings")],
    )?;
    cargo(&["test", "--workspace", "--all-features"])
}
