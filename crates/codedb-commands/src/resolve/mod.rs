//! Resolution: what each reference's spec (left by the language's scan in `lang`) names,
//! with the whole project in view, written to `refs` with a confidence.
//!
//! * `Project` is the project as resolution reads it: its files, each file's definitions
//!   and bindings, the definitions of a name. `Loaded` holds all of it (an index run that
//!   resolves many files, in parallel); `Lazy` loads what is asked for, file by file, in
//!   the caller's transaction (a command, a small re-index).
//! * Each language resolves its own notation: `python`, `rust`, and `decl` for the
//!   declarative languages (TypeScript/TSX/JavaScript, Go, Java, C, C++); all fall back
//!   to the name shared here (`by_name`).
//! * `Changes` drives incremental resolution: the files stored since the last
//!   resolution, with what each offered the others before and after
//!   (`Interface`). Their own references are resolved, and so are those of every file
//!   whose resolution looked at a changed interface (`ref_deps`), or whose unsure
//!   references carry a name whose definitions changed.
//!
//! Resolution never fails a file: a spec it cannot follow yields a by-name answer or none.

pub(crate) mod decl;
mod parsed_refs;
pub(crate) mod python;
pub(crate) mod rust;

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use codedb_core::store::{
    Confidence, DefinitionRow, EntityKind, Interface, MAX_CANDIDATES, Resolution, ResolvedFile,
    ResolvedRef, SymbolicRef,
};
use codedb_core::{CodeStore, Executor, RefStore};
use rayon::prelude::*;

use crate::lang;
pub use parsed_refs::DEFAULT_REFS_MEMORY_BYTES;
use parsed_refs::ParsedRefs;

/// A live file of the project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FileEntry {
    pub(crate) id: i64,
    pub(crate) path: String,
    pub(crate) language: Option<String>,
}

/// A file's definitions, by qualified name.
#[derive(Debug, Default)]
pub(crate) struct FileDefs {
    pub(crate) by_qual: HashMap<String, EntityKind>,
}

/// A file's bindings: owner -> name -> specs in order.
#[derive(Debug, Default)]
pub(crate) struct FileBindings {
    pub(crate) by_owner: HashMap<String, HashMap<String, Vec<String>>>,
}

impl FileBindings {
    pub(crate) fn get(&self, owner: &str, name: &str) -> &[String] {
        self.by_owner
            .get(owner)
            .and_then(|names| names.get(name))
            .map_or(&[], Vec::as_slice)
    }
}

/// The project as resolution reads it.
pub(crate) trait Project {
    /// Every live file.
    fn files(&self) -> &Files;
    /// The definitions of a file.
    fn defs(&self, file_id: i64) -> Arc<FileDefs>;
    /// The bindings of a file.
    fn bindings(&self, file_id: i64) -> Arc<FileBindings>;
    /// The definitions called `name` in files of `language`.
    fn named(&self, language: &str, name: &str) -> Arc<Vec<DefinitionRow>>;
}

/// The live files of a project, with the indexes resolution looks them up by.
#[derive(Debug, Default)]
pub(crate) struct Files {
    pub(crate) all: Vec<FileEntry>,
    pub(crate) by_path: HashMap<String, usize>,
    pub(crate) by_id: HashMap<i64, usize>,
    /// Python: dotted module name -> files.
    pub(crate) python_modules: HashMap<String, Vec<usize>>,
    /// Directory (`""` at the root) -> its files.
    pub(crate) dirs: HashMap<String, Vec<usize>>,
    /// A directory's last component -> the directories of that name.
    pub(crate) dir_names: HashMap<String, Vec<String>>,
    /// A file's name (`x.h`) -> the files of that name.
    pub(crate) base_names: HashMap<String, Vec<usize>>,
}

