//! `rename QUALNAME NEW_NAME`: a definition and every reference to it across the project,
//! as one command over many files (one plan, one intent, one transaction, one git commit:
//! all the files change or none).
//!
//! What changes: the definition's name (every definition of that qualified name in its
//! file: overloads, a property's getter and setter) and each `exact` or `inferred`
//! reference the resolved reference graph lists (`query refs`), where the identifier
//! written there is the old name (a reference through an alias, `from m import f as g;
//! g()`, keeps its alias: only the import changes). `name` and `ambiguous` references
//! refuse the rename unless `include_name_matches` (then they change too). Nothing else is
//! touched: a string or a comment that spells the name is not a reference.
//!
//! What is checked before anything changes:
//! * the new name is an identifier of the definition's language and not one of its
//!   keywords, and differs from the old one;
//! * the definition's scope has nothing of the new name: no sibling definition (same
//!   class, module or enclosing function) and, in its file, no binding of that owner (a
//!   module-level import, alias or variable; a class attribute);
//! * no file where a bare name changes (not `x.name`, `T::name`) uses the new name as a bare
//!   identifier already (a local, a parameter, an import, a builtin it calls): the renamed
//!   name would shadow it or be shadowed. Attribute references are checked only against the
//!   definition's own class (a subclass's member of the new name is not seen);
//! * a method that overrides one of a base class, or that a subclass overrides (as the
//!   resolved hierarchy shows), is refused: renaming one side alone breaks the override;
//! * a module-level definition that its module's `__all__` lists (a string) is refused;
//! * in a git repository, no file to change holds uncommitted changes (the commit would
//!   take them along);
//! * the index agrees with every file (its sha256; else `codedb index` first), and each
//!   reference position holds a name (else the same), each file is
//!   locked and read once, and the reference list is read again under the locks (a codedb
//!   command that changed a file in between is a conflict);
//! * every new content parses (the syntax check of `edit`).
//!
//! The commit point checks every file once more (`swap`), so a file changed by another
//! program meanwhile refuses the whole rename as a conflict, nothing changed.

use std::path::Path;

use codedb_core::store::{Confidence, EntityKind, Parsed, RefFilter, RefHit};
use codedb_core::{CodeStore, ReferenceGraph, Scope};
use serde::Serialize;

use super::{Change, CommandKind, CommandReport, Plan, check_size, language, steps, validate};
use crate::error::{CommandError, Result};
use crate::lang::{self, LanguageDef};
use crate::project::Project;
use crate::recover::recover_before;
use crate::swap::read_seen;

/// Options of [`rename`].
#[derive(Debug, Clone, Default)]
pub struct RenameOptions {
    /// Rename `name` and `ambiguous` references too (refused otherwise).
    pub include_name_matches: bool,
    /// Compute the change and its unified diff, change nothing.
    pub dry_run: bool,
    /// The commit message (default: `codedb: rename QUALNAME -> NEW_NAME`).
    pub message: Option<String>,
}

/// What a rename changed (or, with `dry_run`, would change).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RenameSummary {
    /// The definition renamed, `PATH:QUALNAME`, before.
    pub definition: String,
    /// Its qualified name after.
    pub qualified_name: String,
    /// The old name.
    pub old_name: String,
    /// The new name.
    pub new_name: String,
    /// Definition sites renamed (several for overloads or a property's accessors).
    pub definitions_changed: usize,
    /// References renamed (all confidences).
    pub references_changed: usize,
    /// Of those, `name` and `ambiguous` ones (only with `include_name_matches`).
    pub name_matches_changed: usize,
    /// References left as written: the identifier there is another name (an alias).
    pub references_kept: usize,
    /// Each file changed.
    pub files: Vec<RenamedFile>,
    /// Whether nothing was changed (`dry_run`).
    pub dry_run: bool,
    /// The unified diff of every file (`dry_run` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff: Option<String>,
}

/// One file a rename changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RenamedFile {
    /// Relative path.
    pub path: String,
    /// Occurrences renamed in it.
    pub occurrences: usize,
    /// sha256 of its new content (chain it as `expect_sha256`).
    pub sha256: String,
}

