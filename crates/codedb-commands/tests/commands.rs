//! The write commands through the library API on a temporary git project, on every backend
//! (SQLite; PostgreSQL when a server answers): what each does to
//! files, database and git; validation; path safety; conflicts; git refusals; read-only
//! files; recover and verify.
#![allow(clippy::unwrap_used, clippy::print_stdout)]

#[path = "support/project.rs"]
mod support;

use codedb_commands::{
    CommandError, EditOptions, create, delete, edit, history, move_file, recover, replace_symbol,
    restore, verify,
};
use codedb_core::{CodeStore, Executor, params};
use support::{A_PY, TestProject, git};

fn opts() -> EditOptions {
    EditOptions::default()
}

fn sha(text: &str) -> String {
    use sha2::Digest;
    let d = sha2::Sha256::digest(text.as_bytes());
    d.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn edit_changes_file_database_and_git_together() {
    TestProject::each(|t| {
        let p = t.project();
        let before_head = git(&t.root(), &["rev-parse", "HEAD"]);
        let new = A_PY.replace("return text.split()", "return text.split(',')");
        let r = edit(
            &p,
            "a.py",
            &new,
            &EditOptions {
                message: Some("split on commas".into()),
                expect_sha256: Some(sha(A_PY)),
            },
        )
        .unwrap();
        assert_eq!(t.read("a.py").unwrap(), new);
        assert_eq!(r.sha256.as_deref(), Some(sha(&new).as_str()));
        let row = t.db.get_file_by_path(p_id(&t), "a.py").unwrap().unwrap();
        assert_eq!(row.meta.sha256, sha(&new));
        // git: one new commit with exactly that file and that message; tree clean.
        assert_eq!(git(&t.root(), &["rev-parse", "HEAD~1"]), before_head);
        assert_eq!(
            git(&t.root(), &["log", "-1", "--format=%s"]),
            "split on commas"
        );
        assert_eq!(
            git(&t.root(), &["show", "--name-only", "--format=", "HEAD"]),
            "a.py"
        );
        assert_eq!(git(&t.root(), &["status", "--porcelain"]), "");
        // A backup of the old bytes, listed and restorable.
        let h = history(&p, "a.py").unwrap();
        assert_eq!(h.len(), 1);
        assert_eq!(h[0].sha256, sha(A_PY));
        let v = verify(&p).unwrap();
        assert!(v.is_clean(), "{v:?}");
    });
}

fn p_id(t: &TestProject) -> i64 {
    t.db.query_scalar("SELECT id FROM projects", params![])
        .unwrap()
}

#[test]
fn a_syntax_error_is_refused_with_its_place_and_nothing_changes() {
    TestProject::each(|t| {
        let p = t.project();
        let before = t.snapshot();
        let err = edit(
            &p,
            "a.py",
            "class Parser:\n    def parse(self, text:\n        return 1\n",
            &opts(),
        )
        .unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, CommandError::Syntax { .. }), "{msg}");
        assert!(msg.starts_with("a.py:"), "{msg}");
        let CommandError::Syntax {
            line,
            column,
            construct,
            ..
        } = &err
        else {
            unreachable!()
        };
        assert!(*line >= 2 && *column >= 1, "{msg}");
        assert!(!construct.is_empty(), "{msg}");
        assert_eq!(t.snapshot(), before);
        // create too
        let err = create(&p, "new.py", "def broken(:\n", &opts()).unwrap_err();
        assert!(matches!(err, CommandError::Syntax { .. }), "{err}");
        assert_eq!(t.snapshot(), before);
    });
}

#[test]
fn expect_sha256_guards_against_lost_updates() {
    TestProject::each(|t| {
        let p = t.project();
        let first = edit(
            &p,
            "b.py",
            "x = 1\n",
            &EditOptions {
                expect_sha256: Some(sha(support::B_PY)),
                ..opts()
            },
        )
        .unwrap();
        let before = t.snapshot();
        // A second agent still holding the old version is refused.
        let err = edit(
            &p,
            "b.py",
            "x = 2\n",
            &EditOptions {
                expect_sha256: Some(sha(support::B_PY)),
                ..opts()
            },
        )
        .unwrap_err();
        assert!(err.is_conflict(), "{err}");
        assert_eq!(t.snapshot(), before);
        // Chaining the returned sha works.
        edit(
            &p,
            "b.py",
            "x = 2\n",
            &EditOptions {
                expect_sha256: first.sha256,
                ..opts()
            },
        )
        .unwrap();
        assert_eq!(t.read("b.py").unwrap(), "x = 2\n");
    });
}

