//! The code schema through `CodeDatabase` on every backend (SQLite; PostgreSQL when a server
//! answers), from one set of tests: created on a fresh database with a backup first, a
//! second sync is a no-op, a later change keeps the rows, and a change that cannot keep
//! them is refused with nothing changed.
#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

mod common;

use codedb_core::schema::code_schema;
use codedb_core::{CodeDatabase, Executor, SyncOptions, params};

fn options(dir: &std::path::Path) -> SyncOptions {
    SyncOptions {
        backup_dir: Some(dir.join("backups")),
        ..SyncOptions::default()
    }
}

fn backups(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir.join("backups"))
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[test]
fn the_code_schema_is_created_once_then_left_alone() {
    for t in common::databases() {
        let dir = tempfile::tempdir().unwrap();
        let db =
            CodeDatabase::open_with_schema(t.backend.driver(), t.backend.schema_backend()).unwrap();
        let first = db.ensure_schema_synced(&options(dir.path())).unwrap();
        assert!(first.tables_added.iter().any(|n| n == "files"), "{first:?}");
        assert!(
            first.backup_path.is_some(),
            "{}: a backup first",
            t.test.name()
        );
        let extension = if t.test.name() == "postgres" {
            ".pgdump"
        } else {
            ".sqlite"
        };
        assert!(
            backups(dir.path()).iter().all(|b| b.ends_with(extension)),
            "{:?}",
            backups(dir.path())
        );
        let second = db.ensure_schema_synced(&options(dir.path())).unwrap();
        assert!(second.steps.is_empty(), "{}: {second:?}", t.test.name());
        assert!(second.backup_path.is_none());
        assert_eq!(backups(dir.path()).len(), 1, "no backup for a no-op");
        // What the schema backend reads back is what the code schema declares.
        let live = t.backend.schema_backend().introspect().unwrap();
        assert_eq!(live.fingerprint(), db.code_schema().unwrap().fingerprint());
    }
}

#[test]
fn a_later_column_keeps_the_rows_and_a_refused_change_keeps_everything() {
    for t in common::code_databases() {
        let db = &t.db;
        db.execute(
            "INSERT INTO meta(key, value) VALUES ('a', '1'), ('b', '2')",
            params![],
        )
        .unwrap();
        let backend = t.backend.schema_backend();
        let base = code_schema(db.dialect());
        let wider = backend
            .schema_from_ddl(&format!("{base}\nALTER TABLE meta ADD COLUMN note TEXT;"))
            .unwrap();
        let report = db.sync_schema(&wider, &options(t.dir.path())).unwrap();
        assert_eq!(
            report.columns_added.get("meta").map(Vec::as_slice),
            Some(&["note".to_owned()][..]),
            "{}: {report:?}",
            t.name()
        );
        let rows: Vec<(String, String)> = db
            .query("SELECT key, value FROM meta ORDER BY key", params![])
            .unwrap()
            .iter()
            .map(|r| (r.get(0).unwrap(), r.get(1).unwrap()))
            .collect();
        assert_eq!(rows, [("a".into(), "1".into()), ("b".into(), "2".into())]);
        // A NOT NULL column without a default cannot be added to a table with rows.
        let before = backend.introspect().unwrap().fingerprint();
        let strict = backend
            .schema_from_ddl(&format!(
                "{base}\nALTER TABLE meta ADD COLUMN note TEXT;\nALTER TABLE meta ADD COLUMN must TEXT NOT NULL;"
            ))
            .unwrap();
        let refused = db.sync_schema(&strict, &options(t.dir.path()));
        let after = backend.introspect().unwrap().fingerprint();
        assert!(
            refused.is_err() || !refused.as_ref().unwrap().warnings.is_empty(),
            "{}: {refused:?}",
            t.name()
        );
        assert_eq!(before, after, "{}: nothing changed", t.name());
        assert_eq!(
            db.query_scalar::<i64>("SELECT count(*) FROM meta", params![])
                .unwrap(),
            2
        );
    }
}

#[test]
fn a_remembered_sync_is_skipped_until_someone_changes_the_schema_behind_codedbs_back() {
    for t in common::databases() {
        let dir = tempfile::tempdir().unwrap();
        let db =
            CodeDatabase::open_with_schema(t.backend.driver(), t.backend.schema_backend()).unwrap();
        let name = t.test.name();
        db.ensure_schema_synced(&options(dir.path())).unwrap();
        // The second call finds nothing to do and remembers it; the third one trusts that.
        for _ in 0..2 {
            let again = db.ensure_schema_synced(&options(dir.path())).unwrap();
            assert!(again.steps.is_empty(), "{name}: {again:?}");
        }
        let remembered: i64 = db
            .query_scalar("SELECT count(*) FROM _codedb_schema_state", params![])
            .unwrap();
        assert_eq!(
            remembered, 1,
            "{name}: the sync that found nothing to do is remembered"
        );
        // An index dropped behind codedb's back: the next sync looks again and makes it.
        db.execute("DROP INDEX functions_name", params![]).unwrap();
        let repaired = db.ensure_schema_synced(&options(dir.path())).unwrap();
        assert!(
            repaired.indexes_added.iter().any(|i| i == "functions_name"),
            "{name}: {repaired:?}"
        );
        let after = db.ensure_schema_synced(&options(dir.path())).unwrap();
        assert!(after.steps.is_empty(), "{name}: {after:?}");
        // A table someone added is reported every time (a warning is never remembered).
        db.execute("CREATE TABLE theirs (x INTEGER)", params![])
            .unwrap();
        for _ in 0..2 {
            let seen = db.ensure_schema_synced(&options(dir.path())).unwrap();
            assert!(
                seen.warnings.iter().any(|w| w.name == "theirs"),
                "{name}: {seen:?}"
            );
        }
    }
}

