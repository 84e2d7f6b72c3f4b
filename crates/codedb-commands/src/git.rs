//! Git, through the `git` command line (a real implementation, never hand-written objects).
//!
//! A command commits only the files it touched, exactly as it wrote them, without disturbing
//! anything else the user has staged or changed: the bytes are stored as blobs
//! (`hash-object -w`, with the path's attributes), the commit is built in a private index
//! (`GIT_INDEX_FILE` under the git directory) from the branch's current commit plus those
//! entries (`update-index --index-info`), written with `write-tree` / `commit-tree`, and
//! published with `update-ref <branch> <new> <old>`, a compare-and-swap: a concurrent commit
//! makes it fail, and it is built again on the new tip. The branch is held while it is
//! published (an `update-ref --stdin` transaction prepared at the tip and left open): the
//! user's index, locked as git locks it, is replaced by a copy whose entries of exactly
//! those paths are what was committed, then the branch moves and is released, so that no
//! `git commit` of the user's sees the one without the other, and a faster committer cannot
//! win every race. Paths always travel in NUL-terminated records. Nothing is read back from
//! the work tree, where another program may have written since.
//!
//! A command builds its commit ahead of its commit point ([`Git::prepare`], on a thread while
//! it backs up and writes): the blobs are stored, the tree is made in the private index (where
//! git must take every written path, so that what git refuses refuses the command while it
//! can be undone) and the commit object is written. After the commit point only publishing
//! it is left (above), and building it again should the branch have moved meanwhile.
//!
//! git runs with none of the variables that point it at another repository or index
//! (`GIT_DIR`, `GIT_INDEX_FILE`, ... as `git rev-parse --local-env-vars` lists them): codedb
//! run from a git hook commits to the project's repository all the same.
//!
//! Refused before anything changes: a merge, rebase, cherry-pick or revert in progress, and
//! a detached HEAD.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, UNIX_EPOCH};

use crate::error::{CommandError, Result};

/// A git repository holding a project.
#[derive(Debug, Clone)]
pub(crate) struct Git {
    /// The work tree's top.
    top: PathBuf,
    /// The git directory (absolute).
    git_dir: PathBuf,
    /// The project root relative to `top`, `/`-separated, empty or ending in `/`.
    prefix: String,
    /// Whether commits need a fallback identity (none configured).
    fallback_identity: bool,
}

/// What a commit makes of one path (relative to the project root): these bytes, or gone.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Change<'a> {
    pub(crate) path: &'a str,
    /// `None`: the path is removed.
    pub(crate) content: Option<Blob<'a>>,
}

/// A [`Change`] that owns its path and bytes, to hand to another thread.
#[derive(Debug, Clone)]
pub(crate) struct OwnedChange {
    path: String,
    content: Option<(Vec<u8>, bool)>,
}

impl OwnedChange {
    pub(crate) fn of(change: &Change<'_>) -> Self {
        OwnedChange {
            path: change.path.to_owned(),
            content: change.content.map(|b| (b.bytes.to_vec(), b.executable)),
        }
    }

    pub(crate) fn as_change(&self) -> Change<'_> {
        Change {
            path: &self.path,
            content: self.content.as_ref().map(|(bytes, executable)| Blob {
                bytes,
                executable: *executable,
            }),
        }
    }
}

/// A file's content as committed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Blob<'a> {
    pub(crate) bytes: &'a [u8],
    /// Committed as mode 100755.
    pub(crate) executable: bool,
}

/// What a commit sets in the index ([`Git::entries`]): the `update-index --index-info` lines
/// (each written path's blob already stored) and the written paths, as git names them.
#[derive(Debug, Clone, Default)]
pub(crate) struct Entries {
    lines: String,
    written: Vec<String>,
}

/// A commit a command made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Commit {
    /// The branch ref moved (`refs/heads/...`).
    pub(crate) branch: String,
    /// Its previous commit (`None`: the branch was unborn).
    pub(crate) old: Option<String>,
    /// The new commit.
    pub(crate) new: String,
}

static INDEX_COUNTER: AtomicU32 = AtomicU32::new(0);

/// The shared private index's lock, released explicitly (see `project::FileLock`).
#[derive(Debug)]
struct SharedIndexLock(std::fs::File);

impl Drop for SharedIndexLock {
    fn drop(&mut self) {
        let _ = self.0.unlock();
    }
}

/// The private index a commit is built in ([`Git::commit_index`]).
#[derive(Debug)]
struct CommitIndex {
    path: PathBuf,
    /// The commit whose tree it holds, when known.
    tip: Option<String>,
    /// The shared index's lock and the file that names its tip; `None`: a throw-away index,
    /// removed when dropped.
    shared: Option<(SharedIndexLock, PathBuf)>,
}

impl CommitIndex {
    /// Says, for the next command, that the shared index holds the tree of `commit`.
    fn holds(&self, commit: &str) {
        if let Some((_, tip_path)) = &self.shared {
            let _ = std::fs::write(tip_path, commit);
        }
    }
}

