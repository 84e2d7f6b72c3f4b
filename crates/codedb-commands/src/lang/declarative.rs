//! The declarative extractor: a language is its tree-sitter grammar, a query file
//! (`queries/<language>.scm`) whose captures say what each node is, and a [`Spec`] holding
//! the few facts a query cannot state (the qualified-name separator, which node kinds are
//! identifier usages, which are comments, which wrap a definition, how a name node reads).
//!
//! Captures a query may use, as tree-sitter's own tags queries are written:
//!
//! | capture | meaning |
//! |---|---|
//! | `@definition.class` | a class (named type with a body); `@name` names it |
//! | `@definition.function` | a function; `@name` names it |
//! | `@definition.method` | a method; `@name` names it, its class is the nearest enclosing class |
//! | `@scope` | a namespace: qualifies what it holds, is not counted; `@name` names it |
//! | `@name` | the name node of the definition or scope in the same match |
//! | `@owner` | the type a method is attached to outside its body (a Go receiver) |
//! | `@import` | one import |
//! | `@module` | the module an `@import` brings in (its text, quotes stripped) |
//!
//! Rules the engine applies to every language: a node captured by several patterns takes
//! the kind of the first pattern in the file; qualified names join the enclosing classes,
//! functions, methods and scopes with the separator; a definition's range grows to a
//! wrapper node around it (`export`, `template<...>`) when it is the wrapper's only
//! declaration; its docstring is the comment block right above it; with
//! [`Spec::merge_overloads`], consecutive sibling definitions of one kind and qualified name
//! (TypeScript overload signatures and their implementation) are one definition spanning
//! all of them.

use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use codedb_core::store::{Entity, EntityKind, Import, Issue, Parsed};
use tree_sitter::{Node, Query, QueryCursor, StreamingIterator, Tree};

use super::decl_refs::{self, Family};
use super::{Usages, line, text, traverse};

/// A name as a language reads it from an `@name` node: the name itself and, for an
/// out-of-body definition (`void A::f()`), the owner it is qualified by.
pub(crate) struct Named {
    pub(crate) name: String,
    pub(crate) owner: Option<String>,
}

/// What a declarative language needs beyond its query.
pub(crate) struct Spec {
    /// The grammar the query is written for.
    pub(crate) grammar: fn() -> tree_sitter::Language,
    /// The query source.
    pub(crate) query: &'static str,
    /// Joins qualified names: `.` or `::`.
    pub(crate) separator: &'static str,
    /// Node kinds that are identifier usages (definition names excepted).
    pub(crate) usages: &'static [&'static str],
    /// Node kinds that are comments (docstrings are the comments right above a definition).
    pub(crate) comments: &'static [&'static str],
    /// Node kinds that wrap a definition (`export_statement`, `template_declaration`): its
    /// range grows to them.
    pub(crate) wrappers: &'static [&'static str],
    /// Consecutive sibling definitions of one kind and qualified name are one.
    pub(crate) merge_overloads: bool,
    /// An owner whose last part names a namespace declared in the file is a namespace: the
    /// definition is a function, not a method (C++'s `void ns::f()`).
    pub(crate) owner_may_be_namespace: bool,
    /// A function whose parent (past `transparent` kinds and wrappers) is one of these kinds
    /// is a method: C++'s class bodies, whatever preprocessor branches stand between.
    pub(crate) member_of: &'static [&'static str],
    /// Node kinds looked through by `member_of` (`#if` branches).
    pub(crate) transparent: &'static [&'static str],
    /// Reads an `@name` node.
    pub(crate) name: fn(Node<'_>, &[u8]) -> Option<Named>,
    /// Reads an `@owner` node into a type name (`*List[T]` -> `List`).
    pub(crate) owner: fn(Node<'_>, &[u8]) -> String,
    /// Which reference rules its files follow (`decl_refs`).
    pub(crate) family: Family,
    /// The compiled query, made on first use.
    pub(crate) compiled: OnceLock<Result<Compiled, String>>,
}

impl Spec {
    /// A spec with the common settings: no wrappers, no overload merging, no owner rules,
    /// names read as they are written; a language overrides what differs.
    pub(crate) const fn new(
        grammar: fn() -> tree_sitter::Language,
        query: &'static str,
        separator: &'static str,
        usages: &'static [&'static str],
    ) -> Spec {
        Spec {
            grammar,
            query,
            separator,
            usages,
            comments: &["comment"],
            wrappers: &[],
            merge_overloads: false,
            owner_may_be_namespace: false,
            member_of: &[],
            transparent: &[],
            name: plain_name,
            owner: |n, s| text(n, s).to_owned(),
            family: Family::None,
            compiled: OnceLock::new(),
        }
    }

    /// References scanned by `family`'s rules.
    pub(crate) const fn refs(mut self, family: Family) -> Spec {
        self.family = family;
        self
    }

    /// With these comment kinds.
    pub(crate) const fn comments(mut self, comments: &'static [&'static str]) -> Spec {
        self.comments = comments;
        self
    }

    /// With these wrapper kinds.
    pub(crate) const fn wrappers(mut self, wrappers: &'static [&'static str]) -> Spec {
        self.wrappers = wrappers;
        self
    }

    /// Overload signatures merge with what follows them.
    pub(crate) const fn merging_overloads(mut self) -> Spec {
        self.merge_overloads = true;
        self
    }

    /// Names read by `name`, owners by `owner`.
    pub(crate) const fn names(
        mut self,
        name: fn(Node<'_>, &[u8]) -> Option<Named>,
        owner: fn(Node<'_>, &[u8]) -> String,
    ) -> Spec {
        self.name = name;
        self.owner = owner;
        self
    }

    /// C++'s members: functions in `member_of` (past `transparent`) are methods, and an
    /// owner may be a namespace.
    pub(crate) const fn members(
        mut self,
        member_of: &'static [&'static str],
        transparent: &'static [&'static str],
    ) -> Spec {
        self.member_of = member_of;
        self.transparent = transparent;
        self.owner_may_be_namespace = true;
        self
    }
}

