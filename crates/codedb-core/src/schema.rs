//! The code schema: the tables `CodeDatabase` works on, declared once here, and
//! `ensure_schema_synced`, the explicit startup step that brings a database to it.
//!
//! The tables are declared once, in SQL both backends read with a few words rendered per
//! backend by [`code_schema`]: on PostgreSQL `INTEGER` becomes `BIGINT`, an `id INTEGER
//! PRIMARY KEY` an identity column, `BLOB` `BYTEA`, and `WITHOUT ROWID` goes. Full-text
//! search is each backend's own and declared apart: FTS5 tables kept by triggers and by the
//! store on SQLite ([`SQLITE_SEARCH`]); a stored `tsvector` column and GIN indexes on
//! PostgreSQL ([`POSTGRES_SEARCH`]). The schema backend turns the rendered text into the
//! model by executing it in a scratch database. Every child row cascades from its file;
//! timestamps are Unix milliseconds.
//!
//! Usages are stored compactly: one row per (identifier, file) with the count and the
//! positions packed into a blob (see [`crate::store::pack_positions`]), not one row per
//! reference; a large tree has millions of references.

use crate::Dialect;

macro_rules! code_tables {
    () => {
        r#"
CREATE TABLE projects (
    id INTEGER PRIMARY KEY,
    root_path TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE TABLE files (
    id INTEGER PRIMARY KEY,
    project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    path TEXT NOT NULL,
    language TEXT,
    size INTEGER NOT NULL DEFAULT 0,
    mtime_ns INTEGER NOT NULL DEFAULT 0,
    sha256 TEXT NOT NULL DEFAULT '',
    lines INTEGER NOT NULL DEFAULT 0,
    deleted INTEGER NOT NULL DEFAULT 0 CHECK (deleted IN (0, 1)),
    indexed_at INTEGER,
    UNIQUE (project_id, path)
);
CREATE TABLE source (
    file_id INTEGER PRIMARY KEY REFERENCES files(id) ON DELETE CASCADE,
    text TEXT NOT NULL
);
CREATE TABLE classes (
    id INTEGER PRIMARY KEY,
    file_id INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    qualified_name TEXT NOT NULL,
    start_line INTEGER NOT NULL,
    end_line INTEGER NOT NULL,
    start_byte INTEGER NOT NULL,
    end_byte INTEGER NOT NULL,
    signature TEXT,
    docstring TEXT
);
CREATE TABLE functions (
    id INTEGER PRIMARY KEY,
    file_id INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    qualified_name TEXT NOT NULL,
    start_line INTEGER NOT NULL,
    end_line INTEGER NOT NULL,
    start_byte INTEGER NOT NULL,
    end_byte INTEGER NOT NULL,
    signature TEXT,
    docstring TEXT
);
CREATE TABLE methods (
    id INTEGER PRIMARY KEY,
    class_id INTEGER REFERENCES classes(id) ON DELETE CASCADE,
    file_id INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    qualified_name TEXT NOT NULL,
    start_line INTEGER NOT NULL,
    end_line INTEGER NOT NULL,
    start_byte INTEGER NOT NULL,
    end_byte INTEGER NOT NULL,
    signature TEXT,
    docstring TEXT
);
CREATE TABLE imports (
    id INTEGER PRIMARY KEY,
    file_id INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
    module TEXT,
    name TEXT,
    alias TEXT,
    line INTEGER NOT NULL
);
CREATE TABLE names (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE
);
CREATE TABLE usages (
    name_id INTEGER NOT NULL REFERENCES names(id),
    file_id INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
    count INTEGER NOT NULL,
    positions BLOB NOT NULL,
    PRIMARY KEY (file_id, name_id)
) WITHOUT ROWID;
-- Resolved references (see `crate::store::refs`): one row per (file, spec, kind, name) with
-- the positions packed like usages'. `spec` is what the file's own scan says the name
-- refers to, in the language's resolver's notation; the target and confidence are what the
-- resolver made of it with the whole project in view: a definition (`target_file_id`,
-- `target_name` its qualified name, '' for the file itself), an external symbol
-- (`target_file_id` NULL, `target_name` its dotted name), or, for `ambiguous`, nothing
-- (the candidates are the definitions called `name`). NULL confidence: nothing to name.
CREATE TABLE refs (
    file_id INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
    spec TEXT NOT NULL,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    count INTEGER NOT NULL,
    positions BLOB NOT NULL,
    confidence TEXT,
    target_file_id INTEGER,
    target_name TEXT,
    PRIMARY KEY (file_id, spec, kind, name)
) WITHOUT ROWID;
-- What a file binds for the others to resolve against: its module-level names (imports,
-- aliases, star imports, `__all__`), each class's bases, each function's declared return.
CREATE TABLE bindings (
    file_id INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
    owner TEXT NOT NULL,
    name TEXT NOT NULL,
    ord INTEGER NOT NULL,
    spec TEXT NOT NULL,
    PRIMARY KEY (file_id, owner, name, ord)
) WITHOUT ROWID;
-- What a file's resolution looked at (`f:<file id>`, `m:<module>`, `p:<path>`): the files
-- to resolve again when one of these changes what it offers.
CREATE TABLE ref_deps (
    dep TEXT NOT NULL,
    file_id INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
    PRIMARY KEY (dep, file_id)
) WITHOUT ROWID;
-- Files stored but not resolved yet (an index run resolves them at its end, or the next run
-- does when this one was killed).
CREATE TABLE ref_pending (
    file_id INTEGER PRIMARY KEY REFERENCES files(id) ON DELETE CASCADE
);
-- File backups taken by the write commands: the bytes live under .codedb/file-backups/ by
-- sha256; one row per changed file per command.
CREATE TABLE file_backups (
    id INTEGER PRIMARY KEY,
    project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    path TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    size INTEGER NOT NULL,
    command_id TEXT NOT NULL,
    command TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX file_backups_path ON file_backups(project_id, path);
-- One row per write command that landed.
CREATE TABLE commands (
    id TEXT PRIMARY KEY,
    project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    paths TEXT NOT NULL,
    message TEXT NOT NULL,
    git_commit TEXT,
    created_at INTEGER NOT NULL
);
CREATE TABLE issues (
    id INTEGER PRIMARY KEY,
    file_id INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    line INTEGER,
    "column" INTEGER,
    message TEXT NOT NULL
);
CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE INDEX classes_file ON classes(file_id);
CREATE INDEX classes_name ON classes(name);
CREATE INDEX functions_file ON functions(file_id);
CREATE INDEX functions_name ON functions(name);
CREATE INDEX methods_class ON methods(class_id);
CREATE INDEX methods_file ON methods(file_id);
CREATE INDEX methods_name ON methods(name);
-- A definition is looked up by its qualified name as often as by its name (`query symbol`,
-- `refs`, `callers`, `--replace-symbol`): without these, each such lookup scans every
-- project's definitions.
CREATE INDEX classes_qualified_name ON classes(qualified_name);
CREATE INDEX functions_qualified_name ON functions(qualified_name);
CREATE INDEX methods_qualified_name ON methods(qualified_name);
CREATE INDEX imports_file ON imports(file_id);
CREATE INDEX usages_name ON usages(name_id);
CREATE INDEX issues_file ON issues(file_id);
CREATE INDEX refs_target ON refs(target_file_id, target_name);
-- Only the unsure references are looked up by name (their candidates change when a
-- definition of the name comes or goes): written as the queries write it, term for term,
-- for SQLite to see that they imply it.
CREATE INDEX refs_name ON refs(name) WHERE confidence IS NULL OR confidence = 'name' OR confidence = 'ambiguous';
CREATE INDEX ref_deps_file ON ref_deps(file_id);
"#
    };
}

macro_rules! sqlite_search {
    () => {
        r#"CREATE VIRTUAL TABLE source_fts USING fts5(text, content='source', content_rowid='file_id');
CREATE TRIGGER source_fts_insert AFTER INSERT ON source BEGIN
    INSERT INTO source_fts(rowid, text) VALUES (new.file_id, new.text);
END;
CREATE TRIGGER source_fts_delete AFTER DELETE ON source BEGIN
    INSERT INTO source_fts(source_fts, rowid, text) VALUES ('delete', old.file_id, old.text);
END;
CREATE TRIGGER source_fts_update AFTER UPDATE ON source BEGIN
    INSERT INTO source_fts(source_fts, rowid, text) VALUES ('delete', old.file_id, old.text);
    INSERT INTO source_fts(rowid, text) VALUES (new.file_id, new.text);
END;
-- rowid = entity id * 4 + 1 (class), 2 (function) or 3 (method): deletes go by rowid.
-- Rows are added by the store with each file's entities (one INSERT ... SELECT per table,
-- much cheaper than a trigger per row); triggers remove them with their entities.
CREATE VIRTUAL TABLE symbol_fts USING fts5(name, qualified_name, docstring, content='', contentless_delete=1);
CREATE TRIGGER classes_fts_delete AFTER DELETE ON classes BEGIN
    DELETE FROM symbol_fts WHERE rowid = old.id * 4 + 1;
END;
CREATE TRIGGER functions_fts_delete AFTER DELETE ON functions BEGIN
    DELETE FROM symbol_fts WHERE rowid = old.id * 4 + 2;
END;
CREATE TRIGGER methods_fts_delete AFTER DELETE ON methods BEGIN
    DELETE FROM symbol_fts WHERE rowid = old.id * 4 + 3;
END;
"#
    };
}

/// The tables and indexes of the code schema, in the shared declaration (SQLite's words).
pub const CODE_TABLES: &str = code_tables!();

/// Full-text search on SQLite: FTS5 over source text (external content, kept by triggers)
/// and over definitions (contentless, filled by the store).
pub const SQLITE_SEARCH: &str = sqlite_search!();

/// Full-text search on PostgreSQL: a `tsvector` of each file's source words and one of each
/// definition's name, qualified name and docstring, built by the store (see
/// [`crate::search`]), each with a GIN index. Words are not stemmed.
pub const POSTGRES_SEARCH: &str = r#"
ALTER TABLE source ADD COLUMN tsv tsvector;
CREATE INDEX source_fts ON source USING GIN (tsv);
ALTER TABLE classes ADD COLUMN tsv tsvector;
CREATE INDEX classes_fts ON classes USING GIN (tsv);
ALTER TABLE functions ADD COLUMN tsv tsvector;
CREATE INDEX functions_fts ON functions USING GIN (tsv);
ALTER TABLE methods ADD COLUMN tsv tsvector;
CREATE INDEX methods_fts ON methods USING GIN (tsv);
"#;

/// The code schema for SQLite, the embedded default (= `code_schema(Dialect::Sqlite)`).
pub const CODE_SCHEMA: &str = concat!(code_tables!(), sqlite_search!());

/// The code schema rendered for `dialect`.
pub fn code_schema(dialect: Dialect) -> String {
    match dialect {
        Dialect::Sqlite => CODE_SCHEMA.to_owned(),
        Dialect::Postgres => {
            let tables = CODE_TABLES
                .replace(
                    " id INTEGER PRIMARY KEY,",
                    " id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,",
                )
                .replace("INTEGER", "BIGINT")
                .replace("BLOB", "BYTEA")
                .replace(") WITHOUT ROWID;", ");");
            tables + POSTGRES_SEARCH
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_rendering_leaves_no_sqlite_words() {
        let pg = code_schema(Dialect::Postgres);
        for word in ["INTEGER", "BLOB", "WITHOUT ROWID", "fts5", "TRIGGER"] {
            assert!(!pg.contains(word), "{word} left in the PostgreSQL schema");
        }
        assert_eq!(pg.matches("GENERATED BY DEFAULT AS IDENTITY").count(), 9);
        assert!(code_schema(Dialect::Sqlite).contains("fts5"));
    }
}