/// Renames the definition `qualname` (`[PATH:]QUALNAME`, as `query refs` takes it; an
/// ambiguous one is an error listing the candidates) to `new_name`, with its references
/// in every file (see the module docs for what changes and what is checked).
pub fn rename(
    project: &Project,
    qualname: &str,
    new_name: &str,
    options: &RenameOptions,
) -> Result<CommandReport> {
    let _span = tracing::info_span!("rename", qualname = %qualname, new_name = %new_name).entered();
    let scope = Scope::Project(project.id);
    let def = project.db.definition(scope, qualname)?;
    let lang = lang::detect(Path::new(&def.path))
        .ok_or_else(|| CommandError::Unsupported(def.path.clone()))?;
    check_identifier(lang.name, new_name)?;
    if new_name == def.name {
        return Err(refused(&def.name, "the new name is the old one".into()));
    }
    check_overrides(project, &def)?;
    let hits = project.db.references_to(&def, &RefFilter::default())?;
    let unsure: Vec<&RefHit> = hits
        .iter()
        .filter(|h| h.confidence >= Confidence::Name)
        .collect();
    if !unsure.is_empty() && !options.include_name_matches {
        let listed: Vec<String> = unsure
            .iter()
            .take(5)
            .map(|h| format!("{}:{}:{} ({})", h.path, h.line, h.column, h.confidence))
            .collect();
        return Err(refused(
            &def.name,
            format!(
                "{} reference(s) are by name only ({}{}); check them with `codedb query refs`, then rename with --include-name-matches to change them too",
                unsure.len(),
                listed.join(", "),
                if unsure.len() > 5 { ", ..." } else { "" }
            ),
        ));
    }
    let mut paths: Vec<String> = hits.iter().map(|h| h.path.clone()).collect();
    paths.push(def.path.clone());
    paths.sort();
    paths.dedup();

    let targets = paths
        .iter()
        .map(|p| project.resolve_seen(p))
        .collect::<Result<Vec<_>>>()?;
    let rels: Vec<&str> = targets.iter().map(|t| t.rel.as_str()).collect();
    recover_before(project, &rels)?;
    let locks = project.lock(&targets.iter().collect::<Vec<_>>())?;
    // Under the locks: the same references (a codedb command may have changed a file
    // between the first read and the locks), and the index agrees with each file.
    let def_again = project.db.definition(scope, qualname)?;
    let hits_again = project
        .db
        .references_to(&def_again, &RefFilter::default())?;
    if def_again != def || hits_again != hits {
        return Err(CommandError::Conflict {
            path: def.path.clone(),
            reason:
                "its references changed while the rename started; nothing was changed, run it again"
                    .into(),
        });
    }
    let mut files = Vec::new();
    for target in targets {
        let seen =
            read_seen(&target.abs)?.ok_or_else(|| CommandError::NotFound(target.rel.clone()))?;
        let row = project.db.get_file_by_path(project.id, &target.rel)?;
        if !row.is_some_and(|r| !r.deleted && r.meta.sha256 == seen.sha256) {
            return Err(CommandError::Conflict {
                path: target.rel.clone(),
                reason: "the file on disk is not the version the index holds; run `codedb index`, then rename again; nothing was changed".into(),
            });
        }
        files.push((target, seen));
    }

    let mut summary = RenameSummary {
        definition: def.locator(),
        qualified_name: renamed_qualname(&def.qualified_name, new_name),
        old_name: def.name.clone(),
        new_name: new_name.to_owned(),
        definitions_changed: 0,
        references_changed: 0,
        name_matches_changed: 0,
        references_kept: 0,
        files: Vec::new(),
        dry_run: options.dry_run,
        diff: None,
    };
    let mut changes = Vec::new();
    let mut diffs = Vec::new();
    // The definition's file first: a clash in its scope is the one to report.
    files.sort_by_key(|(t, _)| t.rel != def.path);
    for (target, seen) in files {
        let text = std::str::from_utf8(&seen.bytes).map_err(|_| CommandError::Symbol {
            path: target.rel.clone(),
            reason: "the file is not valid UTF-8".into(),
        })?;
        let file_lang = lang::refine(language(&target)?, Path::new(&target.rel), &seen.bytes);
        let parsed = lang::parse(file_lang, &seen.bytes);
        let lines = LineStarts::of(text);
        let mut edits: Vec<Edit> = Vec::new();
        if target.rel == def.path {
            for offset in definition_sites(text, &parsed, &def.qualified_name, &def.name, file_lang)
            {
                edits.push(Edit {
                    offset,
                    // A method's name is an attribute of its class, not a scope's name.
                    bare: def.kind != EntityKind::Method,
                    definition: true,
                    unsure: false,
                });
            }
            check_scope(&target.rel, &parsed, &def.qualified_name, new_name)?;
            check_exports(&target.rel, &parsed, &def.qualified_name, &def.name)?;
        }
        for h in hits.iter().filter(|h| h.path == target.rel) {
            let offset = lines.offset(h.line, h.column);
            match offset {
                Some(o) if is_word_at(text, o, &def.name) => edits.push(Edit {
                    offset: o,
                    bare: !is_qualified(text, o),
                    definition: false,
                    unsure: h.confidence >= Confidence::Name,
                }),
                // Another name: an alias, which keeps its name.
                Some(o) if starts_identifier(text, o) => summary.references_kept += 1,
                // Not a name at all: the index does not describe this text; renaming
                // around it could leave a reference behind.
                _ => {
                    return Err(CommandError::Conflict {
                        path: target.rel.clone(),
                        reason: format!(
                            "the reference at {}:{} is not where the index says; run `codedb index`, then rename again; nothing was changed",
                            h.line, h.column
                        ),
                    });
                }
            }
        }
        edits.sort_by_key(|e| e.offset);
        edits.dedup_by_key(|e| e.offset);
        if edits.is_empty() {
            continue;
        }
        if edits.iter().any(|e| e.bare) {
            check_not_bound(&target.rel, text, &parsed, new_name)?;
        }
        let mut content = String::with_capacity(text.len() + edits.len() * new_name.len());
        let mut at = 0;
        for e in &edits {
            content.push_str(&text[at..e.offset]);
            content.push_str(new_name);
            at = e.offset + def.name.len();
            if e.definition {
                summary.definitions_changed += 1;
            } else {
                summary.references_changed += 1;
                summary.name_matches_changed += usize::from(e.unsure);
            }
        }
        content.push_str(&text[at..]);
        check_size(project, &target, content.len())?;
        let new_parsed = lang::parse(file_lang, content.as_bytes());
        validate(&target.rel, &content, &new_parsed)?;
        let new_sha = crate::durable::sha256_hex(content.as_bytes());
        if options.dry_run {
            diffs.push((
                target.rel.clone(),
                unified_diff(&target.rel, text, &content),
            ));
        }
        summary.files.push(RenamedFile {
            path: target.rel.clone(),
            occurrences: edits.len(),
            sha256: new_sha.clone(),
        });
        changes.push(Change::Write {
            path: target,
            old: Some(seen),
            content,
            new_sha,
            lang: file_lang,
            parsed: new_parsed,
        });
    }
    // By path: the order of the swaps, the report and the diff.
    changes.sort_by(|a, b| a.paths()[0].rel.cmp(&b.paths()[0].rel));
    summary.files.sort_by(|a, b| a.path.cmp(&b.path));
    diffs.sort();
    let diff: String = diffs.into_iter().map(|(_, d)| d).collect();
    if summary.definitions_changed == 0 {
        return Err(refused(
            &def.name,
            format!(
                "its definition's name was not found in {}; nothing was changed",
                def.path
            ),
        ));
    }
    let report = |command_id, git_commit, backups, summary| CommandReport {
        command_id,
        kind: CommandKind::Rename,
        paths: changes_paths(&summary),
        sha256: None,
        backups,
        git_commit,
        unchanged: false,
        rename: Some(summary),
    };
    if options.dry_run {
        summary.diff = Some(diff);
        drop(locks);
        return Ok(report(None, None, Vec::new(), summary));
    }
    // The commit holds each file's whole new content: uncommitted work of the user's in
    // one of them would be committed with the rename, unasked.
    if let Some(git) = &project.git {
        let dirty = git.dirty(&changes_paths(&summary))?;
        if !dirty.is_empty() {
            return Err(CommandError::GitRefused(format!(
                "{} {} uncommitted changes, which the rename's commit would take along; commit or stash them first",
                dirty.join(", "),
                if dirty.len() == 1 { "has" } else { "have" }
            )));
        }
    }
    let message = options
        .message
        .clone()
        .unwrap_or_else(|| format!("codedb: rename {} -> {new_name}", def.locator()));
    match steps::run(
        project,
        CommandKind::Rename,
        message,
        Plan { changes },
        locks,
    ) {
        Ok(r) => Ok(report(r.command_id, r.git_commit, r.backups, summary)),
        Err(CommandError::Landed { report: r, left }) => Err(CommandError::Landed {
            report: Box::new(report(r.command_id, r.git_commit, r.backups, summary)),
            left,
        }),
        Err(e) => Err(e),
    }
}

