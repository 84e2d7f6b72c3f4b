//! `codedb.toml`: the server's configuration. Every key is optional and has the default
//! the README documents; an unknown key, a wrong type or a bad value is an error naming the
//! key, the file and its line, and nothing is created or changed.
//!
//! ```toml
//! [storage]
//! database = ".codedb/codedb.sqlite"   # relative to the project root
//! backup_dir = ".codedb/backups"       # schema backups
//! keep_backups = 10                    # schema backups kept
//! keep_file_backups = 20               # file backups kept per file
//!
//! [database]
//! driver = "sqlite"                    # or "postgres"
//! # url = "postgres://user@host:5432/codedb"   # driver = "postgres" only
//! # pool_size = 8                      # PostgreSQL connections
//! # connect_timeout_ms = 10000         # making a connection, handshake included
//! # statement_timeout_ms = 300000      # one statement on the server; 0: none
//!
//! [worker]
//! queue_capacity = 1024
//! queue_timeout_ms = 30000
//! busy_timeout_ms = 10000
//! readers = 4
//!
//! [watcher]
//! enabled = true
//! debounce_ms = 200
//! ignore = ["*.generated.py"]
//!
//! [maintenance]
//! interval_ms = 60000
//!
//! [limits]
//! max_file_bytes = 10485760            # the index skips larger files; commands refuse them
//!
//! [[project]]                          # several projects in one server (default: the root)
//! name = "api"
//! root = "services/api"                # relative to the server's root
//!
//! [server]
//! transport = "stdio"                  # or "http" (needs http, or `serve --http`)
//! # http = "127.0.0.1:8765"            # serve MCP over streamable HTTP at /mcp
//! # token = "..."                      # bearer token (default: .codedb/token, generated)
//! max_request_bytes = 4194304          # HTTP request bodies
//! max_response_bytes = 67108864        # HTTP answers
//! # allowed_origins = ["http://localhost:*"]   # Origin values accepted
//! max_answer_chars = 20000             # a tool's answer is cut to this many characters
//! ```

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The whole configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Where things are kept.
    pub storage: Storage,
    /// Which database.
    pub database: Database,
    /// The DB worker.
    pub worker: WorkerConfig,
    /// The file watcher.
    pub watcher: Watcher,
    /// The maintenance worker.
    pub maintenance: Maintenance,
    /// The MCP server.
    pub server: Server,
    /// Limits every command and the index share.
    pub limits: Limits,
    /// The projects one server serves (`[[project]]`); none: the server's root alone.
    #[serde(rename = "project")]
    pub projects: Vec<ProjectEntry>,
}

/// `[[project]]`: one project a server serves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectEntry {
    /// What tools call it (`project`): letters, digits, `_`, `-`, `.`; unique.
    pub name: String,
    /// Its root, relative to the server's root (or absolute); roots must not nest.
    pub root: PathBuf,
}

/// Whether `name` may name a project.
pub fn valid_project_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b))
}

/// `[limits]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// The largest file codedb indexes and writes, in bytes: the index (and the watcher)
    /// skip larger files, the write commands refuse larger content.
    pub max_file_bytes: u64,
}

/// The largest `limits.max_file_bytes` accepted: 1 GiB.
pub const MAX_FILE_BYTES_LIMIT: u64 = 1 << 30;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_file_bytes: codedb_commands::DEFAULT_MAX_FILE_BYTES,
        }
    }
}

/// `[storage]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Storage {
    /// The SQLite database file, relative to the project root.
    pub database: PathBuf,
    /// Schema backups, relative to the project root.
    pub backup_dir: PathBuf,
    /// Schema backups kept.
    pub keep_backups: usize,
    /// File backups kept per file.
    pub keep_file_backups: usize,
}

impl Default for Storage {
    fn default() -> Self {
        Storage {
            database: PathBuf::from(".codedb/codedb.sqlite"),
            backup_dir: PathBuf::from(".codedb/backups"),
            keep_backups: 10,
            keep_file_backups: 20,
        }
    }
}

/// `[database]`. Its `Debug` shows the URL redacted.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Database {
    /// `sqlite` (the embedded default: `storage.database`) or `postgres` (`url`).
    pub driver: String,
    /// The PostgreSQL connection URL (`postgres://user[:password]@host[:port]/database`);
    /// only with `driver = "postgres"`, where it is required.
    pub url: Option<String>,
    /// PostgreSQL connections kept.
    pub pool_size: u32,
    /// How long making a PostgreSQL connection may take, handshake included (the URL's
    /// `connect_timeout` takes precedence).
    pub connect_timeout_ms: u64,
    /// The PostgreSQL server's limit on one statement; 0: none (the URL's
    /// `options=-c statement_timeout=...` takes precedence).
    pub statement_timeout_ms: u64,
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Database")
            .field("driver", &self.driver)
            .field("url", &self.url.as_deref().map(codedb_backends::redact))
            .field("pool_size", &self.pool_size)
            .field("connect_timeout_ms", &self.connect_timeout_ms)
            .field("statement_timeout_ms", &self.statement_timeout_ms)
            .finish()
    }
}

