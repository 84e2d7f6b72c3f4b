//! `codedb index ROOT` and `codedb query ...`.

use std::path::Path;

use codedb_backends::DatabaseSpec;

use codedb_commands::{IndexOptions, index};
use codedb_core::store::{Stats, SymbolHit, UsageHit};
use codedb_core::{CodeDatabase, CodeStore, Scope};
use serde::Serialize;

use crate::cli::GlobalArgs;
use crate::output::{CliError, emit, emit_lines};

/// For queries: `--db`, else `--root`'s database, else the nearest `.codedb/codedb.sqlite`
/// from the current directory up.
fn db_for_query(global: &GlobalArgs) -> Result<DatabaseSpec, CliError> {
    if global.db.is_some() {
        return Ok(global.db_spec());
    }
    if let Some(root) = &global.root {
        return Ok(crate::config::of_project(root)?.database_spec(root));
    }
    let cwd = std::env::current_dir()
        .map_err(|e| CliError(format!("cannot read the current directory: {e}")))?;
    cwd.ancestors()
        .map(|d| d.join(crate::cli::DEFAULT_DB))
        .find(|p| p.is_file())
        .map(DatabaseSpec::Sqlite)
        .ok_or_else(|| {
            CliError(
                "no .codedb/codedb.sqlite here or above; run `codedb index DIR` first or pass --db"
                    .into(),
            )
        })
}

pub(crate) fn run_index(global: &GlobalArgs, root: &Path) -> Result<(), CliError> {
    if !root.is_dir() {
        let why = if root.exists() {
            "is a file, not a directory"
        } else {
            "no such directory"
        };
        return Err(CliError(format!("{}: {why}", root.display())));
    }
    let config = crate::config::of_project(root)?;
    let (manager, db) = crate::db::open_project(global, root, &config)?;
    let options = IndexOptions {
        progress: progress_bar(),
        ..config.index_options()
    };
    let summary = index(&db, root, &options).map_err(|e| CliError(e.to_string()));
    if let Some(bar) = PROGRESS.get() {
        bar.finish_and_clear();
    }
    let summary = summary?;
    manager.stop()?;
    if global.json {
        return emit(true, &summary, Vec::new);
    }
    let mut lines = vec![format!(
        "indexed {} files, {} unchanged, {} removed, {} skipped, {} with parse errors in {:.2}s",
        summary.files_indexed,
        summary.files_unchanged,
        summary.files_removed,
        summary.files_skipped,
        summary.parse_errors,
        summary.seconds
    )];
    if summary.files_superseded > 0 {
        lines.push(format!(
            "{} files were stored by another writer meanwhile (left to it)",
            summary.files_superseded
        ));
    }
    lines.extend(
        summary
            .skipped
            .iter()
            .map(|s| format!("skipped {}: {}", s.path, s.reason)),
    );
    emit_lines(&lines)?;
    Ok(())
}

static PROGRESS: std::sync::OnceLock<indicatif::ProgressBar> = std::sync::OnceLock::new();

/// A progress bar on stderr when it is a terminal; none when piped.
fn progress_bar() -> Option<fn(usize, usize)> {
    use std::io::IsTerminal;
    if !std::io::stderr().is_terminal() {
        return None;
    }
    fn update(done: usize, found: usize) {
        let bar = PROGRESS.get_or_init(|| {
            let bar = indicatif::ProgressBar::new(0);
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "{bar:40} {pos}/{len} files stored ({elapsed})",
            ) {
                bar.set_style(style);
            }
            bar
        });
        bar.set_length(found as u64);
        bar.set_position(done as u64);
    }
    Some(update)
}

/// `codedb query [--all-projects] ...`.
#[derive(Debug, clap::Args)]
pub(crate) struct QueryArgs {
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

pub(crate) fn run_query(global: &GlobalArgs, args: &QueryArgs) -> Result<(), CliError> {
    let spec = db_for_query(global)?;
    let (manager, db) = crate::db::open(&spec)?;
    let result = query_scope(global, args.all_projects, &db)
        .and_then(|scope| query(global, &db, scope, &args.command));
    manager.stop()?;
    result
}

/// What a query covers: every project with `--all-projects`; else the project whose root
/// holds `--root` or the current directory (the deepest such), else the database's only
/// project. Several projects and none of them here is an error listing them.
fn query_scope(global: &GlobalArgs, all: bool, db: &CodeDatabase) -> Result<Scope, CliError> {
    if all {
        return Ok(Scope::All);
    }
    let here = match &global.root {
        Some(root) => root.clone(),
        None => std::env::current_dir()
            .map_err(|e| CliError(format!("cannot read the current directory: {e}")))?,
    };
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
    global: &GlobalArgs,
    db: &CodeDatabase,
    scope: Scope,
    command: &QueryCommand,
) -> Result<(), CliError> {
    match command {
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
            emit(global.json, &stats, || {
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
        QueryCommand::Symbol { name } => list(global, "symbols", db.find_symbol(scope, name)?),
        QueryCommand::Search { text, limit } => {
            let hits = db.full_text_search(scope, text, *limit)?;
            if global.json {
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
            if global.json {
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
            if global.json {
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

fn list(global: &GlobalArgs, key: &str, hits: Vec<SymbolHit>) -> Result<(), CliError> {
    if global.json {
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