fn changes_paths(summary: &RenameSummary) -> Vec<String> {
    summary.files.iter().map(|f| f.path.clone()).collect()
}

fn refused(name: &str, reason: String) -> CommandError {
    CommandError::Symbol {
        path: name.to_owned(),
        reason: format!("cannot rename: {reason}"),
    }
}

/// One occurrence to rename, at a byte offset.
struct Edit {
    offset: usize,
    /// Not after `.`, `::` or `->`: a name looked up in scopes.
    bare: bool,
    definition: bool,
    unsure: bool,
}

/// `a.b.old` -> `a.b.new` (Rust and C++: `::`).
fn renamed_qualname(qualname: &str, new_name: &str) -> String {
    match parent_of(qualname) {
        Some((parent, sep)) => format!("{parent}{sep}{new_name}"),
        None => new_name.to_owned(),
    }
}

/// The qualified name's parent and separator: `A.b` -> (`A`, `.`).
fn parent_of(qualname: &str) -> Option<(&str, &str)> {
    let dot = qualname.rfind('.');
    let colons = qualname.rfind("::");
    match (dot, colons) {
        (Some(d), Some(c)) if c > d => Some((&qualname[..c], "::")),
        (_, Some(c)) if dot.is_none() => Some((&qualname[..c], "::")),
        (Some(d), _) => Some((&qualname[..d], ".")),
        _ => None,
    }
}

