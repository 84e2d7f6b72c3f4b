//! The indexer: walks a source tree, parses what changed with tree-sitter (in parallel),
//! and stores it through `CodeDatabase` in batched transactions.
//!
//! Incremental: a file whose size and mtime match its row is not read; one that changed is
//! hashed, and parsed only when its bytes changed; a file that vanished is soft-deleted with
//! everything derived from it. A syntax error becomes an issue row and whatever tree-sitter
//! recovers is indexed. Files that cannot be indexed (too large, binary, not UTF-8,
//! unreadable, a symbolic link) are skipped with a reason in the summary; nothing else is
//! affected.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Instant, UNIX_EPOCH};

use codedb_core::store::{BulkWriter, Written};
use codedb_core::store::{FileMeta, Interface, ParsedFile};
use codedb_core::{CodeDatabase, CodeStore, Dialect, Executor, RefStore};
use rayon::prelude::*;
use serde::Serialize;

use crate::lang::{self, LanguageDef};
use crate::resolve::{Change, Changes};
use crate::visibility::Visibility;

/// What can go wrong before indexing starts or while storing.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IndexError {
    /// The root is missing or not a directory.
    #[error("{}: {message}", root.display())]
    Root {
        /// The root as given.
        root: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// The database failed.
    #[error(transparent)]
    Database(#[from] codedb_core::Error),
    /// The thread that stores the parsed files panicked (a bug); what it committed stays,
    /// and the next run indexes the rest.
    #[error("the storer thread panicked")]
    StorerPanicked,
    /// A fault injected by a failpoint (tests only).
    #[error("injected fault {0}")]
    InjectedFault(&'static str),
}

/// How to index.
#[derive(Debug, Clone)]
pub struct IndexOptions {
    /// Files larger than this are skipped.
    pub max_file_bytes: u64,
    /// Files per write transaction.
    pub batch_files: usize,
    /// Called after each stored batch with (files stored so far, files found by the walk).
    pub progress: Option<fn(usize, usize)>,
    /// Bytes of parsed references held in memory until the run resolves them; beyond it
    /// they wait in a temporary file, so that a run's memory does not grow with the tree.
    pub refs_memory_bytes: usize,
}

impl Default for IndexOptions {
    fn default() -> Self {
        IndexOptions {
            max_file_bytes: crate::DEFAULT_MAX_FILE_BYTES,
            batch_files: 64,
            progress: None,
            refs_memory_bytes: crate::resolve::DEFAULT_REFS_MEMORY_BYTES,
        }
    }
}

/// A file left out, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skipped {
    /// Relative path.
    pub path: String,
    /// Why.
    pub reason: String,
}

/// What an index run did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct IndexSummary {
    /// The project's root, absolute.
    pub root: String,
    /// Files parsed and stored.
    pub files_indexed: usize,
    /// Files whose bytes had not changed.
    pub files_unchanged: usize,
    /// Files gone from the tree, removed from the index.
    pub files_removed: usize,
    /// Files left out.
    pub files_skipped: usize,
    /// Files parsed but not stored because another writer (a command, another index run)
    /// stored them meanwhile from bytes at least as new.
    pub files_superseded: usize,
    /// Files stored with at least one syntax issue.
    pub parse_errors: usize,
    /// Files whose references were resolved: those indexed, and those whose references
    /// depend on what an indexed or removed file offers.
    pub files_resolved: usize,
    /// Seconds of the run spent resolving references (part of `seconds`).
    pub resolve_seconds: f64,
    /// Wall-clock seconds.
    pub seconds: f64,
    /// Each skipped file and its reason.
    pub skipped: Vec<Skipped>,
}

/// A file found by the walk.
pub(crate) struct Candidate {
    pub(crate) rel: String,
    abs: PathBuf,
    lang: &'static LanguageDef,
    size: u64,
    mtime_ns: i64,
}

/// What the storer thread did and collected.
#[derive(Default)]
struct Stored {
    files: usize,
    /// Files another writer stored while this run parsed them (left to it).
    superseded: usize,
    with_errors: usize,
    unchanged: usize,
    /// Unchanged files whose size or mtime changed: (file id, size, mtime_ns).
    touched: Vec<(i64, i64, i64)>,
    skipped: Vec<Skipped>,
    /// What the stored files offered the others before and after, for resolution.
    changes: Changes,
}

