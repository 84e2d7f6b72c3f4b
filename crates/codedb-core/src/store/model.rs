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

/// A live file's row and its stored source text ([`CodeStore::file_with_source`]).
///
/// [`CodeStore::file_with_source`]: crate::CodeStore::file_with_source
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileWithSource {
    /// The file's row.
    pub file: FileRecord,
    /// Its source text (`None`: none stored, as for a file that is not text).
    pub source: Option<String>,
}

/// The kind of a definition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
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

    /// The kind whose [`as_str`](Self::as_str) is `name` (`class`, `function`, `method`), as
    /// a command-line or tool argument names it.
    pub fn from_name(name: &str) -> Option<EntityKind> {
        EntityKind::ALL.into_iter().find(|k| k.as_str() == name)
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

    /// The kind whose [`search_code`](Self::search_code) is `code`.
    pub fn from_search_code(code: i64) -> Option<EntityKind> {
        EntityKind::ALL
            .into_iter()
            .find(|k| k.search_code() == code)
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

/// How a name is used where it occurs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RefKind {
    /// Called: the callee of a call (`f()`, `obj.m()`, `Type::new()`).
    Call,
    /// Read as a value.
    Read,
    /// Assigned to.
    Write,
    /// Named by an import (`import m`, `from m import f`, `use a::b`, `#include`).
    Import,
    /// A base class, implemented trait or extended type.
    Inheritance,
    /// In a type annotation.
    Annotation,
    /// An attribute or path segment on the way to another name (`m` in `m.f()`).
    Attribute,
    /// A decorator or attribute macro.
    Decorator,
}

impl RefKind {
    /// Every kind.
    pub const ALL: [RefKind; 8] = [
        RefKind::Call,
        RefKind::Read,
        RefKind::Write,
        RefKind::Import,
        RefKind::Inheritance,
        RefKind::Annotation,
        RefKind::Attribute,
        RefKind::Decorator,
    ];

    /// Its name in the database and in answers.
    pub fn as_str(self) -> &'static str {
        match self {
            RefKind::Call => "call",
            RefKind::Read => "read",
            RefKind::Write => "write",
            RefKind::Import => "import",
            RefKind::Inheritance => "inheritance",
            RefKind::Annotation => "annotation",
            RefKind::Attribute => "attribute",
            RefKind::Decorator => "decorator",
        }
    }

    /// The kind called `name`.
    pub fn parse(name: &str) -> Option<RefKind> {
        RefKind::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// The kind called `name`, or a message naming the known ones (for an argument).
    pub fn from_arg(name: &str) -> Result<RefKind, String> {
        RefKind::parse(name).ok_or_else(|| {
            let known: Vec<&str> = RefKind::ALL.iter().map(|k| k.as_str()).collect();
            format!(
                "unknown reference kind {name:?}; known: {}",
                known.join(", ")
            )
        })
    }
}

/// How sure a resolved reference is, surest first (the order `--min-confidence` uses).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Confidence {
    /// The language's scope and import rules prove it.
    Exact,
    /// Through a receiver whose type is known in scope (`self`, a parameter annotated with
    /// a class, a variable assigned from a constructor call, a Rust `self`).
    Inferred,
    /// No proof: the one definition of the project with that name.
    Name,
    /// No proof: one of several definitions with that name, all listed.
    Ambiguous,
}

impl Confidence {
    /// Every level, surest first.
    pub const ALL: [Confidence; 4] = [
        Confidence::Exact,
        Confidence::Inferred,
        Confidence::Name,
        Confidence::Ambiguous,
    ];

    /// Its name in the database and in answers.
    pub fn as_str(self) -> &'static str {
        match self {
            Confidence::Exact => "exact",
            Confidence::Inferred => "inferred",
            Confidence::Name => "name",
            Confidence::Ambiguous => "ambiguous",
        }
    }

    /// The level called `name`.
    pub fn parse(name: &str) -> Option<Confidence> {
        Confidence::ALL.into_iter().find(|c| c.as_str() == name)
    }

    /// The level called `name`, or a message naming the known ones (for an argument).
    pub fn from_arg(name: &str) -> Result<Confidence, String> {
        Confidence::parse(name).ok_or_else(|| {
            format!("unknown confidence {name:?}; known: exact, inferred, name, ambiguous")
        })
    }

    /// The levels at least as sure as `self`.
    pub fn and_surer(self) -> impl Iterator<Item = Confidence> {
        Confidence::ALL.into_iter().filter(move |c| *c <= self)
    }
}

/// Where a reference may point with a name only: a name with more definitions than this in
/// the project is too common to list them (`usages` still has every occurrence).
pub const MAX_CANDIDATES: usize = 16;