/// The byte offset where each line starts.
struct LineStarts(Vec<usize>);

impl LineStarts {
    fn of(text: &str) -> LineStarts {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        LineStarts(starts)
    }

    /// The offset of 1-based `line` and 1-based byte `column`.
    fn offset(&self, line: u32, column: u32) -> Option<usize> {
        let start = *self.0.get(usize::try_from(line).ok()?.checked_sub(1)?)?;
        Some(start + usize::try_from(column).ok()?.checked_sub(1)?)
    }
}

fn is_ident_char(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

/// Whether `word` stands at `offset` of `text` as a whole identifier.
fn is_word_at(text: &str, offset: usize, word: &str) -> bool {
    text.get(offset..).is_some_and(|t| t.starts_with(word))
        && !text[..offset]
            .chars()
            .next_back()
            .is_some_and(is_ident_char)
        && !text[offset + word.len()..]
            .chars()
            .next()
            .is_some_and(is_ident_char)
}

/// Whether an identifier starts at `offset` of `text`.
fn starts_identifier(text: &str, offset: usize) -> bool {
    text.get(offset..)
        .and_then(|t| t.chars().next())
        .is_some_and(|c| c == '_' || c.is_alphabetic())
        && !text[..offset]
            .chars()
            .next_back()
            .is_some_and(is_ident_char)
}

/// Whether the identifier at `offset` is a member or path segment (`x.name`, `T::name`,
/// `p->name`).
fn is_qualified(text: &str, offset: usize) -> bool {
    let before = text[..offset].trim_end();
    before.ends_with('.') || before.ends_with("::") || before.ends_with("->")
}

/// The offsets of the name of every definition of `qualname` in the file: the first
/// whole-word `name` in the definition's text after the keyword that introduces it
/// (Python, Rust), else outside decorator, attribute and comment lines.
fn definition_sites(
    text: &str,
    parsed: &Parsed,
    qualname: &str,
    name: &str,
    lang: &LanguageDef,
) -> Vec<usize> {
    let keywords: &[&str] = match lang.name {
        "python" => &["def", "class"],
        "rust" => &["fn", "struct", "enum", "union", "trait", "type", "mod"],
        _ => &[],
    };
    let mut out = Vec::new();
    for e in parsed
        .entities
        .iter()
        .filter(|e| e.qualified_name == qualname)
    {
        let (Ok(start), Ok(end)) = (usize::try_from(e.start_byte), usize::try_from(e.end_byte))
        else {
            continue;
        };
        let Some(body) = text.get(start..end.min(text.len())) else {
            continue;
        };
        let found = body.match_indices(name).map(|(i, _)| start + i).find(|&o| {
            if !is_word_at(text, o, name) {
                return false;
            }
            let line_start = text[..o].rfind('\n').map_or(0, |i| i + 1);
            let before = &text[line_start..o];
            if keywords.is_empty() {
                let t = before.trim_start();
                !(t.starts_with('@')
                    || t.starts_with("#[")
                    || t.starts_with("//")
                    || t.starts_with("/*")
                    || t.starts_with('*')
                    || t.starts_with('#'))
            } else {
                before
                    .split_whitespace()
                    .next_back()
                    .is_some_and(|w| keywords.contains(&w))
            }
        });
        out.extend(found);
    }
    out
}

/// Refuses `new_name` when the definition's scope already has it: a sibling definition, or
/// (in its file) a binding of the same owner: a module-level import, alias or variable, a
/// class attribute.
fn check_scope(rel: &str, parsed: &Parsed, qualname: &str, new_name: &str) -> Result<()> {
    let parent = parent_of(qualname);
    let sibling = renamed_qualname(qualname, new_name);
    let owner = parent.map_or("", |(p, _)| p);
    let clash = parsed
        .entities
        .iter()
        .find(|e| e.qualified_name == sibling)
        .map(|e| {
            format!(
                "{} {} (line {})",
                e.kind.as_str(),
                e.qualified_name,
                e.start_line
            )
        })
        .or_else(|| {
            parsed
                .bindings
                .iter()
                .find(|b| b.owner == owner && b.name == new_name)
                .map(|b| {
                    if owner.is_empty() {
                        format!("the module-level name {}", b.name)
                    } else {
                        format!("the attribute {owner}.{}", b.name)
                    }
                })
        });
    match clash {
        Some(what) => Err(refused(
            new_name,
            format!("{rel} already has {what} in the same scope; nothing was changed"),
        )),
        None => Ok(()),
    }
}

/// Refuses a module-level definition its module's `__all__` lists: the entry is a string,
/// which rename does not change, and `from module import *` would then fail on it.
fn check_exports(rel: &str, parsed: &Parsed, qualname: &str, name: &str) -> Result<()> {
    if parent_of(qualname).is_some() {
        return Ok(());
    }
    let listed = parsed.bindings.iter().any(|b| {
        b.owner.is_empty()
            && b.name == "__all__"
            && b.spec
                .strip_prefix("A:")
                .is_some_and(|names| names.split(',').any(|n| n == name))
    });
    if listed {
        return Err(refused(
            name,
            format!(
                "{rel}'s __all__ lists {name:?}, a string rename does not change (`from ... import *` would fail on it); rename the entry by hand with the definition (`codedb edit`), or drop it from __all__ first; nothing was changed"
            ),
        ));
    }
    Ok(())
}

/// Refuses renaming a method that overrides one of a base class, or that a subclass
/// overrides (as far as the resolved hierarchy shows): renaming one side alone would
/// silently break the override.
fn check_overrides(project: &Project, def: &codedb_core::store::Definition) -> Result<()> {
    if def.kind != EntityKind::Method {
        return Ok(());
    }
    let Some((class, sep)) = parent_of(&def.qualified_name) else {
        return Ok(());
    };
    let scope = Scope::Project(project.id);
    let Ok(class_def) = project
        .db
        .definition(scope, &format!("{}:{class}", def.path))
    else {
        return Ok(());
    };
    let tree = project.db.hierarchy(&class_def, Confidence::Inferred)?;
    for node in tree.bases.iter().chain(&tree.subclasses) {
        let other = format!("{}{sep}{}", node.class, def.name);
        if let Ok(found) = project.db.definition(scope, &other)
            && found.kind == EntityKind::Method
        {
            return Err(refused(
                &def.name,
                format!(
                    "{} and {} override one another (the class hierarchy); renaming one alone would break that; nothing was changed",
                    def.locator(),
                    found.locator()
                ),
            ));
        }
    }
    Ok(())
}

/// Refuses `new_name` when the file already defines it or uses it as a bare identifier
/// (renaming a bare reference there would shadow it or be shadowed by it).
fn check_not_bound(rel: &str, text: &str, parsed: &Parsed, new_name: &str) -> Result<()> {
    if let Some(e) = parsed.entities.iter().find(|e| e.name == new_name) {
        return Err(refused(
            new_name,
            format!(
                "{rel}:{} already defines {} {}, which the renamed references would shadow or be shadowed by; nothing was changed",
                e.start_line,
                e.kind.as_str(),
                e.qualified_name
            ),
        ));
    }
    let lines = LineStarts::of(text);
    let bare = parsed.usages.get(new_name).and_then(|positions| {
        positions.iter().find(|&&(line, column)| {
            lines
                .offset(line, column)
                .is_some_and(|o| is_word_at(text, o, new_name) && !is_qualified(text, o))
        })
    });
    match bare {
        Some((line, column)) => Err(refused(
            new_name,
            format!(
                "{rel}:{line}:{column} already uses the name {new_name}, which the renamed references would shadow or be shadowed by; nothing was changed"
            ),
        )),
        None => Ok(()),
    }
}

/// Refuses a name that is not an identifier of `language`, or is one of its keywords.
fn check_identifier(language: &str, name: &str) -> Result<()> {
    let mut chars = name.chars();
    let well_formed = chars
        .next()
        .is_some_and(|c| c == '_' || c.is_alphabetic() || (c == '$' && dollar(language)))
        && chars.all(|c| is_ident_char(c) || (c == '$' && dollar(language)));
    let reason = if !well_formed {
        Some(format!("{name:?} is not a {language} identifier"))
    } else if keywords(language).split_whitespace().any(|k| k == name) {
        Some(format!("{name:?} is a {language} keyword"))
    } else {
        None
    };
    match reason {
        Some(reason) => Err(CommandError::InvalidArgument {
            name: "new_name",
            reason,
        }),
        None => Ok(()),
    }
}

fn dollar(language: &str) -> bool {
    matches!(language, "javascript" | "typescript" | "tsx" | "java")
}

/// The keywords of `language`, separated by spaces.
fn keywords(language: &str) -> &'static str {
    match language {
        "python" => {
            "False None True and as assert async await break class continue def del elif \
             else except finally for from global if import in is lambda nonlocal not or \
             pass raise return try while with yield"
        }
        "rust" => {
            "as async await break const continue crate dyn else enum extern false fn for \
             if impl in let loop match mod move mut pub ref return self Self static struct \
             super trait true type unsafe use where while abstract become box do final \
             macro override priv typeof unsized virtual yield try gen _"
        }
        "javascript" | "typescript" | "tsx" => {
            "break case catch class const continue debugger default delete do else enum \
             export extends false finally for function if import in instanceof new null \
             return super switch this throw true try typeof var void while with yield let \
             static implements interface package private protected public await"
        }
        "go" => {
            "break case chan const continue default defer else fallthrough for func go \
             goto if import interface map package range return select struct switch type \
             var _"
        }
        "java" => {
            "abstract assert boolean break byte case catch char class const continue \
             default do double else enum extends final finally float for goto if \
             implements import instanceof int interface long native new package private \
             protected public return short static strictfp super switch synchronized this \
             throw throws transient try void volatile while true false null _"
        }
        "c" | "cpp" => {
            "auto break case char const continue default do double else enum extern float \
             for goto if inline int long register restrict return short signed sizeof \
             static struct switch typedef union unsigned void volatile while bool true \
             false class namespace template typename this new delete public private \
             protected virtual operator friend using try catch throw nullptr constexpr \
             decltype explicit mutable noexcept static_cast dynamic_cast reinterpret_cast \
             const_cast typeid alignas alignof concept requires co_await co_return \
             co_yield consteval constinit char8_t char16_t char32_t wchar_t export \
             static_assert thread_local"
        }
        _ => "",
    }
}