impl Files {
    pub(crate) fn new(all: Vec<FileEntry>) -> Files {
        let by_path = all
            .iter()
            .enumerate()
            .map(|(i, f)| (f.path.clone(), i))
            .collect();
        let by_id = all.iter().enumerate().map(|(i, f)| (f.id, i)).collect();
        let python_modules = python::module_map(&all);
        let mut dirs: HashMap<String, Vec<usize>> = HashMap::new();
        let mut base_names: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, f) in all.iter().enumerate() {
            dirs.entry(decl::dir_of(&f.path).to_owned())
                .or_default()
                .push(i);
            base_names
                .entry(decl::base_of(&f.path).to_owned())
                .or_default()
                .push(i);
        }
        let mut dir_names: HashMap<String, Vec<String>> = HashMap::new();
        for dir in dirs.keys() {
            dir_names
                .entry(decl::base_of(dir).to_owned())
                .or_default()
                .push(dir.clone());
        }
        Files {
            all,
            by_path,
            by_id,
            python_modules,
            dirs,
            dir_names,
            base_names,
        }
    }

    pub(crate) fn get(&self, id: i64) -> Option<&FileEntry> {
        self.by_id.get(&id).map(|i| &self.all[*i])
    }

    pub(crate) fn at(&self, path: &str) -> Option<&FileEntry> {
        self.by_path.get(path).map(|i| &self.all[*i])
    }
}

fn live_files(ex: &impl Executor, project_id: i64) -> codedb_core::Result<Vec<FileEntry>> {
    Ok(ex
        .list_files(project_id, false)?
        .into_iter()
        .map(|f| FileEntry {
            id: f.id,
            path: f.meta.path,
            language: f.meta.language,
        })
        .collect())
}

fn defs_of(rows: impl IntoIterator<Item = DefinitionRow>) -> HashMap<i64, FileDefs> {
    let mut out: HashMap<i64, FileDefs> = HashMap::new();
    for d in rows {
        out.entry(d.file_id)
            .or_default()
            .by_qual
            .insert(d.qualified_name, d.kind);
    }
    out
}

fn bindings_of(
    rows: impl IntoIterator<Item = (i64, codedb_core::store::Binding)>,
) -> HashMap<i64, FileBindings> {
    let mut out: HashMap<i64, FileBindings> = HashMap::new();
    for (file, b) in rows {
        out.entry(file)
            .or_default()
            .by_owner
            .entry(b.owner)
            .or_default()
            .entry(b.name)
            .or_default()
            .push(b.spec);
    }
    out
}

/// The whole project in memory.
pub(crate) struct Loaded {
    files: Files,
    defs: HashMap<i64, Arc<FileDefs>>,
    bindings: HashMap<i64, Arc<FileBindings>>,
    named: HashMap<(String, String), Arc<Vec<DefinitionRow>>>,
}

impl Loaded {
    pub(crate) fn load(ex: &impl Executor, project_id: i64) -> codedb_core::Result<Loaded> {
        let files = Files::new(live_files(ex, project_id)?);
        let rows = ex.project_definitions(project_id)?;
        let mut named: HashMap<(String, String), Vec<DefinitionRow>> = HashMap::new();
        for d in &rows {
            if let Some(language) = files.get(d.file_id).and_then(|f| f.language.clone()) {
                named
                    .entry((language, d.name.clone()))
                    .or_default()
                    .push(d.clone());
            }
        }
        Ok(Loaded {
            defs: defs_of(rows)
                .into_iter()
                .map(|(k, v)| (k, Arc::new(v)))
                .collect(),
            bindings: bindings_of(ex.project_bindings(project_id)?)
                .into_iter()
                .map(|(k, v)| (k, Arc::new(v)))
                .collect(),
            named: named.into_iter().map(|(k, v)| (k, Arc::new(v))).collect(),
            files,
        })
    }
}

