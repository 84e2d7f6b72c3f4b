//! What the CLI's test files share: running the `codedb` binary and git, and reading what
//! they printed.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

pub mod http;

use std::path::Path;
use std::process::{Command, Output};

/// Runs the `codedb` binary built for these tests in `dir`.
pub fn codedb(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_codedb"))
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run codedb")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs git in `root`; fails the test (with git's stderr) unless it succeeds.
pub fn git(root: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .current_dir(root)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}
