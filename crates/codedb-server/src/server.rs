//! Startup and shutdown, in an order you can rely on (each step logged, and recorded in
//! [`Server::steps`] for tests):
//!
//! 1. `config`: load and validate the configuration (an error starts nothing);
//! 2. `recover`: resolve command intents left by a crash, as far as the files go: a command
//!    that died before its commit point is rolled back (this needs no database);
//! 3. `database`: start the DB worker from the configuration and open `CodeDatabase` (an
//!    existing SQLite file is planned through a read-only open first, so that a startup
//!    that step 4 would refuse does not even change its journal mode);
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
    /// The `[[project]]` entries cannot be served together.
    #[error("projects: {0}")]
    Projects(String),
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

/// One project a server serves: its name (what tools call it), its root, and the
/// commands' handle on it (path checks, locks, journal under its own `.codedb/`).
pub(crate) struct ServedProject {
    pub(crate) name: String,
    pub(crate) root: PathBuf,
    pub(crate) project: Project,
}

/// A running server: database, projects, workers.
pub struct Server {
    pub(crate) db: CodeDatabase,
    pub(crate) projects: Vec<ServedProject>,
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
        let roots = project_roots(&root, &config)?;
        step(&mut steps, "config", "configuration loaded and valid");
        // 2. recover, as far as the files go, in each project
        let (mut rolled, mut busy) = (0, 0);
        for (_, project_root) in &roots {
            let r = codedb_commands::recover_files(project_root).map_err(StartError::Recover)?;
            rolled += r.rolled_back.len();
            busy += r.busy;
        }
        step(
            &mut steps,
            "recover",
            &format!("{rolled} interrupted commands rolled back; {busy} left to a running command"),
        );
        // 3. database
        let spec = config.database_spec(&root);
        for dir in spec
            .sqlite_path()
            .and_then(Path::parent)
            .map(Path::to_owned)
            .into_iter()
            .chain([root.join(codedb_commands::STATE_DIR)])
            .chain(
                roots
                    .iter()
                    .map(|(_, r)| r.join(codedb_commands::STATE_DIR)),
            )
        {
            let dir = dir.as_path();
            codedb_commands::create_state_dir(dir).map_err(|e| {
                StartError::Database(format!("creating {}: {e}", dir.display()).into())
            })?;
        }
        let backup_dir = root.join(&config.storage.backup_dir);
        let sync_options = SyncOptions {
            backup_dir: Some(backup_dir.clone()),
            keep_backups: config.storage.keep_backups,
            ..SyncOptions::default()
        };
        // An existing SQLite file is planned through a read-only open first: the read-write
        // open sets WAL mode, which a startup that will refuse must leave as it was.
        if let Some(path) = spec.sqlite_path().filter(|p| p.is_file()) {
            let reader = codedb_backends::Backend::open_sqlite(codedb_sqlite::SqliteConfig {
                read_only: true,
                readers: 0,
                ..config.sqlite(path.to_owned())
            })
            .map_err(|e| StartError::Database(Box::new(e)))?;
            let planned = CodeDatabase::open_with_schema(reader.driver(), reader.schema_backend())
                .map_err(|e| StartError::Database(Box::new(e)))
                .and_then(|db| refuse_a_rebuild(&db, &sync_options, &spec, &backup_dir));
            let _ = reader.stop();
            planned?;
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
        // Plan first (again, for SQLite: the file may have been created meanwhile): a startup
        // that will refuse changes nothing (no backup, no safe step).
        refuse_a_rebuild(&db, &sync_options, &spec, &backup_dir).map_err(stop_db)?;
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
        // 5. recover: the database and git, in each project
        let mut projects = Vec::with_capacity(roots.len());
        let (mut forward, mut back, mut failed) = (0, 0, 0);
        for (name, project_root) in &roots {
            let project = Project::open(&db, project_root, config.command_options())
                .map_err(|e| stop_db(StartError::Recover(e)))?;
            let recovered =
                codedb_commands::recover(&project).map_err(|e| stop_db(StartError::Recover(e)))?;
            for u in &recovered.failed {
                // Left for a later `recover`; the files it touches refuse commands meanwhile.
                tracing::warn!(project = %name, id = %u.id, paths = ?u.paths, "an interrupted command cannot be finished: {}", u.error);
            }
            forward += recovered.rolled_forward.len();
            back += recovered.rolled_back.len();
            failed += recovered.failed.len();
            projects.push(ServedProject {
                name: name.clone(),
                root: project_root.clone(),
                project,
            });
        }
        step(
            &mut steps,
            "recover_database",
            &format!("{forward} commands completed, {back} rolled back, {failed} not finished"),
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
        for served in projects.iter().filter(|_| config.watcher.enabled) {
            start(
                &mut workers,
                Arc::new(FileWatcher {
                    name: if projects.len() == 1 {
                        "watcher".to_owned()
                    } else {
                        format!("watcher:{}", served.name)
                    },
                    db: db.clone(),
                    root: served.root.clone(),
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
            projects,
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

    /// The projects served: name and root, in the configuration's order.
    pub fn projects(&self) -> impl Iterator<Item = (&str, &Path)> {
        self.projects
            .iter()
            .map(|p| (p.name.as_str(), p.root.as_path()))
    }

    /// The project a tool call names (`None`: the only one; with several, it must be
    /// named), or why not.
    pub(crate) fn project(&self, name: Option<&str>) -> Result<&ServedProject, String> {
        let names = || {
            self.projects
                .iter()
                .map(|p| p.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        match (name, self.projects.as_slice()) {
            (None, [only]) => Ok(only),
            (None, _) => Err(format!(
                "this server serves several projects: name one with `project` ({})",
                names()
            )),
            (Some(n), all) => all
                .iter()
                .find(|p| p.name == n)
                .ok_or_else(|| format!("unknown project {n:?} (projects: {})", names())),
        }
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

/// The projects to serve: the `[[project]]` entries (roots relative to `root`, each an
/// existing directory, no two nested), or `root` alone, named after its directory.
fn project_roots(root: &Path, config: &Config) -> Result<Vec<(String, PathBuf)>, StartError> {
    if config.projects.is_empty() {
        let name = root
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .filter(|n| crate::config::valid_project_name(n))
            .unwrap_or_else(|| "default".to_owned());
        return Ok(vec![(name, root.to_owned())]);
    }
    let mut roots: Vec<(String, PathBuf)> = Vec::new();
    for p in &config.projects {
        let given = root.join(&p.root);
        let dir = given.canonicalize().map_err(|source| StartError::Root {
            path: given.clone(),
            source,
        })?;
        if !dir.is_dir() {
            return Err(StartError::NotADirectory(dir));
        }
        if let Some((other, _)) = roots
            .iter()
            .find(|(_, r)| r.starts_with(&dir) || dir.starts_with(r))
        {
            return Err(StartError::Projects(format!(
                "the roots of {other:?} and {:?} nest ({}); each file must belong to one project",
                p.name,
                dir.display()
            )));
        }
        roots.push((p.name.clone(), dir));
    }
    Ok(roots)
}

/// Plans the sync of `db` by `options` without changing anything, and refuses (naming the
/// command that makes it) when it needs a table rebuild, which a startup never makes.
fn refuse_a_rebuild(
    db: &CodeDatabase,
    options: &SyncOptions,
    spec: &codedb_backends::DatabaseSpec,
    backup_dir: &Path,
) -> Result<(), StartError> {
    let plan = db
        .ensure_schema_synced(&SyncOptions {
            dry_run: true,
            ..options.clone()
        })
        .map_err(StartError::Schema)?;
    match plan.rebuild_needed() {
        Some(why) => Err(StartError::RebuildNeeded {
            why,
            command: rebuild_command(spec, backup_dir),
        }),
        None => Ok(()),
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