enum Prepared {
    Unchanged {
        file_id: i64,
        size: i64,
        mtime_ns: i64,
        touch: bool,
    },
    Changed(Box<ParsedFile>),
    Skipped(Skipped),
}

/// An index run that stores at least this many files refreshes the planner's statistics
/// ([`Dialect::refresh_statistics`]).
const BULK_FILES: usize = 256;

/// Indexes the tree at `root` into `db` (whose schema must be the code schema).
pub fn index(
    db: &CodeDatabase,
    root: &Path,
    options: &IndexOptions,
) -> Result<IndexSummary, IndexError> {
    let started = Instant::now();
    let root = check_root(root)?;
    let _span = tracing::info_span!("index", root = %root.display()).entered();
    let root_text = root.to_string_lossy().into_owned();
    let name = root
        .file_name()
        .map_or_else(|| root_text.clone(), |n| n.to_string_lossy().into_owned());
    let project = db.get_or_create_project(&root_text, &name)?;
    // In the database's order, which resolution keeps (see below).
    let listed = db.list_files(project, true)?;
    let known: HashMap<&str, &codedb_core::store::FileRecord> =
        listed.iter().map(|f| (f.meta.path.as_str(), f)).collect();

    let mut summary = IndexSummary {
        root: root_text,
        ..IndexSummary::default()
    };
    // Both cores parse and stream what they prepared to a storer thread that writes
    // `batch_files` files per transaction while parsing goes on. A project indexed before
    // (most files unchanged) prepares each file as the walk finds it, so that the few that
    // changed are parsed while the walk goes on; a first index walks first and parses the
    // largest files first (so that no big file is left for the end, one core busy and the
    // other idle).
    let batch = options.batch_files.max(1);
    let stream = !known.is_empty();
    let found = AtomicUsize::new(0);
    // Files found unchanged by size and modification time: counted here, not sent to the
    // storer (a channel message each would cost a re-index of a large tree more than the
    // walk).
    let unchanged = AtomicUsize::new(0);
    let hand_over = |sender: &std::sync::mpsc::SyncSender<Prepared>, prepared: Prepared| {
        if let Prepared::Unchanged { touch: false, .. } = prepared {
            unchanged.fetch_add(1, Ordering::Relaxed);
            return true;
        }
        sender.send(prepared).is_ok()
    };
    let mut candidates = Vec::new();
    let (sender, receiver) = std::sync::mpsc::sync_channel::<Prepared>(batch * 4);
    let known_ref = &known;
    let found_ref = &found;
    let unchanged_ref = &unchanged;
    let dialect = db.dialect();
    let outcome = std::thread::scope(|scope| {
        let storer = scope.spawn(move || -> Result<Stored, IndexError> {
            let mut writer = BulkWriter::new();
            let mut out = Stored {
                changes: Changes::with_memory_budget(options.refs_memory_bytes),
                ..Stored::default()
            };
            let mut pending: Vec<ParsedFile> = Vec::with_capacity(batch);
            let mut flush = |pending: &mut Vec<ParsedFile>, out: &mut Stored| {
                if pending.is_empty() {
                    return Ok::<(), IndexError>(());
                }
                // A file another writer stored since `known` was read is left to it: its
                // data comes from bytes at least as new as the ones read here.
                let seen = |path: &str| {
                    known_ref
                        .get(path)
                        .filter(|k| !k.deleted)
                        .map(|k| k.meta.sha256.clone())
                };
                // What the files already stored offered the others, before they change.
                let existing: Vec<i64> = pending
                    .iter()
                    .filter_map(|f| known_ref.get(f.meta.path.as_str()).filter(|k| !k.deleted))
                    .map(|k| k.id)
                    .collect();
                // New identifiers are committed first, so that the transaction never waits
                // for another project's writer (PostgreSQL; nothing on SQLite).
                writer.commit_names(db, pending)?;
                let (ids, mut before) = db.project_transaction(project, |tx| {
                    let before = tx.stored_interfaces(&existing)?;
                    Ok((
                        writer.write_files_seen(tx, project, pending, &seen)?,
                        before,
                    ))
                })?;
                for (file, w) in pending.iter_mut().zip(&ids) {
                    let Written::Stored(id) = w else { continue };
                    let old = known_ref
                        .get(file.meta.path.as_str())
                        .filter(|k| !k.deleted && k.id == *id);
                    out.changes.push(Change {
                        file_id: *id,
                        before: old.map(|k| {
                            (
                                k.meta.path.clone(),
                                k.meta.language.clone(),
                                before.remove(id).unwrap_or_default(),
                            )
                        }),
                        after: Some((
                            file.meta.path.clone(),
                            file.meta.language.clone(),
                            Interface::of(&file.parsed),
                        )),
                        refs: Some(std::mem::take(&mut file.parsed.refs)),
                    });
                }
                for w in &ids {
                    match w {
                        Written::Stored(_) => out.files += 1,
                        Written::AlreadyStored(_) => out.unchanged += 1,
                        Written::Superseded => out.superseded += 1,
                    }
                }
                out.with_errors += pending
                    .iter()
                    .zip(&ids)
                    .filter(|(f, w)| matches!(w, Written::Stored(_)) && !f.parsed.issues.is_empty())
                    .count();
                pending.clear();
                if let Some(progress) = options.progress {
                    progress(
                        out.files + out.unchanged + unchanged_ref.load(Ordering::Relaxed),
                        found_ref.load(Ordering::Relaxed),
                    );
                }
                Ok(())
            };
            for prepared in receiver {
                match prepared {
                    Prepared::Unchanged {
                        file_id,
                        size,
                        mtime_ns,
                        touch,
                    } => {
                        out.unchanged += 1;
                        if touch {
                            out.touched.push((file_id, size, mtime_ns));
                        }
                    }
                    Prepared::Changed(file) => {
                        pending.push(*file);
                        if pending.len() >= batch {
                            flush(&mut pending, &mut out)?;
                        }
                    }
                    Prepared::Skipped(s) => out.skipped.push(s),
                }
            }
            flush(&mut pending, &mut out)?;
            Ok(out)
        });
        // A failed send means the storer stopped on an error, reported below.
        if stream {
            let prepare_each = |c: &Candidate| {
                found.fetch_add(1, Ordering::Relaxed);
                hand_over(
                    &sender,
                    prepare(c, known.get(c.rel.as_str()).copied(), dialect),
                )
            };
            candidates = walk_each(&root, options, &mut summary.skipped, &prepare_each);
            drop(sender);
        } else {
            candidates = walk(&root, options, &mut summary.skipped);
            found.store(candidates.len(), Ordering::Relaxed);
            tracing::debug!(elapsed = ?started.elapsed(), files = candidates.len(), "index: tree walked");
            let mut order: Vec<&Candidate> = candidates.iter().collect();
            order.sort_by(|a, b| b.size.cmp(&a.size).then_with(|| a.rel.cmp(&b.rel)));
            // `with_max_len(1)`: rayon would otherwise hand each core a long run of files it
            // cannot steal from, and one core would finish alone.
            let _ = order
                .par_iter()
                .with_max_len(1)
                .try_for_each_with(sender, |sender, c| {
                    hand_over(
                        sender,
                        prepare(c, known.get(c.rel.as_str()).copied(), dialect),
                    )
                    .then_some(())
                    .ok_or(())
                });
        }
        storer.join().unwrap_or(Err(IndexError::StorerPanicked))
    })?;
    let unchanged = outcome.unchanged + unchanged.into_inner();
    let seen: std::collections::HashSet<&str> = candidates.iter().map(|c| c.rel.as_str()).collect();
    let vanished: Vec<i64> = known
        .values()
        .filter(|f| !f.deleted && !seen.contains(f.meta.path.as_str()))
        .map(|f| f.id)
        .collect();
    let Stored {
        files,
        superseded,
        with_errors,
        unchanged: _,
        touched,
        skipped,
        mut changes,
    } = outcome;
    tracing::debug!(elapsed = ?started.elapsed(), files, "index: files stored");
    summary.skipped.extend(skipped);
    summary.files_unchanged = unchanged;
    if !touched.is_empty() || !vanished.is_empty() {
        let mut before = db.project_transaction(project, |tx| {
            let before = tx.stored_interfaces(&vanished)?;
            for (id, size, mtime) in &touched {
                tx.touch_file(*id, *size, *mtime)?;
            }
            for id in &vanished {
                tx.mark_file_deleted(*id)?;
            }
            Ok(before)
        })?;
        for f in known.values().filter(|f| vanished.contains(&f.id)) {
            changes.push(Change {
                file_id: f.id,
                before: Some((
                    f.meta.path.clone(),
                    f.meta.language.clone(),
                    before.remove(&f.id).unwrap_or_default(),
                )),
                after: None,
                refs: None,
            });
        }
    }
    // A bulk load leaves the planner's statistics behind (PostgreSQL): refresh them before
    // resolution and the queries after it read what was stored.
    if files >= BULK_FILES
        && let Some(sql) = dialect.refresh_statistics()
    {
        db.execute(sql, Vec::new())?;
    }
    // Every stored file is marked pending (`ref_pending`) in the batch that stored it: a
    // run stopped here (killed, failed) leaves them for the next run to resolve.
    #[cfg(feature = "failpoints")]
    fail::fail_point!("index-before-resolve", |_| Err(IndexError::InjectedFault(
        "before resolution"
    )));
    // A run that adds, removes and moves no file leaves the live files as listed: resolution
    // takes them instead of reading them again.
    if !changes.is_empty() && vanished.is_empty() && superseded == 0 && changes.keep_the_files() {
        changes.set_live_files(
            listed
                .iter()
                .filter(|f| !f.deleted)
                .map(|f| crate::resolve::FileEntry {
                    id: f.id,
                    path: f.meta.path.clone(),
                    language: f.meta.language.clone(),
                })
                .collect(),
        );
    }
    let resolving = Instant::now();
    let resolved = crate::resolve::resolve_changes(db, project, changes, true, batch, &|files| {
        db.project_transaction(project, |tx| tx.write_resolved(files))
    })?;
    summary.files_resolved = resolved.files;
    summary.resolve_seconds = resolving.elapsed().as_secs_f64();
    (summary.files_indexed, summary.parse_errors) = (files, with_errors);
    summary.files_superseded = superseded;
    summary.files_removed = vanished.len();
    summary.skipped.sort_by(|a, b| a.path.cmp(&b.path));
    summary.files_skipped = summary.skipped.len();
    summary.seconds = started.elapsed().as_secs_f64();
    tracing::info!(
        indexed = summary.files_indexed,
        unchanged = summary.files_unchanged,
        removed = summary.files_removed,
        skipped = summary.files_skipped,
        "index done"
    );
    Ok(summary)
}

