//! Writers of different projects on one PostgreSQL database run at once: one holds its
//! transaction open while another project's writer commits; a writer of the same project,
//! or one that may change anything, waits for it; many writers of several projects sharing
//! new names lose nothing and never deadlock. Skipped, saying why, when no PostgreSQL
//! server answers (SQLite keeps one writer at a time: the store suite covers it).
#![allow(clippy::unwrap_used, clippy::print_stdout)] // tests fail loudly on purpose

use std::sync::Arc;
use std::sync::mpsc::{RecvTimeoutError, channel};
use std::thread;
use std::time::Duration;

use codedb_backends::{Backend, PostgresConfig};
use codedb_core::store::{BulkWriter, Entity, EntityKind, FileMeta, Parsed, ParsedFile};
use codedb_core::{CodeDatabase, CodeStore, ErrorKind, Executor, Scope, params};

mod common;

/// The PostgreSQL half of [`common::code_databases`], if a server answers.
fn postgres() -> Option<common::CodeDb> {
    let found = common::code_databases()
        .into_iter()
        .find(|c| c.name() == "postgres");
    if found.is_none() {
        println!("SKIP postgres: no server answered (see codedb_backends::testing)");
    }
    found
}

/// A file `path` using `names`, defining a class `C<tag>` with one method.
fn file(path: &str, tag: &str, names: &[String]) -> ParsedFile {
    let mut parsed = Parsed::default();
    for (n, name) in names.iter().enumerate() {
        parsed
            .usages
            .insert(name.clone(), vec![(u32::try_from(n).unwrap() + 1, 1)]);
    }
    let entity = |kind, name: &str, qualified: &str, parent| Entity {
        kind,
        name: name.into(),
        qualified_name: qualified.into(),
        start_line: 1,
        end_line: 2,
        start_byte: 0,
        end_byte: 10,
        signature: None,
        docstring: None,
        parent,
    };
    let class = format!("C{tag}");
    parsed.entities = vec![
        entity(EntityKind::Class, &class, &class, None),
        entity(EntityKind::Method, "m", &format!("{class}.m"), Some(0)),
    ];
    ParsedFile {
        meta: FileMeta {
            path: path.into(),
            language: Some("python".into()),
            size: 1,
            mtime_ns: 1,
            sha256: format!("sha-{path}-{tag}"),
            lines: 1,
        },
        source: format!("class {class}: pass\n"),
        parsed,
    }
}

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

/// `n` files `{prefix}{i}.py`, each as [`file`] makes it.
fn files(prefix: &str, n: usize, tag: &str, used: &[&str]) -> Vec<ParsedFile> {
    (0..n)
        .map(|i| file(&format!("{prefix}{i}.py"), tag, &names(used)))
        .collect()
}

/// Every method names a class of its own file; no id is used twice.
fn assert_consistent(db: &CodeDatabase) {
    let stray: i64 = db
        .query_scalar(
            "SELECT count(*) FROM methods m JOIN classes c ON c.id = m.class_id \
             WHERE c.file_id <> m.file_id",
            params![],
        )
        .unwrap();
    assert_eq!(stray, 0, "a method names another file's class");
    let orphans: i64 = db
        .query_scalar(
            "SELECT count(*) FROM usages u LEFT JOIN names n ON n.id = u.name_id WHERE n.id IS NULL",
            params![],
        )
        .unwrap();
    assert_eq!(orphans, 0, "a usage names no name");
}

/// A `CodeDatabase` of its own (its own pool and writer gate, as another process would have)
/// on `c`'s database: `pool_size` connections, a 1 s wait for a free one, and
/// `statement_timeout`.
fn own_pool(c: &common::CodeDb, pool_size: u32, statement_timeout: Duration) -> CodeDatabase {
    let mut config = PostgresConfig::new(c.test.arg());
    config.pool_size = pool_size;
    config.connect_timeout = Duration::from_secs(1);
    config.statement_timeout = Some(statement_timeout);
    CodeDatabase::open(Backend::open_postgres(&config).unwrap().driver()).unwrap()
}

