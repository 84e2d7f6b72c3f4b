//! Rust: structs, enums, unions and traits as classes; functions in impl and trait blocks as
//! methods (qualified `Type::method`); every other `fn` as a function; `use` declarations as
//! imports; identifier and type-identifier usages; syntax issues. Modules nest qualified
//! names (`outer::inner::f`). Items under attributes (`#[cfg(test)]`, `#[derive]`) are items
//! like any other. References and bindings: `rust_refs`.

use codedb_core::store::{Entity, EntityKind, Import, Parsed};
use tree_sitter::{Node, Tree};

use super::{Usages, line, text, traverse};

#[derive(PartialEq)]
enum FrameKind {
    Module,
    /// An impl or trait block: functions directly in it are methods.
    Impl {
        class: Option<usize>,
    },
    Function,
    Type,
}

struct Frame {
    depth: usize,
    qualified: String,
    kind: FrameKind,
}

fn join(frames: &[Frame], name: &str) -> String {
    match frames.last() {
        Some(f) if !f.qualified.is_empty() => format!("{}::{name}", f.qualified),
        _ => name.to_owned(),
    }
}

pub(super) fn extract(tree: &Tree, source: &[u8]) -> Parsed {
    let mut parsed = Parsed::default();
    let mut usages = Usages::default();
    let mut frames: Vec<Frame> = Vec::new();
    let mut def_names: Vec<usize> = Vec::new();
    let mut issues = Vec::new();
    traverse(tree, &mut issues, |node, depth| {
        while frames.last().is_some_and(|f| f.depth >= depth) {
            frames.pop();
        }
        match node.kind() {
            "mod_item" => {
                if let Some(n) = node.child_by_field_name("name") {
                    def_names.push(n.start_byte());
                    let qualified = join(&frames, text(n, source));
                    frames.push(Frame {
                        depth,
                        qualified,
                        kind: FrameKind::Module,
                    });
                }
            }
            "struct_item" | "enum_item" | "union_item" | "trait_item" => {
                let Some(n) = node.child_by_field_name("name") else {
                    return;
                };
                def_names.push(n.start_byte());
                let name = text(n, source).to_owned();
                let qualified = join(&frames, &name);
                let index = push(
                    &mut parsed,
                    node,
                    source,
                    EntityKind::Class,
                    name,
                    qualified.clone(),
                    None,
                );
                let kind = if node.kind() == "trait_item" {
                    FrameKind::Impl { class: Some(index) }
                } else {
                    FrameKind::Type
                };
                frames.push(Frame {
                    depth,
                    qualified,
                    kind,
                });
            }
            "impl_item" => {
                let ty = node
                    .child_by_field_name("type")
                    .map(|t| type_name(t, source))
                    .unwrap_or_default();
                let qualified = join(&frames, &ty);
                // The type's own entity, when it is defined in this file.
                let class = parsed
                    .entities
                    .iter()
                    .rposition(|e| e.kind == EntityKind::Class && e.qualified_name == qualified);
                frames.push(Frame {
                    depth,
                    qualified,
                    kind: FrameKind::Impl { class },
                });
            }
            "function_item" | "function_signature_item" => {
                let Some(n) = node.child_by_field_name("name") else {
                    return;
                };
                def_names.push(n.start_byte());
                let name = text(n, source).to_owned();
                // declaration_list sits between the impl/trait and its functions.
                let in_impl = frames.last().and_then(|f| match f.kind {
                    FrameKind::Impl { class } if depth == f.depth + 2 => Some(class),
                    _ => None,
                });
                let qualified = join(&frames, &name);
                let (kind, parent) = match in_impl {
                    Some(class) => (EntityKind::Method, class),
                    None => (EntityKind::Function, None),
                };
                push(
                    &mut parsed,
                    node,
                    source,
                    kind,
                    name,
                    qualified.clone(),
                    parent,
                );
                frames.push(Frame {
                    depth,
                    qualified,
                    kind: FrameKind::Function,
                });
            }
            "use_declaration" => {
                let argument = node
                    .child_by_field_name("argument")
                    .map(|a| text(a, source).to_owned());
                parsed.imports.push(Import {
                    module: argument,
                    name: None,
                    alias: None,
                    line: line(node),
                });
            }
            "identifier" | "type_identifier" if def_names.last() != Some(&node.start_byte()) => {
                usages.add(node, source);
            }
            _ => {}
        }
    });
    usages.into_parsed(&mut parsed);
    parsed.issues = issues;
    def_names.sort_unstable();
    (parsed.refs, parsed.bindings) = super::rust_refs::scan(tree, source, &def_names);
    parsed
}

/// `Foo`, `Foo<T>` -> `Foo`; `a::Foo` -> `Foo`; `&'a Foo` -> `Foo`.
fn type_name(node: Node<'_>, source: &[u8]) -> String {
    match node.kind() {
        "generic_type" => node
            .child_by_field_name("type")
            .map_or_else(String::new, |t| type_name(t, source)),
        "scoped_type_identifier" => node
            .child_by_field_name("name")
            .map_or_else(String::new, |t| text(t, source).to_owned()),
        "reference_type" => node
            .child_by_field_name("type")
            .map_or_else(String::new, |t| type_name(t, source)),
        _ => text(node, source).to_owned(),
    }
}

fn push(
    parsed: &mut Parsed,
    node: Node<'_>,
    source: &[u8],
    kind: EntityKind,
    name: String,
    qualified_name: String,
    parent: Option<usize>,
) -> usize {
    let body = node.child_by_field_name("body");
    let header_end = body.map_or(node.end_byte(), |b| b.start_byte());
    let signature = std::str::from_utf8(&source[node.start_byte()..header_end])
        .ok()
        .map(|s| s.trim().to_owned());
    parsed.entities.push(Entity {
        kind,
        name,
        qualified_name,
        start_line: line(node),
        end_line: i64::try_from(node.end_position().row).unwrap_or(i64::MAX) + 1,
        start_byte: node.start_byte() as i64,
        end_byte: node.end_byte() as i64,
        signature,
        docstring: doc_comment(node, source),
        parent,
    });
    parsed.entities.len() - 1
}

/// The `///` lines right before an item (skipping attributes).
fn doc_comment(node: Node<'_>, source: &[u8]) -> Option<String> {
    let mut lines = Vec::new();
    let mut prev = node.prev_sibling();
    while let Some(p) = prev {
        match p.kind() {
            "attribute_item" => {}
            "line_comment" if text(p, source).starts_with("///") => {
                lines.push(text(p, source).trim_start_matches('/').trim().to_owned());
            }
            _ => break,
        }
        prev = p.prev_sibling();
    }
    lines.reverse();
    (!lines.is_empty()).then(|| lines.join("\n"))
}
