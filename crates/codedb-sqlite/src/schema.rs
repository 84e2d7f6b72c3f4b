//! The SQLite side of `codedb-schema`: introspection into the schema model, DDL files read
//! through a scratch in-memory database, and applying a plan, table rebuilds included.
//!
//! Rebuilds follow SQLite's documented 12-step procedure and the rules others got wrong:
//! `foreign_keys` is switched off *before* `BEGIN` (it has no effect inside a transaction);
//! the old table is never renamed first (SQLite would repoint child foreign keys at it, and
//! dropping it would cascade away the children's rows): `codedb_new_X` is created, filled,
//! `X` dropped and `codedb_new_X` renamed to `X`; the table's indexes and triggers are
//! recreated; `sqlite_sequence` keeps its value; the copied row count is checked;
//! `PRAGMA foreign_key_check` runs before `COMMIT`. A rebuild that would change a value
//! (an affinity conversion between text and numbers) or violate a constraint is refused and
//! the whole sync rolls back.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use codedb_schema::sql::{self, quote_ident};
use codedb_schema::{
    Change, Column, DiffOptions, Error, ForeignKey, Generated, Index, Plan, Result, Schema,
    SchemaBackend, SyncLog, Table, Trigger, View, same_name,
};
use fallible_iterator::FallibleIterator;
use rusqlite::Connection;

use crate::connection::SQLiteDriver;
use crate::error::map_err;
use crate::proxy::SQLiteDriverProxy;

fn db_err(e: rusqlite::Error, sql: &str) -> Error {
    Error::Database(map_err(e, Some(sql)))
}

/// Runs `sql` and collects the first column of each row as text.
fn strings(conn: &Connection, sql: &str, params: &[&dyn rusqlite::ToSql]) -> Result<Vec<String>> {
    query_rows(conn, sql, params, |r| r.get::<_, String>(0))
}

/// Runs `sql` and maps each row with `f`.
fn query_rows<T>(
    conn: &Connection,
    sql: &str,
    params: &[&dyn rusqlite::ToSql],
    f: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> Result<Vec<T>> {
    let mut stmt = conn.prepare(sql).map_err(|e| db_err(e, sql))?;
    let rows = stmt.query_map(params, f).map_err(|e| db_err(e, sql))?;
    rows.collect::<rusqlite::Result<Vec<_>>>()
        .map_err(|e| db_err(e, sql))
}

fn normalize_type(t: &str) -> String {
    t.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_uppercase()
}

/// Reads the schema of the main database of `conn`.
pub fn introspect(conn: &Connection) -> Result<Schema> {
    const SQL: &str = "SELECT type, name, tbl_name, sql FROM sqlite_schema \
                       WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY rowid";
    let objects: Vec<(String, String, String, String)> = query_rows(conn, SQL, &[], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
    })?;
    let internal = |name: &str| {
        name.to_lowercase()
            .starts_with(codedb_schema::INTERNAL_PREFIX)
    };
    // Every table's kind at once: `pragma_table_list(name)` walks all tables for each name.
    const LIST: &str = "SELECT name, type, wr, strict FROM pragma_table_list WHERE schema = 'main'";
    let kinds: std::collections::HashMap<String, TableKind> = query_rows(conn, LIST, &[], |r| {
        Ok((
            r.get::<_, String>(0)?,
            TableKind {
                kind: r.get(1)?,
                without_rowid: r.get(2)?,
                strict: r.get(3)?,
            },
        ))
    })?
    .into_iter()
    .collect();
    let mut schema = Schema::default();
    for (kind, name, table, text) in objects {
        if internal(&name) || internal(&table) {
            continue;
        }
        match kind.as_str() {
            "table" => {
                if let Some(t) = read_table_of(conn, &name, &text, kinds.get(&name))? {
                    schema.tables.push(t);
                }
            }
            "index" => schema.indexes.push(Index {
                unique: sql::tokenize(&text)
                    .iter()
                    .take(3)
                    .any(|t| *t == sql::Token::Word("unique".into())),
                renamed_from: sql::statement_rename_hint(&text),
                name,
                table,
                sql: text,
            }),
            "view" => schema.views.push(View { name, sql: text }),
            "trigger" => schema.triggers.push(Trigger {
                name,
                table,
                sql: text,
            }),
            _ => {}
        }
    }
    Ok(schema)
}

/// One table; `None` for virtual tables' shadow tables.
fn read_table(conn: &Connection, name: &str, text: &str) -> Result<Option<Table>> {
    read_table_of(conn, name, text, None)
}

/// What `pragma_table_list` says of a table.
struct TableKind {
    kind: String,
    without_rowid: bool,
    strict: bool,
}

