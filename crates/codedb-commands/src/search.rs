//! `codedb query search` and the MCP `search` tool: line-level search over the stored
//! source, by full text (the words of a phrase, candidate files found by the full-text
//! index) or by a regular expression (the `regex` crate over every stored file, in
//! parallel), narrowed by path globs and language; or, with a kind, over definitions only.
//!
//! A hit is a line: its path, line, column (1-based, in characters) of the first match on
//! it, and the line itself as a one-line snippet (at most [`SNIPPET_CHARS`] characters).
//! Hits are ordered by project, path and line, and paged ([`Page`]); the total counts
//! every hit, and only the page's snippets are made.

use codedb_core::store::{EntityKind, Page, Scope, SourceText};
use codedb_core::{CodeDatabase, CodeStore};
use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use rayon::prelude::*;
use regex::{Regex, RegexBuilder};
use serde::Serialize;

use crate::error::{CommandError, Result};

/// The longest snippet: a longer line is cut around its match.
pub const SNIPPET_CHARS: usize = 200;

/// How letters' case is compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CaseMode {
    /// The default: full text ignores case (as the full-text index does), a regex does not
    /// (as ripgrep).
    #[default]
    Default,
    /// Case matters.
    Sensitive,
    /// Case does not matter.
    Insensitive,
    /// Case matters when the pattern has an upper-case letter.
    Smart,
}

/// What to search for, and where.
#[derive(Debug, Clone, Default)]
pub struct SearchOptions {
    /// Words to find as a phrase (full text). Exactly one of `text` and `regex`.
    pub text: Option<String>,
    /// A regular expression (the `regex` crate's syntax).
    pub regex: Option<String>,
    /// Globs over the project-relative path: a file must match one of those without `!`
    /// (when there are any) and none of those with `!`. A glob without `/` matches the
    /// file name at any depth.
    pub paths: Vec<String>,
    /// Only files of this language.
    pub language: Option<String>,
    /// Only definitions of these kinds, matched on their name and qualified name (and, by
    /// full text, their docstring); a hit is the definition's first line.
    pub kinds: Vec<EntityKind>,
    /// Case sensitivity.
    pub case: CaseMode,
    /// Hits skipped before the page.
    pub offset: usize,
    /// At most this many hits (`None`: all).
    pub limit: Option<usize>,
}

/// One hit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SearchHit {
    /// The file, relative to its project.
    pub path: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column (characters) of the first match on the line; 1 for a definition.
    pub column: usize,
    /// The line (trimmed, at most [`SNIPPET_CHARS`] characters).
    pub snippet: String,
    /// For a definition (with `--kind`): `class`, `function` or `method`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// For a definition: its qualified name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub qualified_name: Option<String>,
    /// Its project's root, when the search covered every project.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
}

fn bad(name: &'static str, reason: impl Into<String>) -> CommandError {
    CommandError::InvalidArgument {
        name,
        reason: reason.into(),
    }
}

/// The path filter: the globs of `--path`.
struct PathFilter {
    include: Option<GlobSet>,
    exclude: GlobSet,
}

impl PathFilter {
    fn new(globs: &[String]) -> Result<PathFilter> {
        let mut include = GlobSetBuilder::new();
        let mut exclude = GlobSetBuilder::new();
        let mut any_include = false;
        for g in globs {
            let (negated, pattern) = match g.strip_prefix('!') {
                Some(p) => (true, p),
                None => (false, g.as_str()),
            };
            if pattern.is_empty() {
                return Err(bad("path", format!("{g:?}: an empty glob")));
            }
            if pattern.starts_with('/') || pattern.split('/').any(|c| c == "..") {
                return Err(bad(
                    "path",
                    format!(
                        "{g:?}: globs are relative to the project root (no leading `/`, no `..`)"
                    ),
                ));
            }
            let full = if pattern.contains('/') {
                pattern.to_owned()
            } else {
                format!("**/{pattern}")
            };
            let glob = GlobBuilder::new(&full)
                .literal_separator(true)
                .build()
                .map_err(|e| bad("path", format!("{g:?}: {e}")))?;
            if negated {
                exclude.add(glob);
            } else {
                any_include = true;
                include.add(glob);
            }
        }
        let build = |b: GlobSetBuilder| b.build().map_err(|e| bad("path", e.to_string()));
        Ok(PathFilter {
            include: if any_include {
                Some(build(include)?)
            } else {
                None
            },
            exclude: build(exclude)?,
        })
    }

