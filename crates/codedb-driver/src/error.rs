//! The one error type of the driver layer and its backend-neutral [`ErrorKind`].

use std::fmt;

/// `Result` with the driver's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong, in terms every backend maps onto.
///
/// Callers decide on the kind (retry on [`ErrorKind::Busy`], report a duplicate on
/// [`ErrorKind::UniqueViolation`], ...); the message and the source say the details.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Another writer holds the database (or the writer gate) longer than the timeout allowed.
    Busy,
    /// A table is locked by another statement of the same connection.
    Locked,
    /// A wait (for the queue, for a reply, for a connection) ran out of time.
    Timeout,
    /// The backend aborted the transaction to keep it serializable (or broke a deadlock);
    /// running the whole transaction again may succeed.
    SerializationFailure,
    /// A UNIQUE or PRIMARY KEY constraint failed.
    UniqueViolation,
    /// A FOREIGN KEY constraint failed.
    ForeignKeyViolation,
    /// A NOT NULL constraint failed.
    NotNullViolation,
    /// A CHECK constraint failed.
    CheckViolation,
    /// Another constraint failed.
    ConstraintViolation,
    /// The SQL text could not be parsed or refers to something that does not exist.
    Syntax,
    /// Wrong number or kind of parameters, or a column index out of range.
    InvalidParameter,
    /// A value could not be converted to the requested Rust type.
    TypeMismatch,
    /// A query that had to return a row returned none.
    NotFound,
    /// The database file is damaged.
    Corrupt,
    /// The file exists but is not a database of this backend.
    NotADatabase,
    /// The database could not be opened (missing directory, permissions, a directory path).
    CannotOpen,
    /// The database or connection is read-only.
    ReadOnly,
    /// The disk (or quota) is full.
    DiskFull,
    /// An operating-system I/O error.
    Io,
    /// Misuse of the transaction protocol (e.g. a second `begin` on the same thread).
    TransactionState,
    /// The thread that served this database died; nothing more can be sent to it.
    WorkerCrashed,
    /// The driver was closed.
    Closed,
    /// A job panicked; the panic was contained and reported as this error.
    Panicked,
    /// Anything else.
    Other,
}

impl ErrorKind {
    /// `true` when running the same work again later may succeed.
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            ErrorKind::Busy
                | ErrorKind::Locked
                | ErrorKind::Timeout
                | ErrorKind::SerializationFailure
        )
    }

    /// `true` for the constraint-violation kinds.
    pub fn is_constraint(self) -> bool {
        matches!(
            self,
            ErrorKind::UniqueViolation
                | ErrorKind::ForeignKeyViolation
                | ErrorKind::NotNullViolation
                | ErrorKind::CheckViolation
                | ErrorKind::ConstraintViolation
        )
    }

    /// A short lowercase name, as used in messages and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Busy => "busy",
            ErrorKind::Locked => "locked",
            ErrorKind::Timeout => "timeout",
            ErrorKind::SerializationFailure => "serialization failure",
            ErrorKind::UniqueViolation => "unique violation",
            ErrorKind::ForeignKeyViolation => "foreign key violation",
            ErrorKind::NotNullViolation => "not null violation",
            ErrorKind::CheckViolation => "check violation",
            ErrorKind::ConstraintViolation => "constraint violation",
            ErrorKind::Syntax => "syntax error",
            ErrorKind::InvalidParameter => "invalid parameter",
            ErrorKind::TypeMismatch => "type mismatch",
            ErrorKind::NotFound => "not found",
            ErrorKind::Corrupt => "corrupt database",
            ErrorKind::NotADatabase => "not a database",
            ErrorKind::CannotOpen => "cannot open",
            ErrorKind::ReadOnly => "read-only",
            ErrorKind::DiskFull => "disk full",
            ErrorKind::Io => "i/o error",
            ErrorKind::TransactionState => "transaction state",
            ErrorKind::WorkerCrashed => "worker crashed",
            ErrorKind::Closed => "closed",
            ErrorKind::Panicked => "panicked",
            ErrorKind::Other => "other",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A driver error: a kind, a message with its context, the SQL it concerns, and the
/// backend's original error as the source.
#[derive(Debug, thiserror::Error)]
pub struct Error {
    kind: ErrorKind,
    message: String,
    context: Vec<String>,
    sql: Option<String>,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

impl Error {
    /// A new error of `kind` with `message` (lowercase, no trailing period).
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            context: Vec::new(),
            sql: None,
            source: None,
        }
    }

    /// Attaches the backend's original error.
    #[must_use]
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    /// Attaches the SQL statement the error concerns.
    #[must_use]
    pub fn with_sql(mut self, sql: impl Into<String>) -> Self {
        self.sql = Some(sql.into());
        self
    }

    /// Adds context (a path, an operation), shown before the message: `context: message`.
    #[must_use]
    pub fn with_context(mut self, context: impl Into<String>) -> Self {
        self.context.push(context.into());
        self
    }

    /// The backend-neutral kind.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The message without context.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The SQL statement, when the error concerns one.
    pub fn sql(&self) -> Option<&str> {
        self.sql.as_deref()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for context in self.context.iter().rev() {
            write!(f, "{context}: ")?;
        }
        f.write_str(&self.message)?;
        if let Some(sql) = &self.sql {
            const MAX: usize = 200;
            let mut shown: String = sql.chars().take(MAX).collect();
            if shown.len() < sql.len() {
                shown.push_str("...");
            }
            write!(f, " (in `{}`)", shown.trim())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_shows_context_outermost_first_and_sql() {
        let err = Error::new(ErrorKind::Syntax, "near \"SELEC\": syntax error")
            .with_sql("SELEC 1")
            .with_context("query")
            .with_context("/tmp/x.sqlite");
        assert_eq!(
            err.to_string(),
            "/tmp/x.sqlite: query: near \"SELEC\": syntax error (in `SELEC 1`)"
        );
        assert_eq!(err.kind(), ErrorKind::Syntax);
        assert!(ErrorKind::Busy.is_retryable());
        assert!(!ErrorKind::UniqueViolation.is_retryable());
        assert!(ErrorKind::UniqueViolation.is_constraint());
    }
}
