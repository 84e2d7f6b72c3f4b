//! Maps rusqlite's and SQLite's errors onto the driver's backend-neutral [`ErrorKind`].
//!
//! The original rusqlite error is kept as the error's `source`, the SQL text as its `sql`.

use codedb_driver::{Error, ErrorKind};
use rusqlite::ffi;

/// Converts a rusqlite error; `sql` is the statement it concerns, if any.
pub(crate) fn map_err(err: rusqlite::Error, sql: Option<&str>) -> Error {
    let (kind, message) = classify(&err);
    let mut out = Error::new(kind, message);
    if let Some(sql) = sql {
        out = out.with_sql(sql);
    }
    out.with_source(err)
}

/// A closure for `map_err` that attaches `sql`.
pub(crate) fn with_sql(sql: &str) -> impl FnOnce(rusqlite::Error) -> Error + '_ {
    move |e| map_err(e, Some(sql))
}

fn classify(err: &rusqlite::Error) -> (ErrorKind, String) {
    use rusqlite::Error as E;
    match err {
        E::SqliteFailure(code, msg) => {
            let kind = kind_of_code(*code, msg.as_deref());
            let text = msg.clone().unwrap_or_else(|| code.to_string());
            (kind, text)
        }
        E::SqlInputError {
            error, msg, offset, ..
        } => {
            let kind = kind_of_code(*error, Some(msg));
            (kind, format!("{msg} (at byte {offset})"))
        }
        E::InvalidParameterCount(given, expected) => (
            ErrorKind::InvalidParameter,
            format!("wrong number of parameters: the statement takes {expected}, {given} given"),
        ),
        E::InvalidParameterName(name) => (
            ErrorKind::InvalidParameter,
            format!("unknown parameter name {name}"),
        ),
        E::MultipleStatement => (
            ErrorKind::InvalidParameter,
            "the SQL holds more than one statement: send several as a batch script".to_owned(),
        ),
        E::InvalidColumnIndex(i) => (
            ErrorKind::InvalidParameter,
            format!("column index {i} out of range"),
        ),
        E::QueryReturnedNoRows => (ErrorKind::NotFound, "query returned no rows".to_owned()),
        E::InvalidPath(p) => (
            ErrorKind::CannotOpen,
            format!("invalid database path {}", p.display()),
        ),
        E::NulError(_) => (
            ErrorKind::InvalidParameter,
            "text contains a NUL byte".to_owned(),
        ),
        E::FromSqlConversionFailure(..)
        | E::IntegralValueOutOfRange(..)
        | E::InvalidColumnType(..) => (ErrorKind::TypeMismatch, err.to_string()),
        other => (ErrorKind::Other, other.to_string()),
    }
}

fn kind_of_code(code: ffi::Error, msg: Option<&str>) -> ErrorKind {
    use ffi::ErrorCode as C;
    match code.code {
        C::DatabaseBusy => ErrorKind::Busy,
        C::DatabaseLocked => ErrorKind::Locked,
        C::DatabaseCorrupt => ErrorKind::Corrupt,
        C::NotADatabase => ErrorKind::NotADatabase,
        C::CannotOpen => ErrorKind::CannotOpen,
        C::ReadOnly => ErrorKind::ReadOnly,
        C::DiskFull => ErrorKind::DiskFull,
        C::SystemIoFailure => ErrorKind::Io,
        C::TypeMismatch => ErrorKind::TypeMismatch,
        C::ApiMisuse | C::ParameterOutOfRange => ErrorKind::InvalidParameter,
        C::ConstraintViolation => match code.extended_code {
            ffi::SQLITE_CONSTRAINT_UNIQUE | ffi::SQLITE_CONSTRAINT_PRIMARYKEY => {
                ErrorKind::UniqueViolation
            }
            ffi::SQLITE_CONSTRAINT_FOREIGNKEY => ErrorKind::ForeignKeyViolation,
            ffi::SQLITE_CONSTRAINT_NOTNULL => ErrorKind::NotNullViolation,
            ffi::SQLITE_CONSTRAINT_CHECK => ErrorKind::CheckViolation,
            _ => ErrorKind::ConstraintViolation,
        },
        C::Unknown if is_syntax(msg) => ErrorKind::Syntax,
        _ => ErrorKind::Other,
    }
}

/// SQLite reports parse and name-resolution errors as the generic `SQLITE_ERROR`; the message
/// tells them apart.
fn is_syntax(msg: Option<&str>) -> bool {
    msg.is_some_and(|m| {
        m.contains("syntax error")
            || m.starts_with("no such ")
            || m.contains("incomplete input")
            || m.contains("unrecognized token")
            || m.starts_with("near ")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constraint_codes_map_to_their_kinds() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "PRAGMA foreign_keys=ON;
             CREATE TABLE p(id INTEGER PRIMARY KEY);
             CREATE TABLE t(id INTEGER PRIMARY KEY, u TEXT UNIQUE, n TEXT NOT NULL,
                            c INTEGER CHECK (c > 0), p INTEGER REFERENCES p(id));
             INSERT INTO t VALUES (1, 'a', 'x', 1, NULL);",
        )
        .unwrap();
        let cases = [
            (
                "INSERT INTO t VALUES (2, 'a', 'x', 1, NULL)",
                ErrorKind::UniqueViolation,
            ),
            (
                "INSERT INTO t VALUES (1, 'b', 'x', 1, NULL)",
                ErrorKind::UniqueViolation,
            ),
            (
                "INSERT INTO t VALUES (3, 'c', NULL, 1, NULL)",
                ErrorKind::NotNullViolation,
            ),
            (
                "INSERT INTO t VALUES (4, 'd', 'x', 0, NULL)",
                ErrorKind::CheckViolation,
            ),
            (
                "INSERT INTO t VALUES (5, 'e', 'x', 1, 99)",
                ErrorKind::ForeignKeyViolation,
            ),
            ("INSERT INTO nowhere VALUES (1)", ErrorKind::Syntax),
            ("SELEC 1", ErrorKind::Syntax),
        ];
        for (sql, want) in cases {
            let err = conn.execute(sql, []).unwrap_err();
            let mapped = map_err(err, Some(sql));
            assert_eq!(mapped.kind(), want, "{sql}: {mapped}");
            assert_eq!(mapped.sql(), Some(sql));
        }
    }
}
