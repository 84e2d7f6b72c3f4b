//! `codedb serve --http` under load, on SQLite and (when a server answers) PostgreSQL: 16
//! clients at once on two projects, a mix of `symbol`, `search`, `refs` and `edit` calls,
//! while another program edits files the watcher picks up, a client holds a request whose
//! answer it never reads, and clients hang up in the middle of their `create` calls. Every
//! call succeeds except the conflicts the mix provokes on purpose (an `edit` with a stale
//! `expect_sha256`); every acknowledged edit is on disk, in git and in the index; a call
//! whose client hung up landed whole or not at all; `verify` is clean on both projects.
//! Then the server is killed (`kill -9`) in the middle of the same load and restarted:
//! `verify` is clean again, and every file is what git and the index say.
//!
//! Bounded: `CODEDB_LOAD_SECONDS` seconds of load per backend (default 3, then half that with
//! the kill; up to 30), loopback only.
#![allow(clippy::unwrap_used, clippy::print_stdout)]

mod support;

use std::collections::BTreeMap;
use std::io::Write;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::git;
use support::http::{Served, init_repo, result, token_of, try_call};

const CLIENTS: usize = 16;
const PROJECTS: [&str; 2] = ["a", "b"];

fn load_seconds() -> u64 {
    std::env::var("CODEDB_LOAD_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3)
        .clamp(1, 30)
}

/// Two git projects `a` and `b` of a few modules each, served by one `codedb.toml` with
/// the watcher on.
fn two_projects(top: &Path) {
    for p in PROJECTS {
        let root = top.join(p);
        init_repo(&root, "shared.py", "def shared():\n    return 0\n");
        for m in 0..12 {
            std::fs::write(
                root.join(format!("mod{m}.py")),
                format!(
                    "from shared import shared\n\n\nclass Model{m}:\n    def save(self):\n        \
                     return shared()\n\n\ndef helper{m}(x):\n    return Model{m}().save() + x\n"
                ),
            )
            .unwrap();
        }
        git(&root, &["add", "-A"]);
        git(&root, &["commit", "-q", "-m", "modules"]);
    }
    std::fs::write(
        top.join("codedb.toml"),
        "[watcher]\nenabled = true\ndebounce_ms = 100\n\n\
         [[project]]\nname = \"a\"\nroot = \"a\"\n\n[[project]]\nname = \"b\"\nroot = \"b\"\n",
    )
    .unwrap();
}

fn content(client: usize, version: u64) -> String {
    format!("def c{client}_v{version}(x):\n    return helper1(x) + {version}\n")
}

/// What the clients saw.
#[derive(Default)]
struct Tally {
    /// Which run of the load (names the files hung-up clients create).
    phase: u32,
    calls: AtomicU64,
    conflicts: AtomicU64,
    failures: Mutex<Vec<String>>,
    /// Per client: the last content an `edit` was acknowledged for, and the versions sent
    /// after it (whose answers a kill may have cut).
    acknowledged: Mutex<BTreeMap<usize, (u64, u64)>>,
    /// Files whose `create` was sent by a client that hung up before the answer.
    hung_up: Mutex<Vec<(String, String)>>,
}

/// One client's loop until `stop`: its own file `c{i}.py` in project `i % 2`.
fn client(addr: &str, token: &str, i: usize, stop: &AtomicBool, tally: &Tally) {
    let project = PROJECTS[i % 2];
    let mut seed = 0x9e37_79b9_u64.wrapping_mul(i as u64 + 1);
    // Versions go on from the last acknowledged one of an earlier run.
    let mut version = tally
        .acknowledged
        .lock()
        .unwrap()
        .get(&i)
        .map_or(0, |a| a.1);
    let mut id = (i as u64) << 32;
    while !stop.load(Ordering::Acquire) {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        id += 1;
        let (tool, args, conflict) = match seed % 20 {
            0..=6 => (
                "symbol",
                json!({"project": project, "name": format!("Model{}.save", seed % 12)}),
                false,
            ),
            7..=11 => (
                "search",
                json!({"project": project, "query": "return shared", "limit": 5}),
                false,
            ),
            12..=14 => (
                "refs",
                json!({"project": project, "qualname": "shared.py:shared"}),
                false,
            ),
            15 => (
                "edit",
                json!({"project": project, "path": "shared.py", "content": "x = 1\n",
                       "expect_sha256": "0".repeat(64)}),
                true,
            ),
            _ => {
                version += 1;
                tally.acknowledged.lock().unwrap().entry(i).or_default().1 = version;
                (
                    "edit",
                    json!({"project": project, "path": format!("c{i}.py"), "content": content(i, version)}),
                    false,
                )
            }
        };
        let answer = try_call(addr, token, id, tool, &args);
        if stop.load(Ordering::Acquire) && answer.is_err() {
            break; // the server was killed under us: expected in that phase
        }
        tally.calls.fetch_add(1, Ordering::Relaxed);
        match (answer, conflict) {
            (Ok(a), true) => {
                let e = result(&a).err().unwrap_or_default();
                if e.contains("conflict") {
                    tally.conflicts.fetch_add(1, Ordering::Relaxed);
                } else {
                    tally
                        .failures
                        .lock()
                        .unwrap()
                        .push(format!("{tool} was to conflict: {a}"));
                }
            }
            (Ok(a), false) => match result(&a) {
                Ok(v) if a["result"]["isError"] != true => {
                    if tool == "edit" {
                        assert!(v["sha256"].is_string(), "{v}");
                        tally.acknowledged.lock().unwrap().entry(i).or_default().0 = version;
                    }
                }
                _ => tally
                    .failures
                    .lock()
                    .unwrap()
                    .push(format!("{tool} {args}: {a}")),
            },
            (Err(e), _) => tally
                .failures
                .lock()
                .unwrap()
                .push(format!("{tool} {args}: {e}")),
        }
    }
}

/// Another program editing files of both projects: `ext{k}.py`, rewritten in place.
fn external_editor(top: &Path, stop: &AtomicBool) -> BTreeMap<PathBuf, String> {
    let mut last = BTreeMap::new();
    let mut n = 0;
    while !stop.load(Ordering::Acquire) {
        for p in PROJECTS {
            let path = top.join(p).join(format!("ext{}.py", n % 3));
            let text = format!("def external_{n}():\n    return {n}\n");
            std::fs::write(&path, &text).unwrap();
            last.insert(path, text);
        }
        n += 1;
        std::thread::sleep(Duration::from_millis(150));
    }
    last
}

/// A client that sends a `create` and hangs up at once, every so often.
fn hanging_up(addr: &str, token: &str, stop: &AtomicBool, tally: &Tally) {
    let mut n = 0;
    while !stop.load(Ordering::Acquire) {
        let project = PROJECTS[n % 2];
        let path = format!("hung{}_{n}.py", tally.phase);
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {
            "name": "create", "arguments": {"project": project, "path": path,
            "content": format!("def hung_{}_{n}():\n    pass\n", tally.phase)}}})
        .to_string();
        if let Ok(mut s) = TcpStream::connect(addr) {
            let _ = write!(
                s,
                "POST /mcp HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
                 Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\n\
                 Content-Length: {}\r\n\r\n{body}",
                body.len()
            );
            tally
                .hung_up
                .lock()
                .unwrap()
                .push((project.to_owned(), path));
            std::thread::sleep(Duration::from_millis(n as u64 % 3 * 5));
            drop(s);
        }
        n += 1;
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// A client that asks for an answer and never reads it, holding its connection open.
fn never_reads(addr: &str, token: &str) -> TcpStream {
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {
        "name": "search", "arguments": {"project": "a", "regex": ".", "limit": 1000}}})
    .to_string();
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "POST /mcp HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    s
}