/// The unified diff of `old` and `new`, which have the same lines but for changed ones (a
/// rename never adds or removes a line), with three lines of context.
fn unified_diff(path: &str, old: &str, new: &str) -> String {
    const CONTEXT: usize = 3;
    let a: Vec<&str> = old.split_inclusive('\n').collect();
    let b: Vec<&str> = new.split_inclusive('\n').collect();
    let changed: Vec<usize> = (0..a.len().max(b.len()))
        .filter(|&i| a.get(i) != b.get(i))
        .collect();
    let mut out = format!("--- a/{path}\n+++ b/{path}\n");
    let mut groups: Vec<(usize, usize)> = Vec::new();
    for &i in &changed {
        match groups.last_mut() {
            Some((_, end)) if i <= *end + 2 * CONTEXT + 1 => *end = i,
            _ => groups.push((i, i)),
        }
    }
    let line = |l: &str, mark: char| {
        let mut s = format!("{mark}{l}");
        if !l.ends_with('\n') {
            s.push_str("\n\\ No newline at end of file\n");
        }
        s
    };
    for (first, last) in groups {
        let start = first.saturating_sub(CONTEXT);
        let end = (last + CONTEXT + 1).min(a.len());
        let n = end - start;
        out.push_str(&format!("@@ -{},{n} +{},{n} @@\n", start + 1, start + 1));
        let mut i = start;
        while i < end {
            if changed.binary_search(&i).is_ok() {
                let mut j = i;
                while j < end && changed.binary_search(&j).is_ok() {
                    out.push_str(&line(a[j], '-'));
                    j += 1;
                }
                for k in i..j {
                    out.push_str(&line(b.get(k).copied().unwrap_or(""), '+'));
                }
                i = j;
            } else {
                out.push_str(&line(a[i], ' '));
                i += 1;
            }
        }
    }
    out
}

