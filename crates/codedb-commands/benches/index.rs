//! The index benchmark on sympy 1.13.3 (1,518 files, 25.7 MB), run with
//! `cargo xtask bench index [--json]`. Figures, all in one run:
//!
//! * `cold_s`: `codedb index` into an empty database (library call, release build);
//! * `py_baseline_s`: `../shared/tools/py_indexer.py` on the same tree (Python `ast` +
//!   sqlite3); `cold_vs_py` = ours / theirs (target <= 0.35);
//! * `parse_only_s`: the files already in memory, parsed and fully walked with tree-sitter in
//!   parallel, nothing extracted or stored: the floor for any tree-sitter indexer;
//!   `cold_vs_parse` (target <= 1.7);
//! * `noop_reindex_s`: indexing the unchanged tree again; `noop_vs_cold` (target <= 0.05);
//! * `one_file_reindex_ms`: one file edited, then the tree re-indexed (target <= 50).
//!
//! The corpus is downloaded with pip on first use (cached in `target/corpora/`).
#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::cast_precision_loss)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use codedb_commands::{IndexOptions, index, lang};
use codedb_core::{CodeDatabase, SyncOptions};
use rayon::prelude::*;

/// The allocator the `codedb` binary uses, so that both sides of each ratio are measured
/// as shipped.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[path = "../tests/support/corpus.rs"]
mod corpus;

fn open(dir: &Path, name: &str) -> (codedb_sqlite::DBWorkerManager, CodeDatabase) {
    let manager = codedb_sqlite::open(dir.join(name)).unwrap();
    let db = CodeDatabase::open_with_schema(manager.driver(), manager.schema_backend()).unwrap();
    db.ensure_schema_synced(&SyncOptions {
        backup_dir: Some(dir.join("backups")),
        ..SyncOptions::default()
    })
    .unwrap();
    (manager, db)
}

fn python_files(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "py") {
                out.push(p);
            }
        }
    }
    out
}

fn parse_only_s(root: &Path) -> f64 {
    let mut sources: Vec<Vec<u8>> = python_files(root)
        .iter()
        .map(|p| std::fs::read(p).unwrap())
        .collect();
    // Scheduled as the indexer schedules its parsing (largest first, one file per task), so
    // that the floor is as low as the machine allows.
    sources.sort_by_key(|s| std::cmp::Reverse(s.len()));
    let python = lang::by_name("python").unwrap();
    let t = Instant::now();
    let nodes: usize = sources
        .par_iter()
        .with_max_len(1)
        .map(|src| {
            let mut parser = tree_sitter::Parser::new();
            parser.set_language(&(python.grammar)()).unwrap();
            let tree = parser.parse(src, None).unwrap();
            let mut cursor = tree.walk();
            let mut n = 0;
            'walk: loop {
                n += 1;
                if cursor.goto_first_child() {
                    continue;
                }
                while !cursor.goto_next_sibling() {
                    if !cursor.goto_parent() {
                        break 'walk;
                    }
                }
            }
            n
        })
        .sum();
    assert!(nodes > 0);
    t.elapsed().as_secs_f64()
}

fn py_baseline_s(root: &Path, dir: &Path) -> Option<f64> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/tools/py_indexer.py");
    if !script.exists() {
        return None;
    }
    let t = Instant::now();
    let out = Command::new("python3")
        .arg(&script)
        .arg(root)
        .arg(dir.join("py.sqlite"))
        .output()
        .ok()?;
    out.status.success().then(|| t.elapsed().as_secs_f64())
}

fn round(x: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (x * f).round() / f
}

fn main() {
    let json = std::env::args().any(|a| a == "--json");
    let corpus = corpus::corpus("sympy", "1.13.3");
    let work = tempfile::tempdir().unwrap();
    // A private copy, so that the one-file edit does not touch the cache.
    let tree = work.path().join("sympy");
    let status = Command::new("cp")
        .arg("-r")
        .arg(&corpus)
        .arg(&tree)
        .status()
        .unwrap();
    assert!(status.success());

    let parse = parse_only_s(&tree);
    let py = py_baseline_s(&tree, work.path());
    let (manager, db) = open(work.path(), "cold.sqlite");
    let t = Instant::now();
    let cold = index(&db, &tree, &IndexOptions::default()).unwrap();
    let cold_s = t.elapsed().as_secs_f64();
    assert_eq!(cold.files_indexed, 1518);
    let t = Instant::now();
    let noop = index(&db, &tree, &IndexOptions::default()).unwrap();
    let noop_s = t.elapsed().as_secs_f64();
    assert_eq!(noop.files_unchanged, 1518);
    let victim = tree.join("sympy/core/basic.py");
    let mut text = std::fs::read_to_string(&victim).unwrap();
    text.push_str("\n# edited by the benchmark\n");
    std::fs::write(&victim, text).unwrap();
    let t = Instant::now();
    let one = index(&db, &tree, &IndexOptions::default()).unwrap();
    let one_ms = t.elapsed().as_secs_f64() * 1000.0;
    assert_eq!(one.files_indexed, 1);
    manager.stop().unwrap();

    let figures = serde_json::json!({
        "benchmark": "index",
        "corpus": "sympy 1.13.3",
        "files": cold.files_indexed,
        "cold_s": round(cold_s, 3),
        "py_baseline_s": py.map(|p| round(p, 3)),
        "cold_vs_py": py.map(|p| round(cold_s / p, 3)),
        "parse_only_s": round(parse, 3),
        "cold_vs_parse": round(cold_s / parse, 3),
        "noop_reindex_s": round(noop_s, 3),
        "noop_vs_cold": round(noop_s / cold_s, 4),
        "one_file_reindex_ms": round(one_ms, 1),
        "targets": { "cold_vs_py": 0.35, "cold_vs_parse": 1.7, "noop_vs_cold": 0.05, "one_file_reindex_ms": 50.0 },
    });
    if json {
        println!("{figures}");
    } else {
        println!("{}", serde_json::to_string_pretty(&figures).unwrap());
    }
}