/// `query symbol`, `refs` and `--replace-symbol` look a definition up by name or by qualified
/// name: both through an index, so that the lookup does not scan every project's definitions
/// (before the qualified-name indexes, a `symbol` call of one project slowed from 1.4 to 5 ms
/// when sympy was indexed beside it). SQLite's plan of the store's filter says which.
#[test]
fn definitions_are_looked_up_by_name_or_qualified_name_through_indexes() {
    let sqlite = common::code_databases()
        .into_iter()
        .find(|c| c.name() == "sqlite")
        .unwrap();
    let db = &sqlite.db;
    for table in ["classes", "functions", "methods"] {
        let plan: Vec<String> = db
            .query(
                &format!(
                    "EXPLAIN QUERY PLAN SELECT e.id FROM {table} e JOIN files f ON f.id = e.file_id \
                     WHERE f.deleted = 0 AND (e.name = ?1 OR e.qualified_name = ?1)"
                ),
                params!["Thing.method"],
            )
            .unwrap()
            .iter()
            .map(|r| r.get::<String>(3).unwrap())
            .collect();
        let plan = plan.join("\n");
        assert!(
            plan.contains(&format!("INDEX {table}_name"))
                && plan.contains(&format!("INDEX {table}_qualified_name")),
            "{table}: {plan}"
        );
    }
}

/// On PostgreSQL the remembered sync trusts a hash of the catalog: every kind of change made
/// behind codedb's back must change it, so that the next sync looks again (and then repairs
/// it, warns about it or refuses it, but never passes it over in silence).
#[test]
fn every_change_behind_codedbs_back_makes_the_next_postgres_sync_look_again() {
    let changes = [
        "ALTER TABLE imports ALTER COLUMN line DROP NOT NULL",
        "ALTER TABLE imports ALTER COLUMN alias TYPE VARCHAR(7)",
        "ALTER TABLE imports ALTER COLUMN alias SET DEFAULT 'x'",
        "ALTER TABLE methods DROP CONSTRAINT methods_class_id_fkey",
        "ALTER TABLE imports ADD CONSTRAINT positive CHECK (line > 0)",
        "ALTER TABLE imports DROP COLUMN alias",
    ];
    for change in changes {
        let Some(t) = common::databases()
            .into_iter()
            .find(|t| t.test.name() == "postgres")
        else {
            println!("SKIP postgres: no server answered (see codedb_backends::testing)");
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        let db =
            CodeDatabase::open_with_schema(t.backend.driver(), t.backend.schema_backend()).unwrap();
        db.ensure_schema_synced(&options(dir.path())).unwrap();
        let remembered = db.ensure_schema_synced(&options(dir.path())).unwrap();
        assert!(remembered.steps.is_empty(), "{remembered:?}");
        db.execute(change, params![]).unwrap();
        match db.ensure_schema_synced(&options(dir.path())) {
            Ok(report) => assert!(
                !report.steps.is_empty() || !report.warnings.is_empty(),
                "{change}: the sync passed over it: {report:?}"
            ),
            Err(refused) => assert!(!refused.to_string().is_empty()),
        }
    }
}

/// A team's first commands on a new database sync its schema at the same moment: each of
/// them must end with the code schema in place, none with "relation already exists" (two
/// `codedb index` processes on an empty PostgreSQL database failed that way, every time).
#[test]
fn processes_syncing_one_empty_database_at_once_all_succeed() {
    for round in 0..3 {
        for t in common::databases() {
            let name = t.test.name();
            let backends = [t.test.open(), t.test.open(), t.test.open()];
            let barrier = std::sync::Barrier::new(backends.len());
            std::thread::scope(|scope| {
                let runs: Vec<_> = backends
                    .iter()
                    .map(|backend| {
                        let barrier = &barrier;
                        scope.spawn(move || {
                            let dir = tempfile::tempdir().unwrap();
                            let db = CodeDatabase::open_with_schema(
                                backend.driver(),
                                backend.schema_backend(),
                            )
                            .unwrap();
                            barrier.wait();
                            db.ensure_schema_synced(&options(dir.path()))
                        })
                    })
                    .collect();
                for run in runs {
                    let result = run.join().unwrap();
                    assert!(result.is_ok(), "{name} round {round}: {result:?}");
                }
            });
            let n: i64 =
                t.db.query_scalar("SELECT count(*) FROM projects", params![])
                    .unwrap();
            assert_eq!(n, 0, "{name}");
            for backend in backends {
                backend.stop().unwrap();
            }
        }
    }
}
