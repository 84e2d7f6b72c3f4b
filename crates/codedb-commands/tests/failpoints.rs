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
//! content after it. `rename` changes two files in one command: its extra step `swap`
//! (after each file's replacement, before its commit point, the intent marked committed)
//! rolls back too, the file already replaced put back: all the files change or none.
#![allow(clippy::unwrap_used, clippy::print_stdout)]

#[path = "support/project.rs"]
mod support;

use codedb_commands::{
    CommandError, CommandReport, EditOptions, Placement, Project, RenameOptions, create, delete,
    delete_symbol, edit, insert_symbol, move_file, recover, rename, replace_symbol, restore,
    verify,
};
use support::{Snapshot, TestProject};

const STEPS: [&str; 8] = [
    "validate", "backup", "temp", "intent", "db", "rename", "git", "commit",
];

/// The steps of `command`: a command on several files has `swap` too.
fn steps(command: &str) -> Vec<&'static str> {
    let mut steps = STEPS.to_vec();
    if command == "rename" {
        steps.insert(5, "swap");
    }
    steps
}

/// A file referring to `Parser.parse`, so that renaming it changes two files.
const USES_PY: &str = "from a import Parser\n\nParser().parse('a b')\n";

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
        ("insert_symbol", |p| {
            insert_symbol(
                p,
                "a.py",
                "Parser.close",
                Placement::After,
                "def reopen(self):\n    return self\n",
                &EditOptions::default(),
            )
        }),
        ("delete_symbol", |p| {
            delete_symbol(p, "a.py", "helper", &EditOptions::default())
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
        ("rename", |p| {
            rename(p, "Parser.parse", "parse_text", &RenameOptions::default())
        }),
    ]
}

