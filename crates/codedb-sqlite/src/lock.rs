//! The database lock: a `flock` on `<db>.codedb-lock` beside the database file.
//!
//! Every [`DBWorkerManager`](crate::DBWorkerManager) holds it shared while the database is
//! open (so any number of codedb processes use the database at once); whatever replaces the
//! database file ([`restore`](crate::restore())) takes it exclusively, without waiting, and
//! refuses while another process holds it, naming that process. SQLite's own locks cannot
//! say this: a process that has the file open but no transaction holds none of them, and a
//! file replaced under it would take its later writes to the unlinked inode.
//!
//! The lock file is never removed (removing a lock file races with its next taker).

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use codedb_driver::{Error, ErrorKind, Result};

/// A held database lock; released when dropped.
#[derive(Debug)]
pub struct DatabaseLock {
    _file: File,
    path: PathBuf,
}

impl DatabaseLock {
    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// The lock file of the database at `db`.
pub fn lock_path(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(".codedb-lock");
    PathBuf::from(name)
}

fn open(db: &Path) -> Result<(File, PathBuf)> {
    let path = lock_path(db);
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| {
            Error::new(
                ErrorKind::CannotOpen,
                format!("cannot open the lock file {}: {e}", path.display()),
            )
        })?;
    Ok((file, path))
}

/// Takes the lock shared, for a process that opens the database. While another process
/// holds it exclusively (a restore replacing the file) this waits up to `wait`, then fails.
pub fn shared(db: &Path, wait: Duration) -> Result<DatabaseLock> {
    let (file, path) = open(db)?;
    let start = Instant::now();
    loop {
        match file.try_lock_shared() {
            Ok(()) => return Ok(DatabaseLock { _file: file, path }),
            Err(TryLockError::WouldBlock) if start.elapsed() < wait => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(TryLockError::WouldBlock) => {
                return Err(Error::new(
                    ErrorKind::Busy,
                    format!(
                        "{}: another codedb process{} is replacing the database; try again when it is done",
                        db.display(),
                        describe(&holders(&path))
                    ),
                ));
            }
            Err(TryLockError::Error(e)) => {
                return Err(Error::new(
                    ErrorKind::CannotOpen,
                    format!("cannot lock {}: {e}", path.display()),
                ));
            }
        }
    }
}

/// Takes the lock exclusively, at once or not at all: refused (naming the processes that
/// hold it, where the platform tells) while any other process has the database open.
pub fn exclusive(db: &Path) -> Result<DatabaseLock> {
    let (file, path) = open(db)?;
    match file.try_lock() {
        Ok(()) => Ok(DatabaseLock { _file: file, path }),
        Err(TryLockError::WouldBlock) => Err(Error::new(
            ErrorKind::Busy,
            format!(
                "{} is open in another codedb process{}; stop it (a running `codedb serve`, index or command) and try again",
                db.display(),
                describe(&holders(&path))
            ),
        )),
        Err(TryLockError::Error(e)) => Err(Error::new(
            ErrorKind::CannotOpen,
            format!("cannot lock {}: {e}", path.display()),
        )),
    }
}

fn describe(holders: &[(u32, String)]) -> String {
    if holders.is_empty() {
        return String::new();
    }
    let list: Vec<String> = holders
        .iter()
        .map(|(pid, cmd)| {
            if cmd.is_empty() {
                format!("pid {pid}")
            } else {
                format!("pid {pid}: {cmd}")
            }
        })
        .collect();
    format!(" ({})", list.join(", "))
}

/// The other processes holding a `flock` on `lock`, each with its program and subcommand
/// (Linux, from `/proc/locks`; empty elsewhere).
fn holders(lock: &Path) -> Vec<(u32, String)> {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::fs::MetadataExt;
        let Ok(inode) = std::fs::metadata(lock).map(|m| m.ino()) else {
            return Vec::new();
        };
        let Ok(locks) = std::fs::read_to_string("/proc/locks") else {
            return Vec::new();
        };
        let me = std::process::id();
        let mut out: Vec<(u32, String)> = Vec::new();
        for line in locks.lines() {
            // `1: FLOCK  ADVISORY  READ  4242 fd:01:1234567 0 EOF` (waiters have a `->`).
            let fields: Vec<&str> = line.split_whitespace().filter(|f| *f != "->").collect();
            let (Some(kind), Some(pid), Some(file)) = (fields.get(1), fields.get(4), fields.get(5))
            else {
                continue;
            };
            let same_inode =
                file.rsplit(':').next().and_then(|i| i.parse::<u64>().ok()) == Some(inode);
            let Ok(pid) = pid.parse::<u32>() else {
                continue;
            };
            if *kind == "FLOCK" && same_inode && pid != me && !out.iter().any(|(p, _)| *p == pid) {
                // The program and its subcommand only: later arguments may hold secrets.
                let cmd = std::fs::read(format!("/proc/{pid}/cmdline"))
                    .map(|b| {
                        b.split(|c| *c == 0)
                            .filter(|a| !a.is_empty())
                            .take(2)
                            .map(|a| {
                                let a = String::from_utf8_lossy(a).into_owned();
                                a.rsplit('/').next().unwrap_or_default().to_owned()
                            })
                            .collect::<Vec<_>>()
                            .join(" ")
                    })
                    .unwrap_or_default();
                out.push((pid, cmd));
            }
        }
        out
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = lock;
        Vec::new()
    }
}