/// [`read_table`] with the table's kind already known (`None`: asked here).
fn read_table_of(
    conn: &Connection,
    name: &str,
    text: &str,
    known: Option<&TableKind>,
) -> Result<Option<Table>> {
    let q = quote_ident(name);
    let (kind, without_rowid, strict): (String, bool, bool) = match known {
        Some(k) => (k.kind.clone(), k.without_rowid, k.strict),
        None => {
            let list_sql = format!(
                "SELECT type, wr, strict FROM pragma_table_list({})",
                sql_text(name)
            );
            conn.query_row(&list_sql, [], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .map_err(|e| db_err(e, &list_sql))?
        }
    };
    if kind == "shadow" {
        return Ok(None);
    }
    let elements = sql::table_elements(text);
    let element = |col: &str| {
        elements
            .iter()
            .find(|e| sql::element_name(&e.tokens).is_some_and(|n| same_name(n, col)))
    };
    let xinfo = format!(
        "SELECT name, type, \"notnull\", dflt_value, pk, hidden FROM pragma_table_xinfo({})",
        sql_text(name)
    );
    let raw: Vec<(String, String, bool, Option<String>, i64, i64)> =
        query_rows(conn, &xinfo, &[], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
            ))
        })?;
    let mut columns = Vec::new();
    let mut pk: Vec<(i64, String)> = Vec::new();
    let mut autoincrement = false;
    for (col, decl, not_null, default, pk_pos, hidden) in raw {
        if hidden == 1 {
            continue; // a virtual table's hidden column
        }
        let (collation, auto) = if kind == "virtual" {
            (None, false)
        } else {
            match conn.column_metadata(None, name, col.as_str()) {
                Ok((_, coll, _, _, auto)) => {
                    (coll.map(|c| c.to_string_lossy().to_uppercase()), auto)
                }
                Err(_) => (None, false),
            }
        };
        autoincrement |= auto;
        if pk_pos > 0 {
            pk.push((pk_pos, col.clone()));
        }
        let generated = (hidden == 2 || hidden == 3).then(|| Generated {
            stored: hidden == 3,
            expr: element(&col)
                .and_then(|e| sql::generated_expression(&e.tokens))
                .unwrap_or_default(),
        });
        columns.push(Column {
            renamed_from: element(&col).and_then(|e| sql::renamed_from(&e.tokens)),
            decl_type: normalize_type(&decl),
            not_null,
            default: default.as_deref().map(sql::normalize),
            collation: collation.unwrap_or_else(|| "BINARY".into()),
            generated,
            name: col,
        });
    }
    pk.sort();
    let has_rows = if kind == "virtual" {
        false
    } else {
        let probe = format!("SELECT EXISTS (SELECT 1 FROM {q})");
        conn.query_row(&probe, [], |r| r.get(0))
            .map_err(|e| db_err(e, &probe))?
    };
    Ok(Some(Table {
        name: name.to_owned(),
        columns,
        primary_key: pk.into_iter().map(|(_, c)| c).collect(),
        autoincrement,
        foreign_keys: foreign_keys(conn, name)?,
        uniques: uniques(conn, name)?,
        checks: sql::check_constraints(text),
        strict,
        without_rowid,
        sql: text.to_owned(),
        renamed_from: sql::statement_rename_hint(text),
        has_rows,
    }))
}

/// A string literal for SQL.
fn sql_text(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn foreign_keys(conn: &Connection, table: &str) -> Result<Vec<ForeignKey>> {
    let q = format!(
        "SELECT id, \"table\", \"from\", \"to\", on_update, on_delete FROM pragma_foreign_key_list({}) ORDER BY id, seq",
        sql_text(table)
    );
    let rows: Vec<(i64, String, String, Option<String>, String, String)> =
        query_rows(conn, &q, &[], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
            ))
        })?;
    let mut out: Vec<(i64, ForeignKey)> = Vec::new();
    for (id, parent, from, to, on_update, on_delete) in rows {
        if out.last().is_none_or(|(last, _)| *last != id) {
            out.push((
                id,
                ForeignKey {
                    columns: Vec::new(),
                    ref_table: parent,
                    ref_columns: Vec::new(),
                    on_update,
                    on_delete,
                },
            ));
        }
        if let Some((_, fk)) = out.last_mut() {
            fk.columns.push(from);
            if let Some(to) = to {
                fk.ref_columns.push(to);
            }
        }
    }
    Ok(out.into_iter().map(|(_, fk)| fk).collect())
}

