//! References of the declarative languages (TypeScript/TSX/JavaScript, Go, Java, C, C++) as
//! one file shows them, written as specs the resolver (`crate::resolve::decl`) finishes
//! with the whole project in view.
//!
//! What the syntax tree shows cheaply and no more: each file's imports (bound to the names
//! they introduce), the local scopes of functions and blocks (a parameter or local variable
//! named like a definition hides it: its uses are no references), `this.x` inside a class,
//! and a member through an imported namespace or package (`ns.f()`, `pkg.F()`). Every
//! other identifier that can name a definition is a reference by name.
//!
//! # Spec notation
//!
//! `ROOT|PATH`, as Python's (`lang::python_refs`):
//!
//! * `M:MODULE|PATH`: `PATH` (`.`-separated names, empty for the module itself) in the
//!   module an import names: `M:./util|helper` (TypeScript/JavaScript, the import's
//!   string), `M:example.com/app/store|Open` (Go, the import path), `M:com.acme.model|User`
//!   (Java, the package), `M:"util.h"|` or `M:<util.h>|` (C/C++ includes, as written).
//! * `L:QUALNAME|name`: a plain name used inside the definition `QUALNAME` (empty at file
//!   level): the innermost definition of this file that encloses it by the language's
//!   rules, then the file's package (Go, Java: same directory), then included headers
//!   (C/C++), then by name.
//! * `C:CLASS|name`: `this.name` in a method of `CLASS` (inferred).
//! * `N:|name`: by name only (a member of an unknown receiver).
//!
//! Bindings left for the other files (TypeScript/JavaScript re-exports): `export {a as b}
//! from './m'` binds `b` to `M:./m|a`; `export * from './m'` binds `*` to `M:./m|`;
//! `export {a}` of an imported `a` binds `a` to the import's spec.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, HashSet};

use codedb_core::store::{Binding, Entity, RefKind, SymbolicRef};
use tree_sitter::{Node, Tree};

use super::{text, traverse};

/// Which rules a declarative language's references follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Family {
    /// No references.
    None,
    /// TypeScript, TSX, JavaScript.
    Ecma,
    Go,
    Java,
    /// C and C++.
    C,
}

/// One stored reference row before its positions are gathered: spec, kind, name.
type Group = (String, RefKind, String);

struct Scanner<'s, 't> {
    family: Family,
    /// The nodes from the root down to the one being visited: a node's parent is read here,
    /// as tree-sitter's own `parent()` walks down from the root (quadratic in a file of
    /// many top-level items).
    ancestors: RefCell<Vec<Node<'t>>>,
    source: &'s [u8],
    /// Names an import binds at file level -> the spec of what they name.
    imported: HashMap<&'s str, String>,
    groups: BTreeMap<Group, Vec<(u32, u32)>>,
    bindings: BTreeMap<(String, String), Vec<String>>,
}

/// The references and bindings of a file of `family`, whose definitions are `entities`
/// named at the (sorted) start bytes `def_names`.
pub(super) fn scan(
    family: Family,
    tree: &Tree,
    source: &[u8],
    entities: &[Entity],
    def_names: &[usize],
) -> (Vec<SymbolicRef>, Vec<Binding>) {
    if family == Family::None {
        return (Vec::new(), Vec::new());
    }
    let mut s = Scanner {
        family,
        ancestors: RefCell::new(Vec::new()),
        source,
        imported: HashMap::new(),
        groups: BTreeMap::new(),
        bindings: BTreeMap::new(),
    };
    s.imports(tree.root_node());
    s.names(tree, entities, def_names);
    s.finish()
}

fn position(node: Node<'_>) -> (u32, u32) {
    let p = node.start_position();
    (
        u32::try_from(p.row + 1).unwrap_or(u32::MAX),
        u32::try_from(p.column + 1).unwrap_or(u32::MAX),
    )
}

/// A string literal's content: quotes (and C's `<>`) stripped.
fn unquote(raw: &str) -> &str {
    raw.trim()
        .trim_matches(|c| matches!(c, '"' | '\'' | '`'))
        .trim()
}

