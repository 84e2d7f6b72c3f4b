//! What the resolver reads and writes: the definitions and bindings of a project, each
//! file's symbolic references, the resolved rows of `refs`, the dependency keys of
//! `ref_deps` and the files still pending in `ref_pending`.
//!
//! The store does not read specs: their notation belongs to each language's resolver (crate
//! `codedb-commands`). It keeps them, keeps what the resolver made of them, and answers the
//! two questions incremental resolution asks: which files looked at this key, and which
//! files have unsure references by this name.

use std::collections::{BTreeSet, HashMap};

use codedb_driver::{Batch, Value, params};

use super::inserts::{Inserts, Table};
use super::model::{Binding, EntityKind, Parsed, RefKind, ResolvedRef, SymbolicRef};
use super::positions::{pack_positions, unpack_positions};
use crate::error::Result;
use crate::executor::Executor;

/// A definition as the resolver and the reference queries see it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct DefinitionRow {
    /// Its file.
    pub file_id: i64,
    /// Class, function or method.
    pub kind: EntityKind,
    /// Its name.
    pub name: String,
    /// Its qualified name inside the file.
    pub qualified_name: String,
    /// 1-based first line.
    pub start_line: i64,
    /// 1-based last line.
    pub end_line: i64,
}

/// One file's references with their resolution, and the keys the resolution looked at.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResolvedFile {
    /// The file.
    pub file_id: i64,
    /// Its references.
    pub refs: Vec<ResolvedRef>,
    /// What resolving them looked at (`f:<file id>`, `m:<module>`, `p:<path>`).
    pub deps: BTreeSet<String>,
}

/// What a file offers the others' resolution: its definitions and its bindings. When it
/// is unchanged by a new version of the file, no other file's references can change.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Interface {
    /// (kind, qualified name, name) of each definition.
    pub definitions: BTreeSet<(EntityKind, String, String)>,
    /// Its bindings.
    pub bindings: BTreeSet<Binding>,
}

impl Interface {
    /// The interface of a file parsed as `parsed`.
    pub fn of(parsed: &Parsed) -> Interface {
        Interface {
            definitions: parsed
                .entities
                .iter()
                .map(|e| (e.kind, e.qualified_name.clone(), e.name.clone()))
                .collect(),
            bindings: parsed.bindings.iter().cloned().collect(),
        }
    }

    /// The names of the definitions one of `self` and `other` has and the other has not
    /// (by kind and qualified name): the names whose candidates changed.
    pub fn changed_names(&self, other: &Interface) -> BTreeSet<String> {
        self.definitions
            .symmetric_difference(&other.definitions)
            .map(|(_, _, name)| name.clone())
            .collect()
    }
}

