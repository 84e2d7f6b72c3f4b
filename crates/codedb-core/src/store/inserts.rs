//! Multi-row `INSERT`s: the rows of a batch of files gathered per table and sent as
//! statements of many rows each ([`Dialect::rows_per_insert`]): SQLite's cost per statement
//! run (bind, step, reset) was most of the writer's time when each of sympy's 250,000 rows
//! was a statement of its own. Each table's columns are declared once; the statement text
//! and where a row's full-text words go are derived from them.

use codedb_driver::{Batch, Value, params};

use super::model::EntityKind;
use crate::Dialect;

/// The tables [`Inserts`] fills, in the order their rows are sent (names before the usages
/// that reference them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Table {
    Names,
    Source,
    Classes,
    Functions,
    Methods,
    Imports,
    Usages,
    Issues,
    Bindings,
    RefPending,
    Refs,
    RefDeps,
}

impl Table {
    const ALL: [Table; 12] = [
        Table::Names,
        Table::Source,
        Table::Classes,
        Table::Functions,
        Table::Methods,
        Table::Imports,
        Table::Usages,
        Table::Issues,
        Table::Bindings,
        Table::RefPending,
        Table::Refs,
        Table::RefDeps,
    ];

    /// Every table that holds rows derived from a file (all but `names`, which files
    /// share), in the order a file's rows are deleted: methods before the classes they
    /// point to.
    pub(super) const OF_A_FILE: [Table; 11] = [
        Table::Methods,
        Table::Classes,
        Table::Functions,
        Table::Imports,
        Table::Usages,
        Table::Issues,
        Table::Source,
        Table::Refs,
        Table::Bindings,
        Table::RefDeps,
        Table::RefPending,
    ];

    pub(super) fn name(self) -> &'static str {
        match self {
            Table::Names => "names",
            Table::Source => "source",
            Table::Classes => EntityKind::Class.table(),
            Table::Functions => EntityKind::Function.table(),
            Table::Methods => EntityKind::Method.table(),
            Table::Imports => "imports",
            Table::Usages => "usages",
            Table::Issues => "issues",
            Table::Bindings => "bindings",
            Table::RefPending => "ref_pending",
            Table::Refs => "refs",
            Table::RefDeps => "ref_deps",
        }
    }

    /// The columns a row gives values for, in order (the words column, where the dialect
    /// keeps one, comes last: see [`has_words`](Self::has_words)).
    fn columns(self) -> &'static [&'static str] {
        const DEFINITION: [&str; 8] = [
            "name",
            "qualified_name",
            "start_line",
            "end_line",
            "start_byte",
            "end_byte",
            "signature",
            "docstring",
        ];
        match self {
            Table::Names => &["id", "name"],
            Table::Source => &["file_id", "text"],
            Table::Classes => &[
                "id",
                "file_id",
                DEFINITION[0],
                DEFINITION[1],
                DEFINITION[2],
                DEFINITION[3],
                DEFINITION[4],
                DEFINITION[5],
                DEFINITION[6],
                DEFINITION[7],
            ],
            Table::Functions => &[
                "file_id",
                DEFINITION[0],
                DEFINITION[1],
                DEFINITION[2],
                DEFINITION[3],
                DEFINITION[4],
                DEFINITION[5],
                DEFINITION[6],
                DEFINITION[7],
            ],
            Table::Methods => &[
                "class_id",
                "file_id",
                DEFINITION[0],
                DEFINITION[1],
                DEFINITION[2],
                DEFINITION[3],
                DEFINITION[4],
                DEFINITION[5],
                DEFINITION[6],
                DEFINITION[7],
            ],
            Table::Imports => &["file_id", "module", "name", "alias", "line"],
            Table::Usages => &["name_id", "file_id", "count", "positions"],
            Table::Issues => &["file_id", "kind", "line", "\"column\"", "message"],
            Table::Bindings => &["file_id", "owner", "name", "ord", "spec"],
            Table::RefPending => &["file_id"],
            Table::Refs => &[
                "file_id",
                "spec",
                "kind",
                "name",
                "count",
                "positions",
                "confidence",
                "target_file_id",
                "target_name",
            ],
            Table::RefDeps => &["dep", "file_id"],
        }
    }

    /// Whether its rows are searched in full text: on a dialect that keeps the words in the
    /// row ([`Dialect::stores_search_words`]), they end with them (column `tsv`).
    pub(super) fn has_words(self) -> bool {
        matches!(
            self,
            Table::Source | Table::Classes | Table::Functions | Table::Methods
        )
    }

    /// Values per row on `dialect`.
    fn width(self, dialect: Dialect) -> usize {
        self.columns().len() + usize::from(self.has_words() && dialect.stores_search_words())
    }
}

