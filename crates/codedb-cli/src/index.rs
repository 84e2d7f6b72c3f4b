//! `codedb index ROOT` and `codedb query ...`.

use std::path::Path;

use codedb_backends::DatabaseSpec;

use codedb_commands::{IndexOptions, index};
use codedb_core::store::{Stats, SymbolHit, UsageHit};
use codedb_core::{CodeDatabase, CodeStore, Executor, params};
use serde::Serialize;

use crate::cli::GlobalArgs;
use crate::output::{CliError, emit, emit_lines};

/// For queries: `--db`, else the nearest `.codedb/codedb.sqlite` from the current directory up.
fn db_for_query(global: &GlobalArgs) -> Result<DatabaseSpec, CliError> {
    if global.db.is_some() {
        return Ok(global.db_spec());
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
    emit_lines(&lines);
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

#[derive(Debug, clap::Subcommand)]
pub(crate) enum QueryCommand {
    /// Counts of files, classes, functions, methods, imports, usages and issues.
    Stats {
        /// Only files of this language (python, rust).
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

fn hits_table(hits: &[SymbolHit]) -> Vec<String> {
    if hits.is_empty() {
        return vec!["no match".into()];
    }
    hits.iter()
        .map(|h| {
            format!(
                "{:<8} {:<40} {}:{}-{}",
                h.kind, h.qualified_name, h.path, h.start_line, h.end_line
            )
        })
        .collect()
}

pub(crate) fn run_query(global: &GlobalArgs, command: &QueryCommand) -> Result<(), CliError> {
    let spec = db_for_query(global)?;
    let (manager, db) = crate::db::open(&spec)?;
    let result = query(global, &db, command);
    manager.stop()?;
    result
}

fn query(global: &GlobalArgs, db: &CodeDatabase, command: &QueryCommand) -> Result<(), CliError> {
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
            let stats: Stats = db.stats(language.as_deref())?;
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
        QueryCommand::Symbol { name } => list(global, "symbols", db.find_symbol(name)?),
        QueryCommand::Search { text, limit } => {
            let hits = db.full_text_search(text, *limit)?;
            if global.json {
                return emit(true, &hits, Vec::new);
            }
            let mut lines = hits_table(&hits.symbols);
            lines.extend(hits.files.iter().map(|h| {
                format!(
                    "{:<8} {:<40} {}",
                    "source",
                    h.path,
                    h.snippet.replace('\n', " ")
                )
            }));
            emit_lines(&lines);
            Ok(())
        }
        QueryCommand::Usages { name } => {
            let hits: Vec<UsageHit> = db.usages_of(name)?;
            if global.json {
                #[derive(Serialize)]
                struct Out {
                    usages: Vec<UsageHit>,
                }
                return emit(true, &Out { usages: hits }, Vec::new);
            }
            let mut lines: Vec<String> = hits
                .iter()
                .map(|u| format!("{}:{}:{}", u.path, u.line, u.column))
                .collect();
            if lines.is_empty() {
                lines.push("no usage".into());
            }
            emit_lines(&lines);
            Ok(())
        }
        QueryCommand::File { path } => {
            let rows = db.query(
                "SELECT f.path, f.language, f.lines, f.sha256 FROM files f WHERE f.path = ?1 AND f.deleted = 0",
                params![path.as_str()],
            )?;
            let Some(row) = rows.first() else {
                return Err(CliError(format!("{path}: not in the index")));
            };
            let hits: Vec<SymbolHit> = db.find_symbol_in_file(path)?;
            #[derive(Serialize)]
            struct Out {
                path: String,
                language: Option<String>,
                lines: i64,
                sha256: String,
                symbols: Vec<SymbolHit>,
            }
            let out = Out {
                path: row.get(0).map_err(codedb_core::Error::from)?,
                language: row.get(1).map_err(codedb_core::Error::from)?,
                lines: row.get(2).map_err(codedb_core::Error::from)?,
                sha256: row.get(3).map_err(codedb_core::Error::from)?,
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
            emit_lines(&lines);
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
    emit_lines(&hits_table(&hits));
    Ok(())
}
