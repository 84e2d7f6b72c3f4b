//! `rename` through the library API on a temporary git project, on every backend (SQLite;
//! PostgreSQL when a server answers): the definition and its references across files in one
//! command and one commit, the index following; the dry run's diff; and every refusal
//! (name-only references, collisions, bad or keyword names, an ambiguous or unknown
//! definition, an index behind the disk), each leaving files, database and git as they were.
#![allow(clippy::unwrap_used, clippy::print_stdout)]

#[path = "support/project.rs"]
mod support;

use codedb_commands::{CommandError, ErrorKind, RenameOptions, rename, verify};
use codedb_core::store::RefFilter;
use codedb_core::{ReferenceGraph, Scope};
use support::{TestProject, git};

const USE1: &str = "from a import helper\n\n\ndef go():\n    # helper is called here\n    return helper(1), \"helper\"\n";
const USE2: &str = "import a\n\nprint(a.helper(2))\n";
const USE3: &str = "from a import helper as h\n\nh(3)\n";

/// Adds `files`, commits them and indexes.
fn add(t: &TestProject, files: &[(&str, &str)]) {
    for (path, text) in files {
        let abs = t.root().join(path);
        std::fs::create_dir_all(abs.parent().unwrap()).unwrap();
        std::fs::write(abs, text).unwrap();
    }
    git(&t.root(), &["add", "-A"]);
    git(&t.root(), &["commit", "-q", "-m", "more"]);
    codedb_commands::index(&t.db, &t.root(), &Default::default()).unwrap();
}

fn uses(t: &TestProject) {
    add(
        t,
        &[("use1.py", USE1), ("use2.py", USE2), ("use3.py", USE3)],
    );
}

fn opts() -> RenameOptions {
    RenameOptions::default()
}

/// `path:line:column` of every reference to `qualname`.
fn sites(t: &TestProject, qualname: &str) -> Vec<String> {
    let def = t.db.definition(Scope::All, qualname).unwrap();
    t.db.references_to(&def, &RefFilter::default())
        .unwrap()
        .iter()
        .map(|h| format!("{}:{}:{} {}", h.path, h.line, h.column, h.confidence))
        .collect()
}

#[test]
fn renames_the_definition_and_every_reference_in_one_commit() {
    TestProject::each(|t| {
        uses(&t);
        let p = t.project();
        let before_refs = sites(&t, "a.py:helper");
        let head = git(&t.root(), &["rev-parse", "HEAD"]);
        let r = rename(&p, "helper", "assist", &opts()).unwrap();
        let s = r.rename.clone().unwrap();
        assert_eq!(s.definition, "a.py:helper");
        assert_eq!(s.qualified_name, "assist");
        assert_eq!(s.definitions_changed, 1);
        assert_eq!(r.paths, ["a.py", "use1.py", "use2.py", "use3.py"], "{r:?}");
        assert_eq!(
            t.read("a.py").unwrap(),
            support::A_PY.replace("def helper", "def assist")
        );
        // The comment and the string keep the old name; the alias stays.
        assert_eq!(
            t.read("use1.py").unwrap(),
            "from a import assist\n\n\ndef go():\n    # helper is called here\n    return assist(1), \"helper\"\n"
        );
        assert_eq!(
            t.read("use2.py").unwrap(),
            "import a\n\nprint(a.assist(2))\n"
        );
        assert_eq!(
            t.read("use3.py").unwrap(),
            "from a import assist as h\n\nh(3)\n"
        );
        assert_eq!(s.references_changed + s.references_kept, before_refs.len());
        // One commit with exactly those files, on top of the old head; tree clean.
        assert_eq!(git(&t.root(), &["rev-parse", "HEAD~1"]), head);
        assert_eq!(
            git(&t.root(), &["show", "--name-only", "--format=", "HEAD"]),
            "a.py\nuse1.py\nuse2.py\nuse3.py"
        );
        assert_eq!(
            git(&t.root(), &["log", "-1", "--format=%s"]),
            "codedb: rename a.py:helper -> assist"
        );
        assert_eq!(git(&t.root(), &["status", "--porcelain"]), "");
        assert_eq!(r.backups.len(), 4);
        // The index follows: the same sites now refer to the new name.
        let after = sites(&t, "a.py:assist");
        assert_eq!(
            after.len(),
            before_refs.len(),
            "{after:?} vs {before_refs:?}"
        );
        assert!(t.db.definition(Scope::All, "a.py:helper").is_err());
        assert!(verify(&p).unwrap().is_clean());
        // And back: the tree is as it was.
        rename(&p, "a.py:assist", "helper", &opts()).unwrap();
        assert_eq!(t.read("use1.py").unwrap(), USE1);
        assert_eq!(t.read("use3.py").unwrap(), USE3);
        assert_eq!(sites(&t, "a.py:helper"), before_refs);
    });
}