/// The name node's text.
pub(crate) fn plain_name(node: Node<'_>, source: &[u8]) -> Option<Named> {
    let name = text(node, source).trim();
    (!name.is_empty()).then(|| Named {
        name: name.to_owned(),
        owner: None,
    })
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Cap {
    Class,
    Function,
    Method,
    Scope,
    Name,
    Owner,
    Import,
    Module,
    Other,
}

/// A [`Spec`]'s query, compiled, with what each capture means.
pub(crate) struct Compiled {
    query: Query,
    captures: Vec<Cap>,
    /// Indexed by node kind id: whether that kind is a usage.
    usage_kinds: Vec<bool>,
}

impl Spec {
    /// The compiled query, or why it does not compile.
    pub(crate) fn compiled(&self) -> Result<&Compiled, &str> {
        self.compiled
            .get_or_init(|| self.compile())
            .as_ref()
            .map_err(String::as_str)
    }

    fn compile(&self) -> Result<Compiled, String> {
        let language = (self.grammar)();
        let query = Query::new(&language, self.query).map_err(|e| format!("the query: {e}"))?;
        let captures = query
            .capture_names()
            .iter()
            .map(|n| match *n {
                "definition.class" => Cap::Class,
                "definition.function" => Cap::Function,
                "definition.method" => Cap::Method,
                "scope" => Cap::Scope,
                "name" => Cap::Name,
                "owner" => Cap::Owner,
                "import" => Cap::Import,
                "module" => Cap::Module,
                _ => Cap::Other,
            })
            .collect();
        let mut usage_kinds = vec![false; language.node_kind_count()];
        for kind in self.usages {
            let id = language.id_for_node_kind(kind, true);
            if id == 0 {
                return Err(format!("no node kind `{kind}` in the grammar"));
            }
            usage_kinds[usize::from(id)] = true;
        }
        // A kind name can have several ids (aliases): take them all.
        for (id, usage) in usage_kinds.iter_mut().enumerate() {
            let id16 = u16::try_from(id).unwrap_or(u16::MAX);
            if language.node_kind_is_named(id16)
                && language
                    .node_kind_for_id(id16)
                    .is_some_and(|k| self.usages.contains(&k))
            {
                *usage = true;
            }
        }
        Ok(Compiled {
            query,
            captures,
            usage_kinds,
        })
    }
}

/// One definition or scope found by the query.
struct Item<'t> {
    kind: Cap,
    node: Node<'t>,
    name: Node<'t>,
    owner: Option<Node<'t>>,
    pattern: usize,
}

