//! Replacing one class, function or method of a file by qualified name: find it in a fresh
//! parse of the file, re-indent the replacement to the symbol's indentation, give it the
//! line ending of the symbol's line (`\r\n` in a CRLF file), splice it in over the
//! symbol's lines (its decorators too when the replacement brings its own). A byte order
//! mark at the start of the file stays.

use codedb_core::store::Entity;

use crate::error::{CommandError, Result};
use crate::lang::{self, LanguageDef};

/// `text` with the symbol `qualified_name` replaced by `replacement`.
pub(crate) fn replace(
    rel: &str,
    lang: &LanguageDef,
    text: &str,
    qualified_name: &str,
    replacement: &str,
) -> Result<String> {
    let parsed = lang::parse(lang, text.as_bytes());
    let entity = find(rel, &parsed.entities, qualified_name)?;
    splice_replacement(lang, text, entity, replacement)
}

/// The one definition `qualified_name` (or a bare name, when unique) names among
/// `entities`; absent or ambiguous: an error listing the candidates.
fn find<'a>(rel: &str, entities: &'a [Entity], qualified_name: &str) -> Result<&'a Entity> {
    let parsed_entities = entities;
    let wanted = qualified_name.trim();
    let mut found: Vec<&Entity> = parsed_entities
        .iter()
        .filter(|e| e.qualified_name == wanted)
        .collect();
    if found.is_empty() && !wanted.contains(['.', ':']) {
        found = parsed_entities
            .iter()
            .filter(|e| e.name == wanted)
            .collect();
    }
    match found.as_slice() {
        [one] => Ok(*one),
        [] => {
            let mut names: Vec<&str> = parsed_entities
                .iter()
                .map(|e| e.qualified_name.as_str())
                .collect();
            let short = wanted.rsplit(['.', ':']).next().unwrap_or(wanted);
            names.sort_by_key(|n| (!n.contains(short), *n));
            names.dedup();
            let list: Vec<&str> = names.into_iter().take(20).collect();
            Err(CommandError::Symbol {
                path: rel.to_owned(),
                reason: format!(
                    "no class, function or method `{wanted}`; candidates: {}",
                    if list.is_empty() {
                        "(none in this file)".to_owned()
                    } else {
                        list.join(", ")
                    }
                ),
            })
        }
        many => {
            let list: Vec<String> = many
                .iter()
                .map(|e| format!("{} (line {})", e.qualified_name, e.start_line))
                .collect();
            Err(CommandError::Symbol {
                path: rel.to_owned(),
                reason: format!(
                    "`{wanted}` is ambiguous: {}; use the qualified name",
                    list.join(", ")
                ),
            })
        }
    }
}

/// The byte offset where the line holding byte `at` of `text` starts (after a byte order
/// mark, which is not part of any line).
fn line_start_of(text: &str, at: usize) -> usize {
    let bom = if text.starts_with('\u{feff}') {
        '\u{feff}'.len_utf8()
    } else {
        0
    };
    text[..at].rfind('\n').map_or(bom, |i| i + 1).max(bom)
}

/// The line ending of the line holding byte `at` (`\r\n` in a CRLF file).
fn eol_at(text: &str, at: usize) -> &'static str {
    if text[at..]
        .split('\n')
        .next()
        .is_some_and(|l| l.ends_with('\r'))
        || (!text[at..].contains('\n') && text.contains("\r\n"))
    {
        "\r\n"
    } else {
        "\n"
    }
}

/// The byte range of `entity`'s whole lines in `text`, widened upwards over the
/// decorators, attributes and comment lines (doc comments) right above it, and including
/// the line ending of its last line.
fn block(lang: &LanguageDef, text: &str, entity: &Entity) -> (usize, usize) {
    let hash_comments = lang.name == "python";
    let start = usize::try_from(entity.start_byte)
        .unwrap_or(0)
        .min(text.len());
    let end = usize::try_from(entity.end_byte)
        .unwrap_or(0)
        .min(text.len())
        .max(start);
    let mut first = line_start_of(text, start);
    while first > 0 {
        let prev_start = line_start_of(text, first - 1);
        let prev = text[prev_start..first - 1].trim();
        let above = prev.starts_with('@')
            || prev.starts_with("#[")
            || (hash_comments && prev.starts_with('#') && !prev.starts_with("#!"))
            || prev.starts_with("//")
            || prev.starts_with("/*")
            || prev.starts_with('*');
        if above && !prev.is_empty() {
            first = prev_start;
        } else {
            break;
        }
    }
    let last = text[end..].find('\n').map_or(text.len(), |i| end + i + 1);
    (first, last)
}

