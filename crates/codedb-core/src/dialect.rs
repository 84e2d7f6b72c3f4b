//! [`Dialect`]: the few places where the domain API's SQL differs between backends.
//!
//! Almost every statement of the store is plain SQL both SQLite and PostgreSQL run
//! (`ON CONFLICT`, `RETURNING`, `CAST`, multi-row `VALUES`). Every difference lives here, so
//! that the store reads as one piece of code that asks its dialect where a backend needs its
//! own words: full-text search (FTS5 on SQLite, `tsvector` + GIN on PostgreSQL: the queries,
//! the column a row carries its words in, and how definitions enter the index), reading a
//! JSON array, case-insensitive `LIKE`, which writers a write transaction waits for, whether
//! writers of different projects run at once (and so where new ids come from), the settings
//! of a bulk write, how many rows one `INSERT` carries, the integrity check and the WAL
//! checkpoint.
//!
//! One other place names the backends: `schema.rs` renders the code tables per backend
//! (`code_schema`). The tables are declared once, in SQLite's words, and each backend's
//! schema is that declaration rewritten (types, identity ids) plus its own full-text
//! search; the rewrite is a property of that one text, so it lives beside it rather than
//! here. Outside these two files and tests, no code names `Dialect::Sqlite` or
//! `Dialect::Postgres` (`cargo xtask tidy` checks it): it asks a method of its dialect.

use codedb_driver::SpecificDriver;

use crate::store::EntityKind;

/// The SQL dialect of a backend, read from [`SpecificDriver::backend_name`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dialect {
    /// SQLite (the embedded default).
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

/// The key of the transaction-level advisory lock of every PostgreSQL write transaction of a
/// `CodeDatabase` ("code" in ASCII): taken exclusively by a transaction that may write
/// anything ([`WriteScope::Database`]), shared by one that writes one project's rows
/// ([`WriteScope::Project`]), which also takes the project's own key
/// ([`postgres_project_lock`]).
pub const POSTGRES_WRITE_LOCK: i64 = 0x636f_6465;

/// The two-part advisory key `(POSTGRES_WRITE_LOCK, k)` of project `project_id`'s writers on
/// PostgreSQL: `k` is the id folded into 31 bits (PostgreSQL's two-key advisory locks take
/// `int4`s; ids beyond that share a key with another project, which only makes their writers
/// wait for each other). The two-key space is apart from the one-key space of
/// [`POSTGRES_WRITE_LOCK`].
pub fn postgres_project_lock(project_id: i64) -> (i32, i32) {
    let key = i32::try_from(POSTGRES_WRITE_LOCK).unwrap_or(i32::MAX);
    let folded = project_id.rem_euclid(1 << 31);
    (key, i32::try_from(folded).unwrap_or(0))
}

/// What a write transaction may change, which decides whom it waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WriteScope {
    /// Anything in the database (creating or deleting a project, a schema-wide repair): it
    /// waits for every other writer, and they for it.
    Database,
    /// The rows of project `id` (its files and everything derived from them, its history):
    /// it waits only for writers of the same project and for a `Database` writer. Writers of
    /// different projects run at once on PostgreSQL; on SQLite every writer still waits for
    /// the one before it (`BEGIN IMMEDIATE`).
    Project(i64),
}

impl Dialect {
    /// The dialect of `driver`'s backend.
    pub fn of(driver: &dyn SpecificDriver) -> Dialect {
        match driver.backend_name() {
            "postgres" => Dialect::Postgres,
            _ => Dialect::Sqlite,
        }
    }

    /// The statement that makes a just-opened write transaction wait for the writers it must
    /// not run beside, if the backend needs one. SQLite's `BEGIN IMMEDIATE` already keeps
    /// every writer apart. On PostgreSQL, transaction-level advisory locks (released by
    /// COMMIT or ROLLBACK, also when the client dies): a [`WriteScope::Database`] writer
    /// takes [`POSTGRES_WRITE_LOCK`] exclusively; a [`WriteScope::Project`] writer takes it
    /// shared, then its project's key ([`postgres_project_lock`]) exclusively. Both are the
    /// transaction's first statement, taken in that order, so no two writers wait for each
    /// other in a cycle. Readers never wait.
    ///
    /// Writers of one project one at a time is what lets an index run replace a file's rows
    /// as a sequence of statements without deadlocks; what writers of different projects
    /// share (the `names` table, the identity sequences) is written so that they never wait
    /// for each other's open transactions ([`Dialect::concurrent_writers`]).
    pub fn write_lock(self, scope: WriteScope) -> Option<String> {
        match (self, scope) {
            (Dialect::Sqlite, _) => None,
            (Dialect::Postgres, WriteScope::Database) => Some(format!(
                "SELECT pg_advisory_xact_lock({POSTGRES_WRITE_LOCK})"
            )),
            (Dialect::Postgres, WriteScope::Project(id)) => {
                let (key, project) = postgres_project_lock(id);
                Some(format!(
                    "SELECT pg_advisory_xact_lock_shared({POSTGRES_WRITE_LOCK}), \
                            pg_advisory_xact_lock({key}, {project})"
                ))
            }
        }
    }

