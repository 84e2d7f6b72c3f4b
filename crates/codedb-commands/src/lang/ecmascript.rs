//! JavaScript (`.js .mjs .cjs .jsx`), TypeScript (`.ts .mts .cts .d.ts`) and TSX (`.tsx`):
//! declarative, from `queries/ecmascript.scm` (what they share) plus each one's own query.
//! Qualified names join with `.`: `Class.method`, `Namespace.f`, `outer.inner`.

use std::sync::OnceLock;

use codedb_core::store::Parsed;
use tree_sitter::Tree;

use super::declarative::{self, Spec, plain_name};

const COMMENTS: &[&str] = &["comment", "html_comment"];
/// `export function f`, `declare function f`, `export declare ...`: the statement is the
/// definition's range.
const WRAPPERS: &[&str] = &["export_statement", "ambient_declaration"];

pub(super) static JAVASCRIPT: Spec = Spec {
    grammar: || tree_sitter_javascript::LANGUAGE.into(),
    query: concat!(
        include_str!("queries/ecmascript.scm"),
        include_str!("queries/javascript.scm")
    ),
    separator: ".",
    usages: &[
        "identifier",
        "property_identifier",
        "shorthand_property_identifier",
        "shorthand_property_identifier_pattern",
    ],
    comments: COMMENTS,
    wrappers: WRAPPERS,
    merge_overloads: false,
    owner_may_be_namespace: false,
    member_of: &[],
    transparent: &[],
    name: plain_name,
    owner: |n, s| super::text(n, s).to_owned(),
    compiled: OnceLock::new(),
};

pub(super) static TYPESCRIPT: Spec =
    typescript_spec(|| tree_sitter_typescript::LANGUAGE_TYPESCRIPT.into());

pub(super) static TSX: Spec = typescript_spec(|| tree_sitter_typescript::LANGUAGE_TSX.into());

/// TypeScript and TSX: one query, two grammars.
const fn typescript_spec(grammar: fn() -> tree_sitter::Language) -> Spec {
    Spec {
        grammar,
        query: concat!(
            include_str!("queries/ecmascript.scm"),
            include_str!("queries/typescript.scm")
        ),
        separator: ".",
        usages: &[
            "identifier",
            "property_identifier",
            "shorthand_property_identifier",
            "shorthand_property_identifier_pattern",
            "type_identifier",
        ],
        comments: &["comment"],
        wrappers: WRAPPERS,
        merge_overloads: true,
        owner_may_be_namespace: false,
        member_of: &[],
        transparent: &[],
        name: plain_name,
        owner: |n, s| super::text(n, s).to_owned(),
        compiled: OnceLock::new(),
    }
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
