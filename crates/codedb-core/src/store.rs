//! The domain API: projects, files, the entities parsed from them, usages, source text,
//! issues, and the queries over them. Written once as [`CodeStore`], an extension of
//! [`Executor`], so it works on a [`CodeDatabase`](crate::CodeDatabase) (each call its own
//! transaction) and inside a [`Transaction`](crate::Transaction) (each call joins it).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{SystemTime, UNIX_EPOCH};

use codedb_driver::{Batch, Row, Value, params};
use serde::Serialize;

use crate::Dialect;
use crate::error::Result;
use crate::executor::Executor;

/// Unix milliseconds now.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// What the indexer knows about a file before storing it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileMeta {
    /// Relative to the project root, `/`-separated.
    pub path: String,
    /// `python`, `rust`, ...
    pub language: Option<String>,
    /// Bytes.
    pub size: i64,
    /// Modification time, nanoseconds since the Unix epoch.
    pub mtime_ns: i64,
    /// Lowercase hex SHA-256 of the bytes.
    pub sha256: String,
    /// Lines of text.
    pub lines: i64,
}

/// A row of `files`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileRecord {
    /// Row id.
    pub id: i64,
    /// Owning project.
    pub project_id: i64,
    /// The file as last stored.
    #[serde(flatten)]
    pub meta: FileMeta,
    /// Soft-deleted.
    pub deleted: bool,
    /// When its entities were last stored (Unix ms).
    pub indexed_at: Option<i64>,
}

/// The kind of a definition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EntityKind {
    /// A class, struct, enum, trait or similar type definition.
    Class,
    /// A function not directly in a class body.
    Function,
    /// A function directly in a class body (Python) or an impl/trait block (Rust).
    Method,
}

/// A definition found in a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entity {
    /// What it is.
    pub kind: EntityKind,
    /// Its name.
    pub name: String,
    /// Dotted path inside the file (`Class.method`, `module::Type::method` style as the
    /// language has it).
    pub qualified_name: String,
    /// 1-based first line.
    pub start_line: i64,
    /// 1-based last line.
    pub end_line: i64,
    /// Byte offset of the start.
    pub start_byte: i64,
    /// Byte offset of the end.
    pub end_byte: i64,
    /// The header (`def f(a, b) -> int`), if any.
    pub signature: Option<String>,
    /// The docstring or doc comment, if any.
    pub docstring: Option<String>,
    /// For a method: the index, in the same list, of its class.
    pub parent: Option<usize>,
}

/// An import statement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Import {
    /// The module (`os.path`, `std::collections`).
    pub module: Option<String>,
    /// The imported names, comma-separated, if the statement names them.
    pub name: Option<String>,
    /// `as` alias, if any.
    pub alias: Option<String>,
    /// 1-based line.
    pub line: i64,
}

/// A problem found while parsing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Issue {
    /// `syntax_error`, ...
    pub kind: String,
    /// 1-based line.
    pub line: i64,
    /// 1-based column.
    pub column: i64,
    /// What is wrong.
    pub message: String,
}

/// Everything derived from one file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Parsed {
    /// Classes, functions and methods, in source order.
    pub entities: Vec<Entity>,
    /// Import statements.
    pub imports: Vec<Import>,
    /// Identifier references: name -> (1-based line, 1-based column) positions.
    pub usages: BTreeMap<String, Vec<(u32, u32)>>,
    /// Parse problems.
    pub issues: Vec<Issue>,
    /// The source's words as a PostgreSQL `tsvector` literal
    /// ([`crate::search::tsvector`]), when the caller built it ahead (the indexer does, in
    /// its parse threads, for a PostgreSQL database); the store builds it when `None`.
    pub tsvector: Option<String>,
}

/// Counts over the live (not deleted) files.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    /// Files.
    pub files: i64,
    /// Classes.
    pub classes: i64,
    /// Functions.
    pub functions: i64,
    /// Methods.
    pub methods: i64,
    /// Import statements.
    pub imports: i64,
    /// Identifier references.
    pub usages: i64,
    /// Parse problems.
    pub issues: i64,
    /// Bytes of source.
    pub bytes: i64,
}

/// A definition found by a query.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SymbolHit {
    /// `class`, `function` or `method`.
    pub kind: String,
    /// Its name.
    pub name: String,
    /// Its qualified name.
    pub qualified_name: String,
    /// The file, relative to its project.
    pub path: String,
    /// 1-based first line.
    pub start_line: i64,
    /// 1-based last line.
    pub end_line: i64,
    /// Its signature, if any.
    pub signature: Option<String>,
}

/// A file whose source matched a full-text search.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TextHit {
    /// The file.
    pub path: String,
    /// The matching text, the match in `[...]`.
    pub snippet: String,
}

/// What [`CodeStore::full_text_search`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SearchHits {
    /// Definitions whose name, qualified name or docstring matched.
    pub symbols: Vec<SymbolHit>,
    /// Files whose source matched.
    pub files: Vec<TextHit>,
}

/// Where a name is used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UsageHit {
    /// The file.
    pub path: String,
    /// 1-based line.
    pub line: u32,
    /// 1-based column.
    pub column: u32,
}

/// Packs sorted (line, column) positions as LEB128 varints: line deltas and columns.
pub fn pack_positions(positions: &[(u32, u32)]) -> Vec<u8> {
    fn varint(out: &mut Vec<u8>, mut v: u32) {
        loop {
            let byte = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                out.push(byte);
                return;
            }
            out.push(byte | 0x80);
        }
    }
    let mut out = Vec::with_capacity(positions.len() * 2);
    let mut last = 0;
    for &(line, column) in positions {
        varint(&mut out, line.saturating_sub(last));
        varint(&mut out, column);
        last = line;
    }
    out
}

