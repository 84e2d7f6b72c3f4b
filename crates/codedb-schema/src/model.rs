//! The schema model: one shape for a live database, a DDL file and the code schema.
//!
//! Names are kept as written; lookups and comparisons are case-insensitive, as SQLite's are.
//! Expressions (defaults, CHECKs, generated columns, index predicates, view and trigger
//! bodies) are kept as normalized token text (see [`crate::sql::normalize`]), so that
//! formatting and quoting differences are not changes.

use serde::Serialize;

/// A whole schema.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Schema {
    /// Tables, in creation order.
    pub tables: Vec<Table>,
    /// Indexes declared with CREATE INDEX (not the automatic ones of UNIQUE/PRIMARY KEY).
    pub indexes: Vec<Index>,
    /// Views, in creation order.
    pub views: Vec<View>,
    /// Triggers, in creation order.
    pub triggers: Vec<Trigger>,
}

/// `true` when `a` and `b` name the same object.
pub fn same_name(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

impl Schema {
    /// The table called `name`.
    pub fn table(&self, name: &str) -> Option<&Table> {
        self.tables.iter().find(|t| same_name(&t.name, name))
    }
    /// The index called `name`.
    pub fn index(&self, name: &str) -> Option<&Index> {
        self.indexes.iter().find(|t| same_name(&t.name, name))
    }
    /// The view called `name`.
    pub fn view(&self, name: &str) -> Option<&View> {
        self.views.iter().find(|t| same_name(&t.name, name))
    }
    /// The trigger called `name`.
    pub fn trigger(&self, name: &str) -> Option<&Trigger> {
        self.triggers.iter().find(|t| same_name(&t.name, name))
    }
    /// Every CREATE statement, in an order that recreates the schema.
    pub fn ddl(&self) -> String {
        let mut out = String::new();
        let statements = self
            .tables
            .iter()
            .map(|t| &t.sql)
            .chain(self.indexes.iter().map(|i| &i.sql))
            .chain(self.views.iter().map(|v| &v.sql))
            .chain(self.triggers.iter().map(|t| &t.sql));
        for sql in statements {
            out.push_str(sql.trim());
            out.push_str(";\n");
        }
        out
    }
    /// Checks the `@renamed from=` hints of a desired schema read from `ddl`: each must bind
    /// to exactly one table, column or index, and no two may claim the same old name. The
    /// error lists every problem.
    pub fn check_rename_hints(&self, ddl: &str) -> Result<(), String> {
        if !ddl.contains("@renamed") {
            return Ok(());
        }
        let mut problems = Vec::new();
        for t in &self.tables {
            problems.extend(
                crate::sql::rename_hint_problems(&t.sql)
                    .into_iter()
                    .map(|p| format!("table {}: {p}", t.name)),
            );
        }
        let mut claim = |kind: &str, names: Vec<(&String, Option<&String>)>| {
            for (i, (name, old)) in names.iter().enumerate() {
                let Some(old) = old else { continue };
                if let Some((other, _)) = names[..i]
                    .iter()
                    .find(|(_, o)| o.is_some_and(|o| same_name(o, old)))
                {
                    problems.push(format!(
                        "{kind}s {other} and {name} both claim to be renamed from {old}"
                    ));
                }
                if !same_name(name, old) && names.iter().any(|(n, _)| same_name(n, old)) {
                    problems.push(format!("{kind} {name} claims to be renamed from {old}, which the schema still defines"));
                }
            }
        };
        claim(
            "table",
            self.tables
                .iter()
                .map(|t| (&t.name, t.renamed_from.as_ref()))
                .collect(),
        );
        claim(
            "index",
            self.indexes
                .iter()
                .map(|i| (&i.name, i.renamed_from.as_ref()))
                .collect(),
        );
        let written = crate::sql::tokenize(ddl)
            .iter()
            .filter(|t| matches!(t, crate::sql::Token::Comment(c) if c.contains("@renamed")))
            .count();
        let bound = self
            .tables
            .iter()
            .filter(|t| t.renamed_from.is_some())
            .count()
            + self
                .tables
                .iter()
                .flat_map(|t| &t.columns)
                .filter(|c| c.renamed_from.is_some())
                .count()
            + self
                .indexes
                .iter()
                .filter(|i| i.renamed_from.is_some())
                .count();
        if problems.is_empty() && written > bound {
            problems.push(format!(
                "{} rename hint(s) document no table, column or index (a hint goes on the line of \
                 the column or index it renames, on a line of its own just before the column, or on \
                 the CREATE TABLE line)",
                written - bound
            ));
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(format!("rename hints: {}", problems.join("; ")))
        }
    }

    /// A short fingerprint of the schema's structure (hex), for backup names and the sync
    /// log. Equal schemas have equal fingerprints.
    pub fn fingerprint(&self) -> String {
        // FNV-1a over the normalized DDL: stable across runs and platforms.
        let hash = crate::backup::fnv64(crate::sql::normalize(&self.ddl()).bytes());
        format!("{hash:016x}")
    }
}

/// A table.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Table {
    /// Name as written.
    pub name: String,
    /// Columns, in order (hidden columns of virtual tables excluded).
    pub columns: Vec<Column>,
    /// Primary key columns in key order; empty for a rowid table without one.
    pub primary_key: Vec<String>,
    /// `INTEGER PRIMARY KEY AUTOINCREMENT`.
    pub autoincrement: bool,
    /// Foreign keys.
    pub foreign_keys: Vec<ForeignKey>,
    /// UNIQUE constraints (column lists), from the table definition.
    pub uniques: Vec<Vec<String>>,
    /// CHECK constraints, normalized.
    pub checks: Vec<String>,
    /// `STRICT`.
    pub strict: bool,
    /// `WITHOUT ROWID`.
    pub without_rowid: bool,
    /// The CREATE TABLE statement.
    pub sql: String,
    /// From a `@renamed from=NAME` hint in desired DDL.
    pub renamed_from: Option<String>,
    /// Whether the table holds any row (live databases only).
    pub has_rows: bool,
}

