//! Rust references as one file shows them: every path (`a::b::C`), plain name, `use` leaf
//! and method call, written as a spec the resolver (`crate::resolve::rust`) finishes with
//! the whole project in view.
//!
//! One pass over the tree keeps the inline modules around each node (`mod m { ... }`), the
//! impl block (its type, for `Self` and `self`), and the local scopes: function and closure
//! parameters, `let`, `for`, `match` and `if let` patterns and generic parameters hide the
//! items of the same name. Macro bodies are token trees: their names are read as plain
//! names (a call when `(` follows). Attributes, lifetimes and labels are no references.
//!
//! # Spec notation
//!
//! `[~]P:MOD|PATH`: the path `PATH` (`::`-separated, as written, with `crate`, `self`,
//! `super`; `Self` already replaced by the impl's type) looked up from the inline module
//! `MOD` of this file (`::`-separated, empty at the file's top). `~` marks a method called
//! on `self`: `~P:|Parser::parse` (the resolver's answer is `inferred`). `N:|name`: a
//! method of an unknown receiver, by name only.
//!
//! Bindings left for the other files, with `owner` the inline module (empty at the top):
//! each `use` leaf (`name` the bound name, `spec` its path as a `P:` spec), glob imports
//! (`*`), inline modules (`spec` `mod`); and per impl block, with `owner` `impl` and `name`
//! the impl's qualified name (`m::Type`, as methods are qualified), the type's path (`^`
//! prefix-free `P:` spec) and, owner `trait`, the trait it implements.

use std::collections::{BTreeMap, HashSet};

use codedb_core::store::{Binding, RefKind, SymbolicRef};
use tree_sitter::{Node, Tree};

use super::{text, traverse};

/// How deep `use` trees and patterns are followed (deeper: no references, never a stack
/// overflow).
const MAX_NESTING: usize = 64;

/// One stored reference row before its positions are gathered: spec, kind, name.
type Group = (String, RefKind, String);

enum FrameKind {
    Module(String),
    /// The type's path segments and the impl's qualified name.
    Impl(Vec<String>),
    Scope(HashSet<String>),
}

struct Frame {
    depth: usize,
    kind: FrameKind,
}

struct Scanner<'s> {
    source: &'s [u8],
    groups: BTreeMap<Group, Vec<(u32, u32)>>,
    bindings: BTreeMap<(String, String), Vec<String>>,
}

fn position(node: Node<'_>) -> (u32, u32) {
    let p = node.start_position();
    (
        u32::try_from(p.row + 1).unwrap_or(u32::MAX),
        u32::try_from(p.column + 1).unwrap_or(u32::MAX),
    )
}

/// A path segment: its text and, when it was written here, its node.
type Seg<'t> = (String, Option<Node<'t>>);

