//! PostgreSQL errors as codedb's backend-neutral [`ErrorKind`]s, by SQLSTATE: a
//! serialization failure or a deadlock is `SerializationFailure` (retry the transaction),
//! constraint violations keep their kind, a lock that is not available is `Busy`, a
//! statement cancelled by its `statement_timeout` is `Timeout` (and says it timed out), and a
//! connection that cannot be made or was lost is `CannotOpen` / `Io`.

use codedb_driver::{Error, ErrorKind};
use postgres::error::SqlState;

/// `e`, raised by `sql`, as a driver error (the postgres error kept as its source).
pub(crate) fn map_err(e: &postgres::Error, sql: &str) -> Error {
    let kind = match e.code() {
        Some(code) => kind_of(code),
        None if e.is_closed() => ErrorKind::Io,
        None => ErrorKind::Other,
    };
    let message = match e.as_db_error() {
        Some(db) => {
            let mut m = db.message().to_owned();
            if let Some(detail) = db.detail() {
                m.push_str(": ");
                m.push_str(detail);
            }
            if *db.code() == SqlState::QUERY_CANCELED && m.contains("statement timeout") {
                m.push_str(
                    ": the statement timed out; if it needs longer, raise \
                     `database.statement_timeout_ms` (or the URL's \
                     `options=-c statement_timeout=...`)",
                );
            }
            m
        }
        None => with_causes(e),
    };
    Error::new(kind, message).with_sql(sql)
}

/// `e` and the errors under it (`error connecting to server: Connection refused`).
pub(crate) fn with_causes(e: &postgres::Error) -> String {
    let mut message = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    message
}

fn kind_of(code: &SqlState) -> ErrorKind {
    match *code {
        SqlState::UNIQUE_VIOLATION => ErrorKind::UniqueViolation,
        SqlState::FOREIGN_KEY_VIOLATION => ErrorKind::ForeignKeyViolation,
        SqlState::NOT_NULL_VIOLATION => ErrorKind::NotNullViolation,
        SqlState::CHECK_VIOLATION => ErrorKind::CheckViolation,
        SqlState::INTEGRITY_CONSTRAINT_VIOLATION | SqlState::EXCLUSION_VIOLATION => {
            ErrorKind::ConstraintViolation
        }
        SqlState::T_R_SERIALIZATION_FAILURE | SqlState::T_R_DEADLOCK_DETECTED => {
            ErrorKind::SerializationFailure
        }
        SqlState::LOCK_NOT_AVAILABLE => ErrorKind::Busy,
        SqlState::QUERY_CANCELED => ErrorKind::Timeout,
        SqlState::SYNTAX_ERROR
        | SqlState::UNDEFINED_TABLE
        | SqlState::UNDEFINED_COLUMN
        | SqlState::UNDEFINED_FUNCTION
        | SqlState::DUPLICATE_TABLE
        | SqlState::DUPLICATE_COLUMN
        | SqlState::AMBIGUOUS_COLUMN => ErrorKind::Syntax,
        SqlState::INVALID_TEXT_REPRESENTATION
        | SqlState::DATATYPE_MISMATCH
        | SqlState::NUMERIC_VALUE_OUT_OF_RANGE => ErrorKind::TypeMismatch,
        SqlState::PROTOCOL_VIOLATION | SqlState::INVALID_PARAMETER_VALUE => {
            ErrorKind::InvalidParameter
        }
        SqlState::DISK_FULL => ErrorKind::DiskFull,
        SqlState::READ_ONLY_SQL_TRANSACTION => ErrorKind::ReadOnly,
        SqlState::IN_FAILED_SQL_TRANSACTION | SqlState::NO_ACTIVE_SQL_TRANSACTION => {
            ErrorKind::TransactionState
        }
        SqlState::INVALID_CATALOG_NAME
        | SqlState::INVALID_PASSWORD
        | SqlState::INVALID_AUTHORIZATION_SPECIFICATION
        | SqlState::CONNECTION_EXCEPTION
        | SqlState::CONNECTION_FAILURE
        | SqlState::SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION => ErrorKind::CannotOpen,
        SqlState::DATA_CORRUPTED | SqlState::INDEX_CORRUPTED => ErrorKind::Corrupt,
        _ => ErrorKind::Other,
    }
}