impl Project for Loaded {
    fn files(&self) -> &Files {
        &self.files
    }
    fn defs(&self, file_id: i64) -> Arc<FileDefs> {
        self.defs.get(&file_id).cloned().unwrap_or_default()
    }
    fn bindings(&self, file_id: i64) -> Arc<FileBindings> {
        self.bindings.get(&file_id).cloned().unwrap_or_default()
    }
    fn named(&self, language: &str, name: &str) -> Arc<Vec<DefinitionRow>> {
        self.named
            .get(&(language.to_owned(), name.to_owned()))
            .cloned()
            .unwrap_or_default()
    }
}

/// The project read as resolution asks, through `ex` (a transaction), and cached. Reads
/// that fail leave the answer empty and are reported by [`Lazy::error`].
pub(crate) struct Lazy<'e, E> {
    ex: &'e E,
    project_id: i64,
    files: Files,
    cache: RefCell<LazyCache>,
}

#[derive(Default)]
struct LazyCache {
    defs: HashMap<i64, Arc<FileDefs>>,
    bindings: HashMap<i64, Arc<FileBindings>>,
    named: HashMap<(String, String), Arc<Vec<DefinitionRow>>>,
    error: Option<codedb_core::Error>,
}

impl<'e, E: Executor> Lazy<'e, E> {
    pub(crate) fn new(ex: &'e E, project_id: i64) -> codedb_core::Result<Self> {
        Ok(Self::with_files(
            ex,
            project_id,
            live_files(ex, project_id)?,
        ))
    }

    /// The project whose live files are `live` (as [`live_files`] lists them).
    pub(crate) fn with_files(ex: &'e E, project_id: i64, live: Vec<FileEntry>) -> Self {
        Lazy {
            ex,
            project_id,
            files: Files::new(live),
            cache: RefCell::default(),
        }
    }

    /// Reads the definitions of every one of `names` in `language` at once, so that
    /// [`Project::named`] answers them from memory. A read that fails is left to the
    /// lookups themselves, which read again and report it.
    pub(crate) fn prefetch_named(&self, language: &str, names: &[&str]) {
        let wanted: Vec<&str> = {
            let cache = self.cache();
            names
                .iter()
                .copied()
                .filter(|n| {
                    !cache
                        .named
                        .contains_key(&(language.to_owned(), (*n).to_owned()))
                })
                .collect()
        };
        if wanted.is_empty() {
            return;
        }
        let rows = match self
            .ex
            .definitions_named_any(self.project_id, language, &wanted)
        {
            Ok(rows) => rows,
            Err(e) => {
                tracing::debug!(error = %e, "reading definitions by name ahead failed");
                return;
            }
        };
        let mut found: HashMap<String, Vec<DefinitionRow>> = HashMap::new();
        for row in rows {
            found.entry(row.name.clone()).or_default().push(row);
        }
        let mut cache = self.cache();
        for name in wanted {
            let rows = found.remove(name).unwrap_or_default();
            cache
                .named
                .insert((language.to_owned(), name.to_owned()), Arc::new(rows));
        }
    }

    /// The first read that failed, if any.
    pub(crate) fn error(self) -> Option<codedb_core::Error> {
        self.cache.into_inner().error
    }

    fn cache(&self) -> std::cell::RefMut<'_, LazyCache> {
        self.cache.borrow_mut()
    }
}

