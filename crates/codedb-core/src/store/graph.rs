//! The questions asked of resolved references: every reference to a definition, the call
//! graph both ways, the files a file depends on and those that depend on it, and a class's
//! bases and subclasses.
//!
//! A definition is named `[PATH:]QUALNAME` ([`ReferenceGraph::definition`]): a qualified
//! name, or a plain name when no qualified name matches, prefixed by the file when several
//! files define it. Each hit names its file, position, kind, confidence and the innermost
//! definition around it (found from the referencing file's definitions, not stored).
//! Ambiguous references are found by name: their candidates are the definitions of that
//! name in the project and language, at most [`MAX_CANDIDATES`] of them.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

use codedb_driver::{Value, params};
use serde::Serialize;

use super::model::{Confidence, EntityKind, MAX_CANDIDATES, RefKind, Scope};
use super::positions::unpack_positions;
use super::refs::{DefinitionRow, RefStore};
use crate::error::{Error, Result, SymbolError};
use crate::executor::Executor;

/// A definition a reference query is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Definition {
    /// Its file's id.
    #[serde(skip)]
    pub file_id: i64,
    /// Its file's project.
    #[serde(skip)]
    pub project_id: i64,
    /// Its file, relative to the project root.
    pub path: String,
    /// Its file's language.
    pub language: Option<String>,
    /// Class, function or method.
    pub kind: EntityKind,
    /// Its name.
    pub name: String,
    /// Its qualified name.
    pub qualified_name: String,
    /// 1-based first line.
    pub start_line: i64,
    /// 1-based last line.
    pub end_line: i64,
    /// Its project's root, when the query covered every project.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
}

impl Definition {
    /// `PATH:QUALNAME`.
    pub fn locator(&self) -> String {
        format!("{}:{}", self.path, self.qualified_name)
    }
}

/// The most levels `callers`/`callees` follow.
pub const MAX_CALL_DEPTH: u32 = 20;

/// A reference found by a query.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RefHit {
    /// The referencing file.
    pub path: String,
    /// 1-based line.
    pub line: u32,
    /// 1-based column.
    pub column: u32,
    /// How the name is used.
    pub kind: RefKind,
    /// How sure the resolution is.
    pub confidence: Confidence,
    /// The identifier as written.
    pub name: String,
    /// The qualified name of the innermost definition around it (none at module level).
    pub enclosing: Option<String>,
    /// What it refers to: `PATH:QUALNAME` of a definition (`PATH` alone for a file), or an
    /// external symbol's dotted name; none when ambiguous.
    pub target: Option<String>,
    /// For an ambiguous reference, `PATH:QUALNAME` of every candidate.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub candidates: Vec<String>,
    /// In a call graph: how many calls away from the definition asked about.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub depth: Option<u32>,
    /// Its project's root, when the query covered every project.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
}

/// Which references a query keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefFilter {
    /// Only these kinds (all when empty).
    pub kinds: Vec<RefKind>,
    /// Only references at least this sure.
    pub min_confidence: Confidence,
}

impl Default for RefFilter {
    fn default() -> Self {
        RefFilter {
            kinds: Vec::new(),
            min_confidence: Confidence::Ambiguous,
        }
    }
}

impl RefFilter {
    fn keeps(&self, kind: RefKind, confidence: Confidence) -> bool {
        (self.kinds.is_empty() || self.kinds.contains(&kind)) && confidence <= self.min_confidence
    }
}

/// A file another depends on, or that depends on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileDependency {
    /// The file.
    pub path: String,
    /// References from the one to the other.
    pub references: i64,
    /// Its project's root, when the query covered every project.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
}

/// A class in a hierarchy answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HierarchyNode {
    /// Steps from the class asked about (1: a direct base or subclass).
    pub depth: u32,
    /// `PATH:QUALNAME` of the class, or an external class's dotted name.
    pub class: String,
    /// The class it is a base or subclass of (`PATH:QUALNAME`).
    pub of: String,
    /// Where the inheritance is written: the subclass's file.
    pub path: String,
    /// 1-based line of the base in the subclass's header.
    pub line: u32,
    /// How sure the link is.
    pub confidence: Confidence,
}

