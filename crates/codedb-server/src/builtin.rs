//! The server's workers: the DB worker's monitor, the file watcher and the maintenance
//! worker. All run under the [`crate::WorkerManager`].
//!
//! * `db`: the DB worker itself is a thread of `codedb-sqlite`'s `DBWorkerManager`, started
//!   from the configuration before any other worker; this worker watches it and reports it
//!   unhealthy (with a restart attempt through the manager's backoff) if it died.
//! * `watcher`: `notify` events (reads ignored), debounced (`watcher.debounce_ms` of quiet
//!   after the last change), ignoring `.git/`, `.codedb/`, codedb's own temp files and the
//!   configured globs; each quiet burst runs the same incremental `index` as `codedb index`,
//!   in its transactions, so a burst of a thousand changes is one run that misses none of
//!   them. It also runs one index when it starts, to catch up with changes made while no
//!   server was watching.
//! * `maintenance`: every `maintenance.interval_ms`, a passive WAL checkpoint and pruning of
//!   the schema backups to `storage.keep_backups`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use codedb_core::CodeDatabase;
use parking_lot::Mutex;

use crate::workers::{Worker, WorkerContext};

/// Watches the DB worker thread.
pub struct DbMonitor {
    pub(crate) manager: Arc<codedb_backends::Backend>,
}

impl Worker for DbMonitor {
    fn name(&self) -> &str {
        "db"
    }

    fn run(&self, ctx: &WorkerContext) -> Result<(), String> {
        loop {
            self.health()?;
            if ctx.sleep(Duration::from_millis(500)) {
                return Ok(());
            }
        }
    }

    fn health(&self) -> Result<(), String> {
        self.manager.health()
    }
}

/// Re-indexes what other programs change.
pub struct FileWatcher {
    /// `watcher`, or `watcher:PROJECT` when the server has several projects.
    pub(crate) name: String,
    pub(crate) db: CodeDatabase,
    pub(crate) root: PathBuf,
    /// How it indexes (the project's size limit).
    pub(crate) options: codedb_commands::IndexOptions,
    pub(crate) debounce: Duration,
    pub(crate) ignore: Vec<String>,
    /// Index runs so far, and files they indexed (for `status` and tests).
    pub(crate) runs: Arc<Mutex<(u64, u64)>>,
}

impl FileWatcher {
    fn relevant(&self, path: &Path) -> bool {
        let Ok(rel) = path.strip_prefix(&self.root) else {
            return false;
        };
        let rel = rel.to_string_lossy();
        if rel
            .split('/')
            .any(|c| c == ".git" || c == ".codedb" || codedb_commands::is_temp_name(c))
        {
            return false;
        }
        !self.ignore.iter().any(|g| glob_match(g, &rel))
    }
}

impl Worker for FileWatcher {
    fn name(&self) -> &str {
        &self.name
    }

    fn run(&self, ctx: &WorkerContext) -> Result<(), String> {
        use notify::{EventKind, RecursiveMode, Watcher as _};
        let (tx, rx) = std::sync::mpsc::channel::<notify::Result<notify::Event>>();
        let mut watcher =
            notify::recommended_watcher(tx).map_err(|e| format!("cannot start watching: {e}"))?;
        watcher
            .watch(&self.root, RecursiveMode::Recursive)
            .map_err(|e| format!("cannot watch {}: {e}", self.root.display()))?;
        #[cfg(feature = "failpoints")]
        fail::fail_point!("watcher-start", |_| Err(
            "injected failure at start".to_owned()
        ));
        // Catch up with what changed while no server was watching.
        self.reindex(0)?;
        let mut pending = 0usize;
        let mut quiet_since = std::time::Instant::now();
        while !ctx.stopping() {
            match rx.recv_timeout(Duration::from_millis(50)) {
                Ok(Ok(event)) => {
                    // Reads (the indexer's own among them) are not changes.
                    if matches!(event.kind, EventKind::Access(_)) {
                        continue;
                    }
                    let n = event.paths.iter().filter(|p| self.relevant(p)).count();
                    if n > 0 {
                        pending += n;
                        quiet_since = std::time::Instant::now();
                    }
                }
                Ok(Err(e)) => return Err(format!("watching failed: {e}")),
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                    return Err("the watcher stopped".into());
                }
            }
            // Debounced: index once the burst has been quiet for `debounce`.
            if pending > 0 && quiet_since.elapsed() >= self.debounce {
                self.reindex(pending)?;
                pending = 0;
            }
        }
        Ok(())
    }
}

impl FileWatcher {
    fn reindex(&self, changes: usize) -> Result<(), String> {
        let summary = codedb_commands::index_in_background(&self.db, &self.root, &self.options)
            .map_err(|e| format!("re-indexing failed: {e}"))?;
        tracing::info!(
            changes,
            indexed = summary.files_indexed,
            removed = summary.files_removed,
            "watcher: re-indexed"
        );
        let mut runs = self.runs.lock();
        runs.0 += 1;
        runs.1 += summary.files_indexed as u64;
        Ok(())
    }
}

/// `*` matches within a path segment, `**` across segments; a pattern without `/` matches
/// the file name anywhere.
fn glob_match(pattern: &str, path: &str) -> bool {
    fn go(p: &[u8], s: &[u8]) -> bool {
        match (p.first(), s.first()) {
            (None, None) => true,
            (Some(b'*'), _) if p.get(1) == Some(&b'*') => {
                (0..=s.len()).any(|i| go(&p[2..], &s[i..]))
            }
            (Some(b'*'), _) => (0..=s.len())
                .take_while(|&i| i == 0 || s[i - 1] != b'/')
                .any(|i| go(&p[1..], &s[i..])),
            (Some(b'?'), Some(c)) if *c != b'/' => go(&p[1..], &s[1..]),
            (Some(a), Some(b)) if a == b => go(&p[1..], &s[1..]),
            _ => false,
        }
    }
    if pattern.contains('/') {
        go(pattern.as_bytes(), path.as_bytes())
    } else {
        let name = path.rsplit('/').next().unwrap_or(path);
        go(pattern.as_bytes(), name.as_bytes())
    }
}

/// WAL checkpoints and backup retention, independent of each other: a backup that cannot be
/// pruned is logged and skipped, and never stops the checkpoints.
pub struct Maintenance {
    pub(crate) db: CodeDatabase,
    pub(crate) interval: Duration,
    /// This database's schema backups (`None`: a database without a name).
    pub(crate) backups: Option<codedb_schema::Backups>,
    pub(crate) keep_backups: usize,
}

impl Worker for Maintenance {
    fn name(&self) -> &str {
        "maintenance"
    }

    fn run(&self, ctx: &WorkerContext) -> Result<(), String> {
        while !ctx.sleep(self.interval) {
            #[cfg(feature = "failpoints")]
            fail::fail_point!("maintenance-tick");
            if let Some(backups) = self.backups.as_ref().filter(|b| b.dir().is_dir()) {
                // Failures are the prune's own: logged there (each file), and here.
                if let Err(e) = backups.prune(self.keep_backups) {
                    tracing::warn!("pruning backups failed: {e}");
                }
            }
            self.db
                .checkpoint()
                .map_err(|e| format!("checkpoint failed: {e}"))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    #[test]
    fn globs() {
        assert!(glob_match("*.gen.py", "a/b/x.gen.py"));
        assert!(!glob_match("*.gen.py", "a/b/x.py"));
        assert!(glob_match("build/**", "build/a/b.py"));
        assert!(!glob_match("build/*", "build/a/b.py"));
        assert!(glob_match("src/?.py", "src/a.py"));
    }
}