impl Default for Database {
    fn default() -> Self {
        Database {
            driver: "sqlite".into(),
            url: None,
            pool_size: 8,
            connect_timeout_ms: 10_000,
            statement_timeout_ms: 300_000,
        }
    }
}

/// `[worker]`: the DB worker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WorkerConfig {
    /// Jobs waiting for the worker before senders block.
    pub queue_capacity: usize,
    /// A sender blocked on a full queue longer than this gets `Busy`.
    pub queue_timeout_ms: u64,
    /// SQLite's wait for a lock held by another process.
    pub busy_timeout_ms: u64,
    /// Read-only connections.
    pub readers: u32,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig {
            queue_capacity: 1024,
            queue_timeout_ms: 30_000,
            busy_timeout_ms: 10_000,
            readers: 4,
        }
    }
}

/// `[watcher]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Watcher {
    /// Re-index files changed by other programs.
    pub enabled: bool,
    /// Quiet time before a burst of changes is indexed.
    pub debounce_ms: u64,
    /// Extra glob patterns (besides `.gitignore`, `.git/`, `.codedb/`) whose changes are
    /// ignored.
    pub ignore: Vec<String>,
}

impl Default for Watcher {
    fn default() -> Self {
        Watcher {
            enabled: true,
            debounce_ms: 200,
            ignore: Vec::new(),
        }
    }
}

/// `[maintenance]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Maintenance {
    /// How often the WAL is checkpointed and backups are pruned.
    pub interval_ms: u64,
}

impl Default for Maintenance {
    fn default() -> Self {
        Maintenance {
            interval_ms: 60_000,
        }
    }
}

/// `[server]`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Server {
    /// `stdio`, or `http` (streamable HTTP at `http`).
    pub transport: String,
    /// Where MCP over streamable HTTP listens (`HOST:PORT`, or a port on 127.0.0.1); set,
    /// it makes the transport HTTP.
    pub http: Option<String>,
    /// The bearer token HTTP clients send (at least 16 characters); default: the content
    /// of `.codedb/token`, generated on first start. Required for a non-loopback address.
    pub token: Option<String>,
    /// The largest HTTP request body, in bytes.
    pub max_request_bytes: u64,
    /// The largest HTTP answer, in bytes.
    pub max_response_bytes: u64,
    /// `Origin` values accepted (`scheme://host[:port]`, `:*` for any port); default: the
    /// loopback origins on any port. A request without `Origin` (not from a browser) passes.
    pub allowed_origins: Option<Vec<String>>,
    /// The most characters of JSON a tool answers with: a longer list is cut (and says
    /// so, with the offset to go on from), a file's source too.
    pub max_answer_chars: u64,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("transport", &self.transport)
            .field("http", &self.http)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("max_request_bytes", &self.max_request_bytes)
            .field("max_response_bytes", &self.max_response_bytes)
            .field("allowed_origins", &self.allowed_origins)
            .field("max_answer_chars", &self.max_answer_chars)
            .finish()
    }
}

impl Default for Server {
    fn default() -> Self {
        Server {
            transport: "stdio".into(),
            http: None,
            token: None,
            max_request_bytes: 4 << 20,
            max_response_bytes: 64 << 20,
            allowed_origins: None,
            max_answer_chars: 20_000,
        }
    }
}

impl Server {
    /// Whether MCP is served over HTTP.
    pub fn is_http(&self) -> bool {
        self.transport == "http" || self.http.is_some()
    }
}

/// A configuration that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("{}: {message}", file.display())]
pub struct ConfigError {
    /// The file.
    pub file: PathBuf,
    /// What is wrong, where (key and line).
    pub message: String,
}