const WAIT: Duration = Duration::from_secs(20);
const STILL_WAITING: Duration = Duration::from_millis(400);

#[test]
fn a_writer_of_another_project_commits_while_one_holds_its_transaction_open() {
    let Some(c) = postgres() else { return };
    let db = Arc::new(c.db.clone());
    let a = db.get_or_create_project("/src/a", "a").unwrap();
    let b = db.get_or_create_project("/src/b", "b").unwrap();

    // Project a's writer: names committed ahead, rows written, transaction left open.
    let files_a = files("a", 20, "A", &["shared", "only_a", "self"]);
    let mut writer_a = BulkWriter::new();
    writer_a.commit_names(db.as_ref(), &files_a).unwrap();
    let tx_a = db.begin_project_transaction(a).unwrap();
    writer_a.write_files(&tx_a, a, &files_a).unwrap();

    // Project b's writer, with the same names and new ones, commits meanwhile.
    let (done_b, b_finished) = channel();
    let db_b = Arc::clone(&db);
    let writer_b = thread::spawn(move || {
        let files_b = files("b", 20, "B", &["shared", "only_b", "self"]);
        let mut writer = BulkWriter::new();
        writer.commit_names(db_b.as_ref(), &files_b).unwrap();
        let ids = db_b
            .project_transaction(b, |tx| writer.write_files(tx, b, &files_b))
            .unwrap();
        done_b.send(ids.len()).unwrap();
    });
    assert_eq!(
        b_finished.recv_timeout(WAIT).expect(
            "project b's writer did not commit while project a's transaction was open: \
             writers of different projects are serialized"
        ),
        20
    );
    writer_b.join().unwrap();

    // A second writer of project a, and one that may change anything, wait for a.
    let (done_a2, a2_finished) = channel();
    let db_a2 = Arc::clone(&db);
    let writer_a2 = thread::spawn(move || {
        let more = vec![file("a_late.py", "L", &names(&["shared", "late"]))];
        let mut writer = BulkWriter::new();
        writer.commit_names(db_a2.as_ref(), &more).unwrap();
        db_a2
            .project_transaction(a, |tx| writer.write_files(tx, a, &more))
            .unwrap();
        done_a2.send(()).unwrap();
    });
    let (done_all, all_finished) = channel();
    let db_all = Arc::clone(&db);
    let writer_all = thread::spawn(move || {
        db_all.get_or_create_project("/src/c", "c").unwrap();
        done_all.send(()).unwrap();
    });
    assert_eq!(
        a2_finished.recv_timeout(STILL_WAITING),
        Err(RecvTimeoutError::Timeout),
        "a second writer of project a did not wait for the first"
    );
    assert_eq!(
        all_finished.recv_timeout(STILL_WAITING),
        Err(RecvTimeoutError::Timeout),
        "a database-wide writer did not wait for project a's writer"
    );
    // Readers never wait: b's rows are visible, a's are not yet.
    assert_eq!(db.list_files(b, false).unwrap().len(), 20);
    assert_eq!(db.list_files(a, false).unwrap().len(), 0);
    tx_a.commit().unwrap();
    a2_finished.recv_timeout(WAIT).unwrap();
    all_finished.recv_timeout(WAIT).unwrap();
    writer_a2.join().unwrap();
    writer_all.join().unwrap();

    assert_eq!(db.list_files(a, false).unwrap().len(), 21);
    assert_eq!(db.usages_of(Scope::All, "shared").unwrap().len(), 41);
    assert_eq!(db.usages_of(Scope::Project(b), "only_b").unwrap().len(), 20);
    assert_eq!(db.usages_of(Scope::Project(a), "only_b").unwrap().len(), 0);
    assert_eq!(db.find_symbol(Scope::Project(a), "CA.m").unwrap().len(), 20);
    assert_eq!(db.find_symbol(Scope::Project(b), "CB.m").unwrap().len(), 20);
    assert_consistent(&db);
    // A row inserted without an id still gets a fresh one (the sequences are ahead of
    // every id the writers drew).
    db.update_file_data_atomic(a, &file("after.py", "Z", &[]).meta, "", &Parsed::default())
        .unwrap();
    assert_eq!(db.list_files(a, false).unwrap().len(), 22);
}