/// Rows gathered over all the files of a batch, per table.
#[derive(Debug)]
pub(super) struct Inserts {
    rows: [Vec<Value>; 12],
    pub(super) dialect: Dialect,
}

impl Inserts {
    pub(super) fn new(dialect: Dialect) -> Self {
        Inserts {
            rows: Default::default(),
            dialect,
        }
    }

    /// Adds one row of `table` (its words last, where the dialect keeps them).
    pub(super) fn add(&mut self, table: Table, row: Vec<Value>) {
        debug_assert_eq!(row.len(), table.width(self.dialect), "{table:?}");
        self.rows[table as usize].extend(row);
    }

    /// Adds the gathered rows to `batch`, then what the dialect needs once the definitions
    /// of `file_ids` exist (their full-text rows on SQLite).
    pub(super) fn flush(self, batch: &mut Batch, file_ids: &[i64]) {
        let dialect = self.dialect;
        let per = dialect.rows_per_insert();
        for (table, flat) in Table::ALL.into_iter().zip(self.rows) {
            if flat.is_empty() {
                continue;
            }
            let cols = table.width(dialect);
            let rows = flat.len() / cols;
            let full = rows / per;
            let mut values = flat.into_iter();
            if full > 0 {
                let sets = (0..full)
                    .map(|_| values.by_ref().take(per * cols).collect())
                    .collect();
                batch.push_many(multi_row_insert(table, dialect, per), sets);
            }
            let rest = rows % per;
            if rest > 0 && dialect.remainder_in_one_statement() {
                batch.push(
                    multi_row_insert(table, dialect, rest),
                    values.by_ref().take(rest * cols).collect(),
                );
            } else if rest > 0 {
                let sets = (0..rest)
                    .map(|_| values.by_ref().take(cols).collect())
                    .collect();
                batch.push_many(multi_row_insert(table, dialect, 1), sets);
            }
        }
        for sql in dialect.index_definitions(file_ids) {
            batch.push(sql, params![]);
        }
    }
}

/// `INSERT INTO table(columns) VALUES (?1, ?2), (?3, ?4), ...` for `rows` rows.
fn multi_row_insert(table: Table, dialect: Dialect, rows: usize) -> String {
    let words = table.has_words() && dialect.stores_search_words();
    let mut columns = table.columns().join(", ");
    if words {
        columns.push_str(", tsv");
    }
    let cols = table.width(dialect);
    let mut sql = format!("INSERT INTO {}({columns}) VALUES ", table.name());
    for r in 0..rows {
        if r > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for c in 0..cols {
            if c > 0 {
                sql.push_str(", ");
            }
            let param = format!("?{}", r * cols + c + 1);
            if words && c == cols - 1 {
                sql.push_str(&dialect.search_words_value(&param));
            } else {
                sql.push_str(&param);
            }
        }
        sql.push(')');
    }
    sql
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_are_derived_from_the_columns() {
        assert_eq!(
            multi_row_insert(Table::Names, Dialect::Sqlite, 2),
            "INSERT INTO names(id, name) VALUES (?1, ?2), (?3, ?4)"
        );
        assert_eq!(
            multi_row_insert(Table::Source, Dialect::Postgres, 1),
            "INSERT INTO source(file_id, text, tsv) VALUES (?1, ?2, CAST(CAST(?3 AS TEXT) AS tsvector))"
        );
        assert_eq!(
            multi_row_insert(Table::Source, Dialect::Sqlite, 1),
            "INSERT INTO source(file_id, text) VALUES (?1, ?2)"
        );
        assert_eq!(Table::Methods.width(Dialect::Postgres), 11);
        assert_eq!(Table::Functions.width(Dialect::Sqlite), 9);
    }
}
