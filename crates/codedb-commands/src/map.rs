//! The repository map: the project's most important definitions, as files with the
//! signatures of their definitions, cut to fit a token budget.
//!
//! Ranking is [`ReferenceGraph::ranked_definitions`] (PageRank over the resolved
//! references, personalized toward the focus). Rendering follows aider's repository map:
//! the best `k` definitions, grouped by file (files in path order, definitions in line
//! order, nested ones indented under their class), with `k` the largest that fits the
//! budget, found by binary search. Tokens are counted with OpenAI's `o200k_base` encoding
//! (tiktoken-rs, which ships the vocabulary; built once per process, on first use).

use std::collections::BTreeMap;
use std::sync::OnceLock;

use codedb_core::store::{Focus, RankedDefinition};
use codedb_core::{ReferenceGraph, Scope};
use serde::Serialize;

/// The default budget of `query map`.
pub const DEFAULT_MAP_TOKENS: usize = 1024;

/// The tokenizer's name, as documented.
pub const MAP_ENCODING: &str = "o200k_base";

/// A map, rendered.
#[derive(Debug, Clone, Serialize)]
pub struct RepoMap {
    /// The text: `path:` lines, each followed by its definitions' signatures.
    pub text: String,
    /// Tokens of `text` (`o200k_base`).
    pub tokens: usize,
    /// The budget asked for.
    pub budget: usize,
    /// Definitions shown, of how many ranked.
    pub definitions_shown: usize,
    /// Definitions the project has.
    pub definitions_total: usize,
    /// The definitions shown, best first.
    pub ranked: Vec<RankedDefinition>,
}

fn tokenizer() -> &'static tiktoken_rs::CoreBPE {
    static BPE: OnceLock<tiktoken_rs::CoreBPE> = OnceLock::new();
    BPE.get_or_init(|| {
        tiktoken_rs::o200k_base().expect("the o200k_base vocabulary ships with tiktoken-rs")
    })
}

/// Tokens in `text` (`o200k_base`).
pub fn count_tokens(text: &str) -> usize {
    tokenizer().encode_ordinary(text).len()
}

/// One definition's line: its signature (else kind and name), indented by nesting.
fn line_of(def: &RankedDefinition) -> String {
    let depth = def.qualified_name.matches(['.', ':']).count().min(8);
    let indent = "  ".repeat(depth + 1);
    let sig = def
        .signature
        .as_deref()
        .map(|s| s.lines().next().unwrap_or("").trim().to_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| format!("{} {}", def.kind.as_str(), def.qualified_name));
    format!("{indent}{sig}  [{}]\n", def.start_line)
}

/// The text of the best `k` of `ranked`.
fn render(ranked: &[RankedDefinition], k: usize) -> String {
    let mut files: BTreeMap<&str, Vec<&RankedDefinition>> = BTreeMap::new();
    for d in &ranked[..k] {
        files.entry(&d.path).or_default().push(d);
    }
    let mut out = String::new();
    for (path, mut defs) in files {
        defs.sort_by_key(|d| d.start_line);
        out.push_str(path);
        out.push_str(":\n");
        for d in defs {
            out.push_str(&line_of(d));
        }
    }
    out
}

/// The map of project `project_id` within `budget` tokens, personalized toward `focus`.
pub fn repo_map(
    db: &impl ReferenceGraph,
    project_id: i64,
    focus: &Focus,
    budget: usize,
) -> codedb_core::Result<RepoMap> {
    // The signatures are read only for the definitions asked for: enough for the search
    // below (up to twice the estimate) at five tokens a line, the least a line costs
    // (indent, signature, ` [`, line, `]`); more if ever that is not enough.
    let mut limit = (budget / 5) * 2 + 16;
    let (ranked, total, upper) = loop {
        let ranking = db.ranked_definitions(project_id, focus, Some(limit))?;
        let ranked = ranking.definitions;
        let mut estimate = 0;
        let mut upper = 0;
        let mut files = std::collections::HashSet::new();
        for d in &ranked {
            estimate += count_tokens(&line_of(d));
            if files.insert(d.path.as_str()) {
                estimate += count_tokens(&d.path) + 1;
            }
            if estimate > budget {
                break;
            }
            upper += 1;
        }
        // Enough when the budget was reached, or every definition is here, and the search
        // below (up to twice the estimate) has what it looks at.
        if ranked.len() >= ranking.total || (upper < ranked.len() && upper * 2 + 16 <= limit) {
            break (ranked, ranking.total, upper);
        }
        limit = limit.saturating_mul(4).max(upper * 2 + 16);
    };
    let total_ranked = ranked.len();
    let (mut lo, mut hi) = (0usize, total_ranked.min(upper * 2 + 16));
    let mut best = (0, String::new(), 0);
    while lo < hi {
        let mid = lo + (hi - lo).div_ceil(2);
        let text = render(&ranked, mid);
        let tokens = count_tokens(&text);
        if tokens <= budget {
            best = (mid, text, tokens);
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    let (k, text, tokens) = best;
    let mut shown = ranked;
    shown.truncate(k);
    Ok(RepoMap {
        text,
        tokens,
        budget,
        definitions_shown: k,
        definitions_total: total,
        ranked: shown,
    })
}

/// The focus named by `args`: each is a path of the project (a file) or a definition
/// (`[PATH:]QUALNAME`, resolved as `query refs` resolves it); an argument that is neither
/// is an error naming it.
pub fn focus_of(
    db: &impl ReferenceGraph,
    project_id: i64,
    args: &[String],
    is_file: impl Fn(&str) -> bool,
) -> codedb_core::Result<Focus> {
    let mut focus = Focus::default();
    for arg in args {
        if is_file(arg) {
            focus.paths.push(arg.clone());
        } else {
            let def = db.definition(Scope::Project(project_id), arg)?;
            focus.definitions.push((def.path, def.qualified_name));
        }
    }
    Ok(focus)
}