#[test]
fn writers_waiting_for_their_project_hold_no_connection_so_readers_still_get_one() {
    let Some(c) = postgres() else { return };
    let a = c.db.get_or_create_project("/src/a", "a").unwrap();
    // Two connections: the running writer holds one; the waiting writers must leave the
    // other to readers (waiting on the server's lock, each would hold one).
    let db = Arc::new(own_pool(&c, 2, Duration::from_secs(60)));
    let running = db.begin_project_transaction(a).unwrap();
    let (done, finished) = channel();
    let waiting: Vec<_> = (0..3)
        .map(|i| {
            let db = Arc::clone(&db);
            let done = done.clone();
            thread::spawn(move || {
                let more = vec![file(&format!("late{i}.py"), "L", &names(&["late"]))];
                let mut writer = BulkWriter::new();
                writer.commit_names(db.as_ref(), &more).unwrap();
                db.project_transaction(a, |tx| writer.write_files(tx, a, &more))
                    .unwrap();
                done.send(i).unwrap();
            })
        })
        .collect();
    assert_eq!(
        finished.recv_timeout(STILL_WAITING),
        Err(RecvTimeoutError::Timeout),
        "a second writer of project a did not wait for the first"
    );
    for _ in 0..5 {
        let n: i64 = db
            .query_scalar("SELECT count(*) FROM files", params![])
            .expect("a reader got no pooled connection while writers of one project waited");
        assert_eq!(n, 0);
    }
    // A writer of another process (its own pool and gate) still waits on the server.
    let other = own_pool(&c, 2, Duration::from_millis(300));
    let error = other.begin_project_transaction(a).unwrap_err();
    assert_eq!(error.kind(), Some(ErrorKind::Timeout), "{error}");
    running.commit().unwrap();
    for _ in 0..3 {
        finished.recv_timeout(WAIT).unwrap();
    }
    for writer in waiting {
        writer.join().unwrap();
    }
    assert_eq!(db.list_files(a, false).unwrap().len(), 3);
    assert_consistent(&db);
}

#[test]
fn a_writer_waiting_in_the_process_gives_up_after_the_statement_timeout() {
    let Some(c) = postgres() else { return };
    let a = c.db.get_or_create_project("/src/a", "a").unwrap();
    let b = c.db.get_or_create_project("/src/b", "b").unwrap();
    let db = own_pool(&c, 4, Duration::from_millis(300));
    let running = db.begin_project_transaction(a).unwrap();
    let started = std::time::Instant::now();
    let error = db.begin_project_transaction(a).unwrap_err();
    assert_eq!(error.kind(), Some(ErrorKind::Busy), "{error}");
    assert!(error.to_string().contains("statement_timeout"), "{error}");
    assert!(
        started.elapsed() >= Duration::from_millis(300) && started.elapsed() < WAIT,
        "gave up after {:?}",
        started.elapsed()
    );
    // Another project's writer, and the same project's once the first is done, get in.
    db.begin_project_transaction(b).unwrap().commit().unwrap();
    running.commit().unwrap();
    db.begin_project_transaction(a).unwrap().commit().unwrap();
}