/// The inverse of [`pack_positions`]; stops at a truncated tail.
pub fn unpack_positions(bytes: &[u8]) -> Vec<(u32, u32)> {
    let mut out = Vec::new();
    let mut it = bytes.iter();
    let mut next = || -> Option<u32> {
        let mut v: u32 = 0;
        for shift in (0..35).step_by(7) {
            let b = *it.next()?;
            v |= u32::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Some(v);
            }
        }
        None
    };
    let mut line = 0;
    while let (Some(delta), Some(column)) = (next(), next()) {
        line += delta;
        out.push((line, column));
    }
    out
}

const FILE_COLUMNS: &str =
    "id, project_id, path, language, size, mtime_ns, sha256, lines, deleted, indexed_at";

fn file_record(row: &Row) -> Result<FileRecord> {
    Ok(FileRecord {
        id: row.get(0)?,
        project_id: row.get(1)?,
        meta: FileMeta {
            path: row.get(2)?,
            language: row.get(3)?,
            size: row.get(4)?,
            mtime_ns: row.get(5)?,
            sha256: row.get(6)?,
            lines: row.get(7)?,
        },
        deleted: row.get(8)?,
        indexed_at: row.get(9)?,
    })
}

/// The domain API, on anything that runs statements.
pub trait CodeStore: Executor + Sized {
    /// The project rooted at `root`, created (named `name`) if absent.
    fn get_or_create_project(&self, root: &str, name: &str) -> Result<i64> {
        self.atomic(|tx| {
            if let Some(row) = tx.query_row(
                "SELECT id FROM projects WHERE root_path = ?1",
                params![root],
            )? {
                return Ok(row.get(0)?);
            }
            let r = tx.execute(
                "INSERT INTO projects(root_path, name, created_at) VALUES (?1, ?2, ?3)",
                params![root, name, now_ms()],
            )?;
            match r.last_insert_id {
                Some(id) => Ok(id),
                None => Ok(tx.query_scalar(
                    "SELECT id FROM projects WHERE root_path = ?1",
                    params![root],
                )?),
            }
        })
    }

    /// Deletes a project and everything under it.
    fn delete_project(&self, project_id: i64) -> Result<()> {
        self.execute("DELETE FROM projects WHERE id = ?1", params![project_id])?;
        Ok(())
    }

    /// The file at `path` in the project, deleted or not.
    fn get_file_by_path(&self, project_id: i64, path: &str) -> Result<Option<FileRecord>> {
        let sql = format!("SELECT {FILE_COLUMNS} FROM files WHERE project_id = ?1 AND path = ?2");
        self.query_row(&sql, params![project_id, path])?
            .as_ref()
            .map(file_record)
            .transpose()
    }

    /// The project's files (live ones, or all with `include_deleted`), by path.
    fn list_files(&self, project_id: i64, include_deleted: bool) -> Result<Vec<FileRecord>> {
        let sql = format!(
            "SELECT {FILE_COLUMNS} FROM files WHERE project_id = ?1 {} ORDER BY path",
            if include_deleted {
                ""
            } else {
                "AND deleted = 0"
            }
        );
        self.query(&sql, params![project_id])?
            .iter()
            .map(file_record)
            .collect()
    }

    /// Inserts or updates the file row (un-deleting it); returns its id.
    fn add_file(&self, project_id: i64, meta: &FileMeta) -> Result<i64> {
        let rows = self.query(
            "INSERT INTO files(project_id, path, language, size, mtime_ns, sha256, lines, deleted)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 0)
             ON CONFLICT(project_id, path) DO UPDATE SET language = excluded.language, size = excluded.size,
                 mtime_ns = excluded.mtime_ns, sha256 = excluded.sha256, lines = excluded.lines, deleted = 0
             RETURNING id",
            params![project_id, meta.path.as_str(), meta.language.clone(), meta.size, meta.mtime_ns, meta.sha256.as_str(), meta.lines],
        )?;
        Ok(rows.scalar()?)
    }

    /// Records a new size and mtime for a file whose bytes did not change.
    fn touch_file(&self, file_id: i64, size: i64, mtime_ns: i64) -> Result<()> {
        self.execute(
            "UPDATE files SET size = ?2, mtime_ns = ?3 WHERE id = ?1",
            params![file_id, size, mtime_ns],
        )?;
        Ok(())
    }

    /// Soft-deletes a file: its row stays (marked), everything derived from it goes.
    fn mark_file_deleted(&self, file_id: i64) -> Result<()> {
        self.atomic(|tx| {
            clear_file_data(tx, file_id)?;
            tx.execute(
                "UPDATE files SET deleted = 1 WHERE id = ?1",
                params![file_id],
            )?;
            Ok(())
        })
    }

    /// Removes a file and everything derived from it.
    fn delete_file(&self, file_id: i64) -> Result<()> {
        self.execute("DELETE FROM files WHERE id = ?1", params![file_id])?;
        Ok(())
    }

