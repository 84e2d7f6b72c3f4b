//! Python entity counts on two real trees, Django 5.1.4 and sympy 1.13.3, must equal what
//! the reference `py_indexer.py` (Python's own `ast`, `../shared/tools/`) prints, number for
//! number. The wheels are downloaded from PyPI with pip on first use and cached, unpacked,
//! under `target/corpora/`.
#![allow(clippy::unwrap_used, clippy::print_stdout)] // tests fail loudly and report figures on purpose

use std::path::Path;
use std::process::Command;

use codedb_commands::{IndexOptions, index};
use codedb_core::{CodeDatabase, CodeStore, SyncOptions};

#[path = "support/corpus.rs"]
mod support;
use support::{corpus, workspace};

/// The oracle's counts: run `py_indexer.py` when `shared/` is beside the checkout, else the
/// figures it printed when this test was written (2026-11-26), with a note.
fn oracle(dir: &Path, recorded: [i64; 5]) -> [i64; 5] {
    let script = workspace().join("../shared/tools/py_indexer.py");
    if !script.exists() {
        println!(
            "note: {} is absent; comparing with the oracle's recorded figures",
            script.display()
        );
        return recorded;
    }
    let db = tempfile::tempdir().unwrap();
    let out = Command::new("python3")
        .arg(&script)
        .arg(dir)
        .arg(db.path().join("py.sqlite"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "py_indexer.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let n = |k: &str| v[k].as_i64().unwrap();
    let live = [
        n("files"),
        n("classes"),
        n("functions"),
        n("methods"),
        n("imports"),
    ];
    assert_eq!(
        live, recorded,
        "the oracle's figures changed; update the recorded ones"
    );
    live
}

fn check(package: &str, version: &str, recorded: [i64; 5]) {
    let dir = corpus(package, version);
    let expected = oracle(&dir, recorded);
    let tmp = tempfile::tempdir().unwrap();
    let manager = codedb_sqlite::open(tmp.path().join("c.sqlite")).unwrap();
    let db = CodeDatabase::open_with_schema(manager.driver(), manager.schema_backend()).unwrap();
    db.ensure_schema_synced(&SyncOptions {
        backup_dir: Some(tmp.path().join("b")),
        ..SyncOptions::default()
    })
    .unwrap();
    let summary = index(&db, &dir, &IndexOptions::default()).unwrap();
    assert_eq!(summary.files_skipped, 0, "{:?}", summary.skipped);
    let s = db.stats(codedb_core::Scope::All, Some("python")).unwrap();
    let got = [s.files, s.classes, s.functions, s.methods, s.imports];
    println!(
        "{package} {version}: files/classes/functions/methods/imports = {got:?}, oracle {expected:?}"
    );
    assert_eq!(
        got, expected,
        "{package} {version}: files, classes, functions, methods, imports"
    );
    manager.stop().unwrap();
}

#[test]
fn django_counts_equal_the_python_ast_oracle() {
    check("django", "5.1.4", [879, 1910, 1468, 7616, 4233]);
}

#[test]
fn sympy_counts_equal_the_python_ast_oracle() {
    check("sympy", "1.13.3", [1518, 2258, 18230, 16653, 17226]);
}