    fn admits(&self, path: &str) -> bool {
        self.include.as_ref().is_none_or(|i| i.is_match(path)) && !self.exclude.is_match(path)
    }
}

/// What lines are matched with: a regular expression (`--regex`), or the words of a phrase.
enum Matcher {
    Regex(Regex),
    Phrase(Phrase),
}

/// The words of a phrase, matched as whole words (maximal runs of letters and digits, as
/// [`words`] and the full-text index split text) one after the other, separated by any run
/// of other characters (line breaks too). Each word is its own small expression (escaped,
/// case-insensitive when asked): an expression of the whole phrase would need the Unicode
/// classes of letters and digits, and building those took about 2 ms per query, most of a
/// `search` call.
struct Phrase {
    /// The first word anywhere: where a match may start.
    first: Regex,
    /// Each word, matching a whole word exactly (`^(?:word)$`).
    words: Vec<Regex>,
}

impl Phrase {
    fn new(words: &[&str], insensitive: bool) -> Result<Phrase> {
        let build = |source: String| {
            RegexBuilder::new(&source)
                .case_insensitive(insensitive)
                .build()
                .map_err(|e| bad("text", format!("invalid pattern: {e}")))
        };
        Ok(Phrase {
            first: build(regex::escape(words[0]))?,
            words: words
                .iter()
                .map(|w| build(format!("^(?:{})$", regex::escape(w))))
                .collect::<Result<_>>()?,
        })
    }

    /// The byte offset of the first match in `text` at or after `from`.
    fn find_at(&self, text: &str, from: usize) -> Option<usize> {
        let mut at = from;
        while let Some(m) = self.first.find_at(text, at) {
            if self.starts_at(text, m.start()) {
                return Some(m.start());
            }
            // The next character: the first word may also start inside this match.
            at = m.start() + text[m.start()..].chars().next().map_or(1, char::len_utf8);
        }
        None
    }

    /// Whether the phrase's words are the words of `text` that start at byte `start`.
    fn starts_at(&self, text: &str, start: usize) -> bool {
        if text[..start]
            .chars()
            .next_back()
            .is_some_and(char::is_alphanumeric)
        {
            return false;
        }
        let mut at = start;
        for (i, word) in self.words.iter().enumerate() {
            if i > 0 {
                // At least one separator (the word before ended at one), then a word.
                match text[at..].find(char::is_alphanumeric) {
                    Some(skip) if skip > 0 => at += skip,
                    _ => return false,
                }
            }
            let end = text[at..]
                .find(|c: char| !c.is_alphanumeric())
                .map_or(text.len(), |n| at + n);
            if !word.is_match(&text[at..end]) {
                return false;
            }
            at = end;
        }
        true
    }
}

impl Matcher {
    fn new(options: &SearchOptions) -> Result<Matcher> {
        let insensitive = |default_insensitive: bool, has_upper: bool| match options.case {
            CaseMode::Default => default_insensitive,
            CaseMode::Sensitive => false,
            CaseMode::Insensitive => true,
            CaseMode::Smart => !has_upper,
        };
        match (&options.text, &options.regex) {
            (Some(_), Some(_)) => Err(bad("regex", "give either words or --regex, not both")),
            (None, None) => Err(bad("text", "nothing to search for")),
            (Some(text), None) => {
                let words = words(text);
                if words.is_empty() {
                    return Err(bad("text", format!("{text:?} has no word to search for")));
                }
                let has_upper = text.chars().any(char::is_uppercase);
                Ok(Matcher::Phrase(Phrase::new(
                    &words,
                    insensitive(true, has_upper),
                )?))
            }
            (None, Some(re)) => {
                if re.is_empty() {
                    return Err(bad("regex", "an empty pattern"));
                }
                let has_upper = re.chars().any(char::is_uppercase);
                let regex = RegexBuilder::new(&format!("(?m){re}"))
                    .case_insensitive(insensitive(false, has_upper))
                    .size_limit(1 << 24)
                    .build()
                    .map_err(|e| bad("regex", format!("invalid pattern: {e}")))?;
                Ok(Matcher::Regex(regex))
            }
        }
    }

