//! Git, through the `git` command line (a real implementation, never hand-written objects).
//!
//! A command commits only the files it touched, exactly as it wrote them, without disturbing
//! anything else the user has staged or changed: the bytes are stored as blobs
//! (`hash-object -w`, with the path's attributes), the commit is built in a private index
//! (`GIT_INDEX_FILE` under the git directory) from the branch's current commit plus those
//! entries (`update-index --index-info`), written with `write-tree` / `commit-tree`, and
//! published with `update-ref <branch> <new> <old>`, a compare-and-swap: a concurrent commit
//! makes it fail, and it is retried on the new tip. The user's index entries of exactly
//! those paths are set to what was committed. Nothing is read back from the work tree, where
//! another program may have written since.
//!
//! A command builds its commit ahead of its commit point ([`Git::prepare`], on a thread while
//! it backs up and writes): the blobs are stored, the tree is made in the private index (where
//! git must take every written path, so that what git refuses refuses the command while it
//! can be undone) and the commit object is written. After the commit point only the ref is
//! left to move (and the commit built again should the branch have moved meanwhile).
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
        self.commit_inner(entries, message, false, None)?
            .ok_or_else(no_commit)
    }

    /// [`commit_entries`](Self::commit_entries) of `changes`, or `None` when the branch's tree
    /// already holds them (no empty commit is made).
    pub(crate) fn commit_if_changed(
        &self,
        changes: &[Change<'_>],
        message: &str,
    ) -> Result<Option<Commit>> {
        self.commit_inner(&self.entries(changes)?, message, true, None)
    }

    /// Publishes what [`prepare`](Self::prepare) built (`None` when it made no commit because
    /// the tip already held the changes); built again on the new tip when the branch moved
    /// since.
    pub(crate) fn commit_prepared(
        &self,
        prepared: Prepared,
        message: &str,
    ) -> Result<Option<Commit>> {
        let Prepared {
            entries,
            skip_unchanged,
            built,
        } = prepared;
        let commit = self.commit_inner(&entries, message, skip_unchanged, built)?;
        if commit.is_none() && !skip_unchanged {
            return Err(no_commit());
        }
        Ok(commit)
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
            &["update-index", "--verbose", "--index-info"],
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
    /// landed meanwhile.
    fn publish(&self, branch: &str, old: Option<&str>, new: &str, message: &str) -> Result<bool> {
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
        if self.branch_tip(branch)?.as_deref() == old {
            // Not a race: a real failure.
            check("moving the branch", moved)?;
        }
        Ok(false)
    }

    fn commit_inner(
        &self,
        entries: &Entries,
        message: &str,
        skip_unchanged: bool,
        built: Option<Built>,
    ) -> Result<Option<Commit>> {
        let branch = self.preflight()?;
        // The user's index entries of these paths are set to the same blobs in parallel
        // with publishing the commit (both are a git process; this machine has cores to
        // spare while one waits). They are what the command wrote, whether or not the commit
        // then succeeds; a commit left to `recover` finds them staged.
        let refresh = self.spawn_set_entries(&entries.lines);
        let mut index = None;
        let result = (|| {
            // Built ahead on this branch: published unless the branch moved since.
            if let Some(built) = built.filter(|b| b.branch == branch) {
                let Built {
                    old,
                    new,
                    index: built_index,
                    ..
                } = built;
                index = Some(built_index);
                match new {
                    None if self.branch_tip(&branch)? == old => return Ok(None),
                    Some(new) if self.publish(&branch, old.as_deref(), &new, message)? => {
                        return Ok(Some(Commit {
                            branch: branch.clone(),
                            old,
                            new,
                        }));
                    }
                    // The branch moved meanwhile.
                    _ => {}
                }
            }
            let index = index.get_or_insert_with(|| self.commit_index());
            for _attempt in 0..20 {
                let (old, new) = self.build(&branch, entries, index, message, skip_unchanged)?;
                let Some(new) = new else { return Ok(None) };
                if self.publish(&branch, old.as_deref(), &new, message)? {
                    return Ok(Some(Commit {
                        branch: branch.clone(),
                        old,
                        new,
                    }));
                }
                // Another commit landed meanwhile: build again on the new tip.
            }
            Err(CommandError::Git {
                step: "moving the branch".into(),
                message: "the branch kept moving under concurrent commits (20 attempts)".into(),
            })
        })();
        if let (Some(index), Ok(Some(commit))) = (&index, &result) {
            index.holds(&commit.new);
        }
        drop(index);
        let refreshed =
            refresh.is_some_and(|child| child.wait_with_output().is_ok_and(|o| o.status.success()));
        let commit = result?;
        if !refreshed {
            // Its index.lock was taken, or it could not start: again, waiting this time.
            self.set_entries(&entries.lines)?;
        }
        Ok(commit)
    }
    /// The `update-index --index-info` lines of `changes`: each written path's bytes stored
    /// as a blob (with the path's attributes applied, as `git add` would), each removed path
    /// as mode 0.
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
                    lines.push_str(&format!("{mode} {sha}\t{path}\n"));
                }
                None => {
                    lines.push_str(&format!("0 {}\t{path}\n", "0".repeat(40)));
                }
            }
        }
        Ok(lines)
    }

    fn spawn_set_entries(&self, entries: &str) -> Option<std::process::Child> {
        use std::io::Write;
        let mut child = self
            .command(None)
            .args(["update-index", "--index-info"])
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
                &["update-index", "--index-info"],
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
    let out = format!("{verbose}\n");
    #[allow(unused_mut)]
    let mut left_out = top_paths
        .iter()
        .find(|p| !out.contains(&format!("add '{p}'\n")));
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
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        git(&root, &["init", "-q", "-b", "main"]);
        git(&root, &["config", "user.email", "t@example.com"]);
        git(&root, &["config", "user.name", "t"]);
        std::fs::write(root.join("ok.py"), "x = 1\n").unwrap();
        let repo = Git::discover(&root).unwrap().unwrap();
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
        let second = repo.commit_prepared(prepared, "second").unwrap().unwrap();
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
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        git(&root, &["init", "-q", "-b", "main"]);
        git(&root, &["config", "user.email", "t@example.com"]);
        git(&root, &["config", "user.name", "t"]);
        let repo = Git::discover(&root).unwrap().unwrap();
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
        let ours = repo.commit_prepared(prepared, "b").unwrap().unwrap();
        assert_eq!(ours.old.as_deref(), Some(theirs.as_str()));
        assert_eq!(tree_of(&ours.new), "a.py\nb.py\nc.py\n");

        // Bytes the tip already holds make no commit; unless the branch moved meanwhile to
        // a commit that no longer holds them.
        let same = repo
            .prepare(&[write("a.py", b"a = 1\n")], "sync", true)
            .unwrap();
        assert_eq!(repo.commit_prepared(same, "sync").unwrap(), None);
        let same = repo
            .prepare(&[write("a.py", b"a = 1\n")], "sync", true)
            .unwrap();
        std::fs::write(root.join("a.py"), "a = 2\n").unwrap();
        git(&root, &["commit", "-q", "-am", "a2"]);
        let synced = repo.commit_prepared(same, "sync").unwrap().unwrap();
        let shown = Command::new("git")
            .current_dir(&root)
            .args(["show", &format!("{}:a.py", synced.new)])
            .output()
            .unwrap();
        assert_eq!(shown.stdout, b"a = 1\n");
    }
}
