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
//!
//! A backend reads a schema from a DDL text (executed in a scratch database) and from the
//! live database; [`sync`] brings the second to the first:
//!
//! ```
//! use codedb_schema::{DiffOptions, SchemaBackend, SyncOptions, diff, sync};
//!
//! /// What bringing `db` to `ddl` would do, then does it (a backup first) if nothing in it
//! /// needs a table rebuild or drops data.
//! fn upgrade(db: &dyn SchemaBackend, ddl: &str) -> codedb_schema::Result<bool> {
//!     let desired = db.schema_from_ddl(ddl)?;
//!     let plan = diff(&db.introspect()?, &desired, DiffOptions::default());
//!     for step in &plan.steps {
//!         println!("{:?}: {}", step.safety, step.description);
//!     }
//!     if !plan.warnings.is_empty() {
//!         return Ok(false); // left alone: see the warnings; `allow_rebuild` / `allow_drop`
//!     }
//!     sync(db, &desired, &SyncOptions::default())?;
//!     Ok(true)
//! }
//! # let _ = upgrade;
//! ```

pub mod backup;
mod diff;
mod error;
mod model;
pub mod sql;
mod sync;

pub use backup::Backups;
pub use diff::{Change, DiffOptions, Plan, Reason, Safety, Step, Warning, diff};
pub use error::{Error, Result};
pub use model::{Column, ForeignKey, Generated, Index, Schema, Table, Trigger, View, same_name};
pub use sync::{
    SchemaBackend, SyncLog, SyncOptions, SyncReport, ddl_key, remember_if_in_sync,
    remembered_in_sync, sync,
};

/// Prefix of codedb's own bookkeeping tables (the sync log); introspection leaves them out,
/// so they never show up as differences.
pub const INTERNAL_PREFIX: &str = "_codedb_";