#[test]
fn replace_symbol_reindents_and_reports_candidates() {
    TestProject::each(|t| {
        let p = t.project();
        replace_symbol(
            &p,
            "a.py",
            "Parser.parse",
            "def parse(self, text):\n    return [text]\n",
            &opts(),
        )
        .unwrap();
        let text = t.read("a.py").unwrap();
        assert!(
            text.contains("    def parse(self, text):\n        return [text]\n"),
            "{text}"
        );
        assert!(text.contains("def close(self)"), "{text}");
        let hits = t.db.find_symbol(codedb_core::Scope::All, "parse").unwrap();
        assert_eq!(hits.len(), 1);
        let err =
            replace_symbol(&p, "a.py", "Parser.nope", "def nope(self): pass", &opts()).unwrap_err();
        assert!(err.to_string().contains("Parser.close"), "{err}");
        // A replacement that breaks the file is refused like any edit.
        let before = t.snapshot();
        let err =
            replace_symbol(&p, "a.py", "helper", "def helper(x:\n    return", &opts()).unwrap_err();
        assert!(matches!(err, CommandError::Syntax { .. }), "{err}");
        assert_eq!(t.snapshot(), before);
    });
}

#[test]
fn create_delete_move_restore() {
    TestProject::each(|t| {
        let p = t.project();
        let pid = p_id(&t);
        // create, into a new directory
        create(&p, "new/mod.py", "def fresh():\n    return 1\n", &opts()).unwrap();
        assert!(
            t.db.get_file_by_path(pid, "new/mod.py")
                .unwrap()
                .is_some_and(|r| !r.deleted)
        );
        assert!(matches!(
            create(&p, "new/mod.py", "x = 1\n", &opts()),
            Err(CommandError::AlreadyExists(_))
        ));
        // move keeps the ids of the file's entities
        let ids_before: Vec<i64> = t
            .db
            .query("SELECT m.id FROM methods m JOIN files f ON f.id = m.file_id WHERE f.path = 'a.py' ORDER BY m.id", params![])
            .unwrap()
            .iter()
            .map(|r| r.get(0).unwrap())
            .collect();
        assert_eq!(ids_before.len(), 2);
        move_file(&p, "a.py", "pkg/parser.py", &opts()).unwrap();
        let ids_after: Vec<i64> = t
            .db
            .query("SELECT m.id FROM methods m JOIN files f ON f.id = m.file_id WHERE f.path = 'pkg/parser.py' ORDER BY m.id", params![])
            .unwrap()
            .iter()
            .map(|r| r.get(0).unwrap())
            .collect();
        assert_eq!(ids_before, ids_after);
        assert!(t.read("a.py").is_none());
        assert_eq!(t.read("pkg/parser.py").unwrap(), A_PY);
        assert_eq!(git(&t.root(), &["status", "--porcelain"]), "");
        // delete, then restore from its backup
        delete(&p, "pkg/parser.py", &opts()).unwrap();
        assert!(t.read("pkg/parser.py").is_none());
        assert!(
            t.db.get_file_by_path(pid, "pkg/parser.py")
                .unwrap()
                .unwrap()
                .deleted
        );
        let r = restore(&p, "pkg/parser.py", None, &opts()).unwrap();
        assert_eq!(t.read("pkg/parser.py").unwrap(), A_PY);
        assert_eq!(r.sha256.as_deref(), Some(sha(A_PY).as_str()));
        assert!(
            !t.db
                .get_file_by_path(pid, "pkg/parser.py")
                .unwrap()
                .unwrap()
                .deleted
        );
        // restore of a specific backup id
        edit(&p, "b.py", "v = 1\n", &opts()).unwrap();
        edit(&p, "b.py", "v = 2\n", &opts()).unwrap();
        let h = history(&p, "b.py").unwrap();
        assert_eq!(h.len(), 2);
        let oldest = h.last().unwrap().id;
        restore(&p, "b.py", Some(oldest), &opts()).unwrap();
        assert_eq!(t.read("b.py").unwrap(), support::B_PY);
        assert!(matches!(
            restore(&p, "b.py", Some(9999), &opts()),
            Err(CommandError::NotFound(_))
        ));
        let v = verify(&p).unwrap();
        assert!(v.is_clean(), "{v:?}");
    });
}