impl Config {
    /// Reads and validates `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: path.to_owned(),
            message: format!("cannot read: {e}"),
        })?;
        Self::parse(&text, path)
    }

    /// Parses and validates `text` (read from `file`, for messages).
    pub fn parse(text: &str, file: &Path) -> Result<Config, ConfigError> {
        let config: Config = toml::from_str(text).map_err(|e| ConfigError {
            file: file.to_owned(),
            message: describe(&e, text),
        })?;
        config.validate(text).map_err(|message| ConfigError {
            file: file.to_owned(),
            message,
        })?;
        Ok(config)
    }

    /// Values the types allow but codedb does not.
    fn validate(&self, text: &str) -> Result<(), String> {
        let bad = |key: &str, why: String| Err(format!("{}{key}: {why}", line_of(text, key)));
        match (self.database.driver.as_str(), self.database.url.as_deref()) {
            ("sqlite", None) => {}
            ("sqlite", Some(_)) => {
                return bad(
                    "database.url",
                    "only for driver = \"postgres\" (the SQLite file is storage.database)".into(),
                );
            }
            ("postgres", None) => {
                return bad(
                    "database.driver",
                    "driver = \"postgres\" needs database.url (postgres://user@host:5432/db)"
                        .into(),
                );
            }
            ("postgres", Some(url)) if !codedb_backends::DatabaseSpec::is_postgres_url(url) => {
                return bad(
                    "database.url",
                    format!(
                        "{:?} is not a PostgreSQL URL (postgres://user@host:5432/db)",
                        codedb_backends::redact(url)
                    ),
                );
            }
            ("postgres", Some(_)) => {}
            (other, _) => {
                return bad(
                    "database.driver",
                    format!("unknown driver {other:?} (supported: \"sqlite\", \"postgres\")"),
                );
            }
        }
        match self.server.transport.as_str() {
            "stdio" | "http" => {}
            other => {
                return bad(
                    "server.transport",
                    format!("unknown transport {other:?} (supported: \"stdio\", \"http\")"),
                );
            }
        }
        if let Some(addr) = &self.server.http
            && let Err(why) = crate::http::parse_addr(addr)
        {
            return bad("server.http", why);
        }
        if let Some(token) = &self.server.token
            && (token.len() < 16 || !token.bytes().all(|b| b.is_ascii_graphic()))
        {
            return bad(
                "server.token",
                "must be at least 16 printable ASCII characters without spaces".into(),
            );
        }
        for origin in self.server.allowed_origins.iter().flatten() {
            if !(origin.starts_with("http://") || origin.starts_with("https://")) {
                return bad(
                    "server.allowed_origins",
                    format!("{origin:?}: an origin is scheme://host[:port]"),
                );
            }
        }
        for (key, value, min, max) in self.numbers() {
            if value < min || value > max {
                return bad(key, format!("{value} is out of range: {min} to {max}"));
            }
        }
        if !(1..=MAX_FILE_BYTES_LIMIT).contains(&self.limits.max_file_bytes) {
            return bad(
                "limits.max_file_bytes",
                format!("must be between 1 and {MAX_FILE_BYTES_LIMIT} (1 GiB)"),
            );
        }
        let mut names = std::collections::HashSet::new();
        for p in &self.projects {
            if !valid_project_name(&p.name) {
                return bad(
                    "name",
                    format!(
                        "project name {:?}: 1 to 64 letters, digits, `_`, `-` or `.`",
                        p.name
                    ),
                );
            }
            if !names.insert(p.name.as_str()) {
                return bad("name", format!("project name {:?} is used twice", p.name));
            }
            if p.root.as_os_str().is_empty() {
                return bad(
                    "root",
                    format!("project {:?}: root must not be empty", p.name),
                );
            }
        }
        if self.storage.database.as_os_str().is_empty() {
            return bad("storage.database", "must not be empty".into());
        }
        Ok(())
    }

    /// Every numeric key with its value and its range (the README's table): checked before
    /// anything is opened or created.
    pub fn numbers(&self) -> [(&'static str, u128, u128, u128); 14] {
        const HOUR_MS: u128 = 3_600_000;
        const DAY_MS: u128 = 86_400_000;
        [
            (
                "storage.keep_backups",
                self.storage.keep_backups as u128,
                1,
                1000,
            ),
            (
                "storage.keep_file_backups",
                self.storage.keep_file_backups as u128,
                1,
                1000,
            ),
            ("database.pool_size", self.database.pool_size.into(), 1, 100),
            (
                "server.max_answer_chars",
                self.server.max_answer_chars.into(),
                1000,
                100_000_000,
            ),
            (
                "database.connect_timeout_ms",
                self.database.connect_timeout_ms.into(),
                100,
                600_000,
            ),
            (
                "database.statement_timeout_ms",
                self.database.statement_timeout_ms.into(),
                0,
                DAY_MS,
            ),
            (
                "worker.queue_capacity",
                self.worker.queue_capacity as u128,
                1,
                codedb_sqlite::SqliteConfig::MAX_QUEUE_CAPACITY as u128,
            ),
            (
                "worker.queue_timeout_ms",
                self.worker.queue_timeout_ms.into(),
                1,
                HOUR_MS,
            ),
            (
                "worker.busy_timeout_ms",
                self.worker.busy_timeout_ms.into(),
                0,
                HOUR_MS,
            ),
            (
                "worker.readers",
                self.worker.readers.into(),
                0,
                codedb_sqlite::SqliteConfig::MAX_READERS.into(),
            ),
            (
                "watcher.debounce_ms",
                self.watcher.debounce_ms.into(),
                0,
                60_000,
            ),
            (
                "maintenance.interval_ms",
                self.maintenance.interval_ms.into(),
                100,
                DAY_MS,
            ),
            (
                "server.max_request_bytes",
                self.server.max_request_bytes.into(),
                1024,
                1 << 30,
            ),
            (
                "server.max_response_bytes",
                self.server.max_response_bytes.into(),
                1024,
                1 << 30,
            ),
        ]
    }

    /// The database of the project at `root`: `storage.database` under it, or `database.url`.
    pub fn database_spec(&self, root: &Path) -> codedb_backends::DatabaseSpec {
        match (&*self.database.driver, &self.database.url) {
            ("postgres", Some(url)) => codedb_backends::DatabaseSpec::Postgres(url.clone()),
            _ => codedb_backends::DatabaseSpec::Sqlite(root.join(&self.storage.database)),
        }
    }

    /// Opens the database of the project at `root` with these settings (SQLite: the DB
    /// worker; PostgreSQL: the pool).
    pub fn open_database(&self, root: &Path) -> codedb_driver::Result<codedb_backends::Backend> {
        self.open_spec(self.database_spec(root))
    }

    /// Opens the database `spec` names (a `--db` given on the command line, or the
    /// configuration's own) with these settings: the `database.*` keys (pool, timeouts) and
    /// the SQLite settings.
    pub fn open_spec(
        &self,
        spec: codedb_backends::DatabaseSpec,
    ) -> codedb_driver::Result<codedb_backends::Backend> {
        match spec {
            codedb_backends::DatabaseSpec::Sqlite(path) => {
                codedb_backends::Backend::open_sqlite(self.sqlite(path))
            }
            codedb_backends::DatabaseSpec::Postgres(url) => {
                let mut pg = codedb_backends::PostgresConfig::new(url);
                pg.pool_size = self.database.pool_size;
                pg.connect_timeout = Duration::from_millis(self.database.connect_timeout_ms);
                pg.statement_timeout = (self.database.statement_timeout_ms > 0)
                    .then(|| Duration::from_millis(self.database.statement_timeout_ms));
                codedb_backends::Backend::open_postgres(&pg)
            }
        }
    }

    /// How the index (and the watcher) index with these settings.
    pub fn index_options(&self) -> codedb_commands::IndexOptions {
        codedb_commands::IndexOptions {
            max_file_bytes: self.limits.max_file_bytes,
            ..codedb_commands::IndexOptions::default()
        }
    }

    /// How the write commands run with these settings.
    pub fn command_options(&self) -> codedb_commands::CommandOptions {
        codedb_commands::CommandOptions {
            keep_backups: self.storage.keep_file_backups,
            git: true,
            max_file_bytes: self.limits.max_file_bytes,
        }
    }

    /// The SQLite configuration of the DB worker for the database at `path`.
    pub fn sqlite(&self, path: PathBuf) -> codedb_sqlite::SqliteConfig {
        let mut c = codedb_sqlite::SqliteConfig::new(path);
        c.queue_capacity = self.worker.queue_capacity;
        c.queue_timeout = Duration::from_millis(self.worker.queue_timeout_ms);
        c.busy_timeout = Duration::from_millis(self.worker.busy_timeout_ms);
        c.readers = self.worker.readers;
        c
    }
}