impl<E: Executor> Project for Lazy<'_, E> {
    fn files(&self) -> &Files {
        &self.files
    }

    fn defs(&self, file_id: i64) -> Arc<FileDefs> {
        let mut cache = self.cache();
        if let Some(d) = cache.defs.get(&file_id) {
            return Arc::clone(d);
        }
        let loaded = match self.ex.file_definitions(&[file_id]) {
            Ok(rows) => defs_of(rows).remove(&file_id).unwrap_or_default(),
            Err(e) => {
                cache.error.get_or_insert(e);
                FileDefs::default()
            }
        };
        let loaded = Arc::new(loaded);
        cache.defs.insert(file_id, Arc::clone(&loaded));
        loaded
    }

    fn bindings(&self, file_id: i64) -> Arc<FileBindings> {
        let mut cache = self.cache();
        if let Some(b) = cache.bindings.get(&file_id) {
            return Arc::clone(b);
        }
        let loaded = match self.ex.file_bindings(&[file_id]) {
            Ok(rows) => bindings_of(rows).remove(&file_id).unwrap_or_default(),
            Err(e) => {
                cache.error.get_or_insert(e);
                FileBindings::default()
            }
        };
        let loaded = Arc::new(loaded);
        cache.bindings.insert(file_id, Arc::clone(&loaded));
        loaded
    }

    fn named(&self, language: &str, name: &str) -> Arc<Vec<DefinitionRow>> {
        let key = (language.to_owned(), name.to_owned());
        let mut cache = self.cache();
        if let Some(n) = cache.named.get(&key) {
            return Arc::clone(n);
        }
        let loaded = match self.ex.definitions_named(self.project_id, language, name) {
            Ok(rows) => rows,
            Err(e) => {
                cache.error.get_or_insert(e);
                Vec::new()
            }
        };
        let loaded = Arc::new(loaded);
        cache.named.insert(key, Arc::clone(&loaded));
        loaded
    }
}

/// The answer by name alone: the one definition of that name (`name`), several
/// (`ambiguous`, up to [`MAX_CANDIDATES`]), or none.
pub(crate) fn by_name(project: &dyn Project, language: &str, name: &str) -> Option<Resolution> {
    let found = project.named(language, name);
    match found.len() {
        0 => None,
        1 => Some(Resolution {
            confidence: Confidence::Name,
            target_file: Some(found[0].file_id),
            target_name: Some(found[0].qualified_name.clone()),
        }),
        n if n <= MAX_CANDIDATES => Some(Resolution {
            confidence: Confidence::Ambiguous,
            target_file: None,
            target_name: None,
        }),
        _ => None,
    }
}

/// What resolving one file's references looked at, as `ref_deps` keys.
#[derive(Debug, Default)]
pub(crate) struct Deps {
    pub(crate) keys: BTreeSet<String>,
    /// The file being resolved (not a dependency of itself).
    pub(crate) own: i64,
}

impl Deps {
    pub(crate) fn file(&mut self, id: i64) {
        if id != self.own {
            self.keys.insert(format!("f:{id}"));
        }
    }
    pub(crate) fn module(&mut self, dotted: &str) {
        self.keys.insert(format!("m:{dotted}"));
    }
    pub(crate) fn path(&mut self, path: &str) {
        self.keys.insert(format!("p:{path}"));
    }
}

/// The keys a file at `path` answers to: what another file's resolution recorded when it
/// looked for it (found or not).
pub(crate) fn keys_of(file_id: i64, path: &str, language: Option<&str>) -> Vec<String> {
    let mut keys = vec![format!("f:{file_id}"), format!("p:{path}")];
    if language == Some("python") {
        keys.extend(
            python::module_suffixes(path)
                .into_iter()
                .map(|m| format!("m:{m}")),
        );
    }
    if language == Some("rust") {
        keys.extend(rust::path_keys(path).into_iter().map(|k| format!("p:{k}")));
    }
    if language != Some("python") {
        // What `decl` looks packages, directories and headers up by.
        let dir = decl::dir_of(path);
        keys.push(format!("g:{dir}"));
        keys.push(format!("d:{}", decl::base_of(dir)));
        keys.push(format!("b:{}", decl::base_of(path)));
    }
    keys
}

/// Each of `refs` with the resolution `resolve` gives its spec, asked once per distinct
/// spec (a file names the same thing many times).
pub(crate) fn resolve_each(
    refs: Vec<SymbolicRef>,
    mut resolve: impl FnMut(&str) -> Option<Resolution>,
) -> Vec<ResolvedRef> {
    let mut cache: HashMap<String, Option<Resolution>> = HashMap::new();
    refs.into_iter()
        .map(|symbolic| {
            let resolution = match cache.get(&symbolic.spec) {
                Some(r) => r.clone(),
                None => {
                    let r = resolve(&symbolic.spec);
                    cache.insert(symbolic.spec.clone(), r.clone());
                    r
                }
            };
            ResolvedRef {
                symbolic,
                resolution,
            }
        })
        .collect()
}

