//! The `codedb` binary as a user runs it.
#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

mod support;

use std::fs;
use std::path::Path;
use support::{codedb, stderr, stdout};

#[test]
fn help_and_version() {
    let dir = tempfile::tempdir().unwrap();
    let o = codedb(dir.path(), &["--help"]);
    assert!(o.status.success());
    assert!(stdout(&o).contains("db"), "{}", stdout(&o));
    let o = codedb(dir.path(), &["--version"]);
    assert!(o.status.success());
    assert_eq!(
        stdout(&o).trim(),
        format!("codedb {}", env!("CARGO_PKG_VERSION"))
    );
    let o = codedb(dir.path(), &["no-such-command"]);
    assert_eq!(o.status.code(), Some(2), "usage errors exit 2");
}

#[test]
fn db_init_creates_the_embedded_default_and_info_reports_it() {
    let dir = tempfile::tempdir().unwrap();
    let o = codedb(dir.path(), &["db", "init"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(dir.path().join(".codedb/codedb.sqlite").is_file());
    assert!(stdout(&o).contains("integrity check"), "{}", stdout(&o));

    // --db and --json accepted after the subcommand and before it.
    let db = dir.path().join(".codedb/codedb.sqlite");
    for args in [
        vec!["db", "info", "--db", db.to_str().unwrap(), "--json"],
        vec!["--json", "--db", db.to_str().unwrap(), "db", "info"],
    ] {
        let o = codedb(dir.path(), &args);
        assert!(o.status.success(), "{}", stderr(&o));
        let v: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("one JSON object");
        assert_eq!(v["journal_mode"], "wal");
        assert_eq!(v["integrity_check"], "ok");
        assert!(v["page_count"].as_i64().unwrap() >= 1);
        assert!(v["sqlite_version"].as_str().unwrap().starts_with('3'));
        assert!(
            v["schema_objects"].as_i64().unwrap() >= 10,
            "init brought the code schema: {v}"
        );
    }
}

#[test]
fn db_info_on_bad_paths_fails_clearly_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("notes.txt");
    fs::write(
        &text,
        "not a database at all, just some text that is long enough",
    )
    .unwrap();
    let cases: [(&Path, &str); 3] = [
        (&text, "not a database"),
        (dir.path(), "is a directory"),
        (&dir.path().join("missing.sqlite"), "no such file"),
    ];
    for (path, cause) in cases {
        let o = codedb(
            dir.path(),
            &["db", "info", "--db", path.to_str().unwrap(), "--json"],
        );
        assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
        let err = stderr(&o);
        assert!(err.starts_with("error: "), "{err}");
        assert!(err.contains(cause), "{err}");
        assert!(
            err.contains(&path.display().to_string()),
            "the error names the path: {err}"
        );
        assert!(stdout(&o).is_empty());
    }
    assert_eq!(
        fs::read_to_string(&text).unwrap(),
        "not a database at all, just some text that is long enough"
    );
    assert!(!dir.path().join("missing.sqlite").exists());
}

#[test]
fn an_unreachable_postgres_url_is_a_clear_error_without_the_password() {
    let dir = tempfile::tempdir().unwrap();
    let o = codedb(
        dir.path(),
        &[
            "--db",
            "postgres://me:secret@db.example:5432/code",
            "query",
            "stats",
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains("cannot connect") && err.contains("db.example"),
        "{err}"
    );
    assert!(!err.contains("secret"), "{err}");
    assert!(!dir.path().join("postgres:").exists(), "nothing created");
}
