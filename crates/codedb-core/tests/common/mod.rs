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
