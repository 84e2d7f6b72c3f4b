//! Resolved references in the languages beside Python, end to end, on every backend.
//!
//! One fixture per language (`fixtures/refs_<lang>/`) where each construct the resolver
//! claims is used once, with the exact answer stated per definition: imports resolved to
//! project files (`query deps`/`rdeps`), names the import names explicitly resolved `exact`,
//! scopes hiding a definition's name, `this`/`self` receivers `inferred`, and the rest by
//! name, labelled `name` or `ambiguous`. A hostile input per language never fails an index.
#![allow(clippy::unwrap_used, clippy::print_stdout)] // tests fail loudly and report figures on purpose

use std::fs;
use std::path::Path;

use codedb_commands::{IndexOptions, index};
use codedb_core::store::{Confidence, RefFilter, RefHit};
use codedb_core::{CodeDatabase, ReferenceGraph, Scope, SyncOptions};

struct Db {
    db: CodeDatabase,
    _backend: codedb_backends::Backend,
    test: codedb_backends::testing::TestDatabase,
    _dir: tempfile::TempDir,
}

fn open(test: codedb_backends::testing::TestDatabase) -> Db {
    let dir = tempfile::tempdir().unwrap();
    let backend = test.open();
    let db = CodeDatabase::open_with_schema(backend.driver(), backend.schema_backend()).unwrap();
    db.ensure_schema_synced(&SyncOptions {
        backup_dir: Some(dir.path().join("b")),
        ..SyncOptions::default()
    })
    .unwrap();
    Db {
        db,
        _backend: backend,
        test,
        _dir: dir,
    }
}

/// A database at the code schema on every backend available here.
fn databases() -> Vec<Db> {
    codedb_backends::testing::TestDatabase::all()
        .into_iter()
        .map(open)
        .collect()
}

impl Db {
    /// `"sqlite"` or `"postgres"`, which a failure names.
    fn name(&self) -> &'static str {
        self.test.name()
    }
}

/// Runs `body` on a database at the code schema on each backend available here; a failure
/// says which backend it happened on.
fn each_database(body: impl Fn(Db)) {
    codedb_backends::testing::for_each_backend(databases(), Db::name, body);
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), target).unwrap();
        }
    }
}

fn fixture(name: &str) -> tempfile::TempDir {
    let tree = tempfile::tempdir().unwrap();
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name),
        tree.path(),
    );
    tree
}

/// One hit as `path:line:column kind confidence`, plus the candidates of an ambiguous one.
fn show(hit: &RefHit) -> String {
    let mut s = format!(
        "{}:{}:{} {} {}",
        hit.path, hit.line, hit.column, hit.kind, hit.confidence
    );
    if !hit.candidates.is_empty() {
        s.push_str(&format!(" [{}]", hit.candidates.join(", ")));
    }
    s
}

fn refs(db: &CodeDatabase, locator: &str) -> Vec<String> {
    let def = db
        .definition(Scope::All, locator)
        .unwrap_or_else(|e| panic!("{locator}: {e}"));
    let mut hits: Vec<String> = db
        .references_to(&def, &RefFilter::default())
        .unwrap()
        .iter()
        .map(show)
        .collect();
    hits.sort();
    hits
}

fn deps(db: &CodeDatabase, path: &str, outgoing: bool) -> Vec<String> {
    let found = if outgoing {
        db.file_dependencies(Scope::All, path, Confidence::Exact)
    } else {
        db.file_dependents(Scope::All, path, Confidence::Exact)
    };
    found.unwrap().into_iter().map(|d| d.path).collect()
}

/// Indexes the fixture `name` on every backend and checks each definition's references,
/// and each file's dependencies (`path`, the files it depends on exactly).
fn check(name: &str, expected: &[(&str, &[&str])], file_deps: &[(&str, &[&str])]) {
    each_database(|db| {
        let tree = fixture(name);
        let summary = index(&db.db, tree.path(), &IndexOptions::default()).unwrap();
        assert_eq!(summary.files_skipped, 0, "{:?}", summary.skipped);
        let mut wrong = Vec::new();
        for (locator, want) in expected {
            let mut want: Vec<String> = want.iter().map(|s| (*s).to_owned()).collect();
            want.sort();
            let got = refs(&db.db, locator);
            if got != want {
                wrong.push(format!("{locator}:\n  got  {got:?}\n  want {want:?}"));
            }
        }
        for (path, want) in file_deps {
            let got = deps(&db.db, path, true);
            if got != *want {
                wrong.push(format!("deps {path}:\n  got  {got:?}\n  want {want:?}"));
            }
        }
        assert!(wrong.is_empty(), "{name}:\n{}", wrong.join("\n"));
    });
}