/// A project on `backend` where `restore` has something to restore (a backup of pkg/c.py).
fn project(backend: &str) -> TestProject {
    let t = TestProject::on(backend);
    {
        let p = t.project();
        edit(&p, "pkg/c.py", "VALUE = 2\n", &EditOptions::default()).unwrap();
        codedb_commands::create(&p, "uses.py", USES_PY, &EditOptions::default()).unwrap();
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
    for (command, run) in commands() {
        let name = format!("{backend} {command}");
        let expected_after = landed(run, backend);
        if command == "rename" {
            assert_eq!(
                expected_after.files["uses.py"],
                USES_PY.replace(".parse(", ".parse_text(").as_bytes(),
                "{name}: two files"
            );
        }
        for step in steps(command) {
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
            steps(command).len()
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

/// Runs `f` with the failpoint `name` calling `callback` (another program acting at that
/// moment of the command).
fn with_callback<T>(
    name: &str,
    callback: impl Fn() + Send + Sync + 'static,
    f: impl FnOnce() -> T,
) -> T {
    fail::cfg_callback(name, callback).unwrap();
    let out = f();
    fail::remove(name);
    out
}

fn append(path: std::path::PathBuf, text: &'static str) -> impl Fn() + Send + Sync + 'static {
    move || {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        f.write_all(text.as_bytes()).unwrap();
    }
}

#[test]
fn another_programs_writes_around_the_commit_point_are_never_lost() {
    let scenario = fail::FailScenario::setup();
    for backend in TestProject::backends() {
        // The user's uncommitted work, then an edit, then a program appending to the new
        // file right after the swap, then a crash: `recover` rolls forward (the swap
        // happened) and the displaced bytes stay as a backup.
        let t = project(backend);
        let p = t.project();
        let b = t.root().join("b.py");
        std::fs::write(&b, format!("{}# PRECIOUS\n", support::B_PY)).unwrap();
        fail::cfg("cmd-after-rename", "return(crash)").unwrap();
        let err = edit(&p, "b.py", "edited = 1\n", &EditOptions::default()).unwrap_err();
        fail::remove("cmd-after-rename");
        assert!(
            matches!(err, CommandError::SimulatedCrash(_)),
            "{backend}: {err}"
        );
        append(b.clone(), "# appended after the swap\n")();
        let r = recover(&p).unwrap();
        assert_eq!(r.rolled_forward.len(), 1, "{backend}: {r:?}");
        assert_eq!(
            std::fs::read_to_string(&b).unwrap(),
            "edited = 1\n# appended after the swap\n",
            "{backend}"
        );
        let history = codedb_commands::history(&p, "b.py").unwrap();
        let store = codedb_commands::backups::BackupStore::new(&t.root().join(".codedb"));
        assert!(
            history
                .iter()
                .any(|h| String::from_utf8(store.get(&h.sha256).unwrap())
                    .unwrap()
                    .contains("# PRECIOUS")),
            "{backend}: the displaced bytes are a backup: {history:?}"
        );
        assert!(verify(&p).unwrap().is_clean(), "{backend}");

        // A program appending between the swap and git: the commit holds the command's
        // bytes, not the file's, and the user's index agrees with the commit.
        let t = project(backend);
        let p = t.project();
        let root = t.root();
        let report = with_callback(
            "cmd-after-rename",
            append(root.join("b.py"), "# theirs\n"),
            || edit(&p, "b.py", "ours = 1\n", &EditOptions::default()),
        )
        .unwrap();
        assert_eq!(
            support::git(&root, &["show", "HEAD:b.py"]),
            "ours = 1",
            "{backend}"
        );
        assert_eq!(
            support::git(&root, &["diff", "--cached", "--name-only"]),
            "",
            "{backend}"
        );
        assert_eq!(
            std::fs::read_to_string(root.join("b.py")).unwrap(),
            "ours = 1\n# theirs\n"
        );
        assert!(report.git_commit.is_some());

        // The file removed by another program while the command ran: a conflict, nothing
        // changed.
        let t = project(backend);
        let p = t.project();
        let b = t.root().join("b.py");
        let before = t.snapshot();
        let err = with_callback(
            "cmd-after-db",
            move || std::fs::remove_file(&b).unwrap(),
            || edit(&p, "b.py", "x = 1\n", &EditOptions::default()),
        )
        .unwrap_err();
        assert!(err.is_conflict(), "{backend}: {err}");
        let mut after = t.snapshot();
        assert!(!after.files.contains_key("b.py"), "{backend}");
        after
            .files
            .insert("b.py".into(), before.files["b.py"].clone());
        after.status = before.status.clone();
        assert_eq!(after.files, before.files, "{backend}: nothing else changed");
        assert_eq!(after.db_files, before.db_files, "{backend}");

        // A chmod by another program while the command ran is kept.
        let t = project(backend);
        let p = t.project();
        let b = t.root().join("b.py");
        with_callback(
            "cmd-after-db",
            move || {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&b, std::fs::Permissions::from_mode(0o750)).unwrap();
            },
            || edit(&p, "b.py", "x = 2\n", &EditOptions::default()),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(t.root().join("b.py"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o750, "{backend}");
    }
    scenario.teardown();
}

/// An index stopped after its files are stored but before their references are resolved
/// (killed, failed) leaves them marked pending: the next run resolves them although no file
/// changed in between.
#[test]
fn an_index_stopped_before_resolution_is_resolved_by_the_next_run() {
    use codedb_core::ReferenceGraph;
    let scenario = fail::FailScenario::setup();
    for backend in TestProject::backends() {
        let t = project(backend);
        std::fs::write(
            t.root().join("use_helper.py"),
            "from a import helper\n\nhelper(1)\n",
        )
        .unwrap();
        fail::cfg("index-before-resolve", "return").unwrap();
        let err = codedb_commands::index(&t.db, &t.root(), &Default::default()).unwrap_err();
        fail::remove("index-before-resolve");
        assert!(err.to_string().contains("injected"), "{backend}: {err}");
        let helper =
            t.db.definition(codedb_core::Scope::All, "a.py:helper")
                .unwrap();
        let sites = |t: &TestProject| -> Vec<String> {
            t.db.references_to(&helper, &Default::default())
                .unwrap()
                .iter()
                .map(|h| format!("{}:{}:{} {}", h.path, h.line, h.column, h.confidence))
                .collect()
        };
        assert!(sites(&t).is_empty(), "{backend}: not resolved yet");
        let summary = codedb_commands::index(&t.db, &t.root(), &Default::default()).unwrap();
        assert_eq!(
            summary.files_indexed, 0,
            "{backend}: nothing changed on disk"
        );
        assert!(summary.files_resolved >= 1, "{backend}: {summary:?}");
        assert_eq!(
            sites(&t),
            ["use_helper.py:1:15 exact", "use_helper.py:3:1 exact"],
            "{backend}"
        );
    }
    scenario.teardown();
}

/// A rename over two files where another program changes the second file after the first
/// was replaced: a conflict, the first file put back, nothing changed but the other
/// program's bytes; a crash there, then `recover`, puts the first file back too.
#[test]
fn a_file_changed_mid_rename_refuses_it_and_puts_back_the_files_already_replaced() {
    let scenario = fail::FailScenario::setup();
    for backend in TestProject::backends() {
        let t = project(backend);
        let p = t.project();
        let before = t.snapshot();
        let uses = t.root().join("uses.py");
        let err = with_callback("cmd-after-swap", append(uses.clone(), "# theirs\n"), || {
            rename(&p, "Parser.parse", "parse_text", &RenameOptions::default())
        })
        .unwrap_err();
        assert!(err.is_conflict(), "{backend}: {err}");
        let mut after = t.snapshot();
        assert_eq!(
            std::fs::read_to_string(&uses).unwrap(),
            format!("{USES_PY}# theirs\n")
        );
        after
            .files
            .insert("uses.py".into(), USES_PY.as_bytes().to_vec());
        after.status = before.status.clone();
        assert_eq!(after.files, before.files, "{backend}: a.py put back");
        assert_eq!(after.db_files, before.db_files, "{backend}");
        assert_eq!(after.counts, before.counts, "{backend}");
        assert_eq!(after.head, before.head, "{backend}");
        assert_eq!(after.intents, 0, "{backend}");

        // Killed after the first file was replaced: `recover` puts it back.
        let t = project(backend);
        let p = t.project();
        let before = t.snapshot();
        fail::cfg("cmd-after-swap", "return(crash)").unwrap();
        let err = rename(&p, "Parser.parse", "parse_text", &RenameOptions::default()).unwrap_err();
        fail::remove("cmd-after-swap");
        assert!(matches!(err, CommandError::SimulatedCrash("swap")), "{err}");
        assert_ne!(
            t.read("a.py"),
            Some(support::A_PY.to_owned()),
            "{backend}: a.py was replaced before the crash"
        );
        let r = recover(&p).unwrap();
        assert_eq!(r.rolled_back.len(), 1, "{backend}: {r:?}");
        assert!(verify(&p).unwrap().is_clean(), "{backend}");
        let now = t.snapshot();
        assert_eq!(now.files, before.files, "{backend}");
        assert_eq!(now.db_files, before.db_files, "{backend}");
        assert_eq!(now.head, before.head, "{backend}");
    }
    scenario.teardown();
}

/// A path git would leave out of the commit (its warning "Ignoring path", which no path
/// that gets past codedb's own rules draws on Linux, so the failpoint `git-leaves-out`
/// plays it) refuses the command before its commit point: rolled back, the file, the
/// database, git and the backups as they were, `verify` clean; never a command that
/// landed with a commit that misses the path.
#[test]
fn a_path_git_leaves_out_refuses_the_command_before_anything_changes() {
    let scenario = fail::FailScenario::setup();
    for backend in TestProject::backends() {
        // `delete` writes no path.
        for (command, run) in commands().into_iter().filter(|(c, _)| *c != "delete") {
            let name = format!("{backend} {command}");
            let t = project(backend);
            let p = t.project();
            let before = t.snapshot();
            fail::cfg("git-leaves-out", "return").unwrap();
            let err = run(&p).unwrap_err();
            fail::remove("git-leaves-out");
            assert!(
                matches!(err, CommandError::RolledBack { .. }),
                "{name}: {err}"
            );
            assert!(
                err.to_string().contains("out of the commit"),
                "{name}: {err}"
            );
            assert_eq!(t.snapshot(), before, "{name}: nothing changed");
            assert!(verify(&p).unwrap().is_clean(), "{name}");
        }
    }
    scenario.teardown();
}
