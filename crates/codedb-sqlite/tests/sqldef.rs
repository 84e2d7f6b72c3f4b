//! sqldef's SQLite test cases (peer suite, `tests/test_data/sqldef/`, MIT, see its NOTICE.md)
//! run against codedb's schema sync: build a database from `current`, sync it towards
//! `desired`, and check that the result has no difference left from `desired` (compared by
//! introspection), that a second sync changes nothing, and that rows survive. Cases with
//! `enable_drop: false` sync without drops; `error` cases expect a refusal.
//!
//! Every case must pass except those in [`KNOWN_FAILURES`], each with its reason; the test
//! fails when a listed case starts passing too, so the list stays true.
#![allow(clippy::unwrap_used, clippy::print_stdout)] // tests fail loudly and report figures on purpose

use std::collections::BTreeMap;
use std::path::Path;

use codedb_driver::{Batch, params};
use codedb_schema::{DiffOptions, SchemaBackend, SyncOptions, diff, sync};
use codedb_sqlite::schema::{SqliteSchema, schema_from_ddl};
use codedb_sqlite::{DBWorkerManager, SqliteConfig};

/// Cases codedb does not pass, and why.
const KNOWN_FAILURES: &[(&str, &str)] = &[];

#[derive(serde::Deserialize, Default)]
struct Case {
    #[serde(default)]
    current: String,
    #[serde(default)]
    desired: String,
    #[serde(default)]
    error: Option<String>,
    #[serde(default = "yes")]
    enable_drop: bool,
}

fn yes() -> bool {
    true
}

fn run_case(name: &str, case: &Case, dir: &Path) -> Result<(), String> {
    let path = dir.join(format!("{name}.sqlite"));
    let manager = DBWorkerManager::start(SqliteConfig::new(&path)).map_err(|e| e.to_string())?;
    let driver = manager.driver();
    if !case.current.trim().is_empty() {
        driver
            .execute_batch(Batch::new().script(case.current.clone()))
            .map_err(|e| format!("current DDL: {e}"))?;
    }
    let backend = SqliteSchema::new(manager.proxy().clone());
    // A row in every table that takes one, to see that rows survive.
    let before = backend.introspect().map_err(|e| e.to_string())?;
    let mut rows = BTreeMap::new();
    for t in &before.tables {
        let q = codedb_schema::sql::quote_ident(&t.name);
        let _ = driver.execute(&format!("INSERT INTO {q} DEFAULT VALUES"), params![]);
        let n: i64 = driver
            .query(&format!("SELECT count(*) FROM {q}"), params![])
            .unwrap()
            .scalar()
            .unwrap();
        rows.insert(t.name.to_lowercase(), n);
    }
    let desired = match schema_from_ddl(&case.desired) {
        Ok(d) => d,
        Err(e) if case.error.is_some() => {
            return {
                let _: () = drop(e);
                Ok(())
            };
        }
        Err(e) => return Err(format!("desired DDL: {e}")),
    };
    let options = SyncOptions {
        diff: DiffOptions {
            allow_drop: case.enable_drop,
            allow_rebuild: true,
        },
        backup_dir: Some(dir.join(format!("{name}-backups"))),
        ..SyncOptions::default()
    };
    let first = sync(&backend, &desired, &options);
    match (&first, &case.error) {
        (Err(_), Some(_)) => return Ok(()),
        (Ok(_), Some(expected)) => {
            return Err(format!(
                "expected a refusal ({expected}), the sync succeeded"
            ));
        }
        (Err(e), None) => return Err(format!("sync failed: {e}")),
        (Ok(_), None) => {}
    }
    let live = backend.introspect().map_err(|e| e.to_string())?;
    let left = diff(&live, &desired, options.diff);
    if !left.is_empty() {
        let steps: Vec<_> = left.steps.iter().map(|s| s.description.clone()).collect();
        return Err(format!("not converged: {}", steps.join("; ")));
    }
    // Independently of `diff`: every desired object exists live with the same description.
    let want = canonical(&desired);
    let mut kept = live.clone();
    if !case.enable_drop {
        // Without drops, live-only columns stay; compare the desired ones.
        for t in &mut kept.tables {
            if let Some(d) = desired.table(&t.name) {
                t.columns.retain(|c| d.column(&c.name).is_some());
            }
        }
    }
    let have = canonical(&kept);
    for (key, description) in &want {
        match have.get(key) {
            Some(d) if d == description => {}
            other => return Err(format!("{key}: want {description}, have {other:?}")),
        }
    }
    let second = sync(&backend, &desired, &options).map_err(|e| format!("second sync: {e}"))?;
    if !second.steps.is_empty() || second.backup_path.is_some() {
        return Err(format!("second sync was not a no-op: {:?}", second.steps));
    }
    for t in &desired.tables {
        let old = t
            .renamed_from
            .clone()
            .unwrap_or_else(|| t.name.clone())
            .to_lowercase();
        if let Some(n) = rows.get(&old).or_else(|| rows.get(&t.name.to_lowercase())) {
            let q = codedb_schema::sql::quote_ident(&t.name);
            let now: i64 = driver
                .query(&format!("SELECT count(*) FROM {q}"), params![])
                .unwrap()
                .scalar()
                .unwrap();
            if now != *n {
                return Err(format!("table {} had {n} rows, now {now}", t.name));
            }
        }
    }
    manager.stop().map_err(|e| e.to_string())
}

