//! [`WriterGate`]: in-process admission of write transactions on a backend whose writers
//! wait for each other on the server (PostgreSQL's advisory locks, [`Dialect::write_lock`]).
//!
//! A PostgreSQL transaction holds a pooled connection from `BEGIN` to `COMMIT`. A writer
//! that waited for another writer's advisory lock on the server would hold one too while it
//! waits, so a handful of writers queued behind one project's index run could take the
//! whole pool and leave readers no connection at all. The gate keeps that wait in the
//! process: a writer is admitted (and only then takes a connection and its advisory lock)
//! when no other writer of this process holds what it needs, by the same rules as the
//! advisory locks: a [`WriteScope::Database`] writer runs alone; a [`WriteScope::Project`]
//! writer runs beside writers of other projects, not beside one of its own project or a
//! `Database` writer. A waiting `Database` writer holds back new project writers, so it is
//! not starved. Writers of other processes still meet at the server's advisory locks.
//!
//! The wait is bounded like the server's: by the driver's
//! [`lock_wait_limit`](codedb_driver::SpecificDriver::lock_wait_limit) (PostgreSQL: its
//! `statement_timeout`), past which the writer gets [`ErrorKind::Busy`], as a SQLite writer
//! does that waits longer than its gate's timeout.
//!
//! [`Dialect::write_lock`]: crate::Dialect::write_lock

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use codedb_driver::{Error, ErrorKind};
use parking_lot::{Condvar, Mutex};

use crate::dialect::WriteScope;

/// The writers of one `CodeDatabase` (and its clones) admitted or waiting.
#[derive(Debug, Default)]
pub(crate) struct WriterGate {
    state: Mutex<Admitted>,
    changed: Condvar,
}

#[derive(Debug, Default)]
struct Admitted {
    /// A `Database` writer is running.
    database: bool,
    /// `Database` writers waiting: new project writers wait behind them.
    database_waiting: usize,
    /// Projects whose writer is running.
    projects: HashSet<i64>,
}

impl Admitted {
    /// Whether a writer of `scope` may run now. A waiting `Database` writer does not wait
    /// for itself: only project writers look at `database_waiting`.
    fn admits(&self, scope: WriteScope) -> bool {
        match scope {
            WriteScope::Database => !self.database && self.projects.is_empty(),
            WriteScope::Project(id) => {
                !self.database && self.database_waiting == 0 && !self.projects.contains(&id)
            }
        }
    }

    fn enter(&mut self, scope: WriteScope) {
        match scope {
            WriteScope::Database => self.database = true,
            WriteScope::Project(id) => {
                self.projects.insert(id);
            }
        }
    }

    fn leave(&mut self, scope: WriteScope) {
        match scope {
            WriteScope::Database => self.database = false,
            WriteScope::Project(id) => {
                self.projects.remove(&id);
            }
        }
    }
}

/// A writer's admission: the gate lets the next writer in when it is dropped.
#[derive(Debug)]
pub(crate) struct WriterPass {
    gate: Arc<WriterGate>,
    scope: WriteScope,
}

impl Drop for WriterPass {
    fn drop(&mut self) {
        self.gate.state.lock().leave(self.scope);
        self.gate.changed.notify_all();
    }
}

