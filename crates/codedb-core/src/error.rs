//! The error type of `codedb-core`.

use codedb_driver::ErrorKind;

/// `Result` with codedb-core's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can go wrong in `CodeDatabase`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The database refused or failed a statement.
    #[error(transparent)]
    Database(#[from] codedb_driver::Error),
    /// Planning or applying a schema change failed or was refused.
    #[error(transparent)]
    Schema(#[from] codedb_schema::Error),
    /// The database answered something codedb's own queries rule out (a query that always
    /// returns a row returned none): a bug or a database changed behind codedb's back.
    #[error("internal error: {0}")]
    Internal(String),
    /// A transaction failed and rolling it back failed as well; both are kept.
    #[error("{error}; rolling the transaction back also failed: {rollback}")]
    RollbackFailed {
        /// The failure that caused the rollback.
        #[source]
        error: Box<Error>,
        /// The failure of the rollback itself.
        rollback: Box<Error>,
    },
}

impl Error {
    /// The backend-neutral kind of the underlying database error, if this is one.
    pub fn kind(&self) -> Option<ErrorKind> {
        match self {
            Error::Database(e) => Some(e.kind()),
            Error::Schema(codedb_schema::Error::Database(e)) => Some(e.kind()),
            Error::Schema(_) | Error::Internal(_) => None,
            Error::RollbackFailed { error, .. } => error.kind(),
        }
    }

    /// `true` when running the same transaction again may succeed.
    pub fn is_retryable(&self) -> bool {
        self.kind().is_some_and(ErrorKind::is_retryable)
    }
}
