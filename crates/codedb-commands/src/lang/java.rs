//! Java: declarative, from `queries/java.scm`. Qualified names join with `.`:
//! `Outer.Inner.method`.

use std::sync::OnceLock;

use codedb_core::store::Parsed;
use tree_sitter::Tree;

use super::declarative::{self, Spec, plain_name};

pub(super) static JAVA: Spec = Spec {
    grammar: || tree_sitter_java::LANGUAGE.into(),
    query: include_str!("queries/java.scm"),
    separator: ".",
    usages: &["identifier", "type_identifier"],
    comments: &["line_comment", "block_comment"],
    wrappers: &[],
    merge_overloads: false,
    owner_may_be_namespace: false,
    member_of: &[],
    transparent: &[],
    name: plain_name,
    owner: |n, s| super::text(n, s).to_owned(),
    compiled: OnceLock::new(),
};

pub(super) fn extract(tree: &Tree, source: &[u8]) -> Parsed {
    declarative::extract(&JAVA, tree, source)
}
