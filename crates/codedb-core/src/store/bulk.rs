//! The write paths of the store: replacing everything derived from a file (the one sequence
//! both a single file and a bulk write send), and [`BulkWriter`], which stores many files in
//! a few round trips with file and class ids chosen before the rows are sent, and leaves out
//! a file another writer stored meanwhile.
//!
//! Where the ids come from depends on whether writers of different projects run at once
//! ([`Dialect::concurrent_writers`](crate::Dialect::concurrent_writers)). SQLite: one writer
//! at a time, so it takes `max(id) + 1` and assigns new names' ids itself. PostgreSQL: ids
//! drawn from the identity sequences, and identifiers inserted into the shared `names` table
//! with `ON CONFLICT DO NOTHING` ([`insert_names`]), ahead of the transaction where the caller
//! can ([`BulkWriter::commit_names`], `CodeStore::commit_names`) so that writers of two
//! projects never wait for each other's uncommitted names. Names are never deleted (one no
//! file uses any more stays), so a name id once committed stays valid.

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
    for table in Table::OF_A_FILE {
        batch.push(
            format!("DELETE FROM {} WHERE file_id = ?1", table.name()),
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
    classes: &mut IdBlock,
    names: &mut NameIds<'_>,
) -> Result<()> {
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
    push_file_data(inserts, file_id, data.parsed, classes, names)?;
    if !data.new_file {
        // A new file's row was inserted with it.
        batch.push(
            "UPDATE files SET indexed_at = ?2 WHERE id = ?1",
            params![file_id, data.indexed_at],
        );
    }
    Ok(())
}

/// Ids for the rows a write inserts under ids it chose (`files`, and `classes`, which
/// methods name before the server has seen them).
#[derive(Debug)]
pub(super) enum IdBlock {
    /// The next id of a table one writer at a time fills (SQLite: `max(id) + 1`).
    Next(i64),
    /// Ids drawn from the table's identity sequence (PostgreSQL), used in order.
    Drawn(std::vec::IntoIter<i64>),
}

impl IdBlock {
    fn take(&mut self) -> Result<i64> {
        match self {
            IdBlock::Next(next) => {
                let id = *next;
                *next += 1;
                Ok(id)
            }
            IdBlock::Drawn(ids) => ids
                .next()
                .ok_or_else(|| crate::Error::Internal("a write used more ids than it drew".into())),
        }
    }
}

/// The ids a write starts from: for its `new_files` files and `classes` classes, and, where
/// one writer at a time assigns new names' ids itself (SQLite), `max(id)` of `names`. One
/// round trip.
pub(super) struct Fresh {
    pub(super) files: IdBlock,
    pub(super) classes: IdBlock,
    pub(super) max_name: i64,
}

pub(super) fn fresh_ids(tx: &impl Executor, new_files: usize, classes: usize) -> Result<Fresh> {
    let dialect = tx.dialect();
    if dialect.concurrent_writers() {
        let (mut files, mut class_ids) = (Vec::new(), Vec::new());
        if let Some(sql) = dialect.fresh_ids(&[("files", new_files), ("classes", classes)]) {
            for row in tx.query(&sql, params![])?.iter() {
                match row.get::<i64>(0)? {
                    0 => files.push(row.get(1)?),
                    _ => class_ids.push(row.get(1)?),
                }
            }
        }
        return Ok(Fresh {
            files: IdBlock::Drawn(files.into_iter()),
            classes: IdBlock::Drawn(class_ids.into_iter()),
            max_name: 0,
        });
    }
    let maxima = tx
        .query_row(
            "SELECT (SELECT coalesce(max(id), 0) FROM names), \
                    (SELECT coalesce(max(id), 0) + 1 FROM classes), \
                    (SELECT coalesce(max(id), 0) + 1 FROM files)",
            params![],
        )?
        .ok_or_else(no_maxima)?;
    Ok(Fresh {
        max_name: maxima.get(0)?,
        classes: IdBlock::Next(maxima.get(1)?),
        files: IdBlock::Next(maxima.get(2)?),
    })
}

/// How many classes `parsed` defines (the class ids a write of it draws).
pub(super) fn class_count(parsed: &Parsed) -> usize {
    parsed
        .entities
        .iter()
        .filter(|e| e.kind == EntityKind::Class)
        .count()
}

/// The identifiers `parsed` use, each once, in order.
pub(super) fn used_names<'a>(parsed: impl IntoIterator<Item = &'a Parsed>) -> Vec<&'a str> {
    let set: BTreeSet<&str> = parsed
        .into_iter()
        .flat_map(|p| p.usages.keys().map(String::as_str))
        .collect();
    set.into_iter().collect()
}

