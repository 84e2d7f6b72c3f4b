//! `codedb query stats|symbol|search|usages|file` (and the reference questions of
//! [`super::references`]): questions to the index, answered for the
//! project whose root holds the current directory (or `--root`), or for every project with
//! `--all-projects`.

use codedb_backends::DatabaseSpec;
use codedb_core::store::{Stats, SymbolHit, UsageHit};
use codedb_core::{CodeDatabase, CodeStore, Scope};
use serde::Serialize;

use crate::context::Context;
use crate::output::{CliError, emit, emit_lines};

/// For queries: `--db`, else `--root`'s database, else the nearest `.codedb/codedb.sqlite`
/// from the current directory up.
fn db_for_query(ctx: &Context) -> Result<DatabaseSpec, CliError> {
    if ctx.db.is_some() {
        return Ok(ctx.db_spec());
    }
    if let Some(root) = &ctx.root {
        return Ok(crate::config::of_project(root)?.database_spec(root));
    }
    ctx.cwd()
        .ancestors()
        .map(|d| d.join(crate::context::DEFAULT_DB))
        .find(|p| p.is_file())
        .map(DatabaseSpec::Sqlite)
        .ok_or_else(|| {
            CliError(
                "no .codedb/codedb.sqlite here or above; run `codedb index DIR` first or pass --db"
                    .into(),
            )
        })
}

/// Query the index (of the project here, or `--all-projects`).
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Span every project in the database (each hit names its project) instead of the one
    /// whose root holds the current directory (or `--root`).
    #[arg(long, global = true)]
    pub(crate) all_projects: bool,
    #[command(subcommand)]
    pub(crate) command: QueryCommand,
}

