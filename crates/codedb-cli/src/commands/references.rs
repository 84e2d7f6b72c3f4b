//! `codedb query refs|callers|callees|deps|rdeps|hierarchy`: the questions asked of resolved
//! references (see `codedb_core::store::graph`). A definition is named `[PATH:]QUALNAME`;
//! one that names several is an error listing them.

use codedb_core::store::{Confidence, MAX_CALL_DEPTH, Page, RefFilter, RefHit, RefKind};
use codedb_core::{CodeDatabase, CodeStore, ReferenceGraph, Scope};
use serde::Serialize;

use crate::output::{CliError, emit, emit_lines};

/// `--offset`, `--limit`, `--count` of `query`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Paging {
    pub(crate) offset: usize,
    pub(crate) limit: Option<usize>,
    pub(crate) count: bool,
}

/// The reference questions, as `query` subcommands.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum ReferenceQuery {
    /// Every resolved reference to a definition: where, how (call, read, import, ...), and
    /// how sure (exact, inferred, name, ambiguous).
    Refs {
        /// `QUALNAME` or `PATH:QUALNAME` (e.g. `Parser.parse`, `src/a.py:Parser.parse`); an
        /// external symbol by its dotted name (`os.path.join`) when no definition has it.
        qualname: String,
        /// Only references of this kind (repeatable): call, read, write, import,
        /// inheritance, annotation, attribute, decorator.
        #[arg(long = "kind", value_name = "KIND")]
        kinds: Vec<String>,
        /// Only references at least this sure: exact, inferred, name, ambiguous (the
        /// default: all, each labelled).
        #[arg(long, value_name = "C", default_value = "ambiguous")]
        min_confidence: String,
    },
    /// The call sites of a definition, and of its callers up to --depth levels.
    Callers {
        /// `[PATH:]QUALNAME`.
        qualname: String,
        /// Levels of callers (1: direct callers).
        #[arg(long, default_value_t = 1)]
        depth: u32,
        /// Only calls at least this sure.
        #[arg(long, value_name = "C", default_value = "ambiguous")]
        min_confidence: String,
    },
    /// The calls a definition makes, and those its callees make, up to --depth levels.
    Callees {
        /// `[PATH:]QUALNAME`.
        qualname: String,
        /// Levels of callees (1: direct calls).
        #[arg(long, default_value_t = 1)]
        depth: u32,
        /// Only calls at least this sure.
        #[arg(long, value_name = "C", default_value = "ambiguous")]
        min_confidence: String,
    },
    /// The files a file depends on through its resolved references.
    Deps {
        /// Relative to the project root.
        path: String,
        /// Only references at least this sure (exact, inferred or name; ambiguous ones name
        /// no file).
        #[arg(long, value_name = "C", default_value = "inferred")]
        min_confidence: String,
    },
    /// The files that depend on a file through their resolved references.
    Rdeps {
        /// Relative to the project root.
        path: String,
        /// Only references at least this sure.
        #[arg(long, value_name = "C", default_value = "inferred")]
        min_confidence: String,
    },
    /// A map of the repository: its most important definitions (PageRank over the resolved
    /// references), as files with signatures, cut to fit a token budget (o200k_base).
    Map {
        /// The budget, in tokens.
        #[arg(long, default_value_t = codedb_commands::DEFAULT_MAP_TOKENS)]
        tokens: usize,
        /// Rank toward these files or definitions (`PATH` or `[PATH:]QUALNAME`;
        /// repeatable).
        #[arg(long, value_name = "PATH|QUALNAME")]
        focus: Vec<String>,
    },
    /// A class's bases and subclasses, resolved, transitively.
    Hierarchy {
        /// `[PATH:]QUALNAME` of the class.
        class: String,
        /// Only links at least this sure (exact, inferred or name).
        #[arg(long, value_name = "C", default_value = "inferred")]
        min_confidence: String,
    },
}

/// The confidence called `name`, or a usage error listing them.
pub(crate) fn confidence(name: &str) -> Result<Confidence, CliError> {
    Confidence::from_arg(name).map_err(CliError::usage)
}

/// The reference kinds called `names`, or a usage error listing them.
pub(crate) fn kinds(names: &[String]) -> Result<Vec<RefKind>, CliError> {
    names
        .iter()
        .map(|n| RefKind::from_arg(n).map_err(CliError::usage))
        .collect()
}

fn hit_line(h: &RefHit) -> String {
    let place = match &h.project {
        Some(root) => format!("{root}/{}:{}:{}", h.path, h.line, h.column),
        None => format!("{}:{}:{}", h.path, h.line, h.column),
    };
    let depth = h.depth.map(|d| format!("[{d}] ")).unwrap_or_default();
    let target = match (&h.target, h.candidates.is_empty()) {
        (Some(t), _) => format!(" -> {t}"),
        (None, false) => format!(" -> one of {}", h.candidates.join(", ")),
        (None, true) => String::new(),
    };
    format!(
        "{depth}{place:<40} {:<11} {:<9} in {}{target}",
        h.kind.as_str(),
        h.confidence.as_str(),
        h.enclosing.as_deref().unwrap_or("<module>")
    )
}