    /// The byte offset of the first match in `text` at or after `from`, if any.
    fn find_at(&self, text: &str, from: usize) -> Option<usize> {
        match self {
            Matcher::Regex(regex) => regex.find_at(text, from).map(|m| m.start()),
            Matcher::Phrase(phrase) => phrase.find_at(text, from),
        }
    }

    /// The byte offset of the first match in `text`, if any.
    fn first(&self, text: &str) -> Option<usize> {
        self.find_at(text, 0)
    }

    /// The byte offsets of the first match on each line of `text` that has one.
    fn lines(&self, text: &str) -> Vec<usize> {
        let mut out = Vec::new();
        let mut from = 0;
        while from <= text.len() {
            let Some(start) = self.find_at(text, from) else {
                break;
            };
            out.push(start);
            // The next line: at most one hit per line.
            match text[start..].find('\n') {
                Some(nl) => from = start + nl + 1,
                None => break,
            }
        }
        out
    }
}

/// The words of `text` as the full-text index splits them: runs of letters and digits.
fn words(text: &str) -> Vec<&str> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect()
}

/// A hit before its snippet is made: which file, and the byte offset of its match.
struct Found {
    file: usize,
    at: usize,
}

/// Searches the index of `scope` as `options` say; the page of hits, ordered by project,
/// path and line.
pub fn search(db: &CodeDatabase, scope: Scope, options: &SearchOptions) -> Result<Page<SearchHit>> {
    if let Some(l) = &options.language
        && crate::lang::by_name(l).is_none()
    {
        let known: Vec<&str> = crate::lang::LANGUAGES.iter().map(|l| l.name).collect();
        return Err(bad(
            "language",
            format!("unknown language {l:?}; known: {}", known.join(", ")),
        ));
    }
    let matcher = Matcher::new(options)?;
    let paths = PathFilter::new(&options.paths)?;
    if !options.kinds.is_empty() {
        return search_definitions(db, scope, options, &matcher, &paths);
    }
    let mut files = db.source_texts(scope, options.language.as_deref(), options.text.as_deref())?;
    files.retain(|f| paths.admits(&f.path));
    let per_file: Vec<Vec<usize>> = files.par_iter().map(|f| matcher.lines(&f.text)).collect();
    let found: Vec<Found> = per_file
        .into_iter()
        .enumerate()
        .flat_map(|(file, offsets)| offsets.into_iter().map(move |at| Found { file, at }))
        .collect();
    let mut lines = LineCursor::default();
    Ok(Page::of(found, options.offset, options.limit)
        .map(|f| hit(&files[f.file], f.file, f.at, &mut lines)))
}

/// Where the last hit was: its file (by index), its byte and its line. Hits come by file and
/// by offset, so each file's lines are counted once, from hit to hit, not from the file's
/// start for every hit (20,000 hits in one file took 4 s that way).
#[derive(Default)]
struct LineCursor {
    file: Option<usize>,
    at: usize,
    line: usize,
}

impl LineCursor {
    /// The 1-based line of byte `at` of `text`, the text of file number `file`.
    fn line_of(&mut self, file: usize, text: &str, at: usize) -> usize {
        if self.file != Some(file) || at < self.at {
            *self = LineCursor {
                file: Some(file),
                at: 0,
                line: 1,
            };
        }
        self.line += text.as_bytes()[self.at..at]
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        self.at = at;
        self.line
    }
}

/// A hit at byte `at` of `file`'s text (file number `index`).
fn hit(file: &SourceText, index: usize, at: usize, lines: &mut LineCursor) -> SearchHit {
    let text = &file.text;
    let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[at..].find('\n').map_or(text.len(), |i| at + i);
    let line = lines.line_of(index, text, at);
    let column = text[line_start..at].chars().count() + 1;
    SearchHit {
        path: file.path.clone(),
        line,
        column,
        snippet: snippet(&text[line_start..line_end], at - line_start),
        kind: None,
        qualified_name: None,
        project: file.project.clone(),
    }
}

