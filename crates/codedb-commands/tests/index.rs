//! The indexer end to end on temporary trees, on every backend (SQLite; PostgreSQL when a
//! server answers): Rust extraction on a fixture crate, incremental
//! re-indexing, syntax errors, and bad input.
#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

use std::fs;
use std::path::Path;

use codedb_commands::{IndexOptions, IndexSummary, index};
use codedb_core::{CodeDatabase, CodeStore, Executor, SyncOptions, params};

struct Db {
    db: CodeDatabase,
    _backend: codedb_backends::Backend,
    test: codedb_backends::testing::TestDatabase,
    _dir: tempfile::TempDir,
}

/// A database at the code schema on every backend available here (SQLite; PostgreSQL when a
/// server answers): each test runs on each.
fn databases() -> Vec<Db> {
    codedb_backends::testing::TestDatabase::all()
        .into_iter()
        .map(|test| {
            let dir = tempfile::tempdir().unwrap();
            let backend = test.open();
            let db =
                CodeDatabase::open_with_schema(backend.driver(), backend.schema_backend()).unwrap();
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
        })
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

fn run(db: &CodeDatabase, root: &Path) -> IndexSummary {
    index(db, root, &IndexOptions::default()).unwrap()
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

#[test]
fn rust_items_of_a_fixture_crate_are_all_found() {
    each_database(|d| {
        let tree = tempfile::tempdir().unwrap();
        copy_dir(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/rust_crate"),
            tree.path(),
        );
        let summary = run(&d.db, tree.path());
        assert_eq!(
            (summary.files_indexed, summary.parse_errors),
            (1, 0),
            "{summary:?}"
        );
        let stats = d.db.stats(codedb_core::Scope::All, Some("rust")).unwrap();
        // struct Point, enum Shape, trait Area, struct Wrapper, enum Tree.
        assert_eq!(stats.classes, 5, "{stats:?}");
        // Methods: trait Area's area + describe; impl Point new + norm1; impl Area for Shape area;
        // generic impl for Vec<T> area; impl Display fmt; impl<T> Wrapper get.
        assert_eq!(stats.methods, 8, "{stats:?}");
        // Functions: total, its nested helper, outer::origin, outer::inner::depth, tests::it_works.
        // (`one` comes from a macro expansion, which tree-sitter does not see.)
        assert_eq!(stats.functions, 5, "{stats:?}");
        // use: HashMap, fmt, super::Point, std::rc::Rc, super::*.
        assert_eq!(stats.imports, 5, "{stats:?}");
        let names = |q: &str| {
            d.db.find_symbol(codedb_core::Scope::All, q)
                .unwrap()
                .into_iter()
                .map(|h| (h.kind, h.qualified_name))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            names("outer::inner::depth"),
            [("function".to_owned(), "outer::inner::depth".to_owned())]
        );
        assert_eq!(
            names("outer::Wrapper::get"),
            [("method".to_owned(), "outer::Wrapper::get".to_owned())]
        );
        assert_eq!(
            names("Point::norm1"),
            [("method".to_owned(), "Point::norm1".to_owned())]
        );
        assert_eq!(
            names("Vec::area").len(),
            1,
            "a generic impl's method is qualified by its type"
        );
        let point = d.db.find_symbol(codedb_core::Scope::All, "Point").unwrap();
        assert_eq!(point.len(), 1);
        assert!(
            !d.db
                .usages_of(codedb_core::Scope::All, "Point")
                .unwrap()
                .is_empty()
        );
    });
}

fn files_table(db: &CodeDatabase) -> Vec<Vec<codedb_core::Value>> {
    db.query(
        "SELECT id, path, sha256, size, mtime_ns, deleted, indexed_at FROM files ORDER BY path",
        params![],
    )
    .unwrap()
    .iter()
    .map(|r| r.values().to_vec())
    .collect()
}

#[test]
fn re_indexing_follows_edits_additions_deletions_renames_and_syntax_errors() {
    each_database(|d| {
        let tree = tempfile::tempdir().unwrap();
        let root = tree.path();
        fs::write(
            root.join("a.py"),
            "class A:\n    def m(self):\n        pass\n",
        )
        .unwrap();
        fs::write(root.join("b.py"), "def f():\n    return 1\n").unwrap();
        fs::create_dir(root.join("pkg")).unwrap();
        fs::write(root.join("pkg/c.py"), "import os\n").unwrap();
        fs::write(root.join(".gitignore"), "ignored/\n").unwrap();
        fs::create_dir(root.join("ignored")).unwrap();
        fs::write(root.join("ignored/x.py"), "def hidden(): pass\n").unwrap();
        let first = run(&d.db, root);
        assert_eq!(
            (first.files_indexed, first.files_unchanged),
            (3, 0),
            "{first:?}"
        );

        let before = files_table(&d.db);
        let again = run(&d.db, root);
        assert_eq!(
            (
                again.files_indexed,
                again.files_unchanged,
                again.files_removed
            ),
            (0, 3, 0),
            "{again:?}"
        );
        assert_eq!(
            files_table(&d.db),
            before,
            "an unchanged tree changes nothing"
        );

        // Same bytes, new mtime: re-hashed, not re-parsed.
        let bytes = fs::read(root.join("b.py")).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        fs::write(root.join("b.py"), &bytes).unwrap();
        let touched = run(&d.db, root);
        assert_eq!((touched.files_indexed, touched.files_unchanged), (0, 3));

        // Edit, add, delete, rename.
        fs::write(
            root.join("a.py"),
            "class A:\n    def m(self):\n        pass\n    def n(self):\n        pass\n",
        )
        .unwrap();
        fs::write(root.join("d.py"), "def g():\n    pass\n").unwrap();
        fs::remove_file(root.join("b.py")).unwrap();
        fs::rename(root.join("pkg/c.py"), root.join("pkg/c2.py")).unwrap();
        let changed = run(&d.db, root);
        assert_eq!(
            (
                changed.files_indexed,
                changed.files_removed,
                changed.files_unchanged
            ),
            (3, 2, 0),
            "{changed:?}"
        );
        let stats = d.db.stats(codedb_core::Scope::All, None).unwrap();
        assert_eq!(
            (
                stats.files,
                stats.classes,
                stats.methods,
                stats.functions,
                stats.imports
            ),
            (3, 1, 2, 1, 1)
        );
        assert!(
            d.db.find_symbol(codedb_core::Scope::All, "f")
                .unwrap()
                .is_empty(),
            "the deleted file's function is gone"
        );

        // A file that stops parsing gets an issue and keeps what tree-sitter recovers; fixed, it
        // loses the issue.
        fs::write(
            root.join("d.py"),
            "def g(:\n    pass\n\ndef h():\n    return 2\n",
        )
        .unwrap();
        let broken = run(&d.db, root);
        assert_eq!(broken.parse_errors, 1);
        let issues: i64 =
            d.db.query_scalar("SELECT count(*) FROM issues", params![])
                .unwrap();
        assert!(issues >= 1);
        let line: i64 =
            d.db.query_scalar("SELECT min(line) FROM issues", params![])
                .unwrap();
        assert_eq!(line, 1, "the issue points at the broken line");
        assert_eq!(
            d.db.find_symbol(codedb_core::Scope::All, "h")
                .unwrap()
                .len(),
            1,
            "entities after the error are still indexed"
        );
        fs::write(root.join("d.py"), "def g():\n    pass\n").unwrap();
        let fixed = run(&d.db, root);
        assert_eq!(fixed.parse_errors, 0);
        assert_eq!(
            d.db.query_scalar::<i64>("SELECT count(*) FROM issues", params![])
                .unwrap(),
            0
        );
    });
}

#[test]
fn bad_input_is_reported_per_file_and_loses_nothing_else() {
    each_database(|d| {
        let err = index(&d.db, Path::new("/no/such/root"), &IndexOptions::default()).unwrap_err();
        assert!(err.to_string().contains("no such directory"), "{err}");
        let tree = tempfile::tempdir().unwrap();
        let root = tree.path();
        fs::write(root.join("file.py"), "x = 1\n").unwrap();
        let err = index(&d.db, &root.join("file.py"), &IndexOptions::default()).unwrap_err();
        assert!(err.to_string().contains("is a file"), "{err}");

        fs::write(root.join("good.py"), "def ok():\n    pass\n").unwrap();
        fs::write(root.join("latin1.py"), b"s = '\xe9t\xe9'\n").unwrap();
        fs::write(root.join("binary.py"), b"\x00\x01\x02 not python").unwrap();
        let big = "x = 1\n".repeat(50 * 1024 * 1024 / 6 + 1);
        fs::write(root.join("generated.py"), big).unwrap();
        std::os::unix::fs::symlink(root.join("loop_b.py"), root.join("loop_a.py")).unwrap();
        std::os::unix::fs::symlink(root.join("loop_a.py"), root.join("loop_b.py")).unwrap();
        // An unreadable file: permissions where they apply, else (as root) a FIFO, which the
        // indexer must never open.
        let locked = root.join("locked.py");
        fs::write(&locked, "y = 2\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&locked, fs::Permissions::from_mode(0o000)).unwrap();
        let privileged = fs::read(&locked).is_ok();
        if privileged {
            fs::remove_file(&locked).unwrap();
            let status = std::process::Command::new("mkfifo")
                .arg(&locked)
                .status()
                .unwrap();
            assert!(status.success());
        }

        let summary = run(&d.db, root);
        let reason = |path: &str| {
            summary
                .skipped
                .iter()
                .find(|s| s.path == path)
                .map(|s| s.reason.clone())
                .unwrap_or_else(|| panic!("{path} not reported: {summary:?}"))
        };
        assert!(reason("latin1.py").contains("not valid UTF-8"));
        assert!(reason("binary.py").contains("binary"));
        assert!(reason("generated.py").contains("too large"));
        assert!(reason("loop_a.py").contains("symbolic link"));
        assert!(reason("loop_b.py").contains("symbolic link"));
        let locked_reason = reason("locked.py");
        assert!(
            locked_reason.contains("cannot read") || locked_reason.contains("not a regular file"),
            "{locked_reason}"
        );
        assert_eq!(summary.files_indexed, 2, "file.py and good.py: {summary:?}");
        assert_eq!(
            d.db.find_symbol(codedb_core::Scope::All, "ok")
                .unwrap()
                .len(),
            1
        );
        fs::set_permissions(&locked, fs::Permissions::from_mode(0o644)).ok();
    });
}

/// A bulk index refreshes PostgreSQL's planner statistics (`ANALYZE`): right after a bulk
/// load they still describe the empty tables, and a name's definitions were read by a loop
/// over every file. `reltuples` is -1 for a table never analyzed and is set by `ANALYZE`
/// itself (autovacuum may get there first too, but not within the index run, as a rule).
#[test]
fn a_bulk_index_on_postgresql_refreshes_the_planner_statistics() {
    let tree = tempfile::tempdir().unwrap();
    for i in 0..300 {
        fs::write(
            tree.path().join(format!("m{i}.py")),
            format!("def f{i}():\n    return {i}\n"),
        )
        .unwrap();
    }
    let postgres = std::cell::Cell::new(0);
    each_database(|t| {
        let summary = run(&t.db, tree.path());
        assert_eq!(summary.files_indexed, 300);
        if t.db.dialect() != codedb_core::Dialect::Postgres {
            return;
        }
        postgres.set(postgres.get() + 1);
        let tuples: f64 =
            t.db.query_scalar(
                "SELECT reltuples::float8 FROM pg_class WHERE relname = 'files' \
                 AND relnamespace = to_regnamespace(current_schema())",
                params![],
            )
            .unwrap();
        assert!(tuples >= 300.0, "files.reltuples = {tuples}");
    });
    if postgres.get() == 0 {
        println!("SKIP the PostgreSQL half: no server answers");
    }
}

#[cfg(target_os = "linux")]
#[test]
fn a_background_index_runs_below_the_callers_priority_and_stores_the_same() {
    use std::sync::atomic::{AtomicI32, Ordering};
    // The storer reports progress: its thread's nice value, seen from inside.
    static STORER_NICE: AtomicI32 = AtomicI32::new(i32::MIN);
    fn progress(_: usize, _: usize) {
        let nice = rustix::process::getpriority_process(None).unwrap();
        STORER_NICE.store(nice, Ordering::SeqCst);
    }
    let before = rustix::process::getpriority_process(None).unwrap();
    let d = &databases()[0];
    let tree = tempfile::tempdir().unwrap();
    fs::write(tree.path().join("a.py"), "def f():\n    return g()\n").unwrap();
    fs::write(tree.path().join("b.py"), "def g():\n    return 1\n").unwrap();
    let options = IndexOptions {
        progress: Some(progress),
        ..IndexOptions::default()
    };
    let summary = codedb_commands::index_in_background(&d.db, tree.path(), &options).unwrap();
    assert_eq!(summary.files_indexed, 2);
    assert_eq!(summary.files_resolved, 2);
    assert_eq!(
        STORER_NICE.load(Ordering::SeqCst),
        (before + codedb_commands::BACKGROUND_NICE).min(19),
        "the storer runs at the background priority"
    );
    assert_eq!(
        rustix::process::getpriority_process(None).unwrap(),
        before,
        "the caller keeps its own priority"
    );
    // A second run (the pool's threads are made once) is a no-op like any other.
    let again = codedb_commands::index_in_background(&d.db, tree.path(), &options).unwrap();
    assert_eq!((again.files_indexed, again.files_unchanged), (0, 2));
}
