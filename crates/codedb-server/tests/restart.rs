//! A worker made to panic (a failpoint in the maintenance worker's tick) is restarted with
//! backoff, its restarts and last error show in `status` and in `.codedb/status.json`, and
//! once the fault is gone it runs again. Run with `--features failpoints`.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use codedb_server::{Server, State, StatusFile};

#[test]
fn a_panicking_worker_is_restarted_and_status_shows_it() {
    let scenario = fail::FailScenario::setup();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.py"), "x = 1\n").unwrap();
    let config = dir.path().join("codedb.toml");
    std::fs::write(&config, "[maintenance]\ninterval_ms = 100\n").unwrap();
    fail::cfg("maintenance-tick", "2*panic(disk on fire)").unwrap();
    let server = Server::start(dir.path(), Some(&config)).unwrap();
    let maintenance = || {
        server
            .status()
            .into_iter()
            .find(|w| w.name == "maintenance")
            .unwrap()
    };
    let mut seen = None;
    for _ in 0..300 {
        let m = maintenance();
        if m.restarts == 2 && m.state == State::Running {
            seen = Some(m);
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let m = seen.unwrap_or_else(|| panic!("not restarted twice: {:?}", maintenance()));
    assert!(
        m.last_error.as_deref().unwrap().contains("disk on fire"),
        "{m:?}"
    );
    // The other workers were not disturbed.
    for w in server.status() {
        if w.name != "maintenance" {
            assert_eq!((w.state, w.restarts), (State::Running, 0), "{w:?}");
        }
    }
    // What `codedb status` reads.
    let file: StatusFile = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join(".codedb/status.json")).unwrap(),
    )
    .unwrap();
    let m = file
        .workers
        .iter()
        .find(|w| w.name == "maintenance")
        .unwrap();
    assert_eq!(m.restarts, 2);
    assert_eq!(file.pid, std::process::id());
    server.shutdown();
    scenario.teardown();
}