impl Table {
    /// The column called `name`.
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| same_name(&c.name, name))
    }
}

/// A column.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Column {
    /// Name as written.
    pub name: String,
    /// Declared type, uppercased, whitespace collapsed (`""` when none).
    pub decl_type: String,
    /// `NOT NULL`.
    pub not_null: bool,
    /// The default expression, normalized.
    pub default: Option<String>,
    /// The collation, uppercased (`BINARY` when none was declared).
    pub collation: String,
    /// Generated column (`AS (...)`).
    pub generated: Option<Generated>,
    /// From a `@renamed from=NAME` hint in desired DDL.
    pub renamed_from: Option<String>,
}

/// A generated column's definition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Generated {
    /// `STORED` (else `VIRTUAL`).
    pub stored: bool,
    /// The expression, normalized.
    pub expr: String,
}

/// A foreign key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ForeignKey {
    /// Referencing columns.
    pub columns: Vec<String>,
    /// Referenced table.
    pub ref_table: String,
    /// Referenced columns (empty: the referenced table's primary key).
    pub ref_columns: Vec<String>,
    /// `ON UPDATE` action (`NO ACTION` when none).
    pub on_update: String,
    /// `ON DELETE` action (`NO ACTION` when none).
    pub on_delete: String,
}

/// A CREATE INDEX index.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Index {
    /// Name as written.
    pub name: String,
    /// The indexed table.
    pub table: String,
    /// `UNIQUE`.
    pub unique: bool,
    /// The CREATE INDEX statement.
    pub sql: String,
    /// From a `@renamed from=NAME` hint in desired DDL.
    pub renamed_from: Option<String>,
}

/// A view.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct View {
    /// Name as written.
    pub name: String,
    /// The CREATE VIEW statement.
    pub sql: String,
}

/// A trigger.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Trigger {
    /// Name as written.
    pub name: String,
    /// The table it fires on.
    pub table: String,
    /// The CREATE TRIGGER statement.
    pub sql: String,
}