/// A class's bases and subclasses, transitively.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Hierarchy {
    /// The class asked about.
    pub class: Definition,
    /// Its bases, their bases, ... nearest first.
    pub bases: Vec<HierarchyNode>,
    /// Its subclasses, theirs, ... nearest first.
    pub subclasses: Vec<HierarchyNode>,
}

/// Splits `PATH:QUALNAME` (a single `:`; Rust's `::` belongs to the name).
pub fn split_locator(arg: &str) -> (Option<&str>, &str) {
    let bytes = arg.as_bytes();
    for (i, b) in bytes.iter().enumerate() {
        if *b == b':' && bytes.get(i + 1) != Some(&b':') && (i == 0 || bytes[i - 1] != b':') {
            return (Some(&arg[..i]), &arg[i + 1..]);
        }
    }
    (None, arg)
}

/// The definitions of each file, to find the innermost one around a position.
#[derive(Default)]
struct Enclosing {
    by_file: HashMap<i64, Vec<DefinitionRow>>,
}

impl Enclosing {
    fn load(&mut self, ex: &impl Executor, file_ids: impl IntoIterator<Item = i64>) -> Result<()> {
        let missing: Vec<i64> = file_ids
            .into_iter()
            .filter(|id| !self.by_file.contains_key(id))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        for id in &missing {
            self.by_file.insert(*id, Vec::new());
        }
        for d in ex.file_definitions(&missing)? {
            self.by_file.entry(d.file_id).or_default().push(d);
        }
        for id in &missing {
            if let Some(defs) = self.by_file.get_mut(id) {
                defs.sort_by_key(|d| (d.start_line, -d.end_line));
            }
        }
        Ok(())
    }

    /// The innermost definition of `file_id` whose lines hold `line`: of the definitions
    /// starting at or before it (sorted by start), the last that still holds it, found by
    /// walking back from the last such start (nested definitions start later than their
    /// parents), so a file of many definitions costs a binary search and a short walk.
    fn around(&self, file_id: i64, line: u32) -> Option<&DefinitionRow> {
        let line = i64::from(line);
        let defs = self.by_file.get(&file_id)?;
        let upto = defs.partition_point(|d| d.start_line <= line);
        defs[..upto].iter().rev().find(|d| line <= d.end_line)
    }
}

/// A stored reference row, unpacked.
struct Row {
    file_id: i64,
    path: String,
    kind: RefKind,
    name: String,
    positions: Vec<(u32, u32)>,
    confidence: Confidence,
    target_file: Option<i64>,
    target_path: Option<String>,
    target_name: Option<String>,
    project: Option<String>,
}

const ROW_COLUMNS: &str = "r.file_id, f.path, r.kind, r.name, r.positions, r.confidence, \
     r.target_file_id, (SELECT t.path FROM files t WHERE t.id = r.target_file_id), r.target_name, \
     (SELECT root_path FROM projects p WHERE p.id = f.project_id)";

fn rows(ex: &impl Executor, filter: &str, args: Vec<Value>, scope: Scope) -> Result<Vec<Row>> {
    let sql = format!(
        "SELECT {ROW_COLUMNS} FROM refs r JOIN files f ON f.id = r.file_id \
         WHERE f.deleted = 0 AND r.confidence IS NOT NULL AND {filter} \
         ORDER BY 10, f.path"
    );
    let mut out = Vec::new();
    for r in &ex.query(&sql, args)? {
        let kind: String = r.get(2)?;
        let confidence: String = r.get(5)?;
        let (Some(kind), Some(confidence)) =
            (RefKind::parse(&kind), Confidence::parse(&confidence))
        else {
            return Err(crate::Error::Internal(format!(
                "unknown kind {kind:?} or confidence {confidence:?} in refs"
            )));
        };
        out.push(Row {
            file_id: r.get(0)?,
            path: r.get(1)?,
            kind,
            name: r.get(3)?,
            positions: unpack_positions(&r.get::<Vec<u8>>(4)?),
            confidence,
            target_file: r.get(6)?,
            target_path: r.get(7)?,
            target_name: r.get(8)?,
            project: match scope {
                Scope::All => Some(r.get(9)?),
                Scope::Project(_) => None,
            },
        });
    }
    Ok(out)
}

