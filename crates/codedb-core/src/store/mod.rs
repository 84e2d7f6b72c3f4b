//! The domain API: projects, files, the entities parsed from them, usages, source text,
//! issues, and the queries over them. Written once as [`CodeStore`], an extension of
//! [`Executor`], so it works on a [`CodeDatabase`](crate::CodeDatabase) (each call its own
//! transaction) and inside a [`Transaction`](crate::Transaction) (each call joins it).
//!
//! * [`model`]: the data it takes and gives (re-exported here);
//! * [`positions`]: how the places a name is used are packed;
//! * `bulk`: replacing a file's data, and [`BulkWriter`] for many files at once;
//! * [`refs`]: what the resolver reads and writes ([`RefStore`]);
//! * [`graph`]: the questions asked of resolved references ([`ReferenceGraph`]);
//! * `inserts`: the multi-row `INSERT`s both write paths send.
//!
//! Every query is scoped ([`Scope`]): to one project, or to all of them, when each hit
//! names its project.

mod bulk;
pub mod graph;
mod inserts;
pub mod model;
pub mod positions;
pub mod rank;
pub mod refs;

use std::collections::HashMap;

use codedb_driver::{Batch, Row, params};

pub use bulk::{BulkWriter, SeenRow, Written};
pub use graph::{
    Definition, FileDependency, Hierarchy, HierarchyNode, MAX_CALL_DEPTH, RefFilter, RefHit,
    ReferenceGraph, split_locator,
};
pub use model::{
    Binding, Confidence, DefinitionText, Entity, EntityKind, FileMeta, FileRecord, FileWithSource,
    Import, Issue, MAX_CANDIDATES, OutlineNode, Page, Parsed, ParsedFile, ProjectRecord, RefKind,
    Resolution, ResolvedRef, Scope, SearchHits, SourceText, Stats, SymbolHit, SymbolicRef, TextHit,
    UsageHit,
};
pub use positions::{pack_positions, unpack_positions};
pub use rank::{Focus, RankedDefinition, Ranking};
pub use refs::{DefinitionRow, Interface, RefStore, ResolvedFile};

use bulk::{
    FileData, Fresh, NameCache, NameIds, class_count, clear_file_data, fresh_ids, insert_names,
    push_replace_file, used_names,
};
use inserts::Inserts;

use crate::error::Result;
use crate::executor::Executor;

