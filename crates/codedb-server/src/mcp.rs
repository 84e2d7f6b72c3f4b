//! MCP over stdio with the official Rust SDK (`rmcp`): the CLI's queries and commands as
//! tools, results as structured JSON.
//!
//! Every tool validates its arguments (the SDK checks them against each tool's JSON schema;
//! values are checked here) and answers a bad one with an `invalid_params` error naming it;
//! a failure of the command itself is an error result with its message (a conflict says
//! `conflict`). Write tools return the file's new `sha256`, to chain as `expect_sha256`.
//! Blocking work (the database, the commands, git) runs on tokio's blocking pool, so
//! requests are served concurrently; the commands' own locks order them per file.
//!
//! Answers are bounded: every list takes `limit` (default [`DEFAULT_LIMIT`]), `offset` and
//! `count` (only the totals), and reports `total`, `offset`, `limit` and `truncated`; and
//! no answer is longer than `server.max_answer_chars` characters of JSON (default 20,000):
//! a list is cut to fit (`truncated`, `cut_by_budget`, `next_offset`), a file's source is
//! cut at a line (`content_truncated`, `next_start_line`).

use std::sync::Arc;

use codedb_commands::{CommandError, CommandReport, EditOptions, ErrorKind};
use codedb_core::store::{Confidence, MAX_CALL_DEPTH, Page, RefFilter, RefKind};
use codedb_core::{CodeStore, ReferenceGraph, Scope};
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::{Json, Parameters};
use rmcp::model::{Implementation, ServerCapabilities, ServerConfig};
use rmcp::{ErrorData, ServerHandler, tool, tool_handler, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::server::Server;

/// The items of a list answer to skip, and how many to give: every list tool takes them.
#[derive(Debug, Default, Clone, Copy, Deserialize, JsonSchema)]
pub struct Paging {
    /// At most this many items (default 100; at least 1).
    pub limit: Option<u64>,
    /// Skip this many items first (default 0).
    pub offset: Option<u64>,
    /// Only the totals, no items.
    pub count: Option<bool>,
}

/// The default `limit` of a list tool.
pub const DEFAULT_LIMIT: u64 = 100;

impl Paging {
    /// `(offset, limit)`, or an error for a limit of 0.
    fn get(self) -> Result<(usize, usize), ErrorData> {
        let limit = self.limit.unwrap_or(DEFAULT_LIMIT);
        if limit == 0 {
            return Err(invalid(
                "limit 0: must be at least 1 (count: true gives only the totals)",
            ));
        }
        let clamp = |v: u64| usize::try_from(v).unwrap_or(usize::MAX);
        Ok((clamp(self.offset.unwrap_or(0)), clamp(limit)))
    }
}

/// `index {path?}`
#[derive(Debug, Deserialize, JsonSchema)]
pub struct IndexArgs {
    /// The project root (relative `.` or absolute); the whole project is indexed.
    pub path: Option<String>,
    /// The project, by its name from `projects`; default: the server's only project (with
    /// several, required).
    pub project: Option<String>,
}

/// `stats {language?, all_projects?}`
#[derive(Debug, Deserialize, JsonSchema)]
pub struct StatsArgs {
    /// `python` or `rust`.
    pub language: Option<String>,
    /// Count every project in the database, not only this server's.
    pub all_projects: Option<bool>,
    /// The project, by its name from `projects`; default: the server's only project (with
    /// several, required).
    pub project: Option<String>,
}

/// `symbol {name, all_projects?}` and `usages {name, all_projects?}`
#[derive(Debug, Deserialize, JsonSchema)]
pub struct NameArgs {
    /// A name or qualified name.
    pub name: String,
    /// Look in every project in the database (each hit names its project), not only this
    /// server's.
    pub all_projects: Option<bool>,
    /// The project, by its name from `projects`; default: the server's only project (with
    /// several, required).
    pub project: Option<String>,
    /// limit, offset, count.
    #[serde(flatten)]
    pub paging: Paging,
}

/// `search {query | regex, path?, language?, kind?, case?, limit?, offset?, count?,
/// all_projects?}`
#[derive(Debug, Deserialize, JsonSchema)]
pub struct SearchArgs {
    /// Words to find, as a phrase (full text; case-insensitive by default).
    pub query: Option<String>,
    /// A regular expression (Rust `regex` syntax) over the stored source, instead of
    /// `query` (case-sensitive by default).
    pub regex: Option<String>,
    /// Path globs relative to the project root; `!GLOB` excludes; a glob without `/`
    /// matches the file name at any depth.
    pub path: Option<Vec<String>>,
    /// Only files of this language.
    pub language: Option<String>,
    /// Only definitions of these kinds (class, function, method), matched on their names.
    pub kind: Option<Vec<String>>,
    /// `sensitive`, `insensitive` or `smart` (sensitive when the pattern has an upper-case
    /// letter).
    pub case: Option<String>,
    /// Search every project in the database (each hit names its project), not only this
    /// server's.
    pub all_projects: Option<bool>,
    /// The project, by its name from `projects`; default: the server's only project (with
    /// several, required).
    pub project: Option<String>,
    /// limit, offset, count.
    #[serde(flatten)]
    pub paging: Paging,
}

/// `file {path, source?, start_line?, end_line?}`
#[derive(Debug, Deserialize, JsonSchema)]
pub struct FileArgs {
    /// Relative to the project root.
    pub path: String,
    /// Also the source text (default: only the outline).
    pub source: Option<bool>,
    /// The source from this line (1-based; implies `source`).
    pub start_line: Option<u64>,
    /// The source up to this line, inclusive (implies `source`).
    pub end_line: Option<u64>,
    /// The project, by its name from `projects`; default: the server's only project (with
    /// several, required).
    pub project: Option<String>,
}

/// `outline {path, limit?, offset?, count?}`
#[derive(Debug, Deserialize, JsonSchema)]
pub struct OutlineArgs {
    /// Relative to the project root.
    pub path: String,
    /// limit, offset, count (over the top-level definitions).
    #[serde(flatten)]
    pub paging: Paging,
    /// The project, by its name from `projects`; default: the server's only project (with
    /// several, required).
    pub project: Option<String>,
}

/// `insert {path, before | after, content, message?, expect_sha256?}`
#[derive(Debug, Deserialize, JsonSchema)]
pub struct InsertArgs {
    /// Relative to the project root.
    pub path: String,
    /// Insert right before this symbol (qualified name), above its decorators and doc
    /// comments.
    pub before: Option<String>,
    /// Insert right after this symbol (qualified name).
    pub after: Option<String>,
    /// The source to insert (re-indented to the symbol's level).
    pub content: String,
    /// Commit message.
    pub message: Option<String>,
    /// Refuse unless the file has this sha256.
    pub expect_sha256: Option<String>,
    /// The project, by its name from `projects`; default: the server's only project (with
    /// several, required).
    pub project: Option<String>,
}

/// `delete_symbol {path, symbol, message?, expect_sha256?}`
#[derive(Debug, Deserialize, JsonSchema)]
pub struct DeleteSymbolArgs {
    /// Relative to the project root.
    pub path: String,
    /// Qualified name (`Parser.parse`).
    pub symbol: String,
    /// Commit message.
    pub message: Option<String>,
    /// Refuse unless the file has this sha256.
    pub expect_sha256: Option<String>,
    /// The project, by its name from `projects`; default: the server's only project (with
    /// several, required).
    pub project: Option<String>,
}

/// `rename {qualname, new_name, include_name_matches?, dry_run?, message?}`
#[derive(Debug, Deserialize, JsonSchema)]
pub struct RenameArgs {
    /// The definition: `QUALNAME` or `PATH:QUALNAME` (as `refs` takes it).
    pub qualname: String,
    /// Its new name (an identifier of its language, not a keyword).
    pub new_name: String,
    /// Rename references resolved by name only (`name`, `ambiguous`) too; without it, any
    /// such reference refuses the rename.
    #[serde(default)]
    pub include_name_matches: bool,
    /// Answer the unified diff (`rename.diff`) and change nothing.
    #[serde(default)]
    pub dry_run: bool,
    /// Commit message.
    pub message: Option<String>,
    /// The project, by its name from `projects`; default: the server's only project (with
    /// several, required).
    pub project: Option<String>,
}

/// `history {path, limit?, offset?, count?}`
#[derive(Debug, Deserialize, JsonSchema)]
pub struct HistoryArgs {
    /// Relative to the project root.
    pub path: String,
    /// limit, offset, count.
    #[serde(flatten)]
    pub paging: Paging,
    /// The project, by its name from `projects`; default: the server's only project (with
    /// several, required).
    pub project: Option<String>,
}

/// `delete {path}`
#[derive(Debug, Deserialize, JsonSchema)]
pub struct PathArgs {
    /// Relative to the project root.
    pub path: String,
    /// The project, by its name from `projects`; default: the server's only project (with
    /// several, required).
    pub project: Option<String>,
}

/// `edit {path, content, message?, expect_sha256?}`
#[derive(Debug, Deserialize, JsonSchema)]
pub struct EditArgs {
    /// Relative to the project root.
    pub path: String,
    /// The whole new content.
    pub content: String,
    /// Commit message.
    pub message: Option<String>,
    /// Refuse unless the file has this sha256.
    pub expect_sha256: Option<String>,
    /// The project, by its name from `projects`; default: the server's only project (with
    /// several, required).
    pub project: Option<String>,
}

/// `replace_symbol {path, symbol, content, message?}`
#[derive(Debug, Deserialize, JsonSchema)]
pub struct ReplaceSymbolArgs {
    /// Relative to the project root.
    pub path: String,
    /// Qualified name (`Parser.parse`).
    pub symbol: String,
    /// The symbol's new source (re-indented to fit).
    pub content: String,
    /// Commit message.
    pub message: Option<String>,
    /// The project, by its name from `projects`; default: the server's only project (with
    /// several, required).
    pub project: Option<String>,
}

/// `create {path, content}`
#[derive(Debug, Deserialize, JsonSchema)]
pub struct CreateArgs {
    /// Relative to the project root.
    pub path: String,
    /// Its content.
    pub content: String,
    /// The project, by its name from `projects`; default: the server's only project (with
    /// several, required).
    pub project: Option<String>,
}

/// `move {from, to}`
#[derive(Debug, Deserialize, JsonSchema)]
pub struct MoveArgs {
    /// Relative to the project root.
    pub from: String,
    /// Relative to the project root.
    pub to: String,
    /// The project, by its name from `projects`; default: the server's only project (with
    /// several, required).
    pub project: Option<String>,
}

/// `restore {path, backup?}`
#[derive(Debug, Deserialize, JsonSchema)]
pub struct RestoreArgs {
    /// Relative to the project root.
    pub path: String,
    /// A backup id from `history` (default: the newest).
    pub backup: Option<i64>,
    /// The project, by its name from `projects`; default: the server's only project (with
    /// several, required).
    pub project: Option<String>,
}

/// `refs {qualname, kind?, min_confidence?, all_projects?}`
#[derive(Debug, Deserialize, JsonSchema)]
pub struct RefsArgs {
    /// `QUALNAME` or `PATH:QUALNAME` (`Parser.parse`, `src/a.py:Parser.parse`); an external
    /// symbol by its dotted name (`os.path.join`) when no definition has it.
    pub qualname: String,
    /// Only these kinds: call, read, write, import, inheritance, annotation, attribute,
    /// decorator.
    pub kind: Option<Vec<String>>,
    /// Only references at least this sure: exact, inferred, name, ambiguous (default: all).
    pub min_confidence: Option<String>,
    /// Look in every project in the database, not only this server's.
    pub all_projects: Option<bool>,
    /// The project, by its name from `projects`; default: the server's only project (with
    /// several, required).
    pub project: Option<String>,
    /// limit, offset, count.
    #[serde(flatten)]
    pub paging: Paging,
}

/// `callers {qualname, depth?, min_confidence?, all_projects?}` and `callees {...}`
#[derive(Debug, Deserialize, JsonSchema)]
pub struct CallArgs {
    /// `QUALNAME` or `PATH:QUALNAME`.
    pub qualname: String,
    /// Levels to follow (default 1, at most 20).
    pub depth: Option<u32>,
    /// Only calls at least this sure: exact, inferred, name, ambiguous (default: all).
    pub min_confidence: Option<String>,
    /// Look in every project in the database, not only this server's.
    pub all_projects: Option<bool>,
    /// The project, by its name from `projects`; default: the server's only project (with
    /// several, required).
    pub project: Option<String>,
    /// limit, offset, count.
    #[serde(flatten)]
    pub paging: Paging,
}

/// `deps {path, min_confidence?}` and `rdeps {path, min_confidence?}`
#[derive(Debug, Deserialize, JsonSchema)]
pub struct DepsArgs {
    /// Relative to the project root.
    pub path: String,
    /// Only references at least this sure: exact, inferred or name (default inferred).
    pub min_confidence: Option<String>,
    /// The project, by its name from `projects`; default: the server's only project (with
    /// several, required).
    pub project: Option<String>,
    /// limit, offset, count.
    #[serde(flatten)]
    pub paging: Paging,
}

/// `hierarchy {class, min_confidence?, all_projects?}`
#[derive(Debug, Deserialize, JsonSchema)]
pub struct HierarchyArgs {
    /// `QUALNAME` or `PATH:QUALNAME` of a class.
    pub class: String,
    /// Only links at least this sure: exact, inferred or name (default inferred).
    pub min_confidence: Option<String>,
    /// Look in every project in the database, not only this server's.
    pub all_projects: Option<bool>,
    /// The project, by its name from `projects`; default: the server's only project (with
    /// several, required).
    pub project: Option<String>,
}

/// `map {tokens?, focus?, project?}`
#[derive(Debug, Deserialize, JsonSchema)]
pub struct MapArgs {
    /// The budget, in tokens (o200k_base; default 1024, at most 100000).
    pub tokens: Option<usize>,
    /// Rank toward these files (`PATH`) or definitions (`[PATH:]QUALNAME`).
    pub focus: Option<Vec<String>>,
    /// The project, by its name from `projects`; default: the server's only project (with
    /// several, required).
    pub project: Option<String>,
}

/// `schema_plan {}`, `status {}`, `projects {}`
#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct NoArgs {}

/// `verify {project?}`
#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct ProjectArgs {
    /// The project, by its name from `projects`; default: the server's only project (with
    /// several, required).
    pub project: Option<String>,
}