    /// Replaces everything derived from one file (its row, source, entities, imports, usages,
    /// issues) in one savepoint or transaction; returns the file id.
    fn update_file_data_atomic(
        &self,
        project_id: i64,
        meta: &FileMeta,
        source: &str,
        parsed: &Parsed,
    ) -> Result<i64> {
        self.atomic(|tx| {
            let file_id = tx.add_file(project_id, meta)?;
            let row = tx
                .query_row(
                    "SELECT (SELECT coalesce(max(id), 0) + 1 FROM classes), \
                            (SELECT coalesce(max(id), 0) FROM names)",
                    params![],
                )?
                .ok_or_else(no_maxima)?;
            let (mut next_class, max_name): (i64, i64) = (row.get(0)?, row.get(1)?);
            let mut names = NameCache::for_files(tx, std::iter::once(parsed), max_name)?;
            let mut batch = Batch::new();
            let data = FileData {
                source,
                parsed,
                indexed_at: now_ms(),
                new_file: false,
            };
            let mut inserts = Inserts::new(tx.dialect());
            push_replace_file(
                &mut batch,
                &mut inserts,
                file_id,
                &data,
                &mut next_class,
                &mut names,
            );
            inserts.flush(&mut batch, &[file_id]);
            tx.execute_batch(batch)?;
            Ok(file_id)
        })
    }

    /// Counts over live files, optionally of one language.
    fn stats(&self, language: Option<&str>) -> Result<Stats> {
        let filter = "SELECT id FROM files WHERE deleted = 0 AND (CAST(?1 AS TEXT) IS NULL OR language = ?1)";
        let sql = format!(
            "SELECT (SELECT count(*) FROM files WHERE deleted = 0 AND (CAST(?1 AS TEXT) IS NULL OR language = ?1)),
                    (SELECT count(*) FROM classes WHERE file_id IN ({filter})),
                    (SELECT count(*) FROM functions WHERE file_id IN ({filter})),
                    (SELECT count(*) FROM methods WHERE file_id IN ({filter})),
                    (SELECT count(*) FROM imports WHERE file_id IN ({filter})),
                    (SELECT CAST(coalesce(sum(count), 0) AS BIGINT) FROM usages WHERE file_id IN ({filter})),
                    (SELECT count(*) FROM issues WHERE file_id IN ({filter})),
                    (SELECT CAST(coalesce(sum(size), 0) AS BIGINT) FROM files WHERE deleted = 0 AND (CAST(?1 AS TEXT) IS NULL OR language = ?1))"
        );
        let lang: Value = language.into();
        let row = self.query_row(&sql, vec![lang])?.unwrap_or_default();
        Ok(Stats {
            files: row.get(0)?,
            classes: row.get(1)?,
            functions: row.get(2)?,
            methods: row.get(3)?,
            imports: row.get(4)?,
            usages: row.get(5)?,
            issues: row.get(6)?,
            bytes: row.get(7)?,
        })
    }

    /// Definitions whose name or qualified name is `name`.
    fn find_symbol(&self, name: &str) -> Result<Vec<SymbolHit>> {
        symbols(self, "(e.name = ?1 OR e.qualified_name = ?1)", name)
    }

    /// Classes whose name matches the SQL LIKE `pattern` (case-insensitive for ASCII on
    /// every backend).
    fn search_classes(&self, pattern: &str) -> Result<Vec<SymbolHit>> {
        symbols_of(
            self,
            "classes",
            "class",
            &format!("e.name {} ?1 ESCAPE '\\'", self.dialect().ilike()),
            pattern,
        )
    }

    /// Methods whose name matches the SQL LIKE `pattern`.
    fn search_methods(&self, pattern: &str) -> Result<Vec<SymbolHit>> {
        symbols_of(
            self,
            "methods",
            "method",
            &format!("e.name {} ?1 ESCAPE '\\'", self.dialect().ilike()),
            pattern,
        )
    }

    /// Functions whose name matches the SQL LIKE `pattern`.
    fn search_functions(&self, pattern: &str) -> Result<Vec<SymbolHit>> {
        symbols_of(
            self,
            "functions",
            "function",
            &format!("e.name {} ?1 ESCAPE '\\'", self.dialect().ilike()),
            pattern,
        )
    }

    /// Every definition in the live file at `path`, in source order.
    fn find_symbol_in_file(&self, path: &str) -> Result<Vec<SymbolHit>> {
        let mut out = symbols(self, "f.path = ?1", path)?;
        out.sort_by_key(|h| h.start_line);
        Ok(out)
    }

