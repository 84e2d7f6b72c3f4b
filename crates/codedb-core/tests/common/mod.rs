//! Helpers shared by codedb-core's integration tests: temporary databases served by the real
//! SQLite worker.
#![allow(clippy::unwrap_used)] // tests fail loudly on purpose
#![allow(dead_code, unreachable_pub)]

use std::path::PathBuf;
use std::time::Duration;

use codedb_core::CodeDatabase;
use codedb_sqlite::{DBWorkerManager, SqliteConfig};

/// A database in a temporary directory, removed on drop.
pub struct TempDb {
    pub db: CodeDatabase,
    pub manager: DBWorkerManager,
    pub path: PathBuf,
    pub dir: tempfile::TempDir,
}

pub fn temp_db() -> TempDb {
    temp_db_with(|_| {})
}

pub fn temp_db_with(adjust: impl FnOnce(&mut SqliteConfig)) -> TempDb {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("test.sqlite");
    let mut config = SqliteConfig::new(&path);
    adjust(&mut config);
    let manager = DBWorkerManager::start(config).expect("start worker");
    let db = CodeDatabase::open(manager.driver()).expect("open");
    TempDb {
        db,
        manager,
        path,
        dir,
    }
}

pub fn short_gate(config: &mut SqliteConfig) {
    config.gate_timeout = Duration::from_millis(200);
}

/// A `CodeDatabase` at the code schema on one backend; fields drop in order (the database,
/// then its backend, then the test database itself).
pub struct CodeDb {
    pub db: CodeDatabase,
    pub backend: codedb_backends::Backend,
    pub test: codedb_backends::testing::TestDatabase,
    pub dir: tempfile::TempDir,
}

impl CodeDb {
    /// `"sqlite"` or `"postgres"`, for assertion messages.
    pub fn name(&self) -> &'static str {
        self.test.name()
    }
}

/// A `CodeDatabase` at the code schema on every backend available here (SQLite, and
/// PostgreSQL when a server answers): one set of tests runs on each.
pub fn code_databases() -> Vec<CodeDb> {
    codedb_backends::testing::TestDatabase::all()
        .into_iter()
        .map(|test| {
            let backend = test.open();
            let db = CodeDatabase::open_with_schema(backend.driver(), backend.schema_backend())
                .expect("open");
            let dir = tempfile::tempdir().expect("temp dir");
            db.ensure_schema_synced(&codedb_core::SyncOptions {
                backup_dir: Some(dir.path().join("backups")),
                ..codedb_core::SyncOptions::default()
            })
            .expect("sync the code schema");
            CodeDb {
                db,
                backend,
                test,
                dir,
            }
        })
        .collect()
}

/// Runs `body` on a [`CodeDb`] of every backend available here; a failure names the backend.
pub fn each_code_database(body: impl Fn(CodeDb)) {
    codedb_backends::testing::for_each_backend(code_databases(), CodeDb::name, body);
}

/// A `CodeDatabase` with no schema on one backend.
pub struct AnyDb {
    pub db: CodeDatabase,
    pub backend: codedb_backends::Backend,
    pub test: codedb_backends::testing::TestDatabase,
}

/// An empty `CodeDatabase` on every backend available here.
pub fn databases() -> Vec<AnyDb> {
    codedb_backends::testing::TestDatabase::all()
        .into_iter()
        .map(|test| {
            let backend = test.open();
            let db = CodeDatabase::open(backend.driver()).expect("open");
            AnyDb { db, backend, test }
        })
        .collect()
}