impl Drop for CommitIndex {
    fn drop(&mut self) {
        if self.shared.is_none() {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// A commit built ahead of the commit point ([`Git::prepare`]), published by
/// [`Git::commit_prepared`].
#[derive(Debug)]
pub(crate) struct Prepared {
    entries: Entries,
    skip_unchanged: bool,
    built: Option<Built>,
}

/// A commit object written but not yet published, and the index it was built in.
#[derive(Debug)]
struct Built {
    branch: String,
    old: Option<String>,
    /// `None`: the tip's tree already held the changes (with `skip_unchanged`).
    new: Option<String>,
    index: CommitIndex,
}

/// A `git update-ref --stdin` session: a transaction it prepared holds its refs locked until
/// it is aborted (or the session ends, which aborts it too).
struct RefSession {
    child: std::process::Child,
    stdin: Option<std::process::ChildStdin>,
    stdout: std::io::BufReader<std::process::ChildStdout>,
}

/// A branch held at `tip` by `lock` ([`Git::hold_branch`]), and the session that is to
/// update it once `lock` releases it.
struct HeldBranch {
    lock: RefSession,
    update: Option<RefSession>,
}

/// What locking the branch in a ref transaction got ([`Git::hold_branch`]: a
/// [`HeldBranch`]; [`Git::stage_update`]: the session with the update prepared, to commit).
enum Locked<T> {
    Got(T),
    /// The branch moved, or another git holds it: try again.
    Busy,
    /// This git cannot do it (no ref transactions): a plain compare-and-swap instead.
    Unavailable,
}

impl RefSession {
    fn start(cmd: &mut Command) -> Option<RefSession> {
        let mut child = cmd
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .ok()?;
        let stdin = child.stdin.take();
        let stdout = std::io::BufReader::new(child.stdout.take()?);
        Some(RefSession {
            child,
            stdin,
            stdout,
        })
    }

    fn send(&mut self, commands: &str) -> bool {
        use std::io::Write;
        self.stdin.as_mut().is_some_and(|s| {
            s.write_all(commands.as_bytes())
                .and_then(|()| s.flush())
                .is_ok()
        })
    }

    /// Whether git's next line of output is `expected`.
    fn answered(&mut self, expected: &str) -> bool {
        use std::io::BufRead;
        let mut line = String::new();
        self.stdout.read_line(&mut line).is_ok_and(|n| n > 0) && line.trim_end() == expected
    }

    /// Aborts the transaction: the refs are free again.
    fn release(mut self) {
        if self.send("abort\n") {
            let _ = self.answered("abort: ok");
        }
    }

    /// Ends the session; what git said on its standard error.
    fn end(mut self) -> Vec<u8> {
        use std::io::Read;
        drop(self.stdin.take());
        let mut stderr = Vec::new();
        if let Some(mut e) = self.child.stderr.take() {
            let _ = e.read_to_end(&mut stderr);
        }
        stderr
    }
}

impl Drop for RefSession {
    fn drop(&mut self) {
        // The end of its input ends the session, aborting what it holds.
        drop(self.stdin.take());
        let _ = self.child.wait();
    }
}

impl std::fmt::Debug for RefSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RefSession")
            .field("pid", &self.child.id())
            .finish()
    }
}

/// The user's index, locked (`index.lock`) and its update made in a private copy
/// ([`Git::lock_user_index`]). Dropped unfinished, the copy and the lock are removed and the
/// index stays as it was.
#[derive(Debug)]
struct UserIndexUpdate {
    /// `index.lock`, while this update holds it.
    lock: Option<PathBuf>,
    /// The updated copy, until it is put in place.
    private: Option<PathBuf>,
    index: PathBuf,
}

/// What `index.lock` holds when codedb took it: this, then its process id.
const INDEX_LOCK_MARK: &str = "codedb ";

impl UserIndexUpdate {
    /// Puts the updated index in place when `publish` (the commit moved the branch), else
    /// leaves the index as it was; releases the lock. Whether it was put in place.
    fn finish(mut self, publish: bool) -> bool {
        let placed = publish
            && self
                .private
                .take()
                .is_some_and(|private| std::fs::rename(private, &self.index).is_ok());
        drop(self);
        placed
    }
}

impl Drop for UserIndexUpdate {
    fn drop(&mut self) {
        if let Some(private) = self.private.take() {
            let _ = std::fs::remove_file(private);
        }
        if let Some(lock) = self.lock.take() {
            let _ = std::fs::remove_file(lock);
        }
    }
}

/// The user's index entries of a commit's paths, being set by a git process
/// ([`Git::refreshed`] awaits it).
#[derive(Debug)]
#[must_use]
pub(crate) struct IndexRefresh {
    child: Option<std::process::Child>,
    /// The entries, when they are still to be set (`None`: set with the commit).
    records: Option<String>,
}

/// How long a ref lock held by another git process is waited out.
const LOCK_WAIT: Duration = Duration::from_secs(3);

/// How long a commit is built again while other commits keep moving the branch.
const BRANCH_WAIT: Duration = Duration::from_secs(10);

/// Whether git failed because another git process holds a lock file.
fn lock_busy(stderr: &[u8]) -> bool {
    let text = String::from_utf8_lossy(stderr);
    text.contains(".lock") && (text.contains("File exists") || text.contains("cannot lock"))
}

/// Sleeps before the next attempt: a random moment, up to a ceiling that doubles with each
/// attempt (1 ms to 64 ms).
fn back_off(attempt: u32) {
    let ceiling_us = 1000u64 << attempt.min(6);
    let noise = std::time::SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::from(d.subsec_nanos()))
        .wrapping_mul(0x9e37_79b9_7f4a_7c15)
        >> 40;
    std::thread::sleep(Duration::from_micros(
        ceiling_us / 2 + noise % (ceiling_us / 2 + 1),
    ));
}

fn no_commit() -> CommandError {
    CommandError::Git {
        step: "creating the commit".into(),
        message: "no commit was made".into(),
    }
}

impl Git {
    /// The repository holding `root`, if any (and if git is installed).
    pub(crate) fn discover(root: &Path) -> Result<Option<Git>> {
        let out = match clean_git()
            .arg("-C")
            .arg(root)
            .args(["rev-parse", "--show-toplevel", "--absolute-git-dir"])
            .output()
        {
            Ok(o) => o,
            Err(e) => {
                tracing::warn!("git is not available ({e}); commands will not commit");
                return Ok(None);
            }
        };
        if !out.status.success() {
            return Ok(None);
        }
        let text = String::from_utf8_lossy(&out.stdout);
        let mut lines = text.lines();
        let (Some(top), Some(git_dir)) = (lines.next(), lines.next()) else {
            return Ok(None);
        };
        let top = Path::new(top)
            .canonicalize()
            .map_err(|e| CommandError::io("open the git work tree", Path::new(top), e))?;
        let prefix = root
            .strip_prefix(&top)
            .map(|p| {
                let p = crate::durable::relative_path(Path::new(""), p);
                if p.is_empty() { p } else { format!("{p}/") }
            })
            .unwrap_or_default();
        let fallback_identity = !clean_git()
            .current_dir(&top)
            .args(["var", "GIT_COMMITTER_IDENT"])
            .output()
            .is_ok_and(|o| o.status.success());
        Ok(Some(Git {
            top,
            git_dir: PathBuf::from(git_dir),
            prefix,
            fallback_identity,
        }))
    }

