//! Properties of schema sync on random schemas, random changes and random data: the sync
//! converges, surviving columns keep their values, a second sync is a no-op, and restoring
//! the backup it took gives back the original database.
#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

use std::collections::BTreeMap;

use codedb_driver::{Batch, SpecificDriver, Value, params};
use codedb_schema::{DiffOptions, SyncOptions, backup, diff, sync};
use codedb_sqlite::schema::schema_from_ddl;
use proptest::prelude::*;

/// Types in pairs of the same affinity, so that a type change keeps values.
const TYPES: &[(&str, &str)] = &[
    ("INTEGER", "BIGINT"),
    ("TEXT", "VARCHAR(40)"),
    ("REAL", "DOUBLE"),
    ("BLOB", "BLOB"),
];

#[derive(Debug, Clone)]
struct Col {
    ty: usize,
    not_null: bool,
}

#[derive(Debug, Clone)]
struct Tbl {
    cols: Vec<Col>,
    rows: u8,
}

#[derive(Debug, Clone)]
enum ColChange {
    Keep,
    Drop,
    Retype,
    DropNotNull,
}

#[derive(Debug, Clone)]
struct Change {
    cols: Vec<ColChange>,
    add_column: bool,
    add_index: bool,
    drop_table: bool,
}

fn table() -> impl Strategy<Value = Tbl> {
    (
        proptest::collection::vec(
            (0..TYPES.len(), any::<bool>()).prop_map(|(ty, not_null)| Col { ty, not_null }),
            1..4,
        ),
        0u8..6,
    )
        .prop_map(|(cols, rows)| Tbl { cols, rows })
}

fn change(n: usize) -> impl Strategy<Value = Change> {
    (
        proptest::collection::vec(
            prop_oneof![4 => Just(ColChange::Keep), 1 => Just(ColChange::Drop), 1 => Just(ColChange::Retype), 1 => Just(ColChange::DropNotNull)],
            n,
        ),
        any::<bool>(),
        any::<bool>(),
        prop::bool::weighted(0.15),
    )
        .prop_map(|(cols, add_column, add_index, drop_table)| Change { cols, add_column, add_index, drop_table })
}

fn value(ty: usize, row: u8, col: usize) -> String {
    match ty {
        0 => format!("{}", i64::from(row) * 1000 + col as i64),
        1 => format!("'r{row}c{col}'"),
        2 => format!("{}.5", row),
        _ => format!("x'{:02x}{:02x}'", row, col),
    }
}

fn current_ddl(tables: &[Tbl]) -> (String, String) {
    let mut ddl = String::new();
    let mut data = String::new();
    for (t, tbl) in tables.iter().enumerate() {
        let cols: Vec<String> = tbl
            .cols
            .iter()
            .enumerate()
            .map(|(c, col)| {
                format!(
                    "c{c} {}{}",
                    TYPES[col.ty].0,
                    if col.not_null { " NOT NULL" } else { "" }
                )
            })
            .collect();
        ddl.push_str(&format!(
            "CREATE TABLE t{t} (id INTEGER PRIMARY KEY, {});\n",
            cols.join(", ")
        ));
        for r in 0..tbl.rows {
            let vals: Vec<String> = tbl
                .cols
                .iter()
                .enumerate()
                .map(|(c, col)| value(col.ty, r, c))
                .collect();
            data.push_str(&format!(
                "INSERT INTO t{t} VALUES ({r}, {});\n",
                vals.join(", ")
            ));
        }
    }
    (ddl, data)
}

fn desired_ddl(tables: &[Tbl], changes: &[Change]) -> String {
    let mut ddl = String::new();
    for (t, (tbl, ch)) in tables.iter().zip(changes).enumerate() {
        if ch.drop_table {
            continue;
        }
        let mut cols = Vec::new();
        for (c, (col, cc)) in tbl.cols.iter().zip(&ch.cols).enumerate() {
            let (ty, nn) = match cc {
                ColChange::Keep => (TYPES[col.ty].0, col.not_null),
                ColChange::Drop => continue,
                ColChange::Retype => (TYPES[col.ty].1, col.not_null),
                ColChange::DropNotNull => (TYPES[col.ty].0, false),
            };
            cols.push(format!("c{c} {ty}{}", if nn { " NOT NULL" } else { "" }));
        }
        if ch.add_column {
            cols.push("added TEXT DEFAULT 'new'".into());
        }
        let body = if cols.is_empty() {
            String::new()
        } else {
            format!(", {}", cols.join(", "))
        };
        ddl.push_str(&format!(
            "CREATE TABLE t{t} (id INTEGER PRIMARY KEY{body});\n"
        ));
        if ch.add_index {
            ddl.push_str(&format!("CREATE INDEX t{t}_ix ON t{t} (id DESC);\n"));
        }
    }
    ddl
}