#[test]
fn unsafe_paths_are_refused() {
    TestProject::each(|t| {
        let p = t.project();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("x.py"), "x = 1\n").unwrap();
        std::os::unix::fs::symlink(outside.path(), t.dir.path().join("out")).unwrap();
        std::os::unix::fs::symlink(outside.path().join("x.py"), t.dir.path().join("link.py"))
            .unwrap();
        let before = t.snapshot();
        let abs_outside = outside.path().join("x.py").to_string_lossy().into_owned();
        for bad in [
            "../x.py",
            "pkg/../../x.py",
            abs_outside.as_str(),
            "out/x.py",
            "link.py",
            ".git/config.py",
            ".codedb/x.py",
            "pkg/.git/x.py",
            "",
        ] {
            let err = edit(&p, bad, "x = 2\n", &opts()).unwrap_err();
            assert!(
                matches!(err, CommandError::InvalidPath { .. }),
                "{bad}: {err}"
            );
            let err = create(&p, bad, "x = 2\n", &opts()).unwrap_err();
            assert!(
                matches!(err, CommandError::InvalidPath { .. }),
                "{bad}: {err}"
            );
        }
        assert_eq!(
            std::fs::read_to_string(outside.path().join("x.py")).unwrap(),
            "x = 1\n"
        );
        assert_eq!(t.snapshot(), before);
        // An absolute path inside the root is fine.
        let inside = t.root().join("b.py").to_string_lossy().into_owned();
        edit(&p, &inside, "y = 1\n", &opts()).unwrap();
        assert_eq!(t.read("b.py").unwrap(), "y = 1\n");
        // Not a language codedb indexes; a missing file.
        assert!(matches!(
            create(&p, "notes.txt", "hi\n", &opts()),
            Err(CommandError::Unsupported(_))
        ));
        assert!(matches!(
            edit(&p, "missing.py", "x = 1\n", &opts()),
            Err(CommandError::NotFound(_))
        ));
    });
}

#[test]
fn other_staged_and_unstaged_changes_of_the_user_stay_as_they_were() {
    TestProject::each(|t| {
        let root = t.root();
        std::fs::write(root.join("pkg/c.py"), "VALUE = 2\n").unwrap();
        git(&root, &["add", "pkg/c.py"]);
        std::fs::write(root.join("pkg/c.py"), "VALUE = 3\n").unwrap();
        std::fs::write(root.join("untracked.py"), "u = 1\n").unwrap();
        let staged = git(&root, &["diff", "--cached"]);
        let p = t.project();
        edit(&p, "b.py", "z = 1\n", &opts()).unwrap();
        assert_eq!(git(&root, &["diff", "--cached"]), staged);
        assert_eq!(t.read("pkg/c.py").unwrap(), "VALUE = 3\n");
        assert_eq!(
            git(&root, &["show", "--name-only", "--format=", "HEAD"]),
            "b.py"
        );
        let status = git(&root, &["status", "--porcelain"]);
        assert!(
            status.contains("MM pkg/c.py") && status.contains("?? untracked.py"),
            "{status}"
        );
        assert!(!status.contains("b.py"), "{status}");
    });
}

