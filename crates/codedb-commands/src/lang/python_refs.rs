//! Python references as one file shows them: which definition, import or external symbol
//! each name means, by Python's scope rules, written as a spec the resolver
//! (`crate::resolve::python`) finishes with the whole project in view.
//!
//! Two passes over the tree. The first builds the scopes (module, class, function, lambda,
//! comprehension) and what each binds: definitions, imports, assignments (with the value
//! expression, for aliases and constructor calls), annotated names and parameters, `self`
//! and `cls`, and everything else as opaque (loop targets, `with ... as`, `except ... as`).
//! The second looks every name up: local, enclosing functions (not class bodies), global,
//! builtin, honouring `global` and `nonlocal`; the binding that holds at the use is the last
//! one before it in the same scope, and in an enclosing scope the one all its bindings
//! agree on (the last definition or import otherwise, as `inferred`).
//!
//! # Spec notation
//!
//! `[~]ROOT|PATH`: `~` marks a reference through an inferred receiver type. `ROOT` is
//! `D:QUALNAME` (a definition of this file), `I:a.b` (the module `a.b`), `R:..a` (a module
//! relative to this file's package), `P:QUALNAME` (the bases of this file's class, for
//! `super()`), `G:name` (a module global this file does not bind: its star imports, else
//! the definitions of that name) or `N:` (an unknown receiver: `PATH` is one name, looked up
//! by name). `PATH` is `.`-separated names and `()` (the result of a call) walked from the
//! root: `I:os.path|join`, `~D:Parser|().parse`, `N:|get`.
//!
//! Bindings left for the other files: every module-level import, alias and annotated or
//! constructed variable; star imports (`*`); `__all__` (`A:name,name`); each class's bases
//! (`^`, in order), class attributes and the attributes methods assign on `self`; each
//! function's declared return type (`->`).

use std::collections::{BTreeMap, HashMap, HashSet};

use codedb_core::store::{Binding, Entity, RefKind, SymbolicRef};
use tree_sitter::{Node, Tree};

use super::text;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ScopeKind {
    Module,
    Class,
    Function,
    Comprehension,
}

/// What a name is bound to.
#[derive(Debug, Clone)]
enum Bind<'t> {
    /// A `def` or `class` of this file.
    Def(String),
    /// An import: the spec of what it binds.
    Import(String),
    /// `name = value`.
    Assign(Node<'t>),
    /// `name: T`, a variable: an instance of `T`.
    Annotated(Node<'t>),
    /// A parameter `name: T`: an instance of `T`, read in the enclosing scope.
    ParamAnnotated(Node<'t>),
    /// The first parameter of a method: an instance of the class.
    SelfParam(String),
    /// The first parameter of a classmethod: the class.
    ClsParam(String),
    /// Anything else (a loop target, `with ... as`, an unannotated parameter).
    Opaque,
    /// Whatever a module-level star import after the last binding brought, if it exports
    /// the name (else that binding): looked up as a global through the star imports.
    Star,
}

struct Scope<'s, 't> {
    kind: ScopeKind,
    parent: Option<usize>,
    /// The qualified name of the class or function whose scope this is.
    qual: Option<String>,
    /// For a method's scope: its class.
    class: Option<String>,
    bindings: HashMap<&'s str, Vec<(usize, Bind<'t>)>>,
    globals: HashSet<&'s str>,
    nonlocals: HashSet<&'s str>,
}

/// Where a name stands, which decides its [`RefKind`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Context {
    Plain,
    Annotation,
    Decorator,
    Base,
    Store,
}

/// A name to look up in the second pass.
struct Site<'t> {
    /// An `identifier` or an `attribute`.
    node: Node<'t>,
    scope: usize,
    kind: RefKind,
}

/// Python builtins: names no file binds that are not references to the project.
const BUILTINS: &[&str] = &[
    "abs",
    "aiter",
    "all",
    "anext",
    "any",
    "ascii",
    "bin",
    "bool",
    "breakpoint",
    "bytearray",
    "bytes",
    "callable",
    "chr",
    "classmethod",
    "compile",
    "complex",
    "copyright",
    "credits",
    "delattr",
    "dict",
    "dir",
    "divmod",
    "enumerate",
    "eval",
    "exec",
    "exit",
    "filter",
    "float",
    "format",
    "frozenset",
    "getattr",
    "globals",
    "hasattr",
    "hash",
    "help",
    "hex",
    "id",
    "input",
    "int",
    "isinstance",
    "issubclass",
    "iter",
    "len",
    "license",
    "list",
    "locals",
    "map",
    "max",
    "memoryview",
    "min",
    "next",
    "object",
    "oct",
    "open",
    "ord",
    "pow",
    "print",
    "property",
    "quit",
    "range",
    "repr",
    "reversed",
    "round",
    "set",
    "setattr",
    "slice",
    "sorted",
    "staticmethod",
    "str",
    "sum",
    "super",
    "tuple",
    "type",
    "vars",
    "zip",
    "__import__",
    "__name__",
    "__file__",
    "__doc__",
    "__package__",
    "__spec__",
    "__loader__",
    "__builtins__",
    "__debug__",
    "__dict__",
    "__class__",
    "__path__",
    "__annotations__",
    "__qualname__",
    "__module__",
    "NotImplemented",
    "Ellipsis",
    "None",
    "True",
    "False",
    "BaseException",
    "BaseExceptionGroup",
    "Exception",
    "ExceptionGroup",
    "ArithmeticError",
    "AssertionError",
    "AttributeError",
    "BlockingIOError",
    "BrokenPipeError",
    "BufferError",
    "BytesWarning",
    "ChildProcessError",
    "ConnectionAbortedError",
    "ConnectionError",
    "ConnectionRefusedError",
    "ConnectionResetError",
    "DeprecationWarning",
    "EncodingWarning",
    "EOFError",
    "EnvironmentError",
    "FileExistsError",
    "FileNotFoundError",
    "FloatingPointError",
    "FutureWarning",
    "GeneratorExit",
    "ImportError",
    "ImportWarning",
    "IndentationError",
    "IndexError",
    "InterruptedError",
    "IOError",
    "IsADirectoryError",
    "KeyError",
    "KeyboardInterrupt",
    "LookupError",
    "MemoryError",
    "ModuleNotFoundError",
    "NameError",
    "NotADirectoryError",
    "NotImplementedError",
    "OSError",
    "OverflowError",
    "PendingDeprecationWarning",
    "PermissionError",
    "ProcessLookupError",
    "RecursionError",
    "ReferenceError",
    "ResourceWarning",
    "RuntimeError",
    "RuntimeWarning",
    "StopAsyncIteration",
    "StopIteration",
    "SyntaxError",
    "SyntaxWarning",
    "SystemError",
    "SystemExit",
    "TabError",
    "TimeoutError",
    "TypeError",
    "UnboundLocalError",
    "UnicodeDecodeError",
    "UnicodeEncodeError",
    "UnicodeError",
    "UnicodeTranslateError",
    "UnicodeWarning",
    "UserWarning",
    "ValueError",
    "Warning",
    "ZeroDivisionError",
    "WindowsError",
    "unicode",
    "basestring",
    "long",
    "xrange",
    "raw_input",
    "unichr",
    "reduce",
    "file",
    "execfile",
    "cmp",
    "buffer",
    "apply",
    "intern",
    "coerce",
    "reload",
];

