//! Fault injection at every step of the write pipeline, for every command, on every backend
//! (SQLite; PostgreSQL when a server answers). Run with `--features failpoints`; `cargo
//! xtask ci` does.
//!
//! For each command and each step: a failure before the commit point (the rename) leaves
//! files, database, git and the backup store exactly as before; a failure after it is a
//! command that landed with that step left (`CommandError::Landed`, its intent kept), which
//! `recover` finishes; a crash there (the command stops without undoing anything, as
//! `kill -9` would stop it) followed by `recover` leaves the invariant holding, with the
//! file at its old content when the crash came before the commit point and at its new
//! content after it.
#![allow(clippy::unwrap_used, clippy::print_stdout)]

#[path = "support/project.rs"]
mod support;

use codedb_commands::{
    CommandError, CommandReport, EditOptions, Project, create, delete, edit, move_file, recover,
    replace_symbol, restore, verify,
};
use support::{Snapshot, TestProject};

const STEPS: [&str; 8] = [
    "validate", "backup", "temp", "intent", "db", "rename", "git", "commit",
];

/// Steps at or after the commit point: a crash there rolls forward.
fn after_commit_point(step: &str) -> bool {
    matches!(step, "rename" | "git" | "commit")
}

type Run = fn(&Project) -> Result<CommandReport, CommandError>;

fn commands() -> Vec<(&'static str, Run)> {
    vec![
        ("edit", |p| {
            edit(p, "b.py", "edited = 1\n", &EditOptions::default())
        }),
        ("replace_symbol", |p| {
            replace_symbol(
                p,
                "a.py",
                "Parser.close",
                "def close(self):\n    return None\n",
                &EditOptions::default(),
            )
        }),
        ("create", |p| {
            create(p, "pkg/new.py", "created = 1\n", &EditOptions::default())
        }),
        ("delete", |p| delete(p, "b.py", &EditOptions::default())),
        ("move", |p| {
            move_file(p, "b.py", "moved/b2.py", &EditOptions::default())
        }),
        ("restore", |p| {
            restore(p, "pkg/c.py", None, &EditOptions::default())
        }),
    ]
}

/// A project on `backend` where `restore` has something to restore (a backup of pkg/c.py).
fn project(backend: &str) -> TestProject {
    let t = TestProject::on(backend);
    {
        let p = t.project();
        edit(&p, "pkg/c.py", "VALUE = 2\n", &EditOptions::default()).unwrap();
    }
    t
}

/// The tree after the command landed, computed on a project without faults.
fn landed(run: Run, backend: &str) -> Snapshot {
    let t = project(backend);
    run(&t.project()).unwrap();
    t.snapshot()
}

#[test]
fn every_step_of_every_command() {
    let scenario = fail::FailScenario::setup();
    for backend in TestProject::backends() {
        every_step_on(backend);
    }
    scenario.teardown();
}

fn every_step_on(backend: &str) {
    for (name, run) in commands() {
        let name = format!("{backend} {name}");
        let expected_after = landed(run, backend);
        for step in STEPS {
            let fp = format!("cmd-after-{step}");
            // A failure after the commit point: landed, the step left to `recover`.
            if matches!(step, "rename" | "git") {
                let t = project(backend);
                let p = t.project();
                fail::cfg(&fp, "return").unwrap();
                let err = run(&p).unwrap_err();
                fail::remove(&fp);
                assert!(
                    matches!(err, CommandError::Landed { .. }),
                    "{name}/{step}: {err}"
                );
                assert!(err.to_string().contains(step), "{name}/{step}: {err}");
                let now = t.snapshot();
                assert_eq!(now.files, expected_after.files, "{name}/{step}: landed");
                assert_eq!(now.intents, 1, "{name}/{step}: the intent stays");
                recover(&p).unwrap();
                assert!(verify(&p).unwrap().is_clean(), "{name}/{step}");
                let now = t.snapshot();
                assert_eq!(now.files, expected_after.files, "{name}/{step}");
                assert_eq!(now.db_files, expected_after.db_files, "{name}/{step}");
                assert_eq!(now.counts, expected_after.counts, "{name}/{step}");
                assert_eq!(now.status, "", "{name}/{step}: committed to git");
            }
            // A failure before it: everything as before (after "commit" the command has
            // landed and nothing is undone: not a failure of the command).
            if !after_commit_point(step) {
                let t = project(backend);
                let p = t.project();
                let before = t.snapshot();
                fail::cfg(&fp, "return").unwrap();
                let err = run(&p).unwrap_err();
                fail::remove(&fp);
                assert!(
                    !matches!(err, CommandError::SimulatedCrash(_)),
                    "{name}/{step}: {err}"
                );
                assert!(err.to_string().contains(step), "{name}/{step}: {err}");
                assert_eq!(
                    t.snapshot(),
                    before,
                    "{name}: failure after {step} left changes"
                );
                // The same command then succeeds.
                run(&p).unwrap();
            }
            // A crash, then recover.
            let t = project(backend);
            let p = t.project();
            let before = t.snapshot();
            fail::cfg(&fp, "return(crash)").unwrap();
            let err = run(&p).unwrap_err();
            fail::remove(&fp);
            assert!(
                matches!(err, CommandError::SimulatedCrash(s) if s == step),
                "{name}/{step}: {err}"
            );
            recover(&p).unwrap();
            let v = verify(&p).unwrap();
            assert!(
                v.is_clean(),
                "{name}: crash after {step}, then recover: {v:?}"
            );
            let now = t.snapshot();
            if after_commit_point(step) {
                assert_eq!(
                    now.files, expected_after.files,
                    "{name}/{step}: rolled forward"
                );
                assert_eq!(now.db_files, expected_after.db_files, "{name}/{step}");
                assert_eq!(now.counts, expected_after.counts, "{name}/{step}");
                assert_eq!(now.status, "", "{name}/{step}: committed to git");
            } else {
                assert_eq!(now.files, before.files, "{name}/{step}: rolled back");
                assert_eq!(now.db_files, before.db_files, "{name}/{step}");
                assert_eq!(now.counts, before.counts, "{name}/{step}");
                assert_eq!(now.head, before.head, "{name}/{step}");
                if step != "backup" && step != "temp" {
                    // Killed before its intent: the bytes are swept once a minute old.
                    assert_eq!(
                        now.backups, before.backups,
                        "{name}/{step}: no orphan backup"
                    );
                }
            }
        }
        println!(
            "{name}: {} steps x (failure, crash + recover) ok",
            STEPS.len()
        );
    }
}

#[test]
fn a_full_disk_is_a_clear_error_and_nothing_changes() {
    let scenario = fail::FailScenario::setup();
    for backend in TestProject::backends() {
        let t = project(backend);
        let p = t.project();
        let before = t.snapshot();
        fail::cfg("cmd-disk-full", "return").unwrap();
        let err = edit(&p, "b.py", "x = 1\n", &EditOptions::default()).unwrap_err();
        let err2 = create(&p, "d.py", "x = 1\n", &EditOptions::default()).unwrap_err();
        fail::remove("cmd-disk-full");
        assert!(err.to_string().contains("No space left on device"), "{err}");
        assert!(
            err2.to_string().contains("No space left on device"),
            "{err2}"
        );
        assert_eq!(t.snapshot(), before, "{backend}");
    }
    scenario.teardown();
}