/// toml's message, which names the key and shows the line, on one line each.
fn describe(e: &toml::de::Error, text: &str) -> String {
    let line = e
        .span()
        .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
    let message = e.message().trim().to_owned();
    match line {
        Some(l) => format!("line {l}: {message}"),
        None => message,
    }
}

/// `line N: ` for the line where the last segment of `key` is set, if found.
fn line_of(text: &str, key: &str) -> String {
    let last = key.rsplit('.').next().unwrap_or(key);
    text.lines()
        .position(|l| {
            let l = l.trim_start();
            l.starts_with(last) && l[last.len()..].trim_start().starts_with('=')
        })
        .map(|i| format!("line {}: ", i + 1))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, String> {
        Config::parse(text, Path::new("codedb.toml")).map_err(|e| e.to_string())
    }

    #[test]
    fn debug_shows_the_database_url_redacted() {
        let c = parse(
            "[database]\ndriver = \"postgres\"\nurl = \"postgres://u:s3cret@h/db?password=s3@cret\"\n",
        )
        .unwrap();
        let shown = format!("{c:?}");
        assert!(
            shown.contains("postgres://u:***@h/db?password=***"),
            "{shown}"
        );
        assert!(!shown.contains("s3"), "{shown}");
    }

    #[test]
    fn empty_is_the_defaults() {
        assert_eq!(parse("").unwrap(), Config::default());
        let c = parse("[watcher]\ndebounce_ms = 50\n").unwrap();
        assert_eq!(c.watcher.debounce_ms, 50);
        assert!(c.watcher.enabled);
    }

    #[test]
    fn unknown_keys_wrong_types_and_bad_values_name_key_and_line() {
        let e = parse("[storage]\nkeep_backups = 3\ndatabse = \"x\"\n").unwrap_err();
        assert!(e.contains("line 3") && e.contains("databse"), "{e}");
        let e = parse("[watcher]\nenabled = \"yes\"\n").unwrap_err();
        assert!(e.contains("line 2") && e.contains("bool"), "{e}");
        let e = parse("[nope]\n").unwrap_err();
        assert!(e.contains("nope"), "{e}");
        let e = parse("[database]\n\ndriver = \"oracle\"\n").unwrap_err();
        assert!(
            e.contains("line 3") && e.contains("database.driver") && e.contains("oracle"),
            "{e}"
        );
        let e = parse("[worker]\nqueue_capacity = 0\n").unwrap_err();
        assert!(
            e.contains("line 2") && e.contains("worker.queue_capacity"),
            "{e}"
        );
        let e = parse("[worker]\nqueue_capacity = 1000000000000\n").unwrap_err();
        assert!(
            e.contains("line 2") && e.contains("worker.queue_capacity") && e.contains("100000"),
            "{e}"
        );
        let e = parse("[worker]\nqueue_capacity = 100000000\n").unwrap_err();
        assert!(e.contains("worker.queue_capacity"), "{e}");
        let e = parse("[worker]\n\nbusy_timeout_ms = 2147483648\n").unwrap_err();
        assert!(
            e.contains("line 3") && e.contains("worker.busy_timeout_ms"),
            "{e}"
        );
        let e = parse("[database]\nconnect_timeout_ms = 5\n").unwrap_err();
        assert!(e.contains("database.connect_timeout_ms"), "{e}");
        let e = parse("[worker]\nreaders = -1\n").unwrap_err();
        assert!(e.contains("line 2"), "{e}");
        assert!(e.starts_with("codedb.toml: "), "{e}");
    }

    #[test]
    fn projects() {
        let c = parse(
            "[[project]]\nname = \"a\"\nroot = \"x\"\n[[project]]\nname = \"b\"\nroot = \"/y\"\n",
        )
        .unwrap();
        assert_eq!(c.projects.len(), 2);
        assert_eq!(c.projects[1].root, Path::new("/y"));
        let e = parse(
            "[[project]]\nname = \"a\"\nroot = \"x\"\n[[project]]\nname = \"a\"\nroot = \"y\"\n",
        )
        .unwrap_err();
        assert!(e.contains("used twice"), "{e}");
        let e = parse("[[project]]\nname = \"../a\"\nroot = \"x\"\n").unwrap_err();
        assert!(e.contains("line 2"), "{e}");
        let e = parse("[[project]]\nname = \"a\"\n").unwrap_err();
        assert!(e.contains("root"), "{e}");
    }

    #[test]
    fn server_keys() {
        let c = parse("[server]\nhttp = \"9000\"\ntoken = \"0123456789abcdef\"\n").unwrap();
        assert!(c.server.is_http());
        assert!(!format!("{c:?}").contains("0123456789abcdef"));
        let e = parse("[server]\nhttp = \"nowhere\"\n").unwrap_err();
        assert!(e.contains("line 2") && e.contains("server.http"), "{e}");
        let e = parse("[server]\ntoken = \"short\"\n").unwrap_err();
        assert!(e.contains("server.token"), "{e}");
        let e = parse("[server]\nmax_request_bytes = 10\n").unwrap_err();
        assert!(e.contains("server.max_request_bytes"), "{e}");
        let e = parse("[server]\nallowed_origins = [\"evil\"]\n").unwrap_err();
        assert!(e.contains("server.allowed_origins"), "{e}");
        let e = parse("[server]\ntransport = \"ws\"\n").unwrap_err();
        assert!(e.contains("server.transport"), "{e}");
    }
}
