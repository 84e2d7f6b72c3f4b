//! codedb's own schema-sync cases (`tests/test_data/rebuild_cases.yml`): every rebuild rule
//! of the design brief and every refusal, with data. A refusal must leave the database
//! exactly as it was: same schema, same rows.
#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

use std::collections::BTreeMap;
use std::path::Path;

use codedb_driver::{Batch, SpecificDriver, Value, params};
use codedb_schema::{DiffOptions, SchemaBackend, SyncOptions, diff, sync};
use codedb_sqlite::schema::{SqliteSchema, schema_from_ddl};
use codedb_sqlite::{DBWorkerManager, SqliteConfig};

#[derive(serde::Deserialize)]
struct Check {
    sql: String,
    rows: Vec<String>,
}

#[derive(serde::Deserialize)]
struct Case {
    current: String,
    #[serde(default)]
    data: String,
    desired: String,
    #[serde(default = "yes")]
    allow_drop: bool,
    #[serde(default = "yes")]
    allow_rebuild: bool,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    checks: Vec<Check>,
    #[serde(default)]
    warnings: Vec<String>,
    /// The plan's steps, each its line: a plan that converges but does more than it must
    /// (a rebuild where an ALTER would do, an index dropped and made again) fails.
    #[serde(default)]
    plan: Option<Vec<String>>,
}

fn yes() -> bool {
    true
}

fn show(v: &Value) -> String {
    match v {
        Value::Null => "NULL".into(),
        Value::Integer(i) => i.to_string(),
        Value::Real(r) => r.to_string(),
        Value::Text(s) => s.clone(),
        Value::Blob(b) => format!(
            "x{}",
            b.iter().map(|x| format!("{x:02x}")).collect::<String>()
        ),
    }
}

/// Every table's rows, in rowid (or key) order, plus the schema text.
fn snapshot(driver: &dyn SpecificDriver) -> (String, BTreeMap<String, Vec<Vec<String>>>) {
    let ddl: Vec<String> = driver
        .query(
            "SELECT sql FROM sqlite_schema WHERE sql IS NOT NULL ORDER BY name",
            params![],
        )
        .unwrap()
        .iter()
        .map(|r| r.get::<String>(0).unwrap())
        .collect();
    let tables: Vec<String> = driver
        .query(
            "SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name",
            params![],
        )
        .unwrap()
        .iter()
        .map(|r| r.get::<String>(0).unwrap())
        .collect();
    let mut rows = BTreeMap::new();
    for t in tables {
        let q = codedb_schema::sql::quote_ident(&t);
        let r = driver
            .query(&format!("SELECT * FROM {q} ORDER BY 1"), params![])
            .unwrap();
        rows.insert(
            t,
            r.iter()
                .map(|row| row.values().iter().map(show).collect())
                .collect(),
        );
    }
    (ddl.join(";\n"), rows)
}

fn run(name: &str, case: &Case, dir: &Path) {
    let path = dir.join(format!("{name}.sqlite"));
    let manager = DBWorkerManager::start(SqliteConfig::new(&path)).unwrap();
    let driver = manager.driver();
    driver
        .execute_batch(Batch::new().script(case.current.clone()))
        .unwrap();
    if !case.data.trim().is_empty() {
        driver
            .execute_batch(Batch::new().script(case.data.clone()))
            .unwrap();
    }
    let backend = SqliteSchema::new(manager.proxy().clone());
    let desired = schema_from_ddl(&case.desired).unwrap();
    let options = SyncOptions {
        diff: DiffOptions {
            allow_drop: case.allow_drop,
            allow_rebuild: case.allow_rebuild,
        },
        backup_dir: Some(dir.join(format!("{name}-backups"))),
        ..SyncOptions::default()
    };
    let before = snapshot(driver.as_ref());
    let planned: Vec<String> = diff(&backend.introspect().unwrap(), &desired, options.diff)
        .steps
        .iter()
        .map(|s| s.description.clone())
        .collect();
    match &case.plan {
        Some(expected) => assert_eq!(&planned, expected, "{name}: the plan"),
        None if std::env::var_os("CODEDB_WRITE_PLANS").is_some() => {
            let path = std::env::temp_dir().join("codedb-rebuild-plans.tsv");
            let line = format!("{name}\t{}", planned.join("\t"));
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .unwrap();
            std::io::Write::write_all(&mut f, format!("{line}\n").as_bytes()).unwrap();
        }
        None => panic!("{name}: the case states no plan; it would be {planned:?}"),
    }
    let result = sync(&backend, &desired, &options);
    if let Some(expected) = &case.error {
        let err = result.expect_err(&format!(
            "{name}: expected a refusal containing {expected:?}"
        ));
        assert!(
            err.to_string().contains(expected),
            "{name}: refusal {err} lacks {expected:?}"
        );
        assert!(
            err.to_string().contains("database unchanged"),
            "{name}: {err}"
        );
        assert_eq!(
            snapshot(driver.as_ref()),
            before,
            "{name}: a refusal changed the database"
        );
        return;
    }
    let report = result.unwrap_or_else(|e| panic!("{name}: {e}"));
    for w in &case.warnings {
        assert!(
            report.warnings.iter().any(|have| have.message.contains(w)),
            "{name}: no warning {w:?} in {:?}",
            report.warnings
        );
    }
    let left = diff(&backend.introspect().unwrap(), &desired, options.diff);
    assert!(left.is_empty(), "{name}: not converged: {:?}", left.steps);
    for check in &case.checks {
        let rows = driver.query(&check.sql, params![]);
        let rows = match rows {
            Ok(r) => r,
            // A write (INSERT ... RETURNING) goes through execute's sibling path.
            Err(_) => manager
                .proxy()
                .with_connection({
                    let sql = check.sql.clone();
                    move |d| d.query(&sql, &[])
                })
                .unwrap(),
        };
        let got: Vec<String> = rows
            .iter()
            .map(|r| r.values().iter().map(show).collect::<Vec<_>>().join("|"))
            .collect();
        assert_eq!(got, check.rows, "{name}: {}", check.sql);
    }
    let again = sync(&backend, &desired, &options).unwrap();
    assert!(
        again.steps.is_empty() && again.backup_path.is_none(),
        "{name}: second sync not a no-op: {:?}",
        again.steps
    );
    manager.stop().unwrap();
}

#[test]
fn rebuild_rules_and_refusals() {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/test_data/rebuild_cases.yml");
    let cases: BTreeMap<String, Case> =
        serde_yaml_ng::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
    assert!(cases.len() >= 17, "the case file lost cases");
    let dir = tempfile::tempdir().unwrap();
    for (name, case) in &cases {
        run(name, case, dir.path());
    }
}
