//! A desired-schema file is something a user reviews with `schema plan`, maybe someone
//! else's: it must run nothing but schema statements, on SQLite and PostgreSQL alike.
//! Each hostile file is refused before it runs, naming the statement and its position;
//! nothing is created, nothing runs, the database is unchanged.
#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

mod support;

use std::fs;

use codedb_backends::testing::TestDatabase;
use support::{codedb, stderr};

#[test]
fn hostile_desired_files_are_refused_before_anything_runs_on_every_backend() {
    for db in TestDatabase::all() {
        let dir = tempfile::tempdir().unwrap();
        let arg = db.arg();
        let o = codedb(dir.path(), &["schema", "sync", "--db", &arg, "--no-backup"]);
        assert!(o.status.success(), "{}: {}", db.name(), stderr(&o));
        let dump = || codedb(dir.path(), &["schema", "dump", "--db", &arg]).stdout;
        let before = dump();
        let attached = dir.path().join("attached.db");
        let touched = dir.path().join("touched");
        let zip = dir.path().join("x.zip");
        let own = match db.spec().sqlite_path() {
            Some(p) => p.display().to_string(),
            None => dir.path().join("none.db").display().to_string(),
        };
        let files = [
            // (file, statement position that must be named)
            (
                format!(
                    "CREATE TABLE ok (a INTEGER);\nATTACH DATABASE '{}' AS p;\nCREATE TABLE p.t (x);",
                    attached.display()
                ),
                2,
            ),
            (
                format!("ATTACH DATABASE '{own}' AS mine; CREATE TABLE mine.evil (x);"),
                1,
            ),
            (
                format!(
                    "CREATE TABLE ok (a INTEGER);\nCOPY (SELECT 1) TO PROGRAM 'touch {}';",
                    touched.display()
                ),
                2,
            ),
            (format!("VACUUM INTO '{}';", attached.display()), 1),
            ("PRAGMA writable_schema = ON;".to_owned(), 1),
            (
                "CREATE TABLE a (x INTEGER);\nINSERT INTO a VALUES (1);".to_owned(),
                2,
            ),
            (
                format!(
                    "/* /* */ CREATE TABLE x (a INTEGER) */ COPY (SELECT 1) TO PROGRAM 'touch {}';",
                    touched.display()
                ),
                1,
            ),
            // Functions with side effects, in a query or as a virtual table's arguments.
            (
                format!(
                    "CREATE TABLE t AS SELECT load_extension('{}');",
                    dir.path().join("x").display()
                ),
                1,
            ),
            (
                format!(
                    "CREATE TABLE ok (a INTEGER);\nCREATE VIRTUAL TABLE z USING zipfile('{}');",
                    zip.display()
                ),
                2,
            ),
            // PostgreSQL refuses CREATE TABLE ... AS already (it runs a query).
            (
                "CREATE TABLE t2 AS SELECT 1 AS x;\nDROP TABLE files;".to_owned(),
                if db.name() == "postgres" { 1 } else { 2 },
            ),
        ];
        for (text, position) in files {
            let file = dir.path().join("desired.sql");
            fs::write(&file, &text).unwrap();
            for command in ["plan", "sync"] {
                let o = codedb(
                    dir.path(),
                    &[
                        "schema",
                        command,
                        "--db",
                        &arg,
                        "--desired",
                        "desired.sql",
                        "--allow-drop",
                    ],
                );
                let err = stderr(&o);
                assert_eq!(
                    o.status.code(),
                    Some(1),
                    "{} {command} {text}: {err}",
                    db.name()
                );
                assert!(
                    err.contains(&format!("statement {position}")) && err.contains("desired.sql"),
                    "{} {command} {text}: {err}",
                    db.name()
                );
                assert!(!attached.exists(), "{}: {text} created a file", db.name());
                assert!(!touched.exists(), "{}: {text} ran a program", db.name());
                assert!(!zip.exists(), "{}: {text} created a zip file", db.name());
                if text.contains("load_extension") || text.contains("zipfile") {
                    // Refused for what it is, not failing for want of the extension.
                    assert!(err.contains("refused"), "{} {text}: {err}", db.name());
                }
                assert_eq!(dump(), before, "{}: {text} changed the database", db.name());
            }
        }
        // A plain schema file still plans.
        fs::write(
            dir.path().join("fine.sql"),
            "-- a comment\nCREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT);\nCREATE INDEX notes_body ON notes (body);\nCREATE VIEW v AS SELECT id FROM notes;",
        )
        .unwrap();
        let o = codedb(
            dir.path(),
            &[
                "schema",
                "plan",
                "--db",
                &arg,
                "--desired",
                "fine.sql",
                "--json",
            ],
        );
        assert!(o.status.success(), "{}: {}", db.name(), stderr(&o));
        let s = String::from_utf8_lossy(&o.stdout).into_owned();
        assert!(s.contains("notes"), "{}: {s}", db.name());
    }
}

