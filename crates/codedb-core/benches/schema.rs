//! The schema benchmark: what `ensure_schema_synced` costs at startup when nothing changed,
//! and what a table rebuild costs against sqlite-utils' `transform` doing the same change.
//!
//! Run it with `cargo xtask bench schema [--json]`. Figures:
//!
//! * `noop_sync_ms`: `CodeDatabase::ensure_schema_synced` on an up-to-date database that
//!   remembers being in sync (the startup cost: reading the schema's text and the
//!   remembered state), median of 50. Target <= 1.
//! * `noop_sync_full_ms`: the same sync when nothing is remembered (introspection, the code
//!   schema through a scratch database, the diff): what the shortcut saves.
//! * `rebuild_1m_rows_s`: changing the type of one column (INTEGER to FLOAT) of a
//!   1,000,000-row table: the rebuild with all its checks (row count, value-change check,
//!   foreign-key check, post-apply verification) in one transaction; the backup the sync
//!   takes first is timed apart as `backup_1m_rows_s`.
//! * `sqlite_utils_transform_s`: the same change on a copy of the same file by sqlite-utils
//!   (installed from PyPI into `target/bench-venv` on first use);
//!   `rebuild_vs_sqlite_utils` = ours / theirs, each round timing both sides one after the
//!   other on copies of the same file; the median of the rounds' ratios, with the lowest and
//!   highest in `rebuild_vs_sqlite_utils_range`. Target <= 1.05.
//!   Without Python the sqlite-utils figures are `null` and `sqlite_utils` says why.
#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::cast_precision_loss)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use codedb_core::{CodeDatabase, Executor, SyncOptions, params};
use codedb_schema::{DiffOptions, SyncLog, backup, diff};
use codedb_sqlite::schema::schema_from_ddl;
use codedb_sqlite::{DBWorkerManager, SqliteConfig};

const ROWS: i64 = 1_000_000;
const BIG: &str =
    "CREATE TABLE big (id INTEGER PRIMARY KEY, name TEXT NOT NULL, value INTEGER, note TEXT)";
const BIG_FLOAT: &str =
    "CREATE TABLE big (id INTEGER PRIMARY KEY, name TEXT NOT NULL, value FLOAT, note TEXT)";

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// The no-op sync's median milliseconds: remembered (the shortcut) and in full.
fn noop_sync_ms(dir: &Path) -> (f64, f64) {
    let manager = DBWorkerManager::start(SqliteConfig::new(dir.join("code.sqlite"))).unwrap();
    let db = CodeDatabase::open_with_schema(manager.driver(), manager.schema_backend()).unwrap();
    let options = SyncOptions {
        backup_dir: Some(dir.join("code-backups")),
        ..SyncOptions::default()
    };
    db.ensure_schema_synced(&options).unwrap();
    let (mut remembered, mut full) = (Vec::new(), Vec::new());
    for _ in 0..50 {
        let t = Instant::now();
        let report = db.ensure_schema_synced(&options).unwrap();
        remembered.push(t.elapsed().as_secs_f64() * 1000.0);
        assert!(report.steps.is_empty() && report.backup_path.is_none());
        // Forget it, for the full path.
        db.execute("DELETE FROM _codedb_schema_state", params![])
            .unwrap();
        let t = Instant::now();
        let report = db.ensure_schema_synced(&options).unwrap();
        full.push(t.elapsed().as_secs_f64() * 1000.0);
        assert!(report.steps.is_empty() && report.backup_path.is_none());
    }
    manager.stop().unwrap();
    (median(remembered), median(full))
}

fn build_big(path: &Path) {
    let manager = DBWorkerManager::start(SqliteConfig::new(path)).unwrap();
    let db = CodeDatabase::open(manager.driver()).unwrap();
    db.execute(BIG, params![]).unwrap();
    db.execute_stream(
        "INSERT INTO big VALUES (?1, ?2, ?3, ?4)",
        (0..ROWS).map(|i| {
            params![
                i,
                format!("name-{i}"),
                i * 7,
                if i % 3 == 0 {
                    None
                } else {
                    Some(format!("note {i}"))
                }
            ]
        }),
    )
    .unwrap();
    manager.stop().unwrap();
}

