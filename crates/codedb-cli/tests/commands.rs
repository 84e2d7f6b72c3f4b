//! The write commands through the `codedb` binary: output and exit codes, `kill -9` at
//! random moments followed by `recover` and `verify`, and concurrent processes.
#![allow(clippy::unwrap_used, clippy::print_stdout)]

mod support;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};
use support::{Rng, codedb, git};

fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    })
}

/// A git project of `n` Python files, indexed.
fn project(n: usize) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    for i in 0..n {
        fs::write(
            root.join(format!("m{i}.py")),
            format!("def f{i}():\n    return {i}\n"),
        )
        .unwrap();
    }
    fs::write(root.join(".gitignore"), ".codedb/\n").unwrap();
    git(root, &["init", "-q", "-b", "main"]);
    git(root, &["config", "user.email", "test@example.com"]);
    git(root, &["config", "user.name", "test"]);
    git(root, &["add", "-A"]);
    git(root, &["commit", "-q", "-m", "init"]);
    let o = codedb(root, &["index", "."]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    dir
}

fn content_file(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    fs::write(&p, text).unwrap();
    p
}

#[test]
fn commands_print_reports_and_exit_with_their_codes() {
    let t = project(3);
    let root = t.path();
    let scratch = tempfile::tempdir().unwrap();
    let new = content_file(scratch.path(), "new.py", "def f0():\n    return 100\n");
    let o = codedb(
        root,
        &[
            "edit",
            "m0.py",
            "--content-file",
            new.to_str().unwrap(),
            "--json",
            "-m",
            "bump",
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r = json(&o);
    let sha = r["sha256"].as_str().unwrap().to_owned();
    assert_eq!(r["kind"], "edit");
    assert!(r["git_commit"].is_string());
    assert_eq!(git(root, &["log", "-1", "--format=%s"]), "bump");
    // A stale expect-sha256 is a conflict: exit 3.
    let o = codedb(
        root,
        &[
            "edit",
            "m0.py",
            "--content-file",
            new.to_str().unwrap(),
            "--expect-sha256",
            &"0".repeat(64),
        ],
    );
    assert_eq!(
        o.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("conflict"));
    // A syntax error: exit 1, path:line:column.
    let bad = content_file(scratch.path(), "bad.py", "def f0(:\n    return\n");
    let o = codedb(
        root,
        &["edit", "m0.py", "--content-file", bad.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(err.contains("m0.py:1:"), "{err}");
    // Symbol replacement, from a subdirectory (root found by walking up), with stdin.
    fs::create_dir(root.join("sub")).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_codedb"))
        .current_dir(root.join("sub"))
        .args([
            "edit",
            "m1.py",
            "--replace-symbol",
            "f1",
            "--with",
            "-",
            "--expect-sha256",
        ])
        .arg("f".repeat(64)) // not the file's version
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"def f1():\n    return 'one'\n")
        .unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(
        o.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_codedb"))
        .current_dir(root.join("sub"))
        .args(["edit", "m1.py", "--replace-symbol", "f1", "--with", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"def f1():\n    return 'one'\n")
        .unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        fs::read_to_string(root.join("m1.py")).unwrap(),
        "def f1():\n    return 'one'\n"
    );
    // create, move, delete, history, restore
    let c = content_file(scratch.path(), "c.py", "C = 1\n");
    assert!(
        codedb(
            root,
            &["create", "pkg/c.py", "--content-file", c.to_str().unwrap()]
        )
        .status
        .success()
    );
    assert!(
        codedb(root, &["move", "pkg/c.py", "pkg/d.py"])
            .status
            .success()
    );
    assert!(codedb(root, &["delete", "pkg/d.py"]).status.success());
    let h = json(&codedb(root, &["history", "pkg/d.py", "--json"]));
    assert_eq!(h["backups"].as_array().unwrap().len(), 1);
    let o = codedb(root, &["restore", "pkg/d.py", "--json"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        fs::read_to_string(root.join("pkg/d.py")).unwrap(),
        "C = 1\n"
    );
    // Unsafe path: exit 1, nothing created outside.
    let o = codedb(
        root,
        &[
            "create",
            "../escape.py",
            "--content-file",
            c.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(!root.parent().unwrap().join("escape.py").exists());
    // verify: clean, exact keys.
    let o = codedb(root, &["verify", "--json"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));
    let v = json(&o);
    assert_eq!(v["files_checked"], 4);
    assert_eq!(v["mismatches"], serde_json::json!([]));
    assert_eq!(v["pending_intents"], 0);
    // A hand edit makes verify exit non-zero.
    fs::write(root.join("m2.py"), "changed = 1\n").unwrap();
    let o = codedb(root, &["verify", "--json"]);
    assert!(!o.status.success());
    assert_eq!(json(&o)["mismatches"][0]["path"], "m2.py");
    assert_eq!(sha, sha256_hex(&fs::read(root.join("m0.py")).unwrap()));
    // Outside any project: a clear error.
    let elsewhere = tempfile::tempdir().unwrap();
    let o = codedb(elsewhere.path(), &["verify"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--root"));
}

#[test]
fn kill_9_at_random_moments_then_recover_and_verify() {
    let t = project(20);
    let root = t.path();
    let scratch = tempfile::tempdir().unwrap();
    let versions = [
        "def f0():\n    return 'even'\n",
        "def f0():\n    return 'odd'\n",
    ];
    let files = [
        content_file(scratch.path(), "v0.py", versions[0]),
        content_file(scratch.path(), "v1.py", versions[1]),
    ];
    // How long an uncontended edit takes, to spread the kills over all of it.
    let start = Instant::now();
    let o = codedb(
        root,
        &[
            "edit",
            "m0.py",
            "--content-file",
            files[0].to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let span = start.elapsed().as_micros().max(1000) as u64;
    let (mut rng, seed) = Rng::from_clock();
    println!("seed {seed}, an edit takes {span} us");
    let (mut landed, mut undone) = (0, 0);
    for i in 0..100 {
        let before = fs::read_to_string(root.join("m0.py")).unwrap();
        let next = versions[(i + 1) % 2];
        let file = &files[(i + 1) % 2];
        let delay = Duration::from_micros(rng.next() % (span + span / 4));
        let args = ["edit", "m0.py", "--content-file", file.to_str().unwrap()];
        support::kill_9_after(root, &args, delay);
        let o = codedb(root, &["recover"]);
        assert!(
            o.status.success(),
            "iteration {i} (seed {seed}): recover: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let o = codedb(root, &["verify", "--json"]);
        assert!(
            o.status.success(),
            "iteration {i} (seed {seed}): {}",
            String::from_utf8_lossy(&o.stdout)
        );
        let now = fs::read_to_string(root.join("m0.py")).unwrap();
        assert!(now == before || now == next, "iteration {i}: {now:?}");
        if now == next {
            landed += 1;
            // git has exactly this content committed.
            assert_eq!(git(root, &["show", "HEAD:m0.py"]), next.trim_end());
        } else {
            undone += 1;
        }
        assert_eq!(git(root, &["status", "--porcelain"]), "", "iteration {i}");
    }
    println!("100 kills: {landed} edits landed (rolled forward or finished), {undone} rolled back");
    // The index still answers.
    let o = codedb(root, &["query", "symbol", "f0", "--json"]);
    assert!(o.status.success());
}

#[test]
fn concurrent_processes_on_different_files_all_succeed_on_one_file_one_wins() {
    let t = project(8);
    let root = t.path();
    let scratch = tempfile::tempdir().unwrap();
    let head_before = git(root, &["rev-list", "--count", "HEAD"]);
    let mut children = Vec::new();
    for i in 0..4 {
        let root = root.to_owned();
        let file = content_file(scratch.path(), &format!("c{i}.py"), "");
        children.push(std::thread::spawn(move || {
            for round in 0..5 {
                fs::write(&file, format!("def f{i}():\n    return {}\n", round + 100)).unwrap();
                let o = codedb(
                    &root,
                    &[
                        "edit",
                        &format!("m{i}.py"),
                        "--content-file",
                        file.to_str().unwrap(),
                    ],
                );
                assert!(
                    o.status.success(),
                    "m{i}.py round {round}: {}",
                    String::from_utf8_lossy(&o.stderr)
                );
            }
        }));
    }
    for c in children {
        c.join().unwrap();
    }
    let count: usize = git(root, &["rev-list", "--count", "HEAD"]).parse().unwrap();
    assert_eq!(
        count,
        head_before.parse::<usize>().unwrap() + 20,
        "every edit has its commit"
    );
    for i in 0..4 {
        assert_eq!(
            fs::read_to_string(root.join(format!("m{i}.py"))).unwrap(),
            format!("def f{i}():\n    return 104\n")
        );
    }
    assert!(codedb(root, &["verify"]).status.success());

    // Two agents editing the same version of one file: one wins, the other is told.
    let sha = sha256_hex(&fs::read(root.join("m7.py")).unwrap());
    let a = content_file(scratch.path(), "a.py", "def f7():\n    return 'a'\n");
    let b = content_file(scratch.path(), "b.py", "def f7():\n    return 'b'\n");
    let spawn = |file: &Path| {
        Command::new(env!("CARGO_BIN_EXE_codedb"))
            .current_dir(root)
            .args([
                "edit",
                "m7.py",
                "--content-file",
                file.to_str().unwrap(),
                "--expect-sha256",
                &sha,
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (ca, cb) = (spawn(&a), spawn(&b));
    let (oa, ob) = (
        ca.wait_with_output().unwrap(),
        cb.wait_with_output().unwrap(),
    );
    let codes = [oa.status.code(), ob.status.code()];
    assert!(
        codes.contains(&Some(0)) && codes.contains(&Some(3)),
        "{codes:?}: {} / {}",
        String::from_utf8_lossy(&oa.stderr),
        String::from_utf8_lossy(&ob.stderr)
    );
    let loser = if oa.status.code() == Some(3) {
        &oa
    } else {
        &ob
    };
    assert!(String::from_utf8_lossy(&loser.stderr).contains("conflict"));
    let now = fs::read_to_string(root.join("m7.py")).unwrap();
    assert!(now.contains("'a'") || now.contains("'b'"));
    assert!(codedb(root, &["verify"]).status.success());
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
