//! The rename benchmark, run with `cargo xtask bench rename [--json] [--runs N]`: a
//! generated git project where `core.py:helper` has 100+ references (`FILES` modules, each
//! importing it and calling it twice), indexed on SQLite; in one run, each figure the
//! median over N runs (default 7) with its spread (min, max):
//!
//! * `rename_ms`: `rename helper -> NEW` through the library (as a server holding the
//!   database open runs it), alternating between two names so every run changes every
//!   file: reference lookup, locks, a read and a parse of every file, validation, backups,
//!   temp files, the intent, the database (every file re-stored and its references
//!   resolved again in one transaction), the swaps, the commit mark, one git commit;
//! * `edit_ms`, the baseline measured in the same run: a whole-file `edit` of `core.py`
//!   (one file through the same pipeline); `rename_vs_edit` = rename / edit, and
//!   `rename_per_file_ms` = rename / files changed.
//!
//! Renames and edits are interleaved so that drift on this shared machine hits both alike.
#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::cast_precision_loss)]

use std::path::Path;
use std::time::Instant;

use codedb_commands::{
    CommandOptions, EditOptions, IndexOptions, Project, RenameOptions, edit, index, rename,
};
use codedb_core::{CodeDatabase, SyncOptions};

#[path = "support/figures.rs"]
mod figures;
#[path = "../tests/support/project.rs"]
mod support;
use figures::{figure, round, spread};
use support::git;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Modules referring to `helper` (three references each: the import, two calls).
const FILES: usize = 60;

fn core(variant: usize) -> String {
    format!(
        "\"\"\"The core.\"\"\"\n\n\ndef helper(x):\n    return x + 1\n\n\ndef other(y):\n    return y * {variant}\n"
    )
}

fn make_project(dir: &Path) {
    std::fs::write(dir.join("core.py"), core(0)).unwrap();
    for i in 0..FILES {
        let sub = dir.join(format!("pkg{}", i / 20));
        std::fs::create_dir_all(&sub).unwrap();
        std::fs::write(sub.join("__init__.py"), "").unwrap();
        std::fs::write(
            sub.join(format!("m{i}.py")),
            format!(
                "\"\"\"Module {i}.\"\"\"\nfrom core import helper\n\n\ndef use_{i}(a):\n    b = helper(a)\n    return helper(b) + {i}\n"
            ),
        )
        .unwrap();
    }
    std::fs::write(dir.join(".gitignore"), ".codedb/\n").unwrap();
    git(dir, &["init", "-q", "-b", "main"]);
    git(dir, &["config", "user.email", "bench@example.com"]);
    git(dir, &["config", "user.name", "bench"]);
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", "init"]);
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let json = args.iter().any(|a| a == "--json");
    let runs = figures::runs(&args, 7);
    let dir = tempfile::tempdir().unwrap();
    make_project(dir.path());
    std::fs::create_dir(dir.path().join(".codedb")).unwrap();
    let manager = codedb_sqlite::open(dir.path().join(".codedb/codedb.sqlite")).unwrap();
    let db = CodeDatabase::open_with_schema(manager.driver(), manager.schema_backend()).unwrap();
    db.ensure_schema_synced(&SyncOptions::default()).unwrap();
    index(&db, dir.path(), &IndexOptions::default()).unwrap();
    let project = Project::open(&db, dir.path(), CommandOptions::default()).unwrap();

    let names = ["helper", "assist"];
    let (mut renames, mut edits) = (Vec::new(), Vec::new());
    let (mut references, mut files) = (0, 0);
    for run in 0..runs {
        let (from, to) = (names[run % 2], names[(run + 1) % 2]);
        let t = Instant::now();
        let r = rename(
            &project,
            &format!("core.py:{from}"),
            to,
            &RenameOptions::default(),
        )
        .unwrap();
        renames.push(t.elapsed().as_secs_f64() * 1e3);
        let summary = r.rename.unwrap();
        references = summary.references_changed;
        files = summary.files.len();
        assert!(references >= 100, "{references} references");

        let content = core(run + 1).replace("def helper", &format!("def {to}"));
        let t = Instant::now();
        edit(&project, "core.py", &content, &EditOptions::default()).unwrap();
        edits.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let v = codedb_commands::verify(&project).unwrap();
    assert!(v.is_clean(), "{v:?}");
    let rename_median = spread(renames.clone()).0;
    let edit_median = spread(edits.clone()).0;
    let ratio = rename_median / edit_median;
    let per_file = rename_median / files as f64;
    if json {
        println!(
            "{}",
            serde_json::json!({
                "benchmark": "rename",
                "runs": runs,
                "files_changed": files,
                "references": references,
                "rename_ms": figure("rename_ms", renames, 2).1,
                "edit_ms": figure("edit_ms", edits, 2).1,
                "rename_vs_edit": round(ratio, 2),
                "rename_per_file_ms": round(per_file, 2),
            })
        );
    } else {
        let (m, lo, hi) = spread(renames);
        let (em, elo, ehi) = spread(edits);
        println!(
            "rename benchmark: core.py:helper, {references} references in {files} files, {runs} runs"
        );
        println!("  rename_ms           {m:.2} (min {lo:.2}, max {hi:.2})");
        println!(
            "  edit_ms             {em:.2} (min {elo:.2}, max {ehi:.2})   (one-file edit of core.py)"
        );
        println!("  rename_vs_edit      {ratio:.2}");
        println!("  rename_per_file_ms  {per_file:.2}");
    }
    drop(project);
    manager.stop().unwrap();
}