    /// Full-text search over definition names, qualified names and docstrings, and over
    /// source text: FTS5 on SQLite, `tsvector` with GIN indexes on PostgreSQL (see
    /// [`crate::schema`]). `text` is searched as a phrase (no query syntax to get wrong); at
    /// most `limit` hits of each kind, best first.
    fn full_text_search(&self, text: &str, limit: usize) -> Result<SearchHits> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let dialect = self.dialect();
        let (symbol_sql, file_sql, query) = match dialect {
            Dialect::Sqlite => (
                "SELECT rowid % 4, rowid / 4 FROM symbol_fts WHERE symbol_fts MATCH ?1 \
                 ORDER BY rank LIMIT ?2"
                    .to_owned(),
                "SELECT f.path, snippet(source_fts, 0, '[', ']', '...', 12) FROM source_fts \
                 JOIN files f ON f.id = source_fts.rowid \
                 WHERE source_fts MATCH ?1 AND f.deleted = 0 ORDER BY rank LIMIT ?2",
                format!("\"{}\"", text.replace('"', "\"\"")),
            ),
            Dialect::Postgres => {
                let arms: Vec<String> = [("classes", 1), ("functions", 2), ("methods", 3)]
                    .iter()
                    .map(|(table, code)| {
                        format!(
                            "SELECT {code} AS kind, id, ts_rank(tsv, q) AS rank \
                             FROM {table}, CAST(CAST(?1 AS TEXT) AS tsquery) q WHERE tsv @@ q"
                        )
                    })
                    .collect();
                (
                    format!(
                        "SELECT kind, id FROM ({}) s ORDER BY rank DESC, kind, id LIMIT ?2",
                        arms.join(" UNION ALL ")
                    ),
                    "SELECT f.path, ts_headline('simple', left(s.text, 262144), q, \
                         'StartSel=[, StopSel=], MaxWords=12, MinWords=4, MaxFragments=1, FragmentDelimiter=...') \
                     FROM source s JOIN files f ON f.id = s.file_id, CAST(CAST(?1 AS TEXT) AS tsquery) q \
                     WHERE s.tsv @@ q AND f.deleted = 0 ORDER BY ts_rank(s.tsv, q) DESC, f.path LIMIT ?2",
                    match crate::search::tsquery(text) {
                        Some(q) => q,
                        // No word to look for: nothing matches.
                        None => return Ok(SearchHits::default()),
                    },
                )
            }
        };
        let mut symbols = Vec::new();
        let rows = self.query(&symbol_sql, params![query.as_str(), limit])?;
        for row in &rows {
            let (code, id): (i64, i64) = (row.get(0)?, row.get(1)?);
            let (table, kind) = match code {
                1 => ("classes", "class"),
                2 => ("functions", "function"),
                _ => ("methods", "method"),
            };
            symbols.extend(symbols_of(self, table, kind, "e.id = ?1", id)?);
        }
        let files = self
            .query(file_sql, params![query.as_str(), limit])?
            .iter()
            .map(|r| {
                Ok(TextHit {
                    path: r.get(0)?,
                    snippet: r.get(1)?,
                })
            })
            .collect::<Result<_>>()?;
        Ok(SearchHits { symbols, files })
    }

    /// Where the identifier `name` is used, by file and position.
    fn usages_of(&self, name: &str) -> Result<Vec<UsageHit>> {
        let rows = self.query(
            "SELECT f.path, u.positions FROM usages u JOIN names n ON n.id = u.name_id
             JOIN files f ON f.id = u.file_id WHERE n.name = ?1 AND f.deleted = 0 ORDER BY f.path",
            params![name],
        )?;
        let mut out = Vec::new();
        for row in &rows {
            let path: String = row.get(0)?;
            let blob: Vec<u8> = row.get(1)?;
            out.extend(
                unpack_positions(&blob)
                    .into_iter()
                    .map(|(line, column)| UsageHit {
                        path: path.clone(),
                        line,
                        column,
                    }),
            );
        }
        Ok(out)
    }
}

impl<E: Executor> CodeStore for E {}

fn symbols_of(
    ex: &impl Executor,
    table: &str,
    kind: &str,
    filter: &str,
    arg: impl Into<Value>,
) -> Result<Vec<SymbolHit>> {
    let sql = format!(
        "SELECT '{kind}', e.name, e.qualified_name, f.path, e.start_line, e.end_line, e.signature
         FROM {table} e JOIN files f ON f.id = e.file_id WHERE f.deleted = 0 AND {filter}
         ORDER BY f.path, e.start_line"
    );
    ex.query(&sql, vec![arg.into()])?
        .iter()
        .map(|r| {
            Ok(SymbolHit {
                kind: r.get(0)?,
                name: r.get(1)?,
                qualified_name: r.get(2)?,
                path: r.get(3)?,
                start_line: r.get(4)?,
                end_line: r.get(5)?,
                signature: r.get(6)?,
            })
        })
        .collect()
}

fn symbols(ex: &impl Executor, filter: &str, arg: &str) -> Result<Vec<SymbolHit>> {
    let mut out = Vec::new();
    for (table, kind) in [
        ("classes", "class"),
        ("functions", "function"),
        ("methods", "method"),
    ] {
        out.extend(symbols_of(ex, table, kind, filter, arg)?);
    }
    Ok(out)
}

fn clear_file_data(ex: &impl Executor, file_id: i64) -> Result<()> {
    let mut batch = Batch::new();
    push_clear_file(&mut batch, file_id);
    ex.execute_batch(batch)?;
    Ok(())
}

/// Deletes everything derived from a file (its row stays).
fn push_clear_file(batch: &mut Batch, file_id: i64) {
    for table in [
        "methods",
        "classes",
        "functions",
        "imports",
        "usages",
        "issues",
        "source",
    ] {
        batch.push(
            format!("DELETE FROM {table} WHERE file_id = ?1"),
            params![file_id],
        );
    }
}

/// What is stored for one file besides its row.
struct FileData<'a> {
    source: &'a str,
    parsed: &'a Parsed,
    indexed_at: i64,
    /// The file's row was created by this same batch: nothing derived from it can exist yet.
    new_file: bool,
}

/// Replaces everything derived from the file `file_id` by `data`: the one sequence that
/// both the single-file and the bulk paths send.
fn push_replace_file(
    batch: &mut Batch,
    inserts: &mut Inserts,
    file_id: i64,
    data: &FileData<'_>,
    next_class: &mut i64,
    names: &mut NameCache,
) {
    if !data.new_file {
        push_clear_file(batch, file_id);
    }
    let mut source = params![file_id, data.source];
    if inserts.dialect == Dialect::Postgres {
        // The words for full-text search (see `crate::search`).
        let words = match &data.parsed.tsvector {
            Some(v) => v.clone(),
            None => crate::search::tsvector(data.source),
        };
        source.push(words.into());
    }
    inserts.add(Table::Source, source);
    push_file_data(inserts, file_id, data.parsed, next_class, names);
    if !data.new_file {
        // A new file's row was inserted with it.
        batch.push(
            "UPDATE files SET indexed_at = ?2 WHERE id = ?1",
            params![file_id, data.indexed_at],
        );
    }
}

