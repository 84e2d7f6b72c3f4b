//! The domain API over the code schema, on every backend (SQLite; PostgreSQL when a server
//! answers): one set of tests.
#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

use codedb_core::CodeStore;
use codedb_core::store::{Entity, EntityKind, FileMeta, Import, Issue, Parsed, ParsedFile};

mod common;

fn entity(
    kind: EntityKind,
    name: &str,
    qualified: &str,
    line: i64,
    parent: Option<usize>,
) -> Entity {
    Entity {
        kind,
        name: name.into(),
        qualified_name: qualified.into(),
        start_line: line,
        end_line: line + 1,
        start_byte: line * 10,
        end_byte: line * 10 + 5,
        signature: Some(format!("def {name}()")),
        docstring: None,
        parent,
    }
}

fn pf(meta: FileMeta, source: &str, parsed: Parsed) -> ParsedFile {
    ParsedFile {
        meta,
        source: source.to_owned(),
        parsed,
    }
}

fn meta(path: &str, sha: &str) -> FileMeta {
    FileMeta {
        path: path.into(),
        language: Some("python".into()),
        size: 10,
        mtime_ns: 1,
        sha256: sha.into(),
        lines: 3,
    }
}

#[test]
fn a_file_and_everything_derived_from_it_is_stored_replaced_and_removed_together() {
    common::each_code_database(|c| {
        let db = &c.db;
        let project = db.get_or_create_project("/src/p", "p").unwrap();
        assert_eq!(
            db.get_or_create_project("/src/p", "p").unwrap(),
            project,
            "get or create is idempotent"
        );
        let mut parsed = Parsed {
            entities: vec![
                entity(EntityKind::Class, "Parser", "Parser", 1, None),
                entity(EntityKind::Method, "parse", "Parser.parse", 2, Some(0)),
                entity(EntityKind::Function, "main", "main", 5, None),
            ],
            imports: vec![Import {
                module: Some("os".into()),
                name: None,
                alias: None,
                line: 1,
            }],
            usages: Default::default(),
            ..Parsed::default()
        };
        parsed.usages.insert("Parser".into(), vec![(5, 3), (7, 9)]);
        parsed.usages.insert("os".into(), vec![(1, 8)]);
        let id = db
            .update_file_data_atomic(project, &meta("a.py", "aa"), "import os\n", &parsed)
            .unwrap();
        let stats = db.stats(codedb_core::Scope::All, Some("python")).unwrap();
        assert_eq!(
            (
                stats.files,
                stats.classes,
                stats.methods,
                stats.functions,
                stats.imports,
                stats.usages
            ),
            (1, 1, 1, 1, 1, 3)
        );
        let hits = db
            .find_symbol(codedb_core::Scope::All, "Parser.parse")
            .unwrap();
        assert_eq!(hits.len(), 1);
        assert_eq!(
            (
                hits[0].kind.as_str(),
                hits[0].path.as_str(),
                hits[0].start_line
            ),
            ("method", "a.py", 2)
        );
        let uses = db.usages_of(codedb_core::Scope::All, "Parser").unwrap();
        assert_eq!(
            uses.iter().map(|u| (u.line, u.column)).collect::<Vec<_>>(),
            [(5, 3), (7, 9)]
        );
        assert_eq!(
            db.search_classes(codedb_core::Scope::All, "Pars%")
                .unwrap()
                .len(),
            1
        );

        // Re-storing replaces, never duplicates; the id survives.
        parsed.entities.truncate(1);
        parsed.issues.push(Issue {
            kind: "syntax_error".into(),
            line: 3,
            column: 1,
            message: "unexpected token".into(),
        });
        assert_eq!(
            db.update_file_data_atomic(project, &meta("a.py", "bb"), "x", &parsed)
                .unwrap(),
            id
        );
        let stats = db.stats(codedb_core::Scope::All, None).unwrap();
        assert_eq!(
            (stats.classes, stats.methods, stats.functions, stats.issues),
            (1, 0, 0, 1)
        );
        assert_eq!(
            db.get_file_by_path(project, "a.py")
                .unwrap()
                .unwrap()
                .meta
                .sha256,
            "bb"
        );

        // Inside a transaction the same API joins it; a failure rolls back only its own savepoint.
        let tx = db.begin_transaction().unwrap();
        tx.update_file_data_atomic(project, &meta("b.py", "cc"), "y", &Parsed::default())
            .unwrap();
        assert_eq!(tx.list_files(project, false).unwrap().len(), 2);
        drop(tx);
        assert_eq!(
            db.list_files(project, false).unwrap().len(),
            1,
            "the dropped transaction left nothing"
        );

        db.mark_file_deleted(id).unwrap();
        assert_eq!(
            db.stats(codedb_core::Scope::All, None).unwrap(),
            codedb_core::store::Stats::default()
        );
        assert!(
            db.get_file_by_path(project, "a.py")
                .unwrap()
                .unwrap()
                .deleted
        );
        db.delete_project(project).unwrap();
        assert!(
            db.get_file_by_path(project, "a.py").unwrap().is_none(),
            "files cascade from their project"
        );
    });
}