/// A rename over files whose content was already read (tests of the helpers).
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_and_keywords() {
        assert!(check_identifier("python", "new_name").is_ok());
        assert!(check_identifier("python", "ñame").is_ok());
        assert!(check_identifier("python", "class").is_err());
        assert!(check_identifier("python", "1abc").is_err());
        assert!(check_identifier("python", "a-b").is_err());
        assert!(check_identifier("python", "").is_err());
        assert!(check_identifier("python", "a b").is_err());
        assert!(check_identifier("rust", "fn").is_err());
        assert!(check_identifier("javascript", "$x").is_ok());
        assert!(check_identifier("python", "$x").is_err());
    }

    #[test]
    fn qualified_names() {
        assert_eq!(renamed_qualname("A.b", "c"), "A.c");
        assert_eq!(renamed_qualname("f", "g"), "g");
        assert_eq!(renamed_qualname("m::T::f", "g"), "m::T::g");
    }

    #[test]
    fn diff_of_renamed_lines() {
        let old = "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\nk\nold\n";
        let new = old.replace("old", "new");
        let d = unified_diff("x.py", old, &new);
        assert_eq!(
            d,
            "--- a/x.py\n+++ b/x.py\n@@ -9,4 +9,4 @@\n i\n j\n k\n-old\n+new\n"
        );
    }

    #[test]
    fn words() {
        let t = "foo(foobar, x.foo)";
        assert!(is_word_at(t, 0, "foo"));
        assert!(!is_word_at(t, 4, "foo"));
        assert!(is_word_at(t, 14, "foo"));
        assert!(is_qualified(t, 14));
        assert!(!is_qualified(t, 0));
    }
}
