//! Go: declarative, from `queries/go.scm`. Qualified names join with `.`: `Type.Method`
//! (the receiver's type, `*` and type arguments dropped), `Interface.Method`.

use codedb_core::store::Parsed;
use tree_sitter::{Node, Tree};

use super::decl_refs::Family;
use super::declarative::{self, Spec, plain_name};

pub(super) static GO: Spec = Spec::new(
    || tree_sitter_go::LANGUAGE.into(),
    include_str!("queries/go.scm"),
    ".",
    &[
        "identifier",
        "type_identifier",
        "field_identifier",
        "package_identifier",
    ],
)
// `type S struct{...}` alone in its declaration: the declaration is its range.
.wrappers(&["type_declaration"])
.names(plain_name, receiver_type)
.refs(Family::Go);

/// `*List[T]`, `(List)` -> `List`.
fn receiver_type(node: Node<'_>, source: &[u8]) -> String {
    let t = super::text(node, source);
    let t = t.split('[').next().unwrap_or(t);
    t.trim_matches(|c: char| c == '*' || c == '(' || c == ')' || c.is_whitespace())
        .to_owned()
}

pub(super) fn extract(tree: &Tree, source: &[u8]) -> Parsed {
    declarative::extract(&GO, tree, source)
}