/// Name ids known to this process, assigned client-side while the write lock is held.
#[derive(Debug, Default)]
struct NameCache {
    ids: HashMap<String, i64>,
    /// `max(id)` of `names` as this cache last saw it, including its own inserts.
    max: i64,
}

impl NameCache {
    /// The ids of the names `files` use, read in as few queries as their number allows: for a
    /// write of a few files, where loading every name would cost more. `max` is `max(id)` of
    /// `names`, read under the write lock, so that a name not found here is new.
    fn for_files<'a>(
        tx: &impl Executor,
        parsed: impl Iterator<Item = &'a Parsed>,
        max: i64,
    ) -> Result<NameCache> {
        let wanted: BTreeSet<&str> = parsed
            .flat_map(|p| p.usages.keys().map(String::as_str))
            .collect();
        let wanted: Vec<&str> = wanted.into_iter().collect();
        let mut ids = HashMap::with_capacity(wanted.len());
        for chunk in wanted.chunks(500) {
            let placeholders: Vec<String> = (1..=chunk.len()).map(|i| format!("?{i}")).collect();
            let rows = tx.query(
                &format!(
                    "SELECT id, name FROM names WHERE name IN ({})",
                    placeholders.join(", ")
                ),
                chunk.iter().map(|n| Value::from(*n)).collect(),
            )?;
            for r in &rows {
                ids.insert(r.get::<String>(1)?, r.get::<i64>(0)?);
            }
        }
        Ok(NameCache { ids, max })
    }

    /// The id of `name`, assigning the next one (and queueing its insert) when new.
    fn id(&mut self, name: &str, new_names: &mut Vec<Vec<Value>>) -> i64 {
        if let Some(&id) = self.ids.get(name) {
            return id;
        }
        self.max += 1;
        self.ids.insert(name.to_owned(), self.max);
        new_names.push(params![self.max, name]);
        self.max
    }
}

/// Below this many files per call, [`BulkWriter`] looks names up in SQL instead of loading
/// them all into memory.
const SMALL_WRITE: usize = 16;

/// Stores many files fast: one round trip per file for its row, one batch for everything
/// derived from all of them, and name ids kept in memory across calls. Use it inside a
/// transaction; it re-reads what it caches when another writer (or a rollback) changed it.
#[derive(Debug, Default)]
pub struct BulkWriter {
    names: NameCache,
}

impl BulkWriter {
    /// A writer with an empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// Replaces, inside the open transaction `tx`, everything the index holds for each of
    /// `files` (meta, source text, parsed data); returns their file ids in order.
    pub fn write_files(
        &mut self,
        tx: &crate::Transaction<'_>,
        project_id: i64,
        files: &[(FileMeta, String, Parsed)],
    ) -> Result<Vec<i64>> {
        Ok(self
            .write(tx, project_id, files, None)?
            .into_iter()
            .filter_map(Written::stored)
            .collect())
    }

    /// [`write_files`](Self::write_files) for a caller that read the files' rows earlier
    /// (an index run): a file whose row another writer (a command, another index run)
    /// changed since the caller saw it, from bytes at least as new (by mtime), is left out;
    /// so is one deleted or moved away since. `seen(path)` is the sha256 of the live row
    /// when the caller read it (`None`: it had none). Returns what became of each file.
    pub fn write_files_seen(
        &mut self,
        tx: &crate::Transaction<'_>,
        project_id: i64,
        files: &[(FileMeta, String, Parsed)],
        seen: &SeenRow<'_>,
    ) -> Result<Vec<Written>> {
        self.write(tx, project_id, files, Some(seen))
    }

