//! Java: declarative, from `queries/java.scm`. Qualified names join with `.`:
//! `Outer.Inner.method`.

use codedb_core::store::Parsed;
use tree_sitter::Tree;

use super::decl_refs::Family;
use super::declarative::{self, Spec};

pub(super) static JAVA: Spec = Spec::new(
    || tree_sitter_java::LANGUAGE.into(),
    include_str!("queries/java.scm"),
    ".",
    &["identifier", "type_identifier"],
)
.comments(&["line_comment", "block_comment"])
.refs(Family::Java);

pub(super) fn extract(tree: &Tree, source: &[u8]) -> Parsed {
    declarative::extract(&JAVA, tree, source)
}