/// A tool's structured result.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Out(#[schemars(with = "serde_json::Map<String, Value>")] pub Value);

/// What a tool call works on: the database, and the project it named.
struct View<'a> {
    db: &'a codedb_core::CodeDatabase,
    project: &'a codedb_commands::Project,
    root: &'a std::path::Path,
    config: &'a crate::Config,
}

impl View<'_> {
    /// The most characters of JSON a tool answers with (`server.max_answer_chars`).
    fn budget(&self) -> usize {
        usize::try_from(self.config.server.max_answer_chars).unwrap_or(usize::MAX)
    }

    /// What a query covers: the project, or every project in the database.
    fn scope(&self, all_projects: Option<bool>) -> Scope {
        if all_projects == Some(true) {
            Scope::All
        } else {
            Scope::Project(self.project.id())
        }
    }
}

/// The MCP handler.
#[derive(Clone)]
pub struct CodedbMcp {
    server: Arc<Server>,
    tool_router: ToolRouter<Self>,
}

impl std::fmt::Debug for CodedbMcp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CodedbMcp").finish_non_exhaustive()
    }
}

fn invalid(message: impl Into<String>) -> ErrorData {
    ErrorData::invalid_params(message.into(), None)
}

/// A query's failure: the caller's to fix ([`codedb_core::Error::is_callers`]: a symbol that
/// names no single definition) is `invalid_params`, anything else an internal error.
fn query_failed(e: codedb_core::Error) -> ErrorData {
    if e.is_callers() {
        invalid(e.to_string())
    } else {
        failed(e)
    }
}

