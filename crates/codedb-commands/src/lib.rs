//! codedb's file-level work: the indexer now; the crash-safe write commands (edit, create,
//! delete, move with CST validation, file backups, an intent journal, `recover` and git
//! commits) come with the commands issue. This is the only crate that touches the working
//! tree (and, later, git).
//!
//! * [`index`] walks a tree (honouring `.gitignore`), parses changed files with tree-sitter
//!   in parallel and stores them through `CodeDatabase` in batched transactions.
//! * [`lang`] holds the languages: each a grammar plus an extractor; a new language is one
//!   module and one table entry.

pub mod indexer;
pub mod lang;

pub use indexer::{IndexError, IndexOptions, IndexSummary, Skipped, index};