fn target_text(row: &Row) -> Option<String> {
    match (&row.target_path, &row.target_name) {
        (Some(path), Some(name)) if name.is_empty() => Some(path.clone()),
        (Some(path), Some(name)) => Some(format!("{path}:{name}")),
        (None, Some(name)) if row.target_file.is_none() => Some(name.clone()),
        _ => None,
    }
}

/// A hit with the keys (file id, qualified name) of the definition around it and of the
/// one it names.
struct Found {
    hit: RefHit,
    around: Option<(i64, String)>,
    target: Option<(i64, String)>,
}

/// The hits of `rows` that `filter` keeps (and `position` keeps, given the row and the
/// enclosing definition).
fn hits(
    ex: &impl Executor,
    rows: &[Row],
    filter: &RefFilter,
    enclosing: &mut Enclosing,
    candidates: &HashMap<String, Vec<String>>,
    mut position: impl FnMut(&Row, Option<&DefinitionRow>) -> bool,
) -> Result<Vec<Found>> {
    enclosing.load(ex, rows.iter().map(|r| r.file_id))?;
    let mut out = Vec::new();
    for row in rows {
        if !filter.keeps(row.kind, row.confidence) {
            continue;
        }
        for &(line, column) in &row.positions {
            let around = enclosing.around(row.file_id, line);
            if !position(row, around) {
                continue;
            }
            let hit = RefHit {
                path: row.path.clone(),
                line,
                column,
                kind: row.kind,
                confidence: row.confidence,
                name: row.name.clone(),
                enclosing: around.map(|d| d.qualified_name.clone()),
                target: target_text(row),
                candidates: if row.confidence == Confidence::Ambiguous {
                    candidates.get(&row.name).cloned().unwrap_or_default()
                } else {
                    Vec::new()
                },
                depth: None,
                project: row.project.clone(),
            };
            out.push(Found {
                hit,
                around: around.map(|d| (d.file_id, d.qualified_name.clone())),
                target: match (row.confidence, row.target_file, &row.target_name) {
                    (Confidence::Ambiguous, ..) => None,
                    (_, Some(file), Some(name)) if !name.is_empty() => Some((file, name.clone())),
                    _ => None,
                },
            });
        }
    }
    out.sort_by(|a, b| {
        let (a, b) = (&a.hit, &b.hit);
        (&a.project, &a.path, a.line, a.column).cmp(&(&b.project, &b.path, b.line, b.column))
    });
    Ok(out)
}

fn definition_of(
    ex: &impl Executor,
    scope: Scope,
    filter: &str,
    args: Vec<Value>,
) -> Result<Vec<Definition>> {
    let mut out = Vec::new();
    for kind in EntityKind::ALL {
        let sql = format!(
            "SELECT e.file_id, f.project_id, f.path, f.language, e.name, e.qualified_name, \
             e.start_line, e.end_line, (SELECT root_path FROM projects p WHERE p.id = f.project_id) \
             FROM {} e JOIN files f ON f.id = e.file_id WHERE f.deleted = 0 \
             AND (CAST(?1 AS BIGINT) IS NULL OR f.project_id = ?1) AND {filter}",
            kind.table()
        );
        let mut all = vec![scope.value()];
        all.extend(args.iter().cloned());
        for r in &ex.query(&sql, all)? {
            out.push(Definition {
                file_id: r.get(0)?,
                project_id: r.get(1)?,
                path: r.get(2)?,
                language: r.get(3)?,
                kind,
                name: r.get(4)?,
                qualified_name: r.get(5)?,
                start_line: r.get(6)?,
                end_line: r.get(7)?,
                project: match scope {
                    Scope::All => Some(r.get(8)?),
                    Scope::Project(_) => None,
                },
            });
        }
    }
    out.sort_by(|a, b| {
        (&a.project, &a.path, a.start_line).cmp(&(&b.project, &b.path, b.start_line))
    });
    Ok(out)
}