/// Runs the load for `seconds`: the clients, the external editor, a client hanging up now
/// and then, one never reading; `kill` (if any) runs halfway through, and the clients stop
/// at once then. Returns what the external editor wrote last.
fn run_load(
    top: &Path,
    addr: &str,
    token: &str,
    seconds: u64,
    tally: &Tally,
    kill: Option<&mut dyn FnMut()>,
) -> BTreeMap<PathBuf, String> {
    let stop = AtomicBool::new(false);
    let editor_stop = AtomicBool::new(false);
    let _slow = never_reads(addr, token);
    std::thread::scope(|s| {
        for i in 0..CLIENTS {
            let stop = &stop;
            s.spawn(move || client(addr, token, i, stop, tally));
        }
        let stop_ref = &stop;
        s.spawn(move || hanging_up(addr, token, stop_ref, tally));
        let editor = s.spawn(|| external_editor(top, &editor_stop));
        match kill {
            Some(kill) => {
                std::thread::sleep(Duration::from_secs(seconds) / 2);
                stop.store(true, Ordering::Release);
                kill();
            }
            None => {
                std::thread::sleep(Duration::from_secs(seconds));
                stop.store(true, Ordering::Release);
            }
        }
        // The clients finish their calls; then the editor stops.
        std::thread::sleep(Duration::from_millis(200));
        editor_stop.store(true, Ordering::Release);
        editor.join().unwrap()
    })
}

