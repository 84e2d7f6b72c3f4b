//! What a hostile user found in the write commands, each a test through the `codedb`
//! binary, on SQLite and (when a server answers) on PostgreSQL: another program appending
//! to a file while edits and symbol replacements run loses nothing; paths git refuses,
//! names too long for a temp suffix, moves into another language, content over the size
//! limit, an edit whose bytes are already on disk, byte order marks and CRLF files, ignored
//! files, a closed pipe, a corrupt database and a failure after the commit point.
#![allow(clippy::unwrap_used, clippy::print_stdout)]

mod support;

use std::collections::BTreeSet;
use std::fs;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use codedb_backends::testing::TestDatabase;
use sha2::{Digest, Sha256};
use support::{git, stderr, stdout};

/// A git project with `pkg/a.py`, `b.py` and `src/lib.rs`, indexed into SQLite or into a
/// fresh PostgreSQL database.
struct Project {
    dir: tempfile::TempDir,
    backend: &'static str,
    db: Option<String>,
    _pg: Option<TestDatabase>,
}

impl Project {
    fn all() -> Vec<Project> {
        let mut all = vec![Project::new(None)];
        if let Some(pg) = TestDatabase::postgres() {
            all.push(Project::new(Some(pg)));
        }
        all
    }

    fn new(pg: Option<TestDatabase>) -> Project {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::create_dir_all(root.join("pkg")).unwrap();
        fs::create_dir_all(root.join("src")).unwrap();
        fs::write(root.join("pkg/a.py"), "def a():\n    return 1\n").unwrap();
        fs::write(
            root.join("b.py"),
            "class B:\n    def m(self):\n        return 2\n",
        )
        .unwrap();
        fs::write(
            root.join("src/lib.rs"),
            "pub struct Foo;\nimpl Foo {\n    pub fn bar(&self) {}\n}\n",
        )
        .unwrap();
        fs::write(root.join(".gitignore"), ".codedb/\nignored/\n").unwrap();
        git(root, &["init", "-q", "-b", "main"]);
        git(root, &["config", "user.email", "t@example.com"]);
        git(root, &["config", "user.name", "t"]);
        git(root, &["add", "-A"]);
        git(root, &["commit", "-q", "-m", "init"]);
        let p = Project {
            backend: if pg.is_some() { "postgres" } else { "sqlite" },
            db: pg.as_ref().map(TestDatabase::arg),
            _pg: pg,
            dir,
        };
        p.ok(&["index", "."]);
        p
    }

    fn root(&self) -> PathBuf {
        self.dir.path().canonicalize().unwrap()
    }

    /// `codedb ARGS` in the root, on this project's database.
    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_codedb"));
        cmd.current_dir(self.dir.path()).args(args);
        if let Some(db) = &self.db {
            cmd.args(["--db", db]);
        }
        cmd
    }

    fn ok(&self, args: &[&str]) -> Output {
        let o = self.run(args);
        assert!(
            o.status.success(),
            "{}: codedb {args:?}: {}",
            self.backend,
            stderr(&o)
        );
        o
    }

    fn json(&self, args: &[&str]) -> serde_json::Value {
        let mut all = args.to_vec();
        all.push("--json");
        let o = self.run(&all);
        serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
            panic!(
                "{}: codedb {args:?}: not JSON ({e}): {}\nstderr: {}",
                self.backend,
                stdout(&o),
                stderr(&o)
            )
        })
    }

    /// Fails unless `verify` finds files, database and git in agreement.
    fn verify_clean(&self) {
        let o = self.run(&["verify", "--json"]);
        assert!(
            o.status.success(),
            "{}: verify: {}{}",
            self.backend,
            stdout(&o),
            stderr(&o)
        );
    }

    fn content(&self, name: &str, text: &[u8]) -> String {
        let path = self.dir.path().join(".codedb").join(name);
        fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_owned()
    }
}

fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Every backup blob's text.
fn backups(root: &Path) -> String {
    let mut all = String::new();
    let store = root.join(".codedb/file-backups");
    for dir in fs::read_dir(store).unwrap().flatten() {
        for blob in fs::read_dir(dir.path()).unwrap().flatten() {
            all.push_str(&String::from_utf8_lossy(&fs::read(blob.path()).unwrap()));
        }
    }
    all
}

#[test]
fn another_program_appending_during_edits_loses_nothing() {
    for p in Project::all() {
        appending_during(&p, 120, 40, |p, e, bytes| {
            let mut new = bytes.to_vec();
            new.extend_from_slice(format!("# e{e}\n").as_bytes());
            let file = p.content(&format!("c{e}.py"), &new);
            let mut args = vec![
                "edit".into(),
                "pkg/a.py".into(),
                "--content-file".into(),
                file,
            ];
            // Half of them name the version they read; the others replace whatever is there
            // (what they replace must then be in a backup).
            if e % 2 == 0 {
                args.extend(["--expect-sha256".into(), sha256(bytes)]);
            }
            args
        });
    }
}

