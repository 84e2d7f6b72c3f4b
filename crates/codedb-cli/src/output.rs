//! Printing results and errors.

use std::fmt;

use serde::Serialize;

/// What kind of failure a [`CliError`](struct@CliError) is: decided once, where the error is made, and the
/// exit code derived from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failure {
    /// A failure; nothing changed (exit code 1).
    Failed,
    /// Bad arguments or a bad configuration (exit code 2).
    Usage,
    /// A conflict with another writer or an unexpected file version: read again, retry
    /// (exit code 3).
    Conflict,
    /// The command landed but left work for `codedb recover`, which the next command runs
    /// (exit code 4).
    Landed,
    /// The database is damaged (exit code 1; `verify` reports it as `database_corrupt`).
    CorruptDatabase,
}

impl Failure {
    /// The process's exit code.
    pub(crate) fn exit_code(self) -> u8 {
        match self {
            Failure::Failed | Failure::CorruptDatabase => 1,
            Failure::Usage => 2,
            Failure::Conflict => 3,
            Failure::Landed => 4,
        }
    }
}

/// An error as the user sees it: one line, saying what failed and where, and its kind.
#[derive(Debug)]
pub(crate) struct CliError {
    pub(crate) message: String,
    pub(crate) kind: Failure,
}

/// A [`CliError`](struct@CliError) of kind [`Failure::Failed`].
#[allow(non_snake_case)]
pub(crate) fn CliError(message: String) -> CliError {
    CliError {
        message,
        kind: Failure::Failed,
    }
}

impl CliError {
    /// A usage error: bad arguments or configuration.
    pub(crate) fn usage(message: String) -> CliError {
        CliError {
            message,
            kind: Failure::Usage,
        }
    }

    fn database(kind: Option<codedb_driver::ErrorKind>, message: String) -> CliError {
        use codedb_driver::ErrorKind;
        CliError {
            message,
            kind: match kind {
                Some(ErrorKind::Corrupt | ErrorKind::NotADatabase) => Failure::CorruptDatabase,
                _ => Failure::Failed,
            },
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<codedb_commands::CommandError> for CliError {
    fn from(e: codedb_commands::CommandError) -> Self {
        use codedb_commands::ErrorKind;
        let kind = match (e.kind(), &e) {
            (_, codedb_commands::CommandError::InvalidArgument { .. }) => Failure::Usage,
            // A definition name that names none or several (listed), as `query refs` says.
            (_, codedb_commands::CommandError::Database(e)) if e.is_callers() => Failure::Usage,
            (ErrorKind::Conflict, _) => Failure::Conflict,
            (ErrorKind::Landed, _) => Failure::Landed,
            _ => Failure::Failed,
        };
        CliError {
            kind,
            message: e.to_string(),
        }
    }
}

impl From<codedb_driver::Error> for CliError {
    fn from(e: codedb_driver::Error) -> Self {
        CliError::database(Some(e.kind()), e.to_string())
    }
}

impl From<codedb_schema::Error> for CliError {
    fn from(e: codedb_schema::Error) -> Self {
        let kind = match &e {
            codedb_schema::Error::Database(d) => Some(d.kind()),
            _ => None,
        };
        CliError::database(kind, e.to_string())
    }
}

impl From<codedb_core::Error> for CliError {
    fn from(e: codedb_core::Error) -> Self {
        if e.is_callers() {
            CliError::usage(e.to_string())
        } else {
            CliError::database(e.kind(), e.to_string())
        }
    }
}

pub(crate) fn print_error(err: &CliError) {
    eprintln!("error: {err}");
}

/// Writes `text` and a newline to stdout. A reader that went away (`codedb ... | head`) ends
/// the program quietly with success, as other Unix tools end; any other write error (a full
/// disk) is the caller's to report.
fn out(text: &str) -> Result<(), CliError> {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    match writeln!(stdout, "{text}").and_then(|()| stdout.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(0),
        Err(e) => Err(CliError(format!("cannot write the output: {e}"))),
    }
}

/// Prints `value` as one JSON object, or `text` lines.
pub(crate) fn emit<T: Serialize>(
    json: bool,
    value: &T,
    text: impl FnOnce() -> Vec<(&'static str, String)>,
) -> Result<(), CliError> {
    if json {
        let line = serde_json::to_string(value)
            .map_err(|e| CliError(format!("cannot encode the result as JSON: {e}")))?;
        out(&line)?;
    } else {
        let rows = text();
        let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
        for (key, value) in rows {
            out(&format!("{key:<width$}  {value}"))?;
        }
    }
    Ok(())
}

/// Prints lines of text as they are.
pub(crate) fn emit_lines(lines: &[String]) -> Result<(), CliError> {
    lines.iter().try_for_each(|line| out(line))
}