/// Polls `verify` on both projects until it is clean (the watcher catching up with the
/// external edits), at most 60 s; returns the last reports.
fn verify_clean(addr: &str, token: &str) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let reports: Vec<Value> = PROJECTS
            .iter()
            .map(|p| {
                let a = try_call(addr, token, 1, "verify", &json!({"project": p})).unwrap();
                result(&a).unwrap().clone()
            })
            .collect();
        let clean = reports
            .iter()
            .all(|r| r["mismatches"] == json!([]) && r["pending_intents"] == 0);
        if clean {
            return reports;
        }
        assert!(
            Instant::now() < deadline,
            "verify never clean: {reports:#?}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// The index's sha256 of `path` in `project`, if it has the file.
fn indexed_sha(addr: &str, token: &str, project: &str, path: &str) -> Option<String> {
    let a = try_call(
        addr,
        token,
        1,
        "file",
        &json!({"project": project, "path": path}),
    )
    .unwrap();
    result(&a).ok()?["sha256"].as_str().map(str::to_owned)
}

fn sha256_of(path: &Path) -> String {
    use std::process::Command;
    let out = Command::new("sha256sum").arg(path).output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned()
}

/// Each file a client wrote: on disk, at git's HEAD and in the index alike, and its content
/// one the client sent (`exact`: the last acknowledged one).
fn check_client_files(top: &Path, addr: &str, token: &str, tally: &Tally, exact: bool) {
    let acknowledged = tally.acknowledged.lock().unwrap();
    for i in 0..CLIENTS {
        let project = PROJECTS[i % 2];
        let root = top.join(project);
        let rel = format!("c{i}.py");
        let Some(&(acked, sent)) = acknowledged.get(&i) else {
            continue;
        };
        let disk = std::fs::read_to_string(root.join(&rel)).unwrap_or_default();
        let candidates: Vec<String> = if exact {
            vec![content(i, acked)]
        } else {
            (acked..=sent).map(|v| content(i, v)).collect()
        };
        assert!(
            candidates.contains(&disk),
            "client {i}: {rel} holds {disk:?}, acknowledged version {acked}, sent up to {sent}"
        );
        let head = git(&root, &["show", &format!("HEAD:{rel}")]);
        assert_eq!(head.trim_end(), disk.trim_end(), "client {i}: git HEAD");
        assert_eq!(
            indexed_sha(addr, token, project, &rel).as_deref(),
            Some(sha256_of(&root.join(&rel)).as_str()),
            "client {i}: the index"
        );
    }
    // A `create` whose client hung up landed whole (disk, git, index) or not at all.
    for (project, rel) in tally.hung_up.lock().unwrap().iter() {
        let root = top.join(project);
        let on_disk = root.join(rel).exists();
        let in_git = !git(&root, &["ls-files", rel]).is_empty();
        let indexed = indexed_sha(addr, token, project, rel).is_some();
        assert_eq!(
            (on_disk, in_git, indexed),
            (on_disk, on_disk, on_disk),
            "{project}/{rel}: half a create"
        );
    }
}

fn load(db: &[&str]) {
    let seconds = load_seconds();
    let dir = tempfile::tempdir().unwrap();
    let top = dir.path().canonicalize().unwrap();
    let _kept = std::env::var_os("CODEDB_LOAD_KEEP").map(|_| dir.keep());
    println!("projects under {}", top.display());
    two_projects(&top);
    let served = Served::start_with(&top, db);
    let addr = served.addr.clone();
    let token = token_of(&top);
    for p in PROJECTS {
        let a = try_call(&addr, &token, 1, "index", &json!({"project": p})).unwrap();
        result(&a).unwrap();
    }
    for i in 0..CLIENTS {
        let p = PROJECTS[i % 2];
        let a = try_call(
            &addr,
            &token,
            1,
            "create",
            &json!({"project": p, "path": format!("c{i}.py"), "content": content(i, 0)}),
        )
        .unwrap();
        result(&a).unwrap();
    }

    // The load, the server up all along.
    let tally = Tally::default();
    let started = Instant::now();
    let external = run_load(&top, &addr, &token, seconds, &tally, None);
    let calls = tally.calls.load(Ordering::Relaxed);
    println!(
        "{calls} calls in {:.1} s ({} conflicts provoked), {} hang-ups",
        started.elapsed().as_secs_f64(),
        tally.conflicts.load(Ordering::Relaxed),
        tally.hung_up.lock().unwrap().len()
    );
    let failures = tally.failures.lock().unwrap().clone();
    assert!(
        failures.is_empty(),
        "{} failed calls: {failures:#?}",
        failures.len()
    );
    assert!(tally.conflicts.load(Ordering::Relaxed) > 0);
    verify_clean(&addr, &token);
    check_client_files(&top, &addr, &token, &tally, true);
    for (path, text) in &external {
        let project = path
            .parent()
            .unwrap()
            .file_name()
            .unwrap()
            .to_str()
            .unwrap();
        let rel = path.file_name().unwrap().to_str().unwrap();
        assert_eq!(&std::fs::read_to_string(path).unwrap(), text);
        assert_eq!(
            indexed_sha(&addr, &token, project, rel).as_deref(),
            Some(sha256_of(path).as_str()),
            "{project}/{rel}: the watcher's index"
        );
    }

    // The same load, the server killed (-9) halfway, then restarted.
    let acknowledged = tally
        .acknowledged
        .lock()
        .unwrap()
        .iter()
        .map(|(i, (acked, _))| (*i, (*acked, *acked)))
        .collect();
    let tally = Tally {
        phase: 1,
        acknowledged: Mutex::new(acknowledged),
        ..Tally::default()
    };
    let mut served = served;
    let pid = served.child.id();
    let mut kill = || {
        let status = std::process::Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    };
    run_load(&top, &addr, &token, seconds, &tally, Some(&mut kill));
    let _ = served.child.wait();
    drop(served);
    let served = Served::start_with(&top, db);
    let addr = served.addr.clone();
    verify_clean(&addr, &token);
    check_client_files(&top, &addr, &token, &tally, false);
}

#[test]
fn sixteen_http_clients_on_two_projects_with_external_edits_and_a_kill() {
    for db in codedb_backends::testing::TestDatabase::all() {
        println!("backend: {}", db.name());
        if db.name() == "sqlite" {
            load(&[]); // the server's own database, under the test's directory
        } else {
            load(&["--db", &db.arg()]);
        }
    }
}