/// The references and bindings of a Rust file; `def_names` are the (sorted) start bytes of
/// its definitions' names.
pub(super) fn scan(
    tree: &Tree,
    source: &[u8],
    def_names: &[usize],
) -> (Vec<SymbolicRef>, Vec<Binding>) {
    let mut s = Scanner {
        source,
        groups: BTreeMap::new(),
        bindings: BTreeMap::new(),
    };
    let mut frames: Vec<Frame> = Vec::new();
    let mut skip_until = 0usize;
    let mut issues = Vec::new();
    // Sites are gathered first: the closure's nodes cannot outlive it.
    let mut sites: Vec<(String, RefKind, String, (u32, u32))> = Vec::new();
    let mut binds: Vec<(String, String, String)> = Vec::new();
    traverse(tree, &mut issues, |node, depth| {
        while frames.last().is_some_and(|f| f.depth >= depth) {
            frames.pop();
        }
        let start = node.start_byte();
        if start < skip_until {
            return;
        }
        let module = module_of(&frames);
        let kind = node.kind();
        match kind {
            "attribute_item"
            | "inner_attribute_item"
            | "lifetime"
            | "label"
            | "extern_crate_declaration" => {
                skip_until = node.end_byte();
            }
            "mod_item" => {
                let Some(name) = node.child_by_field_name("name") else {
                    return;
                };
                let name_text = s.text(name).to_owned();
                if node.child_by_field_name("body").is_some() {
                    binds.push((module.clone(), name_text.clone(), "mod".into()));
                    frames.push(Frame {
                        depth,
                        kind: FrameKind::Module(name_text),
                    });
                } else {
                    sites.push((
                        format!("P:{module}|self::{name_text}"),
                        RefKind::Import,
                        name_text,
                        position(name),
                    ));
                }
            }
            "use_declaration" => {
                skip_until = node.end_byte();
                if let Some(arg) = node.child_by_field_name("argument") {
                    let mut leaves = Vec::new();
                    s.use_tree(arg, Vec::new(), &mut leaves, 0);
                    for leaf in leaves {
                        s.use_leaf(&module, leaf, &mut sites, &mut binds);
                    }
                }
            }
            "impl_item" => {
                let ty = node
                    .child_by_field_name("type")
                    .map(|t| s.segments(t))
                    .unwrap_or_default();
                let ty: Vec<String> = ty.into_iter().map(|(t, _)| t).collect();
                let impl_name = ty.last().cloned().unwrap_or_default();
                let qual = if module.is_empty() {
                    impl_name
                } else {
                    format!("{module}::{impl_name}")
                };
                if !ty.is_empty() {
                    binds.push((
                        "impl".into(),
                        qual.clone(),
                        format!("P:{module}|{}", ty.join("::")),
                    ));
                    if let Some(t) = node.child_by_field_name("trait") {
                        let tr: Vec<String> = s.segments(t).into_iter().map(|(t, _)| t).collect();
                        if !tr.is_empty() {
                            binds.push((
                                "trait".into(),
                                qual,
                                format!("P:{module}|{}", tr.join("::")),
                            ));
                        }
                    }
                }
                frames.push(Frame {
                    depth,
                    kind: FrameKind::Impl(ty),
                });
                frames.push(Frame {
                    depth,
                    kind: FrameKind::Scope(HashSet::new()),
                });
            }
            // A trait's default methods: `self.m()` and `Self::m` are the trait's own items
            // (or a supertrait's, which the resolver then answers by name).
            "trait_item" => {
                let name = node
                    .child_by_field_name("name")
                    .map(|n| s.text(n).to_owned());
                frames.push(Frame {
                    depth,
                    kind: FrameKind::Impl(name.into_iter().collect()),
                });
                frames.push(Frame {
                    depth,
                    kind: FrameKind::Scope(HashSet::new()),
                });
            }
            "function_item"
            | "function_signature_item"
            | "closure_expression"
            | "block"
            | "match_arm"
            | "for_expression"
            | "if_expression"
            | "while_expression"
            | "struct_item"
            | "enum_item"
            | "type_item"
            | "union_item" => {
                frames.push(Frame {
                    depth,
                    kind: FrameKind::Scope(HashSet::new()),
                });
            }
            "scoped_identifier" | "scoped_type_identifier" | "generic_function" => {
                skip_until = node.end_byte();
                if let Some(segs) = s.path(node, &frames, &module) {
                    let context = context_kind(node);
                    s.path_sites(&module, &segs, context, &mut sites);
                }
            }
            "field_expression" => {
                let (Some(value), Some(field)) = (
                    node.child_by_field_name("value"),
                    node.child_by_field_name("field"),
                ) else {
                    return;
                };
                let called = node.parent().is_some_and(|p| {
                    p.kind() == "call_expression" && p.child_by_field_name("function") == Some(node)
                });
                if !called || field.kind() != "field_identifier" {
                    return;
                }
                let name = s.text(field).to_owned();
                let ty = impl_type(&frames);
                let spec = match ty {
                    Some(ty) if value.kind() == "self" && !ty.is_empty() => {
                        format!("~P:{module}|{}::{name}", ty.join("::"))
                    }
                    _ => format!("N:|{name}"),
                };
                sites.push((spec, RefKind::Call, name, position(field)));
            }
            "identifier" | "type_identifier" | "shorthand_field_identifier" => {
                if def_names.binary_search(&start).is_ok() {
                    return;
                }
                let name = s.text(node).to_owned();
                if name.is_empty() || name == "Self" {
                    return;
                }
                if declared(node) {
                    if let Some(names) = frames.iter_mut().rev().find_map(|f| match &mut f.kind {
                        FrameKind::Scope(n) => Some(n),
                        _ => None,
                    }) {
                        names.insert(name);
                    }
                    return;
                }
                if kind == "shorthand_field_identifier" || not_a_name(node) {
                    return;
                }
                // In a macro's tokens (`format!("{}", self.area())`): `.name(` is a method
                // call as outside one (on `self`: the impl's type's), `.name` a field.
                let in_tokens = node.parent().is_some_and(|p| p.kind() == "token_tree");
                if in_tokens && node.prev_sibling().is_some_and(|d| s.text(d) == ".") {
                    let called = node
                        .next_sibling()
                        .is_some_and(|n| n.kind() == "token_tree" && s.text(n).starts_with('('));
                    if !called {
                        return;
                    }
                    let on_self = node
                        .prev_sibling()
                        .and_then(|d| d.prev_sibling())
                        .is_some_and(|r| s.text(r) == "self");
                    let spec = match impl_type(&frames) {
                        Some(ty) if on_self && !ty.is_empty() => {
                            format!("~P:{module}|{}::{name}", ty.join("::"))
                        }
                        _ => format!("N:|{name}"),
                    };
                    sites.push((spec, RefKind::Call, name, position(node)));
                    return;
                }
                let local = frames.iter().any(|f| match &f.kind {
                    FrameKind::Scope(n) => n.contains(&name),
                    _ => false,
                });
                if local {
                    return;
                }
                let context = if node.parent().is_some_and(|p| p.kind() == "token_tree") {
                    let paren = node
                        .next_sibling()
                        .is_some_and(|n| n.kind() == "token_tree" && s.text(n).starts_with('('));
                    if paren { RefKind::Call } else { RefKind::Read }
                } else {
                    context_kind(node)
                };
                sites.push((format!("P:{module}|{name}"), context, name, position(node)));
            }
            _ => {}
        }
    });
    for (spec, kind, name, at) in sites {
        s.groups.entry((spec, kind, name)).or_default().push(at);
    }
    for (owner, name, spec) in binds {
        let specs = s.bindings.entry((owner, name)).or_default();
        if !specs.contains(&spec) {
            specs.push(spec);
        }
    }
    s.finish()
}