#[test]
fn typescript_and_javascript_imports_and_names_resolve_on_every_backend() {
    check(
        "refs_ts",
        &[
            (
                // Named imports, a namespace import, a re-export through `index.ts` (by
                // name and by `export *`), an alias; `run`'s parameter `helper` hides it.
                "src/util.ts:helper",
                &[
                    "src/app.ts:11:3 call exact",
                    "src/app.ts:12:5 call exact",
                    "src/app.ts:13:3 call exact",
                    "src/app.ts:1:10 import exact",
                    "src/app.ts:3:10 import exact",
                    "src/app.ts:3:20 import exact",
                    "src/index.ts:1:10 import exact",
                ],
            ),
            (
                // `Store as S`, then `S` as a type and a constructor.
                "src/util.ts:Store",
                &[
                    "src/app.ts:14:12 annotation exact",
                    "src/app.ts:14:20 call exact",
                    "src/app.ts:1:18 import exact",
                    "src/app.ts:1:27 import exact",
                ],
            ),
            // `this.format(key)` in the class: inferred.
            (
                "src/util.ts:Store.format",
                &["src/util.ts:7:17 call inferred"],
            ),
            // `s.get('k')`: a receiver of unknown type, one method by that name.
            ("src/util.ts:Store.get", &["src/app.ts:15:5 call name"]),
            ("src/app.ts:run", &["src/app.ts:16:3 call exact"]),
            ("src/app.ts:main", &[]),
            // CommonJS: `require('./legacy.js')`, `legacy.begin()`, `module.exports`.
            (
                "src/legacy.js:begin",
                &[
                    "src/legacy.js:4:20 read exact",
                    "src/lib.js:3:17 call exact",
                ],
            ),
            ("src/lib.js:start", &["src/lib.js:5:20 read exact"]),
            // A default import names what the module exports as `default`.
            (
                "src/shape.ts:Shape",
                &[
                    "src/draw.ts:1:8 import exact",
                    "src/draw.ts:3:25 annotation exact",
                    "src/draw.ts:4:14 call exact",
                ],
            ),
            ("src/draw.ts:draw", &[]),
        ],
        &[
            ("src/app.ts", &["src/index.ts", "src/util.ts"]),
            ("src/draw.ts", &["src/shape.ts"]),
            ("src/index.ts", &["src/util.ts"]),
            ("src/lib.js", &["src/legacy.js"]),
        ],
    );
}

#[test]
fn go_packages_and_names_resolve_on_every_backend() {
    check(
        "refs_go",
        &[
            (
                // `store.New()` through the import path's directory; `New()` from another
                // file of the package; `New := 1` in main.go's count hides nothing of it.
                "store/store.go:New",
                &[
                    "main.go:10:13 call exact",
                    "store/helpers.go:5:6 call exact",
                ],
            ),
            (
                "store/store.go:Store",
                &[
                    "main.go:13:15 annotation exact",
                    "store/helpers.go:3:15 annotation exact",
                    "store/store.go:11:10 annotation exact",
                    "store/store.go:15:15 annotation exact",
                    "store/store.go:7:13 annotation exact",
                    "store/store.go:8:10 annotation exact",
                ],
            ),
            ("store/helpers.go:Reset", &["main.go:12:8 call exact"]),
            // Each file's `count` is its own package's.
            ("store/store.go:count", &["store/store.go:12:18 call exact"]),
            ("main.go:count", &["main.go:14:14 call exact"]),
            // `s.Add(...)`: the receiver's type is not followed.
            ("store/store.go:Store.Add", &["main.go:11:4 call name"]),
        ],
        &[("main.go", &["store/helpers.go", "store/store.go"])],
    );
}