fn uniques(conn: &Connection, table: &str) -> Result<Vec<Vec<String>>> {
    let q = format!(
        "SELECT name FROM pragma_index_list({}) WHERE origin = 'u' ORDER BY seq",
        sql_text(table)
    );
    let mut out = Vec::new();
    for index in strings(conn, &q, &[])? {
        let cols = format!(
            "SELECT coalesce(name, '<expr>') FROM pragma_index_info({}) ORDER BY seqno",
            sql_text(&index)
        );
        out.push(strings(conn, &cols, &[])?);
    }
    Ok(out)
}

/// The schema that `ddl` creates, read from a scratch in-memory database. An invalid
/// statement is reported with its position and text.
///
/// Only schema statements run (`CREATE TABLE`, `INDEX`, `VIEW`, `TRIGGER`, and `CREATE
/// VIRTUAL TABLE` of the full-text and r-tree modules): SQLite's authorizer, set on the
/// scratch connection, refuses anything else as it is prepared, before it runs: `ATTACH`
/// and `DETACH` (which would create or write any file), `PRAGMA`, writes outside the
/// scratch database, temporary objects, functions with side effects, and every statement
/// that creates no schema object (`VACUUM INTO`, `INSERT`, ...).
pub fn schema_from_ddl(ddl: &str) -> Result<Schema> {
    let conn = Connection::open_in_memory().map_err(|e| db_err(e, ""))?;
    // Each CREATE TABLE makes SQLite scan its whole schema table once: for a large file,
    // fewer, larger pages halve that cost (MAX_DESIRED_TABLES bounds it); a small one (the
    // code schema, at every startup) is faster with the default pages.
    if ddl.len() > LARGE_DDL {
        conn.execute_batch("PRAGMA page_size = 65536")
            .map_err(|e| db_err(e, "PRAGMA page_size"))?;
    }
    let guard = Arc::new(parking_lot::Mutex::new(DdlGuard::default()));
    let hook = Arc::clone(&guard);
    conn.authorizer(Some(move |ctx: rusqlite::hooks::AuthContext<'_>| {
        hook.lock().authorize(&ctx)
    }))
    .map_err(|e| db_err(e, ""))?;
    let refused = |index: usize, statement: String, why: &str| Error::InvalidDdl {
        index,
        statement,
        message: format!(
            "refused, nothing of it ran: {why} (a desired schema holds only CREATE TABLE, INDEX, \
             VIEW, TRIGGER and VIRTUAL TABLE, and ALTER TABLE statements)"
        ),
    };
    let mut batch = rusqlite::Batch::new(&conn, ddl);
    let mut index = 0;
    loop {
        index += 1;
        {
            let mut g = guard.lock();
            *g = DdlGuard {
                tables: g.tables,
                ..DdlGuard::default()
            };
        }
        let stmt = match batch.next() {
            Ok(Some(stmt)) => stmt,
            Ok(None) => break,
            Err(e) => {
                let denied = guard.lock().denied.take();
                return Err(match denied {
                    Some(what) => refused(index, what.clone(), &what),
                    None => invalid_ddl(index, &e, ddl),
                });
            }
        };
        let text = stmt.expanded_sql().unwrap_or_default();
        if guard.lock().tables > MAX_DESIRED_TABLES {
            return Err(Error::InvalidDdl {
                index,
                statement: shorten(&text),
                message: format!(
                    "a desired schema holds at most {MAX_DESIRED_TABLES} tables (SQLite's own \
                     cost of creating them grows with the square of their number)"
                ),
            });
        }
        if !guard.lock().created {
            return Err(refused(
                index,
                shorten(&text),
                "it creates no schema object",
            ));
        }
        let mut stmt = stmt;
        if let Err(e) = stmt.raw_execute() {
            if let Some(what) = guard.lock().denied.take() {
                return Err(refused(index, shorten(&text), &what));
            }
            return Err(Error::InvalidDdl {
                index,
                statement: shorten(&text),
                message: map_err(e, None).to_string(),
            });
        }
    }
    conn.authorizer(None::<fn(rusqlite::hooks::AuthContext<'_>) -> rusqlite::hooks::Authorization>)
        .map_err(|e| db_err(e, ""))?;
    let schema = introspect(&conn)?;
    schema.check_rename_hints(ddl).map_err(Error::RenameHints)?;
    Ok(schema)
}

/// Bytes of DDL above which the scratch database uses 64 KiB pages.
const LARGE_DDL: usize = 1 << 20;

/// The most tables a desired schema may create: SQLite's cost of creating them grows with
/// the square of their number (see README).
pub const MAX_DESIRED_TABLES: usize = 5_000;

/// What the authorizer saw of the statement being prepared.
#[derive(Debug, Default)]
struct DdlGuard {
    /// Tables created so far by the whole file (kept across statements).
    tables: usize,
    /// It creates a schema object in the scratch database.
    created: bool,
    /// The first thing refused, described.
    denied: Option<String>,
}

/// Functions a desired schema may not call: they reach outside the database.
const DENIED_FUNCTIONS: [&str; 7] = [
    "load_extension",
    "readfile",
    "writefile",
    "edit",
    "fts3_tokenizer",
    "zipfile",
    "sqlite_dbpage",
];

/// Virtual table modules a desired schema may use.
const ALLOWED_MODULES: [&str; 5] = ["fts5", "fts4", "fts3", "rtree", "rtree_i32"];

impl DdlGuard {
    fn authorize(
        &mut self,
        ctx: &rusqlite::hooks::AuthContext<'_>,
    ) -> rusqlite::hooks::Authorization {
        use rusqlite::hooks::{AuthAction as A, Authorization};
        let main = ctx.database_name.is_none_or(|d| d == "main");
        let denied = match ctx.action {
            A::CreateTable { .. } if main => {
                self.created = true;
                self.tables += 1;
                None
            }
            A::CreateIndex { .. } | A::CreateView { .. } | A::CreateTrigger { .. } if main => {
                self.created = true;
                None
            }
            // ALTER TABLE of the scratch database's tables (`ADD COLUMN` in a schema file).
            A::AlterTable { .. } if main => {
                self.created = true;
                None
            }
            A::CreateVtable { module_name, .. } if main => {
                if ALLOWED_MODULES
                    .iter()
                    .any(|m| m.eq_ignore_ascii_case(module_name))
                {
                    self.created = true;
                    None
                } else {
                    Some(format!("virtual table module {module_name}"))
                }
            }
            A::Insert { .. }
            | A::Update { .. }
            | A::Delete { .. }
            | A::Read { .. }
            | A::Reindex { .. }
                if main =>
            {
                None
            }
            A::Select | A::Recursive | A::Transaction { .. } | A::Savepoint { .. } => None,
            A::Function { function_name } => DENIED_FUNCTIONS
                .iter()
                .any(|f| f.eq_ignore_ascii_case(function_name))
                .then(|| format!("function {function_name}()")),
            A::Attach { filename } => Some(format!("ATTACH of {filename:?}")),
            A::Detach { database_name } => Some(format!("DETACH of {database_name}")),
            A::Pragma { pragma_name, .. } => Some(format!("PRAGMA {pragma_name}")),
            other => Some(format!("{other:?}")),
        };
        match denied {
            None => Authorization::Allow,
            Some(what) => {
                self.denied.get_or_insert(what);
                Authorization::Deny
            }
        }
    }
}

fn invalid_ddl(index: usize, err: &rusqlite::Error, ddl: &str) -> Error {
    let (message, statement) = match err {
        rusqlite::Error::SqlInputError {
            msg, sql, offset, ..
        } => {
            let offset = usize::try_from(*offset).unwrap_or(0);
            let near: String = sql
                .chars()
                .skip(offset.saturating_sub(20))
                .take(60)
                .collect();
            (format!("{msg} near `{}`", near.trim()), shorten(sql))
        }
        other => (other.to_string(), shorten(ddl)),
    };
    Error::InvalidDdl {
        index,
        statement,
        message,
    }
}

fn shorten(sql: &str) -> String {
    let one_line = sql.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() > 120 {
        format!("{}...", one_line.chars().take(120).collect::<String>())
    } else {
        one_line
    }
}

/// SQLite's type affinity of a declared type (section 3.1 of "Datatypes In SQLite").
fn affinity(decl: &str) -> &'static str {
    let t = decl.to_uppercase();
    if t.contains("INT") {
        "INTEGER"
    } else if t.contains("CHAR") || t.contains("CLOB") || t.contains("TEXT") {
        "TEXT"
    } else if t.contains("BLOB") || t.is_empty() {
        "BLOB"
    } else if t.contains("REAL") || t.contains("FLOA") || t.contains("DOUB") {
        "REAL"
    } else {
        "NUMERIC"
    }
}