/// The reference queries, on anything that runs statements.
pub trait ReferenceGraph: Executor + Sized {
    /// The one definition `arg` (`[PATH:]QUALNAME`) names in `scope`: by qualified name,
    /// else by name; an error when none or several match.
    fn definition(&self, scope: Scope, arg: &str) -> Result<Definition> {
        let (path, name) = split_locator(arg);
        let path = path.map(normalize_path);
        if let Some(p) = path {
            live_file(self, scope, p)?;
        }
        let path_filter = if path.is_some() {
            " AND f.path = ?3"
        } else {
            ""
        };
        let mut args: Vec<Value> = vec![name.into()];
        if let Some(p) = path {
            args.push(p.into());
        }
        let mut found = definition_of(
            self,
            scope,
            &format!("e.qualified_name = ?2{path_filter}"),
            args.clone(),
        )?;
        if found.is_empty() {
            found = definition_of(self, scope, &format!("e.name = ?2{path_filter}"), args)?;
        }
        // One qualified name defined twice in one file (an `@overload`, a definition under
        // `if`/`else`) is one definition: references name it by file and qualified name.
        found.sort_by(|a, b| {
            (&a.project, &a.path, &a.qualified_name, a.start_line).cmp(&(
                &b.project,
                &b.path,
                &b.qualified_name,
                b.start_line,
            ))
        });
        found.dedup_by(|later, first| {
            (&later.project, &later.path, &later.qualified_name)
                == (&first.project, &first.path, &first.qualified_name)
        });
        match found.len() {
            0 => Err(SymbolError::NotFound {
                name: name.to_owned(),
                path: path.map(str::to_owned),
            }
            .into()),
            1 => Ok(found.remove(0)),
            _ => Err(SymbolError::Ambiguous {
                name: name.to_owned(),
                candidates: found
                    .iter()
                    .map(|d| match &d.project {
                        Some(root) => format!("{root}/{}", d.locator()),
                        None => d.locator(),
                    })
                    .collect(),
            }
            .into()),
        }
    }

    /// The references `arg` asks for: to the definition it names (`[PATH:]QUALNAME`), or,
    /// when no definition has that name and it has no path, to the external symbol of that
    /// dotted name (`os.path.join`). An error names what is missing or ambiguous.
    fn references(&self, scope: Scope, arg: &str, filter: &RefFilter) -> Result<Vec<RefHit>> {
        match self.definition(scope, arg) {
            Ok(def) => self.references_to(&def, filter),
            Err(Error::Symbol(SymbolError::NotFound { name, path: None })) => {
                let external = self.references_to_external(scope, arg, filter)?;
                if external.is_empty() {
                    Err(SymbolError::NotFound { name, path: None }.into())
                } else {
                    Ok(external)
                }
            }
            Err(e) => Err(e),
        }
    }

    /// The best `limit` definitions of project `project_id` (all: `None`), best first,
    /// ranked by PageRank over the resolved references and personalized toward `focus`
    /// (see [`super::rank`]), with how many there are in all.
    fn ranked_definitions(
        &self,
        project_id: i64,
        focus: &super::rank::Focus,
        limit: Option<usize>,
    ) -> Result<super::rank::Ranking> {
        super::rank::rank_definitions(self, project_id, focus, limit)
    }

    /// Every reference to `def` that `filter` keeps, by file and position.
    fn references_to(&self, def: &Definition, filter: &RefFilter) -> Result<Vec<RefHit>> {
        let scope = scope_of(def);
        let mut found = rows(
            self,
            "r.target_file_id = ?1 AND r.target_name = ?2",
            params![def.file_id, def.qualified_name.as_str()],
            scope,
        )?;
        let mut candidates = HashMap::new();
        if filter.min_confidence >= Confidence::Ambiguous {
            found.extend(rows(
                self,
                "r.confidence = 'ambiguous' AND r.name = ?1 AND f.project_id = ?2 \
                 AND f.language = ?3",
                params![def.name.as_str(), def.project_id, def.language.clone()],
                scope,
            )?);
            candidates.insert(def.name.clone(), self.candidates(def)?);
        }
        let mut enclosing = Enclosing::default();
        Ok(
            hits(self, &found, filter, &mut enclosing, &candidates, |_, _| {
                true
            })?
            .into_iter()
            .map(|f| f.hit)
            .collect(),
        )
    }