    fn write(
        &mut self,
        tx: &crate::Transaction<'_>,
        project_id: i64,
        files: &[(FileMeta, String, Parsed)],
        seen: Option<&SeenRow<'_>>,
    ) -> Result<Vec<Written>> {
        if tx.dialect() == Dialect::Postgres {
            // What a bulk write stores is derived from the files and redone by the next
            // index run: its commit need not wait for the WAL to reach the disk. A crash may
            // lose the last such commits, never part of one.
            // Source text is compressed with lz4 where the server has it: pglz cost the
            // server ~0.5 s of CPU on sympy's 25 MB, lz4 a quarter of that.
            tx.query(
                "SELECT set_config('synchronous_commit', 'off', true), \
                        set_config('default_toast_compression', \
                            CASE WHEN EXISTS (SELECT 1 FROM pg_settings \
                                WHERE name = 'default_toast_compression' AND 'lz4' = ANY(enumvals)) \
                            THEN 'lz4' ELSE 'pglz' END, true)",
                params![],
            )?;
        }
        // Round trips are what a batch costs when the cores are busy parsing (each one waits
        // for the worker thread to be scheduled), so there are four per call whatever its
        // size: the maxima, the rows of the files already known, the batch, and the caller's
        // commit (plus the settings above on PostgreSQL, and the names' ids for a write too
        // small to cache them).
        let maxima = tx
            .query_row(
                "SELECT (SELECT coalesce(max(id), 0) FROM names), \
                        (SELECT coalesce(max(id), 0) + 1 FROM classes), \
                        (SELECT coalesce(max(id), 0) + 1 FROM files)",
                params![],
            )?
            .ok_or_else(no_maxima)?;
        let (max_name, mut next_class, mut next_file): (i64, i64, i64) =
            (maxima.get(0)?, maxima.get(1)?, maxima.get(2)?);
        let known = live_rows(tx, project_id, files)?;
        // Loading every name pays off for many files, not for a few (a one-file re-index).
        let cached = self.names.max > 0 || files.len() >= SMALL_WRITE;
        if cached && max_name != self.names.max {
            let rows = tx.query("SELECT id, name FROM names", params![])?;
            self.names.ids = rows
                .iter()
                .map(|r| Ok((r.get::<String>(1)?, r.get::<i64>(0)?)))
                .collect::<Result<_>>()?;
            self.names.max = max_name;
        }
        let mut partial = if cached {
            None
        } else {
            Some(NameCache::for_files(
                tx,
                files.iter().map(|(_, _, p)| p),
                max_name,
            )?)
        };
        let mut ids = Vec::with_capacity(files.len());
        let mut batch = Batch::new();
        let mut inserts = Inserts::new(tx.dialect());
        let now = now_ms();
        for (meta, source, parsed) in files {
            let live = known.get(meta.path.as_str());
            if let Some(seen) = seen
                && superseded(live, seen(&meta.path).as_deref(), meta)
            {
                ids.push(match live {
                    // Another writer stored these very bytes.
                    Some(row) if !row.deleted && row.sha256 == meta.sha256 => {
                        Written::AlreadyStored(row.id)
                    }
                    _ => Written::Superseded,
                });
                continue;
            }
            let row = params![
                project_id,
                meta.path.as_str(),
                meta.language.clone(),
                meta.size,
                meta.mtime_ns,
                meta.sha256.as_str(),
                meta.lines
            ];
            let existing = live.map(|k| k.id);
            let file_id = if let Some(id) = existing {
                let mut row = row;
                row.insert(0, id.into());
                batch.push(
                    "UPDATE files SET project_id = ?2, path = ?3, language = ?4, size = ?5, \
                     mtime_ns = ?6, sha256 = ?7, lines = ?8, deleted = 0 WHERE id = ?1",
                    row,
                );
                id
            } else {
                let id = next_file;
                next_file += 1;
                let mut row = row;
                row.insert(0, id.into());
                row.push(now.into());
                batch.push(
                    "INSERT INTO files(id, project_id, path, language, size, mtime_ns, sha256, lines, deleted, indexed_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 0, ?9)",
                    row,
                );
                id
            };
            let names = match &mut partial {
                Some(partial) => &mut *partial,
                None => &mut self.names,
            };
            let data = FileData {
                source,
                parsed,
                indexed_at: now,
                new_file: existing.is_none(),
            };
            push_replace_file(
                &mut batch,
                &mut inserts,
                file_id,
                &data,
                &mut next_class,
                names,
            );
            ids.push(Written::Stored(file_id));
        }
        let written: Vec<i64> = ids.iter().copied().filter_map(Written::stored).collect();
        inserts.flush(&mut batch, &written);
        if let Err(e) = tx.execute_batch(batch) {
            // What this call cached may not exist now: start afresh next time.
            self.names = NameCache::default();
            return Err(e);
        }
        Ok(ids)
    }
}

/// What [`BulkWriter::write_files_seen`] did with one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    /// Stored, under this file id.
    Stored(i64),
    /// Left out: another writer stored these same bytes meanwhile (this file id).
    AlreadyStored(i64),
    /// Left out: another writer stored newer bytes, or deleted or moved the file, meanwhile.
    Superseded,
}

impl Written {
    /// The file id, if the file was stored.
    pub fn stored(self) -> Option<i64> {
        match self {
            Written::Stored(id) => Some(id),
            Written::AlreadyStored(_) | Written::Superseded => None,
        }
    }
}

/// The error for a `SELECT` of maxima that returned no row (it always returns one).
fn no_maxima() -> crate::Error {
    crate::Error::Database(codedb_driver::Error::new(
        codedb_driver::ErrorKind::Other,
        "the maxima query returned no row",
    ))
}

/// What a caller of [`BulkWriter::write_files_seen`] saw of a path's live row: its sha256,
/// `None` when it had none.
pub type SeenRow<'a> = dyn Fn(&str) -> Option<String> + 'a;

/// The row of a file as a bulk write finds it.
struct LiveRow {
    id: i64,
    sha256: String,
    mtime_ns: i64,
    deleted: bool,
}

/// Whether another writer stored the file since the caller saw its row as `seen` (the live
/// row's sha256, `None` when it had none), from bytes at least as new as `meta`'s: the row
/// changed since, and was not made from older bytes (its mtime is not before ours). A row
/// deleted or moved away since is left alone too.
fn superseded(live: Option<&LiveRow>, seen: Option<&str>, meta: &FileMeta) -> bool {
    match live {
        None => seen.is_some(),
        Some(row) if row.deleted => seen.is_some(),
        Some(row) => seen != Some(row.sha256.as_str()) && row.mtime_ns >= meta.mtime_ns,
    }
}

