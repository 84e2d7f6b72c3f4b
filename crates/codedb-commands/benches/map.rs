//! The repository-map benchmark, run with `cargo xtask bench map [--json] [--runs N]`: on
//! sympy 1.13.3 indexed (SQLite), `repo_map` with a 4,000-token budget (what `codedb query
//! map --tokens 4000` runs), each figure the median over N runs (default 5) with its spread:
//!
//! * `map_ms`: a map in a process that has made one before (the tokenizer built), the
//!   server's case (target <= 200);
//! * `map_first_ms`: the first map of a process, building the `o200k_base` tokenizer too;
//! * `rank_ms`: the ranking alone (`ranked_definitions`, no signature read);
//! * how cost grows: `map_ms` on the first 1/16 and 1/4 of the corpus (by path) and all;
//! * `aider_ms`: aider's own repo map on the same tree with the same budget, when the
//!   `aider` package is importable by `python3` (`pip install aider-chat`; or by the
//!   python named by `CODEDB_AIDER_PYTHON`, a virtualenv's, say); otherwise the
//!   reason is printed and the figure is absent. Installing aider-chat pulls in some
//!   hundred packages, so the benchmark does not do it itself.
#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::cast_precision_loss)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use codedb_backends::{Backend, DatabaseSpec};
use codedb_commands::{IndexOptions, index, repo_map};
use codedb_core::store::Focus;
use codedb_core::{CodeDatabase, CodeStore, ReferenceGraph, SyncOptions};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[path = "../tests/support/corpus.rs"]
mod corpus;
#[path = "support/figures.rs"]
mod figures;

const BUDGET: usize = 4000;

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

fn subset(corpus: &Path, fraction: usize, to: &Path) -> PathBuf {
    let files = python_files(corpus);
    for f in &files[..files.len().div_ceil(fraction)] {
        let target = to.join(f.strip_prefix(corpus).unwrap());
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::copy(f, &target).unwrap();
    }
    to.to_owned()
}

fn median(mut xs: Vec<f64>) -> serde_json::Value {
    xs.sort_by(f64::total_cmp);
    let r = |x: f64| (x * 10.0).round() / 10.0;
    serde_json::json!({"median": r(xs[xs.len() / 2]), "min": r(xs[0]), "max": r(xs[xs.len() - 1])})
}

fn aider_ms(tree: &Path) -> Result<f64, String> {
    let python = std::env::var("CODEDB_AIDER_PYTHON").unwrap_or_else(|_| "python3".into());
    let probe = Command::new(&python)
        .args(["-c", "import aider.repomap"])
        .output()
        .map_err(|e| format!("python3: {e}"))?;
    if !probe.status.success() {
        return Err(format!(
            "the aider package is not importable by {python} (pip install aider-chat, or \
             CODEDB_AIDER_PYTHON=a python that has it)"
        ));
    }
    let script = format!(
        r#"
import os, time, sys
from aider.repomap import RepoMap
from aider.io import InputOutput
from aider.models import Model
root = {root:?}
files = [os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs if f.endswith(".py")]
rm = RepoMap(map_tokens={BUDGET}, root=root, main_model=Model("gpt-4o"), io=InputOutput(yes=True), verbose=False)
rm.get_repo_map([], files)  # tags cache warm, as after an index
t = time.time()
rm.get_repo_map([], files, force_refresh=True)
print((time.time() - t) * 1000)
"#,
        root = tree.display().to_string()
    );
    let out = Command::new(&python)
        .args(["-c", &script])
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!(
            "aider's repo map failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .lines()
        .last()
        .and_then(|l| l.parse().ok())
        .ok_or_else(|| "aider printed no time".into())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let json = args.iter().any(|a| a == "--json");
    let runs = figures::runs(&args, 5);
    let corpus = corpus::corpus("sympy", "1.13.3");
    let work = tempfile::tempdir().unwrap();
    let mut out = serde_json::Map::new();
    out.insert("corpus".into(), "sympy 1.13.3".into());
    out.insert("budget_tokens".into(), BUDGET.into());
    let mut growth = Vec::new();
    for fraction in [16, 4, 1] {
        let tree = subset(
            &corpus,
            fraction,
            &work.path().join(format!("sympy-{fraction}")),
        );
        let backend = Backend::open(&DatabaseSpec::Sqlite(
            work.path().join(format!("{fraction}.sqlite")),
        ))
        .unwrap();
        let db =
            CodeDatabase::open_with_schema(backend.driver(), backend.schema_backend()).unwrap();
        db.ensure_schema_synced(&SyncOptions {
            backup_dir: Some(work.path().join("backups")),
            ..SyncOptions::default()
        })
        .unwrap();
        index(&db, &tree, &IndexOptions::default()).unwrap();
        let project = db.list_projects().unwrap()[0].id;
        let focus = Focus::default();
        let t = Instant::now();
        let first = repo_map(&db, project, &focus, BUDGET).unwrap();
        let first_ms = t.elapsed().as_secs_f64() * 1000.0;
        assert!(first.tokens <= BUDGET && first.definitions_shown > 0);
        let mut maps = Vec::new();
        let mut ranks = Vec::new();
        for _ in 0..runs {
            let t = Instant::now();
            repo_map(&db, project, &focus, BUDGET).unwrap();
            maps.push(t.elapsed().as_secs_f64() * 1000.0);
            let t = Instant::now();
            db.ranked_definitions(project, &focus, Some(0)).unwrap();
            ranks.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        growth.push(serde_json::json!({
            "fraction": format!("1/{fraction}"),
            "definitions": first.definitions_total,
            "map_ms": median(maps.clone()),
        }));
        if fraction == 1 {
            out.insert("map_ms".into(), median(maps));
            out.insert(
                "map_first_ms".into(),
                ((first_ms * 10.0).round() / 10.0).into(),
            );
            out.insert("rank_ms".into(), median(ranks));
            out.insert("definitions".into(), first.definitions_total.into());
            out.insert("definitions_shown".into(), first.definitions_shown.into());
            match aider_ms(&tree) {
                Ok(ms) => {
                    out.insert("aider_ms".into(), ((ms * 10.0).round() / 10.0).into());
                }
                Err(why) => {
                    out.insert("aider_ms".into(), serde_json::Value::Null);
                    out.insert("aider_skipped".into(), why.into());
                }
            }
        }
        drop(db);
        backend.stop().unwrap();
    }
    out.insert("growth".into(), growth.into());
    let value = serde_json::Value::Object(out);
    if json {
        println!("{value}");
    } else {
        println!("{}", serde_json::to_string_pretty(&value).unwrap());
    }
}