    /// The references in `scope` to the external symbol `dotted` (`os.path.join`): those
    /// whose import names it and no project file defines.
    fn references_to_external(
        &self,
        scope: Scope,
        dotted: &str,
        filter: &RefFilter,
    ) -> Result<Vec<RefHit>> {
        let found = rows(
            self,
            "r.target_file_id IS NULL AND r.target_name = ?1 \
             AND (CAST(?2 AS BIGINT) IS NULL OR f.project_id = ?2)",
            vec![dotted.into(), scope.value()],
            scope,
        )?;
        let mut enclosing = Enclosing::default();
        Ok(hits(
            self,
            &found,
            filter,
            &mut enclosing,
            &HashMap::new(),
            |_, _| true,
        )?
        .into_iter()
        .map(|f| f.hit)
        .collect())
    }

    /// `PATH:QUALNAME` of every definition an ambiguous reference to `def`'s name may mean.
    fn candidates(&self, def: &Definition) -> Result<Vec<String>> {
        let Some(language) = &def.language else {
            return Ok(Vec::new());
        };
        let found = definition_of(
            self,
            Scope::Project(def.project_id),
            "e.name = ?2 AND f.language = ?3",
            params![def.name.as_str(), language.as_str()],
        )?;
        Ok(found
            .iter()
            .take(MAX_CANDIDATES)
            .map(Definition::locator)
            .collect())
    }

    /// The calls of `def` and of its callers, `depth` levels up (each call site once;
    /// cycles stop where they close). Ambiguous calls are listed, not followed.
    fn callers(&self, def: &Definition, depth: u32, filter: &RefFilter) -> Result<Vec<RefHit>> {
        let filter = RefFilter {
            kinds: vec![RefKind::Call],
            ..filter.clone()
        };
        breadth_first(self, def, depth, |d, enclosing| {
            let scope = scope_of(d);
            let mut found = rows(
                self,
                "r.target_file_id = ?1 AND r.target_name = ?2 AND r.kind = 'call'",
                params![d.file_id, d.qualified_name.as_str()],
                scope,
            )?;
            let mut candidates = HashMap::new();
            if filter.min_confidence >= Confidence::Ambiguous {
                found.extend(rows(
                    self,
                    "r.confidence = 'ambiguous' AND r.kind = 'call' AND r.name = ?1 \
                     AND f.project_id = ?2 AND f.language = ?3",
                    params![d.name.as_str(), d.project_id, d.language.clone()],
                    scope,
                )?);
                candidates.insert(d.name.clone(), self.candidates(d)?);
            }
            Ok(
                hits(self, &found, &filter, enclosing, &candidates, |_, _| true)?
                    .into_iter()
                    .map(|f| (f.hit, f.around))
                    .collect(),
            )
        })
    }

    /// The calls `def` makes, and those its callees make, `depth` levels down (each call
    /// site once; cycles stop where they close). Ambiguous calls are listed, not followed.
    fn callees(&self, def: &Definition, depth: u32, filter: &RefFilter) -> Result<Vec<RefHit>> {
        let filter = RefFilter {
            kinds: vec![RefKind::Call],
            ..filter.clone()
        };
        breadth_first(self, def, depth, |d, enclosing| {
            let found = rows(
                self,
                "r.file_id = ?1 AND r.kind = 'call'",
                params![d.file_id],
                scope_of(d),
            )?;
            let mut candidates = HashMap::new();
            for row in found
                .iter()
                .filter(|r| r.confidence == Confidence::Ambiguous)
            {
                if !candidates.contains_key(&row.name) {
                    let probe = Definition {
                        name: row.name.clone(),
                        ..d.clone()
                    };
                    candidates.insert(row.name.clone(), self.candidates(&probe)?);
                }
            }
            let inside = |_: &Row, around: Option<&DefinitionRow>| {
                around.is_some_and(|a| a.qualified_name == d.qualified_name)
            };
            Ok(hits(self, &found, &filter, enclosing, &candidates, inside)?
                .into_iter()
                .map(|f| (f.hit, f.target))
                .collect())
        })
    }

