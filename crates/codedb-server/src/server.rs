//! Startup and shutdown, in an order you can rely on (each step logged, and recorded in
//! [`Server::steps`] for tests):
//!
//! 1. `config`: load and validate the configuration (an error starts nothing);
//! 2. `recover`: resolve command intents left by a crash, as far as the files go: a command
//!    that died before its commit point is rolled back (this needs no database);
//! 3. `database`: start the DB worker from the configuration and open `CodeDatabase`;
//! 4. `schema`: `ensure_schema_synced` (a backup first when something changes); a change a
//!    safe sync cannot make (a table that needs a rebuild) refuses startup with the reason,
//!    before any worker starts;
//! 5. `recover_database`: commands that died after their commit point are completed: the
//!    database and git are brought to the files (this writes through `CodeDatabase`, so it
//!    needs the code schema);
//! 6. `workers`: the WorkerManager starts `db`, `watcher`, `maintenance`;
//! 7. `ready`: serve.
//!
//! Shutdown runs it backwards: stop accepting (the transport closes), let in-flight tool
//! calls finish (each is one command: it commits or rolls back), stop the workers in reverse
//! order, stop the DB worker (it drains its queue and checkpoints the WAL).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use codedb_commands::Project;
use codedb_core::{CodeDatabase, SyncOptions};
use parking_lot::Mutex;

use crate::builtin::{DbMonitor, FileWatcher, Maintenance};
use crate::config::{Config, ConfigError};
use crate::workers::{StatusHandle, WorkerManager};