/// A reference as the file's own scan leaves it: what the name refers to as far as the
/// file shows (`spec`, in the notation of the language's resolver), how it is used, and
/// where (grouped: every position with the same spec, kind and name).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct SymbolicRef {
    /// What it refers to, symbolically (for example `I:os.path|join`).
    pub spec: String,
    /// How it is used.
    pub kind: RefKind,
    /// The identifier as written.
    pub name: String,
    /// 1-based (line, column) of each occurrence, sorted.
    pub positions: Vec<(u32, u32)>,
}

/// A name a file binds for the other files to resolve against: a module-level import or
/// alias (`owner` empty), a star import (`name` `*`), a class's bases (`owner` the class,
/// `name` `^`), a function's declared return (`name` `->`). `ord` orders several bindings
/// of one name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Binding {
    /// The qualified name of the definition it belongs to; empty for the file itself.
    pub owner: String,
    /// The bound name.
    pub name: String,
    /// Order among the bindings of the same owner and name.
    pub ord: i64,
    /// What it is bound to, symbolically.
    pub spec: String,
}

/// What the resolver made of a [`SymbolicRef`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Resolution {
    /// How sure it is.
    pub confidence: Confidence,
    /// The file of the definition, `None` for an external symbol or an ambiguous name.
    pub target_file: Option<i64>,
    /// The definition's qualified name (`""`: the file itself), an external symbol's
    /// dotted name, `None` when ambiguous.
    pub target_name: Option<String>,
}

/// A reference with what the resolver made of it (`None`: nothing to name).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResolvedRef {
    /// The reference.
    pub symbolic: SymbolicRef,
    /// Its target.
    pub resolution: Option<Resolution>,
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
    /// References as the file shows them, for the resolver.
    pub refs: Vec<SymbolicRef>,
    /// What the file binds for the other files' resolution.
    pub bindings: Vec<Binding>,
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

impl std::fmt::Display for RefKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::fmt::Display for Confidence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One page of a list answer: the items from `offset` on, at most `limit` of them, with the
/// `total` the whole list has and whether items after this page were left out
/// (`truncated`). Every list answer of the command line (`--limit`, `--offset`, `--count`)
/// and of the MCP tools is one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Page<T> {
    /// The items of this page.
    pub items: Vec<T>,
    /// How many items the whole answer has.
    pub total: usize,
    /// How many items were skipped before this page.
    pub offset: usize,
    /// True when items after this page were left out.
    pub truncated: bool,
}

impl<T> Page<T> {
    /// The page of `all` that starts at `offset` and holds at most `limit` items (`None`:
    /// all of them). An offset past the end gives an empty page; nothing is allocated by
    /// the size of `limit`.
    pub fn of(mut all: Vec<T>, offset: usize, limit: Option<usize>) -> Page<T> {
        let total = all.len();
        let start = offset.min(total);
        let end = limit.map_or(total, |l| start.saturating_add(l).min(total));
        all.truncate(end);
        all.drain(..start);
        Page {
            items: all,
            total,
            offset,
            truncated: end < total,
        }
    }

    /// The page with its items converted by `f`.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            total: self.total,
            offset: self.offset,
            truncated: self.truncated,
        }
    }
}

/// A definition in a file's outline ([`CodeStore::outline`](super::CodeStore::outline)):
/// what it is, where, its signature and the first line of its docstring, and the
/// definitions nested in it; never its body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OutlineNode {
    /// `class`, `function` or `method`.
    pub kind: String,
    /// Its name.
    pub name: String,
    /// Its qualified name.
    pub qualified_name: String,
    /// Its signature (header), if any.
    pub signature: Option<String>,
    /// 1-based first line.
    pub start_line: i64,
    /// 1-based last line.
    pub end_line: i64,
    /// The first non-blank line of its docstring or doc comment, if any.
    pub doc: Option<String>,
    /// The definitions inside it, in source order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<OutlineNode>,
}

impl OutlineNode {
    /// How many nodes the tree rooted here holds (itself included).
    pub fn count(&self) -> usize {
        1 + self.children.iter().map(OutlineNode::count).sum::<usize>()
    }
}

/// A live file's stored source text, for searches that read it (the regex search).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceText {
    /// The file, relative to its project.
    pub path: String,
    /// Its language.
    pub language: Option<String>,
    /// Its project's root, when the query covered every project.
    pub project: Option<String>,
    /// The text.
    pub text: String,
}

/// A definition with its docstring, as [`CodeStore::definitions`](super::CodeStore::definitions)
/// lists them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefinitionText {
    /// The definition.
    pub hit: SymbolHit,
    /// Its docstring, if any.
    pub docstring: Option<String>,
}
