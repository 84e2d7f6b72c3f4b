//! `codedb query stats|symbol|search|usages|file|outline` (and the reference questions of
//! [`super::references`]): questions to the index, answered for the
//! project whose root holds the current directory (or `--root`), or for every project with
//! `--all-projects`.

use codedb_backends::DatabaseSpec;
use codedb_core::store::{EntityKind, OutlineNode, Page, Stats, SymbolHit, UsageHit};
use codedb_core::{CodeDatabase, CodeStore, Scope};
use serde::Serialize;

use codedb_commands::{CaseMode, SearchOptions};

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
    /// Lists: at most N items (default: all; `search`: 50). With `--json` the answer
    /// reports `total`, `offset` and `truncated`.
    #[arg(long, global = true, value_name = "N")]
    pub(crate) limit: Option<usize>,
    /// Lists: skip the first N items.
    #[arg(long, global = true, value_name = "N", default_value_t = 0)]
    pub(crate) offset: usize,
    /// Lists: print only the totals.
    #[arg(long, global = true)]
    pub(crate) count: bool,
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
    /// Search the stored source: lines holding TEXT's words as a phrase (full text), or
    /// matching --regex; narrowed by --path, --language; with --kind, definitions only.
    /// Each hit: path, line, column, the line as a snippet.
    Search(SearchArgs),
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
    /// A file's definitions as a tree: kind, qualified name, signature, lines, the first
    /// line of the docstring; no bodies.
    Outline {
        /// Relative to the project root.
        path: String,
    },
    #[command(flatten)]
    References(super::references::ReferenceQuery),
}

/// `query search`'s arguments.
#[derive(Debug, clap::Args)]
pub(crate) struct SearchArgs {
    /// Words to find, as a phrase (case-insensitive by default).
    #[arg(required_unless_present = "regex", conflicts_with = "regex")]
    text: Option<String>,
    /// A regular expression (Rust `regex` syntax) over the stored source, instead of words
    /// (case-sensitive by default).
    #[arg(long, value_name = "PATTERN")]
    regex: Option<String>,
    /// Only paths matching this glob (repeatable; `!GLOB` excludes; no `/`: the file name
    /// at any depth).
    #[arg(long = "path", value_name = "GLOB", allow_hyphen_values = true)]
    paths: Vec<String>,
    /// Only files of this language.
    #[arg(long)]
    language: Option<String>,
    /// Only definitions of this kind (repeatable): class, function, method; matched on
    /// their name and qualified name (and docstring, by words).
    #[arg(long = "kind", value_name = "KIND")]
    kinds: Vec<String>,
    /// Case matters.
    #[arg(long, short = 's', group = "case")]
    case_sensitive: bool,
    /// Case does not matter.
    #[arg(long, short = 'i', group = "case")]
    ignore_case: bool,
    /// Case matters when the pattern has an upper-case letter.
    #[arg(long, short = 'S', group = "case")]
    smart_case: bool,
}