/// Ours: returns (rebuild seconds, backup seconds).
fn rebuild_seconds(path: &Path, dir: &Path) -> (f64, f64) {
    let manager = DBWorkerManager::start(SqliteConfig::new(path)).unwrap();
    let backend = manager.schema_backend();
    let desired = schema_from_ddl(&format!("{BIG_FLOAT};")).unwrap();
    let options = DiffOptions {
        allow_drop: false,
        allow_rebuild: true,
    };
    let live = backend.introspect().unwrap();
    let plan = diff(&live, &desired, options);
    assert_eq!(plan.steps.len(), 1, "{:?}", plan.steps);
    let t = Instant::now();
    backup::Backups::new(path, "bench", &dir.join("big-backups"), "sqlite")
        .create(backend.as_ref(), &live.fingerprint())
        .unwrap();
    let backup_s = t.elapsed().as_secs_f64();
    let log = SyncLog {
        at_ms: 0,
        fingerprint_before: live.fingerprint(),
        fingerprint_after: desired.fingerprint(),
        plan: String::new(),
        backup_path: None,
    };
    let t = Instant::now();
    backend.apply(&plan, &desired, options, &log).unwrap();
    let rebuild_s = t.elapsed().as_secs_f64();
    manager.stop().unwrap();
    (rebuild_s, backup_s)
}

/// A venv with sqlite-utils, or why there is none.
fn sqlite_utils_python() -> Result<PathBuf, String> {
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/bench-venv");
    let python = venv.join("bin/python");
    let has = |p: &Path| {
        Command::new(p)
            .args(["-c", "import sqlite_utils"])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if has(&python) {
        return Ok(python);
    }
    let made = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&venv)
        .output()
        .map_err(|e| format!("python3: {e}"))?;
    if !made.status.success() {
        return Err(format!(
            "python3 -m venv failed: {}",
            String::from_utf8_lossy(&made.stderr)
        ));
    }
    let pip = Command::new(&python)
        .args(["-m", "pip", "install", "-q", "sqlite-utils"])
        .output()
        .map_err(|e| format!("pip: {e}"))?;
    if !pip.status.success() || !has(&python) {
        return Err(format!(
            "pip install sqlite-utils failed: {}",
            String::from_utf8_lossy(&pip.stderr)
        ));
    }
    Ok(python)
}

fn sqlite_utils_seconds(python: &Path, path: &Path) -> Result<f64, String> {
    let script = "import sys, time, sqlite_utils
db = sqlite_utils.Database(sys.argv[1])
db.execute('PRAGMA journal_mode=WAL')
t = time.perf_counter()
db['big'].transform(types={'value': float})
print(time.perf_counter() - t)";
    let out = Command::new(python)
        .args(["-c", script])
        .arg(path)
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .map_err(|e| format!("{e}"))
}

fn main() {
    let json = std::env::args().any(|a| a == "--json");
    let dir = tempfile::tempdir().unwrap();
    let (noop, noop_full) = noop_sync_ms(dir.path());

    let template = dir.path().join("big-template.sqlite");
    build_big(&template);
    let python = sqlite_utils_python();
    let (mut ours, mut backups, mut theirs, mut ratios) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for round in 0..5 {
        let mine = dir.path().join(format!("big-ours-{round}.sqlite"));
        std::fs::copy(&template, &mine).unwrap();
        let (r, b) = rebuild_seconds(&mine, dir.path());
        ours.push(r);
        backups.push(b);
        if let Ok(python) = &python {
            let copy = dir.path().join(format!("big-theirs-{round}.sqlite"));
            std::fs::copy(&template, &copy).unwrap();
            let t = sqlite_utils_seconds(python, &copy).unwrap();
            theirs.push(t);
            ratios.push(r / t);
        }
    }
    let ours = median(ours);
    let theirs = (!theirs.is_empty()).then(|| median(theirs));
    let round3 = |x: f64| (x * 1000.0).round() / 1000.0;
    let range = (!ratios.is_empty()).then(|| {
        let lo = ratios.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = ratios.iter().copied().fold(0.0, f64::max);
        [round3(lo), round3(hi)]
    });
    let ratio = (!ratios.is_empty()).then(|| round3(median(ratios.clone())));
    let figures = serde_json::json!({
        "benchmark": "schema",
        "noop_sync_ms": (noop * 100.0).round() / 100.0,
        "noop_sync_full_ms": (noop_full * 100.0).round() / 100.0,
        "rebuild_1m_rows_s": (ours * 1000.0).round() / 1000.0,
        "backup_1m_rows_s": (median(backups) * 1000.0).round() / 1000.0,
        "sqlite_utils_transform_s": theirs.map(|t| (t * 1000.0).round() / 1000.0),
        "rebuild_vs_sqlite_utils": ratio,
        "rebuild_vs_sqlite_utils_range": range,
        "sqlite_utils": match &python { Ok(_) => "ok".to_owned(), Err(e) => e.clone() },
        "targets": { "noop_sync_ms": 1.0, "rebuild_vs_sqlite_utils": 1.05 },
    });
    if json {
        println!("{figures}");
    } else {
        println!("{}", serde_json::to_string_pretty(&figures).unwrap());
    }
}