/// The affinity a value takes in a column of `table` declared `decl`: a STRICT table's types
/// coerce as their plain affinities do (`ANY` keeps values as they are).
fn target_affinity(table: &Table, decl: &str) -> &'static str {
    if table.strict && decl.eq_ignore_ascii_case("ANY") {
        "BLOB"
    } else {
        affinity(decl)
    }
}

/// The storage classes a STRICT column of type `decl` accepts (besides NULL).
fn strict_classes(decl: &str) -> &'static [&'static str] {
    match decl.to_uppercase().as_str() {
        "INT" | "INTEGER" => &["integer"],
        "REAL" => &["real"],
        "TEXT" => &["text"],
        "BLOB" => &["blob"],
        _ => &["integer", "real", "text", "blob"],
    }
}

/// Refuses the rebuild of `name` when a copied value would not survive its new column:
/// converted inexactly (`'042'` or `'4.50'` into an INTEGER column, a REAL that prints
/// shorter, an integer beyond 2^53 into REAL) or not storable (text into a STRICT INTEGER
/// column). The candidates are found with one scan of the live table per column that may
/// convert, and converted by SQLite itself in a temporary table (so the rules are SQLite's).
fn check_conversions(
    conn: &Connection,
    quoted_table: &str,
    name: &str,
    table: &Table,
    live: &Table,
    copy: &[(String, String)],
) -> Result<()> {
    let mut problems = Vec::new();
    for (new, old) in copy {
        let (Some(n), Some(o)) = (table.column(new), live.column(old)) else {
            continue;
        };
        if n.generated.is_some() {
            continue;
        }
        let to = target_affinity(table, &n.decl_type);
        let same = !table.strict && to == affinity(&o.decl_type) && live.strict == table.strict;
        if same || (to == "BLOB" && !table.strict) {
            continue; // nothing converts
        }
        // Which stored values may change class under the new affinity.
        let candidates = match to {
            "TEXT" => "typeof(v) IN ('integer', 'real')",
            "REAL" => "typeof(v) = 'text' OR (typeof(v) = 'integer' AND abs(v) > 9007199254740992)",
            "INTEGER" | "NUMERIC" => "typeof(v) IN ('text', 'real')",
            _ => "0",
        };
        let allowed = if table.strict {
            strict_classes(&n.decl_type)
        } else {
            &["integer", "real", "text", "blob"]
        };
        let not_allowed = format!(
            "typeof(v) NOT IN ('null', {})",
            allowed
                .iter()
                .map(|c| format!("'{c}'"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let col = quote_ident(old);
        let decl = if to == "BLOB" { "" } else { to };
        exec(
            conn,
            &format!("CREATE TEMP TABLE codedb_conv (old, new {decl})"),
        )?;
        let found = (|| -> Result<Vec<String>> {
            exec(
                conn,
                &format!(
                    "INSERT INTO temp.codedb_conv SELECT DISTINCT v, v FROM \
                     (SELECT {col} AS v FROM {quoted_table}) WHERE {candidates} OR {not_allowed}"
                ),
            )?;
            // Exact: same class and value, or a class change that reads back as the old value.
            let inexact = format!(
                "SELECT quote(old) FROM temp.codedb_conv WHERE NOT ( \
                   (typeof(new) = typeof(old) AND new IS old) \
                   OR (typeof(old) = 'text' AND typeof(new) IN ('integer', 'real') AND CAST(new AS TEXT) = old) \
                   OR (typeof(old) = 'text' AND typeof(new) = 'real' AND new = CAST(new AS INTEGER) \
                       AND CAST(CAST(new AS INTEGER) AS TEXT) = old) \
                   OR (typeof(old) IN ('integer', 'real') AND typeof(new) = 'text' AND CAST(new AS NUMERIC) = old) \
                   OR (typeof(old) IN ('integer', 'real') AND typeof(new) IN ('integer', 'real') AND new = old)) \
                 OR (SELECT v FROM (SELECT new AS v) WHERE {not_allowed}) IS NOT NULL \
                 ORDER BY old LIMIT 6"
            );
            strings(conn, &inexact, &[])
        })();
        exec(conn, "DROP TABLE temp.codedb_conv")?;
        let found = found?;
        if !found.is_empty() {
            let more = if found.len() > 5 { ", ..." } else { "" };
            let shown: Vec<&str> = found.iter().take(5).map(String::as_str).collect();
            problems.push(format!(
                "column {new} ({} -> {}): {}{more}",
                show_type(&o.decl_type),
                show_type(&n.decl_type),
                shown.join(", ")
            ));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Error::Refused(format!(
            "rebuilding table {name} would change stored values (they do not convert exactly \
             or cannot be stored): {}; convert or fix them first",
            problems.join("; ")
        )))
    }
}

fn show_type(t: &str) -> &str {
    if t.is_empty() { "no type" } else { t }
}

/// Replaces the table name in a CREATE TABLE statement.
fn rename_in_create(create: &str, new_name: &str) -> Result<String> {
    let tokens = sql::tokenize_spanned(create);
    // CREATE [TEMP] TABLE [IF NOT EXISTS] name
    let mut i = tokens
        .iter()
        .position(|(t, _)| *t == sql::Token::Word("table".into()))
        .ok_or_else(|| {
            Error::Refused(format!(
                "cannot find the table name in `{}`",
                shorten(create)
            ))
        })?
        + 1;
    while matches!(tokens.get(i), Some((sql::Token::Comment(_), _))) {
        i += 1;
    }
    if matches!(tokens.get(i), Some((sql::Token::Word(w), _)) if w == "if") {
        i += 3;
    }
    while matches!(tokens.get(i), Some((sql::Token::Comment(_), _))) {
        i += 1;
    }
    let (_, (start, mut end)) = tokens
        .get(i)
        .cloned()
        .ok_or_else(|| Error::Refused("no table name".into()))?;
    // schema.name
    if matches!(tokens.get(i + 1), Some((sql::Token::Punct(p), _)) if p == ".")
        && let Some((_, (_, e))) = tokens.get(i + 2)
    {
        end = *e;
    }
    let chars: Vec<char> = create.chars().collect();
    let head: String = chars[..start].iter().collect();
    let tail: String = chars[end..].iter().collect();
    Ok(format!("{head}{}{tail}", quote_ident(new_name)))
}

/// Runs `sql` on `conn` (one statement, no rows wanted).
fn exec(conn: &Connection, sql: &str) -> Result<()> {
    conn.execute_batch(sql).map_err(|e| db_err(e, sql))
}

fn count(conn: &Connection, sql: &str) -> Result<i64> {
    conn.query_row(sql, [], |r| r.get(0))
        .map_err(|e| db_err(e, sql))
}

/// Rebuilds one table (already under its desired name) into `table`'s definition.
fn rebuild(
    conn: &Connection,
    table: &Table,
    copy: &[(String, String)],
    recreate: &[String],
) -> Result<()> {
    let name = &table.name;
    let q = quote_ident(name);
    let tmp = format!("codedb_new_{name}");
    let qtmp = quote_ident(&tmp);
    let live = read_table(
        conn,
        name,
        &strings(
            conn,
            "SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = ?1 COLLATE NOCASE",
            &[name],
        )?
        .into_iter()
        .next()
        .unwrap_or_default(),
    )?
    .ok_or_else(|| Error::Refused(format!("table {name} is a shadow table")))?;
    let has_sequence = count(
        conn,
        "SELECT count(*) FROM sqlite_schema WHERE name = 'sqlite_sequence'",
    )? > 0;
    let old_seq: Option<i64> = if has_sequence {
        conn.query_row(
            "SELECT seq FROM sqlite_sequence WHERE name = ?1 COLLATE NOCASE",
            [name],
            |r| r.get(0),
        )
        .ok()
    } else {
        None
    };
    let before = count(conn, &format!("SELECT count(*) FROM {q}"))?;
    exec(conn, &rename_in_create(&table.sql, &tmp)?)?;
    // Values the new column would store differently: refused unless the conversion is exact
    // (text that reads back as the same number, a number whose text reads back as it), and
    // named; checked before any row is copied.
    check_conversions(conn, &q, name, table, &live, copy)?;
    let insertable: Vec<&(String, String)> = copy
        .iter()
        .filter(|(new, _)| table.column(new).is_some_and(|c| c.generated.is_none()))
        .collect();
    let targets: Vec<String> = insertable.iter().map(|(n, _)| quote_ident(n)).collect();
    let sources: Vec<String> = insertable.iter().map(|(_, o)| quote_ident(o)).collect();
    let insert = format!(
        "INSERT INTO {qtmp} ({}) SELECT {} FROM {q}",
        targets.join(", "),
        sources.join(", ")
    );
    let copied = conn.execute(&insert, []).map_err(|e| {
        let err = db_err(e, &insert);
        Error::Refused(format!(
            "rebuilding table {name} would violate a constraint with the existing rows: {err}"
        ))
    })?;
    if i64::try_from(copied).unwrap_or(-1) != before {
        return Err(Error::Refused(format!(
            "rebuilding table {name} copied {copied} of {before} rows"
        )));
    }
    exec(conn, &format!("DROP TABLE {q}"))?;
    // Legacy mode: the rename must not rewrite or re-check other objects that refer to the
    // table by name; they refer to the same name before and after.
    exec(conn, "PRAGMA legacy_alter_table=ON")?;
    let renamed = exec(conn, &format!("ALTER TABLE {qtmp} RENAME TO {q}"));
    exec(conn, "PRAGMA legacy_alter_table=OFF")?;
    renamed?;
    if let (Some(seq), true) = (old_seq, table.autoincrement) {
        conn.execute(
            "UPDATE sqlite_sequence SET seq = max(seq, ?2) WHERE name = ?1 COLLATE NOCASE",
            rusqlite::params![name, seq],
        )
        .map_err(|e| db_err(e, "UPDATE sqlite_sequence"))?;
        if conn.changes() == 0 {
            conn.execute(
                "INSERT INTO sqlite_sequence(name, seq) VALUES (?1, ?2)",
                rusqlite::params![name, seq],
            )
            .map_err(|e| db_err(e, "INSERT INTO sqlite_sequence"))?;
        }
    }
    for statement in recreate {
        exec(conn, statement)?;
    }
    Ok(())
}

fn run_step(conn: &Connection, change: &Change) -> Result<()> {
    match change {
        Change::CreateTable { table } => exec(conn, &table.sql),
        Change::DropTable { name } => exec(conn, &format!("DROP TABLE {}", quote_ident(name))),
        Change::RenameTable { from, to } => exec(
            conn,
            &format!(
                "ALTER TABLE {} RENAME TO {}",
                quote_ident(from),
                quote_ident(to)
            ),
        ),
        Change::RenameColumn { table, from, to } => exec(
            conn,
            &format!(
                "ALTER TABLE {} RENAME COLUMN {} TO {}",
                quote_ident(table),
                quote_ident(from),
                quote_ident(to)
            ),
        ),
        Change::AddColumn {
            table, definition, ..
        } => exec(
            conn,
            &format!("ALTER TABLE {} ADD COLUMN {definition}", quote_ident(table)),
        ),
        Change::RebuildTable {
            table,
            copy,
            recreate,
            ..
        } => rebuild(conn, table, copy, recreate),
        Change::CreateIndex { index } => exec(conn, &index.sql),
        Change::DropIndex { name } => exec(conn, &format!("DROP INDEX {}", quote_ident(name))),
        Change::CreateView { view } => exec(conn, &view.sql),
        Change::DropView { name } => exec(conn, &format!("DROP VIEW {}", quote_ident(name))),
        Change::CreateTrigger { trigger } => exec(conn, &trigger.sql),
        Change::DropTrigger { name } => exec(conn, &format!("DROP TRIGGER {}", quote_ident(name))),
    }
}

const LOG_TABLE: &str = "CREATE TABLE IF NOT EXISTS _codedb_schema_log (
    id INTEGER PRIMARY KEY,
    at_ms INTEGER NOT NULL,
    fingerprint_before TEXT NOT NULL,
    fingerprint_after TEXT NOT NULL,
    plan TEXT NOT NULL,
    backup_path TEXT
)";

/// Applies `plan` on `conn` in one transaction, verified before commit (see
/// [`SchemaBackend::apply`]).
pub fn apply(
    conn: &Connection,
    plan: &Plan,
    desired: &Schema,
    options: DiffOptions,
    log: &SyncLog,
) -> Result<()> {
    if !conn.is_autocommit() {
        return Err(Error::Refused(
            "a schema sync cannot run inside an open transaction".into(),
        ));
    }
    let fk_on: bool = conn
        .query_row("PRAGMA foreign_keys", [], |r| r.get(0))
        .map_err(|e| db_err(e, "PRAGMA foreign_keys"))?;
    // Off before BEGIN: the pragma is a no-op inside a transaction.
    exec(conn, "PRAGMA foreign_keys=OFF")?;
    let result = (|| -> Result<()> {
        exec(conn, "BEGIN IMMEDIATE")?;
        for step in &plan.steps {
            run_step(conn, &step.change).map_err(|e| match e {
                Error::Refused(_) => e,
                other => Error::Refused(format!("{}: {other}", step.description)),
            })?;
        }
        let violations = strings(
            conn,
            "SELECT \"table\" || ' row ' || coalesce(rowid, '?') || ' -> ' || parent FROM pragma_foreign_key_check",
            &[],
        )?;
        if !violations.is_empty() {
            return Err(Error::Refused(format!(
                "the change would break foreign keys ({}{})",
                violations
                    .iter()
                    .take(5)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", "),
                if violations.len() > 5 { ", ..." } else { "" }
            )));
        }
        let after = introspect(conn)?;
        let left = codedb_schema::diff(&after, desired, options);
        if !left.is_empty() {
            let lines: Vec<&str> = left.steps.iter().map(|s| s.description.as_str()).collect();
            return Err(Error::Refused(format!(
                "after applying the plan the schema still differs: {}",
                lines.join("; ")
            )));
        }
        exec(conn, LOG_TABLE)?;
        conn.execute(
            "INSERT INTO _codedb_schema_log(at_ms, fingerprint_before, fingerprint_after, plan, backup_path) \
             VALUES (?1, ?2, ?3, ?4, ?5)",
            rusqlite::params![log.at_ms, log.fingerprint_before, log.fingerprint_after, log.plan, log.backup_path],
        )
        .map_err(|e| db_err(e, "INSERT INTO _codedb_schema_log"))?;
        exec(conn, "COMMIT")
    })();
    if result.is_err() && !conn.is_autocommit() {
        let _ = conn.execute_batch("ROLLBACK");
    }
    let restored = exec(
        conn,
        if fk_on {
            "PRAGMA foreign_keys=ON"
        } else {
            "PRAGMA foreign_keys=OFF"
        },
    );
    result.and(restored)
}

/// [`SchemaBackend`] for a database served by a [`SQLiteDriverProxy`]: every operation is one
/// job on the worker's connection, holding the writer gate.
#[derive(Debug, Clone)]
pub struct SqliteSchema {
    proxy: Arc<SQLiteDriverProxy>,
}

impl SqliteSchema {
    /// The schema backend of `proxy`'s database.
    pub fn new(proxy: Arc<SQLiteDriverProxy>) -> Self {
        SqliteSchema { proxy }
    }

    fn job<R: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<R> + Send + 'static,
    ) -> Result<R> {
        // The schema error travels through the driver's error channel as its message.

        self.proxy
            .with_connection(move |d: &mut SQLiteDriver| Ok(f(d.connection())))?
    }
}

