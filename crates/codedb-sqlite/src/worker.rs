//! [`DBWorker`]: the named thread that owns the write connection and services a bounded FIFO
//! queue of jobs.
//!
//! A job is a closure over the [`SQLiteDriver`]; the worker runs jobs one after the other, in
//! the order they were queued, inside the tracing span of the code that sent them, and sends
//! each its answer. It knows nothing about transactions: the
//! [`SQLiteDriverProxy`](crate::SQLiteDriverProxy) decides what a job does and keeps other
//! writers out while a transaction is open.
//!
//! Failure handling:
//! * a full queue blocks the sender (backpressure) for up to `queue_timeout`, then `Busy`;
//! * a job that panics fails with [`ErrorKind::Panicked`] and the worker serves the next one;
//! * a dead worker thread makes every waiting and later caller fail with
//!   [`ErrorKind::WorkerCrashed`] at once, never hang: each caller waits on a reply channel
//!   whose sender dies with the job;
//! * [`DBWorker::shutdown`] lets the queued jobs finish, checkpoints the WAL, closes the
//!   connection and joins the thread.

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use codedb_driver::{Error, ErrorKind, Result};
use crossbeam_channel::{Receiver, RecvTimeoutError, SendTimeoutError, Sender};
use parking_lot::Mutex;
use tracing::Span;

use crate::connection::SQLiteDriver;

type JobFn = Box<dyn FnOnce(&mut SQLiteDriver) + Send>;

enum Message {
    Job { run: JobFn, span: Span },
    Shutdown { reply: Sender<Result<()>> },
}

/// Handle to a running worker thread. Cheap to share behind an `Arc`; every method takes
/// `&self`.
#[derive(Debug)]
pub struct DBWorker {
    name: String,
    queue: Sender<Message>,
    queue_timeout: Duration,
    closed: AtomicBool,
    /// Cleared by the worker thread as it ends, however it ends.
    alive: Arc<AtomicBool>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

/// How often a caller waiting for an answer checks that the worker is still alive.
const LIVENESS_POLL: Duration = Duration::from_millis(50);

/// The worker's end of the queue. However the thread ends (even by a panic outside any job),
/// dropping it marks the worker dead and drops every job still queued, so that their callers
/// are answered `WorkerCrashed` at once.
struct Inbox {
    jobs: Receiver<Message>,
    alive: Arc<AtomicBool>,
}

impl Drop for Inbox {
    fn drop(&mut self) {
        self.alive.store(false, Ordering::Release);
        while self.jobs.try_recv().is_ok() {}
    }
}

impl std::fmt::Debug for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Message::Job { .. } => f.write_str("Job"),
            Message::Shutdown { .. } => f.write_str("Shutdown"),
        }
    }
}