#[test]
fn another_program_appending_during_symbol_replacements_loses_nothing() {
    for p in Project::all() {
        appending_during(&p, 60, 20, |p, e, _| {
            let file = p.content(
                &format!("s{e}.py"),
                format!("def a():\n    return {e}\n").as_bytes(),
            );
            ["edit", "pkg/a.py", "--replace-symbol", "a", "--with", &file]
                .map(String::from)
                .to_vec()
        });
    }
}

/// Runs `edits` write commands on `pkg/a.py` (`args(project, e, bytes read)` says which)
/// while another program appends `appends` lines to it: each command lands or is refused
/// as a conflict, and every appended line ends in the file or in a backup; afterwards, the
/// appender's bytes indexed and committed, `verify` is clean.
fn appending_during(
    p: &Project,
    appends: usize,
    edits: usize,
    args: impl Fn(&Project, usize, &[u8]) -> Vec<String>,
) {
    let root = p.root();
    // Every backup is kept, so that every byte a command replaced can be looked for.
    fs::write(
        root.join("codedb.toml"),
        "[storage]\nkeep_file_backups = 1000\n",
    )
    .unwrap();
    let target = root.join("pkg/a.py");
    let appender = {
        let target = target.clone();
        std::thread::spawn(move || {
            for n in 0..appends {
                let mut f = fs::OpenOptions::new().append(true).open(&target).unwrap();
                writeln!(f, "# m{n}").unwrap();
                drop(f);
                // Every tenth append is followed by a quiet moment, so that commands land
                // during the race even on a loaded machine (where a command takes longer
                // than the usual gap, and all 40 were once refused).
                let pause = if n % 10 == 9 {
                    200
                } else {
                    20 + (n as u64 % 7) * 5
                };
                std::thread::sleep(std::time::Duration::from_millis(pause));
            }
        })
    };
    let (mut landed, mut refused) = (0, 0);
    for e in 0..edits {
        let bytes = fs::read(&target).unwrap();
        let args = args(p, e, &bytes);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = p.run(&args);
        match o.status.code() {
            Some(0) => landed += 1,
            Some(3) => {
                refused += 1;
                assert!(stderr(&o).contains("conflict"), "{}", stderr(&o));
            }
            other => panic!("{}: {args:?} exited {other:?}: {}", p.backend, stderr(&o)),
        }
    }
    appender.join().unwrap();
    let final_text = fs::read_to_string(&target).unwrap();
    let kept = backups(&root);
    let lost: Vec<usize> = (0..appends)
        .filter(|n| {
            let line = format!("# m{n}\n");
            !final_text.contains(&line) && !kept.contains(&line)
        })
        .collect();
    println!(
        "{}: {landed} commands landed, {refused} refused as conflicts, lost appends: {lost:?}",
        p.backend
    );
    assert!(
        lost.is_empty(),
        "{}: appended lines lost: {lost:?}",
        p.backend
    );
    assert!(landed > 0, "{}: no command landed", p.backend);
    // The appender's last bytes are the file's: the database and git catch up.
    p.ok(&["index", "."]);
    git(
        &root,
        &[
            "commit",
            "-q",
            "--allow-empty",
            "-am",
            "the appender's lines",
        ],
    );
    p.verify_clean();
}

#[test]
fn paths_git_refuses_are_refused_before_anything_changes() {
    for p in Project::all() {
        let root = p.root();
        let file = p.content("x.py", b"x = 1\n");
        let head = git(&root, &["rev-parse", "HEAD"]);
        for path in [
            ".GIT/x.py",
            ".Git/x.py",
            ".git./x.py",
            ".git /x.py",
            "GIT~1/x.py",
            "x/.GiT/y.py",
            "x\\.git\\y.py",
        ] {
            let o = p.run(&["create", path, "--content-file", &file]);
            assert_eq!(
                o.status.code(),
                Some(1),
                "{}: {path}: {}",
                p.backend,
                stderr(&o)
            );
            assert!(stderr(&o).contains("git"), "{path}: {}", stderr(&o));
            let first = path.split('/').next().unwrap();
            assert!(
                !root.join(first).exists(),
                "{}: {path} created {first}",
                p.backend
            );
        }
        assert_eq!(git(&root, &["rev-parse", "HEAD"]), head);
        p.verify_clean();
    }
}

#[test]
fn long_file_names_are_created_and_edited() {
    for p in Project::all() {
        let root = p.root();
        // 250 bytes: the name itself fits, the name plus a temp suffix would not.
        let name = format!("{}.py", "n".repeat(247));
        let file = p.content("long.py", b"def long():\n    return 1\n");
        p.ok(&["create", &name, "--content-file", &file]);
        let file = p.content("long2.py", b"def long():\n    return 2\n");
        p.ok(&["edit", &name, "--content-file", &file]);
        p.ok(&["delete", &name]);
        // Over the limit of a name: refused, and the message says what is true.
        let too_long = format!("{}.py", "n".repeat(260));
        let o = p.run(&["create", &too_long, "--content-file", &file]);
        assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
        let err = stderr(&o);
        assert!(err.contains("File name too long"), "{err}");
        assert!(!err.contains("undoing it also failed"), "{err}");
        p.verify_clean();
        assert_eq!(git(&root, &["status", "--porcelain"]), "");
    }
}

