//! codedb's file-level commands: not built yet.
//!
//! This crate will hold the indexer and the crash-safe write commands (edit, create, delete,
//! move) with their CST validation, file backups, temp files, intent journal, `recover` and
//! git commits, as the design brief's "Commands (file level)" describes. It is the only crate
//! that touches the working tree and git. Until the index and commands issues land it exports
//! nothing.
