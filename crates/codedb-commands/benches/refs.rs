//! The resolved-references benchmark, run with `cargo xtask bench refs [--json]
//! [--runs N]`. On sympy 1.13.3 (1,518 files, 25.7 MB) and on its first 1/4 and 1/16 (by
//! path), SQLite, all in one run, each figure the median over N runs (default 3) with its
//! spread (min, max):
//!
//! * `cold_s`: `index` into an empty database, resolution included; `resolve_s`: the part
//!   of it spent resolving; `parse_only_s`: the files already in memory, parsed and walked
//!   with tree-sitter in parallel (the floor of any tree-sitter indexer);
//!   `cold_vs_parse` = cold / parse (target <= 2.0 with resolution);
//! * `noop_vs_cold`: indexing the unchanged tree again / cold (target <= 0.05);
//! * `one_file_reindex_ms`: a comment added to `sympy/core/basic.py`, re-indexed;
//!   `interface_reindex_ms`: a function added to it (a change in what it offers, so every
//!   file that looked at it is resolved again; `files_resolved` says how many);
//! * `db_growth`: database bytes with references / without (the `refs`, `bindings` and
//!   `ref_deps` rows deleted, then `VACUUM`) - 1;
//! * how cost grows: `seconds_per_mb` and `resolve_share` at 1/16, 1/4 and all of it.
//!
//! The agreement with Jedi (precision and recall of the `exact` and `inferred` answers on
//! click and jinja2) is measured by a test, `cargo test -p codedb-commands --test
//! references -- jedi --nocapture`, which leaves its figures in
//! `target/oracles/jedi-agreement-*.json`; they are printed here as `agreement`, as the
//! last run of that test left them (none when it has not run).
#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::cast_precision_loss)]

use std::path::{Path, PathBuf};
use std::time::Instant;

use codedb_backends::{Backend, DatabaseSpec};
use codedb_commands::{IndexOptions, index, lang};
use codedb_core::{CodeDatabase, Executor, SyncOptions, params};
use rayon::prelude::*;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[path = "../tests/support/corpus.rs"]
mod corpus;
#[path = "support/figures.rs"]
mod figures;
use figures::{figure, round, spread};

fn open(path: &Path, dir: &Path) -> (Backend, CodeDatabase) {
    let backend = Backend::open(&DatabaseSpec::Sqlite(path.to_owned())).unwrap();
    let db = CodeDatabase::open_with_schema(backend.driver(), backend.schema_backend()).unwrap();
    db.ensure_schema_synced(&SyncOptions {
        backup_dir: Some(dir.join("backups")),
        ..SyncOptions::default()
    })
    .unwrap();
    (backend, db)
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
    out.sort();
    out
}

/// A tree of the first `1/fraction` of the corpus's Python files, by path.
fn subset(corpus: &Path, fraction: usize, to: &Path) -> (PathBuf, f64) {
    let files = python_files(corpus);
    let keep = files.len().div_ceil(fraction);
    let mut bytes = 0u64;
    for f in &files[..keep] {
        let target = to.join(f.strip_prefix(corpus).unwrap());
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        bytes += std::fs::copy(f, &target).unwrap();
    }
    (to.to_owned(), bytes as f64 / 1e6)
}