pub use codedb_schema::backup::now_ms;

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
    /// The project rooted at `root`, created (named `name`) if absent. Finding it takes no
    /// lock; creating it is, on the database, a transaction that waits for every writer.
    fn get_or_create_project(&self, root: &str, name: &str) -> Result<i64> {
        if let Some(row) = self.query_row(
            "SELECT id FROM projects WHERE root_path = ?1",
            params![root],
        )? {
            return Ok(row.get(0)?);
        }
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

    /// Deletes a project and everything under it. On the database, a transaction of its own
    /// that waits for every writer, of any project.
    fn delete_project(&self, project_id: i64) -> Result<()> {
        self.atomic(|tx| {
            tx.execute("DELETE FROM projects WHERE id = ?1", params![project_id])?;
            Ok(())
        })
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
            let Fresh {
                classes: mut class_ids,
                max_name,
                ..
            } = fresh_ids(tx, 0, class_count(parsed))?;
            let committed = HashMap::new();
            let mut partial = None;
            let mut names = if tx.dialect().concurrent_writers() {
                NameIds::known(tx, &committed, std::iter::once(parsed))?
            } else {
                NameIds::Assign(partial.insert(NameCache::for_files(
                    tx,
                    std::iter::once(parsed),
                    max_name,
                )?))
            };
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
                &mut class_ids,
                &mut names,
            )?;
            inserts.flush(&mut batch, &[file_id]);
            tx.execute_batch(batch)?;
            Ok(file_id)
        })
    }

    /// Where writers of different projects run at once (PostgreSQL), inserts the
    /// identifiers `parsed` use into the shared `names` table and commits them, so that the
    /// write transaction that stores `parsed` next ([`update_file_data_atomic`]) finds them
    /// there and never waits for another project's uncommitted names. Call it on the
    /// database, before opening that transaction. Nothing on SQLite, where writers run one
    /// at a time.
    ///
    /// [`update_file_data_atomic`]: CodeStore::update_file_data_atomic
    fn commit_names<'a>(&self, parsed: impl IntoIterator<Item = &'a Parsed>) -> Result<()> {
        if self.dialect().concurrent_writers() {
            let names = used_names(parsed);
            if !names.is_empty() {
                insert_names(self, &names)?;
            }
        }
        Ok(())
    }

    /// Counts over the live files of `scope`, optionally of one language.
    fn stats(&self, scope: Scope, language: Option<&str>) -> Result<Stats> {
        let files = "SELECT id FROM files WHERE deleted = 0 \
            AND (CAST(?1 AS TEXT) IS NULL OR language = ?1) \
            AND (CAST(?2 AS BIGINT) IS NULL OR project_id = ?2)";
        let mut counts: Vec<String> = vec![format!("(SELECT count(*) FROM ({files}) f)")];
        counts.extend(
            EntityKind::ALL
                .iter()
                .map(|k| k.table())
                .chain(["imports"])
                .map(|t| format!("(SELECT count(*) FROM {t} WHERE file_id IN ({files}))")),
        );
        counts.push(format!(
            "(SELECT CAST(coalesce(sum(count), 0) AS BIGINT) FROM usages WHERE file_id IN ({files}))"
        ));
        counts.push(format!(
            "(SELECT count(*) FROM issues WHERE file_id IN ({files}))"
        ));
        counts.push(format!(
            "(SELECT CAST(coalesce(sum(size), 0) AS BIGINT) FROM files WHERE id IN ({files}))"
        ));
        let sql = format!("SELECT {}", counts.join(", "));
        let row = self
            .query_row(&sql, vec![language.into(), scope.value()])?
            .unwrap_or_default();
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

    /// Definitions of `scope` whose name or qualified name is `name`.
    fn find_symbol(&self, scope: Scope, name: &str) -> Result<Vec<SymbolHit>> {
        symbols(
            self,
            scope,
            &EntityKind::ALL,
            "(e.name = ?1 OR e.qualified_name = ?1)",
            name,
        )
    }

    /// Classes of `scope` whose name matches the SQL LIKE `pattern` (case-insensitive for
    /// ASCII on every backend).
    fn search_classes(&self, scope: Scope, pattern: &str) -> Result<Vec<SymbolHit>> {
        search_names(self, scope, EntityKind::Class, pattern)
    }

    /// Methods of `scope` whose name matches the SQL LIKE `pattern`.
    fn search_methods(&self, scope: Scope, pattern: &str) -> Result<Vec<SymbolHit>> {
        search_names(self, scope, EntityKind::Method, pattern)
    }

    /// Functions of `scope` whose name matches the SQL LIKE `pattern`.
    fn search_functions(&self, scope: Scope, pattern: &str) -> Result<Vec<SymbolHit>> {
        search_names(self, scope, EntityKind::Function, pattern)
    }

    /// Every definition in the live file at `path` (in each project of `scope`), in source
    /// order.
    fn find_symbol_in_file(&self, scope: Scope, path: &str) -> Result<Vec<SymbolHit>> {
        let mut out = symbols(self, scope, &EntityKind::ALL, "f.path = ?1", path)?;
        out.sort_by(|a, b| (&a.project, a.start_line).cmp(&(&b.project, b.start_line)));
        Ok(out)
    }

    /// The live file at `path` of project `project_id` and its source text.
    fn file_with_source(&self, project_id: i64, path: &str) -> Result<Option<FileWithSource>> {
        let sql = format!(
            "SELECT {}, src.text FROM files f LEFT JOIN source src ON src.file_id = f.id \
             WHERE f.project_id = ?1 AND f.path = ?2 AND f.deleted = 0",
            FILE_COLUMNS
                .split(", ")
                .map(|c| format!("f.{c}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let Some(row) = self.query_row(&sql, params![project_id, path])? else {
            return Ok(None);
        };
        Ok(Some(FileWithSource {
            file: file_record(&row)?,
            source: row.get(10)?,
        }))
    }

    /// Full-text search over definition names, qualified names and docstrings, and over
    /// source text, in `scope`: FTS5 on SQLite, `tsvector` with GIN indexes on PostgreSQL
    /// (see [`crate::schema`] and [`crate::Dialect`]). `text` is searched as a phrase (no
    /// query syntax to get wrong); at most `limit` hits of each kind, best first.
    fn full_text_search(&self, scope: Scope, text: &str, limit: usize) -> Result<SearchHits> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let dialect = self.dialect();
        let Some(query) = dialect.search_query(text) else {
            return Ok(SearchHits::default());
        };
        let filter = "f.deleted = 0 AND (CAST(?3 AS BIGINT) IS NULL OR f.project_id = ?3)";
        let arms: Vec<String> = EntityKind::ALL
            .iter()
            .map(|kind| dialect.definition_search(*kind, &hit_columns(*kind), filter))
            .collect();
        let sql = format!(
            "SELECT * FROM ({}) hits ORDER BY rank, path, start_line LIMIT ?2",
            arms.join(" UNION ALL ")
        );
        let args = || vec![query.as_str().into(), limit.into(), scope.value()];
        let symbols = self
            .query(&sql, args())?
            .iter()
            .map(|r| symbol_hit(r, scope))
            .collect::<Result<_>>()?;
        let files = self
            .query(&dialect.source_search(PROJECT_ROOT, filter), args())?
            .iter()
            .map(|r| {
                Ok(TextHit {
                    path: r.get(0)?,
                    snippet: r.get(1)?,
                    project: project_of(r, 2, scope)?,
                })
            })
            .collect::<Result<_>>()?;
        Ok(SearchHits { symbols, files })
    }

    /// Where the identifier `name` is used in `scope`, by file and position.
    fn usages_of(&self, scope: Scope, name: &str) -> Result<Vec<UsageHit>> {
        let rows = self.query(
            &format!(
                "SELECT f.path, u.positions, {PROJECT_ROOT} FROM usages u \
                 JOIN names n ON n.id = u.name_id JOIN files f ON f.id = u.file_id \
                 WHERE n.name = ?1 AND f.deleted = 0 \
                 AND (CAST(?2 AS BIGINT) IS NULL OR f.project_id = ?2) \
                 ORDER BY 3, f.path"
            ),
            vec![name.into(), scope.value()],
        )?;
        let mut out = Vec::new();
        for row in &rows {
            let path: String = row.get(0)?;
            let blob: Vec<u8> = row.get(1)?;
            let project = project_of(row, 2, scope)?;
            out.extend(
                unpack_positions(&blob)
                    .into_iter()
                    .map(|(line, column)| UsageHit {
                        path: path.clone(),
                        line,
                        column,
                        project: project.clone(),
                    }),
            );
        }
        Ok(out)
    }

    /// The outline of the live file at `path` of project `project_id`: its definitions as
    /// a tree (a definition holds those whose lines lie within its own), in source order,
    /// with signatures and the first line of each docstring, no bodies. `None` when the
    /// file is not in the index.
    fn outline(&self, project_id: i64, path: &str) -> Result<Option<Vec<OutlineNode>>> {
        if self.file_with_meta(project_id, path)?.is_none() {
            return Ok(None);
        }
        let arms: Vec<String> = EntityKind::ALL
            .iter()
            .map(|kind| {
                format!(
                    "SELECT '{}' AS kind, e.name, e.qualified_name, e.signature, \
                     e.start_line AS start_line, e.end_line AS end_line, e.docstring, \
                     e.start_byte AS start_byte FROM {} e JOIN files f ON f.id = e.file_id \
                     WHERE f.project_id = ?1 AND f.path = ?2 AND f.deleted = 0",
                    kind.as_str(),
                    kind.table()
                )
            })
            .collect();
        let sql = format!(
            "SELECT * FROM ({}) d ORDER BY start_line, end_line DESC, start_byte",
            arms.join(" UNION ALL ")
        );
        let mut flat = Vec::new();
        for r in self.query(&sql, params![project_id, path])?.iter() {
            let doc: Option<String> = r.get(6)?;
            flat.push(OutlineNode {
                kind: r.get(0)?,
                name: r.get(1)?,
                qualified_name: r.get(2)?,
                signature: r.get(3)?,
                start_line: r.get(4)?,
                end_line: r.get(5)?,
                doc: doc.and_then(|d| {
                    d.lines()
                        .map(str::trim)
                        .find(|l| !l.is_empty())
                        .map(str::to_owned)
                }),
                children: Vec::new(),
            });
        }
        Ok(Some(nest(flat)))
    }

    /// The live file at `path` of project `project_id`, without its text.
    fn file_with_meta(&self, project_id: i64, path: &str) -> Result<Option<FileRecord>> {
        Ok(self
            .get_file_by_path(project_id, path)?
            .filter(|f| !f.deleted))
    }

    /// The stored source text of the live files of `scope` (of `language` when given),
    /// by project and path; with `words`, only the files whose source holds them as a
    /// phrase by the full-text index (none when `words` has no word).
    fn source_texts(
        &self,
        scope: Scope,
        language: Option<&str>,
        words: Option<&str>,
    ) -> Result<Vec<SourceText>> {
        let cols = format!("f.path AS path, f.language, {PROJECT_ROOT} AS project, s.text");
        let filter = "f.deleted = 0 AND (CAST(?2 AS TEXT) IS NULL OR f.language = ?2) \
                      AND (CAST(?3 AS BIGINT) IS NULL OR f.project_id = ?3)";
        let dialect = self.dialect();
        let (inner, query) = match words {
            Some(w) => {
                let Some(q) = dialect.search_query(w) else {
                    return Ok(Vec::new());
                };
                (dialect.source_matches(&cols, filter), q)
            }
            None => (
                format!(
                    "SELECT {cols} FROM files f JOIN source s ON s.file_id = f.id \
                     WHERE (CAST(?1 AS TEXT) IS NULL OR 1 = 1) AND {filter}"
                ),
                String::new(),
            ),
        };
        let sql = format!("SELECT * FROM ({inner}) t ORDER BY project, path");
        let query: codedb_driver::Value = if words.is_some() {
            query.into()
        } else {
            codedb_driver::Value::Null
        };
        self.query(&sql, vec![query, language.into(), scope.value()])?
            .iter()
            .map(|r| {
                Ok(SourceText {
                    path: r.get(0)?,
                    language: r.get(1)?,
                    project: project_of(r, 2, scope)?,
                    text: r.get(3)?,
                })
            })
            .collect()
    }

    /// The definitions of `kinds` in the live files of `scope` (of `language` when given),
    /// with their docstrings, by project, path and line.
    fn definitions(
        &self,
        scope: Scope,
        kinds: &[EntityKind],
        language: Option<&str>,
    ) -> Result<Vec<DefinitionText>> {
        let arms: Vec<String> = kinds
            .iter()
            .map(|kind| {
                format!(
                    "SELECT {}, e.docstring FROM {} e JOIN files f ON f.id = e.file_id \
                     WHERE f.deleted = 0 AND (CAST(?2 AS BIGINT) IS NULL OR f.project_id = ?2) \
                     AND (CAST(?1 AS TEXT) IS NULL OR f.language = ?1)",
                    hit_columns(*kind),
                    kind.table()
                )
            })
            .collect();
        if arms.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT * FROM ({}) hits ORDER BY project, path, start_line",
            arms.join(" UNION ALL ")
        );
        self.query(&sql, vec![language.into(), scope.value()])?
            .iter()
            .map(|r| {
                Ok(DefinitionText {
                    hit: symbol_hit(r, scope)?,
                    docstring: r.get(8)?,
                })
            })
            .collect()
    }

    /// Every project, by root.
    fn list_projects(&self) -> Result<Vec<ProjectRecord>> {
        self.query(
            "SELECT id, root_path, name FROM projects ORDER BY root_path",
            params![],
        )?
        .iter()
        .map(|r| {
            Ok(ProjectRecord {
                id: r.get(0)?,
                root: r.get(1)?,
                name: r.get(2)?,
            })
        })
        .collect()
    }
}