/// `text` with `new_source` inserted, re-indented to the level of the definition
/// `qualified_name`, right before it (above its decorators and doc comments) or right
/// after it, separated from it by a blank line (two between top-level Python
/// definitions).
pub(crate) fn insert(
    rel: &str,
    lang: &LanguageDef,
    text: &str,
    qualified_name: &str,
    new_source: &str,
    after: bool,
) -> Result<String> {
    if new_source.trim().is_empty() {
        return Err(CommandError::Symbol {
            path: rel.to_owned(),
            reason: "nothing to insert: the new source is empty".into(),
        });
    }
    let parsed = lang::parse(lang, text.as_bytes());
    let entity = find(rel, &parsed.entities, qualified_name)?;
    let start = usize::try_from(entity.start_byte)
        .unwrap_or(0)
        .min(text.len());
    let line_start = line_start_of(text, start);
    let indent: String = text[line_start..]
        .chars()
        .take_while(|c| *c == ' ' || *c == '\t')
        .collect();
    let eol = eol_at(text, start);
    let body = reindent(lang, new_source, &indent, eol);
    let gap = if lang.name == "python" && indent.is_empty() {
        2
    } else {
        1
    };
    let (first, last) = block(lang, text, entity);
    let mut out = String::with_capacity(text.len() + body.len() + 8);
    if after {
        out.push_str(&text[..last]);
        if !text[..last].ends_with('\n') {
            out.push_str(eol);
        }
        out.push_str(&eol.repeat(gap));
        out.push_str(&body);
        out.push_str(eol);
        out.push_str(&text[last..]);
    } else {
        out.push_str(&text[..first]);
        out.push_str(&body);
        out.push_str(&eol.repeat(gap + 1));
        out.push_str(&text[first..]);
    }
    Ok(out)
}

/// `text` without the definition `qualified_name`: its lines, its decorators or attributes
/// and the comment lines right above it, and the blank lines that separated it from what
/// follows (from what precedes when it was last).
pub(crate) fn delete(
    rel: &str,
    lang: &LanguageDef,
    text: &str,
    qualified_name: &str,
) -> Result<String> {
    let parsed = lang::parse(lang, text.as_bytes());
    let entity = find(rel, &parsed.entities, qualified_name)?;
    let (mut first, mut last) = block(lang, text, entity);
    let is_blank = |l: &str| l.trim().is_empty();
    let after_blank = {
        let mut end = last;
        while end < text.len() {
            let next = text[end..].find('\n').map_or(text.len(), |i| end + i + 1);
            if !is_blank(&text[end..next]) {
                break;
            }
            end = next;
        }
        end
    };
    if after_blank > last && after_blank < text.len() {
        last = after_blank;
    } else {
        // Last in its block: the blank lines above go instead.
        while first > 0 {
            let prev_start = line_start_of(text, first - 1);
            if prev_start < first && is_blank(&text[prev_start..first]) {
                first = prev_start;
            } else {
                break;
            }
        }
        last = after_blank;
    }
    let mut out = String::with_capacity(text.len());
    out.push_str(&text[..first]);
    out.push_str(&text[last..]);
    Ok(out)
}

/// `text` with `entity` replaced by `replacement`, re-indented.
fn splice_replacement(
    lang: &LanguageDef,
    text: &str,
    entity: &Entity,
    replacement: &str,
) -> Result<String> {
    let start = usize::try_from(entity.start_byte)
        .unwrap_or(0)
        .min(text.len());
    let end = usize::try_from(entity.end_byte)
        .unwrap_or(0)
        .min(text.len());
    // The first line starts after a byte order mark, which is not part of any line.
    let bom = if text.starts_with('\u{feff}') {
        '\u{feff}'.len_utf8()
    } else {
        0
    };
    let mut line_start = text[..start].rfind('\n').map_or(bom, |i| i + 1).max(bom);
    let indent: String = text[line_start..]
        .chars()
        .take_while(|c| *c == ' ' || *c == '\t')
        .collect();
    let eol = if text[start..]
        .split('\n')
        .next()
        .is_some_and(|l| l.ends_with('\r'))
        || (!text[start..].contains('\n') && text.contains("\r\n"))
    {
        "\r\n"
    } else {
        "\n"
    };
    let body = reindent(lang, replacement, &indent, eol);
    // Decorators above the symbol go too when the replacement has its own.
    if body.trim_start().starts_with('@') || body.trim_start().starts_with("#[") {
        while line_start > 0 {
            let prev_start = text[..line_start - 1].rfind('\n').map_or(0, |i| i + 1);
            let prev = text[prev_start..line_start - 1].trim_start();
            if prev.starts_with('@') || prev.starts_with("#[") {
                line_start = prev_start;
            } else {
                break;
            }
        }
    }
    let mut out = String::with_capacity(text.len() + body.len());
    out.push_str(&text[..line_start]);
    out.push_str(&body);
    out.push_str(&text[end..]);
    Ok(out)
}