/// The inline module path of the innermost module frame.
fn module_of(frames: &[Frame]) -> String {
    let parts: Vec<&str> = frames
        .iter()
        .filter_map(|f| match &f.kind {
            FrameKind::Module(m) => Some(m.as_str()),
            _ => None,
        })
        .collect();
    parts.join("::")
}

/// The type path of the innermost impl block.
fn impl_type(frames: &[Frame]) -> Option<&Vec<String>> {
    frames.iter().rev().find_map(|f| match &f.kind {
        FrameKind::Impl(t) => Some(t),
        _ => None,
    })
}

/// Names that are no reference where they stand: a macro's name, an enum variant's or a
/// constant's declaration, a struct field's name in an expression.
fn not_a_name(node: Node<'_>) -> bool {
    let Some(parent) = node.parent() else {
        return false;
    };
    let is = |field: &str| parent.child_by_field_name(field) == Some(node);
    match parent.kind() {
        "macro_invocation" | "macro_definition" => is("macro") || is("name"),
        "enum_variant" | "const_item" | "static_item" | "field_initializer" => {
            is("name") || is("field")
        }
        "type_item" | "associated_type" => is("name"),
        _ => false,
    }
}

/// Whether the identifier `node` is bound here by a pattern or a generic parameter.
fn declared(node: Node<'_>) -> bool {
    let mut child = node;
    let mut parent = node.parent();
    for _ in 0..MAX_NESTING {
        let Some(p) = parent else { return false };
        let is = |field: &str| p.child_by_field_name(field) == Some(child);
        match p.kind() {
            "let_declaration" | "parameter" | "for_expression" | "let_condition" => {
                return is("pattern");
            }
            "closure_parameters" => return true,
            "match_pattern" => return !is("condition"),
            "type_parameters" | "lifetime_parameters" => return true,
            "constrained_type_parameter" => return is("left"),
            "type_parameter" => return is("name"),
            "tuple_struct_pattern" | "struct_pattern" if is("type") => return false,
            "tuple_pattern"
            | "slice_pattern"
            | "ref_pattern"
            | "mut_pattern"
            | "reference_pattern"
            | "or_pattern"
            | "captured_pattern"
            | "field_pattern"
            | "tuple_struct_pattern"
            | "struct_pattern" => {}
            _ => return false,
        }
        child = p;
        parent = p.parent();
    }
    false
}