    /// Refuses a repository codedb must not commit into; returns the branch ref.
    pub(crate) fn preflight(&self) -> Result<String> {
        for (marker, what) in [
            ("MERGE_HEAD", "a merge is in progress"),
            ("rebase-merge", "a rebase is in progress"),
            ("rebase-apply", "a rebase or `git am` is in progress"),
            ("CHERRY_PICK_HEAD", "a cherry-pick is in progress"),
            ("REVERT_HEAD", "a revert is in progress"),
        ] {
            if self.git_dir.join(marker).exists() {
                return Err(CommandError::GitRefused(format!(
                    "{what} in {}; finish or abort it first",
                    self.top.display()
                )));
            }
        }
        let head_path = self.git_dir.join("HEAD");
        let head = std::fs::read_to_string(&head_path)
            .map_err(|e| CommandError::io("read", &head_path, e))?;
        match head.trim().strip_prefix("ref: ") {
            Some(branch) => Ok(branch.to_owned()),
            None => Err(CommandError::GitRefused(format!(
                "HEAD is detached in {}; check out a branch first",
                self.top.display()
            ))),
        }
    }

    /// `rel` (relative to the project root) relative to the work tree's top.
    fn top_path(&self, rel: &str) -> String {
        format!("{}{rel}", self.prefix)
    }

    /// `git` in the work tree's top, with the private `index` and the fallback identity
    /// when they apply.
    fn command(&self, index: Option<&Path>) -> Command {
        let mut cmd = clean_git();
        cmd.current_dir(&self.top);
        if let Some(index) = index {
            cmd.env("GIT_INDEX_FILE", index);
        }
        if self.fallback_identity {
            for (k, v) in [
                ("GIT_AUTHOR_NAME", "codedb"),
                ("GIT_AUTHOR_EMAIL", "codedb@localhost"),
                ("GIT_COMMITTER_NAME", "codedb"),
                ("GIT_COMMITTER_EMAIL", "codedb@localhost"),
            ] {
                cmd.env(k, v);
            }
        }
        cmd
    }

    /// Runs `cmd`, whatever its exit status; only a git that cannot start is an error.
    fn output(step: &str, cmd: &mut Command) -> Result<Output> {
        cmd.output().map_err(|e| CommandError::Git {
            step: step.to_owned(),
            message: format!("cannot run git: {e}"),
        })
    }

    /// Runs git with `args`; its trimmed stdout, or an error with its stderr.
    fn git(&self, step: &str, args: &[&str], index: Option<&Path>) -> Result<String> {
        check(step, Self::output(step, self.command(index).args(args))?)
    }

