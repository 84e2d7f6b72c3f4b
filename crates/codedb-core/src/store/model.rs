//! The data the store takes and gives: a file's row and what was parsed from it, projects,
//! the scope of a query, and the hits queries answer with.

use std::collections::BTreeMap;

use serde::Serialize;

/// What the indexer knows about a file before storing it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FileMeta {
    /// Relative to the project root, `/`-separated.
    pub path: String,
    /// `python`, `rust`, ...
    pub language: Option<String>,
    /// Bytes.
    pub size: i64,
    /// Modification time, nanoseconds since the Unix epoch.
    pub mtime_ns: i64,
    /// Lowercase hex SHA-256 of the bytes.
    pub sha256: String,
    /// Lines of text.
    pub lines: i64,
}

/// A row of `files`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileRecord {
    /// Row id.
    pub id: i64,
    /// Owning project.
    pub project_id: i64,
    /// The file as last stored.
    #[serde(flatten)]
    pub meta: FileMeta,
    /// Soft-deleted.
    pub deleted: bool,
    /// When its entities were last stored (Unix ms).
    pub indexed_at: Option<i64>,
}

/// The kind of a definition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EntityKind {
    /// A class, struct, enum, trait or similar type definition.
    Class,
    /// A function not directly in a class body.
    Function,
    /// A function directly in a class body (Python) or an impl/trait block (Rust).
    Method,
}

impl EntityKind {
    /// Every kind, in the order queries list them.
    pub const ALL: [EntityKind; 3] = [EntityKind::Class, EntityKind::Function, EntityKind::Method];

    /// The table its definitions are stored in.
    pub fn table(self) -> &'static str {
        match self {
            EntityKind::Class => "classes",
            EntityKind::Function => "functions",
            EntityKind::Method => "methods",
        }
    }

    /// Its name in answers: `class`, `function`, `method`.
    pub fn as_str(self) -> &'static str {
        match self {
            EntityKind::Class => "class",
            EntityKind::Function => "function",
            EntityKind::Method => "method",
        }
    }

    /// The code it has in the full-text index (SQLite's `symbol_fts` row ids are a
    /// definition's id times 4 plus this).
    pub fn search_code(self) -> i64 {
        match self {
            EntityKind::Class => 1,
            EntityKind::Function => 2,
            EntityKind::Method => 3,
        }
    }
}

/// A definition found in a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entity {
    /// What it is.
    pub kind: EntityKind,
    /// Its name.
    pub name: String,
    /// Dotted path inside the file (`Class.method`, `module::Type::method` style as the
    /// language has it).
    pub qualified_name: String,
    /// 1-based first line.
    pub start_line: i64,
    /// 1-based last line.
    pub end_line: i64,
    /// Byte offset of the start.
    pub start_byte: i64,
    /// Byte offset of the end.
    pub end_byte: i64,
    /// The header (`def f(a, b) -> int`), if any.
    pub signature: Option<String>,
    /// The docstring or doc comment, if any.
    pub docstring: Option<String>,
    /// For a method: the index, in the same list, of its class.
    pub parent: Option<usize>,
}

/// An import statement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Import {
    /// The module (`os.path`, `std::collections`).
    pub module: Option<String>,
    /// The imported names, comma-separated, if the statement names them.
    pub name: Option<String>,
    /// `as` alias, if any.
    pub alias: Option<String>,
    /// 1-based line.
    pub line: i64,
}

/// A problem found while parsing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Issue {
    /// `syntax_error`, ...
    pub kind: String,
    /// 1-based line.
    pub line: i64,
    /// 1-based column.
    pub column: i64,
    /// What is wrong.
    pub message: String,
}

/// Everything derived from one file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Parsed {
    /// Classes, functions and methods, in source order.
    pub entities: Vec<Entity>,
    /// Import statements.
    pub imports: Vec<Import>,
    /// Identifier references: name -> (1-based line, 1-based column) positions.
    pub usages: BTreeMap<String, Vec<(u32, u32)>>,
    /// Parse problems.
    pub issues: Vec<Issue>,
    /// The source's words as a PostgreSQL `tsvector` literal
    /// ([`crate::search::tsvector`]), when the caller built it ahead (the indexer does, in
    /// its parse threads, for a PostgreSQL database); the store builds it when `None`.
    pub tsvector: Option<String>,
}

/// Counts over the live (not deleted) files.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    /// Files.
    pub files: i64,
    /// Classes.
    pub classes: i64,
    /// Functions.
    pub functions: i64,
    /// Methods.
    pub methods: i64,
    /// Import statements.
    pub imports: i64,
    /// Identifier references.
    pub usages: i64,
    /// Parse problems.
    pub issues: i64,
    /// Bytes of source.
    pub bytes: i64,
}

/// One file to store: its row, its text, and what was parsed from it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParsedFile {
    /// The file's row.
    pub meta: FileMeta,
    /// Its text.
    pub source: String,
    /// What was parsed from it.
    pub parsed: Parsed,
}

/// A project: a source tree indexed into the database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProjectRecord {
    /// Row id.
    pub id: i64,
    /// Its root, absolute.
    pub root: String,
    /// Its name (the root's last component by default).
    pub name: String,
}

/// Which project(s) a query covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The project with this id.
    Project(i64),
    /// Every project in the database: each hit names its project.
    All,
}

impl Scope {
    /// The project id, or NULL for every project: what a query's `(?N IS NULL OR
    /// f.project_id = ?N)` filter takes.
    pub(crate) fn value(self) -> codedb_driver::Value {
        match self {
            Scope::Project(id) => id.into(),
            Scope::All => codedb_driver::Value::Null,
        }
    }
}

/// A definition found by a query.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SymbolHit {
    /// `class`, `function` or `method`.
    pub kind: String,
    /// Its name.
    pub name: String,
    /// Its qualified name.
    pub qualified_name: String,
    /// The file, relative to its project.
    pub path: String,
    /// 1-based first line.
    pub start_line: i64,
    /// 1-based last line.
    pub end_line: i64,
    /// Its signature, if any.
    pub signature: Option<String>,
    /// Its project's root, when the query covered every project.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
}

/// A file whose source matched a full-text search.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TextHit {
    /// The file.
    pub path: String,
    /// The matching text, the match in `[...]`.
    pub snippet: String,
    /// Its project's root, when the query covered every project.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
}

/// What [`CodeStore::full_text_search`](super::CodeStore::full_text_search) found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SearchHits {
    /// Definitions whose name, qualified name or docstring matched.
    pub symbols: Vec<SymbolHit>,
    /// Files whose source matched.
    pub files: Vec<TextHit>,
}

/// Where a name is used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UsageHit {
    /// The file.
    pub path: String,
    /// 1-based line.
    pub line: u32,
    /// 1-based column.
    pub column: u32,
    /// Its project's root, when the query covered every project.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
}
