//! The errors of the write commands, `recover` and `verify`, and what kind of failure each
//! one is ([`CommandError::kind`]): the caller's (bad input), a conflict with another
//! writer, a command that landed with work left for `recover`, or an internal failure. The
//! command line's exit codes and the MCP server's error codes are both derived from that
//! one classification.

use std::path::{Path, PathBuf};

use crate::pipeline::CommandReport;

/// What kind of failure a [`CommandError`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The request cannot be carried out as given: a bad path, a syntax error in the new
    /// content, a missing symbol, a file over the size limit. Nothing changed.
    User,
    /// Another writer got in the way (another codedb command, another program changing the
    /// file, an unexpected `expect_sha256`). Nothing changed; read the file again and retry.
    Conflict,
    /// The command passed its commit point (the file has its new content) but a later step
    /// failed; `codedb recover` (which every command runs first) finishes it.
    Landed,
    /// Something failed that the caller could not have prevented (the disk, the database,
    /// git). Everything was undone unless the message says otherwise.
    Internal,
}

/// What can go wrong in a write command, `recover` or `verify`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CommandError {
    /// The path is not one codedb may write.
    #[error("{path}: {reason}")]
    InvalidPath {
        /// As given.
        path: String,
        /// Why it is refused.
        reason: String,
    },
    /// An argument's value is malformed (not a path: those are [`InvalidPath`](Self::InvalidPath)).
    #[error("{name}: {reason}")]
    InvalidArgument {
        /// The argument.
        name: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The file must exist and does not.
    #[error("{0}: no such file")]
    NotFound(String),
    /// The file must not exist and does.
    #[error("{0}: already exists")]
    AlreadyExists(String),
    /// codedb does not parse this kind of file.
    #[error(
        "{0}: not a language codedb indexes (python, rust, typescript, tsx, javascript, go, java, c, cpp); codedb edits only those"
    )]
    Unsupported(String),
    /// The new content is larger than the project's file size limit.
    #[error(
        "{path}: {size} bytes is over the file size limit of {limit} bytes (`limits.max_file_bytes` in codedb.toml); nothing was changed"
    )]
    TooLarge {
        /// The file.
        path: String,
        /// The size of the content.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// The new content does not parse.
    #[error("{path}:{line}:{column}: {message} at `{construct}`; nothing was changed")]
    Syntax {
        /// The file.
        path: String,
        /// 1-based line.
        line: i64,
        /// 1-based column.
        column: i64,
        /// What tree-sitter found.
        message: String,
        /// The offending source text (its line, trimmed).
        construct: String,
    },
    /// Another command holds the file, another program changed it, or it is not the version
    /// the caller expected.
    #[error("{path}: conflict: {reason}")]
    Conflict {
        /// The file.
        path: String,
        /// What conflicts.
        reason: String,
    },
    /// A symbol could not be found or is ambiguous.
    #[error("{path}: {reason}")]
    Symbol {
        /// The file.
        path: String,
        /// What is wrong, with the candidates.
        reason: String,
    },
    /// The repository is in a state codedb will not commit into.
    #[error("git refused: {0}; nothing was changed")]
    GitRefused(String),
    /// A git command failed.
    #[error("git failed while {step}: {message}")]
    Git {
        /// What codedb was doing.
        step: String,
        /// git's own message.
        message: String,
    },
    /// A file-system operation failed.
    #[error("{op} {}: {source}", path.display())]
    Io {
        /// What codedb was doing.
        op: &'static str,
        /// On what.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The database failed.
    #[error(transparent)]
    Database(#[from] codedb_core::Error),
    /// A failure after part of the command had happened; everything was undone.
    #[error("{error}; the command was rolled back")]
    RolledBack {
        /// The failure.
        #[source]
        error: Box<CommandError>,
    },
    /// A failure whose undo failed as well: `codedb recover` finishes the job.
    #[error("{error}; undoing it also failed ({undo}); run `codedb recover`")]
    UndoFailed {
        /// The failure.
        error: Box<CommandError>,
        /// Why the undo failed.
        #[source]
        undo: Box<CommandError>,
    },
    /// The command passed its commit point: the file has its new content (as `report`
    /// says), but the steps in `left` failed. Its intent stays in the journal, and `codedb
    /// recover` (which every command runs first) brings the database and git to the file.
    #[error(
        "{} {} landed ({}), but {}; `codedb recover` finishes it",
        report.kind,
        report.paths.join(" -> "),
        match report.kind {
            crate::CommandKind::Delete => "the file is gone",
            crate::CommandKind::Move => "the file is at its new path",
            _ => "the file has its new content",
        },
        left.iter().map(|l| format!("{} failed: {}", l.step, l.error)).collect::<Vec<_>>().join("; ")
    )]
    Landed {
        /// What the command did.
        report: Box<CommandReport>,
        /// The steps after the commit point that failed.
        left: Vec<LeftOver>,
    },
    /// An interrupted command on this file could not be finished by `recover` (its intent
    /// stays): nothing else may change the file until it is.
    #[error(
        "{path}: an interrupted command ({id}) on this file cannot be finished: {error}; fix that, then run `codedb recover`"
    )]
    Unfinished {
        /// The file.
        path: String,
        /// The interrupted command's id.
        id: String,
        /// Why `recover` cannot finish it.
        error: String,
    },
    /// A fault injected by a failpoint (tests only).
    #[error("injected failure after {0}")]
    InjectedFault(&'static str),
    /// A simulated crash at a failpoint (tests only): nothing was undone, as after `kill -9`.
    #[error("simulated crash after {0}")]
    SimulatedCrash(&'static str),
}

/// A step after a command's commit point that failed, left for `recover`.
#[derive(Debug)]
pub struct LeftOver {
    /// `git commit`, `database`, ...
    pub step: &'static str,
    /// Why it failed.
    pub error: Box<CommandError>,
}

impl LeftOver {
    pub(crate) fn new(step: &'static str, error: CommandError) -> Self {
        LeftOver {
            step,
            error: Box::new(error),
        }
    }
}

impl CommandError {
    /// An I/O error on `path`.
    pub(crate) fn io(op: &'static str, path: &Path, source: std::io::Error) -> Self {
        CommandError::Io {
            op,
            path: path.to_owned(),
            source,
        }
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        match self {
            CommandError::InvalidPath { .. }
            | CommandError::InvalidArgument { .. }
            | CommandError::NotFound(_)
            | CommandError::AlreadyExists(_)
            | CommandError::Unsupported(_)
            | CommandError::TooLarge { .. }
            | CommandError::Syntax { .. }
            | CommandError::Symbol { .. }
            | CommandError::GitRefused(_) => ErrorKind::User,
            // A definition not found, or a name that picks several (listed).
            CommandError::Database(e) if e.is_callers() => ErrorKind::User,
            CommandError::Conflict { .. } => ErrorKind::Conflict,
            CommandError::Landed { .. } => ErrorKind::Landed,
            CommandError::RolledBack { error } => error.kind(),
            // Not everything was undone: whatever the cause, the caller must look.
            CommandError::UndoFailed { .. } => ErrorKind::Internal,
            CommandError::Git { .. }
            | CommandError::Unfinished { .. }
            | CommandError::Io { .. }
            | CommandError::Database(_)
            | CommandError::InjectedFault(_)
            | CommandError::SimulatedCrash(_) => ErrorKind::Internal,
        }
    }

    /// Whether this is a conflict (another writer, or an unexpected version).
    pub fn is_conflict(&self) -> bool {
        self.kind() == ErrorKind::Conflict
    }
}

/// Result of the command layer.
pub(crate) type Result<T, E = CommandError> = std::result::Result<T, E>;