impl WriterGate {
    /// Waits until a writer of `scope` may run, for at most `limit` (`None`: no limit).
    pub(crate) fn admit(
        self: &Arc<Self>,
        scope: WriteScope,
        limit: Option<Duration>,
    ) -> Result<WriterPass, Error> {
        let deadline = limit.and_then(|l| Instant::now().checked_add(l));
        let mut state = self.state.lock();
        let waits_as_database = scope == WriteScope::Database && !state.admits(scope);
        if waits_as_database {
            state.database_waiting += 1;
        }
        let mut timed_out = false;
        while !state.admits(scope) {
            match deadline {
                Some(deadline) => {
                    if self.changed.wait_until(&mut state, deadline).timed_out()
                        && !state.admits(scope)
                    {
                        timed_out = true;
                        break;
                    }
                }
                None => self.changed.wait(&mut state),
            }
        }
        if waits_as_database {
            state.database_waiting -= 1;
        }
        if timed_out {
            drop(state);
            // The `Database` writer that gave up no longer holds project writers back.
            self.changed.notify_all();
            return Err(Error::new(
                ErrorKind::Busy,
                format!(
                    "waited {} ms for {} of this process to finish (the limit is the \
                     database's statement_timeout: raise database.statement_timeout_ms)",
                    limit.unwrap_or_default().as_millis(),
                    match scope {
                        WriteScope::Database => "the other write transactions".to_owned(),
                        WriteScope::Project(id) =>
                            format!("another write transaction of project {id}"),
                    }
                ),
            ));
        }
        state.enter(scope);
        Ok(WriterPass {
            gate: Arc::clone(self),
            scope,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use std::sync::mpsc::channel;
    use std::thread;

    const LONG: Option<Duration> = Some(Duration::from_secs(10));

    /// Whether a writer of `scope` gets in within 100 ms while the passes given are held.
    fn admitted_beside(gate: &Arc<WriterGate>, scope: WriteScope) -> bool {
        gate.admit(scope, Some(Duration::from_millis(100))).is_ok()
    }

    #[test]
    fn writers_of_different_projects_run_at_once_and_of_one_project_one_at_a_time() {
        let gate = Arc::new(WriterGate::default());
        let one = gate.admit(WriteScope::Project(1), LONG).unwrap();
        assert!(admitted_beside(&gate, WriteScope::Project(2)));
        assert!(!admitted_beside(&gate, WriteScope::Project(1)));
        assert!(!admitted_beside(&gate, WriteScope::Database));
        drop(one);
        assert!(admitted_beside(&gate, WriteScope::Project(1)));
        let all = gate.admit(WriteScope::Database, LONG).unwrap();
        assert!(!admitted_beside(&gate, WriteScope::Project(3)));
        assert!(!admitted_beside(&gate, WriteScope::Database));
        drop(all);
        assert!(admitted_beside(&gate, WriteScope::Project(3)));
    }

    #[test]
    fn a_waiting_writer_gets_in_when_the_one_before_it_leaves() {
        let gate = Arc::new(WriterGate::default());
        let first = gate.admit(WriteScope::Project(7), LONG).unwrap();
        let (tx, rx) = channel();
        let waiting = {
            let gate = Arc::clone(&gate);
            thread::spawn(move || {
                let pass = gate.admit(WriteScope::Project(7), LONG);
                tx.send(pass.is_ok()).unwrap();
            })
        };
        assert!(rx.recv_timeout(Duration::from_millis(150)).is_err());
        drop(first);
        assert!(rx.recv_timeout(Duration::from_secs(5)).unwrap());
        waiting.join().unwrap();
    }

    #[test]
    fn a_waiting_database_writer_holds_new_project_writers_back_until_it_gives_up() {
        let gate = Arc::new(WriterGate::default());
        let running = gate.admit(WriteScope::Project(1), LONG).unwrap();
        let (tx, rx) = channel();
        let database = {
            let gate = Arc::clone(&gate);
            thread::spawn(move || {
                let pass = gate.admit(WriteScope::Database, Some(Duration::from_millis(400)));
                tx.send(pass.map(drop)).unwrap();
            })
        };
        thread::sleep(Duration::from_millis(100));
        assert!(!admitted_beside(&gate, WriteScope::Project(2)));
        let error = rx
            .recv_timeout(Duration::from_secs(5))
            .unwrap()
            .unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Busy);
        assert!(error.to_string().contains("statement_timeout"), "{error}");
        database.join().unwrap();
        assert!(admitted_beside(&gate, WriteScope::Project(2)));
        drop(running);
    }

    #[test]
    fn without_a_limit_a_writer_waits_as_long_as_it_takes() {
        let gate = Arc::new(WriterGate::default());
        let first = gate.admit(WriteScope::Database, None).unwrap();
        let waiting = {
            let gate = Arc::clone(&gate);
            thread::spawn(move || gate.admit(WriteScope::Database, None).map(drop))
        };
        thread::sleep(Duration::from_millis(200));
        assert!(!waiting.is_finished());
        drop(first);
        waiting.join().unwrap().unwrap();
    }
}
