//! `codedb backup` against what a hostile user or a crash does: a restore while a server
//! has the database open, restores of files that are not backups, a `backup create` killed
//! half-way, backups made within one second, and a backup directory shared with another
//! database.
#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

mod support;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::{codedb, stderr};

fn json(o: &std::process::Output) -> serde_json::Value {
    assert!(o.status.success(), "exit {:?}: {}", o.status, stderr(o));
    serde_json::from_slice(&o.stdout).unwrap()
}

/// A database with `rows` rows of about 1 KiB, through the library.
fn seed(path: &Path, rows: usize) {
    let manager = codedb_sqlite::open(path).unwrap();
    let script = format!(
        "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); \
         WITH RECURSIVE c(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM c WHERE i < {rows} - 1) \
         INSERT INTO t SELECT i, hex(randomblob(500)) FROM c;"
    );
    manager
        .driver()
        .execute_batch(codedb_driver::Batch::new().script(&script))
        .unwrap();
    manager.stop().unwrap();
}

fn backup_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .map(|d| {
            d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

fn create(dir: &Path, db: &str) -> PathBuf {
    let o = codedb(dir, &["backup", "create", "--db", db, "--json"]);
    PathBuf::from(json(&o)["backup_path"].as_str().unwrap())
}

#[test]
fn a_restore_of_anything_but_a_sound_backup_is_refused_before_anything_changes() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("d.sqlite");
    seed(&db, 10);
    let good = create(dir.path(), "d.sqlite");
    let before = fs::read(&db).unwrap();
    let backups = dir.path().join("backups");
    let listed_before = backup_files(&backups);

    let truncated = dir.path().join("truncated.sqlite");
    let bytes = fs::read(&good).unwrap();
    fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let corrupt = dir.path().join("corrupt.sqlite");
    let mut damaged = bytes.clone();
    for b in &mut damaged[4096..4096 + 300] {
        *b = 0x5A;
    }
    fs::write(&corrupt, &damaged).unwrap();
    let empty = dir.path().join("empty.sqlite");
    fs::write(&empty, b"").unwrap();
    for (id, why) in [
        ("/etc/passwd", "not a SQLite database"),
        (truncated.to_str().unwrap(), ""),
        (corrupt.to_str().unwrap(), ""),
        (empty.to_str().unwrap(), "not a SQLite database"),
        ("nope", "no such backup"),
        ("../x", "no such backup"),
        ("..", "not a backup file"),
        (db.to_str().unwrap(), "the database itself"),
    ] {
        let o = codedb(dir.path(), &["backup", "restore", id, "--db", "d.sqlite"]);
        assert_eq!(o.status.code(), Some(1), "{id}: {}", stderr(&o));
        let err = stderr(&o);
        assert!(err.contains(why), "{id}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{id}: {err}");
        assert_eq!(fs::read(&db).unwrap(), before, "{id} changed the database");
        assert_eq!(
            backup_files(&backups),
            listed_before,
            "{id}: a refused restore wrote a backup"
        );
    }
    // The good backup still lists and restores.
    let listed = json(&codedb(
        dir.path(),
        &["backup", "list", "--db", "d.sqlite", "--json"],
    ));
    assert_eq!(listed["backups"].as_array().unwrap().len(), 1, "{listed}");
    let id = good.file_name().unwrap().to_str().unwrap();
    json(&codedb(
        dir.path(),
        &["backup", "restore", id, "--db", "d.sqlite", "--json"],
    ));
}

#[test]
fn a_restore_is_refused_while_a_server_has_the_database_open() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    fs::write(root.join("a.py"), "def a():\n    return 1\n").unwrap();
    let o = codedb(root, &["index", "."]);
    assert!(o.status.success(), "{}", stderr(&o));
    let db = root.join(".codedb/codedb.sqlite");
    let db_arg = db.to_str().unwrap();
    let backup = create(root, db_arg);
    let mut server = Command::new(env!("CARGO_BIN_EXE_codedb"))
        .current_dir(root)
        .args(["serve", "--root", "."])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let status = root.join(".codedb/status.json");
    let start = Instant::now();
    while !status.exists() && start.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(status.exists(), "the server did not start");
    // The server may still be writing (its first index, resolution): what must hold is
    // that the file is the same file, not another put in its place.
    let before = std::os::unix::fs::MetadataExt::ino(&fs::metadata(&db).unwrap());
    let id = backup.file_name().unwrap().to_str().unwrap();
    let o = codedb(root, &["backup", "restore", id, "--db", db_arg]);
    let err = stderr(&o);
    drop(server.stdin.take()); // end of input: the server stops
    let _ = server.wait();
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("open in another codedb process") && err.contains(&server.id().to_string()),
        "{err}"
    );
    assert_eq!(
        std::os::unix::fs::MetadataExt::ino(&fs::metadata(&db).unwrap()),
        before,
        "the database was replaced"
    );
    // Once the server is gone, the same restore goes through.
    json(&codedb(
        root,
        &["backup", "restore", id, "--db", db_arg, "--json"],
    ));
}