/// Why the server did not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The configuration is unusable (exit code 2).
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The project root cannot be opened.
    #[error("{}: {source}", path.display())]
    Root {
        /// The root as given.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The project root is not a directory.
    #[error("{}: not a directory", .0.display())]
    NotADirectory(PathBuf),
    /// The database could not be opened.
    #[error("opening the database failed: {0}")]
    Database(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The schema sync failed: nothing was started.
    #[error("schema sync refused, no worker started: {0}")]
    Schema(#[source] codedb_core::Error),
    /// The schema needs a change that takes a table rebuild, which a startup never makes:
    /// nothing was changed or started.
    #[error(
        "schema sync refused, no worker started: {why}; nothing was changed; run `{command}` (a backup is taken first)"
    )]
    RebuildNeeded {
        /// What needs the rebuild.
        why: String,
        /// The command that makes it, for this database.
        command: String,
    },
    /// Recovering leftover commands failed.
    #[error("recovering interrupted commands failed: {0}")]
    Recover(#[source] codedb_commands::CommandError),
    /// A worker could not start.
    #[error("starting the workers failed: {0}")]
    Workers(#[source] std::io::Error),
    /// Serving MCP failed.
    #[error("serving MCP failed: {0}")]
    Serve(String),
}

/// A running server: database, project, workers.
pub struct Server {
    pub(crate) db: CodeDatabase,
    pub(crate) project: Project,
    pub(crate) root: PathBuf,
    manager: Arc<codedb_backends::Backend>,
    workers: Mutex<Option<WorkerManager>>,
    pub(crate) status: StatusHandle,
    steps: Vec<String>,
    pub(crate) config: Config,
    watcher_runs: Arc<Mutex<(u64, u64)>>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("root", &self.root)
            .field("steps", &self.steps)
            .finish_non_exhaustive()
    }
}

fn step(steps: &mut Vec<String>, name: &str, detail: &str) {
    tracing::info!(step = name, "{detail}");
    steps.push(name.to_owned());
}

impl Server {
    /// Starts the server for the project at `root` with the configuration file `config`
    /// (none: the defaults).
    pub fn start(root: &Path, config: Option<&Path>) -> Result<Server, StartError> {
        Self::start_on(root, config, None)
    }

    /// [`start`](Self::start), with the database `database` instead of the configuration's.
    pub fn start_on(
        root: &Path,
        config: Option<&Path>,
        database: Option<codedb_backends::DatabaseSpec>,
    ) -> Result<Server, StartError> {
        let mut steps = Vec::new();
        // 1. configuration
        let mut config = match config {
            Some(path) => Config::load(path)?,
            None => Config::default(),
        };
        match database {
            Some(codedb_backends::DatabaseSpec::Postgres(url)) => {
                config.database.driver = "postgres".into();
                config.database.url = Some(url);
            }
            Some(codedb_backends::DatabaseSpec::Sqlite(path)) => {
                config.database.driver = "sqlite".into();
                config.database.url = None;
                config.storage.database = path;
            }
            None => {}
        }
        let root = root.canonicalize().map_err(|source| StartError::Root {
            path: root.to_owned(),
            source,
        })?;
        if !root.is_dir() {
            return Err(StartError::NotADirectory(root));
        }
        step(&mut steps, "config", "configuration loaded and valid");
        // 2. recover, as far as the files go
        let rolled_back = codedb_commands::recover_files(&root).map_err(StartError::Recover)?;
        step(
            &mut steps,
            "recover",
            &format!(
                "{} interrupted commands rolled back; {} left to a running command",
                rolled_back.rolled_back.len(),
                rolled_back.busy
            ),
        );
        // 3. database
        let spec = config.database_spec(&root);
        for dir in spec
            .sqlite_path()
            .and_then(Path::parent)
            .into_iter()
            .chain([root.join(codedb_commands::STATE_DIR).as_path()])
        {
            codedb_commands::create_state_dir(dir).map_err(|e| {
                StartError::Database(format!("creating {}: {e}", dir.display()).into())
            })?;
        }
        let manager = Arc::new(
            config
                .open_database(&root)
                .map_err(|e| StartError::Database(Box::new(e)))?,
        );
        let db = CodeDatabase::open_with_schema(manager.driver(), manager.schema_backend())
            .map_err(|e| StartError::Database(Box::new(e)))?;
        step(
            &mut steps,
            "database",
            &format!(
                "{} database open ({spec}), CodeDatabase open",
                manager.name()
            ),
        );
        // 4. schema
        let stop_db = |e: StartError| {
            let _ = manager.stop();
            e
        };
        let backup_dir = root.join(&config.storage.backup_dir);
        let sync_options = SyncOptions {
            backup_dir: Some(backup_dir.clone()),
            keep_backups: config.storage.keep_backups,
            ..SyncOptions::default()
        };
        // Plan first: a startup that will refuse changes nothing (no backup, no safe step).
        let plan = db
            .ensure_schema_synced(&SyncOptions {
                dry_run: true,
                ..sync_options.clone()
            })
            .map_err(|e| stop_db(StartError::Schema(e)))?;
        if let Some(why) = plan.rebuild_needed() {
            return Err(stop_db(StartError::RebuildNeeded {
                why,
                command: rebuild_command(&spec, &backup_dir),
            }));
        }
        let report = db
            .ensure_schema_synced(&sync_options)
            .map_err(|e| stop_db(StartError::Schema(e)))?;
        step(
            &mut steps,
            "schema",
            &match &report.backup_path {
                Some(b) => format!("schema synced; backup {b}"),
                None => "schema up to date".to_owned(),
            },
        );
        // 5. recover: the database and git
        let project = Project::open(&db, &root, config.command_options())
            .map_err(|e| stop_db(StartError::Recover(e)))?;
        let recovered =
            codedb_commands::recover(&project).map_err(|e| stop_db(StartError::Recover(e)))?;
        for u in &recovered.failed {
            // Left for a later `recover`; the files it touches refuse commands meanwhile.
            tracing::warn!(id = %u.id, paths = ?u.paths, "an interrupted command cannot be finished: {}", u.error);
        }
        step(
            &mut steps,
            "recover_database",
            &format!(
                "{} commands completed, {} rolled back, {} not finished",
                recovered.rolled_forward.len(),
                recovered.rolled_back.len(),
                recovered.failed.len()
            ),
        );
        // 6. workers
        let mut workers = WorkerManager::new(Some(root.join(".codedb/status.json")));
        let start = |workers: &mut WorkerManager, w: Arc<dyn crate::Worker>| {
            workers.start(w).map_err(StartError::Workers)
        };
        start(
            &mut workers,
            Arc::new(DbMonitor {
                manager: Arc::clone(&manager),
            }),
        )?;
        let watcher_runs: Arc<Mutex<(u64, u64)>> = Arc::default();
        if config.watcher.enabled {
            start(
                &mut workers,
                Arc::new(FileWatcher {
                    db: db.clone(),
                    root: root.clone(),
                    options: config.index_options(),
                    debounce: Duration::from_millis(config.watcher.debounce_ms),
                    ignore: config.watcher.ignore.clone(),
                    runs: Arc::clone(&watcher_runs),
                }),
            )?;
        }
        start(
            &mut workers,
            Arc::new(Maintenance {
                db: db.clone(),
                interval: Duration::from_millis(config.maintenance.interval_ms),
                backups: codedb_schema::Backups::of(
                    manager.schema_backend().as_ref(),
                    Some(&backup_dir),
                ),
                keep_backups: config.storage.keep_backups,
            }),
        )?;
        step(&mut steps, "workers", "workers started");
        let status = workers.status_handle();
        step(&mut steps, "ready", "serving");
        Ok(Server {
            db,
            project,
            root,
            manager,
            workers: Mutex::new(Some(workers)),
            status,
            steps,
            config,
            watcher_runs,
        })
    }

    /// The startup steps taken, in order.
    pub fn steps(&self) -> &[String] {
        &self.steps
    }

    /// The project root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The database.
    pub fn database(&self) -> &CodeDatabase {
        &self.db
    }

    /// What a query covers: this server's project, or every project in the database.
    pub(crate) fn scope(&self, all_projects: Option<bool>) -> codedb_core::Scope {
        if all_projects == Some(true) {
            codedb_core::Scope::All
        } else {
            codedb_core::Scope::Project(self.project.id())
        }
    }

    /// The most characters of JSON a tool answers with (`server.max_answer_chars`).
    pub(crate) fn budget(&self) -> usize {
        usize::try_from(self.config.server.max_answer_chars).unwrap_or(usize::MAX)
    }

    /// The workers' status.
    pub fn status(&self) -> Vec<crate::WorkerStatus> {
        self.status.status()
    }

    /// How many times the watcher has re-indexed so far.
    pub fn watcher_runs(&self) -> u64 {
        self.watcher_runs.lock().0
    }

    /// The configuration in use.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Stops the workers (reverse order), then the DB worker (drain, checkpoint).
    pub fn shutdown(&self) {
        if let Some(mut w) = self.workers.lock().take() {
            tracing::info!(step = "shutdown", "stopping the workers");
            w.stop_all();
        }
        if let Err(e) = self.manager.stop() {
            tracing::warn!("stopping the DB worker: {e}");
        }
        tracing::info!(step = "shutdown", "stopped");
    }
}

/// The command that makes the rebuild a refused startup needs, for this very database
/// (`--db` and `--backup-dir` spelled out, so it works from any directory).
fn rebuild_command(spec: &codedb_backends::DatabaseSpec, backup_dir: &Path) -> String {
    format!(
        "codedb schema sync --allow-rebuild --db {} --backup-dir {}",
        shell_quote(&spec.to_string()),
        shell_quote(&backup_dir.display().to_string())
    )
}

/// `text` as one shell word.
fn shell_quote(text: &str) -> String {
    let plain = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_./:@%+=,-".contains(c));
    if plain {
        text.to_owned()
    } else {
        format!("'{}'", text.replace('\'', "'\\''"))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shutdown();
    }
}