#[test]
fn git_in_a_merge_or_detached_is_refused_before_anything_changes() {
    TestProject::each(|t| {
        let root = t.root();
        let p = t.project();
        std::fs::write(
            root.join(".git/MERGE_HEAD"),
            git(&root, &["rev-parse", "HEAD"]),
        )
        .unwrap();
        let before = t.snapshot();
        let err = edit(&p, "b.py", "x = 9\n", &opts()).unwrap_err();
        assert!(matches!(err, CommandError::GitRefused(_)), "{err}");
        assert!(err.to_string().contains("merge"), "{err}");
        assert_eq!(t.snapshot(), before);
        std::fs::remove_file(root.join(".git/MERGE_HEAD")).unwrap();
        git(&root, &["checkout", "-q", "--detach"]);
        let before = t.snapshot();
        let err = edit(&p, "b.py", "x = 9\n", &opts()).unwrap_err();
        assert!(err.to_string().contains("detached"), "{err}");
        assert_eq!(t.snapshot(), before);
    });
}

#[test]
fn without_git_the_commands_still_work() {
    for t in TestProject::all_with_git(false) {
        let p = t.project();
        assert!(!p.has_git());
        edit(&p, "b.py", "x = 1\n", &opts()).unwrap();
        move_file(&p, "b.py", "c.py", &opts()).unwrap();
        delete(&p, "c.py", &opts()).unwrap();
        assert!(verify(&p).unwrap().is_clean());
    }
}

/// Makes `path` unwritable: permissions, or (as root, who ignores them) the immutable
/// attribute. Returns an undo, or `None` with a printed reason when neither works here.
fn make_read_only(path: &std::path::Path) -> Option<Box<dyn Fn()>> {
    use std::os::unix::fs::PermissionsExt;
    let probe = tempfile::tempdir().unwrap();
    let ro = probe.path().join("ro");
    std::fs::create_dir(&ro).unwrap();
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o555)).unwrap();
    let permissions_work = std::fs::write(ro.join("x"), "x").is_err();
    if permissions_work {
        let mode = std::fs::metadata(path).unwrap().permissions().mode();
        let readonly = if path.is_dir() { 0o555 } else { 0o444 };
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(readonly)).unwrap();
        let path = path.to_owned();
        return Some(Box::new(move || {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        }));
    }
    let ok = std::process::Command::new("chattr")
        .arg("+i")
        .arg(path)
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        println!(
            "SKIP read-only part: running as root and chattr +i is not available on this file system"
        );
        return None;
    }
    let path = path.to_owned();
    Some(Box::new(move || {
        std::process::Command::new("chattr")
            .arg("-i")
            .arg(&path)
            .status()
            .unwrap();
    }))
}

#[test]
fn a_read_only_file_or_directory_is_a_clear_error_and_nothing_changes() {
    TestProject::each(|t| {
        let p = t.project();
        let root = t.root();
        let Some(undo) = make_read_only(&root.join("b.py")) else {
            return;
        };
        let before = t.snapshot();
        let err = edit(&p, "b.py", "x = 5\n", &opts()).unwrap_err();
        undo();
        assert!(err.to_string().contains("b.py"), "{err}");
        assert_eq!(t.snapshot(), before, "{err}");
        let Some(undo) = make_read_only(&root.join("pkg")) else {
            return;
        };
        let before = t.snapshot();
        let err = edit(&p, "pkg/c.py", "VALUE = 5\n", &opts()).unwrap_err();
        let err2 = create(&p, "pkg/d.py", "d = 1\n", &opts()).unwrap_err();
        undo();
        assert!(err.to_string().contains("pkg"), "{err}");
        assert!(err2.to_string().contains("pkg"), "{err2}");
        assert_eq!(t.snapshot(), before, "{err}");
        assert!(verify(&p).unwrap().is_clean());
    });
}

#[test]
fn a_locked_file_is_a_conflict() {
    TestProject::each(|t| {
        let p = t.project();
        // Hold the file's command lock as another process would.
        let locks = std::fs::read_dir(t.root().join(".codedb/locks"))
            .unwrap()
            .count();
        assert_eq!(locks, 0);
        edit(&p, "b.py", "x = 1\n", &opts()).unwrap();
        let lock = std::fs::read_dir(t.root().join(".codedb/locks"))
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        let held = std::fs::File::open(&lock).unwrap();
        held.lock().unwrap();
        let err = edit(&p, "b.py", "x = 2\n", &opts()).unwrap_err();
        assert!(err.is_conflict(), "{err}");
        held.unlock().unwrap();
        edit(&p, "b.py", "x = 2\n", &opts()).unwrap();
    });
}

