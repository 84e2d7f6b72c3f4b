//! Which paths the write commands accept, checked against git itself: for random path
//! strings (unicode, dots, spaces, case variants of `.git` and git's short names, `..`,
//! separators, backslashes), every path `create` accepts lands inside the root and `git
//! ls-files` lists it afterwards; every path it refuses leaves the tree as it was.
#![allow(clippy::unwrap_used, clippy::print_stdout)]

#[path = "support/project.rs"]
mod support;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use codedb_commands::{EditOptions, create};
use proptest::prelude::*;
use support::TestProject;

const PIECES: &[&str] = &[
    ".git",
    ".GIT",
    ".Git",
    ".gIt",
    "git~1",
    "GIT~1",
    "Git~1",
    ".git.",
    ".git ",
    ".git. .",
    ".gi\u{200c}t",
    "\u{feff}.git",
    ".git\u{200d}",
    "..",
    ".",
    "",
    " ",
    "a",
    "é",
    "ü b",
    "x.py",
    ".hidden",
    "dir",
    "a\\.git",
    "x\\git~1",
    "\\",
    "CON",
    "nul",
    "git~2",
    ".gitx",
    "a b ",
    " lead",
    "日本",
    "tab\tname",
];

const NAMES: &[&str] = &[
    "a.py",
    "b c.py",
    "é.py",
    ".h.py",
    "x.rs",
    "trail .py",
    "ü.py",
];

fn path() -> impl Strategy<Value = String> {
    (
        prop::sample::select(vec!["", "/", "./"]),
        prop::collection::vec(prop::sample::select(PIECES.to_vec()), 0..4),
        prop::sample::select(NAMES.to_vec()),
        prop::sample::select(vec!["/", "//", "\\"]),
    )
        .prop_map(|(lead, dirs, name, sep)| {
            let mut parts: Vec<&str> = dirs;
            parts.push(name);
            format!("{lead}{}", parts.join(sep))
        })
}

/// Every file under `root` (outside `.git/` and `.codedb/`), relative.
fn files(root: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut stack = vec![root.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            let name = e.file_name();
            if name == ".git" || name == ".codedb" {
                continue;
            }
            if p.is_dir() {
                stack.push(p.clone());
            }
            out.insert(p.strip_prefix(root).unwrap().to_string_lossy().into_owned());
        }
    }
    out
}

fn tracked(root: &Path) -> BTreeSet<String> {
    let out = Command::new("git")
        .current_dir(root)
        .args(["ls-files", "-z"])
        .output()
        .unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .split('\0')
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_path_create_accepts_is_inside_the_root_and_tracked_by_git() {
    let t = TestProject::new();
    let p = t.project();
    let root = t.root();
    let accepted = std::cell::Cell::new(0);
    let refused = std::cell::Cell::new(0);
    proptest!(ProptestConfig::with_cases(96), |(path in path())| {
        let before = files(&root);
        match create(&p, &path, "x = 1\n", &EditOptions::default()) {
            Ok(report) => {
                accepted.set(accepted.get() + 1);
                println!("accepted {path:?} as {:?}", report.paths);
                let rel = &report.paths[0];
                let abs = root.join(rel).canonicalize().unwrap();
                prop_assert!(abs.starts_with(&root), "{path:?} -> {abs:?}");
                prop_assert!(tracked(&root).contains(rel), "{path:?} -> {rel:?} not tracked by git");
            }
            Err(e) => {
                refused.set(refused.get() + 1);
                prop_assert_eq!(files(&root), before, "{:?} refused ({}) but changed the tree", path, e);
            }
        }
    });
    println!("{} accepted, {} refused", accepted.get(), refused.get());
    assert!(accepted.get() > 0 && refused.get() > 0);
    let v = codedb_commands::verify(&p).unwrap();
    assert!(v.is_clean(), "{v:?}");
}