impl DBWorker {
    /// Starts a thread called `name` that owns `driver` and serves a queue of `capacity` jobs.
    pub fn spawn(
        driver: SQLiteDriver,
        name: &str,
        capacity: usize,
        queue_timeout: Duration,
    ) -> Result<Self> {
        let (queue, jobs) = crossbeam_channel::bounded(capacity.max(1));
        let alive = Arc::new(AtomicBool::new(true));
        let inbox = Inbox {
            jobs,
            alive: Arc::clone(&alive),
        };
        let thread = std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || serve(driver, &inbox))
            .map_err(|e| {
                Error::new(
                    ErrorKind::Io,
                    format!("cannot start the database worker thread: {e}"),
                )
                .with_source(e)
            })?;
        Ok(DBWorker {
            name: name.to_owned(),
            queue,
            queue_timeout,
            closed: AtomicBool::new(false),
            alive,
            thread: Mutex::new(Some(thread)),
        })
    }

    /// The worker thread's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Jobs waiting in the queue now.
    pub fn queue_len(&self) -> usize {
        self.queue.len()
    }

    /// `true` while the thread runs and has not been shut down.
    pub fn is_running(&self) -> bool {
        !self.closed.load(Ordering::Acquire) && self.alive.load(Ordering::Acquire)
    }

    /// Runs `job` on the worker's connection and returns its answer. The job runs inside the
    /// caller's current tracing span.
    pub fn call<R, F>(&self, job: F) -> Result<R>
    where
        F: FnOnce(&mut SQLiteDriver) -> Result<R> + Send + 'static,
        R: Send + 'static,
    {
        self.submit(job, false)
    }

    /// Like [`call`](Self::call) for a job that must leave no transaction open: if it panics
    /// half-way, whatever transaction it opened is rolled back before the worker goes on.
    pub fn call_autocommit<R, F>(&self, job: F) -> Result<R>
    where
        F: FnOnce(&mut SQLiteDriver) -> Result<R> + Send + 'static,
        R: Send + 'static,
    {
        self.submit(job, true)
    }

    fn submit<R, F>(&self, job: F, rollback_on_panic: bool) -> Result<R>
    where
        F: FnOnce(&mut SQLiteDriver) -> Result<R> + Send + 'static,
        R: Send + 'static,
    {
        self.send(job, rollback_on_panic)?.wait()
    }

    /// Queues `job` without waiting for its answer, so that the caller can prepare the next
    /// job while this one runs (pipelining). Jobs run in the order they were sent.
    pub fn send_job<R, F>(&self, job: F) -> Result<PendingReply<'_, R>>
    where
        F: FnOnce(&mut SQLiteDriver) -> Result<R> + Send + 'static,
        R: Send + 'static,
    {
        self.send(job, false)
    }

    fn send<R, F>(&self, job: F, rollback_on_panic: bool) -> Result<PendingReply<'_, R>>
    where
        F: FnOnce(&mut SQLiteDriver) -> Result<R> + Send + 'static,
        R: Send + 'static,
    {
        if !self.is_running() {
            return Err(self.gone());
        }
        let (reply, answer) = crossbeam_channel::bounded(1);
        let run: JobFn = Box::new(move |driver: &mut SQLiteDriver| {
            let outcome = catch_unwind(AssertUnwindSafe(|| job(driver)));
            let result = outcome.unwrap_or_else(|payload| {
                let mut err = Error::new(
                    ErrorKind::Panicked,
                    format!("a database job panicked: {}", panic_message(&*payload)),
                );
                if rollback_on_panic
                    && !driver.is_autocommit()
                    && let Err(second) = driver.rollback()
                {
                    err =
                        err.with_context(format!("rolling back after the panic failed ({second})"));
                }
                Err(err)
            });
            // The caller may have gone away; nothing to do then.
            let _ = reply.send(result);
        });
        let message = Message::Job {
            run,
            span: Span::current(),
        };
        match self.queue.send_timeout(message, self.queue_timeout) {
            Ok(()) => {}
            Err(SendTimeoutError::Timeout(_)) => {
                return Err(Error::new(
                    ErrorKind::Busy,
                    format!(
                        "the database worker's queue stayed full for {:?}; the database is overloaded",
                        self.queue_timeout
                    ),
                ));
            }
            Err(SendTimeoutError::Disconnected(_)) => return Err(self.gone()),
        }
        Ok(PendingReply {
            worker: self,
            answer,
        })
    }

    /// Waits for a job's answer; a job lost with its worker is answered `WorkerCrashed`.
    fn wait_for<R>(&self, answer: &Receiver<Result<R>>) -> Result<R> {
        loop {
            match answer.recv_timeout(LIVENESS_POLL) {
                Ok(result) => return result,
                Err(RecvTimeoutError::Disconnected) => return Err(self.gone()),
                Err(RecvTimeoutError::Timeout) if !self.alive.load(Ordering::Acquire) => {
                    // The worker ended; a last answer may still have arrived.
                    return answer.try_recv().unwrap_or_else(|_| Err(self.gone()));
                }
                Err(RecvTimeoutError::Timeout) => {}
            }
        }
    }

    /// Finishes the jobs already queued, checkpoints the WAL, closes the connection and waits
    /// for the thread to end. Later calls fail with [`ErrorKind::Closed`]; a second shutdown
    /// does nothing.
    pub fn shutdown(&self) -> Result<()> {
        if self.closed.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        let (reply, answer) = crossbeam_channel::bounded(1);
        let sent = self.alive.load(Ordering::Acquire)
            && self.queue.send(Message::Shutdown { reply }).is_ok();
        let result = if sent {
            self.wait_for(&answer).map_err(|_| self.crashed())
        } else {
            Err(self.crashed())
        };
        if let Some(thread) = self.thread.lock().take()
            && thread.join().is_err()
            && result.is_ok()
        {
            return Err(self.crashed());
        }
        result
    }

    /// Why no job can run any more (`Closed` or `WorkerCrashed`), or `None` while it serves.
    pub(crate) fn unavailable(&self) -> Option<Error> {
        (!self.is_running()).then(|| self.gone())
    }

    fn gone(&self) -> Error {
        if self.closed.load(Ordering::Acquire) {
            self.closed_error()
        } else {
            self.crashed()
        }
    }

    fn crashed(&self) -> Error {
        Error::new(
            ErrorKind::WorkerCrashed,
            format!(
                "the database worker thread {:?} has died; reopen the database",
                self.name
            ),
        )
    }

    fn closed_error(&self) -> Error {
        Error::new(
            ErrorKind::Closed,
            format!("the database served by {:?} has been closed", self.name),
        )
    }
}

/// The answer to a job sent with [`DBWorker::send_job`], not yet received.
#[derive(Debug)]
#[must_use = "the job's result is lost unless you wait for it"]
pub struct PendingReply<'w, R> {
    worker: &'w DBWorker,
    answer: Receiver<Result<R>>,
}

impl<R> PendingReply<'_, R> {
    /// Waits for the job's answer; `WorkerCrashed` if the worker died first.
    pub fn wait(self) -> Result<R> {
        self.worker.wait_for(&self.answer)
    }
}

impl Drop for DBWorker {
    fn drop(&mut self) {
        if let Err(e) = self.shutdown() {
            tracing::warn!(worker = %self.name, error = %e, "database worker did not shut down cleanly");
        }
    }
}

fn serve(mut driver: SQLiteDriver, inbox: &Inbox) {
    tracing::debug!(path = %driver.path().display(), "database worker started");
    for message in &inbox.jobs {
        match message {
            Message::Job { run, span } => {
                #[cfg(feature = "failpoints")]
                fail::fail_point!("dbworker-crash");
                let _entered = span.enter();
                // `run` catches its own panics; this guards the loop against anything else.
                if catch_unwind(AssertUnwindSafe(|| run(&mut driver))).is_err() {
                    tracing::error!("a database job panicked outside its own guard");
                }
            }
            Message::Shutdown { reply } => {
                let result = finish(&mut driver);
                drop(driver);
                let _ = reply.send(result);
                tracing::debug!("database worker stopped");
                return;
            }
        }
    }
}

/// Leaves the database clean on shutdown: no transaction open, the WAL checkpointed.
fn finish(driver: &mut SQLiteDriver) -> Result<()> {
    if !driver.is_autocommit() {
        tracing::warn!("rolling back a transaction left open at shutdown");
        driver.rollback()?;
    }
    driver.checkpoint_truncate()
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_owned()
    }
}
