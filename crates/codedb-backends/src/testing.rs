//! A fresh database per test on every backend this machine has: SQLite always (a file in a
//! temporary directory), PostgreSQL when a server answers (a uniquely named database created
//! on it and dropped with `WITH (FORCE)` when the test ends). The server is the one at
//! `CODEDB_TEST_POSTGRES` (an admin URL), else `postgres://postgres@127.0.0.1:5432/postgres`;
//! without one the PostgreSQL half is skipped with a printed reason.
//!
//! ```no_run
//! for db in codedb_backends::testing::TestDatabase::all() {
//!     let backend = db.open(); // a Backend on it
//!     // ... the same test on each backend ...
//!     backend.stop().unwrap();
//! }
//! ```
#![allow(clippy::print_stderr)]

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use codedb_driver::SpecificDriver;
use codedb_postgres::{PostgresConfig, PostgresDriver};

use crate::{Backend, DatabaseSpec};

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// The admin URL of the test server.
pub fn admin_url() -> String {
    std::env::var("CODEDB_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A database that exists for one test, removed when dropped.
pub struct TestDatabase {
    spec: DatabaseSpec,
    /// SQLite: the directory holding the file.
    dir: Option<tempfile::TempDir>,
    /// PostgreSQL: the admin connection that drops the database.
    admin: Option<(PostgresDriver, String)>,
}

impl std::fmt::Debug for TestDatabase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TestDatabase({} {})", self.name(), self.spec)
    }
}

impl TestDatabase {
    /// A SQLite file in a new temporary directory (not created until opened).
    pub fn sqlite() -> TestDatabase {
        #[allow(clippy::expect_used)]
        let dir = tempfile::tempdir().expect("a temporary directory");
        TestDatabase {
            spec: DatabaseSpec::Sqlite(dir.path().join("codedb.sqlite")),
            dir: Some(dir),
            admin: None,
        }
    }

    /// A new database on the test server, or `None` (with the reason printed) when no server
    /// answers.
    pub fn postgres() -> Option<TestDatabase> {
        let mut probe = PostgresConfig::new(admin_url());
        probe.connect_timeout = Duration::from_secs(2);
        probe.pool_size = 1;
        let admin = match PostgresDriver::open(&probe) {
            Ok(admin) => admin,
            Err(e) => {
                eprintln!(
                    "SKIP postgres: no PostgreSQL server answers at {} ({e})",
                    codedb_postgres::redact(&admin_url())
                );
                return None;
            }
        };
        let name = format!(
            "codedb_test_{}_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or(0)
        );
        if let Err(e) = admin.execute(&format!("CREATE DATABASE {name}"), Vec::new()) {
            eprintln!("SKIP postgres: cannot create a test database: {e}");
            return None;
        }
        let url = match admin_url().rsplit_once('/') {
            Some((base, _)) => format!("{base}/{name}"),
            None => {
                eprintln!("SKIP postgres: CODEDB_TEST_POSTGRES is not a postgres:// URL");
                return None;
            }
        };
        Some(TestDatabase {
            spec: DatabaseSpec::Postgres(url),
            dir: None,
            admin: Some((admin, name)),
        })
    }

    /// SQLite, and PostgreSQL when a server answers.
    pub fn all() -> Vec<TestDatabase> {
        let mut all = vec![Self::sqlite()];
        all.extend(Self::postgres());
        all
    }

    /// `"sqlite"` or `"postgres"`.
    pub fn name(&self) -> &'static str {
        match self.spec {
            DatabaseSpec::Sqlite(_) => "sqlite",
            DatabaseSpec::Postgres(_) => "postgres",
        }
    }

    /// What names it (a path, or a URL): what `--db` takes.
    pub fn spec(&self) -> &DatabaseSpec {
        &self.spec
    }

    /// The `--db` argument that names it.
    pub fn arg(&self) -> String {
        match &self.spec {
            DatabaseSpec::Sqlite(path) => path.display().to_string(),
            DatabaseSpec::Postgres(url) => url.clone(),
        }
    }

    /// Opens it.
    pub fn open(&self) -> Backend {
        match Backend::open(&self.spec) {
            Ok(backend) => backend,
            Err(e) => panic!("opening the {} test database: {e}", self.name()),
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Some((admin, name)) = self.admin.take() {
            let _ = admin.execute(
                &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
                Vec::new(),
            );
        }
        drop(self.dir.take());
    }
}

/// Runs `body` on each of `items` (one per backend); a failure says which backend it
/// happened on (`backend(item)`), besides its own message.
pub fn for_each_backend<T>(items: Vec<T>, backend: impl Fn(&T) -> &'static str, body: impl Fn(T)) {
    for item in items {
        let name = backend(&item);
        let run = std::panic::AssertUnwindSafe(|| body(item));
        if let Err(panic) = std::panic::catch_unwind(run) {
            let message = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("a panic without a message");
            panic!("failed on {name}: {message}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_names_its_backend() {
        let caught = std::panic::catch_unwind(|| {
            for_each_backend(
                vec![1, 2],
                |i| if *i == 1 { "sqlite" } else { "postgres" },
                |i| {
                    assert!(i == 1, "boom");
                },
            );
        })
        .unwrap_err();
        let message = caught.downcast_ref::<String>().unwrap();
        assert_eq!(message, "failed on postgres: boom");
    }
}