#[test]
fn a_dry_run_shows_the_diff_and_changes_nothing() {
    TestProject::each(|t| {
        uses(&t);
        let p = t.project();
        let before = t.snapshot();
        let r = rename(
            &p,
            "helper",
            "assist",
            &RenameOptions {
                dry_run: true,
                ..opts()
            },
        )
        .unwrap();
        assert_eq!(t.snapshot(), before);
        assert!(r.command_id.is_none() && r.git_commit.is_none());
        let diff = r.rename.unwrap().diff.unwrap();
        assert!(
            diff.contains(
                "--- a/use2.py\n+++ b/use2.py\n@@ -1,3 +1,3 @@\n import a\n \n-print(a.helper(2))\n+print(a.assist(2))\n"
            ),
            "{diff}"
        );
        assert!(
            diff.contains("-def helper(x):\n+def assist(x):\n"),
            "{diff}"
        );
        assert!(!diff.contains("# assist"), "{diff}");
    });
}

/// Runs a rename that must be refused with `kind`, its message holding `needle`, and
/// checks nothing changed.
fn refused(
    t: &TestProject,
    qualname: &str,
    new: &str,
    o: &RenameOptions,
    kind: ErrorKind,
    needle: &str,
) {
    let before = t.snapshot();
    let e = rename(&t.project(), qualname, new, o).unwrap_err();
    assert_eq!(e.kind(), kind, "{qualname} -> {new}: {e}");
    assert!(e.to_string().contains(needle), "{qualname} -> {new}: {e}");
    assert_eq!(t.snapshot(), before, "{qualname} -> {new}: {e}");
}

#[test]
fn refusals_change_nothing() {
    TestProject::each(|t| {
        uses(&t);
        let user = ErrorKind::User;
        // Not identifiers, keywords, the same name.
        for bad in ["1x", "a-b", "", "a b", "x.y", "class", "None", "def"] {
            refused(&t, "helper", bad, &opts(), user, "new_name");
        }
        refused(
            &t,
            "helper",
            "helper",
            &opts(),
            user,
            "the new name is the old one",
        );
        // A sibling of the new name, a name bound where a bare reference changes.
        refused(&t, "helper", "Parser", &opts(), user, "same scope");
        refused(&t, "Parser.parse", "close", &opts(), user, "same scope");
        refused(
            &t,
            "helper",
            "x",
            &opts(),
            user,
            "a.py:9:12 already uses the name x",
        );
        refused(&t, "helper", "go", &opts(), user, "use1.py");
        // Unknown and ambiguous definitions.
        refused(&t, "nope", "other", &opts(), user, "nope");
        add(&t, &[("pkg/d.py", "def helper():\n    return 0\n")]);
        refused(&t, "helper", "assist", &opts(), user, "pkg/d.py:helper");
        // The index behind the disk: a conflict.
        std::fs::write(
            t.root().join("use2.py"),
            "import a\n\n\nprint(a.helper(2))\n",
        )
        .unwrap();
        refused(
            &t,
            "a.py:helper",
            "assist",
            &opts(),
            ErrorKind::Conflict,
            "codedb index",
        );
        // Indexed but not committed: the rename's commit would take the user's work along.
        codedb_commands::index(&t.db, &t.root(), &Default::default()).unwrap();
        refused(
            &t,
            "a.py:helper",
            "assist",
            &opts(),
            user,
            "use2.py has uncommitted changes",
        );
        let dry = RenameOptions {
            dry_run: true,
            ..opts()
        };
        let r = rename(&t.project(), "a.py:helper", "assist", &dry).unwrap();
        assert!(
            r.rename
                .unwrap()
                .diff
                .unwrap()
                .contains("+print(a.assist(2))")
        );
    });
}

#[test]
fn name_only_references_refuse_unless_included() {
    TestProject::each(|t| {
        add(
            &t,
            &[(
                "use4.py",
                "def shut_all(things):\n    for t in things:\n        t.close()\n",
            )],
        );
        let found = sites(&t, "a.py:Parser.close");
        assert!(
            found
                .iter()
                .any(|s| s.ends_with(" name") || s.ends_with(" ambiguous")),
            "{found:?}"
        );
        refused(
            &t,
            "Parser.close",
            "shut",
            &opts(),
            ErrorKind::User,
            "--include-name-matches",
        );
        let p = t.project();
        let r = rename(
            &p,
            "Parser.close",
            "shut",
            &RenameOptions {
                include_name_matches: true,
                ..opts()
            },
        )
        .unwrap();
        assert_eq!(r.rename.as_ref().unwrap().name_matches_changed, 1, "{r:?}");
        assert_eq!(
            t.read("use4.py").unwrap(),
            "def shut_all(things):\n    for t in things:\n        t.shut()\n"
        );
        assert!(t.read("a.py").unwrap().contains("    def shut(self):\n"));
        assert!(verify(&p).unwrap().is_clean());
    });
}

