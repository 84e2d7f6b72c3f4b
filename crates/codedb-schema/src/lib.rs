//! codedb's schema layer: one model for a live database, a DDL file and the code schema;
//! `diff(live, desired)` into an ordered plan with safety classes; the sync procedure
//! (plan, refuse or back up, apply, verify, log); and the database backups it takes.
//!
//! Everything backend-specific sits behind [`SchemaBackend`], which each backend crate
//! implements (codedb-sqlite: introspection through `sqlite_schema` and the table pragmas,
//! DDL files by executing them in a scratch in-memory database, rebuilds by SQLite's 12-step
//! procedure). This crate holds no SQL parser: the model comes from the database itself, and
//! [`sql`] only tokenizes what the catalog does not expose (CHECK bodies, generated
//! expressions, rename hints).

pub mod backup;
mod diff;
mod error;
mod model;
pub mod sql;
mod sync;

pub use backup::Backups;
pub use diff::{Change, DiffOptions, Plan, Safety, Step, diff};
pub use error::{Error, Result};
pub use model::{Column, ForeignKey, Generated, Index, Schema, Table, Trigger, View, same_name};
pub use sync::{SchemaBackend, SyncLog, SyncOptions, SyncReport, sync};

/// Prefix of codedb's own bookkeeping tables (the sync log); introspection leaves them out,
/// so they never show up as differences.
pub const INTERNAL_PREFIX: &str = "_codedb_";