/// Resolves the references of one file.
fn resolve_file(project: &dyn Project, file: &FileEntry, refs: Vec<SymbolicRef>) -> ResolvedFile {
    let mut deps = Deps {
        own: file.id,
        ..Deps::default()
    };
    let resolved = match file.language.as_deref() {
        Some("python") => python::resolve(project, file, refs, &mut deps),
        Some("rust") => rust::resolve(project, file, refs, &mut deps),
        Some(_) => decl::resolve(project, file, refs, &mut deps),
        None => Vec::new(),
    };
    ResolvedFile {
        file_id: file.id,
        refs: resolved,
        deps: deps.keys,
    }
}

/// Resolves `files` (file id and its references) one after the other, skipping files no
/// longer live.
pub(crate) fn resolve_files(
    project: &dyn Project,
    files: Vec<(i64, Vec<SymbolicRef>)>,
) -> Vec<ResolvedFile> {
    files
        .into_iter()
        .filter_map(|(id, refs)| {
            let file = project.files().get(id)?;
            Some(resolve_file(project, file, refs))
        })
        .collect()
}

/// Files resolved at a time by [`resolve_and_write_parallel`], and written in one
/// transaction: enough for every core to stay busy and for the indexes' pages to be
/// written once for many files, few enough that what waits to be written stays small
/// whatever the project's size.
const RESOLVE_CHUNK_FILES: usize = 512;