type Snapshot = BTreeMap<String, Vec<Vec<Value>>>;

fn snapshot(driver: &dyn SpecificDriver) -> (String, Snapshot) {
    let tables: Vec<String> = driver
        .query("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE '\\_codedb%' ESCAPE '\\' ORDER BY name", params![])
        .unwrap()
        .iter()
        .map(|r| r.get(0).unwrap())
        .collect();
    let ddl: Vec<String> = driver
        .query("SELECT sql FROM sqlite_schema WHERE sql IS NOT NULL AND name NOT LIKE '\\_codedb%' ESCAPE '\\' ORDER BY name", params![])
        .unwrap()
        .iter()
        .map(|r| r.get(0).unwrap())
        .collect();
    let mut data = BTreeMap::new();
    for t in tables {
        let rows = driver
            .query(&format!("SELECT * FROM \"{t}\" ORDER BY id"), params![])
            .unwrap();
        data.insert(t, rows.iter().map(|r| r.values().to_vec()).collect());
    }
    (ddl.join(";"), data)
}

fn check(tables: &[Tbl], changes: &[Change]) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.sqlite");
    let backups = dir.path().join("backups");
    let (ddl, data) = current_ddl(tables);
    let manager = codedb_sqlite::open(&path).unwrap();
    let driver = manager.driver();
    driver
        .execute_batch(Batch::new().script(ddl).script(data))
        .unwrap();
    let original = snapshot(driver.as_ref());

    let backend = manager.schema_backend();
    let desired = schema_from_ddl(&desired_ddl(tables, changes)).unwrap();
    let options = SyncOptions {
        diff: DiffOptions {
            allow_drop: true,
            allow_rebuild: true,
        },
        backup_dir: Some(backups.clone()),
        ..SyncOptions::default()
    };
    let report = sync(backend.as_ref(), &desired, &options).unwrap();
    assert!(
        diff(&backend.introspect().unwrap(), &desired, options.diff).is_empty(),
        "not converged"
    );

    // Surviving columns keep their values.
    let (_, after) = snapshot(driver.as_ref());
    for (t, (tbl, ch)) in tables.iter().zip(changes).enumerate() {
        if ch.drop_table {
            assert!(!after.contains_key(&format!("t{t}")));
            continue;
        }
        let q = driver
            .query(&format!("SELECT * FROM t{t} ORDER BY id"), params![])
            .unwrap();
        assert_eq!(q.len(), usize::from(tbl.rows), "t{t} lost rows");
        for (c, cc) in ch.cols.iter().enumerate() {
            if matches!(cc, ColChange::Drop) {
                assert!(q.column_index(&format!("c{c}")).is_none());
                continue;
            }
            let at = q.column_index(&format!("c{c}")).unwrap();
            let before = &original.1[&format!("t{t}")];
            for (row, old) in q.rows.iter().zip(before) {
                assert_eq!(row.values()[at], old[c + 1], "t{t}.c{c} changed");
            }
        }
    }
    let again = sync(backend.as_ref(), &desired, &options).unwrap();
    assert!(
        again.steps.is_empty() && again.backup_path.is_none(),
        "second sync: {:?}",
        again.steps
    );
    manager.stop().unwrap();

    // Backup then restore gives back the original.
    if let Some(taken) = report.backup_path {
        let set = backup::Backups::new(&path, "props", &backups, "sqlite");
        codedb_sqlite::restore(&path, std::path::Path::new(&taken), &set).unwrap();
        let reopened = codedb_sqlite::open(&path).unwrap();
        assert_eq!(
            snapshot(reopened.driver().as_ref()),
            original,
            "restore is not the original"
        );
        reopened.stop().unwrap();
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn sync_converges_keeps_values_and_backups_restore(
        (tables, changes) in proptest::collection::vec(table(), 1..4).prop_flat_map(|tables| {
            let changes: Vec<_> = tables.iter().map(|t| change(t.cols.len())).collect();
            (Just(tables), changes)
        })
    ) {
        check(&tables, &changes);
    }

    #[test]
    fn diff_of_a_schema_with_itself_is_empty(tables in proptest::collection::vec(table(), 1..4)) {
        let (ddl, _) = current_ddl(&tables);
        let schema = schema_from_ddl(&ddl).unwrap();
        let all = DiffOptions { allow_drop: true, allow_rebuild: true };
        let plan = diff(&schema, &schema, all);
        prop_assert!(plan.is_empty(), "{:?}", plan.steps);
    }
}