#[test]
fn recover_rolls_a_leftover_intent_forward_or_back_by_the_disk() {
    TestProject::each(|t| {
        let p = t.project();
        let root = t.root();
        // A command that died after its rename: the disk has the new bytes, the database and
        // git do not, the intent is there.
        let new = "changed = True\n";
        std::fs::write(root.join("b.py"), new).unwrap();
        let intent = serde_json::json!({
            "id": "0000000000a1-1-0", "kind": "edit", "message": "codedb: edit b.py", "git": true,
            "pid": 1, "created_at": 1,
            "action": {"op": "write", "path": "b.py", "old_sha256": sha(support::B_PY), "new_sha256": sha(new), "temp": ".b.py.codedb-tmp-0000000000a1-1-0"}
        });
        std::fs::write(
            root.join(".codedb/intents/0000000000a1-1-0.json"),
            intent.to_string(),
        )
        .unwrap();
        // One that died before its rename: its temp file is still there.
        std::fs::write(
            root.join("pkg/.c.py.codedb-tmp-0000000000a2-1-0"),
            "VALUE = 99\n",
        )
        .unwrap();
        let intent2 = serde_json::json!({
            "id": "0000000000a2-1-0", "kind": "edit", "message": "codedb: edit pkg/c.py", "git": true,
            "pid": 1, "created_at": 1,
            "action": {"op": "write", "path": "pkg/c.py", "old_sha256": sha("VALUE = 1\n"), "new_sha256": sha("VALUE = 99\n"), "temp": ".c.py.codedb-tmp-0000000000a2-1-0"}
        });
        std::fs::write(
            root.join(".codedb/intents/0000000000a2-1-0.json"),
            intent2.to_string(),
        )
        .unwrap();
        let v = verify(&p).unwrap();
        assert_eq!(v.pending_intents, 2);
        assert!(
            v.mismatches.iter().any(|m| m.problem == "temp_file"),
            "{v:?}"
        );
        // Without a database (a server's first startup step): only the one that died before
        // its rename is rolled back.
        let early = codedb_commands::recover_files(&root).unwrap();
        assert_eq!(early.rolled_back, vec!["0000000000a2-1-0".to_owned()]);
        assert!(!root.join("pkg/.c.py.codedb-tmp-0000000000a2-1-0").exists());
        assert_eq!(verify(&p).unwrap().pending_intents, 1);
        let r = recover(&p).unwrap();
        assert_eq!(r.rolled_forward, vec!["0000000000a1-1-0".to_owned()]);
        assert!(r.rolled_back.is_empty());
        assert_eq!(t.read("b.py").unwrap(), new);
        assert_eq!(t.read("pkg/c.py").unwrap(), "VALUE = 1\n");
        assert_eq!(
            git(&root, &["log", "-1", "--format=%s"]),
            "codedb: edit b.py"
        );
        let v = verify(&p).unwrap();
        assert!(v.is_clean(), "{v:?}");
        // A damaged intent is an error naming it, never skipped.
        std::fs::write(
            root.join(".codedb/intents/0000000000a3-1-0.json"),
            "{not json",
        )
        .unwrap();
        let err = recover(&p).unwrap_err();
        assert!(err.to_string().contains("0000000000a3-1-0.json"), "{err}");
    });
}

#[test]
fn verify_reports_a_file_changed_behind_codedbs_back() {
    TestProject::each(|t| {
        let p = t.project();
        std::fs::write(t.root().join("b.py"), "edited = 'by hand'\n").unwrap();
        std::fs::remove_file(t.root().join("pkg/c.py")).unwrap();
        let v = verify(&p).unwrap();
        let problems: Vec<(&str, &str)> = v
            .mismatches
            .iter()
            .map(|m| (m.path.as_str(), m.problem.as_str()))
            .collect();
        assert!(
            problems.contains(&("b.py", "sha256_differs")),
            "{problems:?}"
        );
        assert!(problems.contains(&("pkg/c.py", "missing")), "{problems:?}");
        assert_eq!(v.files_checked, 3);
    });
}

