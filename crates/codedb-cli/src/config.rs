//! The project's configuration as the command line reads it: `ROOT/codedb.toml` when it
//! exists, else the defaults. Every command that works on a project reads it (`index`, the
//! write commands, `serve` when no `--config` is given), so that one file sets the limits
//! and the database for all of them; a bad file is a usage error (exit code 2) naming the
//! key and its line, before anything is opened.

use std::path::{Path, PathBuf};

use codedb_server::Config;

use crate::output::CliError;

/// The configuration file's name, at the project root.
pub(crate) const FILE: &str = "codedb.toml";

/// `ROOT/codedb.toml`, if there is one.
pub(crate) fn file_of(root: &Path) -> Option<PathBuf> {
    Some(root.join(FILE)).filter(|p| p.is_file())
}

/// The configuration of the project at `root`.
pub(crate) fn of_project(root: &Path) -> Result<Config, CliError> {
    match file_of(root) {
        Some(file) => Config::load(&file).map_err(|e| CliError::usage(e.to_string())),
        None => Ok(Config::default()),
    }
}
