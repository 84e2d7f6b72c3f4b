//! C and C++: declarative, from `queries/c.scm` and `queries/cpp.scm`, plus what a query
//! cannot say: a function's name is at the bottom of its declarator
//! (`int *(*f(void))(int)` is `f`), and `ns::A::f` is the name `f` owned by `ns::A`.
//! Qualified names join with `::`: `ns::Class::method`. Which `.h` is C++ is
//! [`looks_like_cpp`]'s rule.

use codedb_core::store::Parsed;
use tree_sitter::{Node, Tree};

use super::decl_refs::Family;
use super::declarative::{self, Named, Spec};
use super::text;

/// Preprocessor branches: a function in one inside a class body is still a method.
const PREPROC: &[&str] = &[
    "preproc_if",
    "preproc_ifdef",
    "preproc_else",
    "preproc_elif",
    "preproc_elifdef",
];

/// Keywords that open a statement: never a function's name.
const STATEMENT_KEYWORDS: &[&str] = &[
    "if", "else", "while", "for", "do", "switch", "case", "return", "goto", "sizeof",
];

pub(super) static C: Spec = Spec::new(
    || tree_sitter_c::LANGUAGE.into(),
    include_str!("queries/c.scm"),
    "::",
    &["identifier", "type_identifier", "field_identifier"],
)
.names(declarator_name, owner_text)
.refs(Family::C);

pub(super) static CPP: Spec = Spec::new(
    || tree_sitter_cpp::LANGUAGE.into(),
    include_str!("queries/cpp.scm"),
    "::",
    &[
        "identifier",
        "type_identifier",
        "field_identifier",
        "namespace_identifier",
    ],
)
.wrappers(&["template_declaration"])
.members(&["field_declaration_list"], PREPROC)
.names(declarator_name, owner_text)
.refs(Family::C);

fn owner_text(node: Node<'_>, source: &[u8]) -> String {
    text(node, source).to_owned()
}

pub(super) fn c(tree: &Tree, source: &[u8]) -> Parsed {
    declarative::extract(&C, tree, source)
}

pub(super) fn cpp(tree: &Tree, source: &[u8]) -> Parsed {
    declarative::extract(&CPP, tree, source)
}

/// The name a declarator declares. A function definition's declarator must hold a
/// function declarator (else it is no function: `FOO(x) {...}` misread, say).
fn declarator_name(node: Node<'_>, source: &[u8]) -> Option<Named> {
    let mut n = node;
    // A class's or a namespace's name; a function's declarator must go through a
    // function declarator before it names something.
    let mut function = matches!(
        node.kind(),
        "type_identifier"
            | "template_type"
            | "qualified_identifier"
            | "namespace_identifier"
            | "nested_namespace_specifier"
    );
    loop {
        match n.kind() {
            "function_declarator" => {
                function = true;
                n = n.child_by_field_name("declarator")?;
            }
            "pointer_declarator" | "reference_declarator" | "attributed_declarator" => {
                n = n
                    .child_by_field_name("declarator")
                    .or_else(|| n.named_child(n.named_child_count().checked_sub(1)?))?;
            }
            "parenthesized_declarator" => n = n.named_child(0)?,
            "qualified_identifier" | "nested_namespace_specifier" => {
                return function.then(|| qualified(n, source)).flatten();
            }
            "template_type" | "template_function" => {
                let inner = n.child_by_field_name("name")?;
                return function.then(|| plain(text(inner, source)));
            }
            "operator_cast" => {
                let t = text(n, source);
                return function.then(|| plain(t.split('(').next().unwrap_or(t)));
            }
            "identifier"
            | "field_identifier"
            | "type_identifier"
            | "destructor_name"
            | "operator_name"
            | "namespace_identifier" => {
                let t = text(n, source);
                // `} #endif else if (x) {...}`: error recovery can read a statement whose
                // `else` an `#if` cut off as a "function" named by its keyword.
                return (function && !STATEMENT_KEYWORDS.contains(&t)).then(|| plain(t));
            }
            _ => return None,
        }
    }
}

/// `a::b::f` -> `f` owned by `a::b`; template arguments dropped (`L<T>::m` -> `L`, `m`).
fn qualified(node: Node<'_>, source: &[u8]) -> Option<Named> {
    let mut parts: Vec<String> = Vec::new();
    let mut n = node;
    loop {
        match n.kind() {
            "qualified_identifier" => {
                if let Some(scope) = n.child_by_field_name("scope") {
                    let s = match scope.kind() {
                        "template_type" => scope
                            .child_by_field_name("name")
                            .map_or("", |t| text(t, source)),
                        _ => text(scope, source),
                    };
                    parts.push(s.to_owned());
                }
                n = n.child_by_field_name("name")?;
            }
            "template_function" | "template_type" => {
                parts.push(text(n.child_by_field_name("name")?, source).to_owned());
                break;
            }
            _ => {
                parts.push(text(n, source).to_owned());
                break;
            }
        }
    }
    let name = collapse(&parts.pop()?);
    if name.is_empty() {
        return None;
    }
    let owner = parts.join("::");
    Some(Named {
        name,
        owner: (!owner.is_empty()).then_some(owner),
    })
}

fn plain(t: &str) -> Named {
    Named {
        name: collapse(t),
        owner: None,
    }
}

/// Whitespace runs as one space: `operator ()` and `operator()` read alike.
fn collapse(t: &str) -> String {
    t.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Whether a `.h` file is C++: a line that opens (past indentation) with `namespace`,
/// `template`, `class NAME`, `using`, an access specifier (`public:`), or `extern "C++"`,
/// or an `#include` of an extension-less header (`<vector>`). Otherwise it is C.
pub(super) fn looks_like_cpp(source: &[u8]) -> bool {
    source.split(|b| *b == b'\n').any(|line| {
        let line = line.trim_ascii_start();
        let word = |w: &[u8]| {
            line.starts_with(w)
                && line
                    .get(w.len())
                    .is_none_or(|c| !(c.is_ascii_alphanumeric() || *c == b'_'))
        };
        if word(b"namespace") || word(b"template") || word(b"using") {
            return true;
        }
        if line.starts_with(b"public:")
            || line.starts_with(b"private:")
            || line.starts_with(b"protected:")
            || line.starts_with(b"extern \"C++\"")
        {
            return true;
        }
        if word(b"class")
            && line.get(6..).is_some_and(|r| {
                r.first()
                    .is_some_and(|c| c.is_ascii_alphabetic() || *c == b'_')
            })
        {
            return true;
        }
        if let Some(rest) = line.strip_prefix(b"#include") {
            let rest = rest.trim_ascii_start();
            if let Some(inner) = rest.strip_prefix(b"<") {
                let name = inner.split(|c| *c == b'>').next().unwrap_or(b"");
                return !name.is_empty() && !name.contains(&b'.');
            }
        }
        false
    })
}
