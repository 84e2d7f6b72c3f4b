//! codedb's file-level work: the indexer and the crash-safe write commands. This is the
//! only crate that touches the working tree and git.
//!
//! * [`index`] walks a tree (the files [`visibility`] lets it see), parses changed files
//!   with tree-sitter in parallel and stores them through `CodeDatabase` in batched
//!   transactions.
//! * [`lang`] holds the languages: each a grammar plus an extractor; a new language is one
//!   module and one table entry.
//! * The write commands ([`edit`], [`replace_symbol`], [`create`], [`delete`],
//!   [`move_file`], [`restore`]) run one pipeline (see [`pipeline`]): validate the new
//!   content's syntax tree, back the old bytes up ([`backups`]), write a temp file, journal
//!   the intent ([`journal`]), update the database in the command's transaction, replace
//!   the target at the commit point without losing another program's bytes (`swap`),
//!   commit to git, commit the transaction. Any failure before the commit point undoes all
//!   of it; a crash is repaired by [`recover`], which every command runs first; [`verify`]
//!   checks that files, database and git agree.
//! * [`Project`] opens a project for the commands: its root, `.codedb/`, path checks
//!   (including the paths git refuses, `gitpath`) and per-file locks (`locks`).
//! * Errors are [`CommandError`]s, each of one [`ErrorKind`] (the caller's, a conflict, a
//!   command that landed with work left, internal), from which the command line and the
//!   MCP server derive their exit and error codes.

pub mod backups;
mod durable;
mod error;
mod git;
mod gitpath;
pub mod indexer;
pub mod journal;
pub mod lang;
mod locks;
pub mod pipeline;
mod project;
mod recover;
mod swap;
mod symbol;
pub mod visibility;

pub use durable::TEMP_MARKER;
pub use error::{CommandError, ErrorKind, LeftOver};
pub use indexer::{IndexError, IndexOptions, IndexSummary, Skipped, index};
pub use pipeline::{
    CommandKind, CommandReport, EditOptions, create, delete, edit, history, move_file,
    replace_symbol, restore,
};
pub use project::{CommandOptions, Project};
pub use recover::{Mismatch, RecoverReport, VerifyReport, recover, recover_files, verify};

/// The largest file the index keeps and a command writes, by default: 10 MiB
/// (`limits.max_file_bytes` in `codedb.toml`).
pub const DEFAULT_MAX_FILE_BYTES: u64 = 10 * 1024 * 1024;
