//! A SQL tokenizer (not a parser) for the few things SQLite's catalog does not expose:
//! normalising statement text for comparison, extracting `CHECK (...)` and generated-column
//! expressions, reading `@renamed from=...` hints from comments, and finding which names a
//! view or trigger mentions.
//!
//! The model itself comes from SQLite (executing DDL in a scratch database and introspecting
//! it); this module only looks at tokens.

/// One token of SQL text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token {
    /// An identifier or keyword, lowercased; quoted identifiers are unquoted first.
    Word(String),
    /// A string literal, with its quotes.
    Str(String),
    /// A number or other literal.
    Number(String),
    /// Punctuation or an operator.
    Punct(String),
    /// A comment's text (without `--` or `/* */`).
    Comment(String),
}

/// Splits `sql` into tokens. Never fails: unknown characters become punctuation.
pub fn tokenize(sql: &str) -> Vec<Token> {
    tokenize_spanned(sql).into_iter().map(|(t, _)| t).collect()
}

/// Like [`tokenize`], with each token's start and end as char indices into `sql`.
pub fn tokenize_spanned(sql: &str) -> Vec<(Token, (usize, usize))> {
    let chars: Vec<char> = sql.chars().collect();
    let mut spanned: Vec<(Token, (usize, usize))> = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let before = i;
        let mut out = Vec::new();
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '-' && chars.get(i + 1) == Some(&'-') {
            let start = i + 2;
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
            out.push(Token::Comment(chars[start..i].iter().collect()));
        } else if c == '/' && chars.get(i + 1) == Some(&'*') {
            let start = i + 2;
            i += 2;
            while i < chars.len() && !(chars[i] == '*' && chars.get(i + 1) == Some(&'/')) {
                i += 1;
            }
            out.push(Token::Comment(
                chars[start..i.min(chars.len())].iter().collect(),
            ));
            i += 2;
        } else if c == '\'' {
            let (text, next) = quoted(&chars, i, '\'');
            out.push(Token::Str(format!("'{}'", text.replace('\'', "''"))));
            i = next;
        } else if c == '"' || c == '`' {
            let (text, next) = quoted(&chars, i, c);
            out.push(Token::Word(text.to_lowercase()));
            i = next;
        } else if c == '[' {
            let start = i + 1;
            while i < chars.len() && chars[i] != ']' {
                i += 1;
            }
            out.push(Token::Word(
                chars[start..i.min(chars.len())]
                    .iter()
                    .collect::<String>()
                    .to_lowercase(),
            ));
            i += 1;
        } else if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len()
                && (chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == '$')
            {
                i += 1;
            }
            out.push(Token::Word(
                chars[start..i].iter().collect::<String>().to_lowercase(),
            ));
        } else if c.is_ascii_digit()
            || (c == '.' && chars.get(i + 1).is_some_and(char::is_ascii_digit))
        {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                i += 1;
            }
            out.push(Token::Number(
                chars[start..i].iter().collect::<String>().to_lowercase(),
            ));
        } else {
            let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
            if ["<=", ">=", "<>", "!=", "==", "||", "<<", ">>", "->"].contains(&two.as_str()) {
                out.push(Token::Punct(two));
                i += 2;
            } else {
                out.push(Token::Punct(c.to_string()));
                i += 1;
            }
        }
        for t in out {
            spanned.push((t, (before, i.min(chars.len()))));
        }
    }
    spanned
}

/// Reads a quoted run starting at `chars[start] == q`, where a doubled `q` is an escaped one.
fn quoted(chars: &[char], start: usize, q: char) -> (String, usize) {
    let mut text = String::new();
    let mut i = start + 1;
    while i < chars.len() {
        if chars[i] == q {
            if chars.get(i + 1) == Some(&q) {
                text.push(q);
                i += 2;
                continue;
            }
            return (text, i + 1);
        }
        text.push(chars[i]);
        i += 1;
    }
    (text, i)
}

