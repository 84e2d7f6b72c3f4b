//! codedb's file-level work: the indexer and the crash-safe write commands. This is the
//! only crate that touches the working tree and git.
//!
//! * [`index`] walks a tree (honouring `.gitignore`), parses changed files with tree-sitter
//!   in parallel and stores them through `CodeDatabase` in batched transactions.
//! * [`lang`] holds the languages: each a grammar plus an extractor; a new language is one
//!   module and one table entry.
//! * The write commands ([`edit`], [`replace_symbol`], [`create`], [`delete`],
//!   [`move_file`], [`restore`]) run one pipeline (see [`pipeline`]): validate the new
//!   content's syntax tree, back the old bytes up ([`backups`]), write a temp file, journal
//!   the intent ([`journal`]), update the database in the command's transaction, rename over
//!   the target, commit to git, commit the transaction. Any
//!   failure undoes all of it; a crash is repaired by [`recover`], which every command runs
//!   first; [`verify`] checks that files, database and git agree.
//! * [`Project`] opens a project for the commands: its root, `.codedb/`, path checks and
//!   per-file locks; [`create_state_dir`] makes `.codedb/` with its `.gitignore`.

pub mod backups;
mod git;
pub mod indexer;
pub mod journal;
pub mod lang;
pub mod pipeline;
mod project;
mod recover;
mod state_dir;
mod symbol;

pub use indexer::{IndexError, IndexOptions, IndexSummary, Skipped, index};
pub use pipeline::{
    CommandReport, EditOptions, create, delete, edit, history, move_file, replace_symbol, restore,
};
pub use project::{CommandError, CommandOptions, Project, TEMP_MARKER};
pub use recover::{Mismatch, RecoverReport, VerifyReport, recover, recover_files, verify};
pub use state_dir::{STATE_DIR, create_state_dir};