/// `source` with its common indentation removed, each non-blank line indented by
/// `indent` (the first line included), its lines ended by `eol`, without a trailing one.
/// A line that starts inside a string or comment spanning lines (a Python docstring, a
/// Rust multi-line string) is part of that literal: it keeps its exact text.
fn reindent(lang: &LanguageDef, source: &str, indent: &str, eol: &str) -> String {
    let inside = rows_inside_literals(lang, source);
    let rows: Vec<(usize, &str)> = source
        .trim_end()
        .lines()
        .enumerate()
        .skip_while(|(_, l)| l.trim().is_empty())
        .collect();
    let common = rows
        .iter()
        .filter(|(row, l)| !l.trim().is_empty() && !inside.contains(row))
        .map(|(_, l)| l.len() - l.trim_start_matches([' ', '\t']).len())
        .min()
        .unwrap_or(0);
    rows.iter()
        .map(|(row, l)| {
            if inside.contains(row) {
                (*l).to_owned()
            } else if l.trim().is_empty() {
                String::new()
            } else {
                format!("{indent}{}", &l[common.min(l.len())..])
            }
        })
        .collect::<Vec<_>>()
        .join(eol)
}

/// The rows (0-based) of `source` that start inside a string or comment node spanning
/// several rows.
fn rows_inside_literals(lang: &LanguageDef, source: &str) -> std::collections::HashSet<usize> {
    let mut rows = std::collections::HashSet::new();
    let mut parser = tree_sitter::Parser::new();
    if parser.set_language(&(lang.grammar)()).is_err() {
        return rows;
    }
    let Some(tree) = parser.parse(source, None) else {
        return rows;
    };
    let mut cursor = tree.walk();
    loop {
        let node = cursor.node();
        let kind = node.kind();
        let (start, end) = (node.start_position().row, node.end_position().row);
        if end > start && (kind.contains("string") || kind.contains("comment")) {
            rows.extend(start + 1..=end);
        } else if cursor.goto_first_child() {
            continue;
        }
        loop {
            if cursor.goto_next_sibling() {
                break;
            }
            if !cursor.goto_parent() {
                return rows;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn python() -> &'static LanguageDef {
        lang::by_name("python").unwrap()
    }

    #[test]
    fn replaces_a_method_reindented() {
        let text = "class P:\n    def parse(self):\n        return 1\n\n    def other(self):\n        pass\n";
        let out = replace(
            "a.py",
            python(),
            text,
            "P.parse",
            "def parse(self):\n    return 2\n",
        )
        .unwrap();
        assert_eq!(
            out,
            "class P:\n    def parse(self):\n        return 2\n\n    def other(self):\n        pass\n"
        );
    }

    #[test]
    fn inserts_before_and_after_at_the_symbols_level() {
        let text = "class P:\n    @property\n    def a(self):\n        return 1\n\n    def b(self):\n        pass\n";
        let before = insert(
            "a.py",
            python(),
            text,
            "P.a",
            "def z(self):\n    return 0\n",
            false,
        )
        .unwrap();
        assert_eq!(
            before,
            "class P:\n    def z(self):\n        return 0\n\n    @property\n    def a(self):\n        return 1\n\n    def b(self):\n        pass\n"
        );
        let after = insert(
            "a.py",
            python(),
            text,
            "P.b",
            "def c(self):\n    pass",
            true,
        )
        .unwrap();
        assert!(
            after.ends_with("    def b(self):\n        pass\n\n    def c(self):\n        pass\n"),
            "{after}"
        );
        let top = insert(
            "a.py",
            python(),
            "def f():\n    pass\n",
            "f",
            "def g():\n    pass\n",
            true,
        )
        .unwrap();
        assert_eq!(top, "def f():\n    pass\n\n\ndef g():\n    pass\n");
    }

    #[test]
    fn deletes_with_decorators_and_comments() {
        let text = "class P:\n    # about a\n    @property\n    def a(self):\n        return 1\n\n    def b(self):\n        pass\n";
        assert_eq!(
            delete("a.py", python(), text, "P.a").unwrap(),
            "class P:\n    def b(self):\n        pass\n"
        );
        assert_eq!(
            delete("a.py", python(), text, "P.b").unwrap(),
            "class P:\n    # about a\n    @property\n    def a(self):\n        return 1\n"
        );
        let rust = lang::by_name("rust").unwrap();
        let text = "/// Doc.\n#[inline]\nfn f() {}\n\nfn g() {}\n";
        assert_eq!(delete("a.rs", rust, text, "f").unwrap(), "fn g() {}\n");
    }

    #[test]
    fn absent_symbol_lists_candidates() {
        let text = "class P:\n    def parse(self):\n        return 1\n";
        let err = replace("a.py", python(), text, "P.nope", "def nope(self): pass").unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("P.parse") && msg.contains("P.nope"), "{msg}");
    }

    #[test]
    fn ambiguous_short_name_is_an_error() {
        let text = "class A:\n    def f(self): pass\nclass B:\n    def f(self): pass\n";
        let err = replace("a.py", python(), text, "f", "def f(self): return 1").unwrap_err();
        assert!(err.to_string().contains("ambiguous"), "{err}");
    }

    #[test]
    fn multi_line_literals_keep_their_text() {
        let text = "class P:\n    def f(self):\n        return 1\n";
        let with =
            "def f(self):\n    \"\"\"first\nsecond\n\"\"\"\n    s = '''a\n  b'''\n    return s\n";
        let out = replace("a.py", python(), text, "P.f", with).unwrap();
        assert_eq!(
            out,
            "class P:\n    def f(self):\n        \"\"\"first\nsecond\n\"\"\"\n        s = '''a\n  b'''\n        return s\n"
        );
        let rust = lang::by_name("rust").unwrap();
        let text = "mod m {\n    fn f() {}\n}\n";
        let with = "fn f() -> &'static str {\n    \"a\nb\"\n}\n";
        let out = replace("a.rs", rust, text, "m::f", with).unwrap();
        assert_eq!(
            out,
            "mod m {\n    fn f() -> &'static str {\n        \"a\nb\"\n    }\n}\n"
        );
    }

    #[test]
    fn a_byte_order_mark_stays() {
        let text = "\u{feff}def f():\n    return 1\n\ndef g():\n    pass\n";
        let out = replace("a.py", python(), text, "f", "def f():\n    return 2\n").unwrap();
        assert_eq!(
            out,
            "\u{feff}def f():\n    return 2\n\ndef g():\n    pass\n"
        );
    }

    #[test]
    fn the_replacement_takes_the_files_line_endings() {
        let text = "class P:\r\n    def parse(self):\r\n        return 1\r\n\r\n    def other(self):\r\n        pass\r\n";
        let out = replace(
            "a.py",
            python(),
            text,
            "P.parse",
            "def parse(self):\n    x = 2\n    return x\n",
        )
        .unwrap();
        assert_eq!(
            out,
            "class P:\r\n    def parse(self):\r\n        x = 2\r\n        return x\r\n\r\n    def other(self):\r\n        pass\r\n"
        );
        let lf = "def f():\n    return 1\n";
        let out = replace("a.py", python(), lf, "f", "def f():\r\n    return 2\r\n").unwrap();
        assert_eq!(out, "def f():\n    return 2\n");
    }

    #[test]
    fn decorators_are_replaced_when_the_replacement_has_them() {
        let text = "class A:\n    @property\n    def f(self):\n        return 1\n";
        let out = replace(
            "a.py",
            python(),
            text,
            "A.f",
            "@staticmethod\ndef f():\n    return 2",
        )
        .unwrap();
        assert_eq!(
            out,
            "class A:\n    @staticmethod\n    def f():\n        return 2\n"
        );
        let kept = replace("a.py", python(), text, "A.f", "def f(self):\n    return 3").unwrap();
        assert_eq!(
            kept,
            "class A:\n    @property\n    def f(self):\n        return 3\n"
        );
    }
}