/// The tokens without comments, joined by single spaces: equal for statements that differ
/// only in case, whitespace, identifier quoting or comments.
pub fn normalize(sql: &str) -> String {
    join(
        &tokenize(sql)
            .into_iter()
            .filter(|t| !matches!(t, Token::Comment(_)))
            .collect::<Vec<_>>(),
    )
}

/// Joins tokens back into text, one space between them.
pub fn join(tokens: &[Token]) -> String {
    let mut out = String::new();
    for t in tokens {
        if !out.is_empty() {
            out.push(' ');
        }
        match t {
            Token::Word(w) => out.push_str(w),
            Token::Str(s) | Token::Number(s) | Token::Punct(s) => out.push_str(s),
            Token::Comment(_) => {}
        }
    }
    out
}

/// The index of the token closing the parenthesis opened at `open`.
fn closing(tokens: &[Token], open: usize) -> Option<usize> {
    let mut depth = 0;
    for (i, t) in tokens.iter().enumerate().skip(open) {
        match t {
            Token::Punct(p) if p == "(" => depth += 1,
            Token::Punct(p) if p == ")" => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

fn is_word(t: Option<&Token>, w: &str) -> bool {
    matches!(t, Some(Token::Word(x)) if x == w)
}

fn is_punct(t: Option<&Token>, p: &str) -> bool {
    matches!(t, Some(Token::Punct(x)) if x == p)
}

/// The normalized bodies of every `CHECK (...)` in a CREATE TABLE statement, in order.
pub fn check_constraints(create_table: &str) -> Vec<String> {
    let tokens: Vec<Token> = tokenize(create_table)
        .into_iter()
        .filter(|t| !matches!(t, Token::Comment(_)))
        .collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        if is_word(tokens.get(i), "check")
            && is_punct(tokens.get(i + 1), "(")
            && let Some(end) = closing(&tokens, i + 1)
        {
            out.push(join(&tokens[i + 2..end]));
            i = end;
        }
        i += 1;
    }
    out
}

/// One column definition or table constraint of a CREATE TABLE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    /// Its tokens, comments included (so rename hints stay with their column).
    pub tokens: Vec<Token>,
    /// Its original text, without comments around it.
    pub text: String,
}

/// Splits the body of a CREATE TABLE (between its outer parentheses) at top-level commas.
///
/// Comments go with the element they document: a comment that starts on the line where an
/// element ends (after its code, before or after its comma) belongs to that element; a
/// comment on a line of its own belongs to the element after it. A comment on the line of the
/// opening parenthesis belongs to the table (see [`statement_rename_hint`]), and one after
/// the last element on a line of its own to nothing (see [`rename_hint_problems`]).
pub fn table_elements(create_table: &str) -> Vec<Element> {
    split_elements(create_table).0
}

/// [`table_elements`] and the comments that document no element (with their lines).
fn split_elements(create_table: &str) -> (Vec<Element>, Vec<(usize, String)>) {
    let chars: Vec<char> = create_table.chars().collect();
    let tokens = tokenize_spanned(create_table);
    let starts = line_starts(&chars);
    let line = |pos: usize| starts.partition_point(|&s| s <= pos);
    let Some(open) = tokens.iter().position(|(t, _)| is_punct(Some(t), "(")) else {
        return (Vec::new(), Vec::new());
    };
    let plain: Vec<Token> = tokens.iter().map(|(t, _)| t.clone()).collect();
    let Some(close) = closing(&plain, open) else {
        return (Vec::new(), Vec::new());
    };
    let open_line = line(tokens[open].1.0);
    let mut groups: Vec<Vec<(Token, (usize, usize))>> = vec![Vec::new()];
    let mut depth = 0;
    for (t, span) in &tokens[open + 1..close] {
        match t {
            Token::Punct(p) if p == "(" => depth += 1,
            Token::Punct(p) if p == ")" => depth -= 1,
            Token::Punct(p) if p == "," && depth == 0 => {
                groups.push(Vec::new());
                continue;
            }
            // On the line of the `(`, before any code: the table's own comment.
            Token::Comment(_)
                if groups.len() == 1 && groups[0].is_empty() && line(span.0) == open_line =>
            {
                continue;
            }
            _ => {}
        }
        if let Some(last) = groups.last_mut() {
            last.push((t.clone(), *span));
        }
    }
    let code_end_line = |group: &[(Token, (usize, usize))]| {
        group
            .iter()
            .rev()
            .find(|(t, _)| !matches!(t, Token::Comment(_)))
            .map(|(_, span)| line(span.1.saturating_sub(1)))
    };
    // A comment on the line where the element before it ends belongs to that element.
    for i in 1..groups.len() {
        let Some(end) = code_end_line(&groups[i - 1]) else {
            continue;
        };
        while matches!(groups[i].first(), Some((Token::Comment(_), span)) if line(span.0) == end) {
            let c = groups[i].remove(0);
            groups[i - 1].push(c);
        }
    }
    // Comments after an element's code on later lines document the next element, which the
    // last one has none of.
    let mut dangling = Vec::new();
    for i in 0..groups.len() {
        let Some(end) = code_end_line(&groups[i]) else {
            continue;
        };
        let last_code = groups[i]
            .iter()
            .rposition(|(t, _)| !matches!(t, Token::Comment(_)))
            .unwrap_or(0);
        let trailing: Vec<usize> = (last_code + 1..groups[i].len())
            .filter(|&k| line(groups[i][k].1.0) != end)
            .collect();
        for k in trailing.into_iter().rev() {
            let (t, span) = groups[i].remove(k);
            if let Token::Comment(text) = t {
                if i + 1 < groups.len() {
                    groups[i + 1].insert(0, (Token::Comment(text), span));
                } else {
                    dangling.push((line(span.0), text));
                }
            }
        }
    }
    let elements = groups
        .into_iter()
        .filter_map(|group| {
            let code: Vec<&(Token, (usize, usize))> = group
                .iter()
                .filter(|(t, _)| !matches!(t, Token::Comment(_)))
                .collect();
            let start = code.first()?.1.0;
            let end = code.last()?.1.1;
            Some(Element {
                text: chars[start..end].iter().collect(),
                tokens: group.into_iter().map(|(t, _)| t).collect(),
            })
        })
        .collect();
    dangling.reverse();
    (elements, dangling)
}

/// The char index where each line of `chars` starts (the first is 0): a position's line
/// number is how many starts are at or before it.
fn line_starts(chars: &[char]) -> Vec<usize> {
    std::iter::once(0)
        .chain(
            chars
                .iter()
                .enumerate()
                .filter(|(_, c)| **c == '\n')
                .map(|(i, _)| i + 1),
        )
        .collect()
}

/// What is wrong with the `@renamed from=` hints of a CREATE TABLE in a desired schema: a
/// hint that documents no column, one on a table constraint, one that cannot be read, two
/// columns claiming the same old name, or a column claiming the name another column keeps.
/// Empty when every hint binds to exactly one column.
pub fn rename_hint_problems(create_table: &str) -> Vec<String> {
    let (elements, dangling) = split_elements(create_table);
    let mut problems: Vec<String> = dangling
        .iter()
        .filter(|(_, c)| c.contains("@renamed"))
        .map(|(line, c)| {
            format!(
                "line {line}: the hint `{}` documents no column (a hint goes on the line of the \
                 column it renames, or on a line of its own just before it)",
                c.trim()
            )
        })
        .collect();
    let mut claimed: Vec<(String, String)> = Vec::new();
    for e in &elements {
        let hints: Vec<&String> = e
            .tokens
            .iter()
            .filter_map(|t| match t {
                Token::Comment(c) if c.contains("@renamed") => Some(c),
                _ => None,
            })
            .collect();
        let name = element_name(&e.tokens).unwrap_or_default();
        let constraint = matches!(
            name,
            "constraint" | "primary" | "unique" | "check" | "foreign"
        );
        for hint in &hints {
            match rename_hint(hint) {
                None => problems.push(format!(
                    "the hint `{}` is not `@renamed from=NAME`",
                    hint.trim()
                )),
                Some(_) if constraint => problems.push(format!(
                    "the hint `{}` is on a table constraint, not a column",
                    hint.trim()
                )),
                Some(_) if hints.len() > 1 => {
                    problems.push(format!("column {name} has {} rename hints", hints.len()))
                }
                Some(old) => claimed.push((name.to_owned(), old)),
            }
        }
    }
    for (i, (column, old)) in claimed.iter().enumerate() {
        if let Some((other, _)) = claimed[..i].iter().find(|(_, o)| o == old) {
            problems.push(format!(
                "columns {other} and {column} both claim to be renamed from {old}"
            ));
        }
        if !same_word(column, old)
            && elements
                .iter()
                .any(|e| element_name(&e.tokens).is_some_and(|n| same_word(n, old)))
        {
            problems.push(format!(
                "column {column} claims to be renamed from {old}, which the table still defines"
            ));
        }
    }
    problems
}

fn same_word(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// The normalized expression of a generated column definition (`... AS (expr)`), if it is
/// one.
pub fn generated_expression(column_definition: &[Token]) -> Option<String> {
    let tokens: Vec<&Token> = column_definition
        .iter()
        .filter(|t| !matches!(t, Token::Comment(_)))
        .collect();
    let owned: Vec<Token> = tokens.into_iter().cloned().collect();
    let at = owned
        .iter()
        .enumerate()
        .position(|(i, t)| is_word(Some(t), "as") && is_punct(owned.get(i + 1), "("))?;
    let end = closing(&owned, at + 1)?;
    Some(join(&owned[at + 2..end]))
}

/// The first word of a table element: the column name, or a constraint keyword.
pub fn element_name(element: &[Token]) -> Option<&str> {
    element.iter().find_map(|t| match t {
        Token::Word(w) => Some(w.as_str()),
        _ => None,
    })
}

/// The name in a `@renamed from=NAME` hint among `tokens`' comments, lowercased and
/// unquoted.
pub fn renamed_from(tokens: &[Token]) -> Option<String> {
    tokens.iter().find_map(|t| match t {
        Token::Comment(c) => rename_hint(c),
        _ => None,
    })
}

/// Parses `@renamed from=NAME` (NAME may be quoted) out of a comment's text.
pub fn rename_hint(comment: &str) -> Option<String> {
    let at = comment.find("@renamed")?;
    let rest = comment[at + "@renamed".len()..].trim_start();
    let rest = rest
        .strip_prefix("from")?
        .trim_start()
        .strip_prefix('=')?
        .trim_start();
    let name = match rest.chars().next()? {
        q @ ('"' | '`' | '\'') => rest[1..].split(q).next()?.to_owned(),
        '[' => rest[1..].split(']').next()?.to_owned(),
        _ => rest
            .split(|c: char| c.is_whitespace() || c == '*' || c == ',')
            .next()?
            .to_owned(),
    };
    (!name.is_empty()).then(|| name.to_lowercase())
}

/// The rename hint of a CREATE statement itself: in a comment before its first `(` (a
/// table) or before `ON` (an index).
pub fn statement_rename_hint(create: &str) -> Option<String> {
    let tokens = tokenize(create);
    let spanned = tokenize_spanned(create);
    let chars: Vec<char> = create.chars().collect();
    let starts = line_starts(&chars);
    let line = |pos: usize| starts.partition_point(|&s| s <= pos);
    let end = tokens
        .iter()
        .position(|t| is_punct(Some(t), "(") || is_word(Some(t), "on"))
        .unwrap_or(tokens.len());
    // A comment right after the `(` on its line also counts (`CREATE TABLE t ( -- @renamed`);
    // one on a line of its own documents the first column.
    let mut head: Vec<Token> = tokens[..end].to_vec();
    if let (Some(Token::Comment(c)), Some((_, open)), Some((_, at))) =
        (tokens.get(end + 1), spanned.get(end), spanned.get(end + 1))
        && line(open.0) == line(at.0)
    {
        head.push(Token::Comment(c.clone()));
    }
    renamed_from(&head)
}

/// `true` when `sql` mentions `name` as a word (used to find views and triggers that depend
/// on a table; over-inclusive by design).
pub fn mentions(sql: &str, name: &str) -> bool {
    let name = name.to_lowercase();
    tokenize(sql)
        .iter()
        .any(|t| matches!(t, Token::Word(w) if *w == name))
}

/// Quotes an identifier for SQL: `"name"` with embedded quotes doubled.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hint_binds_to_the_column_it_documents() {
        let sql = "CREATE TABLE t(id integer primary key, n integer, extra text,\n-- @renamed from=name\ntitle text)";
        let elements = table_elements(sql);
        let hint = |col: &str| {
            elements
                .iter()
                .find(|e| element_name(&e.tokens) == Some(col))
                .and_then(|e| renamed_from(&e.tokens))
        };
        assert_eq!(hint("title").as_deref(), Some("name"));
        assert_eq!(hint("extra"), None);
        assert!(rename_hint_problems(sql).is_empty());
        // Same line as the column, before or after its comma.
        let sql = "CREATE TABLE t (\n  a text, -- @renamed from=x\n  b text -- @renamed from=y\n)";
        let elements = table_elements(sql);
        assert_eq!(renamed_from(&elements[0].tokens).as_deref(), Some("x"));
        assert_eq!(renamed_from(&elements[1].tokens).as_deref(), Some("y"));
        assert!(rename_hint_problems(sql).is_empty());
        for bad in [
            "CREATE TABLE t (a text\n-- @renamed from=x\n)",
            "CREATE TABLE t (a text, -- @renamed from=x\nb text, -- @renamed from=x\nc text)",
            "CREATE TABLE t (a text, -- @renamed from=b\nb text)",
            "CREATE TABLE t (a text,\n-- @renamed from=x\nPRIMARY KEY (a))",
            "CREATE TABLE t (a text -- @renamed form=x\n)",
        ] {
            assert!(!rename_hint_problems(bad).is_empty(), "{bad}");
        }
    }

    #[test]
    fn normalization_ignores_case_whitespace_quotes_and_comments() {
        assert_eq!(
            normalize("CREATE  TABLE \"Users\" (\n id INTEGER -- the id\n)"),
            normalize("create table users(id integer)")
        );
        assert_ne!(
            normalize("SELECT 'A'"),
            normalize("SELECT 'a'"),
            "string literals keep their case"
        );
    }

    #[test]
    fn checks_generated_expressions_and_rename_hints_are_found() {
        let sql = "CREATE TABLE t ( -- @renamed from=\"old t\"
            a INTEGER CHECK (a > 0),
            b TEXT GENERATED ALWAYS AS (upper(a)) STORED,
            user_name text, -- @renamed from=username
            CHECK (length(b) < (10 + 1))
        )";
        assert_eq!(
            check_constraints(sql),
            ["a > 0", "length ( b ) < ( 10 + 1 )"]
        );
        let elements = table_elements(sql);
        assert_eq!(elements.len(), 4);
        assert_eq!(
            generated_expression(&elements[1].tokens).as_deref(),
            Some("upper ( a )")
        );
        assert_eq!(
            elements[1].text,
            "b TEXT GENERATED ALWAYS AS (upper(a)) STORED"
        );
        assert_eq!(element_name(&elements[2].tokens), Some("user_name"));
        assert_eq!(
            renamed_from(&elements[2].tokens).as_deref(),
            Some("username")
        );
        assert_eq!(statement_rename_hint(sql).as_deref(), Some("old t"));
        assert_eq!(
            statement_rename_hint(
                "CREATE INDEX new_idx /* @renamed from=old_idx */ ON users (email)"
            )
            .as_deref(),
            Some("old_idx")
        );
        assert!(mentions("SELECT id FROM Users u", "users"));
        assert!(!mentions("SELECT id FROM users_archive", "users"));
    }
}
