//! One way to start, supervise and stop every worker.
//!
//! A [`Worker`] says its name, runs until asked to stop ([`Worker::run`], given a
//! [`WorkerContext`] to watch), can be nudged to stop ([`Worker::stop`], for workers blocked
//! on something other than the context) and reports its health. The [`WorkerManager`] starts
//! each in its own thread in the order given, restarts one that returns an error or panics
//! (backoff 100 ms doubling to 5 s; after [`MAX_RESTARTS`] it is left unhealthy), stops them
//! in reverse order, and keeps a status for each (state, restarts, last error) that `status`
//! shows. Every change of status is also written to `.codedb/status.json` so that
//! `codedb status` can read it from another process.

use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use parking_lot::{Condvar, Mutex};
use serde::{Deserialize, Serialize};

/// Restarts after which a failing worker is left unhealthy.
pub const MAX_RESTARTS: u32 = 5;

/// What a worker runs with.
#[derive(Debug, Default)]
pub struct WorkerContext {
    stop: AtomicBool,
    lock: Mutex<()>,
    wake: Condvar,
}

impl WorkerContext {
    /// Whether the worker should return.
    pub fn stopping(&self) -> bool {
        self.stop.load(Ordering::Acquire)
    }

    /// Sleeps up to `d`, returning early (true) when asked to stop.
    pub fn sleep(&self, d: Duration) -> bool {
        let mut guard = self.lock.lock();
        if self.stopping() {
            return true;
        }
        let _ = self.wake.wait_for(&mut guard, d);
        self.stopping()
    }

    fn request_stop(&self) {
        self.stop.store(true, Ordering::Release);
        let _guard = self.lock.lock();
        self.wake.notify_all();
    }
}

/// A long-running part of the server.
pub trait Worker: Send + Sync + 'static {
    /// Its name in logs and `status`.
    fn name(&self) -> &str;
    /// Does the work until `ctx.stopping()`; an error (or a panic) makes the manager
    /// restart it.
    fn run(&self, ctx: &WorkerContext) -> Result<(), String>;
    /// Called when the manager stops the worker, after the context was told: unblock
    /// whatever `run` waits on besides the context. Default: nothing.
    fn stop(&self) {}
    /// Its own view of its health (`Err` with the reason when unhealthy). Default: healthy.
    fn health(&self) -> Result<(), String> {
        Ok(())
    }
}

/// A worker's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Not started yet.
    Starting,
    /// Running.
    Running,
    /// Failed; waiting to be restarted.
    Restarting,
    /// Failed too often; not restarted.
    Unhealthy,
    /// Stopped.
    Stopped,
}

/// What `status` shows of one worker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerStatus {
    /// Its name.
    pub name: String,
    /// Its state.
    pub state: State,
    /// How many times it was restarted.
    pub restarts: u32,
    /// Its last failure.
    pub last_error: Option<String>,
}

/// The status file's content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusFile {
    /// The server's process id.
    pub pid: u32,
    /// Every worker, in start order.
    pub workers: Vec<WorkerStatus>,
}

struct Supervised {
    worker: Arc<dyn Worker>,
    ctx: Arc<WorkerContext>,
    thread: Option<JoinHandle<()>>,
}

/// Starts, supervises and stops workers.
pub struct WorkerManager {
    workers: Vec<Supervised>,
    status: Arc<Mutex<Vec<WorkerStatus>>>,
    status_file: Option<PathBuf>,
}

impl std::fmt::Debug for WorkerManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerManager")
            .field("status", &*self.status.lock())
            .finish_non_exhaustive()
    }
}

impl WorkerManager {
    /// A manager that writes its status to `status_file` (if any).
    pub fn new(status_file: Option<PathBuf>) -> Self {
        WorkerManager {
            workers: Vec::new(),
            status: Arc::new(Mutex::new(Vec::new())),
            status_file,
        }
    }

    /// Starts `worker` under supervision (after those started before it).
    pub fn start(&mut self, worker: Arc<dyn Worker>) -> std::io::Result<()> {
        let index = {
            let mut status = self.status.lock();
            status.push(WorkerStatus {
                name: worker.name().to_owned(),
                state: State::Starting,
                restarts: 0,
                last_error: None,
            });
            status.len() - 1
        };
        let ctx = Arc::new(WorkerContext::default());
        let (w, c, s, file) = (
            Arc::clone(&worker),
            Arc::clone(&ctx),
            Arc::clone(&self.status),
            self.status_file.clone(),
        );
        let thread = std::thread::Builder::new()
            .name(format!("codedb-{}", worker.name()))
            .spawn(move || supervise(&*w, &c, &s, index, file.as_deref()))?;
        tracing::info!(worker = worker.name(), "worker started");
        self.workers.push(Supervised {
            worker,
            ctx,
            thread: Some(thread),
        });
        write_status(&self.status, self.status_file.as_deref());
        Ok(())
    }

    /// Every worker's status, in start order (its own health check folded in).
    pub fn status(&self) -> Vec<WorkerStatus> {
        self.status_handle().status()
    }

    /// A handle that reads the status from elsewhere (the MCP `status` tool).
    pub fn status_handle(&self) -> StatusHandle {
        StatusHandle {
            status: Arc::clone(&self.status),
            workers: self.workers.iter().map(|w| Arc::clone(&w.worker)).collect(),
        }
    }

