//! The search benchmark on sympy 1.13.3 (1,518 files, 25.7 MB), run with
//! `cargo xtask bench search [--json]`: regex search over the stored source
//! (`codedb_commands::search`, the `regex` crate in parallel over every file's text read
//! from the database) against ripgrep over the same tree's `.py` files (`rg -c -g '*.py'
//! PATTERN`, matching lines per file), each the best of 5 runs, for three patterns (a
//! literal, a word with a class, an alternation). Both count matching lines; the counts are
//! printed side by side and must agree. Figures: `<name>_codedb_ms`, `<name>_rg_ms`,
//! `<name>_ratio` (ours / ripgrep), and `<name>_lines`.
//!
//! Without `rg` on the PATH the ripgrep half is skipped with a printed reason (CI installs
//! the `ripgrep` package in `.ci/run`).
#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::cast_precision_loss)]

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use codedb_backends::{Backend, DatabaseSpec};
use codedb_commands::{IndexOptions, SearchOptions, index, search};
use codedb_core::{CodeDatabase, Scope, SyncOptions};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[path = "../tests/support/corpus.rs"]
mod corpus;

const PATTERNS: &[(&str, &str)] = &[
    ("literal", "Symbol"),
    ("word", r"def \w+_eval\w*"),
    ("alternation", r"(raise|except) (ValueError|TypeError)"),
];

fn best(mut f: impl FnMut() -> usize) -> (f64, usize) {
    let mut best = f64::MAX;
    let mut n = 0;
    for _ in 0..5 {
        let t = Instant::now();
        n = f();
        best = best.min(t.elapsed().as_secs_f64() * 1000.0);
    }
    (best, n)
}

fn rg_lines(tree: &Path, pattern: &str) -> Option<usize> {
    let out = Command::new("rg")
        .args(["-c", "--no-config", "-g", "*.py", pattern])
        .arg(tree)
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    Some(
        text.lines()
            .filter_map(|l| l.rsplit(':').next()?.parse::<usize>().ok())
            .sum(),
    )
}

fn main() {
    let json = std::env::args().any(|a| a == "--json");
    let tree = corpus::corpus("sympy", "1.13.3");
    let scratch = tempfile::tempdir().unwrap();
    let backend = Backend::open(&DatabaseSpec::Sqlite(scratch.path().join("s.sqlite"))).unwrap();
    let db = CodeDatabase::open_with_schema(backend.driver(), backend.schema_backend()).unwrap();
    db.ensure_schema_synced(&SyncOptions {
        backup_dir: Some(scratch.path().join("backups")),
        ..SyncOptions::default()
    })
    .unwrap();
    index(&db, &tree, &IndexOptions::default()).unwrap();
    let has_rg = Command::new("rg").arg("--version").output().is_ok();
    let mut figures = serde_json::Map::new();
    for (name, pattern) in PATTERNS {
        let options = SearchOptions {
            regex: Some((*pattern).to_owned()),
            limit: Some(50),
            ..SearchOptions::default()
        };
        let (ours_ms, ours) = best(|| search(&db, Scope::All, &options).unwrap().total);
        figures.insert(format!("{name}_codedb_ms"), ours_ms.into());
        figures.insert(format!("{name}_lines"), ours.into());
        let mut line = format!("{name:<12} /{pattern}/: codedb {ours_ms:8.1} ms ({ours} lines)");
        if has_rg {
            let (rg_ms, theirs) = best(|| rg_lines(&tree, pattern).unwrap_or(0));
            figures.insert(format!("{name}_rg_ms"), rg_ms.into());
            figures.insert(format!("{name}_rg_lines"), theirs.into());
            figures.insert(format!("{name}_ratio"), (ours_ms / rg_ms).into());
            line.push_str(&format!(
                ", rg {rg_ms:8.1} ms ({theirs} lines), codedb/rg {:.2}",
                ours_ms / rg_ms
            ));
        }
        if !json {
            println!("{line}");
        }
    }
    if !has_rg {
        println!(
            "SKIP ripgrep: `rg` is not on the PATH (apt-get install ripgrep); codedb figures only"
        );
    }
    if json {
        println!("{}", serde_json::Value::Object(figures));
    }
    backend.stop().unwrap();
}
