//! Two projects indexed into one database (a SQLite file, or a PostgreSQL database a team
//! shares): every query answers for one project, the one whose root holds the current
//! directory (or `--root`), unless `--all-projects` asks for all of them, when each hit
//! names its project.
#![allow(clippy::unwrap_used, clippy::print_stdout)]

mod support;

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

use codedb_backends::testing::TestDatabase;
use serde_json::Value;
use support::stderr;

fn codedb(dir: &Path, db: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_codedb"))
        .current_dir(dir)
        .args(args)
        .args(["--db", db])
        .output()
        .unwrap()
}

fn json(dir: &Path, db: &str, args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.push("--json");
    let o = codedb(dir, db, &all);
    assert!(o.status.success(), "codedb {args:?}: {}", stderr(&o));
    serde_json::from_slice(&o.stdout).unwrap()
}

#[test]
fn queries_are_scoped_to_one_project_unless_asked_for_all() {
    let scratch = tempfile::tempdir().unwrap();
    let base = scratch.path().canonicalize().unwrap();
    let (a, b) = (base.join("a"), base.join("b"));
    for (root, body) in [(&a, "x = 1"), (&b, "y = 2\n\ndef only_b():\n    pass")] {
        fs::create_dir_all(root.join("pkg")).unwrap();
        fs::write(
            root.join("pkg/m.py"),
            format!("def run():\n    return 1\n\n{body}\nz = run()\n"),
        )
        .unwrap();
    }
    let mut dbs = vec![(
        "sqlite",
        base.join("one.sqlite").to_str().unwrap().to_owned(),
        None,
    )];
    if let Some(pg) = TestDatabase::postgres() {
        dbs.push(("postgres", pg.arg(), Some(pg)));
    }
    for (backend, db, _pg) in &dbs {
        for root in [&a, &b] {
            let o = codedb(&base, db, &["index", root.to_str().unwrap()]);
            assert!(o.status.success(), "{backend}: {}", stderr(&o));
        }
        // Inside a: a's counts and a's `run`, with bare relative paths.
        let stats = json(&a.join("pkg"), db, &["query", "stats"]);
        assert_eq!(stats["files"], 1, "{backend}: {stats}");
        assert_eq!(stats["functions"], 1, "{backend}: {stats}");
        let hits = json(&a, db, &["query", "symbol", "run"]);
        assert_eq!(
            hits["symbols"].as_array().unwrap().len(),
            1,
            "{backend}: {hits}"
        );
        assert!(hits["symbols"][0].get("project").is_none(), "{hits}");
        assert!(
            json(&a, db, &["query", "symbol", "only_b"])["symbols"]
                .as_array()
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            json(&a, db, &["query", "usages", "run"])["usages"]
                .as_array()
                .unwrap()
                .len(),
            1,
            "{backend}"
        );
        // Search: a's two lines naming `run`, none of b's.
        let found = json(&a, db, &["query", "search", "run"]);
        assert_eq!(found["total"], 2, "{backend}: {found}");
        assert!(
            found["hits"]
                .as_array()
                .unwrap()
                .iter()
                .all(|h| h["path"] == "pkg/m.py" && h.get("project").is_none()),
            "{backend}: {found}"
        );
        let everywhere = json(&a, db, &["query", "search", "run", "--all-projects"]);
        assert_eq!(everywhere["total"], 4, "{backend}: {everywhere}");
        assert!(everywhere["hits"][0]["project"].is_string(), "{everywhere}");
        // --root picks the project from anywhere.
        let stats = json(
            &base,
            db,
            &["query", "stats", "--root", b.to_str().unwrap()],
        );
        assert_eq!(stats["functions"], 2, "{backend}: {stats}");
        // Outside both: which one is meant is not guessed.
        let o = codedb(&base, db, &["query", "stats"]);
        assert_eq!(o.status.code(), Some(2), "{backend}");
        let err = stderr(&o);
        assert!(
            err.contains("--all-projects") && err.contains(a.to_str().unwrap()),
            "{err}"
        );
        // --all-projects: both, each hit naming its project.
        let stats = json(&base, db, &["query", "--all-projects", "stats"]);
        assert_eq!(stats["files"], 2, "{backend}: {stats}");
        let hits = json(&base, db, &["query", "symbol", "run", "--all-projects"]);
        let projects: Vec<&str> = hits["symbols"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["project"].as_str().unwrap())
            .collect();
        assert_eq!(
            projects,
            [a.to_str().unwrap(), b.to_str().unwrap()],
            "{backend}: {hits}"
        );
        let o = codedb(&base, db, &["query", "symbol", "run", "--all-projects"]);
        let text = String::from_utf8_lossy(&o.stdout).into_owned();
        assert!(
            text.contains(&format!("{}/pkg/m.py", a.display())),
            "{backend}: {text}"
        );
    }
}