/// An enclosing definition or scope while qualified names are made.
struct Frame {
    end: usize,
    qualified: String,
    /// The entity, when the frame is a class.
    class: Option<usize>,
}

/// Extracts entities, imports, usages and issues from `tree` with `spec`.
pub(crate) fn extract(spec: &Spec, tree: &Tree, source: &[u8]) -> Parsed {
    let compiled = match spec.compiled() {
        Ok(c) => c,
        Err(e) => {
            return Parsed {
                issues: vec![Issue {
                    kind: "parse_failure".into(),
                    line: 1,
                    column: 1,
                    message: format!("the language's query does not compile: {e}"),
                }],
                ..Parsed::default()
            };
        }
    };
    let mut parsed = Parsed::default();
    let (items, imports) = run_query(compiled, tree, source);
    parsed.imports = imports;
    let mut def_names: Vec<usize> = Vec::with_capacity(items.len());
    build_entities(spec, &items, source, &mut parsed, &mut def_names);
    def_names.sort_unstable();
    let mut usages = Usages::default();
    let mut issues = Vec::new();
    traverse(tree, &mut issues, |node, _| {
        if compiled
            .usage_kinds
            .get(usize::from(node.kind_id()))
            .copied()
            .unwrap_or(false)
            && def_names.binary_search(&node.start_byte()).is_err()
        {
            usages.add(node, source);
        }
    });
    usages.into_parsed(&mut parsed);
    parsed.issues = issues;
    (parsed.refs, parsed.bindings) =
        decl_refs::scan(spec.family, tree, source, &parsed.entities, &def_names);
    parsed
}