/// How much lower than the process's the CPU priority of [`index_in_background`]'s threads
/// is (a nice value: 10 gives a thread about a tenth of the CPU time of one at the
/// process's own priority when both want it).
pub const BACKGROUND_NICE: i32 = 10;

/// [`index`], run on threads of its own at a lower CPU priority ([`BACKGROUND_NICE`], on
/// Linux; elsewhere at the process's), for a server that indexes beside its answers: a
/// query that wants a core gets it at once, and the index takes what the queries leave. The
/// parse threads, the storer and resolution all run there; `index` itself is unchanged.
pub fn index_in_background(
    db: &CodeDatabase,
    root: &Path,
    options: &IndexOptions,
) -> Result<IndexSummary, IndexError> {
    static POOL: std::sync::OnceLock<Option<rayon::ThreadPool>> = std::sync::OnceLock::new();
    let pool = POOL.get_or_init(|| {
        rayon::ThreadPoolBuilder::new()
            .thread_name(|i| format!("codedb-index-{i}"))
            .start_handler(|_| lower_this_threads_priority())
            .build()
            .map_err(|e| tracing::warn!(error = %e, "no background index threads: indexing on the shared ones"))
            .ok()
    });
    match pool {
        // Threads started from a pool thread (the storer) inherit its priority.
        Some(pool) => pool.install(|| index(db, root, options)),
        None => index(db, root, options),
    }
}