#[test]
fn a_backup_killed_half_way_is_never_listed_and_is_swept() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("d.sqlite");
    seed(&db, 60_000); // about 60 MB: the backup takes a while
    let backups = dir.path().join("backups");
    let mut killed = false;
    for _ in 0..5 {
        let mut child = Command::new(env!("CARGO_BIN_EXE_codedb"))
            .current_dir(dir.path())
            .args(["backup", "create", "--db", "d.sqlite"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(20) {
            let writing = backup_files(&backups).iter().any(|n| {
                n.ends_with(".codedb-tmp")
                    && fs::metadata(backups.join(n)).is_ok_and(|m| m.len() > 0)
            });
            if writing || child.try_wait().unwrap().is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap(); // SIGKILL
            child.wait().unwrap();
            killed = true;
            break;
        }
    }
    assert!(killed, "never caught the backup while it was being written");
    assert!(
        backup_files(&backups)
            .iter()
            .any(|n| n.ends_with(".codedb-tmp")),
        "{:?}",
        backup_files(&backups)
    );
    let listed = json(&codedb(
        dir.path(),
        &["backup", "list", "--db", "d.sqlite", "--json"],
    ));
    for b in listed["backups"].as_array().unwrap() {
        let path = Path::new(b["path"].as_str().unwrap());
        assert!(b["bytes"].as_u64().unwrap() > 0, "{listed}");
        assert!(codedb_sqlite::check_backup(path).is_ok(), "{listed}");
    }
    // The next backup sweeps the leftover and is complete.
    let taken = create(dir.path(), "d.sqlite");
    assert!(codedb_sqlite::check_backup(&taken).is_ok());
    assert!(
        !backup_files(&backups)
            .iter()
            .any(|n| n.ends_with(".codedb-tmp")),
        "{:?}",
        backup_files(&backups)
    );
}

#[test]
fn backups_list_newest_first_within_a_second_and_prune_only_their_own() {
    let dir = tempfile::tempdir().unwrap();
    for sub in ["a", "b"] {
        fs::create_dir(dir.path().join(sub)).unwrap();
        seed(&dir.path().join(sub).join("codedb.sqlite"), 1);
    }
    let shared = dir.path().join("shared");
    let shared_arg = shared.to_str().unwrap();
    // Backups of different schemas within one second: their fingerprints sort them by name
    // the wrong way round unless the list orders by time.
    let mut taken = Vec::new();
    for i in 0..4 {
        let o = codedb(
            dir.path(),
            &[
                "backup",
                "create",
                "--db",
                "a/codedb.sqlite",
                "--backup-dir",
                shared_arg,
                "--json",
            ],
        );
        taken.push(json(&o)["backup_path"].as_str().unwrap().to_owned());
        let m = codedb_sqlite::open(dir.path().join("a/codedb.sqlite")).unwrap();
        m.driver()
            .execute(&format!("CREATE TABLE extra{i} (x)"), vec![])
            .unwrap();
        m.stop().unwrap();
        std::thread::sleep(Duration::from_millis(20));
    }
    let listed = json(&codedb(
        dir.path(),
        &[
            "backup",
            "list",
            "--db",
            "a/codedb.sqlite",
            "--backup-dir",
            shared_arg,
            "--json",
        ],
    ));
    let order: Vec<String> = listed["backups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["path"].as_str().unwrap().to_owned())
        .collect();
    taken.reverse();
    assert_eq!(order, taken, "newest first");
    // Another database of the same file name shares the directory: a sync of it prunes only
    // its own backups, and a directory named like a backup stops nothing.
    fs::create_dir(shared.join(format!(
        "{}x",
        Path::new(&taken[0]).file_name().unwrap().to_str().unwrap()
    )))
    .unwrap();
    let b = dir.path().join("b/codedb.sqlite");
    for _ in 0..3 {
        json(&codedb(
            dir.path(),
            &[
                "backup",
                "create",
                "--db",
                b.to_str().unwrap(),
                "--backup-dir",
                shared_arg,
                "--json",
            ],
        ));
    }
    fs::write(
        dir.path().join("want.sql"),
        "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT, w TEXT);",
    )
    .unwrap();
    let sync = json(&codedb(
        dir.path(),
        &[
            "schema",
            "sync",
            "--db",
            b.to_str().unwrap(),
            "--desired",
            "want.sql",
            "--backup-dir",
            shared_arg,
            "--json",
        ],
    ));
    assert!(sync["backup_path"].is_string(), "{sync}");
    for t in &taken {
        assert!(
            Path::new(t).is_file(),
            "{t} of the other database was pruned"
        );
    }
}

/// Older versions wrote backups in place: a killed one left a 0-byte (or partly written) file
/// under a real backup name. `list` leaves such a file out (so it is never offered to
/// restore) and shows the complete backups.
#[test]
fn a_file_with_a_backup_name_but_no_database_header_is_not_listed() {
    let dir = tempfile::tempdir().unwrap();
    seed(&dir.path().join("d.sqlite"), 1);
    let taken = create(dir.path(), "d.sqlite");
    let name = taken.file_name().unwrap().to_str().unwrap().to_owned();
    // `d.<db id>.<time>.<fingerprint>.sqlite`: the same name, newer times.
    let parts: Vec<&str> = name.split('.').collect();
    let named = |stamp: &str| {
        let mut parts = parts.clone();
        parts[2] = stamp;
        taken.with_file_name(parts.join("."))
    };
    let empty = named("20991231T235959Z");
    fs::write(&empty, b"").unwrap();
    let headerless = named("20991231T235958Z");
    fs::write(&headerless, b"not a database, cut short").unwrap();
    let listed = json(&codedb(
        dir.path(),
        &["backup", "list", "--db", "d.sqlite", "--json"],
    ));
    let paths: Vec<&str> = listed["backups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, [taken.to_str().unwrap()], "{listed}");
    let text = support::stdout(&codedb(dir.path(), &["backup", "list", "--db", "d.sqlite"]));
    assert!(text.contains(&name) && !text.contains("2099"), "{text}");
}