/// [`resolve_files`] on every core, over the project in memory, handing each chunk of
/// resolved files to `write` (on the caller's thread) while the next ones are resolved.
/// Memory stays bounded: a file's references are read when its chunk comes and dropped
/// once it is resolved, and at most two chunks wait for the writer. Returns the files whose
/// references `parsed` could not give back.
pub(crate) fn resolve_and_write_parallel(
    project: &Loaded,
    mut parsed: ParsedRefs,
    write: &dyn Fn(&[ResolvedFile]) -> codedb_core::Result<()>,
) -> codedb_core::Result<Vec<i64>> {
    let (sender, receiver) = std::sync::mpsc::sync_channel::<Vec<ResolvedFile>>(2);
    std::thread::scope(|scope| {
        let resolver = scope.spawn(move || {
            let mut unread = Vec::new();
            for ids in parsed.ids().chunks(RESOLVE_CHUNK_FILES) {
                let mut next = Vec::with_capacity(ids.len());
                for id in ids {
                    match parsed.take(*id) {
                        Ok(refs) => next.push((*id, refs.unwrap_or_default())),
                        Err(e) => {
                            tracing::warn!(file_id = id, error = %e, "parsed references unreadable: parsing the file again");
                            unread.push(*id);
                        }
                    }
                }
                let resolved: Vec<ResolvedFile> = next
                    .into_par_iter()
                    .with_max_len(1)
                    .filter_map(|(id, refs)| {
                        let file = project.files().get(id)?;
                        Some(resolve_file(project, file, refs))
                    })
                    .collect();
                // The writer stopped on an error: it is reported there.
                if sender.send(resolved).is_err() {
                    break;
                }
            }
            unread
        });
        for resolved in receiver {
            write(&resolved)?;
        }
        Ok(resolver
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
    })
}

/// A file stored (or removed) since the last resolution.
#[derive(Debug, Clone, Default)]
pub struct Change {
    /// Its row.
    pub file_id: i64,
    /// Its path and language before, and what it offered the others (`None`: no live row).
    pub before: Option<(String, Option<String>, Interface)>,
    /// Its path and language now, and what it offers (`None`: removed).
    pub after: Option<(String, Option<String>, Interface)>,
    /// Its references as just parsed (`None`: read them from the database, or parse the
    /// stored source again when the file is pending).
    pub refs: Option<Vec<SymbolicRef>>,
}

/// The files stored since the last resolution, gathered by an index run or a command. The
/// references each change brings are held apart (`resolve/parsed_refs.rs`): in memory up to a
/// budget, beyond it in a temporary file.
#[derive(Debug, Default)]
pub struct Changes {
    changes: Vec<Change>,
    parsed: ParsedRefs,
    /// The project's live files after the changes, when the caller already holds them (an
    /// index run whose changes added, removed and moved no file): not read again.
    live: Option<Vec<FileEntry>>,
}

impl Changes {
    /// No changes yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// No changes yet; holding at most about `bytes` of parsed references in memory.
    pub fn with_memory_budget(bytes: usize) -> Self {
        Changes {
            changes: Vec::new(),
            parsed: ParsedRefs::new(bytes),
            live: None,
        }
    }

    /// Says which the project's live files are once these changes are stored (read from the
    /// database otherwise).
    pub(crate) fn set_live_files(&mut self, live: Vec<FileEntry>) {
        self.live = Some(live);
    }

    /// Whether every change keeps its file's path and language (no file added, removed or
    /// moved): the live files are then those before.
    pub(crate) fn keep_the_files(&self) -> bool {
        self.changes.iter().all(|c| match (&c.before, &c.after) {
            (Some((path, language, _)), Some((path_now, language_now, _))) => {
                path == path_now && language == language_now
            }
            _ => false,
        })
    }

    /// Adds one.
    pub fn push(&mut self, mut change: Change) {
        // A removed file has nothing of its own to resolve.
        if let (Some(_), Some(refs)) = (&change.after, change.refs.take()) {
            self.parsed.insert(change.file_id, refs);
        }
        self.changes.push(change);
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }
}

/// What a resolution did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct ResolveSummary {
    /// Files whose references were resolved.
    pub files: usize,
    /// Of those, files resolved again because a file they depend on changed.
    pub dependents: usize,
}

/// The files whose references `changes` may change, beside the changed files themselves.
fn dependents(
    ex: &impl Executor,
    project_id: i64,
    changes: &[Change],
) -> codedb_core::Result<BTreeSet<i64>> {
    let mut keys = BTreeSet::new();
    let mut names = BTreeSet::new();
    for c in changes {
        let before = c.before.as_ref();
        let after = c.after.as_ref();
        let same = match (before, after) {
            (Some(b), Some(a)) => b == a,
            (None, None) => true,
            _ => false,
        };
        if same {
            continue;
        }
        for (path, language, _) in before.into_iter().chain(after) {
            keys.extend(keys_of(c.file_id, path, language.as_deref()));
        }
        let empty = Interface::default();
        let b = before.map_or(&empty, |(_, _, i)| i);
        let a = after.map_or(&empty, |(_, _, i)| i);
        names.extend(b.changed_names(a));
    }
    let keys: Vec<String> = keys.into_iter().collect();
    let names: Vec<String> = names.into_iter().collect();
    let mut out = ex.files_depending_on(project_id, &keys)?;
    out.extend(ex.files_with_unsure_refs_named(project_id, &names)?);
    Ok(out)
}

