//! Full-text terms as codedb splits text on PostgreSQL: runs of letters and digits,
//! lowercased (what SQLite's FTS5 `unicode61` tokenizer does), so that both backends find
//! the same things; `parse_expr` and `os.path` are two words each.
//!
//! The source text's `tsvector` is built here, in the client, and sent as text: PostgreSQL's
//! own parser (`to_tsvector`) costs the server about 2 s of CPU for sympy's 25 MB, this
//! costs the index run a fraction of that, on every core. Definitions' names, qualified names
//! and docstrings are split the same way, and so are queries ([`tsquery`]).

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt::Write;

/// PostgreSQL keeps positions up to this one (larger ones are clamped).
const MAX_POSITION: usize = 16_383;
/// Positions kept per word (PostgreSQL's limit).
const MAX_POSITIONS: usize = 256;
/// Longest word PostgreSQL indexes, in bytes.
const MAX_WORD: usize = 2_047;
/// A `tsvector` holds at most 1 MiB of distinct words; stop well before.
const MAX_WORD_BYTES: usize = 1_000_000;

/// The words of `text`, lowercased, in order (borrowed where they already are).
pub fn words(text: &str) -> impl Iterator<Item = Cow<'_, str>> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty() && w.len() <= MAX_WORD)
        .map(|w| {
            // Borrowed unless lowercasing changes something (titlecase letters too).
            if w.chars().any(|c| c.to_lowercase().ne(std::iter::once(c))) {
                Cow::Owned(w.to_lowercase())
            } else {
                Cow::Borrowed(w)
            }
        })
}

/// `text` as a `tsvector` literal (`'word':1,4 'other':2`), for `CAST(... AS tsvector)`.
pub fn tsvector(text: &str) -> String {
    let mut positions: HashMap<Cow<'_, str>, Vec<usize>> = HashMap::new();
    let mut order: Vec<Cow<'_, str>> = Vec::new();
    let mut word_bytes = 0;
    for (i, word) in words(text).enumerate() {
        let position = (i + 1).min(MAX_POSITION);
        match positions.get_mut(&word) {
            Some(list) => {
                if list.len() < MAX_POSITIONS && list.last() != Some(&position) {
                    list.push(position);
                }
            }
            None => {
                word_bytes += word.len();
                if word_bytes > MAX_WORD_BYTES {
                    break;
                }
                order.push(word.clone());
                positions.insert(word, vec![position]);
            }
        }
    }
    let mut out = String::with_capacity(word_bytes + order.len() * 8);
    for word in &order {
        if !out.is_empty() {
            out.push(' ');
        }
        // Words are letters and digits only: nothing to escape.
        let _ = write!(out, "'{word}':");
        for (n, p) in positions[word].iter().enumerate() {
            if n > 0 {
                out.push(',');
            }
            let _ = write!(out, "{p}");
        }
    }
    out
}

/// `text` as a phrase `tsquery` literal (`'parse' <-> 'expr'`); `None` when it has no word.
pub fn tsquery(text: &str) -> Option<String> {
    let terms: Vec<String> = words(text).map(|w| format!("'{w}'")).collect();
    (!terms.is_empty()).then(|| terms.join(" <-> "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_lowercased_runs_of_letters_and_digits() {
        let w: Vec<Cow<'_, str>> = words("def parse_expr(os.path, x2): Ünïcode").collect();
        assert_eq!(w, ["def", "parse", "expr", "os", "path", "x2", "ünïcode"]);
    }

    #[test]
    fn a_tsvector_lists_each_word_once_with_its_positions() {
        assert_eq!(tsvector("a b a"), "'a':1,3 'b':2");
        assert_eq!(tsvector("ǅx Ab"), "'ǆx':1 'ab':2");
        assert_eq!(tsvector("..."), "");
        let many = "x ".repeat(1000);
        let v = tsvector(&many);
        assert_eq!(v.matches(',').count(), MAX_POSITIONS - 1);
    }

    #[test]
    fn a_query_is_a_phrase() {
        assert_eq!(tsquery("parse_expr").as_deref(), Some("'parse' <-> 'expr'"));
        assert_eq!(tsquery("  --  "), None);
    }
}