#[test]
fn the_bulk_writer_stays_correct_when_another_writer_adds_names_between_calls() {
    use codedb_core::store::BulkWriter;
    common::each_code_database(|c| {
        let db = &c.db;
        let project = db.get_or_create_project("/src/q", "q").unwrap();
        let file = |i: usize, names: &[&str]| {
            let mut parsed = Parsed::default();
            for (n, name) in names.iter().enumerate() {
                parsed
                    .usages
                    .insert((*name).to_owned(), vec![(u32::try_from(n).unwrap() + 1, 1)]);
            }
            pf(meta(&format!("f{i}.py"), &format!("{i}")), "", parsed)
        };
        let mut writer = BulkWriter::new();
        // Enough files for the writer to cache name ids.
        let first: Vec<_> = (0..20).map(|i| file(i, &["alpha", "beta"])).collect();
        db.transaction(|tx| writer.write_files(tx, project, &first).map(drop))
            .unwrap();
        // Another writer adds names behind the cache's back.
        db.update_file_data_atomic(
            project,
            &meta("other.py", "o").clone(),
            "",
            &file(99, &["gamma", "delta"]).parsed,
        )
        .unwrap();
        let second: Vec<_> = (20..40)
            .map(|i| file(i, &["gamma", "epsilon", "alpha"]))
            .collect();
        db.transaction(|tx| writer.write_files(tx, project, &second).map(drop))
            .unwrap();
        assert_eq!(
            db.usages_of(codedb_core::Scope::All, "alpha")
                .unwrap()
                .len(),
            40
        );
        assert_eq!(
            db.usages_of(codedb_core::Scope::All, "gamma")
                .unwrap()
                .len(),
            21
        );
        assert_eq!(
            db.usages_of(codedb_core::Scope::All, "epsilon")
                .unwrap()
                .len(),
            20
        );
        // A failed call leaves nothing cached that the database lacks.
        let bad = vec![pf(meta("bad.py", "x"), "", {
            let mut p = file(0, &["zeta"]).parsed;
            p.issues.push(codedb_core::store::Issue {
                kind: "k".into(),
                line: 1,
                column: 1,
                message: "m".into(),
            });
            p
        })];
        let tx = db.begin_transaction().unwrap();
        writer.write_files(&tx, project, &bad).unwrap();
        tx.rollback().unwrap();
        let third: Vec<_> = (40..60).map(|i| file(i, &["zeta"])).collect();
        db.transaction(|tx| writer.write_files(tx, project, &third).map(drop))
            .unwrap();
        assert_eq!(
            db.usages_of(codedb_core::Scope::All, "zeta").unwrap().len(),
            20
        );
    });
}

#[test]
fn full_text_search_finds_names_docstrings_and_source_and_follows_replacements() {
    common::each_code_database(|c| {
        let db = &c.db;
        let project = db.get_or_create_project("/src/s", "s").unwrap();
        let mut parsed = Parsed::default();
        let mut e = entity(
            EntityKind::Function,
            "tokenize_input",
            "tokenize_input",
            1,
            None,
        );
        e.docstring = Some("Split the raw text into lexemes".into());
        parsed.entities.push(e);
        db.update_file_data_atomic(
            project,
            &meta("lex.py", "1"),
            "def tokenize_input(text):\n    # unusual marker zebracorn\n",
            &parsed,
        )
        .unwrap();
        let hits = db
            .full_text_search(codedb_core::Scope::All, "lexemes", 10)
            .unwrap();
        assert_eq!(hits.symbols.len(), 1, "{hits:?}");
        assert_eq!(hits.symbols[0].name, "tokenize_input");
        let hits = db
            .full_text_search(codedb_core::Scope::All, "zebracorn", 10)
            .unwrap();
        assert_eq!(hits.files.len(), 1);
        assert!(hits.files[0].snippet.contains("[zebracorn]"), "{hits:?}");
        // Quotes and operators are searched as text, not FTS syntax.
        assert!(
            db.full_text_search(codedb_core::Scope::All, "\"a\" OR b*", 10)
                .is_ok()
        );
        // Replacing the file replaces what search finds.
        db.update_file_data_atomic(project, &meta("lex.py", "2"), "x = 1\n", &Parsed::default())
            .unwrap();
        let hits = db
            .full_text_search(codedb_core::Scope::All, "zebracorn", 10)
            .unwrap();
        assert!(
            hits.files.is_empty()
                && db
                    .full_text_search(codedb_core::Scope::All, "lexemes", 10)
                    .unwrap()
                    .symbols
                    .is_empty()
        );
    });
}