/// How a name or path at `node` is used.
fn context_kind(node: Node<'_>) -> RefKind {
    let mut n = node;
    // The path this name ends, and a generic function around it.
    while let Some(p) = n.parent() {
        let ends = matches!(p.kind(), "scoped_identifier" | "scoped_type_identifier")
            && p.child_by_field_name("name") == Some(n);
        let generic = matches!(p.kind(), "generic_function" | "generic_type")
            && (p.child_by_field_name("function") == Some(n)
                || p.child_by_field_name("type") == Some(n));
        if !(ends || generic) {
            break;
        }
        n = p;
    }
    let Some(p) = n.parent() else {
        return RefKind::Read;
    };
    let is = |field: &str| p.child_by_field_name(field) == Some(n);
    match p.kind() {
        "call_expression" if is("function") => RefKind::Call,
        "struct_expression" if is("name") => RefKind::Call,
        "impl_item" if is("trait") => RefKind::Inheritance,
        _ if matches!(node.kind(), "type_identifier" | "scoped_type_identifier")
            || matches!(n.kind(), "scoped_type_identifier" | "generic_type") =>
        {
            RefKind::Annotation
        }
        _ => RefKind::Read,
    }
}

/// A leaf of a `use` tree: its path, its alias, whether it is a glob.
struct Leaf<'t> {
    path: Vec<Seg<'t>>,
    alias: Option<Node<'t>>,
    glob: bool,
}