fn hits(json: bool, p: Paging, key: &'static str, hits: Vec<RefHit>) -> Result<(), CliError> {
    super::query::page(
        json,
        p.count,
        key,
        Page::of(hits, p.offset, p.limit),
        p.limit,
        hit_line,
    )
}

pub(crate) fn run(
    json: bool,
    db: &CodeDatabase,
    scope: Scope,
    query: &ReferenceQuery,
    p: Paging,
) -> Result<(), CliError> {
    match query {
        ReferenceQuery::Map { tokens, focus } => {
            let Scope::Project(project) = scope else {
                return Err(CliError::usage(
                    "query map covers one project: drop --all-projects".into(),
                ));
            };
            let focus = codedb_commands::focus_of(db, project, focus, |p| {
                db.file_with_source(project, p).is_ok_and(|f| f.is_some())
            })?;
            let map = codedb_commands::repo_map(db, project, &focus, *tokens)?;
            if json {
                return emit(true, &map, Vec::new);
            }
            let mut lines: Vec<String> = map.text.lines().map(str::to_owned).collect();
            lines.push(format!(
                "({} of {} definitions, {} of {} tokens)",
                map.definitions_shown, map.definitions_total, map.tokens, map.budget
            ));
            emit_lines(&lines)
        }
        ReferenceQuery::Refs {
            qualname,
            kinds: k,
            min_confidence,
        } => {
            let filter = RefFilter {
                kinds: kinds(k)?,
                min_confidence: confidence(min_confidence)?,
            };
            let found = db.references(scope, qualname, &filter)?;
            hits(json, p, "refs", found)
        }
        ReferenceQuery::Callers {
            qualname,
            depth,
            min_confidence,
        }
        | ReferenceQuery::Callees {
            qualname,
            depth,
            min_confidence,
        } => {
            let def = db.definition(scope, qualname)?;
            let filter = RefFilter {
                kinds: Vec::new(),
                min_confidence: confidence(min_confidence)?,
            };
            let depth = *depth;
            if !(1..=MAX_CALL_DEPTH).contains(&depth) {
                return Err(CliError::usage(format!(
                    "--depth {depth}: must be between 1 and {MAX_CALL_DEPTH}"
                )));
            }
            if matches!(query, ReferenceQuery::Callers { .. }) {
                hits(json, p, "callers", db.callers(&def, depth, &filter)?)
            } else {
                hits(json, p, "callees", db.callees(&def, depth, &filter)?)
            }
        }
        ReferenceQuery::Deps {
            path,
            min_confidence,
        }
        | ReferenceQuery::Rdeps {
            path,
            min_confidence,
        } => {
            let min = confidence(min_confidence)?;
            let (key, found) = if matches!(query, ReferenceQuery::Deps { .. }) {
                ("deps", db.file_dependencies(scope, path, min)?)
            } else {
                ("rdeps", db.file_dependents(scope, path, min)?)
            };
            let found = Page::of(found, p.offset, p.limit);
            if json && !p.count {
                #[derive(Serialize)]
                struct Out<'a> {
                    path: &'a str,
                    #[serde(flatten)]
                    files: serde_json::Map<String, serde_json::Value>,
                    total: usize,
                    offset: usize,
                    limit: Option<usize>,
                    truncated: bool,
                }
                let mut files = serde_json::Map::new();
                files.insert(
                    key.to_owned(),
                    serde_json::to_value(&found.items).map_err(|e| CliError(e.to_string()))?,
                );
                let out = Out {
                    path,
                    files,
                    total: found.total,
                    offset: found.offset,
                    limit: p.limit,
                    truncated: found.truncated,
                };
                return emit(true, &out, Vec::new);
            }
            super::query::page(json, p.count, key, found, p.limit, |d| {
                format!("{:<50} {} references", d.path, d.references)
            })
        }
        ReferenceQuery::Hierarchy {
            class,
            min_confidence,
        } => {
            let def = db.definition(scope, class)?;
            let h = db.hierarchy(&def, confidence(min_confidence)?)?;
            if json {
                return emit(true, &h, Vec::new);
            }
            let mut lines = vec![format!("{} ({})", h.class.locator(), h.class.kind.as_str())];
            for b in &h.bases {
                lines.push(format!(
                    "{}base {} (of {}, {}:{}, {})",
                    "  ".repeat(b.depth as usize),
                    b.class,
                    b.of,
                    b.path,
                    b.line,
                    b.confidence.as_str()
                ));
            }
            for s in &h.subclasses {
                lines.push(format!(
                    "{}subclass {} (of {}, {}:{}, {})",
                    "  ".repeat(s.depth as usize),
                    s.class,
                    s.of,
                    s.path,
                    s.line,
                    s.confidence.as_str()
                ));
            }
            emit_lines(&lines)
        }
    }
}
