//! What a desired-schema file may run on PostgreSQL: a statement-kind allowlist checked
//! before anything runs (`CREATE TABLE name (...)`, `CREATE [UNIQUE] INDEX ... ON name`,
//! `CREATE [OR REPLACE] VIEW`, `CREATE [OR REPLACE] [CONSTRAINT] TRIGGER`,
//! `ALTER TABLE name ADD [COLUMN]`, names never qualified by a schema), and the least privilege it runs with: a role of its own, made in
//! the rolled-back transaction, that may only create objects in the scratch schema (where
//! the connection may create roles; otherwise the connection's own role).
//!
//! The check reads the statement as the server's lexer does where it matters for the kind:
//! comments (`--`, nested `/* */`) are blanked first, string literals (`'...'`, `E'...'`
//! with backslash escapes, `$tag$...$tag$`) and quoted identifiers kept whole.

use codedb_schema::sql::{Token, tokenize};
use codedb_schema::{Error, Result};
use postgres::GenericClient;

/// `Ok` when `statement` is one of the schema statements a desired file may hold.
pub(crate) fn check_schema_statement(statement: &str) -> std::result::Result<(), String> {
    let text = blank_comments(statement);
    let tokens: Vec<Token> = tokenize(&text)
        .into_iter()
        .filter(|t| !matches!(t, Token::Comment(_)))
        .collect();
    let word = |i: usize| match tokens.get(i) {
        Some(Token::Word(w)) => w.as_str(),
        _ => "",
    };
    let punct = |i: usize| match tokens.get(i) {
        Some(Token::Punct(p)) => p.as_str(),
        _ => "",
    };
    let first: String = statement
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ");
    let not_schema = || Err(format!("`{first} ...` is not a schema statement"));
    if word(0) == "alter" && word(1) == "table" {
        // ALTER TABLE [IF EXISTS] [ONLY] name ADD [COLUMN] ...
        let mut i = 2;
        if word(i) == "if" && word(i + 1) == "exists" {
            i += 2;
        }
        if word(i) == "only" {
            i += 1;
        }
        let after = match tokens.get(i) {
            Some(Token::Word(_)) if punct(i + 1) != "." => i + 1,
            _ => return Err("a schema-qualified or missing name".to_owned()),
        };
        return if word(after) == "add"
            && !matches!(
                word(after + 1),
                "constraint" | "primary" | "unique" | "foreign" | "check" | "exclude"
            ) {
            Ok(())
        } else {
            Err(format!(
                "`{first} ...`: only ALTER TABLE ... ADD COLUMN is accepted"
            ))
        };
    }
    if word(0) != "create" {
        return not_schema();
    }
    let mut i = 1;
    let or_replace = word(1) == "or" && word(2) == "replace";
    if or_replace {
        i += 2;
    }
    let unqualified = |at: usize| {
        if matches!(tokens.get(at), Some(Token::Word(_))) && punct(at + 1) != "." {
            Ok(at + 1)
        } else {
            Err("a schema-qualified or missing name".to_owned())
        }
    };
    let if_not_exists = |at: usize| {
        if word(at) == "if" && word(at + 1) == "not" && word(at + 2) == "exists" {
            at + 3
        } else {
            at
        }
    };
    match word(i) {
        "table" if !or_replace => {
            let after = unqualified(if_not_exists(i + 1))?;
            // `CREATE TABLE ... AS query` and `... OF type`/`PARTITION OF` run or copy more
            // than a definition.
            if punct(after) == "(" {
                Ok(())
            } else {
                Err("CREATE TABLE without a column list (AS, OF, PARTITION OF)".to_owned())
            }
        }
        "unique" | "index" if !or_replace => {
            if word(i) == "unique" {
                i += 1;
            }
            if word(i) != "index" {
                return not_schema();
            }
            i += 1;
            if word(i) == "concurrently" {
                return Err("CREATE INDEX CONCURRENTLY".to_owned());
            }
            i = if_not_exists(i);
            if word(i) != "on" {
                i = unqualified(i)?;
            }
            if word(i) != "on" {
                return not_schema();
            }
            i += 1;
            if word(i) == "only" {
                i += 1;
            }
            unqualified(i).map(drop)
        }
        "view" => unqualified(i + 1).map(drop),
        "constraint" if word(i + 1) == "trigger" => unqualified(i + 2).map(drop),
        "trigger" => unqualified(i + 1).map(drop),
        _ => not_schema(),
    }
}

