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

/// The words of `text`, case-folded one character at a time (see `fold`), in order
/// (borrowed where they already are).
pub fn words(text: &str) -> impl Iterator<Item = Cow<'_, str>> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty() && w.len() <= MAX_WORD)
        .map(|w| {
            // Borrowed unless folding changes something (titlecase letters too).
            if w.chars().any(|c| fold(c).ne(std::iter::once(c))) {
                Cow::Owned(w.chars().flat_map(fold).collect())
            } else {
                Cow::Borrowed(w)
            }
        })
}

/// One character case-folded: lowercased on its own (never by its context, as
/// `str::to_lowercase` does with a word-final `Σ`), and, for the few letters whose simple
/// case folding is not their lowercase, folded as Unicode's CaseFolding.txt says (`ς` and
/// `σ`, `ſ` and `s`, the micro sign and `μ`, the Greek symbol variants). So a word folds to
/// one term whichever of its case variants the text spells, as FTS5 and the line matcher's
/// case-insensitive comparison treat them: on PostgreSQL, where these terms choose the
/// candidate files, `σασ` once missed a file holding `ΣΑΣ` (stored as `σας`).
fn fold(c: char) -> std::char::ToLowercase {
    // Each of these folds to a letter that is its own lowercase.
    let folded = match c {
        'ς' => 'σ',
        'ſ' => 's',
        '\u{b5}' => 'μ',
        '\u{345}' | '\u{1fbe}' => 'ι',
        'ϐ' => 'β',
        'ϑ' => 'θ',
        'ϕ' => 'φ',
        'ϖ' => 'π',
        'ϰ' => 'κ',
        'ϱ' => 'ρ',
        'ϵ' => 'ε',
        'ẛ' => 'ṡ',
        other => other,
    };
    folded.to_lowercase()
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
    fn every_case_variant_of_a_word_folds_to_one_term() {
        let term = |t: &str| words(t).map(Cow::into_owned).collect::<Vec<_>>();
        for variants in [
            ["ΣΑΣ", "σας", "σασ"],
            ["ſtar", "STAR", "Star"],
            ["\u{b5}s", "μs", "ΜS"],
            ["ϑεος", "ΘΕΟΣ", "θεοσ"],
        ] {
            let terms: Vec<Vec<String>> = variants.iter().map(|v| term(v)).collect();
            assert!(
                terms.iter().all(|t| t == &terms[0]),
                "{variants:?}: {terms:?}"
            );
        }
        assert_eq!(term("ΣΑΣ ΑΣ"), ["σασ", "ασ"]);
        assert_eq!(tsquery("ΟΔΟΣ").as_deref(), Some("'οδοσ'"));
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