#[test]
fn a_bulk_write_leaves_out_files_another_writer_stored_since_they_were_read() {
    use codedb_core::store::{BulkWriter, Written};
    common::each_code_database(|c| {
        let db = &c.db;
        let project = db.get_or_create_project("/src/r", "r").unwrap();
        let parsed = |name: &str| Parsed {
            entities: vec![entity(EntityKind::Function, name, name, 1, None)],
            ..Parsed::default()
        };
        // An index run read the rows (none yet), then a command stored x.py (v2).
        db.update_file_data_atomic(project, &meta("x.py", "v2"), "v2", &parsed("newer"))
            .unwrap();
        let stale = vec![
            pf(meta("x.py", "v1"), "v1", parsed("older")),
            pf(meta("y.py", "y1"), "y1", parsed("fresh")),
        ];
        let nothing = |_: &str| None;
        let ids = db
            .transaction(|tx| BulkWriter::new().write_files_seen(tx, project, &stale, &nothing))
            .unwrap();
        assert!(
            ids[0] == Written::Superseded && matches!(ids[1], Written::Stored(_)),
            "{}: {ids:?}",
            c.name()
        );
        let x = db.get_file_by_path(project, "x.py").unwrap().unwrap();
        assert_eq!(x.meta.sha256, "v2", "{}: the newer data stays", c.name());
        // The very bytes another writer stored: nothing to write again.
        let same = vec![pf(meta("x.py", "v2"), "v2", parsed("newer"))];
        let ids = db
            .transaction(|tx| BulkWriter::new().write_files_seen(tx, project, &same, &nothing))
            .unwrap();
        assert_eq!(ids, [Written::AlreadyStored(x.id)], "{}", c.name());
        assert_eq!(
            db.find_symbol(codedb_core::Scope::All, "newer")
                .unwrap()
                .len(),
            1
        );
        assert!(
            db.find_symbol(codedb_core::Scope::All, "older")
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            db.find_symbol(codedb_core::Scope::All, "fresh")
                .unwrap()
                .len(),
            1
        );
        // A caller that saw v2 replaces it.
        let seen_v2 = |p: &str| (p == "x.py").then(|| "v2".to_owned());
        let again = vec![pf(meta("x.py", "v3"), "v3", parsed("newest"))];
        let ids = db
            .transaction(|tx| BulkWriter::new().write_files_seen(tx, project, &again, &seen_v2))
            .unwrap();
        assert_eq!(ids, [Written::Stored(x.id)], "{}", c.name());
        assert_eq!(
            db.find_symbol(codedb_core::Scope::All, "newest")
                .unwrap()
                .len(),
            1
        );
        assert!(
            db.find_symbol(codedb_core::Scope::All, "newer")
                .unwrap()
                .is_empty()
        );
        // Bytes newer than the row another writer stored (by mtime) still land.
        let mut newer = meta("x.py", "v4");
        newer.mtime_ns = 5;
        let ids = db
            .transaction(|tx| {
                BulkWriter::new().write_files_seen(
                    tx,
                    project,
                    &[pf(newer.clone(), "v4", parsed("latest"))],
                    &nothing,
                )
            })
            .unwrap();
        assert_eq!(ids, [Written::Stored(x.id)], "{}", c.name());
        assert_eq!(
            db.find_symbol(codedb_core::Scope::All, "latest")
                .unwrap()
                .len(),
            1
        );
    });
}