/// Lowers the calling thread's CPU priority by [`BACKGROUND_NICE`] (Linux keeps a nice
/// value per thread); a failure leaves it as it was.
fn lower_this_threads_priority() {
    #[cfg(target_os = "linux")]
    {
        let now = rustix::process::getpriority_process(None).unwrap_or(0);
        if let Err(e) = rustix::process::setpriority_process(None, now + BACKGROUND_NICE) {
            tracing::debug!(error = %e, "background index thread keeps its priority");
        }
    }
}

fn check_root(root: &Path) -> Result<PathBuf, IndexError> {
    let fail = |message: &str| {
        Err(IndexError::Root {
            root: root.to_owned(),
            message: message.to_owned(),
        })
    };
    match std::fs::metadata(root) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => fail("no such directory"),
        Err(e) => fail(&format!("cannot read it: {e}")),
        Ok(m) if !m.is_dir() => {
            fail("is a file, not a directory; index the directory that holds it")
        }
        Ok(_) => root.canonicalize().map_err(|e| IndexError::Root {
            root: root.to_owned(),
            message: e.to_string(),
        }),
    }
}

/// The files of known languages under `root` that codedb sees ([`Visibility`]: ignore
/// files honoured, hidden files, `.git/` and `.codedb/` left out), not following symbolic
/// links.
pub(crate) fn walk(
    root: &Path,
    options: &IndexOptions,
    skipped: &mut Vec<Skipped>,
) -> Vec<Candidate> {
    walk_each(root, options, skipped, &|_| true)
}