    /// Whether reading ahead in one statement what would otherwise be many small reads
    /// pays: on PostgreSQL each statement is a round trip to the server (about half a
    /// millisecond here), on SQLite a function call (microseconds), where fetching rows
    /// nobody asks for costs more than the reads it saves (a one-file re-index of sympy's
    /// `core/basic.py` resolved in 26-35 ms reading by name as asked, 42-73 ms reading
    /// ahead).
    pub fn reads_ahead(self) -> bool {
        self == Dialect::Postgres
    }

    /// Whether write transactions of different projects run at the same time (PostgreSQL).
    /// Then the store may not choose ids from what it reads (`max(id) + 1`), since another
    /// writer may be choosing the same: new `files` and `classes` rows take ids drawn from
    /// their identity sequences ([`Dialect::fresh_ids`]), and new identifiers go into the
    /// shared `names` table with `ON CONFLICT DO NOTHING`, committed ahead of the
    /// transaction that uses them where the caller can (`CodeStore::commit_names`). On
    /// SQLite one writer at a time chooses them itself, which costs no round trip.
    pub fn concurrent_writers(self) -> bool {
        self == Dialect::Postgres
    }

    /// A query whose rows are `(t, id)`: for each `(table, n)` of `wanted` at position `t`,
    /// `n` fresh ids drawn from `table`'s identity sequence (PostgreSQL; not necessarily
    /// consecutive when other writers draw at the same time, never drawn twice). `None` on
    /// SQLite, where ids are chosen by the one writer.
    pub fn fresh_ids(self, wanted: &[(&str, usize)]) -> Option<String> {
        if self != Dialect::Postgres {
            return None;
        }
        let arms: Vec<String> = wanted
            .iter()
            .enumerate()
            .filter(|(_, (_, n))| *n > 0)
            .map(|(t, (table, n))| {
                format!(
                    "SELECT {t} AS t, nextval(pg_get_serial_sequence('{table}', 'id')) AS id \
                     FROM generate_series(1, {n})"
                )
            })
            .collect();
        (!arms.is_empty()).then(|| arms.join(" UNION ALL "))
    }

    /// For writers that run beside others ([`Dialect::concurrent_writers`]: PostgreSQL),
    /// the statement that gives the ids of the identifiers in the JSON array of strings `?1`
    /// (rows `(id, name)`), inserting those `names` lacks: in one order (the server's
    /// collation), so that two writers inserting the same new names wait for each other at
    /// most once and never in a cycle; a name committed by another writer between this
    /// statement's snapshot and its insert is in neither half (read it again).
    pub fn insert_names(self) -> String {
        let wanted = format!(
            "SELECT DISTINCT value AS name FROM {}",
            self.json_strings("CAST(?1 AS TEXT)")
        );
        format!(
            "WITH w AS ({wanted}), \
             ins AS (INSERT INTO names(name) SELECT name FROM w ORDER BY name \
                     ON CONFLICT (name) DO NOTHING RETURNING id, name) \
             SELECT id, name FROM ins UNION ALL SELECT n.id, n.name FROM names n JOIN w ON w.name = n.name"
        )
    }

