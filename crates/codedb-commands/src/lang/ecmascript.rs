//! JavaScript (`.js .mjs .cjs .jsx`), TypeScript (`.ts .mts .cts .d.ts`) and TSX (`.tsx`):
//! declarative, from `queries/ecmascript.scm` (what they share) plus each one's own query.
//! Qualified names join with `.`: `Class.method`, `Namespace.f`, `outer.inner`.

use codedb_core::store::Parsed;
use tree_sitter::Tree;

use super::decl_refs::Family;
use super::declarative::{self, Spec};

/// `export function f`, `declare function f`, `export declare ...`: the statement is the
/// definition's range.
const WRAPPERS: &[&str] = &["export_statement", "ambient_declaration"];

const USAGES: &[&str] = &[
    "identifier",
    "property_identifier",
    "shorthand_property_identifier",
    "shorthand_property_identifier_pattern",
];

pub(super) static JAVASCRIPT: Spec = Spec::new(
    || tree_sitter_javascript::LANGUAGE.into(),
    concat!(
        include_str!("queries/ecmascript.scm"),
        include_str!("queries/javascript.scm")
    ),
    ".",
    USAGES,
)
.comments(&["comment", "html_comment"])
.wrappers(WRAPPERS)
.refs(Family::Ecma);

pub(super) static TYPESCRIPT: Spec =
    typescript_spec(|| tree_sitter_typescript::LANGUAGE_TYPESCRIPT.into());

pub(super) static TSX: Spec = typescript_spec(|| tree_sitter_typescript::LANGUAGE_TSX.into());

/// TypeScript and TSX: one query, two grammars; overload signatures merge with what
/// follows them.
const fn typescript_spec(grammar: fn() -> tree_sitter::Language) -> Spec {
    Spec::new(
        grammar,
        concat!(
            include_str!("queries/ecmascript.scm"),
            include_str!("queries/typescript.scm")
        ),
        ".",
        &[
            "identifier",
            "property_identifier",
            "shorthand_property_identifier",
            "shorthand_property_identifier_pattern",
            "type_identifier",
        ],
    )
    .wrappers(WRAPPERS)
    .merging_overloads()
    .refs(Family::Ecma)
}

pub(super) fn javascript(tree: &Tree, source: &[u8]) -> Parsed {
    declarative::extract(&JAVASCRIPT, tree, source)
}

pub(super) fn typescript(tree: &Tree, source: &[u8]) -> Parsed {
    declarative::extract(&TYPESCRIPT, tree, source)
}

pub(super) fn tsx(tree: &Tree, source: &[u8]) -> Parsed {
    declarative::extract(&TSX, tree, source)
}