/// The query's definitions (one per node: the first pattern wins) in source order, outer
/// ones first, and its imports.
fn run_query<'t>(
    compiled: &Compiled,
    tree: &'t Tree,
    source: &[u8],
) -> (Vec<Item<'t>>, Vec<Import>) {
    let mut cursor = QueryCursor::new();
    let mut matches = cursor.matches(&compiled.query, tree.root_node(), source);
    let mut items: Vec<Item<'t>> = Vec::new();
    let mut by_node: HashMap<usize, usize> = HashMap::new();
    let mut imports: Vec<(usize, usize, Import)> = Vec::new();
    let mut import_nodes: HashSet<usize> = HashSet::new();
    while let Some(m) = matches.next() {
        let mut def: Option<(Cap, Node<'t>)> = None;
        let mut name = None;
        let mut owner = None;
        let mut import = None;
        let mut module = None;
        for c in m.captures {
            match compiled.captures[c.index as usize] {
                k @ (Cap::Class | Cap::Function | Cap::Method | Cap::Scope) => {
                    def = Some((k, c.node));
                }
                Cap::Name => name = Some(c.node),
                Cap::Owner => owner = Some(c.node),
                Cap::Import => import = Some(c.node),
                Cap::Module => module = Some(c.node),
                Cap::Other => {}
            }
        }
        if let Some(node) = import
            && import_nodes.insert(node.id())
        {
            let module = match module {
                Some(m) => text(m, source)
                    .trim_matches(|c| matches!(c, '"' | '\'' | '`' | '<' | '>'))
                    .to_owned(),
                // The statement without its keyword: `java.util.List` of `import java.util.List;`.
                None => {
                    let t = text(node, source).trim().trim_end_matches(';');
                    let t = t.strip_prefix("import").unwrap_or(t).trim();
                    t.chars().take(200).collect()
                }
            };
            let module = Some(module);
            imports.push((
                node.start_byte(),
                m.pattern_index,
                Import {
                    module,
                    name: None,
                    alias: None,
                    line: line(node),
                },
            ));
        }
        let (Some((kind, node)), Some(name)) = (def, name) else {
            continue;
        };
        let item = Item {
            kind,
            node,
            name,
            owner,
            pattern: m.pattern_index,
        };
        match by_node.get(&node.id()) {
            Some(&i) if items[i].pattern <= item.pattern => {}
            Some(&i) => items[i] = item,
            None => {
                by_node.insert(node.id(), items.len());
                items.push(item);
            }
        }
    }
    items.sort_by_key(|i| (i.node.start_byte(), std::cmp::Reverse(i.node.end_byte())));
    imports.sort_by_key(|(start, pattern, _)| (*start, *pattern));
    (items, imports.into_iter().map(|(.., i)| i).collect())
}

fn build_entities(
    spec: &Spec,
    items: &[Item<'_>],
    source: &[u8],
    parsed: &mut Parsed,
    def_names: &mut Vec<usize>,
) {
    let namespaces: HashSet<String> = if spec.owner_may_be_namespace {
        items
            .iter()
            .filter(|i| i.kind == Cap::Scope)
            .filter_map(|i| (spec.name)(i.name, source))
            .flat_map(|n| {
                n.name
                    .split(spec.separator)
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
            })
            .collect()
    } else {
        HashSet::new()
    };
    let sep = spec.separator;
    let mut frames: Vec<Frame> = Vec::new();
    // The end of the outer node of the definition last added, when it had no body: an
    // overload signature the next sibling of the same name merges with.
    let mut last_signature_end: Option<usize> = None;
    for item in items {
        let start = item.node.start_byte();
        while frames.last().is_some_and(|f| f.end <= start) {
            frames.pop();
        }
        let Some(named) = (spec.name)(item.name, source) else {
            continue;
        };
        def_names.push(item.name.start_byte());
        let prefix = frames.last().map(|f| f.qualified.as_str()).unwrap_or("");
        let join = |a: &str, b: &str| {
            if a.is_empty() {
                b.to_owned()
            } else {
                format!("{a}{sep}{b}")
            }
        };
        let owner = named
            .owner
            .clone()
            .or_else(|| item.owner.map(|o| (spec.owner)(o, source)))
            .filter(|o| !o.is_empty());
        let owned = owner
            .as_deref()
            .map_or_else(|| prefix.to_owned(), |o| join(prefix, o));
        let qualified = join(&owned, &named.name);
        if item.kind == Cap::Scope {
            frames.push(Frame {
                end: item.node.end_byte(),
                qualified,
                class: None,
            });
            continue;
        }
        let (kind, parent) = match (item.kind, owner.as_deref()) {
            (Cap::Class, _) => (EntityKind::Class, None),
            (_, Some(o)) => {
                let last = o.rsplit(sep).next().unwrap_or(o);
                if namespaces.contains(last) {
                    (EntityKind::Function, None)
                } else {
                    let class = parsed
                        .entities
                        .iter()
                        .rposition(|e| e.kind == EntityKind::Class && e.qualified_name == owned);
                    let class = class.or_else(|| {
                        parsed
                            .entities
                            .iter()
                            .rposition(|e| e.kind == EntityKind::Class && e.name == last)
                    });
                    (EntityKind::Method, class)
                }
            }
            (Cap::Method, None) => (
                EntityKind::Method,
                frames.iter().rev().find_map(|f| f.class),
            ),
            (_, None) if is_member(spec, item.node) => (
                EntityKind::Method,
                frames.iter().rev().find_map(|f| f.class),
            ),
            _ => (EntityKind::Function, None),
        };
        let outer = outer(spec, item.node);
        let merged = spec.merge_overloads
            && last_signature_end.is_some_and(|end| {
                previous_sibling(spec, outer).is_some_and(|p| p.end_byte() == end)
            })
            && parsed
                .entities
                .last()
                .is_some_and(|e| e.kind == kind && e.qualified_name == qualified);
        if merged && let Some(e) = parsed.entities.last_mut() {
            e.end_line = i64::try_from(outer.end_position().row).unwrap_or(i64::MAX) + 1;
            e.end_byte = outer.end_byte() as i64;
            e.signature = signature(item.node, outer, source);
        } else {
            parsed.entities.push(Entity {
                kind,
                name: named.name,
                qualified_name: qualified.clone(),
                start_line: line(outer),
                end_line: i64::try_from(outer.end_position().row).unwrap_or(i64::MAX) + 1,
                start_byte: outer.start_byte() as i64,
                end_byte: outer.end_byte() as i64,
                signature: signature(item.node, outer, source),
                docstring: doc_comment(spec, outer, source),
                parent,
            });
        }
        let bodiless = item.node.child_by_field_name("body").is_none()
            && item.node.child_by_field_name("value").is_none();
        last_signature_end = bodiless.then(|| outer.end_byte());
        let index = parsed.entities.len() - 1;
        frames.push(Frame {
            end: item.node.end_byte(),
            qualified,
            class: (kind == EntityKind::Class).then_some(index),
        });
    }
}

/// The node itself, or the wrappers around it (`export`, `template<...>`, `declare`) of
/// which it is the only declaration.
fn outer<'t>(spec: &Spec, node: Node<'t>) -> Node<'t> {
    let mut outer = node;
    while let Some(parent) = outer.parent() {
        if !spec.wrappers.contains(&parent.kind()) {
            break;
        }
        let mut cursor = parent.walk();
        let alone = parent
            .named_children(&mut cursor)
            .filter(|c| c.kind() == outer.kind())
            .count()
            == 1;
        if !alone {
            break;
        }
        outer = parent;
    }
    outer
}