impl<E: Executor> CodeStore for E {}

/// `flat` (sorted by first line, the outer of two definitions on one line first) as a
/// tree: each definition under the innermost one whose lines hold it.
fn nest(flat: Vec<OutlineNode>) -> Vec<OutlineNode> {
    let mut roots: Vec<OutlineNode> = Vec::new();
    let mut stack: Vec<OutlineNode> = Vec::new();
    fn close(stack: &mut Vec<OutlineNode>, roots: &mut Vec<OutlineNode>) {
        if let Some(done) = stack.pop() {
            match stack.last_mut() {
                Some(parent) => parent.children.push(done),
                None => roots.push(done),
            }
        }
    }
    for node in flat {
        while stack
            .last()
            .is_some_and(|open| node.start_line > open.end_line || node.end_line > open.end_line)
        {
            close(&mut stack, &mut roots);
        }
        stack.push(node);
    }
    while !stack.is_empty() {
        close(&mut stack, &mut roots);
    }
    roots
}

/// The root of a hit's project, selected as a column (the file is `f`).
const PROJECT_ROOT: &str = "(SELECT root_path FROM projects p WHERE p.id = f.project_id)";

/// The columns of a [`SymbolHit`] of `kind` (`e` the definition, `f` its file), for
/// [`symbol_hit`].
fn hit_columns(kind: EntityKind) -> String {
    format!(
        "'{}' AS kind, e.name, e.qualified_name, f.path AS path, e.start_line AS start_line, \
         e.end_line, e.signature, {PROJECT_ROOT} AS project",
        kind.as_str()
    )
}