    /// The definition `(file id, qualified name)` in `like`'s project and scope.
    fn definition_by_key(
        &self,
        like: &Definition,
        key: (i64, String),
    ) -> Result<Option<Definition>> {
        let mut found = definition_of(
            self,
            scope_of(like),
            "e.file_id = ?2 AND e.qualified_name = ?3",
            params![key.0, key.1.as_str()],
        )?;
        Ok((!found.is_empty()).then(|| found.remove(0)))
    }

    /// The files the file at `path` refers to (other than itself), with how many of its
    /// references name each, for each project of `scope`.
    fn file_dependencies(
        &self,
        scope: Scope,
        path: &str,
        min_confidence: Confidence,
    ) -> Result<Vec<FileDependency>> {
        dependencies(self, scope, path, min_confidence, true)
    }

    /// The files that refer to the file at `path`, with how many of their references name
    /// it.
    fn file_dependents(
        &self,
        scope: Scope,
        path: &str,
        min_confidence: Confidence,
    ) -> Result<Vec<FileDependency>> {
        dependencies(self, scope, path, min_confidence, false)
    }

    /// The bases and subclasses of the class `def`, transitively.
    fn hierarchy(&self, def: &Definition, min_confidence: Confidence) -> Result<Hierarchy> {
        let filter = RefFilter {
            kinds: vec![RefKind::Inheritance],
            min_confidence: min_confidence.min(Confidence::Name),
        };
        let mut enclosing = Enclosing::default();
        // Bases: the inheritance references in each class's header.
        let mut bases = Vec::new();
        let mut queue = VecDeque::from([(def.clone(), 0u32)]);
        let mut seen = BTreeSet::from([(def.file_id, def.qualified_name.clone())]);
        while let Some((class, depth)) = queue.pop_front() {
            let found = rows(
                self,
                "r.file_id = ?1 AND r.kind = 'inheritance'",
                params![class.file_id],
                scope_of(&class),
            )?;
            let header = hits(
                self,
                &found,
                &filter,
                &mut enclosing,
                &HashMap::new(),
                |_, a| a.is_some_and(|a| a.qualified_name == class.qualified_name),
            )?;
            for Found { hit, target, .. } in header {
                let Some(class_text) = hit.target.clone() else {
                    continue;
                };
                bases.push(HierarchyNode {
                    depth: depth + 1,
                    class: class_text,
                    of: class.locator(),
                    path: hit.path.clone(),
                    line: hit.line,
                    confidence: hit.confidence,
                });
                if let Some(key) = target
                    && seen.insert(key.clone())
                    && let Some(base) = self.definition_by_key(&class, key)?
                {
                    queue.push_back((base, depth + 1));
                }
            }
        }
        // Subclasses: the inheritance references that name each class.
        let mut subclasses = Vec::new();
        let mut queue = VecDeque::from([(def.clone(), 0u32)]);
        let mut seen = BTreeSet::from([(def.file_id, def.qualified_name.clone())]);
        while let Some((class, depth)) = queue.pop_front() {
            let found = rows(
                self,
                "r.target_file_id = ?1 AND r.target_name = ?2 AND r.kind = 'inheritance'",
                params![class.file_id, class.qualified_name.as_str()],
                scope_of(&class),
            )?;
            for Found { hit, around, .. } in hits(
                self,
                &found,
                &filter,
                &mut enclosing,
                &HashMap::new(),
                |_, a| a.is_some_and(|a| a.kind == EntityKind::Class),
            )? {
                let Some(key) = around else { continue };
                let Some(sub) = self.definition_by_key(&class, key.clone())? else {
                    continue;
                };
                subclasses.push(HierarchyNode {
                    depth: depth + 1,
                    class: sub.locator(),
                    of: class.locator(),
                    path: hit.path,
                    line: hit.line,
                    confidence: hit.confidence,
                });
                if seen.insert(key) {
                    queue.push_back((sub, depth + 1));
                }
            }
        }
        Ok(Hierarchy {
            class: def.clone(),
            bases,
            subclasses,
        })
    }
}

impl<E: Executor> ReferenceGraph for E {}