/// Whether `node`'s parent, past wrappers and transparent kinds, is a class body.
fn is_member(spec: &Spec, node: Node<'_>) -> bool {
    if spec.member_of.is_empty() {
        return false;
    }
    let mut parent = node.parent();
    while let Some(p) = parent {
        let kind = p.kind();
        if spec.member_of.contains(&kind) {
            return true;
        }
        if !spec.transparent.contains(&kind) && !spec.wrappers.contains(&kind) {
            return false;
        }
        parent = p.parent();
    }
    false
}

/// The named sibling before `node`, comments skipped.
fn previous_sibling<'t>(spec: &Spec, node: Node<'t>) -> Option<Node<'t>> {
    let mut prev = node.prev_named_sibling();
    while let Some(p) = prev {
        if !spec.comments.contains(&p.kind()) {
            return Some(p);
        }
        prev = p.prev_named_sibling();
    }
    None
}

/// The header: from the start of `outer` to the body of `node` (or its value's body, for
/// `const f = () => {...}`), else up to its first `{`, whitespace collapsed, at most 400
/// bytes.
fn signature(node: Node<'_>, outer: Node<'_>, source: &[u8]) -> Option<String> {
    let body = node.child_by_field_name("body").or_else(|| {
        node.child_by_field_name("value")
            .and_then(|v| v.child_by_field_name("body"))
    });
    let end = body.map_or(outer.end_byte(), |b| b.start_byte());
    let raw = std::str::from_utf8(&source[outer.start_byte()..end.max(outer.start_byte())]).ok()?;
    // Without a body field (`type S struct {...}`, `typedef struct {...} X`): up to the brace.
    let raw = if body.is_none() {
        raw.split('{').next().unwrap_or(raw)
    } else {
        raw
    };
    let mut out = String::new();
    for word in raw.split_whitespace() {
        if out.len() + word.len() > 400 {
            break;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    let out = out.trim_end_matches(['{', ';', '=', ' ']).to_owned();
    (!out.is_empty()).then_some(out)
}

/// The comments right above `node` (no blank line between), markers stripped.
fn doc_comment(spec: &Spec, node: Node<'_>, source: &[u8]) -> Option<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut row = node.start_position().row;
    let mut prev = node.prev_sibling();
    while let Some(p) = prev {
        if !spec.comments.contains(&p.kind()) || p.end_position().row + 1 < row {
            break;
        }
        let mut block: Vec<String> = text(p, source)
            .lines()
            .map(|l| {
                l.trim()
                    .trim_start_matches("/**")
                    .trim_start_matches("/*")
                    .trim_end_matches("*/")
                    .trim_start_matches('/')
                    .trim_start_matches('*')
                    .trim()
                    .to_owned()
            })
            .collect();
        block.retain(|l| !l.is_empty());
        block.append(&mut lines);
        lines = block;
        row = p.start_position().row;
        prev = p.prev_sibling();
    }
    (!lines.is_empty()).then(|| lines.join("\n"))
}
