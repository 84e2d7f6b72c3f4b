//! A temporary git project with an indexed database, and a snapshot of everything a write
//! command may change (files, database, git, backup store), for the command tests.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::print_stdout)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use codedb_backends::testing::TestDatabase;
use codedb_backends::{Backend, DatabaseSpec};
use codedb_commands::{CommandOptions, IndexOptions, Project, index};
use codedb_core::{CodeDatabase, Executor, SyncOptions, params};

/// The project: its directory and its database (SQLite in `.codedb/`, or a PostgreSQL
/// test database), started. Fields drop in order: the directory, the database, its backend,
/// then the test database itself.
pub struct TestProject {
    pub dir: tempfile::TempDir,
    pub db: CodeDatabase,
    pub manager: Backend,
    pub test: Option<TestDatabase>,
}

pub fn git(root: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .current_dir(root)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

pub const A_PY: &str = "class Parser:\n    def parse(self, text):\n        return text.split()\n\n    def close(self):\n        pass\n\n\ndef helper(x):\n    return x + 1\n";
pub const B_PY: &str = "import os\n\n\ndef main():\n    print(os.getcwd())\n";

impl TestProject {
    /// A git repository (one commit) with `a.py`, `b.py` and `pkg/c.py`, indexed.
    pub fn new() -> Self {
        Self::with_git(true)
    }

    /// The same project on every backend available here: SQLite, and PostgreSQL when a
    /// server answers (one set of tests runs on each).
    pub fn all() -> Vec<Self> {
        Self::all_with_git(true)
    }

    /// Runs `body` on the project on every backend available here; a failure names the
    /// backend.
    pub fn each(body: impl Fn(TestProject)) {
        codedb_backends::testing::for_each_backend(Self::all(), TestProject::backend, body);
    }

    pub fn all_with_git(with_git: bool) -> Vec<Self> {
        let mut all = vec![Self::with_git(with_git)];
        all.extend(TestDatabase::postgres().map(|pg| Self::build(with_git, Some(pg))));
        all
    }

    /// The backends this machine has: `"sqlite"`, and `"postgres"` when a server answers.
    pub fn backends() -> Vec<&'static str> {
        let mut all = vec!["sqlite"];
        if TestDatabase::postgres().is_some() {
            all.push("postgres");
        }
        all
    }

    /// The project (with git) on `backend`, one of [`backends`](Self::backends).
    pub fn on(backend: &str) -> Self {
        match backend {
            "postgres" => Self::build(
                true,
                Some(TestDatabase::postgres().expect("a PostgreSQL server answered before")),
            ),
            _ => Self::new(),
        }
    }

    /// `"sqlite"` or `"postgres"`.
    pub fn backend(&self) -> &'static str {
        self.manager.name()
    }

    pub fn with_git(with_git: bool) -> Self {
        Self::build(with_git, None)
    }

    fn build(with_git: bool, test: Option<TestDatabase>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::write(root.join("a.py"), A_PY).unwrap();
        std::fs::write(root.join("b.py"), B_PY).unwrap();
        std::fs::create_dir(root.join("pkg")).unwrap();
        std::fs::write(root.join("pkg/c.py"), "VALUE = 1\n").unwrap();
        std::fs::write(root.join(".gitignore"), ".codedb/\n").unwrap();
        if with_git {
            git(root, &["init", "-q", "-b", "main"]);
            git(root, &["config", "user.email", "test@example.com"]);
            git(root, &["config", "user.name", "test"]);
            git(root, &["add", "-A"]);
            git(root, &["commit", "-q", "-m", "init"]);
        }
        std::fs::create_dir(root.join(".codedb")).unwrap();
        let spec = match &test {
            Some(t) => t.spec().clone(),
            None => DatabaseSpec::Sqlite(root.join(".codedb/codedb.sqlite")),
        };
        let manager = Backend::open(&spec).unwrap();
        let db =
            CodeDatabase::open_with_schema(manager.driver(), manager.schema_backend()).unwrap();
        db.ensure_schema_synced(&SyncOptions {
            backup_dir: Some(root.join(".codedb/backups")),
            ..SyncOptions::default()
        })
        .unwrap();
        index(&db, root, &IndexOptions::default()).unwrap();
        TestProject {
            dir,
            db,
            manager,
            test,
        }
    }

    pub fn root(&self) -> PathBuf {
        self.dir.path().canonicalize().unwrap()
    }

    pub fn project(&self) -> Project {
        Project::open(&self.db, self.dir.path(), CommandOptions::default()).unwrap()
    }

    pub fn read(&self, rel: &str) -> Option<String> {
        std::fs::read_to_string(self.dir.path().join(rel)).ok()
    }

    /// Everything a command may change.
    pub fn snapshot(&self) -> Snapshot {
        let root = self.root();
        let mut files = BTreeMap::new();
        let walker = ignore::WalkBuilder::new(&root)
            .hidden(false)
            .git_ignore(false)
            .filter_entry(|e| !matches!(e.file_name().to_str(), Some(".git" | ".codedb")))
            .build();
        for e in walker.flatten() {
            if e.file_type().is_some_and(|t| t.is_file()) {
                let rel = e
                    .path()
                    .strip_prefix(&root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                files.insert(rel, std::fs::read(e.path()).unwrap());
            }
        }
        let mut backups = Vec::new();
        let store = root.join(".codedb/file-backups");
        if store.exists() {
            for e in walkdir(&store) {
                backups.push(
                    e.strip_prefix(&store)
                        .unwrap()
                        .to_string_lossy()
                        .into_owned(),
                );
            }
        }
        backups.sort();
        let rows = self
            .db
            .query(
                "SELECT id, path, sha256, deleted FROM files ORDER BY path",
                params![],
            )
            .unwrap();
        let file_ids: Vec<String> = rows
            .iter()
            .map(|r| {
                format!(
                    "{}={}",
                    r.get::<String>(1).unwrap(),
                    r.get::<i64>(0).unwrap()
                )
            })
            .collect();
        let db_files: Vec<String> = rows
            .iter()
            .map(|r| {
                format!(
                    "{} {} {}",
                    r.get::<String>(1).unwrap(),
                    r.get::<String>(2).unwrap(),
                    r.get::<i64>(3).unwrap()
                )
            })
            .collect();
        let mut counts = Vec::new();
        for table in [
            "classes",
            "functions",
            "methods",
            "imports",
            "usages",
            "source",
            "file_backups",
            "commands",
        ] {
            let n: i64 = self
                .db
                .query_scalar(&format!("SELECT count(*) FROM {table}"), params![])
                .unwrap();
            counts.push(format!("{table}={n}"));
        }
        let is_git = root.join(".git").exists();
        let (head, status, staged) = if is_git {
            (
                git(&root, &["rev-parse", "HEAD"]),
                git(&root, &["status", "--porcelain"]),
                git(&root, &["diff", "--cached"]),
            )
        } else {
            Default::default()
        };
        let intents = std::fs::read_dir(root.join(".codedb/intents"))
            .map(|d| d.count())
            .unwrap_or(0);
        Snapshot {
            files,
            file_ids,
            db_files,
            counts,
            head,
            status,
            staged,
            backups,
            intents,
        }
    }
}

fn walkdir(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// Files, database rows and counts, git HEAD/status/staged diff, backup blobs, intents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub files: BTreeMap<String, Vec<u8>>,
    /// `path=id` (ids differ between two projects indexed apart).
    pub file_ids: Vec<String>,
    /// `path sha256 deleted`, by path.
    pub db_files: Vec<String>,
    pub counts: Vec<String>,
    pub head: String,
    pub status: String,
    pub staged: String,
    pub backups: Vec<String>,
    pub intents: usize,
}