#[test]
fn many_writers_of_four_projects_sharing_new_names_lose_nothing_and_never_deadlock() {
    let Some(c) = postgres() else { return };
    let db = Arc::new(c.db.clone());
    const PROJECTS: usize = 4;
    const ROUNDS: usize = 12;
    const FILES: usize = 8;
    let projects: Vec<i64> = (0..PROJECTS)
        .map(|p| {
            db.get_or_create_project(&format!("/src/p{p}"), "p")
                .unwrap()
        })
        .collect();
    // Two writers per project: one commits its names ahead, the other inserts them inside
    // its transaction (the path of a caller that does not); each round brings names no
    // one has stored yet, the same ones in every project, in different orders.
    let threads: Vec<_> = (0..PROJECTS * 2)
        .map(|w| {
            let db = Arc::clone(&db);
            let project = projects[w % PROJECTS];
            thread::spawn(move || {
                let mut writer = BulkWriter::new();
                for round in 0..ROUNDS {
                    let mut round_names: Vec<String> =
                        (0..30).map(|n| format!("r{round}_n{n}")).collect();
                    if w % 2 == 1 {
                        round_names.reverse();
                    }
                    round_names.push(format!("w{w}"));
                    let files: Vec<_> = (0..FILES)
                        .map(|f| file(&format!("w{w}/r{round}/f{f}.py"), "X", &round_names))
                        .collect();
                    if w < PROJECTS {
                        writer.commit_names(db.as_ref(), &files).unwrap();
                    }
                    let ids = db
                        .project_transaction(project, |tx| writer.write_files(tx, project, &files))
                        .unwrap_or_else(|e| panic!("writer {w} round {round}: {e}"));
                    assert_eq!(ids.len(), FILES);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    for &p in &projects {
        assert_eq!(
            db.list_files(p, false).unwrap().len(),
            2 * ROUNDS * FILES,
            "project {p} lost files"
        );
        assert_eq!(
            db.usages_of(Scope::Project(p), "r3_n7").unwrap().len(),
            2 * FILES
        );
    }
    let names: i64 = db
        .query_scalar("SELECT count(*) FROM names", params![])
        .unwrap();
    assert_eq!(
        names,
        i64::try_from(ROUNDS * 30 + PROJECTS * 2).unwrap(),
        "a name stored twice or lost"
    );
    assert_consistent(&db);
}

#[test]
fn a_project_deleted_while_another_is_written_leaves_the_other_whole() {
    let Some(c) = postgres() else { return };
    let db = Arc::new(c.db.clone());
    let a = db.get_or_create_project("/src/a", "a").unwrap();
    let b = db.get_or_create_project("/src/b", "b").unwrap();
    let mut writer = BulkWriter::new();
    let files_a = files("a", 5, "A", &["x"]);
    db.project_transaction(a, |tx| writer.write_files(tx, a, &files_a))
        .unwrap();

    // b's writer holds its transaction open; deleting a waits for it (a database-wide
    // writer), then removes a whole, and b's rows are all there.
    let files_b = files("b", 5, "B", &["x", "y"]);
    let mut writer_b = BulkWriter::new();
    writer_b.commit_names(db.as_ref(), &files_b).unwrap();
    let tx_b = db.begin_project_transaction(b).unwrap();
    writer_b.write_files(&tx_b, b, &files_b).unwrap();
    let (deleted, delete_finished) = channel();
    let db_d = Arc::clone(&db);
    let deleter = thread::spawn(move || {
        db_d.delete_project(a).unwrap();
        deleted.send(()).unwrap();
    });
    assert_eq!(
        delete_finished.recv_timeout(STILL_WAITING),
        Err(RecvTimeoutError::Timeout)
    );
    tx_b.commit().unwrap();
    delete_finished.recv_timeout(WAIT).unwrap();
    deleter.join().unwrap();
    assert!(db.list_projects().unwrap().iter().all(|p| p.id != a));
    assert_eq!(db.list_files(b, false).unwrap().len(), 5);
    assert_eq!(db.usages_of(Scope::All, "x").unwrap().len(), 5);
    assert_consistent(&db);

    // A writer of the deleted project fails (its rows would name no project); it does not
    // hang, and leaves nothing behind.
    let late = vec![file("late.py", "L", &names(&["x"]))];
    let error = db
        .project_transaction(a, |tx| writer.write_files(tx, a, &late))
        .unwrap_err();
    assert!(
        matches!(
            error.kind(),
            Some(codedb_core::ErrorKind::ForeignKeyViolation)
        ),
        "{error}"
    );
    let files: i64 = db
        .query_scalar("SELECT count(*) FROM files", params![])
        .unwrap();
    assert_eq!(files, 5);
}