#[test]
fn a_move_into_another_language_parses_the_file_again() {
    for p in Project::all() {
        let before = p.json(&["query", "stats", "--language", "rust"]);
        assert_eq!(before["classes"], 1, "{}", p.backend);
        p.ok(&["move", "src/lib.rs", "src/lib.py"]);
        for _ in 0..2 {
            let rust = p.json(&["query", "stats", "--language", "rust"]);
            assert_eq!(rust["files"], 0, "{}: {rust}", p.backend);
            assert_eq!(rust["classes"], 0, "{}: {rust}", p.backend);
            assert_eq!(rust["methods"], 0, "{}: {rust}", p.backend);
            let hits = p.json(&["query", "symbol", "Foo.bar"]);
            assert!(
                !hits.to_string().contains("lib.py"),
                "{}: {hits}",
                p.backend
            );
            // A later index keeps it so (same bytes, other language).
            p.ok(&["index", "."]);
        }
        p.verify_clean();
    }
}

#[test]
fn one_size_limit_for_the_index_and_every_command() {
    for p in Project::all() {
        let root = p.root();
        fs::write(
            root.join("codedb.toml"),
            "[limits]\nmax_file_bytes = 1000\n",
        )
        .unwrap();
        let big = format!("X = 1\n{}", "# padding\n".repeat(150));
        let file = p.content("big.py", big.as_bytes());
        for args in [
            vec!["edit", "pkg/a.py", "--content-file", &file],
            vec!["create", "big.py", "--content-file", &file],
        ] {
            let o = p.run(&args);
            assert_eq!(o.status.code(), Some(1), "{}: {args:?}", p.backend);
            let err = stderr(&o);
            assert!(
                err.contains("over the file size limit of 1000 bytes")
                    && err.contains("limits.max_file_bytes"),
                "{err}"
            );
        }
        // The index skips the same file for the same reason.
        fs::write(root.join("big_by_hand.py"), &big).unwrap();
        let summary = p.json(&["index", "."]);
        let skipped = summary["skipped"].to_string();
        assert!(
            skipped.contains("big_by_hand.py") && skipped.contains("limit of 1000 bytes"),
            "{skipped}"
        );
        // A move would index it under its new name: refused for the same reason.
        let o = p.run(&["move", "big_by_hand.py", "moved.py"]);
        assert_eq!(o.status.code(), Some(1), "{}: {}", p.backend, stderr(&o));
        assert!(
            stderr(&o).contains("limits.max_file_bytes"),
            "{}",
            stderr(&o)
        );
        assert!(root.join("big_by_hand.py").exists() && !root.join("moved.py").exists());
        p.verify_clean();
        // A bad value is a usage error naming the key.
        fs::write(root.join("codedb.toml"), "[limits]\nmax_file_bytes = 0\n").unwrap();
        let o = p.run(&["edit", "pkg/a.py", "--content-file", &file]);
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        assert!(
            stderr(&o).contains("limits.max_file_bytes"),
            "{}",
            stderr(&o)
        );
        fs::remove_file(root.join("codedb.toml")).unwrap();
        fs::remove_file(root.join("big_by_hand.py")).unwrap();
    }
}

#[test]
fn an_edit_whose_bytes_are_on_disk_brings_database_and_git_to_them() {
    for p in Project::all() {
        let root = p.root();
        let text = b"def a():\n    return 42\n";
        // Another program wrote the bytes; the database and git still have the old ones.
        fs::write(root.join("pkg/a.py"), text).unwrap();
        let file = p.content("same.py", text);
        let r = p.json(&["edit", "pkg/a.py", "--content-file", &file]);
        assert_eq!(r["unchanged"], false, "{}: {r}", p.backend);
        assert!(r["git_commit"].is_string(), "{r}");
        p.verify_clean();
        assert_eq!(
            git(&root, &["show", "HEAD:pkg/a.py"]),
            "def a():\n    return 42"
        );
        // Now all three agree: a true no-op.
        let r = p.json(&["edit", "pkg/a.py", "--content-file", &file]);
        assert_eq!(r["unchanged"], true, "{r}");
        assert!(r["git_commit"].is_null(), "{r}");
    }
}

#[test]
fn replace_symbol_keeps_the_byte_order_mark_and_the_line_endings() {
    for p in Project::all() {
        let root = p.root();
        let bom = "\u{feff}def first():\n    return 1\n\n\ndef second():\n    return 2\n";
        let crlf = "class C:\r\n    def m(self):\r\n        return 1\r\n\r\n    def n(self):\r\n        return 2\r\n";
        fs::write(root.join("bom.py"), bom).unwrap();
        fs::write(root.join("crlf.py"), crlf).unwrap();
        p.ok(&["index", "."]);
        let with = p.content("first.py", b"def first():\n    return 10\n");
        p.ok(&[
            "edit",
            "bom.py",
            "--replace-symbol",
            "first",
            "--with",
            &with,
        ]);
        assert_eq!(
            fs::read_to_string(root.join("bom.py")).unwrap(),
            "\u{feff}def first():\n    return 10\n\n\ndef second():\n    return 2\n"
        );
        let with = p.content("m.py", b"def m(self):\n    x = 1\n    return x\n");
        p.ok(&[
            "edit",
            "crlf.py",
            "--replace-symbol",
            "C.m",
            "--with",
            &with,
        ]);
        assert_eq!(
            fs::read_to_string(root.join("crlf.py")).unwrap(),
            "class C:\r\n    def m(self):\r\n        x = 1\r\n        return x\r\n\r\n    def n(self):\r\n        return 2\r\n"
        );
        p.verify_clean();
    }
}