/// The ids of `names`, inserting those the `names` table lacks (see
/// [`Dialect::insert_names`](crate::Dialect::insert_names)): on the database, committed at
/// once; inside a transaction, part of it. For writers that run beside others
/// ([`Dialect::concurrent_writers`](crate::Dialect::concurrent_writers)).
pub(super) fn insert_names(ex: &impl Executor, names: &[&str]) -> Result<HashMap<String, i64>> {
    let mut ids = HashMap::with_capacity(names.len());
    let mut missing: Vec<&str> = names.to_vec();
    // A name committed by another writer between the statement's snapshot and its insert
    // is in neither half of the answer: asking again finds it.
    for _ in 0..3 {
        if missing.is_empty() {
            return Ok(ids);
        }
        let json = serde_json::to_string(&missing)
            .map_err(|e| crate::Error::Internal(format!("names as JSON: {e}")))?;
        for row in ex
            .query(&ex.dialect().insert_names(), params![json])?
            .iter()
        {
            ids.insert(row.get::<String>(1)?, row.get::<i64>(0)?);
        }
        missing.retain(|n| !ids.contains_key(*n));
    }
    if missing.is_empty() {
        Ok(ids)
    } else {
        Err(crate::Error::Internal(format!(
            "{} names neither inserted nor found, e.g. {:?}",
            missing.len(),
            missing[0]
        )))
    }
}

/// Name ids known to this process: on SQLite assigned client-side while the write lock is
/// held; on PostgreSQL only names known to be committed.
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

/// Where a write finds the ids of the names its files use.
#[derive(Debug)]
pub(super) enum NameIds<'a> {
    /// One writer at a time: a new name gets the next id and its insert joins the batch
    /// (SQLite).
    Assign(&'a mut NameCache),
    /// Every name the write uses is already in `names` (PostgreSQL, see [`insert_names`]):
    /// in `committed` (known to be committed) or in `fresh` (read or inserted in this
    /// transaction).
    Known {
        committed: &'a HashMap<String, i64>,
        fresh: HashMap<String, i64>,
    },
}