/// `?first, ?first+1, ...` for `n` parameters.
fn placeholders(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("?{i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// SQLite takes at most 32766 parameters per statement; stay far below.
const CHUNK: usize = 500;

fn definition_rows(ex: &impl Executor, filter: &str, args: &[Value]) -> Result<Vec<DefinitionRow>> {
    // One statement over the three tables (one round trip: the resolver of a small
    // re-index asks this once per name it looks up).
    let sql = EntityKind::ALL
        .iter()
        .map(|kind| {
            format!(
                "SELECT {}, e.file_id, e.name, e.qualified_name, e.start_line, e.end_line \
                 FROM {} e JOIN files f ON f.id = e.file_id WHERE f.deleted = 0 AND {filter}",
                kind.search_code(),
                kind.table()
            )
        })
        .collect::<Vec<_>>()
        .join(" UNION ALL ");
    ex.query(&sql, args.to_vec())?
        .iter()
        .map(|r| {
            let code: i64 = r.get(0)?;
            let kind = EntityKind::from_search_code(code)
                .ok_or_else(|| crate::Error::Internal(format!("unknown definition code {code}")))?;
            Ok(DefinitionRow {
                file_id: r.get(1)?,
                kind,
                name: r.get(2)?,
                qualified_name: r.get(3)?,
                start_line: r.get(4)?,
                end_line: r.get(5)?,
            })
        })
        .collect()
}

fn binding_rows(ex: &impl Executor, filter: &str, args: &[Value]) -> Result<Vec<(i64, Binding)>> {
    ex.query(
        &format!(
            "SELECT b.file_id, b.owner, b.name, b.ord, b.spec FROM bindings b \
             JOIN files f ON f.id = b.file_id WHERE f.deleted = 0 AND {filter} \
             ORDER BY b.file_id, b.owner, b.name, b.ord"
        ),
        args.to_vec(),
    )?
    .iter()
    .map(|r| {
        Ok((
            r.get(0)?,
            Binding {
                owner: r.get(1)?,
                name: r.get(2)?,
                ord: r.get(3)?,
                spec: r.get(4)?,
            },
        ))
    })
    .collect()
}

/// Runs `f` over `ids` in chunks, with `?1..?n` the chunk's ids.
pub(super) fn chunked<T>(
    ids: &[i64],
    mut f: impl FnMut(&str, Vec<Value>) -> Result<Vec<T>>,
) -> Result<Vec<T>> {
    let mut out = Vec::new();
    for chunk in ids.chunks(CHUNK) {
        let list = placeholders(1, chunk.len());
        out.extend(f(&list, chunk.iter().map(|id| Value::from(*id)).collect())?);
    }
    Ok(out)
}

/// The resolver's reads and writes, on anything that runs statements.
pub trait RefStore: Executor + Sized {
    /// The definitions in the live files of project `project_id`.
    fn project_definitions(&self, project_id: i64) -> Result<Vec<DefinitionRow>> {
        definition_rows(self, "f.project_id = ?1", &[project_id.into()])
    }

    /// The definitions in the live files `file_ids`.
    fn file_definitions(&self, file_ids: &[i64]) -> Result<Vec<DefinitionRow>> {
        chunked(file_ids, |list, args| {
            definition_rows(self, &format!("f.id IN ({list})"), &args)
        })
    }

    /// The definitions called `name` in the live files of `language` in project
    /// `project_id`.
    fn definitions_named(
        &self,
        project_id: i64,
        language: &str,
        name: &str,
    ) -> Result<Vec<DefinitionRow>> {
        definition_rows(
            self,
            "f.project_id = ?1 AND f.language = ?2 AND e.name = ?3",
            &[project_id.into(), language.into(), name.into()],
        )
    }

    /// The definitions called any of `names` in the live files of `language` in project
    /// `project_id`: [`definitions_named`](Self::definitions_named) for many names in one
    /// round trip per chunk of names (what the resolver of a small re-index reads first, so
    /// that its lookups by name are answered from memory: on PostgreSQL each lookup was a
    /// round trip, and one large file's re-index made some 250 of them).
    fn definitions_named_any(
        &self,
        project_id: i64,
        language: &str,
        names: &[&str],
    ) -> Result<Vec<DefinitionRow>> {
        let mut out = Vec::new();
        for chunk in names.chunks(CHUNK) {
            let mut args: Vec<Value> = vec![project_id.into(), language.into()];
            args.extend(chunk.iter().map(|n| Value::from(*n)));
            out.extend(definition_rows(
                self,
                &format!(
                    "f.project_id = ?1 AND f.language = ?2 AND e.name IN ({})",
                    placeholders(3, chunk.len())
                ),
                &args,
            )?);
        }
        Ok(out)
    }

    /// The bindings of the live files of project `project_id`.
    fn project_bindings(&self, project_id: i64) -> Result<Vec<(i64, Binding)>> {
        binding_rows(self, "f.project_id = ?1", &[project_id.into()])
    }

    /// The bindings of the live files `file_ids`.
    fn file_bindings(&self, file_ids: &[i64]) -> Result<Vec<(i64, Binding)>> {
        chunked(file_ids, |list, args| {
            binding_rows(self, &format!("f.id IN ({list})"), &args)
        })
    }

    /// The interfaces of `file_ids` as stored (a file with no row has an empty one).
    fn stored_interfaces(&self, file_ids: &[i64]) -> Result<HashMap<i64, Interface>> {
        let mut out: HashMap<i64, Interface> = HashMap::new();
        for d in self.file_definitions(file_ids)? {
            out.entry(d.file_id).or_default().definitions.insert((
                d.kind,
                d.qualified_name,
                d.name,
            ));
        }
        for (file_id, b) in self.file_bindings(file_ids)? {
            out.entry(file_id).or_default().bindings.insert(b);
        }
        Ok(out)
    }

    /// The symbolic references stored for `file_ids` (as the resolver left them).
    fn stored_refs(&self, file_ids: &[i64]) -> Result<Vec<(i64, SymbolicRef)>> {
        chunked(file_ids, |list, args| {
            self.query(
                &format!(
                    "SELECT file_id, spec, kind, name, positions FROM refs \
                     WHERE file_id IN ({list}) ORDER BY file_id, spec, kind, name"
                ),
                args,
            )?
            .iter()
            .map(|r| {
                let kind: String = r.get(2)?;
                let kind = RefKind::parse(&kind).ok_or_else(|| {
                    crate::Error::Internal(format!("unknown reference kind {kind:?} in refs"))
                })?;
                Ok((
                    r.get(0)?,
                    SymbolicRef {
                        spec: r.get(1)?,
                        kind,
                        name: r.get(3)?,
                        positions: unpack_positions(&r.get::<Vec<u8>>(4)?),
                    },
                ))
            })
            .collect()
        })
    }

    /// The live files of project `project_id` stored but not resolved yet.
    fn pending_ref_files(&self, project_id: i64) -> Result<Vec<i64>> {
        self.query(
            "SELECT p.file_id FROM ref_pending p JOIN files f ON f.id = p.file_id \
             WHERE f.project_id = ?1 AND f.deleted = 0 ORDER BY p.file_id",
            params![project_id],
        )?
        .iter()
        .map(|r| r.get(0).map_err(Into::into))
        .collect()
    }

    /// Replaces the references and dependency keys of each of `files` with the resolved
    /// ones, and clears their pending marks, in one batch (run in place: a failure leaves a
    /// transaction that can only roll back).
    fn write_resolved(&self, files: &[ResolvedFile]) -> Result<()> {
        if files.is_empty() {
            return Ok(());
        }
        let mut batch = Batch::new();
        let ids: Vec<i64> = files.iter().map(|f| f.file_id).collect();
        for chunk in ids.chunks(CHUNK) {
            let list = placeholders(1, chunk.len());
            for table in ["refs", "ref_deps", "ref_pending"] {
                batch.push(
                    format!("DELETE FROM {table} WHERE file_id IN ({list})"),
                    chunk.iter().map(|id| Value::from(*id)).collect(),
                );
            }
        }
        let mut inserts = Inserts::new(self.dialect());
        for file in files {
            for r in &file.refs {
                let s = &r.symbolic;
                let (confidence, target_file, target_name) = match &r.resolution {
                    Some(res) => (
                        Some(res.confidence.as_str()),
                        res.target_file,
                        res.target_name.clone(),
                    ),
                    None => (None, None, None),
                };
                inserts.add(
                    Table::Refs,
                    params![
                        file.file_id,
                        s.spec.as_str(),
                        s.kind.as_str(),
                        s.name.as_str(),
                        i64::try_from(s.positions.len()).unwrap_or(i64::MAX),
                        pack_positions(&s.positions),
                        confidence,
                        target_file,
                        target_name
                    ],
                );
            }
            for dep in &file.deps {
                inserts.add(Table::RefDeps, params![dep.as_str(), file.file_id]);
            }
        }
        inserts.flush(&mut batch, &[]);
        self.execute_batch_in_place(batch)?;
        Ok(())
    }

    /// The live files of project `project_id` whose resolution looked at one of `deps`.
    fn files_depending_on(&self, project_id: i64, deps: &[String]) -> Result<BTreeSet<i64>> {
        let mut out = BTreeSet::new();
        for chunk in deps.chunks(CHUNK) {
            let mut args = params![project_id];
            args.extend(chunk.iter().map(|d| Value::from(d.as_str())));
            let rows = self.query(
                &format!(
                    "SELECT DISTINCT d.file_id FROM ref_deps d JOIN files f ON f.id = d.file_id \
                     WHERE f.project_id = ?1 AND f.deleted = 0 AND d.dep IN ({})",
                    placeholders(2, chunk.len())
                ),
                args,
            )?;
            for r in &rows {
                out.insert(r.get(0)?);
            }
        }
        Ok(out)
    }

    /// The live files of project `project_id` with a reference named one of `names` that
    /// was resolved by name only, or not at all: those whose candidates change when a
    /// definition of that name comes or goes.
    fn files_with_unsure_refs_named(
        &self,
        project_id: i64,
        names: &[String],
    ) -> Result<BTreeSet<i64>> {
        let mut out = BTreeSet::new();
        for chunk in names.chunks(CHUNK) {
            let mut args = params![project_id];
            args.extend(chunk.iter().map(|n| Value::from(n.as_str())));
            let rows = self.query(
                &format!(
                    "SELECT DISTINCT r.file_id FROM refs r JOIN files f ON f.id = r.file_id \
                     WHERE f.project_id = ?1 AND f.deleted = 0 AND r.name IN ({}) \
                     AND (r.confidence IS NULL OR r.confidence = 'name' \
                     OR r.confidence = 'ambiguous')",
                    placeholders(2, chunk.len())
                ),
                args,
            )?;
            for r in &rows {
                out.insert(r.get(0)?);
            }
        }
        Ok(out)
    }
}

impl<E: Executor> RefStore for E {}