#[derive(Debug, clap::Subcommand)]
pub(crate) enum QueryCommand {
    /// Counts of files, classes, functions, methods, imports, usages and issues.
    Stats {
        /// Only files of this language (python, rust, typescript, tsx, javascript, go, java, c, cpp).
        #[arg(long)]
        language: Option<String>,
    },
    /// Definitions called NAME (or whose qualified name is NAME, e.g. Parser.parse).
    Symbol {
        /// The name.
        name: String,
    },
    /// Full-text search: definitions whose name or docstring, and files whose source, contain
    /// TEXT (as a phrase of words).
    Search {
        /// The text.
        text: String,
        /// At most this many results.
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Where the identifier NAME is used.
    Usages {
        /// The identifier.
        name: String,
    },
    /// A file's definitions and imports.
    File {
        /// Relative to the project root.
        path: String,
    },
    #[command(flatten)]
    References(super::references::ReferenceQuery),
}

/// `path`, prefixed by its project's root when the query spans every project.
fn located(project: Option<&String>, path: &str) -> String {
    match project {
        Some(root) => format!("{root}/{path}"),
        None => path.to_owned(),
    }
}

fn hits_table(hits: &[SymbolHit]) -> Vec<String> {
    if hits.is_empty() {
        return vec!["no match".into()];
    }
    hits.iter()
        .map(|h| {
            format!(
                "{:<8} {:<40} {}:{}-{}",
                h.kind,
                h.qualified_name,
                located(h.project.as_ref(), &h.path),
                h.start_line,
                h.end_line
            )
        })
        .collect()
}

pub(crate) fn run(ctx: &Context, args: &Args) -> Result<(), CliError> {
    let spec = db_for_query(ctx)?;
    let (manager, db) = crate::open::open(&spec)?;
    let result = query_scope(ctx, args.all_projects, &db)
        .and_then(|scope| query(ctx, &db, scope, &args.command));
    manager.stop()?;
    result
}

/// What a query covers: every project with `--all-projects`; else the project whose root
/// holds `--root` or the current directory (the deepest such), else the database's only
/// project. Several projects and none of them here is an error listing them.
fn query_scope(ctx: &Context, all: bool, db: &CodeDatabase) -> Result<Scope, CliError> {
    if all {
        return Ok(Scope::All);
    }
    let here = ctx.root_or_cwd();
    let here = here.canonicalize().unwrap_or(here);
    let projects = db.list_projects()?;
    if let Some(p) = projects
        .iter()
        .filter(|p| here.starts_with(&p.root))
        .max_by_key(|p| p.root.len())
    {
        return Ok(Scope::Project(p.id));
    }
    match projects.as_slice() {
        [] => Ok(Scope::All),
        [only] => Ok(Scope::Project(only.id)),
        many => {
            let roots: Vec<&str> = many.iter().map(|p| p.root.as_str()).collect();
            Err(CliError::usage(format!(
                "{} projects are indexed in this database and none holds {}: run the query \
                 inside one, pass --root DIR, or --all-projects; projects: {}",
                many.len(),
                here.display(),
                roots.join(", ")
            )))
        }
    }
}

fn query(
    ctx: &Context,
    db: &CodeDatabase,
    scope: Scope,
    command: &QueryCommand,
) -> Result<(), CliError> {
    match command {
        QueryCommand::References(q) => super::references::run(ctx.json, db, scope, q),
        QueryCommand::Stats { language } => {
            if let Some(l) = language
                .as_deref()
                .filter(|l| codedb_commands::lang::by_name(l).is_none())
            {
                let known: Vec<&str> = codedb_commands::lang::LANGUAGES
                    .iter()
                    .map(|l| l.name)
                    .collect();
                return Err(CliError(format!(
                    "unknown language {l:?}; known: {}",
                    known.join(", ")
                )));
            }
            let stats: Stats = db.stats(scope, language.as_deref())?;
            emit(ctx.json, &stats, || {
                vec![
                    ("files", stats.files.to_string()),
                    ("classes", stats.classes.to_string()),
                    ("functions", stats.functions.to_string()),
                    ("methods", stats.methods.to_string()),
                    ("imports", stats.imports.to_string()),
                    ("usages", stats.usages.to_string()),
                    ("issues", stats.issues.to_string()),
                    ("bytes", stats.bytes.to_string()),
                ]
            })
        }
        QueryCommand::Symbol { name } => list(ctx, "symbols", db.find_symbol(scope, name)?),
        QueryCommand::Search { text, limit } => {
            let hits = db.full_text_search(scope, text, *limit)?;
            if ctx.json {
                return emit(true, &hits, Vec::new);
            }
            let mut lines = hits_table(&hits.symbols);
            lines.extend(hits.files.iter().map(|h| {
                format!(
                    "{:<8} {:<40} {}",
                    "source",
                    located(h.project.as_ref(), &h.path),
                    h.snippet.replace('\n', " ")
                )
            }));
            emit_lines(&lines)?;
            Ok(())
        }
        QueryCommand::Usages { name } => {
            let hits: Vec<UsageHit> = db.usages_of(scope, name)?;
            if ctx.json {
                #[derive(Serialize)]
                struct Out {
                    usages: Vec<UsageHit>,
                }
                return emit(true, &Out { usages: hits }, Vec::new);
            }
            let mut lines: Vec<String> = hits
                .iter()
                .map(|u| {
                    format!(
                        "{}:{}:{}",
                        located(u.project.as_ref(), &u.path),
                        u.line,
                        u.column
                    )
                })
                .collect();
            if lines.is_empty() {
                lines.push("no usage".into());
            }
            emit_lines(&lines)?;
            Ok(())
        }
        QueryCommand::File { path } => {
            let Scope::Project(project) = scope else {
                return Err(CliError::usage(
                    "query file names a file of one project: drop --all-projects".into(),
                ));
            };
            let Some((file, _)) = db.file_with_source(project, path)? else {
                return Err(CliError(format!("{path}: not in the index")));
            };
            let hits: Vec<SymbolHit> = db.find_symbol_in_file(scope, path)?;
            #[derive(Serialize)]
            struct Out {
                path: String,
                language: Option<String>,
                lines: i64,
                sha256: String,
                symbols: Vec<SymbolHit>,
            }
            let out = Out {
                path: file.meta.path,
                language: file.meta.language,
                lines: file.meta.lines,
                sha256: file.meta.sha256,
                symbols: hits,
            };
            if ctx.json {
                return emit(true, &out, Vec::new);
            }
            let mut lines = vec![format!(
                "{} ({}, {} lines, sha256 {})",
                out.path,
                out.language.clone().unwrap_or_default(),
                out.lines,
                out.sha256
            )];
            lines.extend(hits_table(&out.symbols));
            emit_lines(&lines)?;
            Ok(())
        }
    }
}

fn list(ctx: &Context, key: &str, hits: Vec<SymbolHit>) -> Result<(), CliError> {
    if ctx.json {
        let mut map = serde_json::Map::new();
        map.insert(
            key.to_owned(),
            serde_json::to_value(&hits).map_err(|e| CliError(e.to_string()))?,
        );
        return emit(true, &map, Vec::new);
    }
    emit_lines(&hits_table(&hits))?;
    Ok(())
}