impl<'s> Scanner<'s> {
    fn text(&self, node: Node<'_>) -> &'s str {
        text(node, self.source)
    }

    /// The segments of a path node (`a::b::C`, `C<T>`, `f::<T>`), outermost first.
    fn segments<'t>(&self, node: Node<'t>) -> Vec<Seg<'t>> {
        let mut out: Vec<Seg<'t>> = Vec::new();
        let mut n = Some(node);
        let mut guard = 0;
        while let Some(cur) = n {
            guard += 1;
            if guard > 4096 {
                return Vec::new();
            }
            match cur.kind() {
                "scoped_identifier" | "scoped_type_identifier" | "scoped_use_list" => {
                    if let Some(name) = cur.child_by_field_name("name") {
                        out.push((self.text(name).to_owned(), Some(name)));
                    }
                    n = cur.child_by_field_name("path");
                }
                "generic_type" => n = cur.child_by_field_name("type"),
                "generic_function" => n = cur.child_by_field_name("function"),
                "reference_type" | "pointer_type" => n = cur.child_by_field_name("type"),
                "identifier" | "type_identifier" | "self" | "super" | "crate" => {
                    out.push((self.text(cur).to_owned(), Some(cur)));
                    n = None;
                }
                _ => return Vec::new(),
            }
        }
        out.reverse();
        out
    }

    /// A path's segments with `Self` replaced by the impl's type.
    fn path<'t>(&self, node: Node<'t>, frames: &[Frame], _module: &str) -> Option<Vec<Seg<'t>>> {
        let segs = self.segments(node);
        let first = segs.first()?;
        if first.0 == "Self" {
            let ty = impl_type(frames)?;
            let mut out: Vec<Seg<'t>> = ty.iter().map(|t| (t.clone(), None)).collect();
            out.extend(segs.into_iter().skip(1));
            return Some(out);
        }
        Some(segs)
    }

    /// The references of a path: each written name, to the path up to it.
    fn path_sites(
        &self,
        module: &str,
        segs: &[Seg<'_>],
        context: RefKind,
        sites: &mut Vec<(String, RefKind, String, (u32, u32))>,
    ) {
        let texts: Vec<&str> = segs.iter().map(|(t, _)| t.as_str()).collect();
        for (i, (name, node)) in segs.iter().enumerate() {
            let Some(node) = node else { continue };
            if matches!(name.as_str(), "self" | "super" | "crate" | "Self") || name.is_empty() {
                continue;
            }
            let kind = if i + 1 == segs.len() {
                context
            } else {
                RefKind::Read
            };
            sites.push((
                format!("P:{module}|{}", texts[..=i].join("::")),
                kind,
                name.clone(),
                position(*node),
            ));
        }
    }

    fn use_tree<'t>(
        &self,
        node: Node<'t>,
        prefix: Vec<Seg<'t>>,
        out: &mut Vec<Leaf<'t>>,
        depth: usize,
    ) {
        if depth > MAX_NESTING {
            return;
        }
        match node.kind() {
            "use_as_clause" => {
                let Some(path) = node.child_by_field_name("path") else {
                    return;
                };
                let mut segs = prefix;
                segs.extend(self.segments(path));
                out.push(Leaf {
                    path: segs,
                    alias: node.child_by_field_name("alias"),
                    glob: false,
                });
            }
            "scoped_use_list" => {
                let mut segs = prefix;
                if let Some(path) = node.child_by_field_name("path") {
                    segs.extend(self.segments(path));
                }
                if let Some(list) = node.child_by_field_name("list") {
                    self.use_tree(list, segs, out, depth + 1);
                }
            }
            "use_list" => {
                let mut cursor = node.walk();
                for child in node.named_children(&mut cursor) {
                    if child.kind() == "self" {
                        out.push(Leaf {
                            path: prefix.clone(),
                            alias: None,
                            glob: false,
                        });
                    } else {
                        self.use_tree(child, prefix.clone(), out, depth + 1);
                    }
                }
            }
            "use_wildcard" => {
                let mut segs = prefix;
                if let Some(path) = node.named_child(0) {
                    segs.extend(self.segments(path));
                }
                out.push(Leaf {
                    path: segs,
                    alias: None,
                    glob: true,
                });
            }
            _ => {
                let mut segs = prefix;
                segs.extend(self.segments(node));
                out.push(Leaf {
                    path: segs,
                    alias: None,
                    glob: false,
                });
            }
        }
    }

    fn use_leaf(
        &self,
        module: &str,
        leaf: Leaf<'_>,
        sites: &mut Vec<(String, RefKind, String, (u32, u32))>,
        binds: &mut Vec<(String, String, String)>,
    ) {
        if leaf.path.is_empty() {
            return;
        }
        self.path_sites(module, &leaf.path, RefKind::Import, sites);
        let full: Vec<&str> = leaf.path.iter().map(|(t, _)| t.as_str()).collect();
        let spec = format!("P:{module}|{}", full.join("::"));
        if leaf.glob {
            binds.push((module.to_owned(), "*".into(), spec));
            return;
        }
        let bound = match leaf.alias {
            Some(a) => {
                let alias = self.text(a).to_owned();
                sites.push((spec.clone(), RefKind::Import, alias.clone(), position(a)));
                alias
            }
            None => full.last().map(|s| (*s).to_owned()).unwrap_or_default(),
        };
        if bound.is_empty() || bound == "_" || matches!(bound.as_str(), "self" | "super" | "crate")
        {
            return;
        }
        binds.push((module.to_owned(), bound, spec));
    }

    fn finish(self) -> (Vec<SymbolicRef>, Vec<Binding>) {
        let refs = self
            .groups
            .into_iter()
            .map(|((spec, kind, name), mut positions)| {
                positions.sort_unstable();
                positions.dedup();
                SymbolicRef {
                    spec,
                    kind,
                    name,
                    positions,
                }
            })
            .collect();
        let mut bindings = Vec::new();
        for ((owner, name), specs) in self.bindings {
            for (ord, spec) in specs.into_iter().enumerate() {
                bindings.push(Binding {
                    owner: owner.clone(),
                    name: name.clone(),
                    ord: i64::try_from(ord).unwrap_or(i64::MAX),
                    spec,
                });
            }
        }
        (refs, bindings)
    }
}
