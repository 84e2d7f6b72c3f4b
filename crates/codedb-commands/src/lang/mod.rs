//! Languages the indexer understands. Each is one entry of [`LANGUAGES`]: a name, its file
//! extensions, its tree-sitter grammar, and an extractor that turns a syntax tree into
//! [`Parsed`]. Adding a language is a query file under `queries/`, a `declarative::Spec`
//! (a few lines: its separator, usage and comment node kinds) and one line in the table;
//! Python and Rust keep their hand-written extractors, checked number for number against
//! Python's `ast` on Django and sympy and against the Rust fixture.

mod clike;
mod decl_refs;
mod declarative;
mod ecmascript;
mod go;
mod java;
mod python;
mod python_refs;
mod rust;
mod rust_refs;

use codedb_core::store::{Issue, Parsed};
use tree_sitter::{Node, Tree};

/// One supported language.
pub struct LanguageDef {
    /// Stored in `files.language`.
    pub name: &'static str,
    /// File extensions, without the dot.
    pub extensions: &'static [&'static str],
    /// The tree-sitter grammar.
    pub grammar: fn() -> tree_sitter::Language,
    /// Extracts entities, imports, usages and issues from a tree of `source`.
    pub extract: fn(&Tree, &[u8]) -> Parsed,
}

impl std::fmt::Debug for LanguageDef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

/// Every language, in the order they are tried.
pub static LANGUAGES: &[LanguageDef] = &[
    LanguageDef {
        name: "python",
        extensions: &["py", "pyi"],
        grammar: || tree_sitter_python::LANGUAGE.into(),
        extract: python::extract,
    },
    LanguageDef {
        name: "rust",
        extensions: &["rs"],
        grammar: || tree_sitter_rust::LANGUAGE.into(),
        extract: rust::extract,
    },
    LanguageDef {
        name: "typescript",
        // `.d.ts`, `.d.mts` and `.d.cts` end in these too.
        extensions: &["ts", "mts", "cts"],
        grammar: || tree_sitter_typescript::LANGUAGE_TYPESCRIPT.into(),
        extract: ecmascript::typescript,
    },
    LanguageDef {
        name: "tsx",
        extensions: &["tsx"],
        grammar: || tree_sitter_typescript::LANGUAGE_TSX.into(),
        extract: ecmascript::tsx,
    },
    LanguageDef {
        name: "javascript",
        // The JavaScript grammar parses JSX.
        extensions: &["js", "mjs", "cjs", "jsx"],
        grammar: || tree_sitter_javascript::LANGUAGE.into(),
        extract: ecmascript::javascript,
    },
    LanguageDef {
        name: "go",
        extensions: &["go"],
        grammar: || tree_sitter_go::LANGUAGE.into(),
        extract: go::extract,
    },
    LanguageDef {
        name: "java",
        extensions: &["java"],
        grammar: || tree_sitter_java::LANGUAGE.into(),
        extract: java::extract,
    },
    LanguageDef {
        name: "c",
        // `.h` is C unless its text is C++'s ([`refine`]).
        extensions: &["c", "h"],
        grammar: || tree_sitter_c::LANGUAGE.into(),
        extract: clike::c,
    },
    LanguageDef {
        name: "cpp",
        extensions: &["cc", "cpp", "cxx", "c++", "hpp", "hh", "hxx", "h++"],
        grammar: || tree_sitter_cpp::LANGUAGE.into(),
        extract: clike::cpp,
    },
];

/// The language of `path`, by extension.
pub fn detect(path: &std::path::Path) -> Option<&'static LanguageDef> {
    let ext = path.extension()?.to_str()?;
    LANGUAGES.iter().find(|l| l.extensions.contains(&ext))
}

/// The language of `path` once its text is known: a `.h` file whose text is C++'s (see
/// `clike::looks_like_cpp`) is C++, every other file keeps [`detect`]'s answer.
pub fn refine(
    lang: &'static LanguageDef,
    path: &std::path::Path,
    source: &[u8],
) -> &'static LanguageDef {
    if is_header(path) && clike::looks_like_cpp(source) {
        by_name("cpp").unwrap_or(lang)
    } else {
        lang
    }
}

/// Whether a file at `path` may be stored as `language` ([`refine`] may make a `.h` C++).
pub fn may_be(path: &std::path::Path, language: &str) -> bool {
    detect(path).is_some_and(|l| l.name == language) || (is_header(path) && language == "cpp")
}

fn is_header(path: &std::path::Path) -> bool {
    path.extension().is_some_and(|e| e == "h")
}