/// [`walk`], calling `each` on every file as it is found, from the walk's threads; the
/// walk stops early when `each` returns `false` (what it found so far is returned).
fn walk_each(
    root: &Path,
    options: &IndexOptions,
    skipped: &mut Vec<Skipped>,
    each: &(dyn Fn(&Candidate) -> bool + Sync),
) -> Vec<Candidate> {
    let visibility = Arc::new(Visibility::new(root));
    let filter_root = root.to_owned();
    // Both cores walk (directories are shared out as they are found): the walk of a large
    // tree that barely changed is most of what a re-index costs.
    let walker = ignore::WalkBuilder::new(root)
        .standard_filters(false)
        .follow_links(false)
        .threads(WALK_THREADS)
        .filter_entry(move |e| {
            let Ok(rel) = e.path().strip_prefix(&filter_root) else {
                return true;
            };
            if rel.as_os_str().is_empty() {
                return true;
            }
            let is_dir = e.file_type().is_some_and(|t| t.is_dir());
            visibility
                .entry(&crate::durable::relative_path(Path::new(""), rel), is_dir)
                .is_none()
        })
        .build_parallel();
    let found = std::sync::Mutex::new((Vec::new(), Vec::new()));
    walker.run(|| {
        let found = &found;
        Box::new(move |entry| {
            let mut state = ignore::WalkState::Continue;
            if let Some(seen) = walked(root, options, entry) {
                if let Ok(candidate) = &seen
                    && !each(candidate)
                {
                    state = ignore::WalkState::Quit;
                }
                let mut found = found
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                match seen {
                    Ok(candidate) => found.0.push(candidate),
                    Err(skip) => found.1.push(skip),
                }
            }
            state
        })
    });
    let (mut out, skips) = found
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    out.sort_by(|a, b| a.rel.cmp(&b.rel));
    let mut skips: Vec<Skipped> = skips;
    skips.sort_by(|a, b| a.path.cmp(&b.path));
    skipped.extend(skips);
    out
}

/// The threads [`walk`] uses.
const WALK_THREADS: usize = 2;