#[test]
fn backups_are_pruned_to_the_retention_setting() {
    TestProject::each(|t| {
        let p = codedb_commands::Project::open(
            &t.db,
            t.dir.path(),
            codedb_commands::CommandOptions {
                keep_backups: 3,
                git: false,
                ..Default::default()
            },
        )
        .unwrap();
        for i in 0..6 {
            edit(&p, "b.py", &format!("v = {i}\n"), &opts()).unwrap();
        }
        let h = history(&p, "b.py").unwrap();
        assert_eq!(h.len(), 3);
        let blobs = std::fs::read_dir(t.root().join(".codedb/file-backups"))
            .unwrap()
            .flatten()
            .filter(|e| e.path().is_dir())
            .map(|d| std::fs::read_dir(d.path()).unwrap().count())
            .sum::<usize>();
        assert_eq!(blobs, 3, "pruned bytes are removed too");
        // A backup row's bytes are checked when restored.
        restore(&p, "b.py", Some(h[2].id), &opts()).unwrap();
        assert_eq!(t.read("b.py").unwrap(), "v = 2\n");
    });
}

#[test]
fn a_git_failure_after_the_commit_point_lands_and_recover_finishes_it() {
    TestProject::each(|t| {
        let backend = t.backend();
        let p = t.project();
        let root = t.root();
        let head = git(&root, &["rev-parse", "HEAD"]);
        // Another git process holds the branch's ref lock: `update-ref` fails for real.
        std::fs::write(root.join(".git/refs/heads/main.lock"), "").unwrap();
        let err = edit(&p, "b.py", "x = 42\n", &opts()).unwrap_err();
        let msg = err.to_string();
        assert_eq!(
            err.kind(),
            codedb_commands::ErrorKind::Landed,
            "{backend}: {msg}"
        );
        assert!(
            msg.contains("landed") && msg.contains("git commit failed") && msg.contains("recover"),
            "{backend}: {msg}"
        );
        let CommandError::Landed { report, .. } = &err else {
            panic!("{backend}: {err}");
        };
        assert_eq!(report.paths, ["b.py"], "{backend}");
        // The file and the database have the new content; git and the journal wait.
        assert_eq!(t.read("b.py").unwrap(), "x = 42\n", "{backend}");
        let row = t.db.get_file_by_path(p_id(&t), "b.py").unwrap().unwrap();
        assert_eq!(Some(row.meta.sha256), report.sha256, "{backend}");
        assert_eq!(git(&root, &["rev-parse", "HEAD"]), head, "{backend}");
        assert_eq!(verify(&p).unwrap().pending_intents, 1, "{backend}");
        // While git still fails, recover keeps the intent (and says why); once it works,
        // it finishes.
        let r = recover(&p).unwrap();
        assert_eq!(r.failed.len(), 1, "{backend}: {r:?}");
        assert!(r.failed[0].error.contains("git"), "{backend}: {r:?}");
        // Another file can still be changed meanwhile (its own commit waits for git too);
        // this one cannot.
        let err = edit(&p, "a.py", "a = 1\n", &opts()).unwrap_err();
        assert!(
            matches!(err, CommandError::Landed { .. }),
            "{backend}: {err}"
        );
        let err = edit(&p, "b.py", "x = 43\n", &opts()).unwrap_err();
        assert!(
            err.to_string().contains("interrupted command"),
            "{backend}: {err}"
        );
        assert_eq!(verify(&p).unwrap().pending_intents, 2, "{backend}");
        std::fs::remove_file(root.join(".git/refs/heads/main.lock")).unwrap();
        let r = recover(&p).unwrap();
        assert_eq!(r.rolled_forward.len(), 2, "{backend}: {r:?}");
        assert!(verify(&p).unwrap().is_clean(), "{backend}");
        assert_eq!(git(&root, &["show", "HEAD:b.py"]), "x = 42", "{backend}");
        assert_eq!(git(&root, &["show", "HEAD:a.py"]), "a = 1", "{backend}");
        assert_ne!(git(&root, &["rev-parse", "HEAD"]), head, "{backend}");
    });
}