#[test]
fn java_packages_imports_and_names_resolve_on_every_backend() {
    let main = "src/main/java/com/acme/app/Main.java";
    let user = "src/main/java/com/acme/model/User.java";
    let admin = "src/main/java/com/acme/model/Admin.java";
    let report = "src/main/java/com/acme/app/Report.java";
    let at = |path: &str, rest: &str| format!("{path}:{rest}");
    let user_refs = [
        at(main, "12:14 annotation exact"),
        at(main, "16:21 annotation exact"),
        at(main, "3:23 import exact"),
        at(main, "9:18 read exact"),
        at(main, "9:9 annotation exact"),
        // The same package needs no import.
        at(admin, "3:28 inheritance exact"),
        // The class's own name in it, not its constructor `User.User`.
        at(user, "18:19 annotation exact"),
        at(user, "19:20 call exact"),
    ];
    let admin_refs = [
        at(main, "11:23 call exact"),
        at(main, "11:9 annotation exact"),
        at(main, "4:23 import exact"),
        // Through `import com.acme.model.*`.
        at(report, "6:12 annotation exact"),
        at(report, "7:20 call exact"),
    ];
    let greet = [
        at(main, "10:11 call name"),
        at(main, "17:16 call name"),
        at(admin, "6:14 call name"),
    ];
    let anonymous = [at(main, "9:23 call exact")];
    // `format(name)` in the class is its own static method; `run`'s parameter `format`
    // hides it.
    let format = [at(user, "11:16 call exact")];
    let run = [at(main, "13:9 call exact")];
    let (a, b, c, d, e, f) = (
        as_refs(&user_refs),
        as_refs(&admin_refs),
        as_refs(&greet),
        as_refs(&anonymous),
        as_refs(&format),
        as_refs(&run),
    );
    let locators = [
        format!("{user}:User"),
        format!("{admin}:Admin"),
        format!("{user}:User.greet"),
        format!("{user}:User.anonymous"),
        format!("{user}:User.format"),
        format!("{main}:Main.run"),
    ];
    check(
        "refs_java",
        &[
            (locators[0].as_str(), a.as_slice()),
            (locators[1].as_str(), b.as_slice()),
            (locators[2].as_str(), c.as_slice()),
            (locators[3].as_str(), d.as_slice()),
            (locators[4].as_str(), e.as_slice()),
            (locators[5].as_str(), f.as_slice()),
        ],
        &[(main, &[admin, user]), (admin, &[user])],
    );
}

fn as_refs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

#[test]
fn c_and_cpp_includes_and_names_resolve_on_every_backend() {
    check(
        "refs_c",
        &[
            // `#include "util.h"` from src/ finds include/util.h by its path's end.
            (
                "include/util.h:point",
                &["src/main.c:5:10 annotation exact"],
            ),
            ("src/main.c:local", &["src/main.c:6:16 call exact"]),
            // Defined in util.c, declared in the header: no include proves which
            // definition, so by name; `twice`'s parameter `add` hides it.
            (
                "src/util.c:add",
                &["include/util.h:4:5 read name", "src/main.c:3:33 call name"],
            ),
            ("src/util.c:twice", &["src/main.c:7:10 call name"]),
            // C++: `geo::Shape` through the included header, `this->area()` inferred.
            (
                "src/shape.hpp:geo::Shape",
                &["src/shape.cpp:2:24 annotation exact"],
            ),
            (
                "src/shape.hpp:geo::Shape::area",
                &[
                    "src/shape.cpp:2:45 call name",
                    "src/shape.hpp:6:36 call inferred",
                ],
            ),
        ],
        &[
            ("src/main.c", &["include/util.h"]),
            ("src/util.c", &["include/util.h"]),
            ("src/shape.cpp", &["src/shape.hpp"]),
        ],
    );
}