/// `min_confidence`, `default` when absent.
fn min_confidence(arg: Option<&str>, default: Confidence) -> Result<Confidence, ErrorData> {
    arg.map_or(Ok(default), |c| {
        Confidence::from_arg(c).map_err(|m| invalid(format!("min_confidence: {m}")))
    })
}

fn failed(e: impl std::fmt::Display) -> ErrorData {
    ErrorData::internal_error(e.to_string(), None)
}

/// A command error: the caller's (bad path, syntax) or a conflict is `invalid_params`,
/// anything else an internal error; both carry the message (from [`CommandError::kind`],
/// as the command line's exit codes are).
fn command_error(e: CommandError) -> ErrorData {
    let message = e.to_string();
    match e.kind() {
        ErrorKind::User | ErrorKind::Conflict => invalid(message),
        _ => failed(message),
    }
}

/// A write command's answer: its report; for a command that landed with steps left for
/// `recover`, the report with `left_for_recover` (what failed after the commit point): the
/// file has its new content and `sha256` can be chained.
fn write_result(r: Result<CommandReport, CommandError>) -> Result<Json<Out>, ErrorData> {
    match r {
        Ok(report) => to_value(report),
        Err(CommandError::Landed { report, left }) => {
            let mut value = serde_json::to_value(&*report).map_err(failed)?;
            let left: Vec<String> = left
                .iter()
                .map(|l| format!("{} failed: {}", l.step, l.error))
                .collect();
            value["left_for_recover"] = json!(left);
            Ok(Json(Out(value)))
        }
        Err(e) => Err(command_error(e)),
    }
}