/// `line` trimmed, cut to [`SNIPPET_CHARS`] characters around byte `at` when longer.
fn snippet(line: &str, at: usize) -> String {
    let line = line.trim_end_matches('\r');
    let total = line.chars().count();
    if total <= SNIPPET_CHARS {
        return line.trim().to_owned();
    }
    // `...` marks a side that was cut; the window leaves room for both marks, starts a
    // quarter of it before the match, and ends at the line's end at the latest.
    const MARK: &str = "...";
    let room = SNIPPET_CHARS - 2 * MARK.len();
    let before = line[..at.min(line.len())].chars().count();
    let start = before.saturating_sub(room / 4).min(total - room);
    let cut: String = line.chars().skip(start).take(room).collect();
    let mut out = String::with_capacity(cut.len() + 2 * MARK.len());
    if start > 0 {
        out.push_str(MARK);
    }
    out.push_str(cut.trim());
    if start + room < total {
        out.push_str(MARK);
    }
    out
}

fn search_definitions(
    db: &CodeDatabase,
    scope: Scope,
    options: &SearchOptions,
    matcher: &Matcher,
    paths: &PathFilter,
) -> Result<Page<SearchHit>> {
    let defs = db.definitions(scope, &options.kinds, options.language.as_deref())?;
    let by_text = options.text.is_some();
    let found: Vec<SearchHit> = defs
        .into_iter()
        .filter(|d| paths.admits(&d.hit.path))
        .filter(|d| {
            matcher.first(&d.hit.name).is_some()
                || matcher.first(&d.hit.qualified_name).is_some()
                || (by_text
                    && d.docstring
                        .as_deref()
                        .is_some_and(|doc| matcher.first(doc).is_some()))
        })
        .map(|d| SearchHit {
            path: d.hit.path,
            line: usize::try_from(d.hit.start_line).unwrap_or(0),
            column: 1,
            snippet: d
                .hit
                .signature
                .as_deref()
                .map_or_else(|| d.hit.qualified_name.clone(), |s| snippet(s, 0)),
            kind: Some(d.hit.kind),
            qualified_name: Some(d.hit.qualified_name),
            project: d.hit.project,
        })
        .collect();
    Ok(Page::of(found, options.offset, options.limit))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(text: Option<&str>, regex: Option<&str>) -> SearchOptions {
        SearchOptions {
            text: text.map(str::to_owned),
            regex: regex.map(str::to_owned),
            ..Default::default()
        }
    }

    #[test]
    fn words_match_whole_words_across_separators() {
        let m = Matcher::new(&opts(Some("parse expr"), None)).unwrap();
        assert_eq!(
            m.lines("x = parse_expr(1)\nparser expr\nPARSE-EXPR"),
            [4, 30]
        );
    }

    /// The phrase as one regular expression, as the matcher was built before: the oracle
    /// the word-by-word matcher is compared with. Its separators are exactly the characters
    /// that are not `char::is_alphanumeric` (Alphabetic or Numeric), outside case folding.
    fn phrase_regex(words: &[&str], insensitive: bool) -> Regex {
        const SEP: &str = r"(?-i:[^\p{Alphabetic}\p{N}])";
        let body: Vec<String> = words.iter().map(|w| regex::escape(w)).collect();
        RegexBuilder::new(&format!(
            r"(?m)(?:^|{SEP})({})(?:$|{SEP})",
            body.join(&format!("{SEP}+"))
        ))
        .case_insensitive(insensitive)
        .size_limit(1 << 24)
        .build()
        .unwrap()
    }

    fn regex_lines(re: &Regex, text: &str) -> Vec<usize> {
        let mut out = Vec::new();
        let mut from = 0;
        while let Some(c) = re.captures_at(text, from) {
            let start = c.get(1).unwrap().start();
            out.push(start);
            match text[start..].find('\n') {
                Some(nl) => from = start + nl + 1,
                None => break,
            }
        }
        out
    }

    #[test]
    fn phrases_match_as_the_whole_phrase_expression_does() {
        // Letters that fold oddly (Kelvin sign, long s, sharp s, dotted I, a combining
        // mark that is Alphabetic), digits of other scripts, separators of every kind.
        let alphabet: Vec<char> = "aAbBkKsSſßẞİi\u{212A}\u{0345}1٣_ -.\n\t(é€"
            .chars()
            .collect();
        let phrases: [&[&str]; 6] = [
            &["a"],
            &["ab", "k"],
            &["s", "1"],
            &["ß"],
            &["i", "a", "b"],
            &["K"],
        ];
        let mut seed = 0x9e37_79b9_u64;
        let mut next = |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            usize::try_from(seed % n as u64).unwrap()
        };
        let pairs: Vec<(&[&str], bool, Matcher, Regex)> = phrases
            .iter()
            .flat_map(|words| [false, true].map(|i| (*words, i)))
            .map(|(words, i)| {
                let ours = Matcher::Phrase(Phrase::new(words, i).unwrap());
                (words, i, ours, phrase_regex(words, i))
            })
            .collect();
        for round in 0..3000 {
            let len = next(40);
            let text: String = (0..len).map(|_| alphabet[next(alphabet.len())]).collect();
            let (words, insensitive, ours, oracle) = &pairs[round % pairs.len()];
            assert_eq!(
                ours.lines(&text),
                regex_lines(oracle, &text),
                "{words:?} insensitive={insensitive} in {text:?}"
            );
        }
    }

    #[test]
    fn regex_finds_one_hit_per_line() {
        let m = Matcher::new(&opts(None, Some("a"))).unwrap();
        assert_eq!(m.lines("aaa\nb\nba"), [0, 7]);
        let bad = Matcher::new(&opts(None, Some("(unclosed"))).err().unwrap();
        assert!(bad.to_string().contains("invalid pattern"), "{bad}");
    }

    #[test]
    fn globs_include_and_exclude() {
        let f = PathFilter::new(&["*.py".into(), "!tests/**".into()]).unwrap();
        assert!(f.admits("a.py") && f.admits("src/b.py"));
        assert!(!f.admits("tests/c.py") && !f.admits("a.rs"));
        assert!(PathFilter::new(&["../x".into()]).is_err());
        assert!(PathFilter::new(&["/etc/*".into()]).is_err());
        assert!(PathFilter::new(&["a[".into()]).is_err());
    }

    #[test]
    fn long_lines_are_cut_around_the_match() {
        let line = format!("{}needle{}", "x".repeat(500), "y".repeat(500));
        let s = snippet(&line, 500);
        assert!(
            s.contains("needle") && s.chars().count() <= SNIPPET_CHARS,
            "{s}"
        );
        assert!(s.starts_with("...") && s.ends_with("..."), "{s}");
        // Nothing cut before a match at the start, nothing after one at the end, and the
        // window uses its room.
        let first = snippet(&format!("# target {}", "y".repeat(500)), 2);
        assert!(
            first.starts_with("# target") && first.ends_with("..."),
            "{first}"
        );
        let tail = format!("{}target", "x ".repeat(300));
        let last = snippet(&tail, tail.len() - "target".len());
        assert!(
            last.starts_with("...") && last.ends_with("target"),
            "{last}"
        );
        assert_eq!(last.chars().count(), SNIPPET_CHARS - 3, "{last}");
    }

    #[test]
    fn many_hits_in_one_file_are_numbered_by_counting_each_line_once() {
        let text: String = (0..50).map(|i| format!("# foo {i}\nother\n")).collect();
        let file = SourceText {
            path: "a.py".into(),
            language: None,
            project: None,
            text,
        };
        let m = Matcher::new(&opts(Some("foo"), None)).unwrap();
        let mut lines = LineCursor::default();
        let numbers: Vec<usize> = m
            .lines(&file.text)
            .into_iter()
            .map(|at| hit(&file, 0, at, &mut lines).line)
            .collect();
        assert_eq!(numbers, (0..50).map(|i| 2 * i + 1).collect::<Vec<_>>());
        // Another file, or an earlier offset, starts the count again.
        assert_eq!(hit(&file, 1, 0, &mut lines).line, 1);
        assert_eq!(hit(&file, 1, file.text.len() - 1, &mut lines).line, 100);
        assert_eq!(hit(&file, 1, 0, &mut lines).line, 1);
    }
}