/// The language called `name`.
pub fn by_name(name: &str) -> Option<&'static LanguageDef> {
    LANGUAGES.iter().find(|l| l.name == name)
}

/// Parses `source` with `lang`'s grammar and extracts what the index stores. A source that
/// tree-sitter cannot parse at all (it gives up) yields an issue and nothing else.
pub fn parse(lang: &LanguageDef, source: &[u8]) -> Parsed {
    let mut parser = tree_sitter::Parser::new();
    if parser.set_language(&(lang.grammar)()).is_err() {
        return failed("the grammar does not match this tree-sitter version");
    }
    // What the grammar is given may differ from `source` in bytes that make no node (see
    // `python::blank_comment_runs`), never in length or lines: the extractor reads names
    // from `source` at the same offsets.
    let blanked = (lang.name == "python")
        .then(|| python::blank_comment_runs(source))
        .flatten();
    match parser.parse(blanked.as_deref().unwrap_or(source), None) {
        Some(tree) => (lang.extract)(&tree, source),
        None => failed("tree-sitter gave up on this file"),
    }
}

fn failed(message: &str) -> Parsed {
    Parsed {
        issues: vec![Issue {
            kind: "parse_failure".into(),
            line: 1,
            column: 1,
            message: message.into(),
        }],
        ..Parsed::default()
    }
}

/// Visits every node of `tree` depth-first, in source order, with its depth (root = 0),
/// through one cursor (no allocation per node). ERROR and MISSING nodes are recorded in
/// `issues` (up to [`MAX_ISSUES`]) before `visit` sees them.
pub(crate) fn traverse<'t>(
    tree: &'t Tree,
    issues: &mut Vec<Issue>,
    mut visit: impl FnMut(Node<'t>, usize),
) {
    let mut cursor = tree.walk();
    let mut depth = 0;
    loop {
        let node = cursor.node();
        if issues.len() < MAX_ISSUES
            && let Some(issue) = syntax_issue(node)
        {
            issues.push(issue);
        }
        visit(node, depth);
        if cursor.goto_first_child() {
            depth += 1;
            continue;
        }
        loop {
            if cursor.goto_next_sibling() {
                break;
            }
            if !cursor.goto_parent() {
                return;
            }
            depth -= 1;
        }
    }
}

/// The text of `node`, or `""` when it is not UTF-8.
pub(crate) fn text<'s>(node: Node<'_>, source: &'s [u8]) -> &'s str {
    std::str::from_utf8(&source[node.start_byte()..node.end_byte()]).unwrap_or("")
}

/// 1-based line of the node's start.
pub(crate) fn line(node: Node<'_>) -> i64 {
    i64::try_from(node.start_position().row).unwrap_or(i64::MAX) + 1
}

/// A syntax issue for an ERROR or MISSING node, if it is one.
fn syntax_issue(node: Node<'_>) -> Option<Issue> {
    let message = if node.is_missing() {
        format!("missing {}", node.kind())
    } else if node.is_error() {
        "syntax error".to_owned()
    } else {
        return None;
    };
    let p = node.start_position();
    Some(Issue {
        kind: "syntax_error".into(),
        line: i64::try_from(p.row).unwrap_or(i64::MAX) + 1,
        column: i64::try_from(p.column).unwrap_or(i64::MAX) + 1,
        message,
    })
}

/// Most issues recorded per file: a badly broken file would otherwise flood the table.
const MAX_ISSUES: usize = 50;

/// Identifier positions collected during one traversal, keyed by text borrowed from the
/// source (no allocation per reference); [`Usages::into_parsed`] owns them at the end.
#[derive(Default)]
pub(crate) struct Usages<'s> {
    map: std::collections::HashMap<&'s str, Vec<(u32, u32)>>,
}

impl<'s> Usages<'s> {
    /// Adds a usage of the identifier `node`.
    pub(crate) fn add(&mut self, node: Node<'_>, source: &'s [u8]) {
        let name = text(node, source);
        if name.is_empty() {
            return;
        }
        let p = node.start_position();
        let pos = (
            u32::try_from(p.row + 1).unwrap_or(u32::MAX),
            u32::try_from(p.column + 1).unwrap_or(u32::MAX),
        );
        self.map.entry(name).or_default().push(pos);
    }

    /// Moves the usages into `parsed`.
    pub(crate) fn into_parsed(self, parsed: &mut Parsed) {
        parsed.usages = self
            .map
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
    }
}

#[cfg(test)]
mod tests;