/// Each object's description with names lowercased and expressions normalized; column order
/// ignored.
fn canonical(schema: &codedb_schema::Schema) -> BTreeMap<String, String> {
    use codedb_schema::sql::normalize;
    let mut out = BTreeMap::new();
    for t in &schema.tables {
        let mut cols: Vec<String> = t
            .columns
            .iter()
            .map(|c| {
                format!(
                    "{} {} nn={} d={:?} c={} g={:?}",
                    c.name.to_lowercase(),
                    c.decl_type,
                    c.not_null,
                    c.default,
                    c.collation,
                    c.generated
                )
            })
            .collect();
        cols.sort();
        let mut fks: Vec<String> = t
            .foreign_keys
            .iter()
            .map(|f| format!("{f:?}").to_lowercase())
            .collect();
        fks.sort();
        let mut checks = t.checks.clone();
        checks.sort();
        let pk: Vec<String> = t.primary_key.iter().map(|k| k.to_lowercase()).collect();
        out.insert(
            format!("table {}", t.name.to_lowercase()),
            format!(
                "{cols:?} pk={pk:?} ai={} fk={fks:?} ck={checks:?} strict={} wr={}",
                t.autoincrement, t.strict, t.without_rowid
            ),
        );
    }
    for i in &schema.indexes {
        out.insert(
            format!("index {}", i.name.to_lowercase()),
            normalize(&i.sql),
        );
    }
    for v in &schema.views {
        out.insert(format!("view {}", v.name.to_lowercase()), normalize(&v.sql));
    }
    for t in &schema.triggers {
        out.insert(
            format!("trigger {}", t.name.to_lowercase()),
            normalize(&t.sql),
        );
    }
    out
}

#[test]
fn sqldef_sqlite_cases_converge() {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/test_data/sqldef");
    let dir = tempfile::tempdir().unwrap();
    let mut files: Vec<_> = std::fs::read_dir(&data)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yml"))
        .collect();
    files.sort();
    let (mut passed, mut failed) = (Vec::new(), Vec::new());
    for file in files {
        let cases: BTreeMap<String, Case> =
            serde_yaml_ng::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        for (name, case) in cases {
            match run_case(&name, &case, dir.path()) {
                Ok(()) => passed.push(name),
                Err(why) => failed.push((name, why)),
            }
        }
    }
    println!(
        "sqldef: {} of {} cases converge",
        passed.len(),
        passed.len() + failed.len()
    );
    let unexpected: Vec<_> = failed
        .iter()
        .filter(|(n, _)| !KNOWN_FAILURES.iter().any(|(k, _)| k == n))
        .collect();
    let fixed: Vec<_> = KNOWN_FAILURES
        .iter()
        .filter(|(k, _)| passed.iter().any(|p| p == k))
        .collect();
    assert!(
        unexpected.is_empty(),
        "cases failing that are not in KNOWN_FAILURES:\n{unexpected:#?}"
    );
    assert!(
        fixed.is_empty(),
        "cases in KNOWN_FAILURES that now pass (remove them): {fixed:?}"
    );
}
