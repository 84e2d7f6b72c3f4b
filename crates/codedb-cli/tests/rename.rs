//! `codedb rename` through the binary and the MCP `rename` tool, on every backend this
//! machine has: the report (`--json`, text), the dry run's diff, exit codes of refusals (2
//! for the caller's mistakes, 3 for a conflict), and `kill -9` at random moments of a rename
//! over six files followed by `recover` and `verify`: every file has the old name or every
//! file has the new one.
#![allow(clippy::unwrap_used, clippy::print_stdout)]

mod support;

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{Rng, commit_all_new, databases, git, json_on, run_on, stderr, stdout};

const LIB: &str = "def total(xs):\n    return sum(xs)\n\n\nclass Cart:\n    def add(self, x):\n        return total([x])\n";
const APP: &str = "from lib import total, Cart\n\n\ndef main():\n    # total of the cart\n    print(total([1, 2]), 'total')\n    Cart().add(3)\n";

/// A git project with `lib.py` and `app.py` (and `files`), not yet indexed.
fn project(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    fs::write(root.join("lib.py"), LIB).unwrap();
    fs::write(root.join("app.py"), APP).unwrap();
    for (path, text) in files {
        fs::write(root.join(path), text).unwrap();
    }
    commit_all_new(root);
    dir
}

fn fails(root: &Path, db: &str, args: &[&str], code: i32, needle: &str) {
    let before = (
        fs::read(root.join("lib.py")).unwrap(),
        fs::read(root.join("app.py")).unwrap(),
        git(root, &["rev-parse", "HEAD"]),
    );
    support::fails_on(root, db, args, code, needle);
    let after = (
        fs::read(root.join("lib.py")).unwrap(),
        fs::read(root.join("app.py")).unwrap(),
        git(root, &["rev-parse", "HEAD"]),
    );
    assert!(before == after, "codedb {args:?} changed something");
}

#[test]
fn rename_on_the_command_line() {
    let dir = project(&[]);
    let root = dir.path();
    for (backend, db, _pg) in databases(root) {
        json_on(root, &db, &["index", "."]);
        // The dry run: the diff of both files, nothing changed.
        let o = run_on(root, &db, &["rename", "total", "grand_total", "--dry-run"]);
        assert!(o.status.success(), "{backend}: {}", stderr(&o));
        let text = stdout(&o);
        assert!(
            text.contains("--- a/app.py\n+++ b/app.py\n@@ -1,7 +1,7 @@\n-from lib import total, Cart\n+from lib import grand_total, Cart\n"),
            "{backend}: {text}"
        );
        assert!(
            text.contains("dry run: rename lib.py:total -> grand_total"),
            "{text}"
        );
        assert_eq!(fs::read_to_string(root.join("lib.py")).unwrap(), LIB);
        // Refusals, nothing changed: exit 2 for a name that is no identifier or no
        // definition (as `query refs`), 1 for one refused by the code as it stands.
        fails(root, &db, &["rename", "total", "class"], 2, "keyword");
        fails(root, &db, &["rename", "total", "9lives"], 2, "identifier");
        fails(root, &db, &["rename", "total", "total"], 1, "the old one");
        fails(root, &db, &["rename", "total", "Cart"], 1, "same scope");
        fails(
            root,
            &db,
            &["rename", "total", "print"],
            1,
            "app.py:6:5 already uses the name print",
        );
        fails(root, &db, &["rename", "nothing", "x"], 2, "nothing");
        // The rename itself.
        let r = json_on(
            root,
            &db,
            &["rename", "total", "grand_total", "-m", "rename total"],
        );
        assert_eq!(r["kind"], "rename", "{r}");
        assert_eq!(r["paths"], json!(["app.py", "lib.py"]), "{r}");
        assert_eq!(r["rename"]["references_changed"], 3, "{r}");
        assert_eq!(r["rename"]["definitions_changed"], 1, "{r}");
        assert!(r["git_commit"].is_string() && r["command_id"].is_string());
        assert_eq!(r["backups"].as_array().unwrap().len(), 2);
        assert_eq!(
            fs::read_to_string(root.join("app.py")).unwrap(),
            APP.replace("import total", "import grand_total")
                .replace("print(total(", "print(grand_total(")
        );
        assert_eq!(git(root, &["log", "-1", "--format=%s"]), "rename total");
        assert_eq!(git(root, &["status", "--porcelain"]), "");
        let refs = json_on(root, &db, &["query", "refs", "lib.py:grand_total"]);
        assert_eq!(refs["total"], 3, "{backend}: {refs}");
        let o = run_on(root, &db, &["verify"]);
        assert!(o.status.success(), "{backend}: {}", stdout(&o));
        // The text report.
        let o = run_on(root, &db, &["rename", "grand_total", "total"]);
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(
            stdout(&o).contains("rename lib.py:grand_total -> total: 1 definition(s), 3 reference(s) (0 by name) in 2 file(s)"),
            "{}",
            stdout(&o)
        );
        // The index behind the disk: a conflict, exit 3.
        fs::write(root.join("app.py"), format!("{APP}\n")).unwrap();
        fails(root, &db, &["rename", "total", "sum_of"], 3, "codedb index");
        fs::write(root.join("app.py"), APP).unwrap();
        // Reset for the next backend.
        fs::remove_dir_all(root.join(".codedb")).unwrap();
    }
}