/// The rows of those of `files` that already have one in project `project_id`, by path, in
/// one query.
fn live_rows<'a>(
    tx: &crate::Transaction<'_>,
    project_id: i64,
    files: &'a [(FileMeta, String, Parsed)],
) -> Result<HashMap<&'a str, LiveRow>> {
    let mut known = HashMap::new();
    // SQLite allows 32766 parameters per statement; stay far below.
    for chunk in files.chunks(1000) {
        let placeholders: Vec<String> = (2..chunk.len() + 2).map(|i| format!("?{i}")).collect();
        let mut args = params![project_id];
        args.extend(chunk.iter().map(|(m, _, _)| Value::from(m.path.as_str())));
        let rows = tx.query(
            &format!(
                "SELECT id, path, sha256, deleted, mtime_ns FROM files WHERE project_id = ?1 AND path IN ({})",
                placeholders.join(", ")
            ),
            args,
        )?;
        let paths: HashMap<&str, &'a str> = chunk
            .iter()
            .map(|(m, _, _)| (m.path.as_str(), m.path.as_str()))
            .collect();
        for r in rows.iter() {
            let path: String = r.get(1)?;
            if let Some(&p) = paths.get(path.as_str()) {
                known.insert(
                    p,
                    LiveRow {
                        id: r.get(0)?,
                        sha256: r.get(2)?,
                        deleted: r.get::<i64>(3)? != 0,
                        mtime_ns: r.get(4)?,
                    },
                );
            }
        }
    }
    Ok(known)
}

/// Adds the inserts for `parsed` to `batch`. Class ids are assigned here (the caller holds
/// the write lock), so that methods can name their class without a round trip per class.
fn push_file_data(
    inserts: &mut Inserts,
    file_id: i64,
    parsed: &Parsed,
    next_class: &mut i64,
    names: &mut NameCache,
) {
    let mut class_ids: BTreeMap<usize, i64> = BTreeMap::new();
    for (i, e) in parsed.entities.iter().enumerate() {
        let mut row = params![
            file_id,
            e.name.as_str(),
            e.qualified_name.as_str(),
            e.start_line,
            e.end_line,
            e.start_byte,
            e.end_byte,
            e.signature.clone(),
            e.docstring.clone()
        ];
        let table = match e.kind {
            EntityKind::Class => {
                class_ids.insert(i, *next_class);
                row.insert(0, (*next_class).into());
                *next_class += 1;
                Table::Classes
            }
            EntityKind::Method => {
                let class = e.parent.and_then(|p| class_ids.get(&p)).copied();
                row.insert(0, class.into());
                Table::Methods
            }
            EntityKind::Function => Table::Functions,
        };
        if inserts.dialect == Dialect::Postgres {
            // What full-text search finds a definition by (see `crate::search`).
            let text = format!(
                "{} {} {}",
                e.name,
                e.qualified_name,
                e.docstring.as_deref().unwrap_or("")
            );
            row.push(crate::search::tsvector(&text).into());
        }
        inserts.add(table, row);
    }
    for i in &parsed.imports {
        inserts.add(
            Table::Imports,
            params![
                file_id,
                i.module.clone(),
                i.name.clone(),
                i.alias.clone(),
                i.line
            ],
        );
    }
    let mut new_names = Vec::new();
    for (name, positions) in &parsed.usages {
        let id = names.id(name, &mut new_names);
        inserts.add(
            Table::Usages,
            params![
                id,
                file_id,
                positions.len() as i64,
                pack_positions(positions)
            ],
        );
    }
    for row in new_names {
        inserts.add(Table::Names, row);
    }
    for i in &parsed.issues {
        inserts.add(
            Table::Issues,
            params![
                file_id,
                i.kind.as_str(),
                i.line,
                i.column,
                i.message.as_str()
            ],
        );
    }
}

/// The tables [`Inserts`] fills, in the order their rows are sent (names before the usages
/// that reference them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Table {
    Names,
    Source,
    Classes,
    Functions,
    Methods,
    Imports,
    Usages,
    Issues,
}

impl Table {
    const ALL: [Table; 8] = [
        Table::Names,
        Table::Source,
        Table::Classes,
        Table::Functions,
        Table::Methods,
        Table::Imports,
        Table::Usages,
        Table::Issues,
    ];

    /// `INSERT INTO table(columns)` and the number of columns.
    fn head(self, dialect: Dialect) -> (&'static str, usize) {
        match self {
            Table::Names => ("INSERT INTO names(id, name)", 2),
            Table::Source => match dialect {
                Dialect::Sqlite => ("INSERT INTO source(file_id, text)", 2),
                Dialect::Postgres => ("INSERT INTO source(file_id, text, tsv)", 3),
            },
            Table::Classes => match dialect {
                Dialect::Sqlite => (
                    "INSERT INTO classes(id, file_id, name, qualified_name, start_line, end_line, start_byte, end_byte, signature, docstring)",
                    10,
                ),
                Dialect::Postgres => (
                    "INSERT INTO classes(id, file_id, name, qualified_name, start_line, end_line, start_byte, end_byte, signature, docstring, tsv)",
                    11,
                ),
            },
            Table::Functions => match dialect {
                Dialect::Sqlite => (
                    "INSERT INTO functions(file_id, name, qualified_name, start_line, end_line, start_byte, end_byte, signature, docstring)",
                    9,
                ),
                Dialect::Postgres => (
                    "INSERT INTO functions(file_id, name, qualified_name, start_line, end_line, start_byte, end_byte, signature, docstring, tsv)",
                    10,
                ),
            },
            Table::Methods => match dialect {
                Dialect::Sqlite => (
                    "INSERT INTO methods(class_id, file_id, name, qualified_name, start_line, end_line, start_byte, end_byte, signature, docstring)",
                    10,
                ),
                Dialect::Postgres => (
                    "INSERT INTO methods(class_id, file_id, name, qualified_name, start_line, end_line, start_byte, end_byte, signature, docstring, tsv)",
                    11,
                ),
            },
            Table::Imports => ("INSERT INTO imports(file_id, module, name, alias, line)", 5),
            Table::Usages => ("INSERT INTO usages(name_id, file_id, count, positions)", 4),
            Table::Issues => (
                "INSERT INTO issues(file_id, kind, line, \"column\", message)",
                5,
            ),
        }
    }
}

