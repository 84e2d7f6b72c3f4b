//! The error type of `codedb-schema`.

use std::path::PathBuf;

/// `Result` with codedb-schema's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can go wrong while planning, syncing or backing up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The database failed a statement.
    #[error(transparent)]
    Database(#[from] codedb_driver::Error),
    /// A desired-schema DDL statement is invalid.
    #[error("invalid DDL in statement {index} ({statement}): {message}")]
    InvalidDdl {
        /// 1-based position of the statement in the file.
        index: usize,
        /// The statement (shortened).
        statement: String,
        /// SQLite's message.
        message: String,
    },
    /// The `@renamed from=` hints of a desired schema do not bind one to one.
    #[error("{0}")]
    RenameHints(String),
    /// The sync was refused; the database is unchanged.
    #[error("sync refused, database unchanged: {0}")]
    Refused(String),
    /// A backup could not be written, checked, listed or restored.
    #[error("backup {}: {message}", path.display())]
    Backup {
        /// The file or directory concerned.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
}

impl Error {
    /// A [`Error::Backup`] about `path`.
    pub fn backup(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Error::Backup {
            path: path.into(),
            message: message.into(),
        }
    }
}