    /// The commit `branch` points at (`None`: unborn). Read from the ref files when the
    /// repository keeps them plainly (a loose ref, else `packed-refs`); through `git
    /// rev-parse` otherwise (linked worktrees, reftable).
    fn branch_tip(&self, branch: &str) -> Result<Option<String>> {
        if let Some(tip) = self.read_ref_files(branch) {
            return Ok(tip);
        }
        let out = Self::output(
            "reading the branch",
            self.command(None).args([
                "rev-parse",
                "-q",
                "--verify",
                &format!("{branch}^{{commit}}"),
            ]),
        )?;
        Ok(out
            .status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned()))
    }

    fn read_ref_files(&self, branch: &str) -> Option<Option<String>> {
        let is_id =
            |s: &str| (s.len() == 40 || s.len() == 64) && s.bytes().all(|b| b.is_ascii_hexdigit());
        if !branch.starts_with("refs/heads/")
            || self.git_dir.join("commondir").exists()
            || self.git_dir.join("reftable").exists()
        {
            return None;
        }
        match std::fs::read_to_string(self.git_dir.join(branch)) {
            Ok(text) => return is_id(text.trim()).then(|| Some(text.trim().to_owned())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(_) => return None,
        }
        match std::fs::read_to_string(self.git_dir.join("packed-refs")) {
            Ok(text) => {
                for line in text.lines().filter(|l| !l.starts_with(['#', '^'])) {
                    if let Some((id, name)) = line.split_once(' ')
                        && name.trim() == branch
                    {
                        return is_id(id).then(|| Some(id.to_owned()));
                    }
                }
                Some(None)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Some(None),
            Err(_) => None,
        }
    }

    /// The index a commit is built in: the shared private index (`codedb-index` in the git
    /// directory, which holds the tree of the commit named in `codedb-index.tip` when the
    /// last commit was codedb's) when no other command is using it, else a throw-away one.
    fn commit_index(&self) -> CommitIndex {
        let throw_away = || CommitIndex {
            path: self.git_dir.join(format!(
                "codedb-index-{}-{}",
                std::process::id(),
                INDEX_COUNTER.fetch_add(1, Ordering::Relaxed)
            )),
            tip: None,
            shared: None,
        };
        let Ok(lock) = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(self.git_dir.join("codedb-index.flock"))
        else {
            return throw_away();
        };
        if lock.try_lock().is_err() {
            return throw_away();
        }
        // Only a command holding the lock uses the shared index: an `index.lock` of it is
        // what a killed git left.
        let _ = std::fs::remove_file(self.git_dir.join("codedb-index.lock"));
        let tip_path = self.git_dir.join("codedb-index.tip");
        let tip = std::fs::read_to_string(&tip_path)
            .ok()
            .map(|t| t.trim().to_owned())
            .filter(|_| self.git_dir.join("codedb-index").exists());
        // From here until a commit succeeds the index is not known to match any commit.
        let _ = std::fs::remove_file(&tip_path);
        CommitIndex {
            path: self.git_dir.join("codedb-index"),
            tip,
            shared: Some((SharedIndexLock(lock), tip_path)),
        }
    }

    /// The commit of `changes`, built ahead of the commit point (on a thread while the
    /// command backs up and writes): their blobs stored (`hash-object -w`), the tree made in
    /// a private index from the branch's tip (where git must take every written path, so
    /// that a path git would leave out of the commit, or bytes it cannot store, refuse the
    /// command while it can still be undone), and the commit object written. Nothing is
    /// published: after the commit point [`commit_prepared`](Self::commit_prepared) only
    /// moves the branch (building again if it moved meanwhile). The objects of a command
    /// that then fails are unreferenced, and git's gc removes them.
    ///
    /// With `skip_unchanged`, a tree equal to the tip's makes no commit.
    pub(crate) fn prepare(
        &self,
        changes: &[Change<'_>],
        message: &str,
        skip_unchanged: bool,
    ) -> Result<Prepared> {
        let entries = self.entries(changes)?;
        let branch = self.preflight()?;
        let mut index = self.commit_index();
        let (old, new) = self.build(&branch, &entries, &mut index, message, skip_unchanged)?;
        Ok(Prepared {
            entries,
            skip_unchanged,
            built: Some(Built {
                branch,
                old,
                new,
                index,
            }),
        })
    }

    /// What a commit of `changes` sets in the index: their blobs stored, and the written
    /// paths.
    pub(crate) fn entries(&self, changes: &[Change<'_>]) -> Result<Entries> {
        Ok(Entries {
            lines: self.index_entries(changes)?,
            written: self.written(changes),
        })
    }

    /// The written paths of `changes`, as git names them (from the top of the work tree).
    fn written(&self, changes: &[Change<'_>]) -> Vec<String> {
        changes
            .iter()
            .filter(|c| c.content.is_some())
            .map(|c| self.top_path(c.path))
            .collect()
    }

    /// Commits `entries` with `message`, touching nothing else. Before the branch moves, git
    /// must have taken every written path into the commit's index (it leaves out a path it
    /// refuses with only a warning): a path it left out fails the commit.
    pub(crate) fn commit_entries(&self, entries: &Entries, message: &str) -> Result<Commit> {
        let (commit, refresh) = self.commit_inner(entries, message, false, None)?;
        self.refreshed(refresh)?;
        commit.ok_or_else(no_commit)
    }

    /// [`commit_entries`](Self::commit_entries) of `changes`, or `None` when the branch's tree
    /// already holds them (no empty commit is made).
    pub(crate) fn commit_if_changed(
        &self,
        changes: &[Change<'_>],
        message: &str,
    ) -> Result<Option<Commit>> {
        let (commit, refresh) = self.commit_inner(&self.entries(changes)?, message, true, None)?;
        self.refreshed(refresh)?;
        Ok(commit)
    }

    /// Publishes what [`prepare`](Self::prepare) built (`None` when it made no commit because
    /// the tip already held the changes); built again on the new tip when the branch moved
    /// since. The user's index entries of the paths are then being set: the caller awaits
    /// them with [`refreshed`](Self::refreshed) once it has done its own work meanwhile.
    pub(crate) fn commit_prepared(
        &self,
        prepared: Prepared,
        message: &str,
    ) -> Result<(Option<Commit>, IndexRefresh)> {
        let Prepared {
            entries,
            skip_unchanged,
            built,
        } = prepared;
        let (commit, refresh) = self.commit_inner(&entries, message, skip_unchanged, built)?;
        if commit.is_none() && !skip_unchanged {
            return Err(no_commit());
        }
        Ok((commit, refresh))
    }

    /// Waits for the user's index entries of a commit's paths ([`IndexRefresh`]), setting
    /// them again (waiting out another git's `index.lock`) if that failed.
    pub(crate) fn refreshed(&self, refresh: IndexRefresh) -> Result<()> {
        let IndexRefresh { child, records } = refresh;
        let Some(records) = records else {
            return Ok(());
        };
        let done = child.is_some_and(|c| c.wait_with_output().is_ok_and(|o| o.status.success()));
        if !done {
            self.set_entries(&records)?;
        }
        Ok(())
    }

    /// Builds the commit of `entries` on `branch`'s tip in `index`: its previous commit and
    /// the new one (`None`: with `skip_unchanged`, the tip's tree already holds them).
    fn build(
        &self,
        branch: &str,
        entries: &Entries,
        index: &mut CommitIndex,
        message: &str,
        skip_unchanged: bool,
    ) -> Result<(Option<String>, Option<String>)> {
        let old = self.branch_tip(branch)?;
        // The shared index already holds the tip's tree when the last commit was ours: then
        // only the touched paths are updated in it (no `read-tree` of the whole tree).
        if old.is_none() || index.tip != old {
            let _ = std::fs::remove_file(&index.path);
            let base = old.as_deref().unwrap_or("--empty");
            self.git(
                "building the commit",
                &["read-tree", base],
                Some(&index.path),
            )?;
        }
        index.tip = None;
        let added = self.git_with_input(
            "building the commit",
            &["update-index", "-z", "--verbose", "--index-info"],
            Some(&index.path),
            entries.lines.as_bytes(),
        )?;
        check_all_added("building the commit", &added, &entries.written)?;
        let tree = self.git("building the commit", &["write-tree"], Some(&index.path))?;
        if skip_unchanged
            && let Some(old) = &old
            && self.git(
                "building the commit",
                &["rev-parse", &format!("{old}^{{tree}}")],
                None,
            )? == tree
        {
            return Ok((Some(old.clone()), None));
        }
        let mut args = vec!["commit-tree", tree.as_str(), "-m", message];
        if let Some(old) = &old {
            args.extend(["-p", old.as_str()]);
        }
        let new = self.git("creating the commit", &args, None)?;
        Ok((old, Some(new)))
    }

    /// Moves `branch` from `old` to `new` (a compare-and-swap): `false` when another commit
    /// landed meanwhile. A ref lock another git process holds (as `git commit` does for a
    /// moment) is waited out for up to [`LOCK_WAIT`].
    fn publish(&self, branch: &str, old: Option<&str>, new: &str, message: &str) -> Result<bool> {
        let started = Instant::now();
        for attempt in 0.. {
            let moved = Self::output(
                "moving the branch",
                self.command(None).args([
                    "update-ref",
                    "-m",
                    &format!("codedb: {message}"),
                    branch,
                    new,
                    old.unwrap_or_default(),
                ]),
            )?;
            if moved.status.success() {
                return Ok(true);
            }
            if self.branch_tip(branch)?.as_deref() != old {
                return Ok(false);
            }
            if !(lock_busy(&moved.stderr) && started.elapsed() < LOCK_WAIT) {
                // Not a race: a real failure.
                check("moving the branch", moved)?;
                break;
            }
            back_off(attempt);
        }
        Ok(false)
    }

    /// Locks `branch` at its tip (a `git update-ref --stdin` transaction prepared with
    /// `verify` and left open): no other git moves it until [`stage_update`] releases it.
    /// A second session, to stage the update the moment the lock is released, is started
    /// meanwhile.
    ///
    /// [`stage_update`]: Self::stage_update
    fn hold_branch(&self, branch: &str, message: &str) -> Result<Locked<HeldBranch>> {
        let tip = self.branch_tip(branch)?;
        let Some(mut lock) = self.ref_session(None) else {
            return Ok(Locked::Unavailable);
        };
        let asked = lock.send(&format!(
            "start\nverify {branch} {}\nprepare\n",
            tip.as_deref().unwrap_or_default()
        ));
        let update = self.ref_session(Some(message));
        if asked && lock.answered("start: ok") && lock.answered("prepare: ok") {
            return Ok(Locked::Got(HeldBranch { lock, update }));
        }
        self.not_locked(lock, branch, tip.as_deref())
    }

    /// A `git update-ref --stdin` session; with `message`, its updates are logged as
    /// codedb's.
    fn ref_session(&self, message: Option<&str>) -> Option<RefSession> {
        let mut cmd = self.command(None);
        cmd.arg("update-ref");
        if let Some(message) = message {
            cmd.args(["-m", &format!("codedb: {message}")]);
        }
        RefSession::start(cmd.arg("--stdin"))
    }

    /// Why `session` did not lock `branch` at `tip`: another git holds it or it moved (try
    /// again), or this git cannot (what it said is logged).
    fn not_locked<T>(
        &self,
        session: RefSession,
        branch: &str,
        tip: Option<&str>,
    ) -> Result<Locked<T>> {
        let stderr = session.end();
        if lock_busy(&stderr) || self.branch_tip(branch)?.as_deref() != tip {
            return Ok(Locked::Busy);
        }
        tracing::debug!(stderr = %String::from_utf8_lossy(&stderr), "git cannot lock the branch in a transaction");
        Ok(Locked::Unavailable)
    }

    /// Prepares the update of `branch` from `old` to `new` in a `git update-ref --stdin`
    /// transaction, which locks the branch with it: committed by `commit` on the session,
    /// or aborted by dropping it. With `held`, its session is used, and its lock released
    /// only once the update is waiting for it (git retries a held ref lock for 100 ms).
    fn stage_update(
        &self,
        held: Option<HeldBranch>,
        branch: &str,
        old: Option<&str>,
        new: &str,
        message: &str,
    ) -> Result<Locked<RefSession>> {
        let (lock, update) = match held {
            Some(HeldBranch { lock, update }) => (Some(lock), update),
            None => (None, None),
        };
        let Some(mut update) = update.or_else(|| self.ref_session(Some(message))) else {
            return Ok(Locked::Unavailable);
        };
        let asked = update.send(&format!(
            "start\nupdate {branch} {new} {}\nprepare\n",
            old.unwrap_or_default()
        ));
        if let Some(lock) = lock {
            lock.release();
        }
        if asked && update.answered("start: ok") && update.answered("prepare: ok") {
            return Ok(Locked::Got(update));
        }
        self.not_locked(update, branch, old)
    }

    /// [`publish`](Self::publish) of a commit, `new` `None` (nothing to publish) being
    /// `false`.
    fn publish_now(
        &self,
        branch: &str,
        old: &Option<String>,
        new: &Option<String>,
        message: &str,
    ) -> Result<bool> {
        match new {
            Some(new) => self.publish(branch, old.as_deref(), new, message),
            None => Ok(false),
        }
    }

    fn commit_inner(
        &self,
        entries: &Entries,
        message: &str,
        skip_unchanged: bool,
        built: Option<Built>,
    ) -> Result<(Option<Commit>, IndexRefresh)> {
        // After the commit point a refusal changes nothing any more: it fails the commit.
        let branch = self.preflight().map_err(|e| match e {
            CommandError::GitRefused(message) => CommandError::Git {
                step: "moving the branch".into(),
                message,
            },
            e => e,
        })?;
        let mut index = None;
        let mut prebuilt = built.filter(|b| b.branch == branch).map(|b| {
            index = Some(b.index);
            (b.old, b.new)
        });
        let mut placed = false;
        let records = entries.lines.as_str();
        let (result, user_index) = std::thread::scope(|scope| {
            // The user's index is locked and its copy made on a thread while this one holds the
            // branch (each is a git process or two).
            let mut locking = Some(scope.spawn(|| self.lock_user_index(records)));
            let mut user_index = None;
            let result = (|| {
                let index = index.get_or_insert_with(|| self.commit_index());
                let started = Instant::now();
                for attempt in 0.. {
                    // What was built ahead (while the branch is still where it was built on),
                    // or built again now with the branch held (a committer faster than a build
                    // would otherwise win every race).
                    let attempt_at = match prebuilt.take() {
                        Some((old, new)) => Some((old, new, None)),
                        None => match self.hold_branch(&branch, message)? {
                            Locked::Got(held) => {
                                let (old, new) =
                                    self.build(&branch, entries, index, message, skip_unchanged)?;
                                Some((old, new, Some(held)))
                            }
                            Locked::Busy => None,
                            Locked::Unavailable => {
                                let (old, new) =
                                    self.build(&branch, entries, index, message, skip_unchanged)?;
                                Some((old, new, None))
                            }
                        },
                    };
                    let (old, new, staged) = match attempt_at {
                        None => (None, None, Locked::Busy),
                        // Nothing to commit: the tip already holds it, if it is still there.
                        Some((old, None, held)) => {
                            if held.is_some() || self.branch_tip(&branch)? == old {
                                return Ok(None);
                            }
                            (old, None, Locked::Busy)
                        }
                        Some((old, Some(new), held)) => {
                            let staged =
                                self.stage_update(held, &branch, old.as_deref(), &new, message)?;
                            (old, Some(new), staged)
                        }
                    };
                    let committed = match staged {
                        // The branch locked with the update prepared: the user's index is put
                        // in place, then the update committed. A `git commit` of the user's
                        // that read the branch before cannot move it (its compare-and-swap
                        // fails); one that reads it after reads the new index too.
                        Locked::Got(mut update) => {
                            if let Some(locking) = locking.take() {
                                user_index = locking.join().ok().flatten();
                            }
                            placed |= user_index.take().is_some_and(|u| u.finish(true));
                            (update.send("commit\n") && update.answered("commit: ok"))
                                || self.publish_now(&branch, &old, &new, message)?
                        }
                        Locked::Busy => false,
                        // A git without ref transactions: a plain compare-and-swap.
                        Locked::Unavailable => self.publish_now(&branch, &old, &new, message)?,
                    };
                    if committed && let Some(new) = new {
                        return Ok(Some(Commit {
                            branch: branch.clone(),
                            old,
                            new,
                        }));
                    }
                    // Another commit landed meanwhile (or holds the branch): again on the new
                    // tip, after a moment of a random length.
                    if started.elapsed() >= BRANCH_WAIT {
                        return Err(CommandError::Git {
                            step: "moving the branch".into(),
                            message: format!(
                                "the branch kept moving under concurrent commits ({} attempts in {} s)",
                                attempt + 1,
                                BRANCH_WAIT.as_secs()
                            ),
                        });
                    }
                    back_off(attempt);
                }
                unreachable!("the loop returns")
            })();
            if let Some(locking) = locking.take() {
                user_index = locking.join().ok().flatten();
            }
            (result, user_index)
        });
        if let (Some(index), Ok(Some(commit))) = (&index, &result) {
            index.holds(&commit.new);
        }
        drop(index);
        if let Some(unused) = user_index {
            placed |= unused.finish(result.is_ok());
        }
        let commit = result?;
        let refresh = if placed {
            IndexRefresh {
                child: None,
                records: None,
            }
        } else {
            // Not locked: set now that the branch holds the commit (set before, a `git
            // commit` of the user's landing in between would take this command's change
            // into the user's commit).
            IndexRefresh {
                child: self.spawn_set_entries(&entries.lines),
                records: Some(entries.lines.clone()),
            }
        };
        Ok((commit, refresh))
    }

    /// The user's index locked as git itself locks it (`index.lock`, created exclusively,
    /// waiting out another git's for a moment; marked with this process's id), and a private
    /// copy of it given the commit's entries: [`UserIndexUpdate::finish`] puts it in place
    /// while the branch is held, just before it moves. `None` when there is no index yet or
    /// its lock stays taken: the entries are then set after the branch moved.
    fn lock_user_index(&self, records: &str) -> Option<UserIndexUpdate> {
        use std::io::Write;
        let index = self.git_dir.join("index");
        let lock = self.git_dir.join("index.lock");
        if !index.exists() {
            return None;
        }
        let mut file = None;
        for attempt in 0..40 {
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&lock)
            {
                Ok(f) => {
                    file = Some(f);
                    break;
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    if attempt == 0 {
                        self.remove_stale_index_lock();
                    } else {
                        back_off(attempt.min(5));
                    }
                }
                Err(_) => return None,
            }
        }
        // The lock says whose it is, so that one a killed command left can be told from
        // another git's and removed (`clean_private_indexes`). The updated index is made in
        // a private copy, put in place by a rename.
        let mut update = UserIndexUpdate {
            lock: file.is_some().then(|| lock.clone()),
            private: None,
            index: index.clone(),
        };
        writeln!(file?, "{INDEX_LOCK_MARK}{}", std::process::id()).ok()?;
        let private = self.git_dir.join(format!(
            "codedb-index-{}-{}",
            std::process::id(),
            INDEX_COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        update.private = Some(private.clone());
        std::fs::copy(&index, &private).ok()?;
        // With the index's own time: git tells an entry written in the same moment as its
        // file ("racily clean") by comparing with it, and a copy made now would pass a file
        // changed since for unchanged.
        let modified = std::fs::metadata(&index).and_then(|m| m.modified()).ok()?;
        std::fs::OpenOptions::new()
            .write(true)
            .open(&private)
            .and_then(|f| f.set_modified(modified))
            .ok()?;
        let mut child = self
            .command(Some(&private))
            .args(["update-index", "-z", "--index-info"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .ok()?;
        let written = child
            .stdin
            .take()
            .is_some_and(|mut stdin| stdin.write_all(records.as_bytes()).is_ok());
        // Set before the branch moves, so that the index is put in place the moment after:
        // a `git commit` that reads the branch and then the index in between (git's own
        // commits leave the same moment to each other) finds it as short as it can be.
        let set = child.wait_with_output().is_ok_and(|o| o.status.success());
        (written && set).then_some(update)
    }

    /// Removes the user's `index.lock` when a codedb process that is gone left it.
    fn remove_stale_index_lock(&self) {
        let lock = self.git_dir.join("index.lock");
        let Ok(text) = std::fs::read_to_string(&lock) else {
            return;
        };
        let pid = text
            .strip_prefix(INDEX_LOCK_MARK)
            .and_then(|p| p.trim().parse::<u32>().ok());
        if pid.is_some_and(|p| p != std::process::id() && !process_alive(p)) {
            let _ = std::fs::remove_file(&lock);
        }
    }

    /// The `update-index -z --index-info` records of `changes`: each written path's bytes
    /// stored as a blob (with the path's attributes applied, as `git add` would), each removed
    /// path as mode 0. NUL-terminated, so that git takes every path as it is: in
    /// newline-terminated records a name holding a newline would read as two records, and
    /// one starting with `"` as a quoted other name.
    fn index_entries(&self, changes: &[Change<'_>]) -> Result<String> {
        let mut lines = String::new();
        for change in changes {
            let path = self.top_path(change.path);
            match &change.content {
                Some(blob) => {
                    let sha = self.git_with_input(
                        "storing the content",
                        &["hash-object", "-w", "--stdin", &format!("--path={path}")],
                        None,
                        blob.bytes,
                    )?;
                    let mode = if blob.executable { "100755" } else { "100644" };
                    lines.push_str(&format!("{mode} {sha}\t{path}\0"));
                }
                None => {
                    lines.push_str(&format!("0 {}\t{path}\0", "0".repeat(40)));
                }
            }
        }
        Ok(lines)
    }

    fn spawn_set_entries(&self, entries: &str) -> Option<std::process::Child> {
        use std::io::Write;
        let mut child = self
            .command(None)
            .args(["update-index", "-z", "--index-info"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .ok()?;
        let mut stdin = child.stdin.take()?;
        stdin.write_all(entries.as_bytes()).ok()?;
        drop(stdin);
        Some(child)
    }

    /// Sets the user's index entries to `entries` (what was committed), waiting out another
    /// git process's `index.lock` for a while.
    fn set_entries(&self, entries: &str) -> Result<()> {
        let mut last = None;
        for attempt in 0..60u64 {
            match self.git_with_input(
                "updating the index",
                &["update-index", "-z", "--index-info"],
                None,
                entries.as_bytes(),
            ) {
                Ok(_) => return Ok(()),
                Err(e) => {
                    let lock_busy = matches!(&e, CommandError::Git { message, .. } if message.contains("index.lock"));
                    if !lock_busy {
                        return Err(e);
                    }
                    last = Some(e);
                    std::thread::sleep(std::time::Duration::from_millis(5 + attempt * 5));
                }
            }
        }
        Err(last.unwrap_or_else(|| CommandError::Git {
            step: "updating the index".into(),
            message: "index.lock stayed taken".into(),
        }))
    }

    /// Runs git with `args`, `input` on its stdin; its trimmed stdout, or an error with its
    /// stderr.
    fn git_with_input(
        &self,
        step: &str,
        args: &[&str],
        index: Option<&Path>,
        input: &[u8],
    ) -> Result<String> {
        use std::io::Write;
        let failed = |e: std::io::Error| CommandError::Git {
            step: step.to_owned(),
            message: format!("cannot run git: {e}"),
        };
        let mut child = self
            .command(index)
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .map_err(failed)?;
        if let Some(mut stdin) = child.stdin.take() {
            // A git that exits early closes its end; its exit status says why.
            let _ = stdin.write_all(input);
        }
        check(step, child.wait_with_output().map_err(failed)?)
    }

    /// Of `paths` (relative to the project root), those whose work-tree content differs
    /// from the branch's commit or the index (`git status`, without taking locks).
    pub(crate) fn dirty(&self, paths: &[String]) -> Result<Vec<String>> {
        if paths.is_empty() {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        for chunk in paths.chunks(500) {
            let mut cmd = self.command(None);
            cmd.env("GIT_OPTIONAL_LOCKS", "0")
                .args([
                    "status",
                    "--porcelain=v1",
                    "-z",
                    "--untracked-files=all",
                    "--",
                ])
                .args(chunk.iter().map(|p| self.top_path(p)));
            let output = Self::output("reading the status", &mut cmd)?;
            if !output.status.success() {
                check("reading the status", output)?;
                continue;
            }
            // Not trimmed: each entry starts with its two status letters, which may be a
            // space (` M path`).
            let text = String::from_utf8_lossy(&output.stdout);
            for entry in text.split('\0').filter(|e| e.len() > 3) {
                let path = &entry[3..];
                if let Some(rel) = path.strip_prefix(&self.prefix)
                    && !out.iter().any(|p: &String| p == rel)
                {
                    out.push(rel.to_owned());
                }
            }
        }
        Ok(out)
    }

    /// Removes private index files a killed command left in the git directory.
    pub(crate) fn clean_private_indexes(&self) {
        self.remove_stale_index_lock();
        if let Ok(entries) = std::fs::read_dir(&self.git_dir) {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if let Some(rest) = name.strip_prefix("codedb-index-") {
                    let pid = rest.split('-').next().and_then(|p| p.parse::<u32>().ok());
                    if pid.is_some_and(|p| p != std::process::id() && !process_alive(p)) {
                        let _ = std::fs::remove_file(e.path());
                    }
                }
            }
        }
    }
}

/// The variables that point git at another repository, object store or index (`git
/// rev-parse --local-env-vars`): removed from every git codedb runs.
const LOCAL_ENV_VARS: &[&str] = &[
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_CONFIG",
    "GIT_CONFIG_PARAMETERS",
    "GIT_CONFIG_COUNT",
    "GIT_OBJECT_DIRECTORY",
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_IMPLICIT_WORK_TREE",
    "GIT_GRAFT_FILE",
    "GIT_INDEX_FILE",
    "GIT_NO_REPLACE_OBJECTS",
    "GIT_REPLACE_REF_BASE",
    "GIT_PREFIX",
    "GIT_SHALLOW_FILE",
    "GIT_COMMON_DIR",
    "GIT_INTERNAL_SUPER_PREFIX",
];

/// `git`, without the variables of [`LOCAL_ENV_VARS`].
fn clean_git() -> Command {
    let mut cmd = Command::new("git");
    for var in LOCAL_ENV_VARS {
        cmd.env_remove(var);
    }
    cmd
}

/// Whether a process with this id exists (Linux: `/proc/<pid>`; elsewhere assumed alive).
fn process_alive(pid: u32) -> bool {
    if cfg!(target_os = "linux") {
        Path::new(&format!("/proc/{pid}")).exists()
    } else {
        true
    }
}

/// Fails unless `update-index --verbose` said `add '<path>'` for each of `top_paths` (the
/// paths written): a path git refuses to track is left out with only a warning ("Ignoring
/// path"), and its commit would silently miss it.
///
/// With the `failpoints` feature, `git-leaves-out` makes git leave out the first path (no
/// path git refuses on Linux gets past [`crate::gitpath::git_refuses`]).
fn check_all_added(step: &str, verbose: &str, top_paths: &[String]) -> Result<()> {
    // git reports each path it adds, in order, as `add '<path>'` (the path as it is): the
    // report must start with that of every written path, in order, so that no name can pass
    // for another. (`verbose` comes trimmed.)
    let reported = format!("{verbose}\n");
    let mut at = 0;
    #[allow(unused_mut)]
    let mut left_out = None;
    for p in top_paths {
        let line = format!("add '{p}'\n");
        if reported[at..].starts_with(&line) {
            at += line.len();
        } else {
            left_out = Some(p);
            break;
        }
    }
    #[cfg(feature = "failpoints")]
    if fail::eval("git-leaves-out", |_| ()).is_some() {
        left_out = top_paths.first();
    }
    match left_out {
        None => Ok(()),
        Some(p) => Err(CommandError::Git {
            step: step.into(),
            message: format!("git leaves {p} out of the commit (a path git refuses to track)"),
        }),
    }
}

fn check(step: &str, out: Output) -> Result<String> {
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    } else {
        let stderr = String::from_utf8_lossy(&out.stderr);
        Err(CommandError::Git {
            step: step.to_owned(),
            message: stderr.trim().lines().collect::<Vec<_>>().join("; "),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A new repository on branch `main` with an identity, and its `Git`.
    fn repository() -> (tempfile::TempDir, PathBuf, Git) {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        git(&root, &["init", "-q", "-b", "main"]);
        git(&root, &["config", "user.email", "t@example.com"]);
        git(&root, &["config", "user.name", "t"]);
        let repo = Git::discover(&root).unwrap().unwrap();
        (dir, root, repo)
    }

    /// Publishes what `prepare` built, the user's index entries set too.
    fn publish(repo: &Git, prepared: Prepared, message: &str) -> Option<Commit> {
        let (commit, refresh) = repo.commit_prepared(prepared, message).unwrap();
        repo.refreshed(refresh).unwrap();
        commit
    }

    fn git(root: &Path, args: &[&str]) {
        let out = Command::new("git")
            .current_dir(root)
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    #[test]
    fn a_path_git_leaves_out_fails_the_commit_before_the_branch_moves() {
        let (_dir, root, repo) = repository();
        std::fs::write(root.join("ok.py"), "x = 1\n").unwrap();
        let write = |path| Change {
            path,
            content: Some(Blob {
                bytes: b"x = 1\n",
                executable: false,
            }),
        };
        let commit =
            |changes: &[Change<'_>], message| repo.commit_entries(&repo.entries(changes)?, message);
        let first = commit(&[write("ok.py")], "first").unwrap();
        let err = commit(&[write("ok.py"), write(".GIT/x.py")], "second").unwrap_err();
        assert!(err.to_string().contains("leaves .GIT/x.py out"), "{err}");
        assert_eq!(
            repo.branch_tip("refs/heads/main").unwrap(),
            Some(first.new.clone())
        );
        // Built before the commit point, in a private index; what it built is what the
        // commit then publishes.
        let prepared = repo
            .prepare(&[write("ok.py"), write("new/y.py")], "second", false)
            .unwrap();
        let err = repo
            .prepare(&[write("ok.py"), write(".GIT/x.py")], "third", false)
            .unwrap_err();
        assert!(err.to_string().contains("leaves .GIT/x.py out"), "{err}");
        assert_eq!(
            repo.branch_tip("refs/heads/main").unwrap(),
            Some(first.new.clone()),
            "preparing moves nothing"
        );
        let second = publish(&repo, prepared, "second").unwrap();
        let tree = std::process::Command::new("git")
            .current_dir(&root)
            .args(["ls-tree", "-r", "--name-only", &second.new])
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&tree.stdout), "new/y.py\nok.py\n");
        assert_eq!(second.old, Some(first.new));
        let scratch: Vec<String> = std::fs::read_dir(root.join(".git"))
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("codedb-index-"))
            .collect();
        assert!(scratch.is_empty(), "{scratch:?}");
    }

    #[test]
    fn a_commit_built_ahead_is_built_again_on_the_tip_when_the_branch_moved_meanwhile() {
        let (_dir, root, repo) = repository();
        let write = |path, bytes| Change {
            path,
            content: Some(Blob {
                bytes,
                executable: false,
            }),
        };
        let tree_of = |commit: &str| {
            let out = Command::new("git")
                .current_dir(&root)
                .args(["ls-tree", "-r", "--name-only", commit])
                .output()
                .unwrap();
            String::from_utf8_lossy(&out.stdout).into_owned()
        };
        let first = repo
            .commit_entries(&repo.entries(&[write("a.py", b"a = 1\n")]).unwrap(), "a")
            .unwrap();

        // Another program commits while the command runs: the commit built ahead is not
        // published over it (the compare-and-swap fails) but built again on its commit.
        let prepared = repo
            .prepare(&[write("b.py", b"b = 1\n")], "b", false)
            .unwrap();
        std::fs::write(root.join("c.py"), "c = 1\n").unwrap();
        git(&root, &["add", "c.py"]);
        git(&root, &["commit", "-q", "-m", "c"]);
        let theirs = repo.branch_tip("refs/heads/main").unwrap().unwrap();
        assert_ne!(theirs, first.new);
        let ours = publish(&repo, prepared, "b").unwrap();
        assert_eq!(ours.old.as_deref(), Some(theirs.as_str()));
        assert_eq!(tree_of(&ours.new), "a.py\nb.py\nc.py\n");

        // Bytes the tip already holds make no commit; unless the branch moved meanwhile to
        // a commit that no longer holds them.
        let same = repo
            .prepare(&[write("a.py", b"a = 1\n")], "sync", true)
            .unwrap();
        assert_eq!(publish(&repo, same, "sync"), None);
        let same = repo
            .prepare(&[write("a.py", b"a = 1\n")], "sync", true)
            .unwrap();
        std::fs::write(root.join("a.py"), "a = 2\n").unwrap();
        git(&root, &["commit", "-q", "-am", "a2"]);
        let synced = publish(&repo, same, "sync").unwrap();
        let shown = Command::new("git")
            .current_dir(&root)
            .args(["show", &format!("{}:a.py", synced.new)])
            .output()
            .unwrap();
        assert_eq!(shown.stdout, b"a = 1\n");
    }
}