/// How deep expressions and alias chains are followed (deeper yields no spec, never an
/// error or a stack overflow).
const MAX_DEPTH: usize = 48;

/// How deep the syntax tree is walked for sites: deeper than anything CPython compiles
/// (its parser stops at some thousands of nested nodes). The walk recurses, and grows its
/// stack on the heap as it goes deep (`stacker`), so no thread's stack bounds it; names
/// deeper than this are not sites (the file still indexes).
const MAX_VISIT_DEPTH: usize = 20_000;

/// Stack the walk keeps free before it recurses, and what it adds when it must.
const STACK_RED_ZONE: usize = 128 * 1024;
const STACK_GROWTH: usize = 4 * 1024 * 1024;

/// One stored reference row before its positions are gathered: spec, kind, name.
type RefGroup<'s> = (String, RefKind, &'s str);

/// The references and bindings of a Python file whose definitions are `entities`.
pub(super) fn scan(
    tree: &Tree,
    source: &[u8],
    entities: &[Entity],
) -> (Vec<SymbolicRef>, Vec<Binding>) {
    let quals: HashMap<usize, &str> = entities
        .iter()
        .map(|e| {
            (
                usize::try_from(e.start_byte).unwrap_or(usize::MAX),
                e.qualified_name.as_str(),
            )
        })
        .collect();
    let mut scanner = Scanner {
        source,
        quals,
        scopes: vec![Scope {
            kind: ScopeKind::Module,
            parent: None,
            qual: None,
            class: None,
            bindings: HashMap::new(),
            globals: HashSet::new(),
            nonlocals: HashSet::new(),
        }],
        sites: Vec::new(),
        imports: Vec::new(),
        star_imports: Vec::new(),
        star_positions: Vec::new(),
        unsure: HashSet::new(),
        all: Vec::new(),
        attributes: Vec::new(),
        returns: Vec::new(),
        bases: Vec::new(),
        writes: Vec::new(),
        string_annotations: Vec::new(),
        callee: None,
    };
    scanner.visit(tree.root_node(), 0, Context::Plain, 0);
    scanner.finish()
}