#[test]
fn ignored_and_hidden_files_are_refused_by_every_command_and_left_out_by_the_index() {
    for p in Project::all() {
        let root = p.root();
        fs::create_dir_all(root.join("ignored")).unwrap();
        fs::write(root.join("ignored/i.py"), "i = 1\n").unwrap();
        fs::write(root.join(".hidden.py"), "h = 1\n").unwrap();
        fs::write(
            root.join(".gitignore"),
            ".codedb/\nignored/\n*.gen.py\n!keep.gen.py\n",
        )
        .unwrap();
        git(&root, &["add", ".gitignore"]);
        git(&root, &["commit", "-q", "-m", "ignore generated files"]);
        p.ok(&["index", "."]);
        let file = p.content("i.py", b"i = 2\n");
        for (args, rule) in [
            (
                vec!["edit", "ignored/i.py", "--content-file", &file],
                "ignored/",
            ),
            (
                vec!["create", "ignored/new.py", "--content-file", &file],
                "ignored/",
            ),
            (
                vec!["create", "x.gen.py", "--content-file", &file],
                "*.gen.py",
            ),
            (vec!["move", "b.py", "ignored/b.py"], "ignored/"),
            (vec!["delete", "ignored/i.py"], "ignored/"),
            (
                vec!["edit", ".hidden.py", "--content-file", &file],
                "hidden",
            ),
        ] {
            let o = p.run(&args);
            assert_eq!(o.status.code(), Some(1), "{}: {args:?}", p.backend);
            let err = stderr(&o);
            assert!(err.contains(rule), "{args:?}: {err}");
        }
        // A re-included name is seen by both.
        p.ok(&["create", "keep.gen.py", "--content-file", &file]);
        let stats = p.json(&["query", "file", "keep.gen.py"]);
        assert_eq!(stats["path"], "keep.gen.py", "{stats}");
        let summary = p.json(&["index", "."]);
        assert_eq!(summary["files_removed"], 0, "{summary}");
        assert_eq!(
            fs::read_to_string(root.join("ignored/i.py")).unwrap(),
            "i = 1\n"
        );
        let o = p.run(&["query", "file", "ignored/i.py", "--json"]);
        assert!(
            !stdout(&o).contains("\"path\":\"ignored/i.py\""),
            "{}",
            stdout(&o)
        );
        p.verify_clean();
    }
}

/// A file indexed, then ignored by a new `.gitignore` rule: `verify` reports it `ignored`
/// (exit 1), a command refuses it naming the rule, and the next `index` removes its row,
/// after which `verify` is clean again.
#[test]
fn a_file_ignored_after_indexing_is_reported_by_verify_until_the_next_index() {
    for p in Project::all() {
        let root = p.root();
        fs::write(root.join(".gitignore"), ".codedb/\nignored/\nb.py\n").unwrap();
        git(&root, &["add", ".gitignore"]);
        git(&root, &["commit", "-q", "-m", "ignore b.py"]);
        let o = p.run(&["verify", "--json"]);
        assert_eq!(o.status.code(), Some(1), "{}: {}", p.backend, stdout(&o));
        let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        let mismatches = report["mismatches"].as_array().unwrap();
        assert_eq!(mismatches.len(), 1, "{}: {report}", p.backend);
        assert_eq!(mismatches[0]["path"], "b.py", "{report}");
        assert_eq!(mismatches[0]["problem"], "ignored", "{report}");
        let file = p.content("b2.py", b"b = 2\n");
        let o = p.run(&["edit", "b.py", "--content-file", &file]);
        assert_eq!(o.status.code(), Some(1), "{}: {}", p.backend, stderr(&o));
        assert!(stderr(&o).contains("b.py"), "{}", stderr(&o));
        let summary = p.json(&["index", "."]);
        assert_eq!(summary["files_removed"], 1, "{}: {summary}", p.backend);
        p.verify_clean();
    }
}

