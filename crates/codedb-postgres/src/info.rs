//! [`inspect`]: read-only facts about a PostgreSQL database, for `codedb db info` (the
//! counterpart of codedb-sqlite's `inspect`).

use codedb_driver::{Error, ErrorKind, Result, SpecificDriver};

/// What `codedb db info` reports of a PostgreSQL database.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DatabaseInfo {
    /// The server's `server_version` setting.
    pub server_version: String,
    /// The database connected to (`current_database()`).
    pub database: String,
    /// The database's size on disk (`pg_database_size`).
    pub size_bytes: i64,
    /// Tables, indexes and views in the `public` schema.
    pub schema_objects: i64,
}

/// The catalog query behind [`inspect`].
const INFO_SQL: &str = "SELECT current_setting('server_version'), current_database(), \
     pg_database_size(current_database()), \
     (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
      WHERE n.nspname = 'public' AND c.relkind IN ('r', 'i', 'v'))";

/// Reads the facts of the PostgreSQL database `driver` serves, changing nothing.
pub fn inspect(driver: &dyn SpecificDriver) -> Result<DatabaseInfo> {
    let rows = driver.query(INFO_SQL, Vec::new())?;
    let row = rows
        .first()
        .ok_or_else(|| Error::new(ErrorKind::Other, "the server returned no row"))?;
    Ok(DatabaseInfo {
        server_version: row.get(0)?,
        database: row.get(1)?,
        size_bytes: row.get(2)?,
        schema_objects: row.get(3)?,
    })
}
