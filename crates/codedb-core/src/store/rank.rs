//! Definitions ranked by how much the rest of the project leans on them: PageRank over the
//! resolved reference graph, in the manner of aider's repository map.
//!
//! The graph's nodes are the project's live files; each resolved reference (`refs` rows
//! with a target in the project, `exact`, `inferred` or `name`) is an edge from the
//! referencing file to the file defining its target, weighted by the square root of its
//! count (many uses count, but less than linearly), halved for `name` answers, and cut to a
//! tenth for private names (`_x`). PageRank (damping 0.85) runs over the files, optionally
//! personalized toward focus files; then each file's rank flows along its out-edges,
//! split by weight, onto the definitions they target, which gives each definition its rank.
//! A definition nothing refers to keeps a floor proportional to its file's rank, so a map
//! of a file still lists its definitions. A focus (files, definitions) personalizes the
//! PageRank toward its files, so what they use rises; the focus files' own definitions are
//! weighed up tenfold, and the focus definitions lead the list. Cost: one scan of `refs`
//! and one of the definition tables per call (the counts summed in memory), linear work
//! per iteration, and the signatures read only for the definitions returned.

use std::collections::HashMap;

use codedb_driver::params;
use serde::Serialize;

use super::model::EntityKind;
use crate::error::Result;
use crate::executor::Executor;

/// A definition with its rank.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RankedDefinition {
    /// Its file.
    pub path: String,
    /// Class, function or method.
    pub kind: EntityKind,
    /// Its qualified name.
    pub qualified_name: String,
    /// Its signature as written (`def parse(self, text)`), when stored.
    pub signature: Option<String>,
    /// 1-based first line.
    pub start_line: i64,
    /// 1-based last line.
    pub end_line: i64,
    /// Its share of the project's rank (all definitions together sum to at most 1).
    pub rank: f64,
}

/// What a map is personalized toward: files (their rank restarts there) and definitions
/// (their files, and the definitions themselves, weighted up).
#[derive(Debug, Clone, Default)]
pub struct Focus {
    /// Paths relative to the project root.
    pub paths: Vec<String>,
    /// `[PATH:]QUALNAME` of definitions; their files join `paths`.
    pub definitions: Vec<(String, String)>,
}

const DAMPING: f64 = 0.85;
const ITERATIONS: usize = 100;
const TOLERANCE: f64 = 1e-9;

/// The definitions of a project, best first.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Ranking {
    /// How many definitions the project has.
    pub total: usize,
    /// The best of them (as many as asked for), best first, with their signatures.
    pub definitions: Vec<RankedDefinition>,
}