/// The scope a definition's project makes: its project, with roots named when the
/// definition came from a query over every project.
fn scope_of(def: &Definition) -> Scope {
    if def.project.is_some() {
        Scope::All
    } else {
        Scope::Project(def.project_id)
    }
}

/// The call graph walked breadth-first from `def`, `depth` levels: `level` gives the hits
/// of one definition and, for each, the definition to go on to (none: listed, not
/// followed). Each definition is visited once, so cycles end.
fn breadth_first<E: ReferenceGraph>(
    ex: &E,
    def: &Definition,
    depth: u32,
    mut level: impl FnMut(&Definition, &mut Enclosing) -> Result<Vec<(RefHit, Option<(i64, String)>)>>,
) -> Result<Vec<RefHit>> {
    let mut seen: BTreeSet<(i64, String)> =
        BTreeSet::from([(def.file_id, def.qualified_name.clone())]);
    let mut frontier = vec![def.clone()];
    let mut out = Vec::new();
    let mut enclosing = Enclosing::default();
    for n in 1..=depth {
        let mut next = Vec::new();
        for d in &frontier {
            for (mut hit, onward) in level(d, &mut enclosing)? {
                hit.depth = Some(n);
                if hit.confidence != Confidence::Ambiguous
                    && let Some(key) = onward
                    && seen.insert(key.clone())
                    && let Some(found) = ex.definition_by_key(d, key)?
                {
                    next.push(found);
                }
                out.push(hit);
            }
        }
        frontier = next;
        if frontier.is_empty() {
            break;
        }
    }
    Ok(out)
}

/// `path` as stored: relative to the root, without a leading `./`.
fn normalize_path(path: &str) -> &str {
    let mut p = path;
    while let Some(rest) = p.strip_prefix("./") {
        p = rest.trim_start_matches('/');
    }
    p
}

/// An error naming `path` unless a live file of `scope` has it.
fn live_file(ex: &impl Executor, scope: Scope, path: &str) -> Result<()> {
    let found = ex.query(
        "SELECT 1 FROM files WHERE path = ?1 AND deleted = 0 \
         AND (CAST(?2 AS BIGINT) IS NULL OR project_id = ?2) LIMIT 1",
        vec![path.into(), scope.value()],
    )?;
    if found.is_empty() {
        return Err(SymbolError::NoFile {
            path: path.to_owned(),
        }
        .into());
    }
    Ok(())
}

fn dependencies(
    ex: &impl Executor,
    scope: Scope,
    path: &str,
    min_confidence: Confidence,
    outgoing: bool,
) -> Result<Vec<FileDependency>> {
    let path = normalize_path(path);
    live_file(ex, scope, path)?;
    let levels: Vec<String> = min_confidence
        .and_surer()
        .filter(|c| *c != Confidence::Ambiguous)
        .map(|c| format!("'{}'", c.as_str()))
        .collect();
    // `f` is the file asked about, `o` the other one.
    let (from, to) = if outgoing { ("f", "o") } else { ("o", "f") };
    let sql = format!(
        "SELECT o.path, count(*), (SELECT root_path FROM projects p WHERE p.id = o.project_id), \
         CAST(sum(r.count) AS BIGINT) \
         FROM refs r JOIN files {from} ON {from}.id = r.file_id \
         JOIN files {to} ON {to}.id = r.target_file_id \
         WHERE f.path = ?1 AND f.deleted = 0 AND o.deleted = 0 AND o.id <> f.id \
         AND o.project_id = f.project_id \
         AND (CAST(?2 AS BIGINT) IS NULL OR f.project_id = ?2) \
         AND r.confidence IN ({}) \
         GROUP BY o.path, o.project_id ORDER BY 3, 1",
        levels.join(", ")
    );
    let mut out: BTreeMap<(Option<String>, String), i64> = BTreeMap::new();
    for r in &ex.query(&sql, vec![path.into(), scope.value()])? {
        let project = match scope {
            Scope::All => Some(r.get::<String>(2)?),
            Scope::Project(_) => None,
        };
        *out.entry((project, r.get(0)?)).or_default() += r.get::<i64>(3)?;
    }
    Ok(out
        .into_iter()
        .map(|((project, path), references)| FileDependency {
            path,
            references,
            project,
        })
        .collect())
}
