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
    /// A symbol named by a query (`[PATH:]QUALNAME`) is not defined, or defined in several
    /// places and the name alone does not pick one.
    #[error(transparent)]
    Symbol(#[from] SymbolError),
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
            Error::Schema(_) | Error::Internal(_) | Error::Symbol(_) => None,
            Error::RollbackFailed { error, .. } => error.kind(),
        }
    }

    /// `true` when running the same transaction again may succeed.
    pub fn is_retryable(&self) -> bool {
        self.kind().is_some_and(ErrorKind::is_retryable)
    }

    /// `true` when the caller is the one to fix it, not the database: a symbol that names no
    /// single definition ([`Error::Symbol`]). The command line's usage exit code and the MCP
    /// server's `invalid_params` are both derived from this one answer.
    pub fn is_callers(&self) -> bool {
        matches!(self, Error::Symbol(_))
    }
}

/// Why a `[PATH:]QUALNAME` names no single definition.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SymbolError {
    /// Nothing is defined by that name.
    #[error("no definition named {name:?}{}", in_path(.path.as_deref()))]
    NotFound {
        /// The qualified name asked for.
        name: String,
        /// The file it was looked for in, if the query named one.
        path: Option<String>,
    },
    /// Several definitions have that name: each candidate as `PATH:QUALNAME`.
    #[error(
        "{name:?} is defined in {} places; name one as PATH:QUALNAME: {}",
        .candidates.len(),
        .candidates.join(", ")
    )]
    Ambiguous {
        /// The qualified name asked for.
        name: String,
        /// `PATH:QUALNAME` of each definition (prefixed by its project's root when the
        /// query spans every project).
        candidates: Vec<String>,
    },
    /// A query named a file the index does not hold (live) in its scope.
    #[error("{path:?}: no such file in the index (paths are relative to the project root)")]
    NoFile {
        /// The path asked for.
        path: String,
    },
}

fn in_path(path: Option<&str>) -> String {
    path.map(|p| format!(" in {p}")).unwrap_or_default()
}
