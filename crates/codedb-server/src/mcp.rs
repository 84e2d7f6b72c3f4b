//! MCP over stdio with the official Rust SDK (`rmcp`): the CLI's queries and commands as
//! tools, results as structured JSON.
//!
//! Every tool validates its arguments (the SDK checks them against each tool's JSON schema;
//! values are checked here) and answers a bad one with an `invalid_params` error naming it;
//! a failure of the command itself is an error result with its message (a conflict says
//! `conflict`). Write tools return the file's new `sha256`, to chain as `expect_sha256`.
//! Blocking work (the database, the commands, git) runs on tokio's blocking pool, so
//! requests are served concurrently; the commands' own locks order them per file.

use std::sync::Arc;

use codedb_commands::{CommandError, CommandReport, EditOptions, ErrorKind};
use codedb_core::store::{Confidence, MAX_CALL_DEPTH, RefFilter, RefKind};
use codedb_core::{CodeStore, ReferenceGraph, Scope};
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::{Json, Parameters};
use rmcp::model::{Implementation, ServerCapabilities, ServerConfig};
use rmcp::{ErrorData, ServerHandler, tool, tool_handler, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::server::Server;

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
}

/// `search {query, limit?, all_projects?}`
#[derive(Debug, Deserialize, JsonSchema)]
pub struct SearchArgs {
    /// Text to find (a phrase).
    pub query: String,
    /// At most this many hits of each kind (default 20, at most 1000).
    pub limit: Option<u32>,
    /// Search every project in the database (each hit names its project), not only this
    /// server's.
    pub all_projects: Option<bool>,
    /// The project, by its name from `projects`; default: the server's only project (with
    /// several, required).
    pub project: Option<String>,
}

/// `file {path}`, `delete {path}`, `history {path}`
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

/// A query's failure: a symbol that names no single definition is the caller's to fix.
fn query_failed(e: codedb_core::Error) -> ErrorData {
    match e {
        codedb_core::Error::Symbol(s) => invalid(s.to_string()),
        e => failed(e),
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

fn to_value(v: impl Serialize) -> Result<Json<Out>, ErrorData> {
    serde_json::to_value(v)
        .map(|v| Json(Out(v)))
        .map_err(failed)
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
            let def =
                s.db.definition(s.scope(a.all_projects), &a.qualname)
                    .map_err(query_failed)?;
            if callers {
                let hits = s.db.callers(&def, depth, &filter).map_err(failed)?;
                to_value(json!({ "qualname": a.qualname, "callers": hits }))
            } else {
                let hits = s.db.callees(&def, depth, &filter).map_err(failed)?;
                to_value(json!({ "qualname": a.qualname, "callees": hits }))
            }
        })
        .await
    }

    async fn dependencies(&self, a: DepsArgs, outgoing: bool) -> Result<Json<Out>, ErrorData> {
        self.blocking(a.project.clone(), move |s| {
            let min = min_confidence(a.min_confidence.as_deref(), Confidence::Inferred)?;
            let scope = Scope::Project(s.project.id());
            if outgoing {
                let deps =
                    s.db.file_dependencies(scope, &a.path, min)
                        .map_err(query_failed)?;
                to_value(json!({ "path": a.path, "deps": deps }))
            } else {
                let rdeps =
                    s.db.file_dependents(scope, &a.path, min)
                        .map_err(query_failed)?;
                to_value(json!({ "path": a.path, "rdeps": rdeps }))
            }
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
            let summary =
                codedb_commands::index(s.db, s.root, &s.config.index_options()).map_err(failed)?;
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
            let hits =
                s.db.find_symbol(s.scope(args.all_projects), args.name.trim())
                    .map_err(failed)?;
            to_value(json!({ "name": args.name, "symbols": hits }))
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
            if args.query.trim().is_empty() {
                return Err(invalid("query: must not be empty"));
            }
            let limit = args.limit.unwrap_or(20);
            if limit == 0 || limit > 1000 {
                return Err(invalid(format!(
                    "limit {limit}: must be between 1 and 1000"
                )));
            }
            let hits =
                s.db.full_text_search(s.scope(args.all_projects), &args.query, limit as usize)
                    .map_err(failed)?;
            to_value(hits)
        })
        .await
    }

    #[tool(description = "Every place the identifier is used (path, line, column).")]
    async fn usages(&self, Parameters(args): Parameters<NameArgs>) -> Result<Json<Out>, ErrorData> {
        self.blocking(args.project.clone(), move |s| {
            if args.name.trim().is_empty() {
                return Err(invalid("name: must not be empty"));
            }
            let hits =
                s.db.usages_of(s.scope(args.all_projects), args.name.trim())
                    .map_err(failed)?;
            to_value(json!({ "name": args.name, "usages": hits }))
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
            to_value(json!({ "qualname": a.qualname, "refs": refs }))
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
        description = "A file as indexed: language, lines, sha256, its definitions and its source text."
    )]
    async fn file(&self, Parameters(args): Parameters<PathArgs>) -> Result<Json<Out>, ErrorData> {
        self.blocking(args.project.clone(), move |s| {
            let project = s.project.id();
            let Some((file, source)) =
                s.db.file_with_source(project, &args.path).map_err(failed)?
            else {
                return Err(invalid(format!("path {:?}: not in the index", args.path)));
            };
            let symbols =
                s.db.find_symbol_in_file(Scope::Project(project), &args.path)
                    .map_err(failed)?;
            to_value(json!({
                "path": file.meta.path, "language": file.meta.language,
                "lines": file.meta.lines, "sha256": file.meta.sha256,
                "symbols": symbols, "content": source,
            }))
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
    async fn history(&self, Parameters(a): Parameters<PathArgs>) -> Result<Json<Out>, ErrorData> {
        self.blocking(a.project.clone(), move |s| {
            let backups = codedb_commands::history(s.project, &a.path).map_err(command_error)?;
            to_value(json!({ "path": a.path, "backups": backups }))
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