/// The references of `file_ids`, from the database; a pending file (its references were
/// cleared when it was stored, and a killed run never resolved them) is parsed again from
/// its stored source.
fn stored_or_reparsed(
    ex: &impl Executor,
    project_id: i64,
    file_ids: &BTreeSet<i64>,
) -> codedb_core::Result<Vec<(i64, Vec<SymbolicRef>)>> {
    let ids: Vec<i64> = file_ids.iter().copied().collect();
    let pending: BTreeSet<i64> = ex.pending_ref_files(project_id)?.into_iter().collect();
    let mut by_file: BTreeMap<i64, Vec<SymbolicRef>> =
        ids.iter().map(|id| (*id, Vec::new())).collect();
    for (id, r) in ex.stored_refs(&ids)? {
        by_file.entry(id).or_default().push(r);
    }
    if ids.iter().any(|id| pending.contains(id)) {
        let paths: HashMap<i64, String> = live_files(ex, project_id)?
            .into_iter()
            .map(|f| (f.id, f.path))
            .collect();
        for id in ids.iter().filter(|id| pending.contains(id)) {
            let refs = match paths.get(id) {
                Some(path) => reparse(ex, project_id, path)?,
                None => None,
            };
            by_file.insert(*id, refs.unwrap_or_default());
        }
    }
    Ok(by_file.into_iter().collect())
}

/// The references of the stored file at `path`, parsed again from its stored source.
fn reparse(
    ex: &impl Executor,
    project_id: i64,
    path: &str,
) -> codedb_core::Result<Option<Vec<SymbolicRef>>> {
    let Some(codedb_core::store::FileWithSource {
        file: row,
        source: Some(text),
    }) = ex.file_with_source(project_id, path)?
    else {
        return Ok(None);
    };
    let lang = row
        .meta
        .language
        .as_deref()
        .and_then(lang::by_name)
        .or_else(|| lang::detect(std::path::Path::new(path)));
    Ok(lang.map(|l| lang::parse(l, text.as_bytes()).refs))
}

/// Resolves what `changes` affect in project `project_id`: the changed files, the files
/// whose references depend on what a changed file offered, and (with `pending`) any file
/// left pending by an earlier run. Writes through `write` in batches of `batch` files.
pub fn resolve_changes<E: Executor>(
    ex: &E,
    project_id: i64,
    changes: Changes,
    pending: bool,
    batch: usize,
    write: &dyn Fn(&[ResolvedFile]) -> codedb_core::Result<()>,
) -> codedb_core::Result<ResolveSummary> {
    let started = std::time::Instant::now();
    let Changes {
        changes,
        mut parsed,
        live,
    } = changes;
    let fresh = parsed.len();
    let mut stale: BTreeSet<i64> = changes
        .iter()
        .filter(|c| c.after.is_some() && !parsed.contains(c.file_id))
        .map(|c| c.file_id)
        .collect();
    let deps = dependents(ex, project_id, &changes)?;
    let dependents_count = deps.iter().filter(|id| !parsed.contains(**id)).count();
    stale.extend(deps.into_iter().filter(|id| !parsed.contains(*id)));
    if pending {
        stale.extend(
            ex.pending_ref_files(project_id)?
                .into_iter()
                .filter(|id| !parsed.contains(*id)),
        );
    }
    let total = fresh + stale.len();
    if total == 0 {
        return Ok(ResolveSummary::default());
    }
    for (id, refs) in stored_or_reparsed(ex, project_id, &stale)? {
        parsed.insert(id, refs);
    }
    tracing::debug!(
        elapsed = ?started.elapsed(),
        files = total,
        spilled = parsed.spilled(),
        "resolution: work gathered"
    );
    // Many files: load the whole project once and use every core; a few: read what they
    // need.
    if total > 64 {
        let loaded = Loaded::load(ex, project_id)?;
        tracing::debug!(elapsed = ?started.elapsed(), "resolution: project loaded");
        let unread = resolve_and_write_parallel(&loaded, parsed, write)?;
        // References the temporary file could not give back: parsed again from the
        // stored source.
        let mut again = Vec::new();
        for id in unread {
            if let Some(file) = loaded.files().get(id) {
                let refs = reparse(ex, project_id, &file.path)?.unwrap_or_default();
                again.push(resolve_file(&loaded, file, refs));
            }
        }
        for chunk in again.chunks(batch.max(1)) {
            write(chunk)?;
        }
    } else {
        let lazy = match live {
            Some(live) => Lazy::with_files(ex, project_id, live),
            None => Lazy::new(ex, project_id)?,
        };
        let mut work = Vec::new();
        for id in parsed.ids() {
            let refs = match (parsed.take(id), lazy.files().get(id)) {
                (Ok(refs), _) => refs.unwrap_or_default(),
                (Err(_), Some(file)) => reparse(ex, project_id, &file.path)?.unwrap_or_default(),
                (Err(_), None) => Vec::new(),
            };
            work.push((id, refs));
        }
        if ex.dialect().reads_ahead() {
            read_names_ahead(&lazy, &work);
        }
        let resolved = resolve_files(&lazy, work);
        if let Some(e) = lazy.error() {
            return Err(e);
        }
        for chunk in resolved.chunks(batch.max(1)) {
            write(chunk)?;
        }
    }
    tracing::debug!(elapsed = ?started.elapsed(), "resolution: resolved and written");
    Ok(ResolveSummary {
        files: total,
        dependents: dependents_count,
    })
}