impl SchemaBackend for SqliteSchema {
    fn introspect(&self) -> Result<Schema> {
        self.job(introspect)
    }

    fn schema_from_ddl(&self, ddl: &str) -> Result<Schema> {
        schema_from_ddl(ddl)
    }

    fn apply(
        &self,
        plan: &Plan,
        desired: &Schema,
        options: DiffOptions,
        log: &SyncLog,
    ) -> Result<()> {
        let (plan, desired, log) = (plan.clone(), desired.clone(), log.clone());
        self.job(move |conn| apply(conn, &plan, &desired, options, &log))
    }

    fn backup_to(&self, dest: &Path) -> Result<()> {
        use codedb_driver::SpecificDriver;
        Ok(self.proxy.backup_to(dest)?)
    }

    fn database_path(&self) -> Option<PathBuf> {
        let p = self.proxy.path();
        (p.as_os_str() != ":memory:" && !p.as_os_str().is_empty()).then(|| p.to_owned())
    }

    fn database_identity(&self) -> Option<String> {
        self.database_path().map(|p| database_identity(&p))
    }

    fn live_schema_token(&self) -> Result<Option<String>> {
        self.job(|conn| {
            let texts = strings(
                conn,
                "SELECT type || ' ' || name || ' ' || coalesce(sql, '') FROM sqlite_schema \
                 WHERE name NOT LIKE '\\_codedb\\_%' ESCAPE '\\' ORDER BY type, name",
                &[],
            )?;
            Ok(Some(codedb_schema::ddl_key(&texts.join("\n"))))
        })
    }