/// `statement` with its comments replaced by spaces, read by PostgreSQL's rules.
fn blank_comments(statement: &str) -> String {
    let c: Vec<char> = statement.chars().collect();
    let mut out = String::with_capacity(statement.len());
    let mut i = 0;
    while i < c.len() {
        let next = c.get(i + 1).copied();
        if c[i] == '-' && next == Some('-') {
            while i < c.len() && c[i] != '\n' {
                i += 1;
            }
            out.push(' ');
        } else if c[i] == '/' && next == Some('*') {
            let mut depth = 0;
            while i < c.len() {
                if c[i] == '/' && c.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if c[i] == '*' && c.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            out.push(' ');
        } else if c[i] == '\'' || c[i] == '"' {
            let q = c[i];
            let escapes = q == '\'' && i > 0 && matches!(c[i - 1], 'e' | 'E');
            let start = i;
            i += 1;
            while i < c.len() {
                // A backslash escape (in E'...') or a doubled quote: two characters.
                if (escapes && c[i] == '\\') || (c[i] == q && c.get(i + 1) == Some(&q)) {
                    i += 2;
                } else if c[i] == q {
                    i += 1;
                    break;
                } else {
                    i += 1;
                }
            }
            i = i.min(c.len());
            if escapes {
                // Keep the tokenizer from reading backslash escapes its own way.
                out.push_str("''");
            } else {
                out.extend(&c[start..i]);
            }
            continue;
        } else if c[i] == '$' && (i == 0 || !c[i - 1].is_alphanumeric() && c[i - 1] != '_') {
            // `$tag$ ... $tag$`
            let tag_end = c[i + 1..]
                .iter()
                .position(|ch| *ch == '$')
                .map(|p| i + 1 + p)
                .filter(|e| {
                    c[i + 1..*e]
                        .iter()
                        .all(|ch| ch.is_alphanumeric() || *ch == '_')
                });
            if let Some(e) = tag_end {
                let tag: String = c[i..=e].iter().collect();
                let body: String = c[e + 1..].iter().collect();
                let close = body.find(&tag).map_or(c.len(), |p| {
                    e + 1 + body[..p].chars().count() + tag.chars().count()
                });
                out.push_str("''");
                i = close;
                continue;
            }
            out.push('$');
            i += 1;
        } else {
            out.push(c[i]);
            i += 1;
        }
    }
    out
}

/// Drops to a role that may only create objects in `scratch`, when the connection may make
/// one (a superuser, or a role with CREATEROLE); otherwise keeps the connection's role.
pub(crate) fn least_privilege(tx: &mut impl GenericClient, scratch: &str, n: u32) -> Result<()> {
    const CAN: &str = "SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = current_user";
    let can = tx
        .query_opt(CAN, &[])
        .map_err(|e| Error::Database(crate::error::map_err(&e, CAN)))?
        .is_some_and(|r| r.get::<_, bool>(0));
    if !can {
        return Ok(());
    }
    let role = format!("codedb_scratch_{}_{n}", std::process::id());
    let sql = format!(
        "CREATE ROLE {role} NOLOGIN NOINHERIT; GRANT USAGE, CREATE ON SCHEMA {scratch} TO {role}; \
         SET LOCAL ROLE {role}"
    );
    tx.batch_execute(&sql)
        .map_err(|e| Error::Database(crate::error::map_err(&e, &sql)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_schema_statements_on_unqualified_names_pass() {
        for ok in [
            "CREATE TABLE t (a int)",
            "create table if not exists \"T\" (a int, b text default 'x;y')",
            "CREATE UNIQUE INDEX i ON t (a)",
            "CREATE INDEX ON t (a)",
            "ALTER TABLE source ADD COLUMN tsv tsvector",
            "CREATE OR REPLACE VIEW v AS SELECT 1",
            "-- a comment\n/* another /* nested */ one */ CREATE TABLE t (a int)",
        ] {
            assert_eq!(check_schema_statement(ok), Ok(()), "{ok}");
        }
        for bad in [
            "COPY (SELECT 1) TO PROGRAM 'touch /tmp/x'",
            "CREATE TABLE t AS SELECT pg_read_file('/etc/passwd')",
            "CREATE TABLE public.t (a int)",
            "CREATE INDEX i ON public.files (path)",
            "CREATE MATERIALIZED VIEW m AS SELECT 1",
            "CREATE FUNCTION f() RETURNS int AS $$ SELECT 1 $$ LANGUAGE sql",
            "CREATE TEMP TABLE t (a int)",
            "/* /* */ CREATE TABLE x (a int) */ COPY (SELECT 1) TO PROGRAM 'id'",
            "DO $$ BEGIN PERFORM 1; END $$",
            "SET ROLE postgres",
            "CREATE ROLE r SUPERUSER",
            "CREATE EXTENSION dblink",
            "ALTER TABLE public.t ADD COLUMN x int",
            "ALTER TABLE t OWNER TO postgres",
        ] {
            assert!(check_schema_statement(bad).is_err(), "{bad}");
        }
    }
}