/// `@renamed from=` binds to the column it documents: on the column's line, or on a line of
/// its own just before it. The file put the hint on `title`'s own line before it, and
/// `extra` got it; with --allow-drop the real target's data was dropped.
#[test]
fn a_rename_hint_binds_to_the_column_it_documents_and_a_stray_one_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("d.sqlite");
    let m = codedb_sqlite::open(&db).unwrap();
    m.driver()
        .execute_batch(codedb_driver::Batch::new().script(
            "CREATE TABLE t (id integer primary key, n integer, extra text, name text); \
             INSERT INTO t VALUES (1, 2, 'e', 'the title');",
        ))
        .unwrap();
    m.stop().unwrap();
    fs::write(
        dir.path().join("want.sql"),
        "CREATE TABLE t(id integer primary key, n integer, extra text,\n-- @renamed from=name\ntitle text);",
    )
    .unwrap();
    let args = [
        "schema",
        "sync",
        "--db",
        "d.sqlite",
        "--desired",
        "want.sql",
        "--allow-drop",
        "--allow-rebuild",
        "--json",
    ];
    let o = codedb(dir.path(), &args);
    assert!(o.status.success(), "{}", stderr(&o));
    let m = codedb_sqlite::open(&db).unwrap();
    let row = m
        .driver()
        .query("SELECT extra || '|' || title FROM t", vec![])
        .unwrap()
        .scalar::<String>()
        .unwrap();
    m.stop().unwrap();
    assert_eq!(row, "e|the title");
    for (text, says) in [
        (
            "CREATE TABLE t(id integer primary key, title text\n-- @renamed from=extra\n);",
            "documents no column",
        ),
        (
            "CREATE TABLE t(id integer primary key, a text, -- @renamed from=n\nb text -- @renamed from=n\n);",
            "both claim",
        ),
        (
            "-- @renamed from=t\nCREATE TABLE u(id integer primary key);",
            "document no table",
        ),
    ] {
        fs::write(dir.path().join("want.sql"), text).unwrap();
        let o = codedb(dir.path(), &args);
        assert_eq!(o.status.code(), Some(1), "{text}");
        assert!(stderr(&o).contains(says), "{text}: {}", stderr(&o));
    }
}

/// PostgreSQL's catalog keeps no comments, so a hint there would be lost: it is refused,
/// saying how to rename instead, and nothing changes.
#[test]
fn a_rename_hint_is_refused_on_postgres_with_what_to_do_instead() {
    let Some(pg) = TestDatabase::postgres() else {
        return; // the reason is printed
    };
    let dir = tempfile::tempdir().unwrap();
    let arg = pg.arg();
    fs::write(
        dir.path().join("want.sql"),
        "CREATE TABLE t (id integer primary key,\n-- @renamed from=name\ntitle text);",
    )
    .unwrap();
    let dump = || codedb(dir.path(), &["schema", "dump", "--db", &arg]).stdout;
    let before = dump();
    for command in ["plan", "sync"] {
        let o = codedb(
            dir.path(),
            &[
                "schema",
                command,
                "--db",
                &arg,
                "--desired",
                "want.sql",
                "--allow-drop",
                "--no-backup",
            ],
        );
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{command}: {err}");
        assert!(
            err.contains("`@renamed from=` hints are not read on PostgreSQL")
                && err.contains("ALTER TABLE ... RENAME"),
            "{command}: {err}"
        );
        assert_eq!(dump(), before, "{command} changed the database");
    }
}

#[test]
fn a_desired_schema_of_more_than_5000_tables_is_refused_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("d.sqlite");
    codedb_sqlite::open(&db).unwrap().stop().unwrap();
    let bytes = fs::read(&db).unwrap();
    let ddl: String = (1..=5_001)
        .map(|i| format!("CREATE TABLE t{i} (a INTEGER);\n"))
        .collect();
    fs::write(dir.path().join("many.sql"), ddl).unwrap();
    let o = codedb(
        dir.path(),
        &[
            "schema",
            "plan",
            "--db",
            "d.sqlite",
            "--desired",
            "many.sql",
        ],
    );
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("statement 5001")
            && err.contains("a desired schema holds at most 5000 tables"),
        "{err}"
    );
    assert_eq!(
        fs::read(&db).unwrap(),
        bytes,
        "the plan changed the database"
    );
}