#[test]
fn a_closed_pipe_ends_the_output_quietly() {
    let p = Project::new(None);
    let root = p.root();
    let many: String = (0..6000).map(|i| format!("x{i} = needle\n")).collect();
    fs::write(root.join("many.py"), format!("needle = 1\n{many}")).unwrap();
    p.ok(&["index", "."]);
    let mut child = p
        .command(&["query", "usages", "needle"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    // The reader goes away after one line, as `| head -1` does.
    let out = child.wait_with_output().unwrap();
    assert!(
        first.contains("many.py") || first.contains("needle"),
        "{first}"
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
}

#[test]
fn verify_reports_a_corrupt_database() {
    let p = Project::new(None);
    let root = p.root();
    let many: String = (0..3000)
        .map(|i| format!("def f{i}():\n    return {i}\n"))
        .collect();
    fs::write(root.join("many.py"), many).unwrap();
    p.ok(&["index", "."]);
    p.verify_clean();
    // Garbage over pages in the middle of the file (not the first: the schema is read).
    let db = root.join(".codedb/codedb.sqlite");
    let mut bytes = fs::read(&db).unwrap();
    let len = bytes.len();
    assert!(len > 64 * 4096, "{len}");
    for b in &mut bytes[len / 2..len / 2 + 16 * 4096] {
        *b = 0x5a;
    }
    fs::write(&db, bytes).unwrap();
    let o = p.run(&["verify", "--json"]);
    assert_eq!(o.status.code(), Some(1), "{}{}", stdout(&o), stderr(&o));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        report["mismatches"][0]["problem"], "database_corrupt",
        "{report}"
    );
}

#[test]
fn verify_runs_the_integrity_check() {
    let p = Project::new(None);
    let root = p.root();
    let many: String = (0..3000)
        .map(|i| format!("def f{i}():\n    return {i}\n"))
        .collect();
    fs::write(root.join("many.py"), many).unwrap();
    p.ok(&["index", "."]);
    // Damage only an index's pages: the tables read fine, the integrity check does not.
    let db = root.join(".codedb/codedb.sqlite");
    let pages = sqlite_index_pages(&db, "functions_name");
    assert_eq!(pages.len(), 1, "{pages:?}");
    let mut bytes = fs::read(&db).unwrap();
    let at = (pages[0] - 1) * 4096;
    bytes[at + 200..at + 4000].fill(0x5a);
    fs::write(&db, bytes).unwrap();
    let o = p.run(&["verify", "--json"]);
    assert_eq!(o.status.code(), Some(1), "{}{}", stdout(&o), stderr(&o));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        report["mismatches"][0]["problem"], "database_corrupt",
        "{report}"
    );
}

/// The root page of the index `name` in the SQLite file `db` (read with Python's sqlite3).
fn sqlite_index_pages(db: &Path, name: &str) -> Vec<usize> {
    let script = format!(
        "import sqlite3; c = sqlite3.connect({db:?}); \
         r = c.execute(\"select rootpage from sqlite_master where name = ?\", ({name:?},)).fetchone(); \
         print(r[0] if r else '')"
    );
    let out = Command::new("python3")
        .args(["-c", &script])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

#[test]
fn a_failure_after_the_commit_point_says_the_command_landed() {
    for p in Project::all() {
        let root = p.root();
        let lock = root.join(".git/refs/heads/main.lock");
        fs::write(&lock, "").unwrap();
        let file = p.content("new.py", b"def a():\n    return 7\n");
        let o = p.run(&["edit", "pkg/a.py", "--content-file", &file, "--json"]);
        assert_eq!(o.status.code(), Some(4), "{}: {}", p.backend, stderr(&o));
        let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(report["sha256"], sha256(b"def a():\n    return 7\n"));
        let err = stderr(&o);
        assert!(
            err.contains("landed") && err.contains("git commit failed") && err.contains("recover"),
            "{err}"
        );
        assert_eq!(
            fs::read_to_string(root.join("pkg/a.py")).unwrap(),
            "def a():\n    return 7\n"
        );
        fs::remove_file(&lock).unwrap();
        p.ok(&["recover"]);
        p.verify_clean();
        assert_eq!(
            git(&root, &["show", "HEAD:pkg/a.py"]),
            "def a():\n    return 7"
        );
    }
}

#[test]
fn an_edit_keeps_the_files_permissions() {
    use std::os::unix::fs::PermissionsExt;
    for p in Project::all() {
        let root = p.root();
        let path = root.join("pkg/a.py");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
        git(&root, &["add", "pkg/a.py"]);
        git(&root, &["commit", "-q", "-m", "executable"]);
        let file = p.content("x.py", b"def a():\n    return 3\n");
        p.ok(&["edit", "pkg/a.py", "--content-file", &file]);
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o755, "{}", p.backend);
        assert!(git(&root, &["ls-files", "-s", "pkg/a.py"]).starts_with("100755"));
        p.verify_clean();
    }
}

#[test]
fn the_git_tree_is_checked_before_the_branch_moves() {
    // Paths git tracks: every one of them lands in the commit.
    for p in Project::all() {
        let root = p.root();
        let file = p.content("x.py", b"x = 1\n");
        let mut created = BTreeSet::new();
        for path in [
            "sp ace/a b.py",
            "é/ü.py",
            "git~2/x.py",
            " lead.py",
            "trail .py",
            "back\\slash.py",
        ] {
            let o = p.run(&["create", path, "--content-file", &file]);
            if o.status.success() {
                created.insert(path);
            }
        }
        assert!(
            created.contains("sp ace/a b.py")
                && created.contains("é/ü.py")
                && created.contains("back\\slash.py"),
            "{created:?}"
        );
        // The index keeps a backslash as part of the name, as the file has it.
        p.ok(&["index", "."]);
        let file = p.json(&["query", "file", "back\\slash.py"]);
        assert_eq!(file["path"], "back\\slash.py", "{file}");
        let out = Command::new("git")
            .current_dir(&root)
            .args(["ls-files", "-z"])
            .output()
            .unwrap();
        let tracked = String::from_utf8(out.stdout).unwrap();
        for path in &created {
            assert!(
                tracked.split('\0').any(|l| l == *path),
                "{path:?} not in {tracked:?}"
            );
        }
        p.verify_clean();
    }
}

#[test]
fn after_exit_4_another_programs_write_does_not_turn_recover_back() {
    for p in Project::all() {
        let root = p.root();
        let lock = root.join(".git/refs/heads/main.lock");
        fs::write(&lock, "").unwrap();
        let file = p.content("new.py", b"def a():\n    return 8\n");
        let o = p.run(&["edit", "pkg/a.py", "--content-file", &file]);
        assert_eq!(o.status.code(), Some(4), "{}: {}", p.backend, stderr(&o));
        // A formatter appends before anyone runs recover.
        let mut f = fs::OpenOptions::new()
            .append(true)
            .open(root.join("pkg/a.py"))
            .unwrap();
        f.write_all(b"# formatted\n").unwrap();
        fs::remove_file(&lock).unwrap();
        let r = p.json(&["recover"]);
        assert_eq!(
            r["rolled_forward"].as_array().unwrap().len(),
            1,
            "{}: {r}",
            p.backend
        );
        assert_eq!(
            git(&root, &["show", "HEAD:pkg/a.py"]),
            "def a():\n    return 8\n# formatted"
        );
        p.verify_clean();
    }
}

#[test]
fn user_files_named_like_temp_files_are_never_swept() {
    let p = Project::new(None);
    let root = p.root();
    for name in [
        "notes.codedb-tmp-draft.md",
        "pkg/my.codedb-tmp-backup.txt",
        ".x.codedb-tmp-1",
    ] {
        fs::write(root.join(name), "mine\n").unwrap();
    }
    p.ok(&["recover"]);
    for name in [
        "notes.codedb-tmp-draft.md",
        "pkg/my.codedb-tmp-backup.txt",
        ".x.codedb-tmp-1",
    ] {
        assert_eq!(
            fs::read_to_string(root.join(name)).unwrap(),
            "mine\n",
            "{name}"
        );
    }
    let v = p.json(&["verify"]);
    assert!(!v.to_string().contains("temp_file"), "{v}");
}

#[test]
fn links_nested_repositories_and_stream_names_are_refused_before_anything_changes() {
    use std::os::unix::fs::symlink;
    let p = Project::new(None);
    let root = p.root();
    symlink("pkg", root.join("lnk")).unwrap();
    symlink(".git", root.join("gl")).unwrap();
    symlink(".", root.join("self")).unwrap();
    fs::create_dir_all(root.join("vendor/lib")).unwrap();
    git(&root.join("vendor/lib"), &["init", "-q"]);
    let file = p.content("x.py", b"x = 1\n");
    for (path, why) in [
        ("lnk/x.py", "symbolic link"),
        ("gl/y.py", "symbolic link"),
        ("self/pkg/z.py", "symbolic link"),
        ("vendor/lib/v.py", "repository of its own"),
        ("git~1:z/y.py", "NTFS"),
    ] {
        let o = p.run(&["create", path, "--content-file", &file]);
        assert_eq!(o.status.code(), Some(1), "{path}: {}", stderr(&o));
        assert!(stderr(&o).contains(why), "{path}: {}", stderr(&o));
    }
    for gone in ["pkg/x.py", ".git/y.py", "pkg/z.py", "vendor/lib/v.py"] {
        assert!(!root.join(gone).exists(), "{gone}");
    }
    let o = p.run(&["delete", "lnk/a.py"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(root.join("pkg/a.py").exists());
    // Nothing is left that would stop the next command.
    p.ok(&["edit", "b.py", "--content-file", &file]);
    p.ok(&["recover"]);
}

#[test]
fn flags_of_the_users_index_and_git_variables_of_the_caller_do_not_mislead_the_commit() {
    let p = Project::new(None);
    let root = p.root();
    git(&root, &["update-index", "--assume-unchanged", "pkg/a.py"]);
    git(&root, &["update-index", "--skip-worktree", "b.py"]);
    let a = p.content("a.py", b"def a():\n    return 9\n");
    let b = p.content("b.py", b"class B:\n    pass\n");
    p.ok(&["edit", "pkg/a.py", "--content-file", &a]);
    p.ok(&["edit", "b.py", "--content-file", &b]);
    // The user's next commit commits nothing of codedb's files: the index has them.
    assert_eq!(git(&root, &["diff", "--cached", "--name-only"]), "");
    assert_eq!(git(&root, &["show", ":pkg/a.py"]), "def a():\n    return 9");
    assert_eq!(git(&root, &["show", ":b.py"]), "class B:\n    pass");
    // Run from inside a git hook, with GIT_DIR and GIT_INDEX_FILE pointing elsewhere.
    let other = tempfile::tempdir().unwrap();
    git(other.path(), &["init", "-q", "-b", "main"]);
    let c = p.content("c.py", b"def a():\n    return 10\n");
    let o = p
        .command(&["edit", "pkg/a.py", "--content-file", &c])
        .env("GIT_DIR", other.path().join(".git"))
        .env("GIT_INDEX_FILE", other.path().join("index"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        git(&root, &["show", "HEAD:pkg/a.py"]),
        "def a():\n    return 10"
    );
    let out = Command::new("git")
        .current_dir(other.path())
        .args(["rev-parse", "--verify", "-q", "HEAD"])
        .output()
        .unwrap();
    assert!(!out.status.success(), "the other repository got a commit");
    p.verify_clean();
}

#[test]
fn verify_sees_files_the_database_misses_and_names_them_whole() {
    let p = Project::new(None);
    let root = p.root();
    fs::write(root.join("pkg/new.py"), "n = 1\n").unwrap();
    let v = p.json(&["verify"]);
    assert_eq!(v["mismatches"][0]["problem"], "not_indexed", "{v}");
    assert_eq!(v["mismatches"][0]["path"], "pkg/new.py", "{v}");
    p.ok(&["index", "."]);
    git(&root, &["add", "pkg/new.py"]);
    git(&root, &["commit", "-q", "-m", "new"]);
    p.verify_clean();
    // A file codedb changed, then changed again by another program and indexed: reported
    // by its whole path (git's status letters start with a space).
    let file = p.content("a.py", b"def a():\n    return 11\n");
    p.ok(&["edit", "pkg/a.py", "--content-file", &file]);
    fs::write(root.join("pkg/a.py"), "def a():\n    return 12\n").unwrap();
    p.ok(&["index", "."]);
    let v = p.json(&["verify"]);
    assert_eq!(v["mismatches"][0]["problem"], "uncommitted", "{v}");
    assert_eq!(v["mismatches"][0]["path"], "pkg/a.py", "{v}");
    // A row of a file now over the size limit.
    git(&root, &["commit", "-q", "-am", "12"]);
    fs::write(root.join("codedb.toml"), "[limits]\nmax_file_bytes = 10\n").unwrap();
    let v = p.json(&["verify"]);
    assert!(v.to_string().contains("not_indexable"), "{v}");
}

#[test]
fn the_command_line_says_what_is_true() {
    let p = Project::new(None);
    let root = p.root();
    let file = p.content("x.py", b"def a():\n    return 13\n");
    // A report that cannot be written does not pretend nothing changed.
    let o = p
        .command(&["edit", "pkg/a.py", "--content-file", &file, "--json"])
        .stdout(fs::File::create("/dev/full").unwrap())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("landed"), "{}", stderr(&o));
    assert!(
        !stderr(&o).contains('\u{1b}'),
        "no colour codes when stderr is not a terminal"
    );
    // A database that is not there is not created empty and then agreed with.
    let missing = root.join("nowhere/x.sqlite");
    let o = Command::new(env!("CARGO_BIN_EXE_codedb"))
        .current_dir(&root)
        .args(["verify", "--db", missing.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("no database"), "{}", stderr(&o));
    assert!(!missing.exists() && !root.join("nowhere").exists());
    // A malformed --expect-sha256 is a usage error.
    let o = p.run(&[
        "edit",
        "b.py",
        "--content-file",
        &file,
        "--expect-sha256",
        "xyz",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    // Content that does not end is read only up to the limit.
    fs::write(
        root.join("codedb.toml"),
        "[limits]\nmax_file_bytes = 100000\n",
    )
    .unwrap();
    let o = p.run(&["edit", "b.py", "--content-file", "/dev/zero"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("over the file size limit"),
        "{}",
        stderr(&o)
    );
}

/// git's `--index-info` records end at a newline and unquote a name that starts with `"`:
/// a file named `evil\n100644 <blob>\tb.py` read that way plants the blob as `b.py`, and
/// deleting `"b.py".py` removes `b.py`. Each command commits exactly its own paths.
#[test]
fn names_holding_a_newline_or_starting_with_a_quote_commit_only_themselves() {
    for p in Project::all() {
        let root = p.root();
        let planted = p.content("planted.py", b"import os\nos.system('echo pwned')\n");
        let blob = git(&root, &["hash-object", "-w", &planted]);
        let evil = format!("evil\n100644 {blob}\tb.py");
        let quoted = "\"b.py\".py";
        fs::write(root.join(&evil), "x = 1\n").unwrap();
        fs::write(root.join(quoted), "q = 1\n").unwrap();
        git(&root, &["add", "-A"]);
        git(&root, &["commit", "-q", "-m", "odd names"]);
        p.ok(&["index", "."]);
        let b = git(&root, &["show", "HEAD:b.py"]);

        p.ok(&["delete", &evil]);
        p.ok(&["move", quoted, "moved.py"]);
        p.ok(&[
            "edit",
            "moved.py",
            "--content-file",
            &p.content("m.py", b"q = 2\n"),
        ]);

        assert_eq!(git(&root, &["show", "HEAD:b.py"]), b, "{}", p.backend);
        let tree: BTreeSet<String> = git(&root, &["ls-tree", "-r", "-z", "--name-only", "HEAD"])
            .split('\0')
            .filter(|n| !n.is_empty())
            .map(str::to_owned)
            .collect();
        let expected: BTreeSet<String> =
            [".gitignore", "b.py", "moved.py", "pkg/a.py", "src/lib.rs"]
                .into_iter()
                .map(str::to_owned)
                .collect();
        assert_eq!(tree, expected, "{}", p.backend);
        assert_eq!(git(&root, &["status", "--porcelain"]), "", "{}", p.backend);
        p.verify_clean();
    }
}

/// `git commit` holds the branch's ref lock for a moment: an edit whose commit meets it
/// waits it out instead of landing without a commit.
#[test]
fn a_ref_lock_another_git_holds_for_a_moment_is_waited_out() {
    for p in Project::all() {
        let root = p.root();
        let lock = root.join(".git/refs/heads/main.lock");
        fs::write(&lock, "").unwrap();
        let release = {
            let lock = lock.clone();
            std::thread::spawn(move || {
                std::thread::sleep(std::time::Duration::from_millis(600));
                fs::remove_file(&lock).unwrap();
            })
        };
        let file = p.content("new.py", b"def a():\n    return 8\n");
        let o = p.run(&["edit", "pkg/a.py", "--content-file", &file]);
        release.join().unwrap();
        assert!(o.status.success(), "{}: {}", p.backend, stderr(&o));
        assert_eq!(
            git(&root, &["show", "HEAD:pkg/a.py"]),
            "def a():\n    return 8"
        );
        assert_eq!(
            git(&root, &["log", "-1", "--format=%s"]),
            "codedb: edit pkg/a.py"
        );
        p.verify_clean();
    }
}

/// What a command killed in the middle of git leaves in the git directory (the shared
/// private index's `index.lock`, a throw-away index of a process that is gone, the user's
/// `index.lock` it took) never blocks the next command, and is removed.
#[test]
fn index_files_a_killed_command_left_in_the_git_directory_are_cleaned_up() {
    for p in Project::all() {
        let git_dir = p.root().join(".git");
        // A first edit makes the shared index.
        p.ok(&[
            "edit",
            "b.py",
            "--content-file",
            &p.content("b1.py", b"b = 1\n"),
        ]);
        assert!(git_dir.join("codedb-index").exists());
        let left = [
            "codedb-index.lock",
            "codedb-index-999999999-0",
            "codedb-index-999999999-0.lock",
        ];
        for name in left {
            fs::write(git_dir.join(name), "").unwrap();
        }
        // The user's index lock, as a killed codedb left it (its process is gone).
        fs::write(git_dir.join("index.lock"), "codedb 999999999\n").unwrap();
        p.ok(&[
            "edit",
            "b.py",
            "--content-file",
            &p.content("b2.py", b"b = 2\n"),
        ]);
        assert_eq!(git(&p.root(), &["show", "HEAD:b.py"]), "b = 2");
        for name in left.iter().chain(&["index.lock"]) {
            assert!(!git_dir.join(name).exists(), "{}: {name} stayed", p.backend);
        }
        assert_eq!(
            git(&p.root(), &["status", "--porcelain"]),
            "",
            "{}",
            p.backend
        );
        p.verify_clean();
    }
}

/// The user's index entries of an edited path are set only once the branch holds the
/// edit's commit: a `git commit` of the user's that lands in between would otherwise take
/// the edit into the user's commit, and the edit's own commit would change nothing.
#[test]
fn a_users_commits_during_edits_never_take_an_edits_change() {
    let p = Project::new(None);
    let root = p.root();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let user = {
        let (root, stop) = (root.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut k = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                k += 1;
                fs::write(root.join("u.py"), format!("u = {k}\n")).unwrap();
                // Either may meet a lock of the other's: the user sees git's refusal.
                let _ = Command::new("git")
                    .current_dir(&root)
                    .args(["add", "u.py"])
                    .output();
                let _ = Command::new("git")
                    .current_dir(&root)
                    .args(["commit", "-q", "-m", &format!("user {k}")])
                    .output();
            }
        })
    };
    for k in 0..12 {
        let file = p.content("a.py", format!("def a():\n    return {k}\n").as_bytes());
        let o = p.run(&["edit", "pkg/a.py", "--content-file", &file]);
        assert!(o.status.success(), "edit {k}: {}", stderr(&o));
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    user.join().unwrap();
    let log = git(&root, &["log", "--format=%H %s"]);
    let (mut edits, mut users) = (0, 0);
    for line in log.lines() {
        let (commit, subject) = line.split_once(' ').unwrap();
        if subject == "init" {
            continue;
        }
        let changed = git(
            &root,
            &["diff", "--name-only", &format!("{commit}^"), commit],
        );
        if subject.starts_with("codedb:") {
            edits += 1;
            assert_eq!(changed, "pkg/a.py", "{subject}");
        } else {
            users += 1;
            assert!(
                changed.is_empty() || changed == "u.py",
                "{subject}: {changed}"
            );
        }
    }
    assert_eq!(edits, 12);
    // The race was run: the user's commits landed between the edits.
    assert!(users > 0, "no commit of the user's landed");
}