    /// Stops every worker, the last started first, and waits for each.
    pub fn stop_all(&mut self) {
        while let Some(mut w) = self.workers.pop() {
            w.ctx.request_stop();
            w.worker.stop();
            if let Some(t) = w.thread.take() {
                let _ = t.join();
            }
            tracing::info!(worker = w.worker.name(), "worker stopped");
        }
        write_status(&self.status, self.status_file.as_deref());
    }
}

impl Drop for WorkerManager {
    fn drop(&mut self) {
        self.stop_all();
    }
}

/// Reads the workers' status from another thread.
#[derive(Clone)]
pub struct StatusHandle {
    status: Arc<Mutex<Vec<WorkerStatus>>>,
    workers: Vec<Arc<dyn Worker>>,
}

impl std::fmt::Debug for StatusHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StatusHandle").finish_non_exhaustive()
    }
}

impl StatusHandle {
    /// Every worker's status, as [`WorkerManager::status`].
    pub fn status(&self) -> Vec<WorkerStatus> {
        let mut out = self.status.lock().clone();
        for (s, w) in out.iter_mut().zip(&self.workers) {
            if s.state == State::Running
                && let Err(e) = w.health()
            {
                s.state = State::Unhealthy;
                s.last_error = Some(e);
            }
        }
        out
    }
}

fn set(
    status: &Mutex<Vec<WorkerStatus>>,
    file: Option<&std::path::Path>,
    index: usize,
    f: impl FnOnce(&mut WorkerStatus),
) {
    if let Some(s) = status.lock().get_mut(index) {
        f(s);
    }
    write_status(status, file);
}

fn supervise(
    worker: &dyn Worker,
    ctx: &WorkerContext,
    status: &Mutex<Vec<WorkerStatus>>,
    index: usize,
    file: Option<&std::path::Path>,
) {
    let mut backoff = Duration::from_millis(100);
    loop {
        set(status, file, index, |s| s.state = State::Running);
        let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| worker.run(ctx)));
        let error = match outcome {
            Ok(Ok(())) if ctx.stopping() => break,
            Ok(Ok(())) => "returned without being asked to stop".to_owned(),
            Ok(Err(e)) => e,
            Err(panic) => {
                let what = panic
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "a panic".to_owned());
                format!("panicked: {what}")
            }
        };
        if ctx.stopping() {
            break;
        }
        let restarts = status.lock().get(index).map_or(0, |s| s.restarts);
        if restarts >= MAX_RESTARTS {
            tracing::error!(worker = worker.name(), %error, "worker failed too often; left unhealthy");
            set(status, file, index, |s| {
                s.state = State::Unhealthy;
                s.last_error = Some(error);
            });
            return;
        }
        tracing::warn!(worker = worker.name(), %error, ?backoff, "worker failed; restarting");
        set(status, file, index, |s| {
            s.state = State::Restarting;
            s.restarts += 1;
            s.last_error = Some(error);
        });
        if ctx.sleep(backoff) {
            break;
        }
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
    set(status, file, index, |s| s.state = State::Stopped);
}

/// Writes the status file. The status lock is held until the rename, so that writers from
/// several worker threads land in order and the file never shows an older state last.
fn write_status(status: &Mutex<Vec<WorkerStatus>>, file: Option<&std::path::Path>) {
    let Some(file) = file else {
        return;
    };
    let guard = status.lock();
    let content = StatusFile {
        pid: std::process::id(),
        workers: guard.clone(),
    };
    let Ok(json) = serde_json::to_vec_pretty(&content) else {
        return;
    };
    let temp = file.with_extension(format!("json.{}.tmp", std::process::id()));
    if std::fs::write(&temp, json)
        .and_then(|()| std::fs::rename(&temp, file))
        .is_err()
    {
        let _ = std::fs::remove_file(&temp);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU32;

    struct Flaky {
        runs: AtomicU32,
        fail_times: u32,
    }

    impl Worker for Flaky {
        fn name(&self) -> &str {
            "flaky"
        }
        fn run(&self, ctx: &WorkerContext) -> Result<(), String> {
            let n = self.runs.fetch_add(1, Ordering::SeqCst);
            if n < self.fail_times {
                if n.is_multiple_of(2) {
                    panic!("boom {n}");
                }
                return Err(format!("failed {n}"));
            }
            while !ctx.sleep(Duration::from_millis(10)) {}
            Ok(())
        }
    }

    fn wait_for(m: &WorkerManager, f: impl Fn(&WorkerStatus) -> bool) -> WorkerStatus {
        for _ in 0..500 {
            let s = m.status().remove(0);
            if f(&s) {
                return s;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("status never matched: {:?}", m.status());
    }

    #[test]
    fn a_failing_worker_is_restarted_then_left_unhealthy() {
        let mut m = WorkerManager::new(None);
        m.start(Arc::new(Flaky {
            runs: AtomicU32::new(0),
            fail_times: 2,
        }))
        .unwrap();
        let s = wait_for(&m, |s| s.state == State::Running && s.restarts == 2);
        assert_eq!(s.last_error.as_deref(), Some("failed 1"));
        m.stop_all();

        let mut m = WorkerManager::new(None);
        m.start(Arc::new(Flaky {
            runs: AtomicU32::new(0),
            fail_times: 100,
        }))
        .unwrap();
        let s = wait_for(&m, |s| s.state == State::Unhealthy);
        assert_eq!(s.restarts, MAX_RESTARTS);
        assert!(s.last_error.unwrap().contains("boom") || s.restarts == MAX_RESTARTS);
    }
}
