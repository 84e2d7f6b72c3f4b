//! Python: classes (nested included), methods (functions directly in a class body, decorated
//! or not), functions (every other `def`), import statements (`import`, `from ... import`,
//! `from __future__ import`), identifier usages, syntax issues. These are the counting rules
//! of the reference `py_indexer.py` (Python's own `ast`).

use codedb_core::store::{Entity, EntityKind, Import, Parsed};
use tree_sitter::{Node, Tree};

use super::{Usages, line, text, traverse};

struct Frame {
    depth: usize,
    qualified: String,
    /// Index of the entity, when the frame is a class.
    class: Option<usize>,
}

pub(super) fn extract(tree: &Tree, source: &[u8]) -> Parsed {
    let mut parsed = Parsed::default();
    let mut usages = Usages::default();
    let mut frames: Vec<Frame> = Vec::new();
    // Start bytes of definition names, which are not usages.
    let mut def_names: Vec<usize> = Vec::new();
    let mut issues = Vec::new();
    traverse(tree, &mut issues, |node, depth| {
        while frames.last().is_some_and(|f| f.depth >= depth) {
            frames.pop();
        }
        match node.kind() {
            "class_definition" | "function_definition" => {
                let Some(name_node) = node.child_by_field_name("name") else {
                    return;
                };
                let name = text(name_node, source).to_owned();
                def_names.push(name_node.start_byte());
                let qualified = match frames.last() {
                    Some(f) => format!("{}.{name}", f.qualified),
                    None => name.clone(),
                };
                let is_class = node.kind() == "class_definition";
                let kind = if is_class {
                    EntityKind::Class
                } else if directly_in_class_body(node, depth, &frames) {
                    EntityKind::Method
                } else {
                    EntityKind::Function
                };
                let parent = if kind == EntityKind::Method {
                    frames.last().and_then(|f| f.class)
                } else {
                    None
                };
                let body = node.child_by_field_name("body");
                let header_end = body.map_or(node.end_byte(), |b| b.start_byte());
                let signature = std::str::from_utf8(&source[node.start_byte()..header_end])
                    .ok()
                    .map(|s| s.trim_end().trim_end_matches(':').trim_end().to_owned());
                parsed.entities.push(Entity {
                    kind,
                    name,
                    qualified_name: qualified.clone(),
                    start_line: line(node),
                    end_line: i64::try_from(node.end_position().row).unwrap_or(i64::MAX) + 1,
                    start_byte: node.start_byte() as i64,
                    end_byte: node.end_byte() as i64,
                    signature,
                    docstring: body.and_then(|b| docstring(b, source)),
                    parent,
                });
                let index = parsed.entities.len() - 1;
                frames.push(Frame {
                    depth,
                    qualified,
                    class: is_class.then_some(index),
                });
            }
            "import_statement" | "import_from_statement" | "future_import_statement" => {
                parsed.imports.push(import(node, source));
            }
            "identifier" if def_names.last() != Some(&node.start_byte()) => {
                usages.add(node, source);
            }
            _ => {}
        }
    });
    usages.into_parsed(&mut parsed);
    parsed.issues = issues;
    (parsed.refs, parsed.bindings) = super::python_refs::scan(tree, source, &parsed.entities);
    parsed
}

/// `class C: def f` (class > block > function) or `class C: @d def f` (class > block >
/// decorated_definition > function).
fn directly_in_class_body(node: Node<'_>, depth: usize, frames: &[Frame]) -> bool {
    let Some(frame) = frames.last() else {
        return false;
    };
    if frame.class.is_none() {
        return false;
    }
    depth == frame.depth + 2
        || (depth == frame.depth + 3
            && node
                .parent()
                .is_some_and(|p| p.kind() == "decorated_definition"))
}