impl Table {
    /// How the value of column `col` goes into the statement: `?N` itself, or an expression
    /// around it (`(prefix, suffix)`).
    fn wrap(self, dialect: Dialect, col: usize) -> (&'static str, &'static str) {
        let tsv = match self {
            Table::Source => Some(2),
            Table::Classes | Table::Methods => Some(10),
            Table::Functions => Some(9),
            _ => None,
        };
        if dialect == Dialect::Postgres && tsv == Some(col) {
            // Sent as text, stored as the tsvector it spells (see `crate::search`).
            ("CAST(CAST(", " AS TEXT) AS tsvector)")
        } else {
            ("", "")
        }
    }
}

/// Rows per multi-row `INSERT` on SQLite.
const MULTI_ROWS: usize = 64;

/// Rows per multi-row `INSERT` on PostgreSQL, where each statement is a round trip.
const MULTI_ROWS_POSTGRES: usize = 256;

/// Rows gathered over all the files of a batch and sent as multi-row `INSERT`s of
/// [`MULTI_ROWS`] rows: SQLite's cost per statement run (bind, step, reset) was most of
/// the writer's time when each of sympy's 250,000 rows was a statement of its own.
#[derive(Debug)]
struct Inserts {
    rows: [Vec<Value>; 8],
    dialect: Dialect,
}

impl Inserts {
    fn new(dialect: Dialect) -> Self {
        Inserts {
            rows: Default::default(),
            dialect,
        }
    }

    fn add(&mut self, table: Table, row: Vec<Value>) {
        debug_assert_eq!(row.len(), table.head(self.dialect).1);
        self.rows[table as usize].extend(row);
    }

    /// Adds the gathered rows to `batch`, then the full-text rows of the definitions of
    /// `file_ids` (which must come after the definitions themselves).
    fn flush(self, batch: &mut Batch, file_ids: &[i64]) {
        let dialect = self.dialect;
        for (table, flat) in Table::ALL.into_iter().zip(self.rows) {
            if flat.is_empty() {
                continue;
            }
            let cols = table.head(dialect).1;
            let rows = flat.len() / cols;
            let per = match dialect {
                Dialect::Sqlite => MULTI_ROWS,
                Dialect::Postgres => MULTI_ROWS_POSTGRES,
            };
            let full = rows / per;
            let mut values = flat.into_iter();
            if full > 0 {
                let sets = (0..full)
                    .map(|_| values.by_ref().take(per * cols).collect())
                    .collect();
                batch.push_many(multi_row_insert(table, dialect, per), sets);
            }
            let rest = rows % per;
            if rest > 0 && dialect == Dialect::Postgres {
                // Every statement is a round trip to the server: the rest in one.
                batch.push(
                    multi_row_insert(table, dialect, rest),
                    values.by_ref().take(rest * cols).collect(),
                );
            } else if rest > 0 {
                // SQLite: row by row, one statement text per table, which stays prepared
                // (a text per row count would be prepared anew each time).
                let sets = (0..rest)
                    .map(|_| values.by_ref().take(cols).collect())
                    .collect();
                batch.push_many(multi_row_insert(table, dialect, 1), sets);
            }
        }
        if file_ids.is_empty() {
            return;
        }
        if dialect == Dialect::Postgres {
            // Ids assigned here bypass the identity sequences: move them past what exists, so
            // that rows inserted without an id (one file at a time) get fresh ones. Writers
            // are one at a time (see `Dialect::write_lock`); a rollback leaves only a gap.
            // One statement (one round trip) for the three sequences.
            let setvals: Vec<String> = ["files", "classes", "names"]
                .iter()
                .map(|table| {
                    format!(
                        "setval(pg_get_serial_sequence('{table}', 'id'), \
                         (SELECT coalesce(max(id), 0) + 1 FROM {table}), false)"
                    )
                })
                .collect();
            batch.push(format!("SELECT {}", setvals.join(", ")), params![]);
            // Definitions are searched through expression indexes: nothing more to add.
            return;
        }
        let ids = file_ids
            .iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        for (table, code) in [("classes", 1), ("functions", 2), ("methods", 3)] {
            batch.push(
                format!(
                    "INSERT INTO symbol_fts(rowid, name, qualified_name, docstring) \
                     SELECT id * 4 + {code}, name, qualified_name, docstring FROM {table} \
                     WHERE file_id IN ({ids})"
                ),
                params![],
            );
        }
    }
}

/// `INSERT INTO table(columns) VALUES (?1, ?2), (?3, ?4), ...` for `rows` rows.
fn multi_row_insert(table: Table, dialect: Dialect, rows: usize) -> String {
    let (head, cols) = table.head(dialect);
    let mut sql = String::with_capacity(head.len() + rows * cols * 6);
    sql.push_str(head);
    sql.push_str(" VALUES ");
    for r in 0..rows {
        if r > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for c in 0..cols {
            if c > 0 {
                sql.push_str(", ");
            }
            let (prefix, suffix) = table.wrap(dialect, c);
            sql.push_str(prefix);
            sql.push('?');
            sql.push_str(&(r * cols + c + 1).to_string());
            sql.push_str(suffix);
        }
        sql.push(')');
    }
    sql
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_round_trip() {
        let positions = vec![(1, 5), (1, 9), (3, 1), (300, 200), (70_000, 1)];
        assert_eq!(unpack_positions(&pack_positions(&positions)), positions);
        assert!(
            unpack_positions(&[0x80]).is_empty(),
            "a truncated tail is dropped"
        );
    }
}