fn symbol_hit(r: &Row, scope: Scope) -> Result<SymbolHit> {
    Ok(SymbolHit {
        kind: r.get(0)?,
        name: r.get(1)?,
        qualified_name: r.get(2)?,
        path: r.get(3)?,
        start_line: r.get(4)?,
        end_line: r.get(5)?,
        signature: r.get(6)?,
        project: project_of(r, 7, scope)?,
    })
}

/// The project root in column `col` of `r`, named only when the query covered every
/// project.
fn project_of(r: &Row, col: usize, scope: Scope) -> Result<Option<String>> {
    match scope {
        Scope::All => Ok(Some(r.get(col)?)),
        Scope::Project(_) => Ok(None),
    }
}

/// The definitions of `kinds` in `scope` that `filter` (over `e` and `f`, with `arg` as
/// `?1`) selects, by project, path and line.
fn symbols(
    ex: &impl Executor,
    scope: Scope,
    kinds: &[EntityKind],
    filter: &str,
    arg: &str,
) -> Result<Vec<SymbolHit>> {
    let arms: Vec<String> = kinds
        .iter()
        .map(|kind| {
            format!(
                "SELECT {} FROM {} e JOIN files f ON f.id = e.file_id \
                 WHERE f.deleted = 0 AND (CAST(?2 AS BIGINT) IS NULL OR f.project_id = ?2) \
                 AND {filter}",
                hit_columns(*kind),
                kind.table()
            )
        })
        .collect();
    let sql = format!(
        "SELECT * FROM ({}) hits ORDER BY project, path, start_line",
        arms.join(" UNION ALL ")
    );
    ex.query(&sql, vec![arg.into(), scope.value()])?
        .iter()
        .map(|r| symbol_hit(r, scope))
        .collect()
}

fn search_names(
    ex: &impl Executor,
    scope: Scope,
    kind: EntityKind,
    pattern: &str,
) -> Result<Vec<SymbolHit>> {
    let filter = format!("e.name {} ?1 ESCAPE '\\'", ex.dialect().ilike());
    symbols(ex, scope, &[kind], &filter, pattern)
}