/// A list answer: the fields of `base`, the page's items under `key`, and `total`,
/// `offset`, `limit`, `truncated` (and `next_offset` when truncated); with `count` only the
/// totals. Longer than `budget` characters of JSON, the items are cut to the most that
/// fit, and `cut_by_budget` says so.
fn bounded<T: Serialize>(
    mut base: serde_json::Map<String, Value>,
    key: &str,
    page: Page<T>,
    limit: usize,
    count: bool,
    budget: usize,
) -> Result<Json<Out>, ErrorData> {
    base.insert("total".into(), json!(page.total));
    if count {
        return Ok(Json(Out(Value::Object(base))));
    }
    base.insert("offset".into(), json!(page.offset));
    base.insert("limit".into(), json!(limit));
    let items: Vec<Value> = page
        .items
        .iter()
        .map(serde_json::to_value)
        .collect::<Result<_, _>>()
        .map_err(failed)?;
    let answer = |n: usize, cut: bool| {
        let mut m = base.clone();
        m.insert(key.to_owned(), Value::Array(items[..n].to_vec()));
        let truncated = page.truncated || n < items.len();
        m.insert("truncated".into(), json!(truncated));
        if truncated {
            m.insert("next_offset".into(), json!(page.offset + n));
        }
        if cut {
            m.insert("cut_by_budget".into(), json!(true));
            m.insert("max_answer_chars".into(), json!(budget));
        }
        Value::Object(m)
    };
    let len = |v: &Value| serde_json::to_string(v).map_or(usize::MAX, |s| s.chars().count());
    let full = answer(items.len(), false);
    if len(&full) <= budget {
        return Ok(Json(Out(full)));
    }
    // The most items that fit: binary search over the prefix length.
    let (mut lo, mut hi) = (0, items.len());
    while lo < hi {
        let mid = (lo + hi).div_ceil(2);
        if len(&answer(mid, true)) <= budget {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    Ok(Json(Out(answer(lo, true))))
}

fn to_value(v: impl Serialize) -> Result<Json<Out>, ErrorData> {
    serde_json::to_value(v)
        .map(|v| Json(Out(v)))
        .map_err(failed)
}

fn object(v: Value) -> serde_json::Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => serde_json::Map::new(),
    }
}

impl CodedbMcp {
    /// A handler serving `server`.
    pub fn new(server: Arc<Server>) -> Self {
        CodedbMcp {
            server,
            tool_router: Self::tool_router(),
        }
    }

    async fn call_graph(&self, a: CallArgs, callers: bool) -> Result<Json<Out>, ErrorData> {
        self.blocking(a.project.clone(), move |s| {
            let depth = a.depth.unwrap_or(1);
            if !(1..=MAX_CALL_DEPTH).contains(&depth) {
                return Err(invalid(format!(
                    "depth {depth}: must be between 1 and {MAX_CALL_DEPTH}"
                )));
            }
            let filter = RefFilter {
                kinds: Vec::new(),
                min_confidence: min_confidence(a.min_confidence.as_deref(), Confidence::Ambiguous)?,
            };
            let (offset, limit) = a.paging.get()?;
            let def =
                s.db.definition(s.scope(a.all_projects), &a.qualname)
                    .map_err(query_failed)?;
            let (key, hits) = if callers {
                (
                    "callers",
                    s.db.callers(&def, depth, &filter).map_err(failed)?,
                )
            } else {
                (
                    "callees",
                    s.db.callees(&def, depth, &filter).map_err(failed)?,
                )
            };
            bounded(
                object(json!({ "qualname": a.qualname })),
                key,
                Page::of(hits, offset, Some(limit)),
                limit,
                a.paging.count.unwrap_or(false),
                s.budget(),
            )
        })
        .await
    }

    async fn dependencies(&self, a: DepsArgs, outgoing: bool) -> Result<Json<Out>, ErrorData> {
        self.blocking(a.project.clone(), move |s| {
            let min = min_confidence(a.min_confidence.as_deref(), Confidence::Inferred)?;
            let (offset, limit) = a.paging.get()?;
            let scope = Scope::Project(s.project.id());
            let (key, files) = if outgoing {
                (
                    "deps",
                    s.db.file_dependencies(scope, &a.path, min)
                        .map_err(query_failed)?,
                )
            } else {
                (
                    "rdeps",
                    s.db.file_dependents(scope, &a.path, min)
                        .map_err(query_failed)?,
                )
            };
            bounded(
                object(json!({ "path": a.path })),
                key,
                Page::of(files, offset, Some(limit)),
                limit,
                a.paging.count.unwrap_or(false),
                s.budget(),
            )
        })
        .await
    }