    fn remembered_sync(&self) -> Result<Option<(String, String)>> {
        self.job(|conn| {
            let exists: i64 = conn
                .query_row(
                    "SELECT count(*) FROM sqlite_schema WHERE name = '_codedb_schema_state'",
                    [],
                    |r| r.get(0),
                )
                .map_err(|e| db_err(e, "sqlite_schema"))?;
            if exists == 0 {
                return Ok(None);
            }
            conn.query_row(
                "SELECT desired_key, live_token FROM _codedb_schema_state",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map(Some)
            .or_else(|e| match e {
                rusqlite::Error::QueryReturnedNoRows => Ok(None),
                e => Err(db_err(e, "SELECT FROM _codedb_schema_state")),
            })
        })
    }

    fn remember_in_sync(&self, desired_key: &str, live_token: &str) -> Result<()> {
        let (key, token) = (desired_key.to_owned(), live_token.to_owned());
        self.job(move |conn| {
            exec(conn, "BEGIN IMMEDIATE")?;
            let r = (|| {
                exec(
                    conn,
                    "CREATE TABLE IF NOT EXISTS _codedb_schema_state (desired_key TEXT NOT NULL, live_token TEXT NOT NULL)",
                )?;
                exec(conn, "DELETE FROM _codedb_schema_state")?;
                conn.execute(
                    "INSERT INTO _codedb_schema_state(desired_key, live_token) VALUES (?1, ?2)",
                    rusqlite::params![key, token],
                )
                .map_err(|e| db_err(e, "INSERT INTO _codedb_schema_state"))?;
                exec(conn, "COMMIT")
            })();
            if r.is_err() && !conn.is_autocommit() {
                let _ = conn.execute_batch("ROLLBACK");
            }
            r
        })
    }
}

/// What tells the database file at `path` from others of the same name (for naming its
/// backups): its absolute path, symbolic links in its directory resolved.
pub fn database_identity(path: &Path) -> String {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
    let resolved = match (absolute.parent(), absolute.file_name()) {
        (Some(dir), Some(name)) => std::fs::canonicalize(dir)
            .map(|d| d.join(name))
            .unwrap_or(absolute),
        _ => absolute,
    };
    resolved.display().to_string()
}