#[test]
fn rust_modules_uses_and_paths_resolve_on_every_backend() {
    let area_calls = "call ambiguous [src/lib.rs:Area::area, src/shapes.rs:Circle::area]";
    let l16 = format!("src/lib.rs:17:16 {area_calls}");
    check(
        "refs_rust",
        &[
            // `use crate::Area` from a file module; `impl Area for Circle`.
            (
                "src/lib.rs:Area",
                &[
                    "src/shapes.rs:2:12 import exact",
                    "src/shapes.rs:24:6 inheritance exact",
                ],
            ),
            (
                // `pub use shapes::Circle`, a parameter's type, `Circle::new`, the impl
                // blocks' types (`Self` is no reference of its own).
                "src/shapes.rs:Circle",
                &[
                    "src/lib.rs:15:18 annotation exact",
                    "src/lib.rs:22:13 read exact",
                    "src/lib.rs:5:17 import exact",
                    "src/shapes.rs:24:15 annotation exact",
                    "src/shapes.rs:30:23 annotation exact",
                    "src/shapes.rs:36:18 annotation exact",
                    "src/shapes.rs:37:5 read exact",
                    "src/shapes.rs:9:6 annotation exact",
                ],
            ),
            (
                // A group `use`, `super::util::helper` from an inline module,
                // `crate::util::helper` from a nested one; `let helper = 2.0` hides it.
                "src/util.rs:helper",
                &[
                    "src/lib.rs:21:5 call exact",
                    "src/lib.rs:28:22 call exact",
                    "src/lib.rs:32:42 call exact",
                    "src/lib.rs:6:19 import exact",
                ],
            ),
            (
                // `math::{self, square as sq}` (`util/math.rs` under `util.rs`), called as
                // `sq`; and from its own file.
                "src/util/math.rs:square",
                &[
                    "src/lib.rs:17:25 call exact",
                    "src/lib.rs:6:40 import exact",
                    "src/lib.rs:6:50 import exact",
                    "src/util/math.rs:7:5 call exact",
                ],
            ),
            ("src/util/math.rs:cube", &["src/lib.rs:17:41 call exact"]),
            ("src/lib.rs:total", &["src/lib.rs:23:5 call exact"]),
            // `run()` inside `assert_eq!` in `mod tests`, through `use super::*`.
            ("src/lib.rs:run", &["src/lib.rs:43:20 call exact"]),
            ("src/lib.rs:inner::deep", &["src/lib.rs:32:20 call exact"]),
            (
                "src/shapes.rs:Circle::new",
                &["src/lib.rs:22:21 call exact"],
            ),
            // `Self::unit()`.
            (
                "src/shapes.rs:Circle::unit",
                &["src/shapes.rs:16:15 call exact"],
            ),
            (
                // `self.area()` in an impl of Circle: inferred; `c.area()` on a parameter:
                // by name, two candidates.
                "src/shapes.rs:Circle::area",
                &[&l16, "src/shapes.rs:16:29 call inferred"],
            ),
            // `self.area()` in the trait's default method: the trait's own, inferred.
            (
                "src/lib.rs:Area::area",
                &[&l16, "src/lib.rs:11:28 call inferred"],
            ),
            ("src/shapes.rs:Circle::fmt", &[]),
            // `Circle::describe(c)`: the trait's default method, through `impl Area for
            // Circle`.
            (
                "src/lib.rs:Area::describe",
                &["src/shapes.rs:37:13 call exact"],
            ),
        ],
        &[
            (
                "src/lib.rs",
                &["src/shapes.rs", "src/util.rs", "src/util/math.rs"],
            ),
            ("src/shapes.rs", &["src/lib.rs"]),
        ],
    );
}

