//! The write paths of the store: replacing everything derived from a file (the one sequence
//! both a single file and a bulk write send), and [`BulkWriter`], which stores many files in
//! a few round trips with name and class ids assigned client-side, and leaves out a file
//! another writer stored meanwhile.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use codedb_driver::{Batch, Value, params};

use super::inserts::{Inserts, Table};
use super::model::{EntityKind, FileMeta, Parsed, ParsedFile};
use super::now_ms;
use super::positions::pack_positions;
use crate::error::Result;
use crate::executor::Executor;

pub(super) fn clear_file_data(ex: &impl Executor, file_id: i64) -> Result<()> {
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
        "refs",
        "bindings",
        "ref_deps",
        "ref_pending",
    ] {
        batch.push(
            format!("DELETE FROM {table} WHERE file_id = ?1"),
            params![file_id],
        );
    }
}

/// What is stored for one file besides its row.
pub(super) struct FileData<'a> {
    pub(super) source: &'a str,
    pub(super) parsed: &'a Parsed,
    pub(super) indexed_at: i64,
    /// The file's row was created by this same batch: nothing derived from it can exist yet.
    pub(super) new_file: bool,
}

/// Replaces everything derived from the file `file_id` by `data`: the one sequence that
/// both the single-file and the bulk paths send.
pub(super) fn push_replace_file(
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
    if inserts.dialect.stores_search_words() {
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
pub(super) struct NameCache {
    ids: HashMap<String, i64>,
    /// `max(id)` of `names` as this cache last saw it, including its own inserts.
    max: i64,
}

impl NameCache {
    /// The ids of the names `files` use, read in as few queries as their number allows: for a
    /// write of a few files, where loading every name would cost more. `max` is `max(id)` of
    /// `names`, read under the write lock, so that a name not found here is new.
    pub(super) fn for_files<'a>(
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
        files: &[ParsedFile],
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
        files: &[ParsedFile],
        seen: &SeenRow<'_>,
    ) -> Result<Vec<Written>> {
        self.write(tx, project_id, files, Some(seen))
    }

    fn write(
        &mut self,
        tx: &crate::Transaction<'_>,
        project_id: i64,
        files: &[ParsedFile],
        seen: Option<&SeenRow<'_>>,
    ) -> Result<Vec<Written>> {
        if let Some(sql) = tx.dialect().bulk_write_settings() {
            tx.query(sql, params![])?;
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
                files.iter().map(|f| &f.parsed),
                max_name,
            )?)
        };
        let mut ids = Vec::with_capacity(files.len());
        let mut batch = Batch::new();
        let mut inserts = Inserts::new(tx.dialect());
        let now = now_ms();
        for ParsedFile {
            meta,
            source,
            parsed,
        } in files
        {
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
        if let Err(e) = tx.execute_batch_in_place(batch) {
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
pub(super) fn no_maxima() -> crate::Error {
    crate::Error::Internal("the maxima query returned no row".into())
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
    files: &'a [ParsedFile],
) -> Result<HashMap<&'a str, LiveRow>> {
    let mut known = HashMap::new();
    // SQLite allows 32766 parameters per statement; stay far below.
    for chunk in files.chunks(1000) {
        let placeholders: Vec<String> = (2..chunk.len() + 2).map(|i| format!("?{i}")).collect();
        let mut args = params![project_id];
        args.extend(chunk.iter().map(|f| Value::from(f.meta.path.as_str())));
        let rows = tx.query(
            &format!(
                "SELECT id, path, sha256, deleted, mtime_ns FROM files WHERE project_id = ?1 AND path IN ({})",
                placeholders.join(", ")
            ),
            args,
        )?;
        let paths: HashMap<&str, &'a str> = chunk
            .iter()
            .map(|f| (f.meta.path.as_str(), f.meta.path.as_str()))
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
        if inserts.dialect.stores_search_words() {
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
    for b in &parsed.bindings {
        inserts.add(
            Table::Bindings,
            params![
                file_id,
                b.owner.as_str(),
                b.name.as_str(),
                b.ord,
                b.spec.as_str()
            ],
        );
    }
    // Its references are written by the resolver, once every file they may name is stored.
    inserts.add(Table::RefPending, params![file_id]);
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
