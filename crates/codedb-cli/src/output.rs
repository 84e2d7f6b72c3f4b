//! Printing results and errors.

#![allow(clippy::print_stdout)] // printing is this module's job

use std::fmt;

use serde::Serialize;

/// An error as the user sees it: one line, saying what failed and where, and the exit code
/// (1; 3 for a conflict with another writer or an unexpected file version).
#[derive(Debug)]
pub(crate) struct CliError {
    pub(crate) message: String,
    pub(crate) code: u8,
}

/// A [`CliError`] with exit code 1.
#[allow(non_snake_case)]
pub(crate) fn CliError(message: String) -> CliError {
    CliError { message, code: 1 }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<codedb_commands::CommandError> for CliError {
    fn from(e: codedb_commands::CommandError) -> Self {
        CliError {
            code: if e.is_conflict() { 3 } else { 1 },
            message: e.to_string(),
        }
    }
}

impl From<codedb_driver::Error> for CliError {
    fn from(e: codedb_driver::Error) -> Self {
        CliError(e.to_string())
    }
}

impl From<codedb_schema::Error> for CliError {
    fn from(e: codedb_schema::Error) -> Self {
        CliError(e.to_string())
    }
}

impl From<codedb_core::Error> for CliError {
    fn from(e: codedb_core::Error) -> Self {
        CliError(e.to_string())
    }
}

pub(crate) fn print_error(err: &CliError) {
    eprintln!("error: {err}");
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
        println!("{line}");
    } else {
        let rows = text();
        let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
        for (key, value) in rows {
            println!("{key:<width$}  {value}");
        }
    }
    Ok(())
}

/// Prints lines of text as they are.
pub(crate) fn emit_lines(lines: &[String]) {
    for line in lines {
        println!("{line}");
    }
}
