//! The edit benchmark, run with `cargo xtask bench edit [--json]`: a git project of 1,000
//! indexed Python files; figures, all in one run:
//!
//! * `edit_p50_ms`, `edit_p99_ms`: a whole-file `edit` through the library (as a server
//!   holding the database open runs it): recover check, lock, validation, backup, temp file,
//!   intent, database, rename, git commit, fsyncs;
//! * `git_baseline_p50_ms`: the same change made by `cp` + `git add` + `git commit` alone;
//!   `edit_vs_git` = ours / theirs (target <= 1.5);
//! * `replace_symbol_p50_ms`: replacing one function;
//! * `edit_without_git_p50_ms`: the same edit in a copy of the project that is not a git
//!   repository: what codedb's own steps cost;
//! * `edit_cli_p50_ms`: `codedb edit` as a process (start-up, database open and schema
//!   check included), for reference.
//!
//! Edits alternate between files and between two contents so every one changes something.
#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::cast_precision_loss)]

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use codedb_commands::{
    CommandOptions, EditOptions, IndexOptions, Project, edit, index, replace_symbol,
};
use codedb_core::{CodeDatabase, SyncOptions};

#[path = "../tests/support/project.rs"]
mod support;
use support::git;

/// The allocator the `codedb` binary uses.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const FILES: usize = 1000;
const ROUNDS: usize = 60;

fn module(i: usize, variant: usize) -> String {
    let mut s = format!("\"\"\"Module {i}.\"\"\"\nimport os\n\n\nclass Thing{i}:\n");
    for m in 0..8 {
        s.push_str(&format!(
            "    def method_{m}(self, x):\n        \"\"\"Method {m}.\"\"\"\n        return x * {m} + {variant}\n\n"
        ));
    }
    s.push_str(&format!(
        "\ndef helper_{i}(a, b):\n    return os.path.join(a, b, '{variant}')\n"
    ));
    s
}

fn make_project(dir: &Path) {
    for i in 0..FILES {
        let sub = dir.join(format!("pkg{}", i / 100));
        std::fs::create_dir_all(&sub).unwrap();
        std::fs::write(sub.join(format!("m{i}.py")), module(i, 0)).unwrap();
    }
    std::fs::write(dir.join(".gitignore"), ".codedb/\n").unwrap();
    git(dir, &["init", "-q", "-b", "main"]);
    git(dir, &["config", "user.email", "bench@example.com"]);
    git(dir, &["config", "user.name", "bench"]);
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", "init"]);
}

fn percentile(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let i = ((v.len() - 1) as f64 * p).round() as usize;
    v[i]
}