/// Reads ahead, in one query per language, the definitions of every name the references
/// of `work` use, rather than one round trip per name as resolution asks for them.
fn read_names_ahead<E: Executor>(lazy: &Lazy<'_, E>, work: &[(i64, Vec<SymbolicRef>)]) {
    let mut by_language: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (id, refs) in work {
        if let Some(language) = lazy.files().get(*id).and_then(|f| f.language.as_deref()) {
            by_language
                .entry(language)
                .or_default()
                .extend(refs.iter().map(|r| r.name.as_str()));
        }
    }
    for (language, names) in by_language {
        lazy.prefetch_named(language, &names.into_iter().collect::<Vec<_>>());
    }
}

/// The live rows at some paths, with what each offers the others: taken before and after a
/// command stores or removes them ([`resolve_stored`]).
#[derive(Debug, Default)]
pub(crate) struct Snapshot(BTreeMap<i64, (String, Option<String>, Interface)>);

/// The live rows at `paths` in project `project_id`.
pub(crate) fn snapshot(
    ex: &impl Executor,
    project_id: i64,
    paths: &[&str],
) -> codedb_core::Result<Snapshot> {
    let mut rows = BTreeMap::new();
    for path in paths {
        if let Some(row) = ex
            .get_file_by_path(project_id, path)?
            .filter(|r| !r.deleted)
        {
            rows.insert(row.id, (row.meta.path, row.meta.language));
        }
    }
    let ids: Vec<i64> = rows.keys().copied().collect();
    let mut interfaces = ex.stored_interfaces(&ids)?;
    Ok(Snapshot(
        rows.into_iter()
            .map(|(id, (path, language))| {
                let interface = interfaces.remove(&id).unwrap_or_default();
                (id, (path, language, interface))
            })
            .collect(),
    ))
}

/// Resolves, through `ex` (the command's transaction), what a command that stored or
/// removed the files at `paths` changed: `before` is their [`snapshot`] before, `fresh`
/// the references parsed from each path's new content.
pub(crate) fn resolve_stored(
    ex: &impl Executor,
    project_id: i64,
    before: Snapshot,
    paths: &[&str],
    mut fresh: HashMap<String, Vec<SymbolicRef>>,
) -> codedb_core::Result<ResolveSummary> {
    let after = snapshot(ex, project_id, paths)?;
    let ids: BTreeSet<i64> = before.0.keys().chain(after.0.keys()).copied().collect();
    let mut changes = Changes::new();
    for id in ids {
        let after = after.0.get(&id).cloned();
        let refs = after.as_ref().and_then(|(path, ..)| fresh.remove(path));
        changes.push(Change {
            file_id: id,
            before: before.0.get(&id).cloned(),
            after,
            refs,
        });
    }
    resolve_changes(ex, project_id, changes, false, usize::MAX, &|files| {
        ex.write_resolved(files)
    })
}