#[test]
fn every_query_is_scoped_to_a_project_or_spans_all_of_them() {
    use codedb_core::Scope;
    common::each_code_database(|c| {
        let db = &c.db;
        let name = c.name();
        let a = db.get_or_create_project("/src/a", "a").unwrap();
        let b = db.get_or_create_project("/src/b", "b").unwrap();
        for (project, extra) in [(a, "only_a"), (b, "only_b")] {
            let mut parsed = Parsed {
                entities: vec![
                    entity(EntityKind::Class, "Runner", "Runner", 1, None),
                    entity(EntityKind::Method, "run", "Runner.run", 2, Some(0)),
                    entity(EntityKind::Function, extra, extra, 5, None),
                ],
                ..Parsed::default()
            };
            parsed.usages.insert("run".into(), vec![(9, 1)]);
            db.update_file_data_atomic(
                project,
                &meta("m.py", extra),
                "class Runner:\n    def run(self): pass\nrunner runs\n",
                &parsed,
            )
            .unwrap();
        }
        let (sa, all) = (Scope::Project(a), Scope::All);
        assert_eq!(db.stats(sa, None).unwrap().files, 1, "{name}");
        assert_eq!(db.stats(sa, None).unwrap().methods, 1, "{name}");
        assert_eq!(db.stats(all, None).unwrap().files, 2, "{name}");
        let hits = db.find_symbol(sa, "run").unwrap();
        assert_eq!(hits.len(), 1, "{name}");
        assert_eq!(hits[0].project, None, "{name}: one project needs no name");
        let hits = db.find_symbol(all, "Runner.run").unwrap();
        let projects: Vec<_> = hits.iter().map(|h| h.project.as_deref()).collect();
        assert_eq!(projects, [Some("/src/a"), Some("/src/b")], "{name}");
        assert!(db.find_symbol(sa, "only_b").unwrap().is_empty(), "{name}");
        assert_eq!(db.usages_of(sa, "run").unwrap().len(), 1, "{name}");
        assert_eq!(db.usages_of(all, "run").unwrap().len(), 2, "{name}");
        assert_eq!(db.search_classes(sa, "Run%").unwrap().len(), 1, "{name}");
        assert_eq!(
            db.find_symbol_in_file(sa, "m.py").unwrap().len(),
            3,
            "{name}"
        );
        assert_eq!(
            db.find_symbol_in_file(all, "m.py").unwrap().len(),
            6,
            "{name}"
        );
        // `Runner`, and `Runner.run` by its qualified name.
        let found = db.full_text_search(sa, "runner", 10).unwrap();
        assert_eq!(found.symbols.len(), 2, "{name}: {found:?}");
        assert_eq!(found.files.len(), 1, "{name}: {found:?}");
        let found = db.full_text_search(all, "runner", 10).unwrap();
        assert_eq!(found.symbols.len(), 4, "{name}: {found:?}");
        assert_eq!(found.files.len(), 2, "{name}: {found:?}");
        assert!(found.files.iter().all(|f| f.project.is_some()), "{name}");
        let read = db.file_with_source(b, "m.py").unwrap().unwrap();
        assert_eq!(read.file.project_id, b, "{name}");
        assert!(read.source.unwrap().contains("runner runs"), "{name}");
        let roots: Vec<String> = db
            .list_projects()
            .unwrap()
            .into_iter()
            .map(|p| p.root)
            .collect();
        assert_eq!(roots, ["/src/a", "/src/b"], "{name}");
    });
}

#[test]
fn a_file_backup_is_referenced_and_freed_within_its_own_project() {
    use codedb_core::HistoryStore;
    use codedb_core::history::FileBackup;
    common::each_code_database(|c| {
        let db = &c.db;
        let name = c.name();
        let a = db.get_or_create_project("/src/a", "a").unwrap();
        let b = db.get_or_create_project("/src/b", "b").unwrap();
        // The same bytes backed up in both projects, each into its own store.
        for (project, command_id) in [(a, "cmd-a"), (b, "cmd-b")] {
            let backup = FileBackup {
                id: 0,
                path: "m.py".into(),
                sha256: "same-bytes".into(),
                size: 5,
                command_id: command_id.into(),
                command: "edit".into(),
                created_at: 1,
            };
            db.transaction(|tx| tx.add_file_backup(project, &backup))
                .unwrap();
        }
        assert!(db.backup_referenced(a, "same-bytes").unwrap(), "{name}");
        // Project a keeps none: its copy is freed although project b still names the sha256.
        let freed = db
            .transaction(|tx| tx.prune_file_backups(a, "m.py", 0))
            .unwrap();
        assert_eq!(freed, vec!["same-bytes".to_owned()], "{name}");
        assert!(!db.backup_referenced(a, "same-bytes").unwrap(), "{name}");
        assert!(db.backup_referenced(b, "same-bytes").unwrap(), "{name}");
        assert_eq!(db.file_backups(b, "m.py").unwrap().len(), 1, "{name}");
    });
}
