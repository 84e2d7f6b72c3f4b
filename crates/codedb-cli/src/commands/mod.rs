//! One module per command, each holding its clap `Args` (or subcommand enum) and its `run`
//! (jj's `cli/src/commands/`); `project` holds what the commands on a project share.

pub(crate) mod backup;
pub(crate) mod create;
pub(crate) mod db;
pub(crate) mod delete;
pub(crate) mod edit;
pub(crate) mod history;
pub(crate) mod index;
pub(crate) mod move_file;
mod project;
pub(crate) mod query;
pub(crate) mod recover;
pub(crate) mod references;
pub(crate) mod rename;
pub(crate) mod restore;
pub(crate) mod schema;
pub(crate) mod serve;
pub(crate) mod status;
pub(crate) mod symbol_edit;
pub(crate) mod verify;