#[test]
fn rename_over_mcp() {
    let dir = project(&[]);
    // The PostgreSQL test database is made and dropped outside the runtime (its client
    // blocks).
    for (backend, db, _pg) in databases(dir.path()) {
        support::block_on(mcp_on(dir.path(), backend, db));
    }
}

async fn mcp_on(root: &Path, backend: &str, db: String) {
    let root = root.to_owned();
    {
        let client = support::serve_mcp(&root, &db).await;
        let call = |name: &'static str, a: Value| support::call_tool(&client, name, a);
        call("index", json!({})).await.unwrap();
        let r = call(
            "rename",
            json!({"qualname": "Cart.add", "new_name": "put", "dry_run": true}),
        )
        .await
        .unwrap();
        let diff = r["rename"]["diff"].as_str().unwrap();
        assert!(
            diff.contains("-    Cart().add(3)\n+    Cart().put(3)\n"),
            "{backend}: {r}"
        );
        assert_eq!(fs::read_to_string(root.join("app.py")).unwrap(), APP);
        let e = call("rename", json!({"qualname": "Cart.add", "new_name": "def"}))
            .await
            .unwrap_err();
        assert!(e.to_string().contains("keyword"), "{e}");
        let r = call(
            "rename",
            json!({"qualname": "lib.py:Cart.add", "new_name": "put"}),
        )
        .await
        .unwrap();
        assert_eq!(r["kind"], "rename", "{r}");
        assert_eq!(r["rename"]["qualified_name"], "Cart.put", "{r}");
        assert!(r["git_commit"].is_string(), "{r}");
        assert!(
            fs::read_to_string(root.join("lib.py"))
                .unwrap()
                .contains("def put(self, x):")
        );
        assert!(
            fs::read_to_string(root.join("app.py"))
                .unwrap()
                .contains("Cart().put(3)")
        );
        let v = call("verify", json!({})).await.unwrap();
        assert_eq!(v["mismatches"], json!([]), "{backend}: {v}");
        call("rename", json!({"qualname": "Cart.put", "new_name": "add"}))
            .await
            .unwrap();
        client.cancel().await.unwrap();
        fs::remove_dir_all(root.join(".codedb")).unwrap();
    }
}

#[test]
fn kill_9_during_renames_leaves_all_files_renamed_or_none() {
    let callers: Vec<(String, String)> = (1..6)
        .map(|i| {
            (
                format!("m{i}.py"),
                format!("from m0 import f0\n\n\ndef g{i}():\n    return f0() + {i}\n"),
            )
        })
        .collect();
    let mut files: Vec<(&str, &str)> = callers
        .iter()
        .map(|(p, t)| (p.as_str(), t.as_str()))
        .collect();
    files.push(("m0.py", "def f0():\n    return 0\n"));
    let dir = project(&files);
    let root = dir.path();
    let db = root.join(".codedb/codedb.sqlite");
    let db = db.to_str().unwrap();
    json_on(root, db, &["index", "."]);
    let names = ["f0", "renamed_f0"];
    // How long an uncontended rename takes, to spread the kills over all of it.
    let start = Instant::now();
    json_on(root, db, &["rename", "f0", "renamed_f0"]);
    json_on(root, db, &["rename", "renamed_f0", "f0"]);
    let span = (start.elapsed().as_micros() / 2).max(1000) as u64;
    let (mut rng, seed) = Rng::from_clock();
    println!("seed {seed}, a rename takes {span} us");
    let mut current = 0;
    let (mut landed, mut undone) = (0, 0);
    for i in 0..40 {
        let (from, to) = (names[current], names[1 - current]);
        let delay = Duration::from_micros(rng.next() % (span + span / 4));
        support::kill_9_after(root, &["rename", from, to, "--db", db], delay);
        let o = run_on(root, db, &["recover"]);
        assert!(
            o.status.success(),
            "iteration {i} (seed {seed}): recover: {}",
            stderr(&o)
        );
        let o = run_on(root, db, &["verify", "--json"]);
        assert!(
            o.status.success(),
            "iteration {i} (seed {seed}): {}",
            stdout(&o)
        );
        // All or none: every file has the one name.
        let defined = fs::read_to_string(root.join("m0.py")).unwrap();
        let now = if defined.contains(&format!("def {to}(")) {
            1 - current
        } else {
            current
        };
        let name = names[now];
        for k in 1..6 {
            let text = fs::read_to_string(root.join(format!("m{k}.py"))).unwrap();
            assert!(
                text.contains(&format!("import {name}\n"))
                    && text.contains(&format!("return {name}()")),
                "iteration {i} (seed {seed}): m{k}.py has not {name}: {text}"
            );
        }
        if now == current {
            undone += 1;
        } else {
            landed += 1;
            current = now;
        }
        assert_eq!(git(root, &["status", "--porcelain"]), "", "iteration {i}");
        let refs = json_on(root, db, &["query", "refs", &format!("m0.py:{name}")]);
        assert_eq!(refs["total"], 10, "iteration {i}: {refs}");
    }
    println!("40 kills: {landed} renames landed, {undone} rolled back");
}