    /// Runs `f` on the blocking pool for the project named `project` (see
    /// [`Server::project`]: an unknown name, or none with several projects, is invalid
    /// params).
    async fn blocking<T: Send + 'static>(
        &self,
        project: Option<String>,
        f: impl FnOnce(&View<'_>) -> Result<T, ErrorData> + Send + 'static,
    ) -> Result<T, ErrorData> {
        self.blocking_server(move |server| {
            let served = server.project(project.as_deref()).map_err(invalid)?;
            f(&View {
                db: &server.db,
                project: &served.project,
                root: &served.root,
                config: &server.config,
            })
        })
        .await
    }

    /// Runs `f` on the blocking pool with the whole server (the tools that concern no
    /// one project).
    async fn blocking_server<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Server) -> Result<T, ErrorData> + Send + 'static,
    ) -> Result<T, ErrorData> {
        let server = Arc::clone(&self.server);
        tokio::task::spawn_blocking(move || f(&server))
            .await
            .map_err(|e| failed(format!("the tool panicked: {e}")))?
    }
}

#[tool_router]
impl CodedbMcp {
    #[tool(
        description = "Index the project (incremental: only what changed is parsed again). Returns files_indexed, files_unchanged, files_removed, files_skipped, parse_errors, seconds."
    )]
    async fn index(&self, Parameters(args): Parameters<IndexArgs>) -> Result<Json<Out>, ErrorData> {
        self.blocking(args.project.clone(), move |s| {
            if let Some(p) = args.path.as_deref().filter(|p| !p.is_empty() && *p != ".") {
                let given = std::path::Path::new(p);
                let abs = if given.is_absolute() {
                    given.to_owned()
                } else {
                    s.root.join(given)
                };
                if abs.canonicalize().ok().as_deref() != Some(s.root) {
                    return Err(invalid(format!(
                        "path {p:?}: index covers the whole project; give its root ({}) or nothing",
                        s.root.display()
                    )));
                }
            }
            // Beside the other clients' answers: at a lower CPU priority.
            let summary =
                codedb_commands::index_in_background(s.db, s.root, &s.config.index_options())
                    .map_err(failed)?;
            to_value(summary)
        })
        .await
    }

    #[tool(
        description = "Counts of files, classes, functions, methods, imports (optionally for one language: python, rust, typescript, tsx, javascript, go, java, c or cpp)."
    )]
    async fn stats(&self, Parameters(args): Parameters<StatsArgs>) -> Result<Json<Out>, ErrorData> {
        self.blocking(args.project.clone(), move |s| {
            if let Some(l) = &args.language
                && codedb_commands::lang::by_name(l).is_none()
            {
                return Err(invalid(format!("language {l:?}: not one of python, rust, typescript, tsx, javascript, go, java, c, cpp")));
            }
            let scope = s.scope(args.all_projects);
            to_value(
                s.db.stats(scope, args.language.as_deref())
                    .map_err(failed)?,
            )
        })
        .await
    }

    #[tool(
        description = "Definitions (classes, functions, methods) with this name or qualified name."
    )]
    async fn symbol(&self, Parameters(args): Parameters<NameArgs>) -> Result<Json<Out>, ErrorData> {
        self.blocking(args.project.clone(), move |s| {
            if args.name.trim().is_empty() {
                return Err(invalid("name: must not be empty"));
            }
            let (offset, limit) = args.paging.get()?;
            let hits =
                s.db.find_symbol(s.scope(args.all_projects), args.name.trim())
                    .map_err(failed)?;
            bounded(
                object(json!({ "name": args.name })),
                "symbols",
                Page::of(hits, offset, Some(limit)),
                limit,
                args.paging.count.unwrap_or(false),
                s.budget(),
            )
        })
        .await
    }

    #[tool(
        description = "Full-text search over definitions (name, qualified name, docstring) and source text."
    )]
    async fn search(
        &self,
        Parameters(args): Parameters<SearchArgs>,
    ) -> Result<Json<Out>, ErrorData> {
        self.blocking(args.project.clone(), move |s| {
            let (offset, limit) = args.paging.get()?;
            let kinds = args
                .kind
                .unwrap_or_default()
                .iter()
                .map(|k| {
                    codedb_core::store::EntityKind::from_name(k).ok_or_else(|| {
                        invalid(format!("kind {k:?}: not one of class, function, method"))
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            let case = match args.case.as_deref() {
                None => codedb_commands::CaseMode::Default,
                Some("sensitive") => codedb_commands::CaseMode::Sensitive,
                Some("insensitive") => codedb_commands::CaseMode::Insensitive,
                Some("smart") => codedb_commands::CaseMode::Smart,
                Some(c) => {
                    return Err(invalid(format!(
                        "case {c:?}: not one of sensitive, insensitive, smart"
                    )));
                }
            };
            if args.query.is_none() && args.regex.is_none() {
                return Err(invalid("query or regex: give one"));
            }
            let options = codedb_commands::SearchOptions {
                text: args.query.clone(),
                regex: args.regex.clone(),
                paths: args.path.unwrap_or_default(),
                language: args.language,
                kinds,
                case,
                offset,
                limit: Some(limit),
            };
            let hits = codedb_commands::search(s.db, s.scope(args.all_projects), &options)
                .map_err(command_error)?;
            let mut base = serde_json::Map::new();
            if let Some(q) = args.query {
                base.insert("query".into(), json!(q));
            }
            if let Some(r) = args.regex {
                base.insert("regex".into(), json!(r));
            }
            bounded(
                base,
                "hits",
                hits,
                limit,
                args.paging.count.unwrap_or(false),
                s.budget(),
            )
        })
        .await
    }

    #[tool(description = "Every place the identifier is used (path, line, column).")]
    async fn usages(&self, Parameters(args): Parameters<NameArgs>) -> Result<Json<Out>, ErrorData> {
        self.blocking(args.project.clone(), move |s| {
            if args.name.trim().is_empty() {
                return Err(invalid("name: must not be empty"));
            }
            let (offset, limit) = args.paging.get()?;
            let hits =
                s.db.usages_of(s.scope(args.all_projects), args.name.trim())
                    .map_err(failed)?;
            bounded(
                object(json!({ "name": args.name })),
                "usages",
                Page::of(hits, offset, Some(limit)),
                limit,
                args.paging.count.unwrap_or(false),
                s.budget(),
            )
        })
        .await
    }

    #[tool(
        description = "Every resolved reference to a definition (QUALNAME or PATH:QUALNAME): path, line, column, kind (call, read, import, ...), confidence (exact, inferred, name, ambiguous) and the enclosing definition."
    )]
    async fn refs(&self, Parameters(a): Parameters<RefsArgs>) -> Result<Json<Out>, ErrorData> {
        self.blocking(a.project.clone(), move |s| {
            let kinds = a
                .kind
                .unwrap_or_default()
                .iter()
                .map(|k| RefKind::from_arg(k).map_err(|m| invalid(format!("kind: {m}"))))
                .collect::<Result<Vec<_>, _>>()?;
            let filter = RefFilter {
                kinds,
                min_confidence: min_confidence(a.min_confidence.as_deref(), Confidence::Ambiguous)?,
            };
            let scope = s.scope(a.all_projects);
            let refs =
                s.db.references(scope, &a.qualname, &filter)
                    .map_err(query_failed)?;
            let (offset, limit) = a.paging.get()?;
            bounded(
                object(json!({ "qualname": a.qualname })),
                "refs",
                Page::of(refs, offset, Some(limit)),
                limit,
                a.paging.count.unwrap_or(false),
                s.budget(),
            )
        })
        .await
    }

    #[tool(
        description = "The call sites of a definition and of its callers, depth levels up (cycles handled); each names path, line, column, confidence, the calling definition and depth."
    )]
    async fn callers(&self, Parameters(a): Parameters<CallArgs>) -> Result<Json<Out>, ErrorData> {
        self.call_graph(a, true).await
    }

    #[tool(
        description = "The calls a definition makes and those its callees make, depth levels down (cycles handled)."
    )]
    async fn callees(&self, Parameters(a): Parameters<CallArgs>) -> Result<Json<Out>, ErrorData> {
        self.call_graph(a, false).await
    }

    #[tool(description = "The files a file depends on through its resolved references.")]
    async fn deps(&self, Parameters(a): Parameters<DepsArgs>) -> Result<Json<Out>, ErrorData> {
        self.dependencies(a, true).await
    }

    #[tool(description = "The files that depend on a file through their resolved references.")]
    async fn rdeps(&self, Parameters(a): Parameters<DepsArgs>) -> Result<Json<Out>, ErrorData> {
        self.dependencies(a, false).await
    }

    #[tool(
        description = "A map of the repository within a token budget: its most important definitions (PageRank over the resolved references, personalized toward focus files or definitions), as files with the signatures of their definitions."
    )]
    async fn map(&self, Parameters(a): Parameters<MapArgs>) -> Result<Json<Out>, ErrorData> {
        self.blocking(a.project.clone(), move |s| {
            let tokens = a.tokens.unwrap_or(codedb_commands::DEFAULT_MAP_TOKENS);
            if tokens == 0 || tokens > 100_000 {
                return Err(invalid(format!(
                    "tokens {tokens}: must be between 1 and 100000"
                )));
            }
            let project = s.project.id();
            let focus =
                codedb_commands::focus_of(s.db, project, &a.focus.unwrap_or_default(), |p| {
                    s.db.file_with_source(project, p).is_ok_and(|f| f.is_some())
                })
                .map_err(query_failed)?;
            let map = codedb_commands::repo_map(s.db, project, &focus, tokens).map_err(failed)?;
            to_value(map)
        })
        .await
    }

    #[tool(description = "A class's bases and subclasses, resolved, transitively.")]
    async fn hierarchy(
        &self,
        Parameters(a): Parameters<HierarchyArgs>,
    ) -> Result<Json<Out>, ErrorData> {
        self.blocking(a.project.clone(), move |s| {
            let min = min_confidence(a.min_confidence.as_deref(), Confidence::Inferred)?;
            let def =
                s.db.definition(s.scope(a.all_projects), &a.class)
                    .map_err(query_failed)?;
            to_value(s.db.hierarchy(&def, min).map_err(failed)?)
        })
        .await
    }

    #[tool(
        description = "A file as indexed: language, lines, sha256 and its outline (definitions as a tree: kind, qualified name, signature, lines, first docstring line). The source text only with source: true, optionally lines start_line..=end_line; a source longer than the answer budget is cut at a line (content_truncated, next_start_line)."
    )]
    async fn file(&self, Parameters(args): Parameters<FileArgs>) -> Result<Json<Out>, ErrorData> {
        self.blocking(args.project.clone(), move |s| {
            let project = s.project.id();
            let Some(codedb_core::store::FileWithSource { file, source }) =
                s.db.file_with_source(project, &args.path).map_err(failed)?
            else {
                return Err(invalid(format!("path {:?}: not in the index", args.path)));
            };
            let outline = s.db.outline(project, &args.path).map_err(failed)?.unwrap_or_default();
            let mut out = object(json!({
                "path": file.meta.path, "language": file.meta.language,
                "lines": file.meta.lines, "sha256": file.meta.sha256,
            }));
            let wants_source =
                args.source.unwrap_or(false) || args.start_line.is_some() || args.end_line.is_some();
            if !wants_source {
                let page = Page::of(outline, 0, None);
                let limit = page.total.max(1);
                return bounded(out, "outline", page, limit, false, s.budget());
            }
            let text = source.unwrap_or_default();
            let lines: Vec<&str> = text.split_inclusive('\n').collect();
            let start = args.start_line.unwrap_or(1);
            let end = args.end_line.unwrap_or(u64::MAX);
            if start == 0 || end < start {
                return Err(invalid(format!(
                    "start_line {start}, end_line {end}: lines are 1-based and start_line <= end_line"
                )));
            }
            let first = usize::try_from(start - 1).unwrap_or(usize::MAX);
            if first > lines.len() || (first == lines.len() && !lines.is_empty()) {
                return Err(invalid(format!(
                    "start_line {start}: the file has {} lines",
                    lines.len()
                )));
            }
            let last = usize::try_from(end).unwrap_or(usize::MAX).min(lines.len());
            // What fits in the budget beside the rest of the answer, at a line boundary.
            let room = s
                .budget()
                .saturating_sub(serde_json::to_string(&out).map_or(0, |j| j.len()) + 200);
            let (mut content, mut used, mut upto) = (String::new(), 0usize, first);
            for line in &lines[first..last] {
                let cost = serde_json::to_string(line).map_or(line.len(), |j| j.len()) - 2;
                if used + cost > room && upto > first {
                    break;
                }
                if used + cost > room {
                    // One line longer than the budget: cut inside it, at a character.
                    let mut cut = room.min(line.len());
                    while !line.is_char_boundary(cut) {
                        cut -= 1;
                    }
                    content.push_str(&line[..cut]);
                    break;
                }
                content.push_str(line);
                used += cost;
                upto += 1;
            }
            out.insert("start_line".into(), json!(start));
            out.insert("end_line".into(), json!(upto.max(first + 1).min(lines.len().max(1))));
            if upto < last {
                out.insert("content_truncated".into(), json!(true));
                out.insert("next_start_line".into(), json!(upto + 1));
                out.insert("max_answer_chars".into(), json!(s.budget()));
            }
            out.insert("content".into(), json!(content));
            Ok(Json(Out(Value::Object(out))))
        })
        .await
    }

    #[tool(
        description = "A file's definitions as a tree: kind, qualified name, signature, line range, first docstring line; no bodies."
    )]
    async fn outline(
        &self,
        Parameters(args): Parameters<OutlineArgs>,
    ) -> Result<Json<Out>, ErrorData> {
        self.blocking(args.project.clone(), move |s| {
            let (offset, limit) = args.paging.get()?;
            let Some(outline) = s.db.outline(s.project.id(), &args.path).map_err(failed)? else {
                return Err(invalid(format!("path {:?}: not in the index", args.path)));
            };
            bounded(
                object(json!({ "path": args.path })),
                "outline",
                Page::of(outline, offset, Some(limit)),
                limit,
                args.paging.count.unwrap_or(false),
                s.budget(),
            )
        })
        .await
    }

    #[tool(
        description = "Insert new source right before or after a class, function or method (qualified name), re-indented to its level; validated, backed up, journaled, stored and committed like edit. Returns the new sha256."
    )]
    async fn insert(&self, Parameters(a): Parameters<InsertArgs>) -> Result<Json<Out>, ErrorData> {
        self.blocking(a.project.clone(), move |s| {
            let (symbol, placement) = match (a.before, a.after) {
                (Some(b), None) => (b, codedb_commands::Placement::Before),
                (None, Some(b)) => (b, codedb_commands::Placement::After),
                _ => return Err(invalid("before or after: give exactly one")),
            };
            let options = EditOptions {
                message: a.message,
                expect_sha256: a.expect_sha256,
            };
            write_result(codedb_commands::insert_symbol(
                s.project, &a.path, &symbol, placement, &a.content, &options,
            ))
        })
        .await
    }

    #[tool(
        description = "Delete one class, function or method (qualified name) with its decorators and the comment lines right above it; validated, backed up, journaled, stored and committed like edit. Returns the new sha256."
    )]
    async fn delete_symbol(
        &self,
        Parameters(a): Parameters<DeleteSymbolArgs>,
    ) -> Result<Json<Out>, ErrorData> {
        self.blocking(a.project.clone(), move |s| {
            let options = EditOptions {
                message: a.message,
                expect_sha256: a.expect_sha256,
            };
            write_result(codedb_commands::delete_symbol(
                s.project, &a.path, &a.symbol, &options,
            ))
        })
        .await
    }

    #[tool(
        description = "Rename a definition (QUALNAME or PATH:QUALNAME) and every exact or inferred reference to it across files, as one command: all files change or none, one git commit, recoverable. Refuses name-only references unless include_name_matches, a new name that collides in an affected scope, a keyword. dry_run answers the unified diff and changes nothing."
    )]
    async fn rename(&self, Parameters(a): Parameters<RenameArgs>) -> Result<Json<Out>, ErrorData> {
        self.blocking(a.project.clone(), move |s| {
            let options = codedb_commands::RenameOptions {
                include_name_matches: a.include_name_matches,
                dry_run: a.dry_run,
                message: a.message,
            };
            let mut r = codedb_commands::rename(s.project, &a.qualname, &a.new_name, &options);
            // A dry run's diff is cut at a line to fit the answer's budget.
            if let Ok(report) = &mut r
                && let Some(diff) = report.rename.as_mut().and_then(|x| x.diff.as_mut())
                && diff.len() > s.budget()
            {
                let mut end = s.budget();
                while !diff.is_char_boundary(end) {
                    end -= 1;
                }
                let cut = diff[..end].rfind('\n').map_or(0, |i| i + 1);
                diff.truncate(cut);
                diff.push_str("... (diff cut to fit the answer's budget)\n");
            }
            write_result(r)
        })
        .await
    }

    #[tool(
        description = "Replace a whole file: validated, backed up, journaled, stored and committed to git, all or nothing. Returns the new sha256."
    )]
    async fn edit(&self, Parameters(a): Parameters<EditArgs>) -> Result<Json<Out>, ErrorData> {
        self.blocking(a.project.clone(), move |s| {
            let options = EditOptions {
                message: a.message,
                expect_sha256: a.expect_sha256,
            };
            write_result(codedb_commands::edit(
                s.project, &a.path, &a.content, &options,
            ))
        })
        .await
    }

    #[tool(
        description = "Replace one class, function or method (by qualified name) with new source, re-indented to fit."
    )]
    async fn replace_symbol(
        &self,
        Parameters(a): Parameters<ReplaceSymbolArgs>,
    ) -> Result<Json<Out>, ErrorData> {
        self.blocking(a.project.clone(), move |s| {
            let options = EditOptions {
                message: a.message,
                expect_sha256: None,
            };
            write_result(codedb_commands::replace_symbol(
                s.project, &a.path, &a.symbol, &a.content, &options,
            ))
        })
        .await
    }

    #[tool(description = "Create a file (it must not exist).")]
    async fn create(&self, Parameters(a): Parameters<CreateArgs>) -> Result<Json<Out>, ErrorData> {
        self.blocking(a.project.clone(), move |s| {
            write_result(codedb_commands::create(
                s.project,
                &a.path,
                &a.content,
                &EditOptions::default(),
            ))
        })
        .await
    }

    #[tool(description = "Delete a file (a backup is kept).")]
    async fn delete(&self, Parameters(a): Parameters<PathArgs>) -> Result<Json<Out>, ErrorData> {
        self.blocking(a.project.clone(), move |s| {
            write_result(codedb_commands::delete(
                s.project,
                &a.path,
                &EditOptions::default(),
            ))
        })
        .await
    }

    #[tool(
        name = "move",
        description = "Move a file; its entities keep their ids."
    )]
    async fn move_file(&self, Parameters(a): Parameters<MoveArgs>) -> Result<Json<Out>, ErrorData> {
        self.blocking(a.project.clone(), move |s| {
            write_result(codedb_commands::move_file(
                s.project,
                &a.from,
                &a.to,
                &EditOptions::default(),
            ))
        })
        .await
    }

    #[tool(description = "A file's backups, newest first.")]
    async fn history(
        &self,
        Parameters(a): Parameters<HistoryArgs>,
    ) -> Result<Json<Out>, ErrorData> {
        self.blocking(a.project.clone(), move |s| {
            let (offset, limit) = a.paging.get()?;
            let backups = codedb_commands::history(s.project, &a.path).map_err(command_error)?;
            bounded(
                object(json!({ "path": a.path })),
                "backups",
                Page::of(backups, offset, Some(limit)),
                limit,
                a.paging.count.unwrap_or(false),
                s.budget(),
            )
        })
        .await
    }

    #[tool(description = "Put a file back as a backup has it (the newest by default).")]
    async fn restore(
        &self,
        Parameters(a): Parameters<RestoreArgs>,
    ) -> Result<Json<Out>, ErrorData> {
        self.blocking(a.project.clone(), move |s| {
            write_result(codedb_commands::restore(
                s.project,
                &a.path,
                a.backup,
                &EditOptions::default(),
            ))
        })
        .await
    }

    #[tool(
        description = "What a schema sync towards the code schema would change (nothing is changed)."
    )]
    async fn schema_plan(&self, Parameters(_): Parameters<NoArgs>) -> Result<Json<Out>, ErrorData> {
        self.blocking_server(move |s| {
            let report =
                s.db.ensure_schema_synced(&codedb_core::SyncOptions {
                    dry_run: true,
                    ..Default::default()
                })
                .map_err(failed)?;
            to_value(report)
        })
        .await
    }

    #[tool(
        description = "Check that files, database and git agree: files_checked, mismatches, pending_intents."
    )]
    async fn verify(&self, Parameters(a): Parameters<ProjectArgs>) -> Result<Json<Out>, ErrorData> {
        self.blocking(a.project, move |s| {
            to_value(codedb_commands::verify(s.project).map_err(command_error)?)
        })
        .await
    }

    #[tool(description = "Each worker's state, restarts and last error.")]
    async fn status(&self, Parameters(_): Parameters<NoArgs>) -> Result<Json<Out>, ErrorData> {
        // The workers' health checks block (PostgreSQL's client runs its own runtime, which
        // must not start inside this one): on the blocking pool, like every other tool.
        self.blocking_server(move |s| {
            let workers = s.status();
            to_value(json!({ "pid": std::process::id(), "root": s.root, "workers": workers }))
        })
        .await
    }

    #[tool(
        description = "The projects this server serves: name (what the other tools take as `project`) and root."
    )]
    async fn projects(&self, Parameters(_): Parameters<NoArgs>) -> Result<Json<Out>, ErrorData> {
        let projects: Vec<Value> = self
            .server
            .projects()
            .map(|(name, root)| json!({ "name": name, "root": root }))
            .collect();
        to_value(json!({ "projects": projects }))
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for CodedbMcp {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("codedb", env!("CARGO_PKG_VERSION")))
            .with_instructions(
                "codedb: a code index (symbols, usages, full-text search) and crash-safe file \
             edits that keep files, database and git in agreement. Paths are relative to the \
             project root; with several projects, tools take `project` (see `projects`). Write tools return the new sha256; pass it as expect_sha256 to \
             guard against lost updates.",
            )
    }
}