fn main() {
    let json = std::env::args().any(|a| a == "--json");
    let ours = tempfile::tempdir().unwrap();
    let theirs = tempfile::tempdir().unwrap();
    make_project(ours.path());
    make_project(theirs.path());
    std::fs::create_dir(ours.path().join(".codedb")).unwrap();
    let manager = codedb_sqlite::open(ours.path().join(".codedb/codedb.sqlite")).unwrap();
    let db = CodeDatabase::open_with_schema(manager.driver(), manager.schema_backend()).unwrap();
    db.ensure_schema_synced(&SyncOptions::default()).unwrap();
    index(&db, ours.path(), &IndexOptions::default()).unwrap();
    let project = Project::open(&db, ours.path(), CommandOptions::default()).unwrap();
    let scratch = tempfile::tempdir().unwrap();
    // The same project without git: what codedb's own steps cost.
    let plain = tempfile::tempdir().unwrap();
    for i in 0..FILES {
        let sub = plain.path().join(format!("pkg{}", i / 100));
        std::fs::create_dir_all(&sub).unwrap();
        std::fs::write(sub.join(format!("m{i}.py")), module(i, 0)).unwrap();
    }
    std::fs::create_dir(plain.path().join(".codedb")).unwrap();
    let plain_manager = codedb_sqlite::open(plain.path().join(".codedb/codedb.sqlite")).unwrap();
    let plain_db =
        CodeDatabase::open_with_schema(plain_manager.driver(), plain_manager.schema_backend())
            .unwrap();
    plain_db
        .ensure_schema_synced(&SyncOptions::default())
        .unwrap();
    index(&plain_db, plain.path(), &IndexOptions::default()).unwrap();
    let plain_project = Project::open(&plain_db, plain.path(), CommandOptions::default()).unwrap();
    let mut no_git = Vec::new();

    let (mut edits, mut baseline, mut symbols) = (Vec::new(), Vec::new(), Vec::new());
    // Interleaved so that drift on this shared machine hits both sides alike.
    for round in 0..ROUNDS {
        let i = (round * 37) % FILES;
        let rel = format!("pkg{}/m{i}.py", i / 100);
        let content = module(i, round + 1);

        let t = Instant::now();
        edit(&project, &rel, &content, &EditOptions::default()).unwrap();
        edits.push(t.elapsed().as_secs_f64() * 1e3);

        let src = scratch.path().join("new.py");
        std::fs::write(&src, &content).unwrap();
        let t = Instant::now();
        let ok = Command::new("cp")
            .arg(&src)
            .arg(theirs.path().join(&rel))
            .status()
            .unwrap()
            .success()
            && Command::new("git")
                .current_dir(theirs.path())
                .args(["add", "--", &rel])
                .status()
                .unwrap()
                .success()
            && Command::new("git")
                .current_dir(theirs.path())
                .args(["commit", "-q", "-m", &format!("edit {rel}")])
                .status()
                .unwrap()
                .success();
        baseline.push(t.elapsed().as_secs_f64() * 1e3);
        assert!(ok);

        let t = Instant::now();
        replace_symbol(
            &project,
            &rel,
            &format!("Thing{i}.method_3"),
            &format!("def method_3(self, x):\n    return x - {round}\n"),
            &EditOptions::default(),
        )
        .unwrap();
        symbols.push(t.elapsed().as_secs_f64() * 1e3);

        let t = Instant::now();
        edit(&plain_project, &rel, &content, &EditOptions::default()).unwrap();
        no_git.push(t.elapsed().as_secs_f64() * 1e3);
    }
    // The CLI, for reference: a process per edit.
    let exe = std::env::var("CODEDB_BIN").ok().map_or_else(
        || {
            let mut p = std::env::current_exe().unwrap();
            p.pop();
            p.pop();
            p.join("codedb")
        },
        std::path::PathBuf::from,
    );
    let mut cli = Vec::new();
    if exe.exists() {
        for round in 0..20 {
            let i = (round * 53 + 1) % FILES;
            let rel = format!("pkg{}/m{i}.py", i / 100);
            let src = scratch.path().join("cli.py");
            std::fs::write(&src, module(i, 1000 + round)).unwrap();
            let t = Instant::now();
            let ok = Command::new(&exe)
                .current_dir(ours.path())
                .args(["edit", &rel, "--content-file"])
                .arg(&src)
                .stdout(std::process::Stdio::null())
                .status()
                .unwrap()
                .success();
            cli.push(t.elapsed().as_secs_f64() * 1e3);
            assert!(ok);
        }
    }
    let v = codedb_commands::verify(&project).unwrap();
    assert!(v.is_clean(), "{v:?}");

    let edit_p50 = percentile(&mut edits, 0.5);
    let edit_p99 = percentile(&mut edits, 0.99);
    let git_p50 = percentile(&mut baseline, 0.5);
    let sym_p50 = percentile(&mut symbols, 0.5);
    let no_git_p50 = percentile(&mut no_git, 0.5);
    let cli_p50 = if cli.is_empty() {
        f64::NAN
    } else {
        percentile(&mut cli, 0.5)
    };
    let ratio = edit_p50 / git_p50;
    if json {
        println!(
            "{}",
            serde_json::json!({
                "benchmark": "edit",
                "files": FILES,
                "rounds": ROUNDS,
                "edit_p50_ms": (edit_p50 * 100.0).round() / 100.0,
                "edit_p99_ms": (edit_p99 * 100.0).round() / 100.0,
                "git_baseline_p50_ms": (git_p50 * 100.0).round() / 100.0,
                "edit_vs_git": (ratio * 1000.0).round() / 1000.0,
                "replace_symbol_p50_ms": (sym_p50 * 100.0).round() / 100.0,
                "edit_without_git_p50_ms": (no_git_p50 * 100.0).round() / 100.0,
                "edit_cli_p50_ms": if cli_p50.is_nan() { serde_json::Value::Null } else { ((cli_p50 * 100.0).round() / 100.0).into() },
                "targets": {"edit_vs_git": 1.5},
            })
        );
    } else {
        println!("edit benchmark: git project of {FILES} indexed Python files, {ROUNDS} rounds");
        println!("  edit_p50_ms            {edit_p50:.2}");
        println!("  edit_p99_ms            {edit_p99:.2}");
        println!("  git_baseline_p50_ms    {git_p50:.2}   (cp + git add + git commit)");
        println!("  edit_vs_git            {ratio:.3}   (target <= 1.5)");
        println!("  replace_symbol_p50_ms  {sym_p50:.2}");
        println!(
            "  edit_without_git_p50_ms {no_git_p50:.2}   (the same edit in a project without git)"
        );
        println!("  edit_cli_p50_ms        {cli_p50:.2}   (a codedb process per edit)");
    }
    drop(project);
    drop(plain_project);
    manager.stop().unwrap();
    plain_manager.stop().unwrap();
}