fn parse_only_s(root: &Path) -> f64 {
    let mut sources: Vec<Vec<u8>> = python_files(root)
        .iter()
        .map(|p| std::fs::read(p).unwrap())
        .collect();
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

#[derive(Default)]
struct Run {
    cold: f64,
    resolve: f64,
    parse: f64,
    noop: f64,
    one_ms: f64,
    interface_ms: f64,
    interface_resolved: usize,
    growth: f64,
}

fn db_bytes(path: &Path) -> u64 {
    std::fs::metadata(path).unwrap().len()
}

fn one_run(tree: &Path, work: &Path, full: bool) -> Run {
    let mut run = Run {
        parse: parse_only_s(tree),
        ..Run::default()
    };
    let path = work.join("refs.sqlite");
    let _ = std::fs::remove_file(&path);
    let (backend, db) = open(&path, work);
    let t = Instant::now();
    let cold = index(&db, tree, &IndexOptions::default()).unwrap();
    run.cold = t.elapsed().as_secs_f64();
    run.resolve = cold.resolve_seconds;
    let t = Instant::now();
    let noop = index(&db, tree, &IndexOptions::default()).unwrap();
    run.noop = t.elapsed().as_secs_f64();
    assert_eq!(noop.files_indexed, 0);
    if full {
        let victim = tree.join("sympy/core/basic.py");
        let original = std::fs::read_to_string(&victim).unwrap();
        std::fs::write(&victim, format!("{original}\n# edited by the benchmark\n")).unwrap();
        let t = Instant::now();
        let one = index(&db, tree, &IndexOptions::default()).unwrap();
        run.one_ms = t.elapsed().as_secs_f64() * 1000.0;
        assert_eq!(one.files_indexed, 1);
        std::fs::write(
            &victim,
            format!("{original}\n\ndef added_by_the_benchmark():\n    return 1\n"),
        )
        .unwrap();
        let t = Instant::now();
        let changed = index(&db, tree, &IndexOptions::default()).unwrap();
        run.interface_ms = t.elapsed().as_secs_f64() * 1000.0;
        run.interface_resolved = changed.files_resolved;
        std::fs::write(&victim, original).unwrap();
        index(&db, tree, &IndexOptions::default()).unwrap();
        db.execute("VACUUM", params![]).unwrap();
        let with = db_bytes(&path);
        db.transaction(|tx| {
            for table in ["refs", "bindings", "ref_deps", "ref_pending"] {
                tx.execute(&format!("DELETE FROM {table}"), params![])?;
            }
            Ok(())
        })
        .unwrap();
        db.execute("VACUUM", params![]).unwrap();
        let without = db_bytes(&path);
        run.growth = with as f64 / without as f64 - 1.0;
    }
    drop(db);
    backend.stop().unwrap();
    run
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let json = args.iter().any(|a| a == "--json");
    let runs = figures::runs(&args, 3);
    let corpus = corpus::corpus("sympy", "1.13.3");
    let work = tempfile::tempdir().unwrap();
    let mut out = serde_json::Map::new();
    out.insert("corpus".into(), "sympy 1.13.3".into());
    out.insert("runs".into(), runs.into());
    let mut growth_rows = Vec::new();
    for fraction in [16, 4, 1] {
        let (tree, mb) = subset(
            &corpus,
            fraction,
            &work.path().join(format!("sympy-{fraction}")),
        );
        let full = fraction == 1;
        let results: Vec<Run> = (0..runs)
            .map(|_| one_run(&tree, work.path(), full))
            .collect();
        let per_mb: Vec<f64> = results.iter().map(|r| r.cold / mb).collect();
        let share: Vec<f64> = results.iter().map(|r| r.resolve / r.cold).collect();
        let (per_mb, ..) = spread(per_mb);
        let (share, ..) = spread(share);
        growth_rows.push(serde_json::json!({
            "fraction": format!("1/{fraction}"),
            "mb": round(mb, 2),
            "seconds_per_mb": round(per_mb, 4),
            "resolve_share": round(share, 3),
        }));
        if full {
            for (name, xs, digits) in [
                (
                    "cold_s",
                    results.iter().map(|r| r.cold).collect::<Vec<_>>(),
                    3,
                ),
                ("resolve_s", results.iter().map(|r| r.resolve).collect(), 3),
                ("parse_only_s", results.iter().map(|r| r.parse).collect(), 3),
                (
                    "cold_vs_parse",
                    results.iter().map(|r| r.cold / r.parse).collect(),
                    2,
                ),
                (
                    "noop_vs_cold",
                    results.iter().map(|r| r.noop / r.cold).collect(),
                    4,
                ),
                (
                    "one_file_reindex_ms",
                    results.iter().map(|r| r.one_ms).collect(),
                    1,
                ),
                (
                    "interface_reindex_ms",
                    results.iter().map(|r| r.interface_ms).collect(),
                    1,
                ),
                ("db_growth", results.iter().map(|r| r.growth).collect(), 3),
            ] {
                let (k, v) = figure(name, xs, digits);
                out.insert(k, v);
            }
            out.insert(
                "interface_files_resolved".into(),
                results[0].interface_resolved.into(),
            );
        }
    }
    out.insert("growth".into(), growth_rows.into());
    let oracles = corpus::workspace().join("target/oracles");
    let agreement: Vec<serde_json::Value> = std::fs::read_dir(&oracles)
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("jedi-agreement-")
        })
        .filter_map(|e| serde_json::from_slice(&std::fs::read(e.path()).ok()?).ok())
        .collect();
    out.insert("agreement".into(), agreement.into());
    let value = serde_json::Value::Object(out);
    if json {
        println!("{value}");
    } else {
        println!("{}", serde_json::to_string_pretty(&value).unwrap());
    }
}