#[test]
fn a_rename_within_one_file_is_a_one_file_command() {
    TestProject::each(|t| {
        let p = t.project();
        let r = rename(&p, "Parser.parse", "parse_text", &opts()).unwrap();
        assert_eq!(r.paths, ["a.py"]);
        assert!(
            t.read("a.py")
                .unwrap()
                .contains("def parse_text(self, text):")
        );
        assert!(verify(&p).unwrap().is_clean());
        let e = rename(&p, "Parser.parse", "again", &opts()).unwrap_err();
        assert!(matches!(e, CommandError::Database(_)), "{e}");
    });
}

#[path = "support/corpus.rs"]
mod corpus;

/// Copies the tree `from` into `to`.
fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}

/// A real package nobody here wrote: click 8.1.7's `echo`, used across its modules
/// (imported by six of them, re-exported by `click/__init__.py` as `echo as echo`, whose
/// alias is a reference too: `click.echo_out` after). The rename changes
/// exactly the places `refs` lists (and the definition), every file still parses, and
/// Python imports the renamed symbol from the renamed tree.
#[test]
fn renaming_click_echo_changes_exactly_its_references_and_click_still_imports() {
    if std::process::Command::new("python3")
        .arg("--version")
        .output()
        .is_err()
    {
        println!("SKIP: python3 is not installed");
        return;
    }
    let corpus = corpus::corpus("click", "8.1.7");
    let t = TestProject::new();
    let root = t.root();
    std::fs::create_dir_all(root.join("click")).unwrap();
    copy_dir(&corpus.join("click"), &root.join("click"));
    git(&root, &["add", "-A"]);
    git(&root, &["commit", "-q", "-m", "click"]);
    codedb_commands::index(&t.db, &root, &Default::default()).unwrap();
    let p = t.project();

    let def = t.db.definition(Scope::All, "click/utils.py:echo").unwrap();
    let hits = t.db.references_to(&def, &RefFilter::default()).unwrap();
    assert!(hits.len() >= 30, "{} references", hits.len());
    // What the rename must produce: the old name replaced at each listed place (where it
    // is written there) and at the definition, nothing else.
    let mut expected: std::collections::BTreeMap<String, String> = Default::default();
    let mut places: std::collections::BTreeMap<String, Vec<(u32, u32)>> = Default::default();
    for h in &hits {
        places
            .entry(h.path.clone())
            .or_default()
            .push((h.line, h.column));
    }
    let utils = std::fs::read_to_string(root.join("click/utils.py")).unwrap();
    let def_line = utils
        .lines()
        .position(|l| l.starts_with("def echo("))
        .unwrap();
    places
        .entry("click/utils.py".into())
        .or_default()
        .push((u32::try_from(def_line + 1).unwrap(), 5));
    for (path, mut at) in places {
        let text = std::fs::read_to_string(root.join(&path)).unwrap();
        let mut lines: Vec<String> = text.split_inclusive('\n').map(str::to_owned).collect();
        at.sort_unstable();
        at.dedup();
        for (line, column) in at.into_iter().rev() {
            let l = &mut lines[line as usize - 1];
            let c = column as usize - 1;
            if l[c..].starts_with("echo")
                && !l[c + 4..].starts_with(|ch: char| ch == '_' || ch.is_alphanumeric())
            {
                l.replace_range(c..c + 4, "echo_out");
            }
        }
        expected.insert(path, lines.concat());
    }
    let r = rename(
        &p,
        "click/utils.py:echo",
        "echo_out",
        &RenameOptions {
            include_name_matches: true,
            ..opts()
        },
    )
    .unwrap();
    let summary = r.rename.unwrap();
    println!(
        "click echo -> echo_out: {} references in {} files, {} kept",
        summary.references_changed,
        summary.files.len(),
        summary.references_kept
    );
    assert!(summary.references_changed >= 30, "{summary:?}");
    for (path, text) in &expected {
        let now = std::fs::read_to_string(root.join(path)).unwrap();
        assert!(now == *text, "{path}: not exactly the listed references");
    }
    // No other file changed, and git holds one commit of exactly those files.
    let changed = git(&root, &["show", "--name-only", "--format=", "HEAD"]);
    let changed: Vec<&str> = changed.lines().collect();
    let listed: Vec<&str> = expected
        .iter()
        .filter(|(p, text)| std::fs::read_to_string(corpus.join(p)).unwrap() != **text)
        .map(|(p, _)| p.as_str())
        .collect();
    assert_eq!(changed, listed);
    assert_eq!(git(&root, &["status", "--porcelain"]), "");
    assert!(verify(&p).unwrap().is_clean());
    // Every file parses (Python's own compiler), and the renamed symbol imports.
    let out = std::process::Command::new("python3")
        .current_dir(&root)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .args([
            "-c",
            "import ast, pathlib\n\
             for p in pathlib.Path('click').rglob('*.py'): ast.parse(p.read_text(), str(p))\n\
             import click\n\
             from click.utils import echo_out\n\
             from click.termui import secho\n\
             assert click.echo_out is echo_out\n\
             print('ok')",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "python3: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// What a hostile pass tried, each now a case: text before a reference on its line that is
/// not ASCII, CRLF line endings, a name twice on one line, references inside f-strings, a
/// class renamed with its subclass header and `isinstance`, a property's getter and setter
/// (one qualified name, two definitions), a soft keyword as the new name, a name in
/// `__all__`, a method overridden in a subclass, and a Rust function.
#[test]
fn what_a_hostile_pass_tried() {
    TestProject::each(|t| {
        add(
            &t,
            &[
                (
                    "h1.py",
                    "from a import helper\r\n\r\nx = \"é→\"; y = helper(helper(1))\r\nz = f\"{helper(2)}\"\r\n",
                ),
                (
                    "shapes.py",
                    "class Shape:\n    @property\n    def size(self):\n        return self._s\n\n    @size.setter\n    def size(self, v):\n        self._s = v\n\n    def area(self):\n        return 0\n\n\nclass Square(Shape):\n    def area(self):\n        return self.size ** 2\n\n\ndef is_shape(o):\n    return isinstance(o, Shape)\n",
                ),
                (
                    "exported.py",
                    "__all__ = [\"public\"]\n\n\ndef public():\n    return 1\n",
                ),
                (
                    "lib.rs",
                    "pub fn parse_all(s: &str) -> usize {\n    s.len()\n}\n\npub fn twice(s: &str) -> usize {\n    parse_all(s) + parse_all(s)\n}\n",
                ),
            ],
        );
        let p = t.project();
        rename(&p, "a.py:helper", "aide", &opts()).unwrap();
        assert_eq!(
            t.read("h1.py").unwrap(),
            "from a import aide\r\n\r\nx = \"é→\"; y = aide(aide(1))\r\nz = f\"{aide(2)}\"\r\n"
        );
        // A class: its header in a subclass, isinstance, the definition.
        rename(&p, "Shape", "Form", &opts()).unwrap();
        let shapes = t.read("shapes.py").unwrap();
        assert!(shapes.contains("class Form:\n"), "{shapes}");
        assert!(shapes.contains("class Square(Form):\n"), "{shapes}");
        assert!(shapes.contains("isinstance(o, Form)"), "{shapes}");
        // A property: both accessors and the setter's decorator.
        let r = rename(&p, "Form.size", "length", &opts());
        match r {
            Ok(r) => {
                let shapes = t.read("shapes.py").unwrap();
                assert_eq!(r.rename.unwrap().definitions_changed, 2, "{shapes}");
                assert!(
                    shapes.contains("    @length.setter\n    def length(self, v):"),
                    "{shapes}"
                );
                assert!(shapes.contains("self.length ** 2"), "{shapes}");
            }
            Err(e) => panic!("{e}"),
        }
        // A soft keyword is a name.
        rename(&p, "is_shape", "match", &opts()).unwrap();
        assert!(t.read("shapes.py").unwrap().contains("def match(o):"));
        // A method overridden in a subclass, and the override itself: refused.
        refused(
            &t,
            "Form.area",
            "surface",
            &opts(),
            ErrorKind::User,
            "override",
        );
        refused(
            &t,
            "Square.area",
            "surface",
            &opts(),
            ErrorKind::User,
            "override",
        );
        // A name `__all__` lists.
        refused(&t, "public", "exposed", &opts(), ErrorKind::User, "__all__");
        // Rust.
        rename(&p, "parse_all", "count_all", &opts()).unwrap();
        assert_eq!(
            t.read("lib.rs").unwrap(),
            "pub fn count_all(s: &str) -> usize {\n    s.len()\n}\n\npub fn twice(s: &str) -> usize {\n    count_all(s) + count_all(s)\n}\n"
        );
        refused(&t, "count_all", "fn", &opts(), ErrorKind::User, "keyword");
        assert!(verify(&p).unwrap().is_clean());
        assert_eq!(git(&t.root(), &["status", "--porcelain"]), "");
    });
}