    /// A query whose first column holds the problems the backend finds in the database's
    /// own structures (none: a sound database), if it has such a check. SQLite's
    /// `integrity_check` answers one row `ok` when it finds nothing; PostgreSQL keeps its
    /// pages checksummed and checked itself, with no query of this kind by default.
    ///
    /// On SQLite the statement also opens a cursor on each full-text table, which SQLite
    /// does before the check runs: FTS5 checks its index against the structure it cached
    /// when the connection last used the table, not against the current one, so a reader
    /// that searched before another connection's writes merged segments reported segments
    /// that no longer exist as corruption; opening a cursor re-reads the structure (seen
    /// under load: `verify` in a long-running server said "database_corrupt" of a sound
    /// database).
    pub fn integrity_check(self) -> Option<&'static str> {
        match self {
            Dialect::Sqlite => Some(
                "SELECT p.integrity_check, s.rowid, y.rowid FROM pragma_integrity_check AS p \
                 LEFT JOIN source_fts AS s ON s.rowid = -1 \
                 LEFT JOIN symbol_fts AS y ON y.rowid = -1",
            ),
            Dialect::Postgres => None,
        }
    }

    /// The statement that refreshes the planner's statistics of the code tables after a
    /// bulk write, if the backend needs one. PostgreSQL plans from statistics autovacuum
    /// gathers a minute or so after a bulk load; until then it believes a just-indexed
    /// project has a handful of files, and reads a name's definitions by a loop over every
    /// file (15-22 ms a name on sympy where 1 ms does: a one-file re-index right after a
    /// cold index took 1.4 s instead of 0.4 s). SQLite needs none: its planner uses no
    /// statistics unless asked to.
    pub fn refresh_statistics(self) -> Option<&'static str> {
        match self {
            Dialect::Sqlite => None,
            Dialect::Postgres => Some(
                "ANALYZE files, classes, functions, methods, imports, usages, names, refs, \
                 bindings, ref_deps",
            ),
        }
    }

    /// The statement a long-running process sends now and then so that the write-ahead log
    /// does not grow without bound, if the backend keeps one for codedb to trim: SQLite's
    /// passive WAL checkpoint (it copies what no reader still needs and never waits).
    /// PostgreSQL checkpoints on its own.
    pub fn checkpoint(self) -> Option<&'static str> {
        match self {
            Dialect::Sqlite => Some("PRAGMA wal_checkpoint(PASSIVE)"),
            Dialect::Postgres => None,
        }
    }

    /// The case-insensitive `LIKE` operator (SQLite's `LIKE` is case-insensitive for ASCII).
    pub fn ilike(self) -> &'static str {
        match self {
            Dialect::Sqlite => "LIKE",
            Dialect::Postgres => "ILIKE",
        }
    }

    /// A table expression `j` with a column `value`: the elements of the JSON array of
    /// strings in `column`.
    pub fn json_strings(self, column: &str) -> String {
        match self {
            Dialect::Sqlite => format!("json_each({column}) AS j"),
            Dialect::Postgres => format!("json_array_elements_text({column}::json) AS j(value)"),
        }
    }

    /// Whether rows of `source` and of the definition tables carry their full-text words in
    /// a column of their own (`tsv`, PostgreSQL), sent as text and cast by
    /// [`Dialect::search_words_value`]. On SQLite the FTS5 tables are kept apart.
    pub fn stores_search_words(self) -> bool {
        self == Dialect::Postgres
    }

    /// How a statement spells the value of a words column (`?N` is the parameter): the
    /// text sent is a `tsvector` literal ([`crate::search::tsvector`]).
    pub fn search_words_value(self, param: &str) -> String {
        format!("CAST(CAST({param} AS TEXT) AS tsvector)")
    }

    /// What full-text search is asked for `text` (a phrase), in this dialect's query
    /// language; `None` when it holds no word (nothing can match).
    pub fn search_query(self, text: &str) -> Option<String> {
        match self {
            Dialect::Sqlite => Some(format!("\"{}\"", text.replace('"', "\"\""))),
            Dialect::Postgres => crate::search::tsquery(text),
        }
    }

    /// The definitions matching the search query `?1` of one kind, each row the columns
    /// `cols` (over `e`, the definition, and `f`, its file) and then its rank (lower is
    /// better) as `rank`; `filter` (over `f`) narrows them.
    pub fn definition_search(self, kind: EntityKind, cols: &str, filter: &str) -> String {
        let table = kind.table();
        match self {
            Dialect::Sqlite => format!(
                "SELECT {cols}, m.rank AS rank FROM \
                 (SELECT rowid / 4 AS id, rank FROM symbol_fts WHERE symbol_fts MATCH ?1 \
                  AND rowid % 4 = {code}) m \
                 JOIN {table} e ON e.id = m.id JOIN files f ON f.id = e.file_id WHERE {filter}",
                code = kind.search_code()
            ),
            Dialect::Postgres => format!(
                "SELECT {cols}, -ts_rank(e.tsv, q) AS rank \
                 FROM {table} e JOIN files f ON f.id = e.file_id, \
                 CAST(CAST(?1 AS TEXT) AS tsquery) q WHERE e.tsv @@ q AND {filter}"
            ),
        }
    }

    /// The files whose source matches the search query `?1`: `f.path`, a snippet with the
    /// match in `[...]`, then `cols`, best first; `filter` (over `f`) narrows them, `?2` is
    /// the limit.
    pub fn source_search(self, cols: &str, filter: &str) -> String {
        match self {
            Dialect::Sqlite => format!(
                "SELECT f.path, snippet(source_fts, 0, '[', ']', '...', 12), {cols} FROM source_fts \
                 JOIN files f ON f.id = source_fts.rowid \
                 WHERE source_fts MATCH ?1 AND {filter} ORDER BY rank LIMIT ?2"
            ),
            Dialect::Postgres => format!(
                "SELECT f.path, ts_headline('simple', left(s.text, 262144), q, \
                     'StartSel=[, StopSel=], MaxWords=12, MinWords=4, MaxFragments=1, FragmentDelimiter=...'), {cols} \
                 FROM source s JOIN files f ON f.id = s.file_id, CAST(CAST(?1 AS TEXT) AS tsquery) q \
                 WHERE s.tsv @@ q AND {filter} ORDER BY ts_rank(s.tsv, q) DESC, f.path LIMIT ?2"
            ),
        }
    }

    /// The files whose source matches the search query `?1`, each row `cols` (over `f`,
    /// the file, and `s`, its `source` row), in no particular order; `filter` (over `f`)
    /// narrows them. Unlike [`Dialect::source_search`] there is no limit: the caller reads
    /// the texts (the line-level search of `codedb query search`).
    pub fn source_matches(self, cols: &str, filter: &str) -> String {
        match self {
            Dialect::Sqlite => format!(
                "SELECT {cols} FROM source_fts JOIN files f ON f.id = source_fts.rowid \
                 JOIN source s ON s.file_id = f.id WHERE source_fts MATCH ?1 AND {filter}"
            ),
            Dialect::Postgres => format!(
                "SELECT {cols} FROM source s JOIN files f ON f.id = s.file_id, \
                 CAST(CAST(?1 AS TEXT) AS tsquery) q WHERE s.tsv @@ q AND {filter}"
            ),
        }
    }

    /// Statements that put the definitions of the files `file_ids` (just inserted) into the
    /// full-text index, if it is kept apart from their rows (SQLite's `symbol_fts`, whose
    /// row id is the definition's id times 4 plus [`EntityKind::search_code`]).
    pub fn index_definitions(self, file_ids: &[i64]) -> Vec<String> {
        if self != Dialect::Sqlite || file_ids.is_empty() {
            return Vec::new();
        }
        let ids = file_ids
            .iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        EntityKind::ALL
            .iter()
            .map(|kind| {
                format!(
                    "INSERT INTO symbol_fts(rowid, name, qualified_name, docstring) \
                     SELECT id * 4 + {code}, name, qualified_name, docstring FROM {table} \
                     WHERE file_id IN ({ids})",
                    code = kind.search_code(),
                    table = kind.table()
                )
            })
            .collect()
    }

    /// A statement that sets up a bulk write's transaction, if the backend wants one. On
    /// PostgreSQL: what a bulk write stores is derived from the files and redone by the next
    /// index run, so its commit need not wait for the WAL to reach the disk (a crash may lose
    /// the last such commits, never part of one); and source text is compressed with lz4
    /// where the server has it (pglz cost the server ~0.5 s of CPU on sympy's 25 MB, lz4 a
    /// quarter of that).
    pub fn bulk_write_settings(self) -> Option<&'static str> {
        match self {
            Dialect::Sqlite => None,
            Dialect::Postgres => Some(
                "SELECT set_config('synchronous_commit', 'off', true), \
                        set_config('default_toast_compression', \
                            CASE WHEN EXISTS (SELECT 1 FROM pg_settings \
                                WHERE name = 'default_toast_compression' AND 'lz4' = ANY(enumvals)) \
                            THEN 'lz4' ELSE 'pglz' END, true)",
            ),
        }
    }

    /// Rows per multi-row `INSERT`: SQLite pays per statement run (bind, step, reset), so
    /// 64 rows per run; on PostgreSQL each statement is a round trip, so 256.
    pub fn rows_per_insert(self) -> usize {
        match self {
            Dialect::Sqlite => 64,
            Dialect::Postgres => 256,
        }
    }

    /// How the rows left after the full multi-row `INSERT`s go: in one statement of their
    /// own (PostgreSQL: a round trip each, so one), or row by row through a one-row
    /// statement that stays prepared (SQLite: a statement text per row count would be
    /// prepared anew each time).
    pub fn remainder_in_one_statement(self) -> bool {
        self == Dialect::Postgres
    }
}