impl NameIds<'_> {
    fn id(&mut self, name: &str, new_names: &mut Vec<Vec<Value>>) -> Result<i64> {
        match self {
            NameIds::Assign(cache) => Ok(cache.id(name, new_names)),
            NameIds::Known { committed, fresh } => committed
                .get(name)
                .or_else(|| fresh.get(name))
                .copied()
                .ok_or_else(|| crate::Error::Internal(format!("no id for the name {name:?}"))),
        }
    }

    /// The ids of the names `parsed` uses, for a writer that runs beside others: those
    /// `committed` lacks read or inserted inside `tx`.
    pub(super) fn known<'a, 'p>(
        tx: &impl Executor,
        committed: &'a HashMap<String, i64>,
        parsed: impl IntoIterator<Item = &'p Parsed>,
    ) -> Result<NameIds<'a>> {
        let missing: Vec<&str> = used_names(parsed)
            .into_iter()
            .filter(|n| !committed.contains_key(*n))
            .collect();
        let fresh = if missing.is_empty() {
            HashMap::new()
        } else {
            insert_names(tx, &missing)?
        };
        Ok(NameIds::Known { committed, fresh })
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

    /// Where writers of different projects run at once (PostgreSQL), inserts the
    /// identifiers `files` use into the shared `names` table and commits them now, so that
    /// the write transaction that stores `files` next finds them there and never waits for
    /// another project's uncommitted names. Call it on the database, before opening that
    /// transaction (inside one it still works, without that benefit). Nothing on SQLite.
    pub fn commit_names(&mut self, db: &impl Executor, files: &[ParsedFile]) -> Result<()> {
        if !db.dialect().concurrent_writers() {
            return Ok(());
        }
        let missing: Vec<&str> = used_names(files.iter().map(|f| &f.parsed))
            .into_iter()
            .filter(|n| !self.names.ids.contains_key(*n))
            .collect();
        if !missing.is_empty() {
            let ids = insert_names(db, &missing)?;
            self.names.ids.extend(ids);
        }
        Ok(())
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
        // size: the rows of the files already known, the fresh ids, the batch, and the
        // caller's commit (plus the settings above on PostgreSQL, and the names' ids for a
        // write too small to cache them, or names not committed ahead).
        let known = live_rows(tx, project_id, files)?;
        let storing: Vec<&ParsedFile> = files
            .iter()
            .filter(|f| {
                let live = known.get(f.meta.path.as_str());
                seen.is_none_or(|seen| !superseded(live, seen(&f.meta.path).as_deref(), &f.meta))
            })
            .collect();
        let new_files = storing
            .iter()
            .filter(|f| !known.contains_key(f.meta.path.as_str()))
            .count();
        let classes = storing.iter().map(|f| class_count(&f.parsed)).sum();
        let Fresh {
            files: mut file_ids,
            classes: mut class_ids,
            max_name,
        } = fresh_ids(tx, new_files, classes)?;
        let mut partial = None;
        let mut names = if tx.dialect().concurrent_writers() {
            NameIds::known(tx, &self.names.ids, storing.iter().map(|f| &f.parsed))?
        } else {
            // Loading every name pays off for many files, not for a few (a one-file
            // re-index).
            let cached = self.names.max > 0 || files.len() >= SMALL_WRITE;
            if cached && max_name != self.names.max {
                let rows = tx.query("SELECT id, name FROM names", params![])?;
                self.names.ids = rows
                    .iter()
                    .map(|r| Ok((r.get::<String>(1)?, r.get::<i64>(0)?)))
                    .collect::<Result<_>>()?;
                self.names.max = max_name;
            }
            if cached {
                NameIds::Assign(&mut self.names)
            } else {
                NameIds::Assign(partial.insert(NameCache::for_files(
                    tx,
                    files.iter().map(|f| &f.parsed),
                    max_name,
                )?))
            }
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
                let id = file_ids.take()?;
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
                &mut class_ids,
                &mut names,
            )?;
            ids.push(Written::Stored(file_id));
        }
        let written: Vec<i64> = ids.iter().copied().filter_map(Written::stored).collect();
        inserts.flush(&mut batch, &written);
        let assigned = matches!(names, NameIds::Assign(_));
        if let Err(e) = tx.execute_batch_in_place(batch) {
            // What this call assigned may not exist now: start afresh next time. (Names
            // known to be committed stay valid.)
            if assigned {
                self.names = NameCache::default();
            }
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

/// Adds the inserts for `parsed` to `batch`. Class ids are chosen here (from `classes`), so
/// that methods can name their class without a round trip per class.
fn push_file_data(
    inserts: &mut Inserts,
    file_id: i64,
    parsed: &Parsed,
    classes: &mut IdBlock,
    names: &mut NameIds<'_>,
) -> Result<()> {
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
                let id = classes.take()?;
                class_ids.insert(i, id);
                row.insert(0, id.into());
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
        let id = names.id(name, &mut new_names)?;
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
    Ok(())
}