/// Ranks the definitions of project `project_id`; returns the best `limit` (all: `None`)
/// with their signatures, which are read for those alone.
pub(crate) fn rank_definitions(
    ex: &impl Executor,
    project_id: i64,
    focus: &Focus,
    limit: Option<usize>,
) -> Result<Ranking> {
    // Files.
    let mut paths: Vec<String> = Vec::new();
    let mut index: HashMap<i64, usize> = HashMap::new();
    let mut by_path: HashMap<String, usize> = HashMap::new();
    for r in &ex.query(
        "SELECT id, path FROM files WHERE project_id = ?1 AND deleted = 0 ORDER BY path",
        params![project_id],
    )? {
        let id: i64 = r.get(0)?;
        let path: String = r.get(1)?;
        index.insert(id, paths.len());
        by_path.insert(path.clone(), paths.len());
        paths.push(path);
    }
    let n = paths.len();
    if n == 0 {
        return Ok(Ranking {
            total: 0,
            definitions: Vec::new(),
        });
    }
    // Definitions (their signatures later, for those returned), and where each file's are
    // by qualified name.
    let mut defs: Vec<RankedDefinition> = Vec::new();
    let mut def_ids: Vec<i64> = Vec::new();
    let mut def_file: Vec<usize> = Vec::new();
    let mut def_at: Vec<HashMap<String, Vec<usize>>> = vec![HashMap::new(); n];
    let sql = EntityKind::ALL
        .iter()
        .map(|kind| {
            format!(
                "SELECT {}, e.id, e.file_id, e.qualified_name, e.start_line, e.end_line \
                 FROM {} e JOIN files f ON f.id = e.file_id \
                 WHERE f.project_id = ?1 AND f.deleted = 0",
                kind.search_code(),
                kind.table()
            )
        })
        .collect::<Vec<_>>()
        .join(" UNION ALL ");
    for r in &ex.query(&sql, params![project_id])? {
        let code: i64 = r.get(0)?;
        let (Some(kind), Some(&file)) = (
            EntityKind::from_search_code(code),
            index.get(&r.get::<i64>(2)?),
        ) else {
            continue;
        };
        let qualified_name: String = r.get(3)?;
        def_at[file]
            .entry(qualified_name.clone())
            .or_default()
            .push(defs.len());
        def_ids.push(r.get(1)?);
        def_file.push(file);
        defs.push(RankedDefinition {
            path: paths[file].clone(),
            kind,
            qualified_name,
            signature: None,
            start_line: r.get(4)?,
            end_line: r.get(5)?,
            rank: 0.0,
        });
    }
    // Edges: referencing file -> (definition, weight). The counts of one file's references
    // to one definition are summed per confidence (in memory: cheaper than SQL's GROUP BY,
    // which sorts) before they are weighed.
    let mut counts: HashMap<(usize, usize, i64), i64> = HashMap::new();
    let sql = "SELECT r.file_id, r.target_file_id, r.target_name, \
               CASE r.confidence WHEN 'name' THEN 1 WHEN 'inferred' THEN 2 ELSE 0 END, r.count \
               FROM refs r JOIN files f ON f.id = r.file_id \
               WHERE f.project_id = ?1 AND f.deleted = 0 AND r.target_file_id IS NOT NULL \
               AND r.target_name <> '' AND r.confidence IN ('exact', 'inferred', 'name')";
    for r in &ex.query(sql, params![project_id])? {
        let (Some(&from), Some(&to)) = (index.get(&r.get::<i64>(0)?), index.get(&r.get::<i64>(1)?))
        else {
            continue;
        };
        let name: String = r.get(2)?;
        let Some(targets) = def_at[to].get(name.as_str()) else {
            continue;
        };
        let confidence: i64 = r.get(3)?;
        let count: i64 = r.get(4)?;
        // Several definitions of one qualified name in one file share its references.
        *counts.entry((from, targets[0], confidence)).or_default() += count;
    }
    let mut edges: HashMap<(usize, usize), f64> = HashMap::new();
    for ((from, first, confidence), count) in counts {
        let name = defs[first].qualified_name.as_str();
        let targets = &def_at[def_file[first]][name];
        let mut weight = (count.max(1) as f64).sqrt();
        if confidence == 1 {
            weight *= 0.5;
        }
        if name.rsplit('.').next().is_some_and(|n| n.starts_with('_')) {
            weight *= 0.1;
        }
        for &d in targets {
            *edges.entry((from, d)).or_default() += weight / targets.len() as f64;
        }
    }
    // Focus: files and definitions.
    let mut personal = vec![0.0; n];
    let mut boosted = vec![false; defs.len()];
    let mut named = vec![false; defs.len()];
    for p in &focus.paths {
        if let Some(&i) = by_path.get(p) {
            personal[i] = 1.0;
            for (d, &f) in def_file.iter().enumerate() {
                boosted[d] |= f == i;
            }
        }
    }
    for (path, qual) in &focus.definitions {
        if let Some(&i) = by_path.get(path) {
            personal[i] = 1.0;
            for &d in def_at[i].get(qual.as_str()).into_iter().flatten() {
                named[d] = true;
            }
        }
    }
    let total: f64 = personal.iter().sum();
    if total == 0.0 {
        personal.fill(1.0 / n as f64);
    } else {
        personal.iter_mut().for_each(|p| *p /= total);
    }
    // File graph, out-weights.
    let mut file_edges: HashMap<(usize, usize), f64> = HashMap::new();
    let mut out_weight = vec![0.0; n];
    for (&(from, d), &w) in &edges {
        *file_edges.entry((from, def_file[d])).or_default() += w;
        out_weight[from] += w;
    }
    let file_edges: Vec<(usize, usize, f64)> = file_edges
        .into_iter()
        .map(|((a, b), w)| (a, b, w))
        .collect();
    let mut rank = personal.clone();
    for _ in 0..ITERATIONS {
        let dangling: f64 = (0..n)
            .filter(|&i| out_weight[i] == 0.0)
            .map(|i| rank[i])
            .sum();
        let mut next: Vec<f64> = personal
            .iter()
            .map(|p| (1.0 - DAMPING) * p + DAMPING * dangling * p)
            .collect();
        for &(from, to, w) in &file_edges {
            next[to] += DAMPING * rank[from] * w / out_weight[from];
        }
        let delta: f64 = next.iter().zip(&rank).map(|(a, b)| (a - b).abs()).sum();
        rank = next;
        if delta < TOLERANCE {
            break;
        }
    }
    // Definitions: each file's rank along its edges, plus a floor from their own file.
    for (&(from, d), &w) in &edges {
        defs[d].rank += rank[from] * w / out_weight[from];
    }
    let mut per_file = vec![0usize; n];
    for &f in &def_file {
        per_file[f] += 1;
    }
    for (d, def) in defs.iter_mut().enumerate() {
        let f = def_file[d];
        def.rank = def.rank * DAMPING + rank[f] * (1.0 - DAMPING) / per_file[f] as f64;
        if boosted[d] {
            def.rank *= 10.0;
        }
    }
    let total: f64 = defs.iter().map(|d| d.rank).sum();
    if total > 0.0 {
        defs.iter_mut().for_each(|d| d.rank /= total);
    }
    // The focus definitions lead, then the rest by rank.
    let mut order: Vec<usize> = (0..defs.len()).collect();
    order.sort_by(|&a, &b| {
        named[b]
            .cmp(&named[a])
            .then_with(|| defs[b].rank.total_cmp(&defs[a].rank))
            .then_with(|| {
                (&defs[a].path, defs[a].start_line).cmp(&(&defs[b].path, defs[b].start_line))
            })
    });
    let total = defs.len();
    order.truncate(limit.unwrap_or(total));
    // The signatures of those returned.
    let mut signatures: HashMap<(EntityKind, i64), String> = HashMap::new();
    for kind in EntityKind::ALL {
        let ids: Vec<i64> = order
            .iter()
            .filter(|&&d| defs[d].kind == kind)
            .map(|&d| def_ids[d])
            .collect();
        let found = super::refs::chunked(&ids, |list, args| {
            ex.query(
                &format!(
                    "SELECT id, signature FROM {} WHERE id IN ({list}) AND signature IS NOT NULL",
                    kind.table()
                ),
                args,
            )?
            .iter()
            .map(|r| Ok(((kind, r.get(0)?), r.get(1)?)))
            .collect()
        })?;
        signatures.extend(found);
    }
    let mut slots: Vec<Option<RankedDefinition>> = defs.into_iter().map(Some).collect();
    let definitions = order
        .into_iter()
        .filter_map(|i| {
            let mut def = slots[i].take()?;
            def.signature = signatures.remove(&(def.kind, def_ids[i]));
            Some(def)
        })
        .collect();
    Ok(Ranking { total, definitions })
}