struct Scanner<'s, 't> {
    source: &'s [u8],
    /// Qualified names of the definitions, by start byte.
    quals: HashMap<usize, &'s str>,
    scopes: Vec<Scope<'s, 't>>,
    sites: Vec<Site<'t>>,
    /// Import references: (spec, identifier node).
    imports: Vec<(String, Node<'t>)>,
    /// Module-level star imports: module specs.
    star_imports: Vec<String>,
    /// Where each module-level star import takes effect (its statement's end).
    star_positions: Vec<usize>,
    /// (scope, name) bound by one of a `try`'s branches or another's: answers through it
    /// are `inferred`.
    unsure: HashSet<(usize, &'s str)>,
    /// `__all__` entries.
    all: Vec<String>,
    /// Class attributes: (class, name, value or annotation, annotated).
    attributes: Vec<(String, &'s str, Node<'t>, bool, usize)>,
    /// Declared return types: (function, annotation, scope of the annotation).
    returns: Vec<(String, Node<'t>, usize)>,
    /// Class bases: (class, base expression, scope).
    bases: Vec<(String, Node<'t>, usize)>,
    /// Names assigned to: a reference when they rebind a definition of the same scope.
    writes: Vec<(Node<'t>, usize)>,
    /// Names in string annotations (`"Foo"`, `"mod.Foo"`): (dotted text, start of the
    /// first name, scope).
    string_annotations: Vec<(&'s str, (u32, u32), usize)>,
    /// The `function` of the call whose callee is being visited (its node id): a name
    /// there is called. Kept here because asking a node for its parent walks the tree
    /// down from the root.
    callee: Option<usize>,
}

impl<'s, 't> Scanner<'s, 't> {
    fn text(&self, node: Node<'_>) -> &'s str {
        text(node, self.source)
    }

    fn push_scope(&mut self, kind: ScopeKind, parent: usize, qual: Option<String>) -> usize {
        self.scopes.push(Scope {
            kind,
            parent: Some(parent),
            qual,
            class: None,
            bindings: HashMap::new(),
            globals: HashSet::new(),
            nonlocals: HashSet::new(),
        });
        self.scopes.len() - 1
    }

    fn bind(&mut self, scope: usize, name: Node<'_>, bind: Bind<'t>) {
        self.bind_at(scope, name, bind, name.start_byte());
    }

    /// Binds `name` taking effect at byte `at` (an assignment's end: its right side still
    /// sees the binding before).
    fn bind_at(&mut self, scope: usize, name: Node<'_>, bind: Bind<'t>, at: usize) {
        let text = self.text(name);
        if text.is_empty() {
            return;
        }
        // `global`/`nonlocal` names are bound where they live.
        let mut target = scope;
        if self.scopes[scope].globals.contains(text) {
            target = 0;
        } else if self.scopes[scope].nonlocals.contains(text) {
            let mut s = self.scopes[scope].parent;
            while let Some(i) = s {
                if self.scopes[i].kind == ScopeKind::Function
                    && self.scopes[i].bindings.contains_key(text)
                {
                    target = i;
                    break;
                }
                s = self.scopes[i].parent;
            }
        }
        self.scopes[target]
            .bindings
            .entry(text)
            .or_default()
            .push((at, bind));
    }

    /// `try: import x` / `except ImportError: import y as x` (or `x = None`): which branch
    /// binds `x` depends on what is installed, so the except branch's binding is dropped
    /// and the try branch's is marked unsure (its answers are `inferred`, not `exact`).
    fn try_alternatives(&mut self, node: Node<'t>, scope: usize) {
        let Some(body) = node.child_by_field_name("body") else {
            return;
        };
        let mut cursor = node.walk();
        let handlers: Vec<(usize, usize)> = node
            .named_children(&mut cursor)
            .filter(|c| c.kind() == "except_clause")
            .map(|c| (c.start_byte(), c.end_byte()))
            .collect();
        let in_body = |p: usize| body.start_byte() <= p && p <= body.end_byte() + 1;
        let in_handler = |p: usize| handlers.iter().any(|&(a, b)| a <= p && p <= b + 1);
        let mut unsure = Vec::new();
        for (name, binds) in &mut self.scopes[scope].bindings {
            let imported = binds
                .iter()
                .any(|(p, b)| in_body(*p) && matches!(b, Bind::Import(_)));
            if imported && binds.iter().any(|(p, _)| in_handler(*p)) {
                binds.retain(|(p, _)| !in_handler(*p));
                unsure.push(*name);
            }
        }
        self.unsure.extend(unsure.into_iter().map(|n| (scope, n)));
    }

    /// Binds the names a target pattern (`a`, `a, b`, `[a, *b]`) assigns; attributes and
    /// subscripts in it are references, stored to.
    fn bind_targets(
        &mut self,
        target: Node<'t>,
        scope: usize,
        value: Option<Node<'t>>,
        depth: usize,
    ) {
        self.bind_targets_at(target, scope, value, target.end_byte(), depth);
    }

    fn bind_targets_at(
        &mut self,
        target: Node<'t>,
        scope: usize,
        value: Option<Node<'t>>,
        at: usize,
        depth: usize,
    ) {
        if depth > MAX_DEPTH {
            return;
        }
        match target.kind() {
            "identifier" => {
                let bind = value.map_or(Bind::Opaque, Bind::Assign);
                self.writes.push((target, scope));
                self.bind_at(scope, target, bind, at);
            }
            "pattern_list"
            | "tuple_pattern"
            | "list_pattern"
            | "expression_list"
            | "tuple"
            | "list"
            | "list_splat_pattern"
            | "parenthesized_expression" => {
                let mut cursor = target.walk();
                for child in target.named_children(&mut cursor) {
                    self.bind_targets_at(child, scope, None, at, depth + 1);
                }
            }
            "attribute" => {
                self.attribute_assigned(target, scope, value);
                self.visit(target, scope, Context::Store, depth + 1);
            }
            _ => self.visit(target, scope, Context::Plain, depth + 1),
        }
    }

    /// `self.name = value` in a method: an attribute of its class.
    fn attribute_assigned(&mut self, target: Node<'t>, scope: usize, value: Option<Node<'t>>) {
        let (Some(object), Some(attr), Some(value)) = (
            target.child_by_field_name("object"),
            target.child_by_field_name("attribute"),
            value,
        ) else {
            return;
        };
        if object.kind() != "identifier" {
            return;
        }
        let Some(class) = self.scopes[scope].class.clone() else {
            return;
        };
        let receiver = self.text(object);
        let is_self = self.scopes[scope]
            .bindings
            .get(receiver)
            .is_some_and(|b| b.iter().all(|(_, b)| matches!(b, Bind::SelfParam(_))));
        if is_self {
            let name = self.text(attr);
            self.attributes.push((class, name, value, false, scope));
        }
    }

    fn visit_children(&mut self, node: Node<'t>, scope: usize, context: Context, depth: usize) {
        let mut cursor = node.walk();
        for child in node.named_children(&mut cursor) {
            self.visit(child, scope, context, depth + 1);
        }
    }

    fn visit(&mut self, node: Node<'t>, scope: usize, context: Context, depth: usize) {
        if depth > MAX_VISIT_DEPTH {
            return;
        }
        stacker::maybe_grow(STACK_RED_ZONE, STACK_GROWTH, || {
            self.visit_node(node, scope, context, depth);
        });
    }

    fn visit_node(&mut self, node: Node<'t>, scope: usize, context: Context, depth: usize) {
        match node.kind() {
            "identifier" => self.sites.push(Site {
                node,
                scope,
                kind: kind_of(self.callee == Some(node.id()), context, RefKind::Read),
            }),
            "attribute" => {
                self.sites.push(Site {
                    node,
                    scope,
                    kind: kind_of(self.callee == Some(node.id()), context, RefKind::Attribute),
                });
                // The object's names are sites of their own.
                if let Some(object) = node.child_by_field_name("object") {
                    let inner = if context == Context::Store {
                        Context::Plain
                    } else {
                        context
                    };
                    let inner = if matches!(inner, Context::Base | Context::Decorator) {
                        Context::Plain
                    } else {
                        inner
                    };
                    self.visit(object, scope, inner, depth + 1);
                }
            }
            "call" => {
                if scope == 0 {
                    self.dunder_all_call(node);
                }
                if let Some(function) = node.child_by_field_name("function") {
                    let inner = match context {
                        Context::Annotation | Context::Decorator => context,
                        _ => Context::Plain,
                    };
                    self.callee = Some(function.id());
                    self.visit(function, scope, inner, depth + 1);
                }
                if let Some(arguments) = node.child_by_field_name("arguments") {
                    let inner = if context == Context::Annotation {
                        context
                    } else {
                        Context::Plain
                    };
                    self.visit(arguments, scope, inner, depth + 1);
                }
            }
            "keyword_argument" => {
                if let Some(value) = node.child_by_field_name("value") {
                    self.visit(value, scope, context, depth + 1);
                }
            }
            "class_definition" => self.class(node, scope, depth),
            "function_definition" => self.function(node, scope, depth),
            "decorated_definition" => {
                let mut cursor = node.walk();
                for child in node.named_children(&mut cursor) {
                    if child.kind() == "decorator" {
                        self.visit_children(child, scope, Context::Decorator, depth);
                    } else {
                        self.visit(child, scope, context, depth + 1);
                    }
                }
            }
            "lambda" => {
                let inner = self.push_scope(ScopeKind::Function, scope, None);
                if let Some(params) = node.child_by_field_name("parameters") {
                    self.parameters(params, scope, inner, None, depth);
                }
                if let Some(body) = node.child_by_field_name("body") {
                    self.visit(body, inner, Context::Plain, depth + 1);
                }
            }
            "list_comprehension"
            | "set_comprehension"
            | "dictionary_comprehension"
            | "generator_expression" => self.comprehension(node, scope, depth),
            "assignment" => {
                let left = node.child_by_field_name("left");
                let right = node.child_by_field_name("right");
                let ty = node.child_by_field_name("type");
                if let Some(ty) = ty {
                    self.visit(ty, scope, Context::Annotation, depth + 1);
                }
                if let Some(right) = right {
                    self.visit(right, scope, Context::Plain, depth + 1);
                }
                if let Some(left) = left {
                    match (ty, left.kind()) {
                        (Some(ty), "identifier") => {
                            let bind = match right {
                                Some(r) if is_constructor_like(r, self.source) => Bind::Assign(r),
                                _ => Bind::Annotated(ty),
                            };
                            self.writes.push((left, scope));
                            self.bind_at(scope, left, bind, node.end_byte());
                        }
                        (Some(ty), "attribute") => {
                            self.attribute_assigned(left, scope, Some(ty));
                            self.visit(left, scope, Context::Store, depth + 1);
                        }
                        _ => self.bind_targets_at(left, scope, right, node.end_byte(), depth),
                    }
                    if let Some(right) = right
                        && scope == 0
                        && left.kind() == "identifier"
                        && self.text(left) == "__all__"
                    {
                        self.dunder_all(right);
                    }
                    if self.scopes[scope].kind == ScopeKind::Class
                        && left.kind() == "identifier"
                        && let Some(class) = self.scopes[scope].qual.clone()
                    {
                        let (value, annotated) = match (right, ty) {
                            (Some(r), _) => (Some(r), false),
                            (None, Some(t)) => (Some(t), true),
                            _ => (None, false),
                        };
                        if let Some(value) = value {
                            let name = self.text(left);
                            self.attributes.push((class, name, value, annotated, scope));
                        }
                    }
                }
            }
            "augmented_assignment" => {
                if let Some(right) = node.child_by_field_name("right") {
                    self.visit(right, scope, Context::Plain, depth + 1);
                    if let Some(left) = node.child_by_field_name("left")
                        && scope == 0
                        && self.text(left) == "__all__"
                    {
                        self.dunder_all(right);
                    }
                }
                if let Some(left) = node.child_by_field_name("left") {
                    if left.kind() == "identifier" {
                        // Read, then bound again.
                        self.visit(left, scope, Context::Plain, depth + 1);
                        self.bind_at(scope, left, Bind::Opaque, node.end_byte());
                    } else {
                        self.visit(left, scope, Context::Store, depth + 1);
                    }
                }
            }
            "for_statement" | "for_in_clause" => {
                if let Some(right) = node.child_by_field_name("right") {
                    self.visit(right, scope, Context::Plain, depth + 1);
                }
                if let Some(left) = node.child_by_field_name("left") {
                    self.bind_targets(left, scope, None, depth);
                }
                let mut cursor = node.walk();
                for child in node.named_children(&mut cursor) {
                    if matches!(child.kind(), "block" | "else_clause") {
                        self.visit(child, scope, Context::Plain, depth + 1);
                    }
                }
            }
            "as_pattern" => {
                // `with x as y`, `except E as e` (older grammars), `case p as q`.
                let mut cursor = node.walk();
                for child in node.named_children(&mut cursor) {
                    if child.kind() == "as_pattern_target" {
                        let mut inner = child.walk();
                        for t in child.named_children(&mut inner) {
                            self.bind_targets(t, scope, None, depth);
                        }
                    } else {
                        self.visit(child, scope, Context::Plain, depth + 1);
                    }
                }
            }
            "delete_statement" => {
                // `del x` makes `x` a local of the scope and reads nothing.
                let mut cursor = node.walk();
                let targets: Vec<Node<'t>> = node.named_children(&mut cursor).collect();
                for target in targets {
                    let names: Vec<Node<'t>> = if target.kind() == "expression_list" {
                        let mut c = target.walk();
                        target.named_children(&mut c).collect()
                    } else {
                        vec![target]
                    };
                    for n in names {
                        if n.kind() == "identifier" {
                            self.bind_at(scope, n, Bind::Opaque, node.end_byte());
                        } else {
                            self.visit(n, scope, Context::Plain, depth + 1);
                        }
                    }
                }
            }
            "try_statement" => {
                self.visit_children(node, scope, context, depth);
                self.try_alternatives(node, scope);
            }
            "except_clause" => {
                let alias = node.child_by_field_name("alias");
                let mut cursor = node.walk();
                for child in node.named_children(&mut cursor) {
                    if Some(child) == alias {
                        self.bind_targets(child, scope, None, depth);
                    } else {
                        self.visit(child, scope, Context::Plain, depth + 1);
                    }
                }
            }
            "named_expression" => {
                if let Some(value) = node.child_by_field_name("value") {
                    self.visit(value, scope, Context::Plain, depth + 1);
                }
                if let Some(name) = node.child_by_field_name("name") {
                    // Binds in the nearest scope that is not a comprehension.
                    let mut s = scope;
                    while self.scopes[s].kind == ScopeKind::Comprehension {
                        s = self.scopes[s].parent.unwrap_or(0);
                    }
                    let bind = node
                        .child_by_field_name("value")
                        .map_or(Bind::Opaque, Bind::Assign);
                    self.bind(s, name, bind);
                }
            }
            "global_statement" | "nonlocal_statement" => {
                let global = node.kind() == "global_statement";
                let mut cursor = node.walk();
                for child in node.named_children(&mut cursor) {
                    if child.kind() == "identifier" {
                        let name = self.text(child);
                        if global {
                            self.scopes[scope].globals.insert(name);
                        } else {
                            self.scopes[scope].nonlocals.insert(name);
                        }
                    }
                }
            }
            "import_statement" => self.import(node, scope),
            "import_from_statement" => self.import_from(node, scope),
            "future_import_statement"
            | "comment"
            | "string_content"
            | "escape_sequence"
            | "case_pattern"
            | "type_parameter" => {}
            "type" => self.visit_children(node, scope, Context::Annotation, depth),
            "string" if context == Context::Annotation => {
                if let Some((text, at)) = string_annotation(node, self.source) {
                    self.string_annotations.push((text, at, scope));
                }
            }
            "generic_type" | "member_type" => {
                // `List[Foo]`, `a.B` in type position: plain names in annotation context.
                let mut cursor = node.walk();
                for child in node.named_children(&mut cursor) {
                    self.visit(child, scope, Context::Annotation, depth + 1);
                }
            }
            _ => self.visit_children(node, scope, context, depth),
        }
    }

    fn class(&mut self, node: Node<'t>, scope: usize, depth: usize) {
        let qual = self.quals.get(&node.start_byte()).map(|q| (*q).to_owned());
        if let Some(bases) = node.child_by_field_name("superclasses") {
            let mut cursor = bases.walk();
            for base in bases.named_children(&mut cursor) {
                if base.kind() == "keyword_argument" {
                    self.visit(base, scope, Context::Plain, depth + 1);
                } else {
                    if let Some(q) = &qual {
                        self.bases.push((q.clone(), base, scope));
                    }
                    self.visit(base, scope, Context::Base, depth + 1);
                }
            }
        }
        if let Some(name) = node.child_by_field_name("name") {
            let bind = qual.clone().map_or(Bind::Opaque, Bind::Def);
            self.bind(scope, name, bind);
        }
        let inner = self.push_scope(ScopeKind::Class, scope, qual);
        if let Some(body) = node.child_by_field_name("body") {
            self.visit(body, inner, Context::Plain, depth + 1);
        }
    }

    fn function(&mut self, node: Node<'t>, scope: usize, depth: usize) {
        let qual = self.quals.get(&node.start_byte()).map(|q| (*q).to_owned());
        // A method: directly in a class body.
        let class = (self.scopes[scope].kind == ScopeKind::Class)
            .then(|| self.scopes[scope].qual.clone())
            .flatten();
        let decorators = decorator_names(node, self.source);
        let first = match &class {
            Some(c) if decorators.contains(&"staticmethod") => None,
            Some(c) if decorators.contains(&"classmethod") => Some(Bind::ClsParam(c.clone())),
            Some(c)
                if self
                    .quals
                    .get(&node.start_byte())
                    .is_some_and(|q| q.ends_with(".__new__")) =>
            {
                Some(Bind::ClsParam(c.clone()))
            }
            Some(c) => Some(Bind::SelfParam(c.clone())),
            None => None,
        };
        if let Some(name) = node.child_by_field_name("name") {
            let bind = qual.clone().map_or(Bind::Opaque, Bind::Def);
            self.bind(scope, name, bind);
        }
        if let Some(ret) = node.child_by_field_name("return_type") {
            self.visit(ret, scope, Context::Annotation, depth + 1);
            if let Some(q) = &qual {
                self.returns.push((q.clone(), ret, scope));
            }
        }
        let inner = self.push_scope(ScopeKind::Function, scope, qual);
        // A method's class, also for the functions nested in it (`self` is captured).
        self.scopes[inner].class = class.clone().or_else(|| self.scopes[scope].class.clone());
        if let Some(params) = node.child_by_field_name("parameters") {
            self.parameters(params, scope, inner, first, depth);
        }
        if let Some(body) = node.child_by_field_name("body") {
            self.visit(body, inner, Context::Plain, depth + 1);
        }
    }

    /// Binds parameters in `inner`; defaults and annotations are evaluated in `outer`. The
    /// first positional parameter takes `first` when given (`self`, `cls`).
    fn parameters(
        &mut self,
        params: Node<'t>,
        outer: usize,
        inner: usize,
        first: Option<Bind<'t>>,
        depth: usize,
    ) {
        let mut first = first;
        let mut cursor = params.walk();
        for p in params.named_children(&mut cursor) {
            let (name, ty, default) = match p.kind() {
                "identifier" => (Some(p), None, None),
                "typed_parameter" => {
                    let name = p.named_child(0).filter(|n| n.kind() == "identifier");
                    (name, p.child_by_field_name("type"), None)
                }
                "default_parameter" => (
                    p.child_by_field_name("name"),
                    None,
                    p.child_by_field_name("value"),
                ),
                "typed_default_parameter" => (
                    p.child_by_field_name("name"),
                    p.child_by_field_name("type"),
                    p.child_by_field_name("value"),
                ),
                "list_splat_pattern" | "dictionary_splat_pattern" => {
                    first = None;
                    let name = p.named_child(0).filter(|n| n.kind() == "identifier");
                    if let Some(n) = name {
                        self.bind(inner, n, Bind::Opaque);
                    }
                    continue;
                }
                "tuple_pattern" => {
                    self.bind_targets(p, inner, None, depth);
                    continue;
                }
                _ => continue,
            };
            if let Some(ty) = ty {
                self.visit(ty, outer, Context::Annotation, depth + 1);
            }
            if let Some(d) = default {
                self.visit(d, outer, Context::Plain, depth + 1);
            }
            let Some(name) = name.filter(|n| n.kind() == "identifier") else {
                continue;
            };
            let bind = match (first.take(), ty) {
                (_, Some(ty)) => Bind::ParamAnnotated(ty),
                (Some(b), None) => b,
                (None, None) => Bind::Opaque,
            };
            self.bind(inner, name, bind);
        }
    }

    fn comprehension(&mut self, node: Node<'t>, scope: usize, depth: usize) {
        let inner = self.push_scope(ScopeKind::Comprehension, scope, None);
        let mut first = true;
        let mut cursor = node.walk();
        let children: Vec<Node<'t>> = node.named_children(&mut cursor).collect();
        // The clauses first (they bind), then the body.
        for child in children
            .iter()
            .filter(|c| c.kind() == "for_in_clause" || c.kind() == "if_clause")
        {
            if child.kind() == "for_in_clause" {
                if let Some(right) = child.child_by_field_name("right") {
                    // The first iterable is evaluated in the enclosing scope.
                    self.visit(
                        right,
                        if first { scope } else { inner },
                        Context::Plain,
                        depth + 1,
                    );
                }
                if let Some(left) = child.child_by_field_name("left") {
                    self.bind_targets(left, inner, None, depth);
                }
                first = false;
            } else {
                self.visit(*child, inner, Context::Plain, depth + 1);
            }
        }
        for child in children
            .iter()
            .filter(|c| c.kind() != "for_in_clause" && c.kind() != "if_clause")
        {
            self.visit(*child, inner, Context::Plain, depth + 1);
        }
    }

    fn dunder_all(&mut self, value: Node<'_>) {
        if !matches!(value.kind(), "list" | "tuple" | "argument_list") {
            return;
        }
        let mut cursor = value.walk();
        for item in value.named_children(&mut cursor) {
            if item.kind() == "string" {
                let raw = self.text(item);
                let name = raw.trim_matches(|c| c == '"' || c == '\'');
                if !name.is_empty() && name.chars().all(|c| c.is_alphanumeric() || c == '_') {
                    self.all.push(name.to_owned());
                }
            }
        }
    }

    /// `__all__.append("x")`, `__all__.extend(["x", ...])` at module level.
    fn dunder_all_call(&mut self, call: Node<'_>) {
        let (Some(function), Some(arguments)) = (
            call.child_by_field_name("function"),
            call.child_by_field_name("arguments"),
        ) else {
            return;
        };
        let (Some(object), Some(method)) = (
            function.child_by_field_name("object"),
            function.child_by_field_name("attribute"),
        ) else {
            return;
        };
        if function.kind() != "attribute" || self.text(object) != "__all__" {
            return;
        }
        match self.text(method) {
            "append" => self.dunder_all(arguments),
            "extend" => {
                if let Some(list) = arguments.named_child(0) {
                    self.dunder_all(list);
                }
            }
            _ => {}
        }
    }

    /// `import a.b.c` (binds `a`), `import a.b as x` (binds `x`).
    fn import(&mut self, node: Node<'t>, scope: usize) {
        let mut cursor = node.walk();
        for child in node.children_by_field_name("name", &mut cursor) {
            let (dotted, alias) = match child.kind() {
                "aliased_import" => (
                    child.child_by_field_name("name"),
                    child.child_by_field_name("alias"),
                ),
                _ => (Some(child), None),
            };
            let Some(dotted) = dotted else { continue };
            let parts = self.dotted_parts(dotted);
            let mut module = String::new();
            for (i, part) in parts.iter().enumerate() {
                if i > 0 {
                    module.push('.');
                }
                module.push_str(self.text(*part));
                self.imports.push((format!("I:{module}|"), *part));
            }
            match alias {
                Some(a) => {
                    self.imports.push((format!("I:{module}|"), a));
                    self.bind(scope, a, Bind::Import(format!("I:{module}|")));
                }
                None => {
                    if let Some(first) = parts.first() {
                        let top = self.text(*first).to_owned();
                        self.bind(scope, *first, Bind::Import(format!("I:{top}|")));
                    }
                }
            }
        }
    }

    /// `from m import a as b`, `from . import a`, `from ..m import *`.
    fn import_from(&mut self, node: Node<'t>, scope: usize) {
        let Some(module) = node.child_by_field_name("module_name") else {
            return;
        };
        let root = match module.kind() {
            "relative_import" => {
                let mut prefix = String::new();
                let mut dotted = None;
                let mut cursor = module.walk();
                for child in module.named_children(&mut cursor) {
                    match child.kind() {
                        "import_prefix" => prefix = self.text(child).to_owned(),
                        "dotted_name" => dotted = Some(child),
                        _ => {}
                    }
                }
                let mut path = prefix;
                if let Some(d) = dotted {
                    let parts = self.dotted_parts(d);
                    for (i, part) in parts.iter().enumerate() {
                        if i > 0 {
                            path.push('.');
                        }
                        path.push_str(self.text(*part));
                        self.imports.push((format!("R:{path}|"), *part));
                    }
                }
                format!("R:{path}")
            }
            _ => {
                let parts = self.dotted_parts(module);
                let mut path = String::new();
                for (i, part) in parts.iter().enumerate() {
                    if i > 0 {
                        path.push('.');
                    }
                    path.push_str(self.text(*part));
                    self.imports.push((format!("I:{path}|"), *part));
                }
                format!("I:{path}")
            }
        };
        let mut wildcard = false;
        let mut cursor = node.walk();
        for child in node.named_children(&mut cursor) {
            if child.kind() == "wildcard_import" {
                wildcard = true;
            }
        }
        if wildcard {
            if scope == 0 {
                self.star_imports.push(format!("{root}|"));
                self.star_positions.push(node.end_byte());
            }
            return;
        }
        let mut cursor = node.walk();
        for child in node.children_by_field_name("name", &mut cursor) {
            let (name, alias) = match child.kind() {
                "aliased_import" => (
                    child.child_by_field_name("name"),
                    child.child_by_field_name("alias"),
                ),
                _ => (Some(child), None),
            };
            let Some(name) = name else { continue };
            // `from m import a` names one identifier (a dotted name here is a syntax error).
            let Some(ident) = self.dotted_parts(name).into_iter().next() else {
                continue;
            };
            let spec = format!("{root}|{}", self.text(ident));
            self.imports.push((spec.clone(), ident));
            if let Some(alias) = alias {
                // `as name` names the imported thing too (a re-export when it is the same).
                self.imports.push((spec.clone(), alias));
            }
            self.bind(scope, alias.unwrap_or(ident), Bind::Import(spec));
        }
    }

    fn dotted_parts(&self, dotted: Node<'t>) -> Vec<Node<'t>> {
        if dotted.kind() == "identifier" {
            return vec![dotted];
        }
        let mut cursor = dotted.walk();
        dotted
            .named_children(&mut cursor)
            .filter(|c| c.kind() == "identifier")
            .collect()
    }

    fn finish(mut self) -> (Vec<SymbolicRef>, Vec<Binding>) {
        let mut groups: BTreeMap<RefGroup<'s>, Vec<(u32, u32)>> = BTreeMap::new();
        let sites = std::mem::take(&mut self.sites);
        let mut memo = Resolver {
            scanner: &self,
            depth: 0,
        };
        for site in &sites {
            let (name_node, spec) = match site.node.kind() {
                "attribute" => {
                    let Some(attr) = site.node.child_by_field_name("attribute") else {
                        continue;
                    };
                    let name = memo.scanner.text(attr);
                    let object = site.node.child_by_field_name("object");
                    let spec = object
                        .and_then(|o| memo.value(o, site.scope, o.start_byte()))
                        .map_or_else(|| format!("N:|{name}"), |v| v.member(name).render());
                    (attr, Some(spec))
                }
                _ => {
                    let name = memo.scanner.text(site.node);
                    let spec = memo.name_spec(name, site.scope, site.node.start_byte());
                    (site.node, spec)
                }
            };
            let Some(spec) = spec else { continue };
            let name = memo.scanner.text(name_node);
            if name.is_empty() {
                continue;
            }
            groups
                .entry((spec, site.kind, name))
                .or_default()
                .push(position(name_node));
        }
        // An assignment to a name a `def` or `class` of the same scope binds.
        for (node, scope) in &self.writes {
            let name = self.text(*node);
            let def = self.scopes[*scope].bindings.get(name).and_then(|binds| {
                binds.iter().find_map(|(_, b)| match b {
                    Bind::Def(q) => Some(q.clone()),
                    _ => None,
                })
            });
            if let Some(q) = def {
                groups
                    .entry((format!("D:{q}|"), RefKind::Write, name))
                    .or_default()
                    .push(position(*node));
            }
        }
        let mut resolver = Resolver {
            scanner: &self,
            depth: 0,
        };
        for (dotted, (line, column), scope) in &self.string_annotations {
            let mut offset = 0u32;
            let mut value: Option<Value> = None;
            for (i, part) in dotted.split('.').enumerate() {
                let spec = if i == 0 {
                    value = resolver.text_value(part, *scope);
                    resolver.name_spec(part, *scope, usize::MAX)
                } else {
                    let v = value.take().map(|v| v.member(part));
                    let spec = Some(
                        v.as_ref()
                            .map_or_else(|| format!("N:|{part}"), Value::render),
                    );
                    value = v;
                    spec
                };
                if let Some(spec) = spec {
                    groups
                        .entry((spec, RefKind::Annotation, part))
                        .or_default()
                        .push((*line, column + offset));
                }
                offset += u32::try_from(part.len()).unwrap_or(0) + 1;
            }
        }
        for (spec, node) in &self.imports {
            let name = self.text(*node);
            groups
                .entry((spec.clone(), RefKind::Import, name))
                .or_default()
                .push(position(*node));
        }
        let refs = groups
            .into_iter()
            .map(|((spec, kind, name), mut positions)| {
                positions.sort_unstable();
                positions.dedup();
                SymbolicRef {
                    spec,
                    kind,
                    name: name.to_owned(),
                    positions,
                }
            })
            .collect();
        let bindings = self.bindings();
        (refs, bindings)
    }

    fn bindings(&self) -> Vec<Binding> {
        let mut out: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
        let mut resolver = Resolver {
            scanner: self,
            depth: 0,
        };
        // Module-level names other files import.
        let mut names: Vec<(&&str, &Vec<(usize, Bind<'t>)>)> =
            self.scopes[0].bindings.iter().collect();
        names.sort_by_key(|(n, _)| **n);
        for (name, binds) in names {
            let Some((pos, last)) = binds.last() else {
                continue;
            };
            let spec = match last {
                Bind::Def(_) => continue,
                Bind::Import(spec) => Some(spec.clone()),
                Bind::Assign(value) => resolver.value(*value, 0, *pos).map(|v| v.render()),
                Bind::Annotated(ty) => resolver.annotation(*ty, 0).map(|v| v.call().render()),
                _ => None,
            };
            if let Some(spec) = spec {
                out.entry((String::new(), (*name).to_owned()))
                    .or_default()
                    .push(spec);
            }
        }
        for spec in &self.star_imports {
            out.entry((String::new(), "*".into()))
                .or_default()
                .push(spec.clone());
        }
        if !self.all.is_empty() {
            out.entry((String::new(), "__all__".into()))
                .or_default()
                .push(format!("A:{}", self.all.join(",")));
        }
        for (class, base, scope) in &self.bases {
            if let Some(v) = resolver.value(*base, *scope, base.start_byte()) {
                out.entry((class.clone(), "^".into()))
                    .or_default()
                    .push(v.render());
            } else {
                // Keeps the order of the bases: an unknown one still takes its place.
                out.entry((class.clone(), "^".into()))
                    .or_default()
                    .push("?".into());
            }
        }
        for (class, name, value, annotated, scope) in &self.attributes {
            let v = if *annotated {
                resolver.annotation(*value, *scope).map(|v| v.call())
            } else {
                resolver.value(*value, *scope, value.start_byte())
            };
            if let Some(v) = v {
                let specs = out.entry((class.clone(), (*name).to_owned())).or_default();
                let s = v.render();
                if !specs.contains(&s) {
                    specs.push(s);
                }
            }
        }
        for (function, ty, scope) in &self.returns {
            if let Some(v) = resolver.annotation(*ty, *scope) {
                out.entry((function.clone(), "->".into()))
                    .or_default()
                    .push(v.call().render());
            }
        }
        let mut bindings = Vec::new();
        for ((owner, name), specs) in out {
            for (ord, spec) in specs.into_iter().enumerate() {
                bindings.push(Binding {
                    owner: owner.clone(),
                    name: name.clone(),
                    ord: i64::try_from(ord).unwrap_or(i64::MAX),
                    spec,
                });
            }
        }
        bindings
    }
}

/// The kind of a name in `context` (`called`: it is a call's callee): a call's callee is
/// called, whatever else holds; `fallback` otherwise.
fn kind_of(called: bool, context: Context, fallback: RefKind) -> RefKind {
    match context {
        Context::Decorator => RefKind::Decorator,
        Context::Base => RefKind::Inheritance,
        Context::Annotation => RefKind::Annotation,
        Context::Store => RefKind::Write,
        Context::Plain if called => RefKind::Call,
        Context::Plain => fallback,
    }
}

fn position(node: Node<'_>) -> (u32, u32) {
    let p = node.start_position();
    (
        u32::try_from(p.row + 1).unwrap_or(u32::MAX),
        u32::try_from(p.column + 1).unwrap_or(u32::MAX),
    )
}

/// `Foo(...)`, `mod.Foo(...)`: a value worth following even where an annotation says
/// otherwise.
/// A call that reads as a constructor (`Name(...)`, `mod.Name(...)`: a capitalized callee),
/// whose class says more than an annotation would; any other call's result is known only
/// through the annotation.
fn is_constructor_like(node: Node<'_>, source: &[u8]) -> bool {
    node.kind() == "call"
        && node.child_by_field_name("function").is_some_and(|f| {
            let callee = match f.kind() {
                "attribute" => f.child_by_field_name("attribute"),
                "identifier" => Some(f),
                _ => None,
            };
            callee.is_some_and(|c| {
                source
                    .get(c.start_byte())
                    .is_some_and(u8::is_ascii_uppercase)
            })
        })
}

/// The plain names of a function's decorators (`staticmethod`, `property`, ...).
fn decorator_names<'s>(function: Node<'_>, source: &'s [u8]) -> Vec<&'s str> {
    let Some(parent) = function
        .parent()
        .filter(|p| p.kind() == "decorated_definition")
    else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut cursor = parent.walk();
    for child in parent.named_children(&mut cursor) {
        if child.kind() == "decorator"
            && let Some(expr) = child.named_child(0)
        {
            let name = match expr.kind() {
                "identifier" => text(expr, source),
                "attribute" => expr
                    .child_by_field_name("attribute")
                    .map_or("", |a| text(a, source)),
                _ => "",
            };
            out.push(name);
        }
    }
    out
}

/// A symbolic value: a root and a path of members and calls.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Value {
    inferred: bool,
    root: String,
    path: Vec<String>,
}

impl Value {
    fn new(root: String) -> Value {
        Value {
            inferred: false,
            root,
            path: Vec::new(),
        }
    }

    /// A spec (`ROOT|path`) as a value.
    fn parse(spec: &str) -> Value {
        let (inferred, spec) = match spec.strip_prefix('~') {
            Some(rest) => (true, rest),
            None => (false, spec),
        };
        let (root, path) = spec.split_once('|').unwrap_or((spec, ""));
        Value {
            inferred,
            root: root.to_owned(),
            path: if path.is_empty() {
                Vec::new()
            } else {
                path.split('.').map(str::to_owned).collect()
            },
        }
    }

    fn member(mut self, name: &str) -> Value {
        self.path.push(name.to_owned());
        self
    }

    fn call(mut self) -> Value {
        self.path.push("()".to_owned());
        self
    }

    fn inferred(mut self) -> Value {
        self.inferred = true;
        self
    }

    fn render(&self) -> String {
        format!(
            "{}{}|{}",
            if self.inferred { "~" } else { "" },
            self.root,
            self.path.join(".")
        )
    }
}

/// The second pass: what names and expressions are.
struct Resolver<'a, 's, 't> {
    scanner: &'a Scanner<'s, 't>,
    depth: usize,
}

impl<'s, 't> Resolver<'_, 's, 't> {
    /// The binding of `name` as seen from `scope` at byte `pos`, and whether it was picked
    /// among disagreeing ones. `None`: unbound in every scope.
    fn lookup(&self, name: &str, scope: usize, pos: usize) -> Option<(usize, Bind<'t>, bool)> {
        let scopes = &self.scanner.scopes;
        let mut s = if scopes[scope].globals.contains(name) {
            0
        } else {
            scope
        };
        let mut first = true;
        loop {
            let sc = &scopes[s];
            // Class bodies are not enclosing scopes for what is nested in them.
            let visible = first || sc.kind != ScopeKind::Class;
            if visible && let Some(binds) = sc.bindings.get(name) {
                let at = if first { pos } else { usize::MAX };
                if first {
                    // The last binding before the use, in the same scope.
                    if let Some((p, b)) = binds.iter().rev().find(|(p, _)| *p < pos) {
                        let unsure = self.scanner.unsure.contains(&(s, name));
                        return Some(self.through_stars(s, at, (*p, b.clone(), unsure)));
                    }
                    if sc.kind == ScopeKind::Class {
                        // A class body reads its own names bound so far, then the enclosing
                        // ones (not a later binding of its own).
                        let parent = sc.parent?;
                        first = false;
                        s = parent;
                        continue;
                    }
                    if sc.kind == ScopeKind::Module && BUILTINS.contains(&name) {
                        // Used before any binding at this level: a builtin.
                        return None;
                    }
                }
                let (p, b, picked) = agreed(binds);
                let unsure = picked || self.scanner.unsure.contains(&(s, name));
                return Some(self.through_stars(s, at, (p, b, unsure)));
            }
            first = false;
            s = sc.parent?;
        }
    }

    /// `found`, a binding of module scope `s` (or any other), unless a module-level star
    /// import comes after it and before `at`: then whatever that import brings, if it
    /// exports the name.
    fn through_stars(
        &self,
        s: usize,
        at: usize,
        found: (usize, Bind<'t>, bool),
    ) -> (usize, Bind<'t>, bool) {
        if s == 0
            && let Some(&q) = self
                .scanner
                .star_positions
                .iter()
                .rev()
                .find(|&&q| found.0 < q && q < at)
        {
            return (q, Bind::Star, false);
        }
        found
    }

    /// The spec of the name `name` read in `scope` at byte `pos`, if it names something a
    /// reference can point to (a variable does not, unless it aliases a definition or a
    /// module).
    fn name_spec(&mut self, name: &str, scope: usize, pos: usize) -> Option<String> {
        match self.lookup(name, scope, pos) {
            Some((bpos, bind, picked)) => {
                if matches!(bind, Bind::Star) {
                    return self.unbound_spec(name);
                }
                let alias = matches!(bind, Bind::Assign(_));
                if !matches!(bind, Bind::Def(_) | Bind::Import(_) | Bind::Assign(_)) {
                    return None;
                }
                let v = self.bind_value(name, scope, bpos, bind)?;
                if alias && v.path.last().is_some_and(|p| p == "()") {
                    return None;
                }
                Some(if picked { v.inferred() } else { v }.render())
            }
            None => self.unbound_spec(name),
        }
    }

    /// The spec of a name no scope binds: none for a builtin, the star imports' when the
    /// file has some, else the name alone.
    fn unbound_spec(&self, name: &str) -> Option<String> {
        if BUILTINS.contains(&name) {
            None
        } else if !self.scanner.star_imports.is_empty() {
            Some(format!("G:{name}|"))
        } else {
            Some(format!("N:|{name}"))
        }
    }

    /// The value of a name in a string annotation: looked up in `scope` as a whole.
    fn text_value(&mut self, name: &str, scope: usize) -> Option<Value> {
        self.name_value(name, scope, usize::MAX)
    }

    /// The value the name `name` has in `scope` at byte `pos`.
    fn name_value(&mut self, name: &str, scope: usize, pos: usize) -> Option<Value> {
        let Some((bpos, bind, picked)) = self.lookup(name, scope, pos) else {
            if BUILTINS.contains(&name) || self.scanner.star_imports.is_empty() {
                return None;
            }
            return Some(Value::new(format!("G:{name}")));
        };
        let v = self.bind_value(name, scope, bpos, bind)?;
        Some(if picked { v.inferred() } else { v })
    }

    /// The value of `bind`, the binding of `name` seen from `scope` (which it belongs to,
    /// or encloses), taking effect at byte `bpos`.
    fn bind_value(
        &mut self,
        name: &str,
        scope: usize,
        bpos: usize,
        bind: Bind<'t>,
    ) -> Option<Value> {
        Some(match bind {
            Bind::Def(q) => Value::new(format!("D:{q}")),
            Bind::Import(spec) => Value::parse(&spec),
            Bind::Assign(value) => {
                let scope = self.scope_of_binding(name, scope);
                self.value(value, scope, bpos)?.inferred()
            }
            Bind::Annotated(ty) => {
                let scope = self.scope_of_binding(name, scope);
                self.annotation(ty, scope)?.call().inferred()
            }
            Bind::ParamAnnotated(ty) => {
                let scope = self.scope_of_binding(name, scope);
                let outer = self.scanner.scopes[scope].parent.unwrap_or(0);
                self.annotation(ty, outer)?.call().inferred()
            }
            Bind::SelfParam(class) => Value::new(format!("D:{class}")).call().inferred(),
            Bind::ClsParam(class) => Value::new(format!("D:{class}")).inferred(),
            Bind::Opaque => return None,
            Bind::Star => Value::new(format!("G:{name}")),
        })
    }

    /// What the expression `node` evaluates to, symbolically.
    fn value(&mut self, node: Node<'t>, scope: usize, pos: usize) -> Option<Value> {
        if self.depth > MAX_DEPTH {
            return None;
        }
        self.depth += 1;
        let v = self.value_inner(node, scope, pos);
        self.depth -= 1;
        v
    }

    fn value_inner(&mut self, node: Node<'t>, scope: usize, pos: usize) -> Option<Value> {
        match node.kind() {
            "identifier" => self.name_value(self.scanner.text(node), scope, pos),
            "attribute" => {
                let object = node.child_by_field_name("object")?;
                let attr = node.child_by_field_name("attribute")?;
                let name = self.scanner.text(attr);
                Some(self.value(object, scope, pos)?.member(name))
            }
            "call" => {
                let function = node.child_by_field_name("function")?;
                if function.kind() == "identifier"
                    && self.scanner.text(function) == "super"
                    && self.lookup("super", scope, pos).is_none()
                {
                    // `super(C, self)` starts after C in the instance's MRO, which only the
                    // instance's class knows: not followed.
                    let no_arguments = node
                        .child_by_field_name("arguments")
                        .is_some_and(|a| a.named_child_count() == 0);
                    if !no_arguments {
                        return None;
                    }
                    let class = self.scanner.scopes[scope].class.clone()?;
                    return Some(Value::new(format!("P:{class}")).call().inferred());
                }
                Some(self.value(function, scope, pos)?.call())
            }
            "parenthesized_expression" => self.value(node.named_child(0)?, scope, pos),
            _ => None,
        }
    }

    /// An annotation's class (`Foo`, `mod.Foo`, `Optional[Foo]`, `Foo | None`), as a value
    /// (the class, not an instance).
    fn annotation(&mut self, node: Node<'t>, scope: usize) -> Option<Value> {
        if self.depth > MAX_DEPTH {
            return None;
        }
        self.depth += 1;
        let v = match node.kind() {
            "type" => node.named_child(0).and_then(|c| self.annotation(c, scope)),
            "identifier" | "attribute" => self.value(node, scope, usize::MAX),
            "string" => {
                let (text, _) = string_annotation(node, self.scanner.source)?;
                let mut parts = text.split('.');
                let mut v = self.text_value(parts.next()?, scope)?;
                for p in parts {
                    v = v.member(p);
                }
                Some(v)
            }
            "member_type" => {
                let inner = node.named_child(0)?;
                let name = node.named_child(1)?;
                Some(
                    self.annotation(inner, scope)?
                        .member(self.scanner.text(name)),
                )
            }
            "generic_type" => {
                let head = node.named_child(0)?;
                let params = node.named_child(1)?;
                if self.scanner.text(head) == "Optional" && params.named_child_count() == 1 {
                    self.annotation(params.named_child(0)?, scope)
                } else {
                    None
                }
            }
            "subscript" => {
                let head = node.child_by_field_name("value")?;
                let inner = node.child_by_field_name("subscript")?;
                let head_text = self.scanner.text(head);
                if head_text == "Optional" || head_text.ends_with(".Optional") {
                    self.annotation(inner, scope)
                } else {
                    None
                }
            }
            "union_type" | "binary_operator" => {
                let parts: Vec<Node<'t>> = {
                    let mut cursor = node.walk();
                    node.named_children(&mut cursor)
                        .filter(|c| !matches!(self.scanner.text(*c), "None"))
                        .collect()
                };
                match parts.as_slice() {
                    [one] => self.annotation(*one, scope),
                    _ => None,
                }
            }
            _ => None,
        };
        self.depth -= 1;
        v
    }

    /// The scope that binds `name` as seen from `scope` (for evaluating its value there).
    fn scope_of_binding(&self, name: &str, scope: usize) -> usize {
        let scopes = &self.scanner.scopes;
        let mut s = if scopes[scope].globals.contains(name) {
            0
        } else {
            scope
        };
        let mut first = true;
        loop {
            let sc = &scopes[s];
            if (first || sc.kind != ScopeKind::Class) && sc.bindings.contains_key(name) {
                return s;
            }
            first = false;
            match sc.parent {
                Some(p) => s = p,
                None => return 0,
            }
        }
    }
}

/// The binding a use from a nested scope sees among `binds`: the one they all agree on; else
/// the last definition or import (picked: `true`).
fn agreed<'t>(binds: &[(usize, Bind<'t>)]) -> (usize, Bind<'t>, bool) {
    let definitional = |b: &Bind<'_>| matches!(b, Bind::Def(_) | Bind::Import(_));
    let (first_pos, first) = &binds[0];
    let same = binds.iter().all(|(_, b)| match (b, first) {
        (Bind::Def(a), Bind::Def(b)) | (Bind::Import(a), Bind::Import(b)) => a == b,
        _ => binds.len() == 1,
    });
    if same {
        return (*first_pos, first.clone(), false);
    }
    match binds.iter().rev().find(|(_, b)| definitional(b)) {
        Some((p, b)) => (*p, b.clone(), true),
        None => {
            let (p, b) = binds.last().unwrap_or(&binds[0]);
            (*p, b.clone(), false)
        }
    }
}

/// The dotted name a string annotation holds (`"Foo"`, `'mod.Foo'`) and the position of its
/// first character; `None` for any other string.
fn string_annotation<'s>(node: Node<'_>, source: &'s [u8]) -> Option<(&'s str, (u32, u32))> {
    let mut cursor = node.walk();
    let mut content = None;
    for child in node.named_children(&mut cursor) {
        match child.kind() {
            "string_content" if content.is_none() => content = Some(child),
            "string_start" | "string_end" => {}
            _ => return None,
        }
    }
    let content = content?;
    let text = text(content, source);
    let dotted = !text.is_empty()
        && text.split('.').all(|part| {
            let mut chars = part.chars();
            chars.next().is_some_and(|c| c.is_alphabetic() || c == '_')
                && chars.all(|c| c.is_alphanumeric() || c == '_')
        });
    dotted.then(|| (text, position(content)))
}