/// What the walk makes of one entry: a file to index, one it skips (and why), or nothing
/// (a directory, a file of no known language).
fn walked(
    root: &Path,
    options: &IndexOptions,
    entry: Result<ignore::DirEntry, ignore::Error>,
) -> Option<Result<Candidate, Skipped>> {
    let rel = |p: &Path| crate::durable::relative_path(root, p);
    let entry = match entry {
        Ok(e) => e,
        Err(e) => {
            let path = error_path(&e).map_or_else(|| "?".to_owned(), |p| rel(&p));
            return Some(Err(Skipped {
                path,
                reason: format!("cannot walk: {e}"),
            }));
        }
    };
    let path = entry.path();
    let lang = lang::detect(path)?;
    let skip = |reason: String| {
        Some(Err(Skipped {
            path: rel(path),
            reason,
        }))
    };
    let file_type = entry.file_type();
    if file_type.is_some_and(|t| t.is_symlink()) {
        return skip("symbolic link (not followed)".into());
    }
    if file_type.is_some_and(|t| t.is_dir()) {
        return None;
    }
    if !file_type.is_some_and(|t| t.is_file()) {
        return skip("not a regular file (a pipe, socket or device)".into());
    }
    let meta = match entry.metadata() {
        Ok(m) => m,
        Err(e) => return skip(format!("cannot read metadata: {e}")),
    };
    if meta.len() > options.max_file_bytes {
        return skip(format!(
            "too large ({} bytes > limit of {} bytes)",
            meta.len(),
            options.max_file_bytes
        ));
    }
    Some(Ok(Candidate {
        rel: rel(path),
        abs: path.to_owned(),
        lang,
        size: meta.len(),
        mtime_ns: mtime_ns(&meta),
    }))
}

/// A file's modification time in nanoseconds since the Unix epoch (0 when unknown): what
/// the `files.mtime_ns` column holds.
pub(crate) fn mtime_ns(meta: &std::fs::Metadata) -> i64 {
    meta.modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

fn error_path(e: &ignore::Error) -> Option<PathBuf> {
    match e {
        ignore::Error::WithPath { path, .. } => Some(path.clone()),
        ignore::Error::WithDepth { err, .. } | ignore::Error::WithLineNumber { err, .. } => {
            error_path(err)
        }
        ignore::Error::Loop { child, .. } => Some(child.clone()),
        _ => None,
    }
}

fn prepare(
    c: &Candidate,
    known: Option<&codedb_core::store::FileRecord>,
    dialect: Dialect,
) -> Prepared {
    let size = i64::try_from(c.size).unwrap_or(i64::MAX);
    // A row of another language (a file moved to another extension) is parsed again.
    let path = Path::new(&c.rel);
    let known = known.filter(|k| {
        !k.deleted
            && k.meta
                .language
                .as_deref()
                .is_some_and(|l| lang::may_be(path, l))
    });
    if let Some(k) = known
        && k.meta.size == size
        && k.meta.mtime_ns == c.mtime_ns
    {
        return Prepared::Unchanged {
            file_id: k.id,
            size,
            mtime_ns: c.mtime_ns,
            touch: false,
        };
    }
    let skip = |reason: String| {
        Prepared::Skipped(Skipped {
            path: c.rel.clone(),
            reason,
        })
    };
    let bytes = match std::fs::read(&c.abs) {
        Ok(b) => b,
        Err(e) => return skip(format!("cannot read: {e}")),
    };
    let sha256 = crate::durable::sha256_hex(&bytes);
    if let Some(k) = known.filter(|k| k.meta.sha256 == sha256) {
        return Prepared::Unchanged {
            file_id: k.id,
            size,
            mtime_ns: c.mtime_ns,
            touch: true,
        };
    }
    // Anywhere in the file: text columns cannot hold NUL (PostgreSQL refuses it).
    if bytes.contains(&0) {
        return skip("binary (NUL bytes)".into());
    }
    let source = match String::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => {
            return skip(format!(
                "not valid UTF-8 (invalid byte at offset {})",
                e.utf8_error().valid_up_to()
            ));
        }
    };
    let language = lang::refine(c.lang, path, source.as_bytes());
    let mut parsed = lang::parse(language, source.as_bytes());
    if dialect.stores_search_words() {
        // Split here, on every core, rather than in the one thread that stores.
        parsed.tsvector = Some(codedb_core::search::tsvector(&source));
    }
    let lines = i64::try_from(source.lines().count()).unwrap_or(i64::MAX);
    let meta = FileMeta {
        path: c.rel.clone(),
        language: Some(language.name.to_owned()),
        size,
        mtime_ns: c.mtime_ns,
        sha256,
        lines,
    };
    Prepared::Changed(Box::new(ParsedFile {
        meta,
        source,
        parsed,
    }))
}
