//! codedb's file-level work: the indexer and the crash-safe write commands. This is the
//! only crate that touches the working tree and git.
//!
//! * [`index`] walks a tree (the files [`visibility`] lets it see), parses changed files
//!   with tree-sitter in parallel and stores them through `CodeDatabase` in batched
//!   transactions.
//! * [`lang`] holds the languages: each a grammar plus an extractor; a new language is one
//!   module and one table entry.
//! * The write commands ([`edit`], [`replace_symbol`], [`create`], [`delete`],
//!   [`move_file`], [`restore`], and [`rename`] over many files) run one pipeline (see [`pipeline`]): validate the new
//!   content's syntax tree, back the old bytes up ([`backups`]), write a temp file, journal
//!   the intent ([`journal`]), update the database in the command's transaction, replace
//!   the target at the commit point without losing another program's bytes (`swap`),
//!   commit to git, commit the transaction. Any failure before the commit point undoes all
//!   of it; a crash is repaired by [`recover`], which every command runs first; [`verify`]
//!   checks that files, database and git agree.
//! * [`Project`] opens a project for the commands: its root, `.codedb/` (made with its
//!   `.gitignore` by [`create_state_dir`]), path checks (including the paths git refuses,
//!   `gitpath`) and per-file locks (`locks`).
//! * Errors are [`CommandError`]s, each of one [`ErrorKind`] (the caller's, a conflict, a
//!   command that landed with work left, internal), from which the command line and the
//!   MCP server derive their exit and error codes.
//!
//! Index a tree, then change a file through a command (no git here, so nothing is
//! committed):
//!
//! ```
//! use codedb_commands::{CommandOptions, EditOptions, IndexOptions, Project, edit, index};
//! use codedb_core::{CodeDatabase, CodeStore, Scope};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let dir = tempfile::tempdir()?;
//! # let root = dir.path();
//! std::fs::write(root.join("a.py"), "def f():\n    return 1\n")?;
//! let sqlite = codedb_sqlite::open(root.join("code.sqlite"))?;
//! let db = CodeDatabase::open_with_schema(sqlite.driver(), sqlite.schema_backend())?;
//! db.ensure_schema_synced(&Default::default())?;
//! index(&db, root, &IndexOptions::default())?;
//!
//! let project = Project::open(&db, root, CommandOptions::default())?;
//! let read = db.file_with_source(project.id(), "a.py")?.expect("indexed");
//! let report = edit(
//!     &project,
//!     "a.py",
//!     "def f():\n    return 2\n\ndef g():\n    pass\n",
//!     &EditOptions { expect_sha256: Some(read.file.meta.sha256), ..Default::default() },
//! )?;
//! assert!(report.sha256.is_some()); // chain it as the next `expect_sha256`
//! assert_eq!(db.find_symbol(Scope::Project(project.id()), "g")?.len(), 1);
//! assert!(codedb_commands::verify(&project)?.is_clean());
//! sqlite.stop()?;
//! # Ok(())
//! # }
//! ```

pub mod backups;
mod durable;
mod error;
mod git;
mod gitpath;
pub mod indexer;
pub mod journal;
pub mod lang;
mod locks;
pub mod map;
pub mod pipeline;
mod project;
mod recover;
pub mod resolve;
pub mod search;
mod state_dir;
mod swap;
mod symbol;
pub mod visibility;

pub use durable::{TEMP_MARKER, hex, is_temp_name};
pub use error::{CommandError, ErrorKind, LeftOver};
pub use indexer::{
    BACKGROUND_NICE, IndexError, IndexOptions, IndexSummary, Skipped, index, index_in_background,
};
pub use map::{DEFAULT_MAP_TOKENS, MAP_ENCODING, RepoMap, count_tokens, focus_of, repo_map};
pub use pipeline::{
    CommandKind, CommandReport, EditOptions, Placement, RenameOptions, RenameSummary, RenamedFile,
    create, delete, delete_symbol, edit, history, insert_symbol, move_file, rename, replace_symbol,
    restore,
};
pub use project::{CommandOptions, Project};
pub use recover::{
    Mismatch, RecoverReport, Unfinished, VerifyReport, recover, recover_files, verify,
};
pub use search::{CaseMode, SNIPPET_CHARS, SearchHit, SearchOptions, search};
pub use state_dir::{STATE_DIR, create_state_dir};

/// The largest file the index keeps and a command writes, by default: 10 MiB
/// (`limits.max_file_bytes` in `codedb.toml`).
pub const DEFAULT_MAX_FILE_BYTES: u64 = 10 * 1024 * 1024;