/// Inputs built to hurt: deep nesting, long paths, import cycles, broken syntax.
#[cfg(unix)]
#[test]
fn hostile_inputs_never_fail_an_index_in_any_language() {
    let tree = tempfile::tempdir().unwrap();
    let root = tree.path();
    let deep_ts = format!("const x = {}1{};\n", "(".repeat(3_000), ")".repeat(3_000));
    let long_rust_path = format!("fn f() {{ {}x(); }}\n", "a::".repeat(3_000));
    let deep_use = format!("use {}x{};\n", "a::{".repeat(500), "}".repeat(500));
    let wide_go = (0..5_000)
        .map(|i| format!("func F{i}() {{ F{}() }}\n", (i + 1) % 5_000))
        .collect::<String>();
    let files: Vec<(&str, String)> = vec![
        ("ts/deep.ts", deep_ts),
        ("ts/a.ts", "export * from './b';\nexport { x } from './b';\n".into()),
        ("ts/b.ts", "export * from './a';\nexport { x } from './a';\nimport { x } from './a';\nx();\n".into()),
        ("ts/broken.ts", "import { from '\nexport { } from\nclass {\n".into()),
        ("ts/escape.ts", "import x from '../../../../etc/passwd';\nx();\n".into()),
        ("rs/src/lib.rs", format!("mod a;\nmod b;\nuse self::a::*;\n{long_rust_path}{deep_use}")),
        ("rs/src/a.rs", "pub use super::b::*;\npub use crate::a::x as y;\n".into()),
        ("rs/src/b.rs", "pub use super::a::*;\nuse super::super::super::z;\nfn g() { y(); Self::q(); self.m(); }\n".into()),
        ("rs/src/broken.rs", "use a::{b, ;\nimpl for {\nfn (\n".into()),
        ("go/wide.go", format!("package wide\nimport \"example.com/wide\"\n{wide_go}")),
        ("go/broken.go", "package\nimport (\n\"\nfunc {\n".into()),
        ("java/A.java", "import a.b.*;\nimport static a.b.C.d;\nimport ;\nclass A extends A { void m() { m(); this.m(); } }\n".into()),
        ("c/self.h", "#include \"self.h\"\n#include <>\n#include \"\"\nstruct s { struct s *next; };\n".into()),
        ("c/broken.cpp", "#include \"../../x.h\"\nclass { void f() { this->; } };\n".into()),
    ];
    for (name, text) in &files {
        let path = root.join(name);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }
    let db = open(codedb_backends::testing::TestDatabase::sqlite());
    let summary = index(&db.db, root, &IndexOptions::default()).unwrap();
    assert_eq!(summary.files_skipped, 0, "{:?}", summary.skipped);
    // The 5,000-function ring: each called once, by its predecessor, in the same package.
    let f0 = db.db.definition(Scope::All, "go/wide.go:F0").unwrap();
    let hits = db.db.references_to(&f0, &RefFilter::default()).unwrap();
    assert_eq!(
        hits.iter().map(show).collect::<Vec<_>>(),
        ["go/wide.go:5002:16 call exact"]
    );
}

#[test]
fn references_in_other_languages_follow_edits_of_the_files_they_name() {
    each_database(|db| {
        // Rust: `helper` renamed away in util.rs; lib.rs, unchanged, no longer resolves
        // to it, and does again when it comes back.
        let tree = fixture("refs_rust");
        let root = tree.path();
        index(&db.db, root, &IndexOptions::default()).unwrap();
        let util = fs::read_to_string(root.join("src/util.rs")).unwrap();
        fs::write(
            root.join("src/util.rs"),
            util.replace("fn helper(", "fn helper2("),
        )
        .unwrap();
        let summary = index(&db.db, root, &IndexOptions::default()).unwrap();
        assert_eq!(summary.files_indexed, 1);
        assert!(summary.files_resolved >= 2, "{summary:?}");
        assert_eq!(refs(&db.db, "src/util.rs:helper2"), Vec::<String>::new());
        fs::write(root.join("src/util.rs"), &util).unwrap();
        index(&db.db, root, &IndexOptions::default()).unwrap();
        assert_eq!(refs(&db.db, "src/util.rs:helper").len(), 4);
        // TypeScript: the module an import names deleted, then back.
        let tree = fixture("refs_ts");
        let root = tree.path();
        index(&db.db, root, &IndexOptions::default()).unwrap();
        let legacy = fs::read_to_string(root.join("src/legacy.js")).unwrap();
        fs::remove_file(root.join("src/legacy.js")).unwrap();
        index(&db.db, root, &IndexOptions::default()).unwrap();
        assert_eq!(deps(&db.db, "src/lib.js", true), Vec::<String>::new());
        fs::write(root.join("src/legacy.js"), legacy).unwrap();
        index(&db.db, root, &IndexOptions::default()).unwrap();
        assert_eq!(deps(&db.db, "src/lib.js", true), ["src/legacy.js"]);
        assert_eq!(
            refs(&db.db, "src/legacy.js:begin"),
            [
                "src/legacy.js:4:20 read exact",
                "src/lib.js:3:17 call exact"
            ]
        );
    });
}