/// The first statement of a body, when it is a string.
fn docstring(body: Node<'_>, source: &[u8]) -> Option<String> {
    let first = body.named_child(0)?;
    if first.kind() != "expression_statement" {
        return None;
    }
    let string = first.named_child(0)?;
    (string.kind() == "string").then(|| {
        let raw = text(string, source);
        let unprefixed = raw.trim_start_matches(|c: char| c.is_ascii_alphabetic());
        unprefixed
            .trim_matches(|c| c == '"' || c == '\'')
            .trim()
            .to_owned()
    })
}

fn import(node: Node<'_>, source: &[u8]) -> Import {
    let module = match node.kind() {
        "import_from_statement" => node
            .child_by_field_name("module_name")
            .map(|m| text(m, source).to_owned()),
        "future_import_statement" => Some("__future__".to_owned()),
        _ => None,
    };
    let mut names = Vec::new();
    let mut alias = None;
    let mut cursor = node.walk();
    for child in node.children_by_field_name("name", &mut cursor) {
        if child.kind() == "aliased_import" {
            if let Some(a) = child.child_by_field_name("alias") {
                alias = Some(text(a, source).to_owned());
            }
            if let Some(n) = child.child_by_field_name("name") {
                names.push(text(n, source).to_owned());
            }
        } else {
            names.push(text(child, source).to_owned());
        }
    }
    let name = (!names.is_empty()).then(|| names.join(", "));
    match module {
        Some(m) => Import {
            module: Some(m),
            name,
            alias,
            line: line(node),
        },
        None => Import {
            module: name,
            name: None,
            alias,
            line: line(node),
        },
    }
}

/// Consecutive comment-only lines from which on [`blank_comment_runs`] blanks them.
const COMMENT_RUN: usize = 64;

/// `source` with the text of long runs of comment-only lines replaced by spaces (same
/// length, same lines), when it has such a run; else `None`.
///
/// tree-sitter-python's scanner looks ahead past every following comment line at each
/// comment line (to tell the indentation of the next statement), so a block of n comment
/// lines costs n² (40,000 lines: minutes, tree-sitter-python#245, not merged upstream).
/// Blank lines it skips in one pass. A comment makes no node the index reads, so blanking
/// it changes no entity, import, usage or syntax issue. (A line inside a triple-quoted
/// string that starts with `#` is blanked too, which changes nothing either, unless it is
/// an f-string whose `{expression}` then no longer counts as a usage.)
pub(super) fn blank_comment_runs(source: &[u8]) -> Option<Vec<u8>> {
    let is_comment = |line: &[u8]| {
        line.iter()
            .find(|b| !matches!(b, b' ' | b'\t' | b'\x0c'))
            .is_some_and(|b| *b == b'#')
    };
    let mut lines = Vec::new();
    let mut start = 0;
    for (i, b) in source.iter().enumerate() {
        if *b == b'\n' {
            lines.push(start..i);
            start = i + 1;
        }
    }
    lines.push(start..source.len());
    let mut out: Option<Vec<u8>> = None;
    let mut i = 0;
    while i < lines.len() {
        let run = lines[i..]
            .iter()
            .take_while(|l| is_comment(&source[(*l).clone()]))
            .count();
        if run >= COMMENT_RUN {
            let out = out.get_or_insert_with(|| source.to_vec());
            for line in &lines[i..i + run] {
                for b in &mut out[line.clone()] {
                    if *b != b'\r' {
                        *b = b' ';
                    }
                }
            }
        }
        i += run.max(1);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_comment_runs_are_blanked_short_ones_kept() {
        let short = b"x = 1\n# a\n# b\ny = 2\n";
        assert_eq!(blank_comment_runs(short), None);
        let mut long = b"x = 1\n".to_vec();
        for i in 0..COMMENT_RUN {
            long.extend(format!("    # comment {i}\r\n").as_bytes());
        }
        long.extend(b"y = 2  # kept\n");
        let blanked = blank_comment_runs(&long).unwrap();
        assert_eq!(blanked.len(), long.len());
        assert!(blanked.starts_with(b"x = 1\n            "));
        assert!(blanked.ends_with(b"\r\ny = 2  # kept\n"));
        assert!(!blanked[6..blanked.len() - 15].contains(&b'#'));
    }
}