/// An enclosing definition while names are scanned.
struct Frame<'e> {
    end: usize,
    entity: &'e Entity,
}

impl<'s, 't> Scanner<'s, 't> {
    fn text(&self, node: Node<'_>) -> &'s str {
        text(node, self.source)
    }

    /// `node`'s parent: from the visit's ancestors when `node` is among them.
    fn parent(&self, node: Node<'t>) -> Option<Node<'t>> {
        let ancestors = self.ancestors.borrow();
        match ancestors.iter().rposition(|a| a.id() == node.id()) {
            Some(i) => i.checked_sub(1).map(|j| ancestors[j]),
            None => node.parent(),
        }
    }

    fn add(&mut self, spec: String, kind: RefKind, name: &str, node: Node<'_>) {
        if name.is_empty() {
            return;
        }
        self.groups
            .entry((spec, kind, name.to_owned()))
            .or_default()
            .push(position(node));
    }

    fn bind(&mut self, name: &str, spec: String) {
        let specs = self
            .bindings
            .entry((String::new(), name.to_owned()))
            .or_default();
        if !specs.contains(&spec) {
            specs.push(spec);
        }
    }

    /// The file-level imports: bound names and import references.
    fn imports(&mut self, root: Node<'_>) {
        let mut cursor = root.walk();
        let top: Vec<Node<'_>> = root.named_children(&mut cursor).collect();
        for node in top {
            match (self.family, node.kind()) {
                (Family::Ecma, "import_statement") => self.ecma_import(node),
                (Family::Ecma, "export_statement") => self.ecma_export(node),
                (Family::Ecma, "lexical_declaration" | "variable_declaration") => {
                    self.ecma_require(node);
                }
                (Family::Go, "import_declaration") => {
                    let mut c = node.walk();
                    for child in node.named_children(&mut c) {
                        if child.kind() == "import_spec" {
                            self.go_import(child);
                        } else if child.kind() == "import_spec_list" {
                            let mut c2 = child.walk();
                            for spec in child.named_children(&mut c2) {
                                if spec.kind() == "import_spec" {
                                    self.go_import(spec);
                                }
                            }
                        }
                    }
                }
                (Family::Java, "import_declaration") => self.java_import(node),
                (Family::C, "preproc_include") => self.c_include(node),
                (Family::C, _) if node.kind().starts_with("preproc_") => {
                    // Includes inside `#ifndef` guards.
                    let mut c = node.walk();
                    for child in node.named_children(&mut c) {
                        if child.kind() == "preproc_include" {
                            self.c_include(child);
                        }
                    }
                }
                _ => {}
            }
        }
    }

    fn ecma_module(&self, source: Node<'_>) -> &'s str {
        unquote(self.text(source))
    }

    fn ecma_import(&mut self, node: Node<'_>) {
        let mut cursor = node.walk();
        let children: Vec<Node<'_>> = node.named_children(&mut cursor).collect();
        // `import x = require('m')`.
        if let Some(req) = children
            .iter()
            .find(|c| c.kind() == "import_require_clause")
        {
            let (Some(name), Some(src)) = (
                req.named_child(0).filter(|n| n.kind() == "identifier"),
                req.child_by_field_name("source"),
            ) else {
                return;
            };
            let module = self.ecma_module(src);
            let spec = format!("M:{module}|");
            self.add(spec.clone(), RefKind::Import, module, src);
            self.imported.insert(self.text(name), spec);
            return;
        }
        let Some(src) = node.child_by_field_name("source") else {
            return;
        };
        let module = self.ecma_module(src);
        self.add(format!("M:{module}|"), RefKind::Import, module, src);
        for clause in children.iter().filter(|c| c.kind() == "import_clause") {
            let mut c = clause.walk();
            for part in clause.named_children(&mut c) {
                match part.kind() {
                    // The default export, under the importer's name for it.
                    "identifier" => {
                        let s = format!("M:{module}|default");
                        self.add(s.clone(), RefKind::Import, self.text(part), part);
                        self.imported.insert(self.text(part), s);
                    }
                    "namespace_import" => {
                        if let Some(id) = last_named(part, "identifier") {
                            self.imported.insert(self.text(id), format!("M:{module}|"));
                        }
                    }
                    "named_imports" => {
                        let mut c2 = part.walk();
                        for spec in part.named_children(&mut c2) {
                            if spec.kind() != "import_specifier" {
                                continue;
                            }
                            let Some(name) = spec.child_by_field_name("name") else {
                                continue;
                            };
                            let alias = spec.child_by_field_name("alias");
                            let imported = self.text(name);
                            let s = format!("M:{module}|{imported}");
                            self.add(s.clone(), RefKind::Import, imported, name);
                            if let Some(a) = alias {
                                self.add(s.clone(), RefKind::Import, self.text(a), a);
                            }
                            self.imported.insert(self.text(alias.unwrap_or(name)), s);
                        }
                    }
                    _ => {}
                }
            }
        }
    }

    fn ecma_export(&mut self, node: Node<'_>) {
        // `export default class A {}`, `export default function f() {}`, `export default a;`:
        // what an importer's default import names (`L:` a definition of this file).
        if node
            .children(&mut node.walk())
            .any(|c| c.kind() == "default")
        {
            let named = node
                .child_by_field_name("declaration")
                .and_then(|d| d.child_by_field_name("name"))
                .map(|n| format!("L:{}", self.text(n)));
            let value = node
                .child_by_field_name("value")
                .filter(|v| v.kind() == "identifier")
                .map(|v| {
                    let name = self.text(v);
                    self.imported
                        .get(name)
                        .cloned()
                        .unwrap_or_else(|| format!("L:{name}"))
                });
            if let Some(spec) = named.or(value) {
                self.bind("default", spec);
            }
            return;
        }
        let src = node.child_by_field_name("source");
        let module = src.map(|s| self.ecma_module(s));
        if let (Some(src), Some(module)) = (src, module) {
            self.add(format!("M:{module}|"), RefKind::Import, module, src);
        }
        let mut cursor = node.walk();
        let mut clause = None;
        for child in node.named_children(&mut cursor) {
            if child.kind() == "export_clause" {
                clause = Some(child);
            }
        }
        match (clause, module) {
            (None, Some(module)) => {
                // `export * from './m'` (`export * as ns` binds nothing by name here).
                if !node
                    .named_children(&mut node.walk())
                    .any(|c| c.kind() == "namespace_export")
                {
                    self.bind("*", format!("M:{module}|"));
                }
            }
            (Some(clause), module) => {
                let mut c = clause.walk();
                for spec in clause.named_children(&mut c) {
                    if spec.kind() != "export_specifier" {
                        continue;
                    }
                    let Some(name) = spec.child_by_field_name("name") else {
                        continue;
                    };
                    let alias = spec.child_by_field_name("alias");
                    let exported = self.text(alias.unwrap_or(name));
                    let inner = self.text(name);
                    let target = match module {
                        Some(m) => Some(format!("M:{m}|{inner}")),
                        None => self.imported.get(inner).cloned(),
                    };
                    if let Some(t) = target {
                        if module.is_some() {
                            self.add(t.clone(), RefKind::Import, inner, name);
                        }
                        self.bind(exported, t);
                    }
                }
            }
            (None, None) => {}
        }
    }

    /// `const m = require('./m')` at file level.
    fn ecma_require(&mut self, node: Node<'_>) {
        let mut cursor = node.walk();
        for decl in node.named_children(&mut cursor) {
            if decl.kind() != "variable_declarator" {
                continue;
            }
            let (Some(name), Some(value)) = (
                decl.child_by_field_name("name")
                    .filter(|n| n.kind() == "identifier"),
                decl.child_by_field_name("value"),
            ) else {
                continue;
            };
            if value.kind() != "call_expression"
                || value
                    .child_by_field_name("function")
                    .is_none_or(|f| self.text(f) != "require")
            {
                continue;
            }
            let Some(arg) = value
                .child_by_field_name("arguments")
                .and_then(|a| a.named_child(0))
                .filter(|a| a.kind() == "string")
            else {
                continue;
            };
            let module = self.ecma_module(arg);
            let spec = format!("M:{module}|");
            self.add(spec.clone(), RefKind::Import, module, arg);
            self.imported.insert(self.text(name), spec);
        }
    }

    fn go_import(&mut self, spec: Node<'_>) {
        let Some(path) = spec.child_by_field_name("path") else {
            return;
        };
        let module = unquote(self.text(path));
        if module.is_empty() {
            return;
        }
        let s = format!("M:{module}|");
        self.add(s.clone(), RefKind::Import, module, path);
        let name = match spec.child_by_field_name("name") {
            Some(n) if n.kind() == "package_identifier" => self.text(n),
            Some(_) => return,
            // The package's name is, by convention, its path's last element (a `vN`
            // major-version suffix skipped).
            None => {
                let mut parts = module.rsplit('/');
                let last = parts.next().unwrap_or(module);
                let is_version = last.len() > 1
                    && last.starts_with('v')
                    && last[1..].chars().all(|c| c.is_ascii_digit());
                if is_version {
                    parts.next().unwrap_or(last)
                } else {
                    last
                }
            }
        };
        self.imported.insert(name, s);
    }

    fn java_import(&mut self, node: Node<'_>) {
        let raw = self.text(node).trim().trim_end_matches(';').trim();
        let raw = raw.strip_prefix("import").unwrap_or(raw).trim();
        let (is_static, raw) = match raw.strip_prefix("static") {
            Some(rest) if rest.starts_with(char::is_whitespace) => (true, rest.trim()),
            _ => (false, raw),
        };
        let dotted: String = raw.chars().filter(|c| !c.is_whitespace()).collect();
        if let Some(package) = dotted.strip_suffix(".*") {
            // `import p.*;`: the package's classes become plain names (`M:p|*`, which the
            // resolver reads as a package opened); static members stay by name.
            if !is_static
                && let Some(node) =
                    last_named(node, "scoped_identifier").or_else(|| last_named(node, "identifier"))
            {
                let name = package.rsplit('.').next().unwrap_or(package);
                self.add(format!("M:{package}|*"), RefKind::Import, name, node);
            }
            return;
        }
        let Some(last) = last_named(node, "scoped_identifier")
            .and_then(|s| s.child_by_field_name("name"))
            .or_else(|| last_named(node, "identifier"))
        else {
            return;
        };
        let parts: Vec<&str> = dotted.split('.').collect();
        // The package: the lowercase parts before the first capitalized one.
        let split = parts
            .iter()
            .position(|p| p.starts_with(|c: char| c.is_uppercase()))
            .unwrap_or(parts.len().saturating_sub(if is_static { 2 } else { 1 }));
        let package = parts[..split].join(".");
        let path = parts[split..].join(".");
        if path.is_empty() {
            return;
        }
        let spec = format!("M:{package}|{path}");
        let name = self.text(last);
        self.add(spec.clone(), RefKind::Import, name, last);
        self.imported.insert(name, spec);
    }

    fn c_include(&mut self, node: Node<'_>) {
        let Some(path) = node.child_by_field_name("path") else {
            return;
        };
        let raw = self.text(path).trim();
        if raw.len() < 2 {
            return;
        }
        self.add(format!("M:{raw}|"), RefKind::Import, raw, path);
    }

    /// Every name that can refer to a definition, outside the imports.
    fn names(&mut self, tree: &'t Tree, entities: &[Entity], def_names: &[usize]) {
        let mut sorted: Vec<&Entity> = entities.iter().collect();
        sorted.sort_by_key(|e| (e.start_byte, std::cmp::Reverse(e.end_byte)));
        let mut next = 0;
        let mut frames: Vec<Frame<'_>> = Vec::new();
        // (depth, names bound in it).
        let mut scopes: Vec<(usize, HashSet<&'s str>)> = Vec::new();
        let mut skip_until = 0usize;
        let mut issues = Vec::new();
        let mut sites: Vec<(String, RefKind, &'s str, (u32, u32))> = Vec::new();
        traverse(tree, &mut issues, |node, depth| {
            {
                let mut ancestors = self.ancestors.borrow_mut();
                ancestors.truncate(depth);
                ancestors.push(node);
            }
            let start = node.start_byte();
            while scopes.last().is_some_and(|(d, _)| *d >= depth) {
                scopes.pop();
            }
            while frames.last().is_some_and(|f| f.end <= start) {
                frames.pop();
            }
            while next < sorted.len()
                && usize::try_from(sorted[next].start_byte).unwrap_or(0) <= start
            {
                let e = sorted[next];
                if usize::try_from(e.end_byte).unwrap_or(0) > start {
                    frames.push(Frame {
                        end: usize::try_from(e.end_byte).unwrap_or(0),
                        entity: e,
                    });
                }
                next += 1;
            }
            if start < skip_until {
                return;
            }
            let kind = node.kind();
            if self.is_import(node) {
                skip_until = node.end_byte();
                return;
            }
            if self.is_scope(kind) {
                scopes.push((depth, HashSet::new()));
                return;
            }
            if !self.is_name(kind) || def_names.binary_search(&start).is_ok() {
                return;
            }
            let name = self.text(node);
            if name.is_empty() {
                return;
            }
            if self.declares(node) {
                if let Some((_, names)) = scopes.last_mut() {
                    names.insert(name);
                }
                return;
            }
            if self.is_member(node) {
                let spec = self.member_spec(node, &frames, &scopes);
                if let Some(spec) = spec {
                    sites.push((spec, self.kind_of(node), name, position(node)));
                }
                return;
            }
            if scopes.iter().any(|(_, names)| names.contains(name)) {
                return;
            }
            if self.is_receiver_of_import(node) {
                return;
            }
            let spec = match self.imported.get(name) {
                Some(spec) => spec.clone(),
                None => {
                    let qual = frames
                        .last()
                        .map_or("", |f| f.entity.qualified_name.as_str());
                    format!("L:{qual}|{name}")
                }
            };
            sites.push((spec, self.kind_of(node), name, position(node)));
        });
        for (spec, kind, name, at) in sites {
            self.groups
                .entry((spec, kind, name.to_owned()))
                .or_default()
                .push(at);
        }
    }

    fn is_import(&self, node: Node<'_>) -> bool {
        match self.family {
            Family::Ecma => {
                node.kind() == "import_statement"
                    || (node.kind() == "export_statement"
                        && node.child_by_field_name("source").is_some())
            }
            Family::Go => node.kind() == "import_declaration",
            Family::Java => matches!(node.kind(), "import_declaration" | "package_declaration"),
            Family::C => node.kind() == "preproc_include",
            Family::None => false,
        }
    }

    fn is_scope(&self, kind: &str) -> bool {
        match self.family {
            Family::Ecma => matches!(
                kind,
                "function_declaration"
                    | "function_expression"
                    | "function"
                    | "generator_function_declaration"
                    | "generator_function"
                    | "arrow_function"
                    | "method_definition"
                    | "statement_block"
                    | "for_statement"
                    | "for_in_statement"
                    | "catch_clause"
            ),
            Family::Go => matches!(
                kind,
                "function_declaration"
                    | "method_declaration"
                    | "func_literal"
                    | "block"
                    | "for_statement"
                    | "if_statement"
                    | "type_switch_statement"
            ),
            Family::Java => matches!(
                kind,
                "method_declaration"
                    | "constructor_declaration"
                    | "lambda_expression"
                    | "block"
                    | "for_statement"
                    | "enhanced_for_statement"
                    | "catch_clause"
                    | "try_with_resources_statement"
            ),
            Family::C => matches!(
                kind,
                "function_definition"
                    | "compound_statement"
                    | "for_statement"
                    | "lambda_expression"
            ),
            Family::None => false,
        }
    }

    fn is_name(&self, kind: &str) -> bool {
        match self.family {
            Family::Ecma => matches!(
                kind,
                "identifier"
                    | "property_identifier"
                    | "type_identifier"
                    | "shorthand_property_identifier"
                    | "shorthand_property_identifier_pattern"
            ),
            Family::Go => matches!(kind, "identifier" | "type_identifier" | "field_identifier"),
            Family::Java => matches!(kind, "identifier" | "type_identifier"),
            Family::C => matches!(kind, "identifier" | "type_identifier" | "field_identifier"),
            Family::None => false,
        }
    }

    /// Whether the name `node` is declared here (a parameter, a local variable, a
    /// destructured name, a type parameter), not used.
    fn declares(&self, node: Node<'t>) -> bool {
        let Some(parent) = self.parent(node) else {
            return false;
        };
        let is = |field: &str| parent.child_by_field_name(field) == Some(node);
        match self.family {
            Family::Ecma => match parent.kind() {
                _ if node.kind() == "shorthand_property_identifier_pattern" => true,
                "variable_declarator" => is("name"),
                "required_parameter" | "optional_parameter" => is("pattern"),
                "formal_parameters" | "array_pattern" | "rest_pattern" => true,
                "arrow_function" => is("parameter"),
                "catch_clause" => is("parameter"),
                "pair_pattern" => is("value"),
                "assignment_pattern" | "object_assignment_pattern" => is("left"),
                "type_parameter" => is("name"),
                "for_in_statement" => is("left") && parent.child_by_field_name("kind").is_some(),
                _ => false,
            },
            Family::Go => match parent.kind() {
                "parameter_declaration" | "variadic_parameter_declaration" => is("name"),
                "var_spec" | "const_spec" => is("name"),
                "type_parameter_declaration" => is("name"),
                "expression_list" => self.parent(parent).is_some_and(|g| {
                    matches!(g.kind(), "short_var_declaration" | "range_clause")
                        && g.child_by_field_name("left") == Some(parent)
                }),
                "range_clause" => is("left"),
                _ => false,
            },
            Family::Java => match parent.kind() {
                "formal_parameter" | "catch_formal_parameter" | "spread_parameter" => {
                    is("name") || node.kind() == "identifier"
                }
                "variable_declarator" | "enhanced_for_statement" | "resource" => is("name"),
                "inferred_parameters" => true,
                "lambda_expression" => is("parameters"),
                "type_parameter" => node.kind() == "type_identifier",
                _ => false,
            },
            Family::C => {
                if node.kind() != "identifier" {
                    return false;
                }
                let mut p = parent;
                let mut child = node;
                loop {
                    match p.kind() {
                        "pointer_declarator"
                        | "array_declarator"
                        | "reference_declarator"
                        | "parenthesized_declarator"
                        | "init_declarator" => {
                            if p.child_by_field_name("declarator") != Some(child)
                                && p.kind() != "reference_declarator"
                            {
                                return false;
                            }
                        }
                        "parameter_declaration" | "optional_parameter_declaration" => {
                            return p.child_by_field_name("declarator") == Some(child);
                        }
                        "declaration" => {
                            return p.child_by_field_name("declarator") == Some(child);
                        }
                        _ => return false,
                    }
                    child = p;
                    match self.parent(p) {
                        Some(pp) => p = pp,
                        None => return false,
                    }
                }
            }
            Family::None => false,
        }
    }

    /// Whether `node` is a member name after a receiver (`x.name`, `x->name`).
    fn is_member(&self, node: Node<'t>) -> bool {
        let Some(parent) = self.parent(node) else {
            return false;
        };
        let field = match (self.family, parent.kind()) {
            (Family::Ecma, "member_expression") => "property",
            (Family::Go, "selector_expression") => "field",
            (Family::Go, "qualified_type") => "name",
            (Family::Java, "method_invocation") => {
                return parent.child_by_field_name("name") == Some(node)
                    && parent.child_by_field_name("object").is_some();
            }
            (Family::Java, "field_access") => "field",
            (Family::C, "field_expression") => "field",
            _ => return false,
        };
        parent.child_by_field_name(field) == Some(node)
    }

    /// The spec of a member name: through an imported namespace or package, through
    /// `this`, else by name.
    fn member_spec(
        &self,
        node: Node<'t>,
        frames: &[Frame<'_>],
        scopes: &[(usize, HashSet<&'s str>)],
    ) -> Option<String> {
        let parent = self.parent(node)?;
        let object = match self.family {
            Family::Ecma | Family::Java => parent.child_by_field_name("object"),
            Family::Go if parent.kind() == "qualified_type" => {
                parent.child_by_field_name("package")
            }
            Family::Go => parent.child_by_field_name("operand"),
            Family::C => parent.child_by_field_name("argument"),
            Family::None => None,
        };
        let name = self.text(node);
        if let Some(object) = object {
            let object_text = self.text(object);
            let local = scopes.iter().any(|(_, n)| n.contains(object_text));
            if matches!(object.kind(), "identifier" | "package_identifier") && !local {
                return Some(match self.imported.get(object_text) {
                    Some(spec) if spec.ends_with('|') => format!("{spec}{name}"),
                    Some(spec) => format!("{spec}.{name}"),
                    None => {
                        let qual = frames
                            .last()
                            .map_or("", |f| f.entity.qualified_name.as_str());
                        format!("L:{qual}|{object_text}.{name}")
                    }
                });
            }
            if matches!(object.kind(), "this") || object_text == "this" {
                let class = frames
                    .iter()
                    .rev()
                    .find(|f| f.entity.kind == codedb_core::store::EntityKind::Class)?;
                return Some(format!("C:{}|{name}", class.entity.qualified_name));
            }
        }
        Some(format!("N:|{name}"))
    }

    /// Whether `node` is the receiver of a member through an import (`ns` of `ns.f`):
    /// the member is the reference.
    fn is_receiver_of_import(&self, node: Node<'t>) -> bool {
        let Some(spec) = self.imported.get(self.text(node)) else {
            return false;
        };
        if !spec.ends_with('|') {
            return false;
        }
        self.parent(node).is_some_and(|p| {
            let field = match p.kind() {
                "member_expression" | "method_invocation" | "field_access" => "object",
                "selector_expression" => "operand",
                "qualified_type" => "package",
                _ => return false,
            };
            p.child_by_field_name(field) == Some(node)
        })
    }

    /// How the name at `node` is used.
    fn kind_of(&self, node: Node<'t>) -> RefKind {
        let Some(parent) = self.parent(node) else {
            return RefKind::Read;
        };
        if parent.kind() == "method_invocation" && parent.child_by_field_name("name") == Some(node)
        {
            return RefKind::Call;
        }
        // The callee: the name itself, or the member expression it ends.
        let callee = if self.is_member(node) || parent.kind() == "qualified_identifier" {
            parent
        } else {
            node
        };
        if let Some(p) = self.parent(callee) {
            let called = match p.kind() {
                "call_expression" => p.child_by_field_name("function") == Some(callee),
                "new_expression" => p.child_by_field_name("constructor") == Some(callee),
                "object_creation_expression" => p.child_by_field_name("type") == Some(callee),
                "method_invocation" => p.child_by_field_name("name") == Some(node),
                _ => false,
            };
            if called {
                return RefKind::Call;
            }
        }
        let mut a = Some(parent);
        for _ in 0..4 {
            let Some(n) = a else { break };
            if matches!(
                n.kind(),
                "class_heritage"
                    | "extends_clause"
                    | "implements_clause"
                    | "extends_type_clause"
                    | "superclass"
                    | "super_interfaces"
                    | "extends_interfaces"
                    | "base_class_clause"
            ) {
                return RefKind::Inheritance;
            }
            a = self.parent(n);
        }
        if node.kind() == "type_identifier" {
            return RefKind::Annotation;
        }
        if self.is_member(node) {
            return RefKind::Attribute;
        }
        RefKind::Read
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

/// The last named child of `node` of kind `kind`.
fn last_named<'t>(node: Node<'t>, kind: &str) -> Option<Node<'t>> {
    let mut cursor = node.walk();
    node.named_children(&mut cursor)
        .filter(|c| c.kind() == kind)
        .last()
}