impl SearchArgs {
    fn options(&self, offset: usize, limit: Option<usize>) -> Result<SearchOptions, CliError> {
        let kinds = self
            .kinds
            .iter()
            .map(|k| {
                EntityKind::from_name(k).ok_or_else(|| {
                    CliError::usage(format!(
                        "unknown kind {k:?}; known: class, function, method"
                    ))
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(SearchOptions {
            text: self.text.clone(),
            regex: self.regex.clone(),
            paths: self.paths.clone(),
            language: self.language.clone(),
            kinds,
            case: if self.case_sensitive {
                CaseMode::Sensitive
            } else if self.ignore_case {
                CaseMode::Insensitive
            } else if self.smart_case {
                CaseMode::Smart
            } else {
                CaseMode::Default
            },
            offset,
            limit: Some(limit.unwrap_or(50)),
        })
    }
}

/// Prints one page of a list answer: with `--json` one object, the items under `key` with
/// `total`, `offset`, `limit` and `truncated` (with `--count` only `total`); as text, a
/// line per item and, when the page was cut, a note on stderr.
pub(crate) fn page<T: Serialize>(
    json: bool,
    count: bool,
    key: &str,
    page: Page<T>,
    limit: Option<usize>,
    line: impl Fn(&T) -> String,
) -> Result<(), CliError> {
    if count {
        #[derive(Serialize)]
        struct Count {
            total: usize,
        }
        let total = page.total;
        return emit(json, &Count { total }, || {
            vec![("total", total.to_string())]
        });
    }
    if json {
        let mut map = serde_json::Map::new();
        map.insert(
            key.to_owned(),
            serde_json::to_value(&page.items).map_err(|e| CliError(e.to_string()))?,
        );
        map.insert("total".into(), page.total.into());
        map.insert("offset".into(), page.offset.into());
        map.insert("limit".into(), limit.into());
        map.insert("truncated".into(), page.truncated.into());
        return emit(true, &map, Vec::new);
    }
    let mut lines: Vec<String> = page.items.iter().map(line).collect();
    if page.total == 0 {
        lines.push(format!("no {key}"));
    }
    emit_lines(&lines)?;
    if page.truncated {
        #[allow(clippy::print_stderr)]
        {
            eprintln!(
                "({} of {}; more with --offset {})",
                page.items.len(),
                page.total,
                page.offset + page.items.len()
            );
        }
    }
    Ok(())
}

fn symbol_line(h: &SymbolHit) -> String {
    format!(
        "{:<8} {:<40} {}:{}-{}",
        h.kind,
        h.qualified_name,
        located(h.project.as_ref(), &h.path),
        h.start_line,
        h.end_line
    )
}

fn outline_lines(nodes: &[OutlineNode], depth: usize, out: &mut Vec<String>) {
    for n in nodes {
        let head = n.signature.as_deref().unwrap_or(&n.qualified_name);
        let doc = n
            .doc
            .as_deref()
            .map(|d| format!("  # {d}"))
            .unwrap_or_default();
        out.push(format!(
            "{}{} {} [{}-{}]{doc}",
            "  ".repeat(depth),
            n.kind,
            head.lines().next().unwrap_or(""),
            n.start_line,
            n.end_line
        ));
        outline_lines(&n.children, depth + 1, out);
    }
}

/// `path`, prefixed by its project's root when the query spans every project.
fn located(project: Option<&String>, path: &str) -> String {
    match project {
        Some(root) => format!("{root}/{path}"),
        None => path.to_owned(),
    }
}

pub(crate) fn run(ctx: &Context, args: &Args) -> Result<(), CliError> {
    let spec = db_for_query(ctx)?;
    let (manager, db) = crate::open::open(&spec)?;
    let result =
        query_scope(ctx, args.all_projects, &db).and_then(|scope| query(ctx, &db, scope, args));
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

fn query(ctx: &Context, db: &CodeDatabase, scope: Scope, args: &Args) -> Result<(), CliError> {
    let (offset, limit, count) = (args.offset, args.limit, args.count);
    match &args.command {
        QueryCommand::References(q) => super::references::run(
            ctx.json,
            db,
            scope,
            q,
            super::references::Paging {
                offset,
                limit,
                count,
            },
        ),
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
        QueryCommand::Symbol { name } => page(
            ctx.json,
            count,
            "symbols",
            Page::of(db.find_symbol(scope, name)?, offset, limit),
            limit,
            symbol_line,
        ),
        QueryCommand::Search(a) => {
            let options = a.options(offset, limit)?;
            let hits = codedb_commands::search(db, scope, &options)?;
            page(ctx.json, count, "hits", hits, options.limit, |h| {
                format!(
                    "{}:{}:{}: {}",
                    located(h.project.as_ref(), &h.path),
                    h.line,
                    h.column,
                    h.snippet
                )
            })
        }
        QueryCommand::Usages { name } => {
            let hits: Vec<UsageHit> = db.usages_of(scope, name)?;
            page(
                ctx.json,
                count,
                "usages",
                Page::of(hits, offset, limit),
                limit,
                |u| {
                    format!(
                        "{}:{}:{}",
                        located(u.project.as_ref(), &u.path),
                        u.line,
                        u.column
                    )
                },
            )
        }
        QueryCommand::Outline { path } => {
            let Scope::Project(project) = scope else {
                return Err(CliError::usage(
                    "query outline names a file of one project: drop --all-projects".into(),
                ));
            };
            let Some(outline) = db.outline(project, path)? else {
                return Err(CliError(format!("{path}: not in the index")));
            };
            page(
                ctx.json,
                count,
                "outline",
                Page::of(outline, offset, limit),
                limit,
                |n| {
                    let mut lines = Vec::new();
                    outline_lines(std::slice::from_ref(n), 0, &mut lines);
                    lines.join("\n")
                },
            )
        }
        QueryCommand::File { path } => {
            let Scope::Project(project) = scope else {
                return Err(CliError::usage(
                    "query file names a file of one project: drop --all-projects".into(),
                ));
            };
            let Some(codedb_core::store::FileWithSource { file, .. }) =
                db.file_with_source(project, path)?
            else {
                return Err(CliError(format!("{path}: not in the index")));
            };
            let hits = Page::of(db.find_symbol_in_file(scope, path)?, offset, limit);
            if count {
                return page(ctx.json, true, "symbols", hits, limit, symbol_line);
            }
            #[derive(Serialize)]
            struct Out {
                path: String,
                language: Option<String>,
                lines: i64,
                sha256: String,
                symbols: Vec<SymbolHit>,
                total: usize,
                offset: usize,
                limit: Option<usize>,
                truncated: bool,
            }
            let out = Out {
                path: file.meta.path,
                language: file.meta.language,
                lines: file.meta.lines,
                sha256: file.meta.sha256,
                symbols: hits.items,
                total: hits.total,
                offset: hits.offset,
                limit,
                truncated: hits.truncated,
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
            lines.extend(out.symbols.iter().map(symbol_line));
            emit_lines(&lines)?;
            Ok(())
        }
    }
}
