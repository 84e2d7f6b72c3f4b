//! What the write commands record besides the index: file backups (`file_backups`: which
//! bytes, by sha256, a file had before a command changed it), the log of commands that
//! landed (`commands`), and moving a file row so that its entities keep their ids.
//!
//! Rows are written inside the command's own transaction, so they exist exactly when the
//! command landed: a rolled-back command leaves no backup row and no log row. The bytes
//! themselves live outside the database (codedb-commands keeps them under `.codedb/`).

use codedb_driver::params;
use serde::Serialize;

use crate::error::Result;
use crate::executor::Executor;

/// One file backup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileBackup {
    /// Row id: what `restore --backup` takes.
    pub id: i64,
    /// The file, relative to the project root.
    pub path: String,
    /// sha256 of the bytes the file had before the command.
    pub sha256: String,
    /// Their size.
    pub size: i64,
    /// The command that took it (its journal id).
    pub command_id: String,
    /// `edit`, `delete`, ...
    pub command: String,
    /// Unix milliseconds.
    pub created_at: i64,
}

/// One write command that landed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CommandRecord {
    /// Its journal id.
    pub id: String,
    /// `edit`, `replace_symbol`, `insert_symbol`, `delete_symbol`, `create`, `delete`, `move`,
    /// `restore`, `rename`.
    pub kind: String,
    /// The paths it changed.
    pub paths: Vec<String>,
    /// Its message (the git commit message).
    pub message: String,
    /// The commit it made, when the project is a git repository.
    pub git_commit: Option<String>,
    /// Unix milliseconds.
    pub created_at: i64,
}

/// The history tables, for every [`Executor`] (the database or a transaction).
pub trait HistoryStore: Executor + Sized {
    /// Records a backup of `path`'s previous bytes; returns its id.
    fn add_file_backup(&self, project_id: i64, backup: &FileBackup) -> Result<i64> {
        let rows = self.query(
            "INSERT INTO file_backups(project_id, path, sha256, size, command_id, command, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) RETURNING id",
            params![
                project_id,
                backup.path.as_str(),
                backup.sha256.as_str(),
                backup.size,
                backup.command_id.as_str(),
                backup.command.as_str(),
                backup.created_at
            ],
        )?;
        rows.scalar().map_err(Into::into)
    }

    /// The backups of `path`, newest first.
    fn file_backups(&self, project_id: i64, path: &str) -> Result<Vec<FileBackup>> {
        backups(
            self,
            "WHERE project_id = ?1 AND path = ?2",
            params![project_id, path],
        )
    }

    /// The backup with this id, if it belongs to the project.
    fn file_backup(&self, project_id: i64, id: i64) -> Result<Option<FileBackup>> {
        Ok(backups(
            self,
            "WHERE project_id = ?1 AND id = ?2",
            params![project_id, id],
        )?
        .pop())
    }

    /// Whether the command `command_id` landed (has its log row).
    fn command_landed(&self, command_id: &str) -> Result<bool> {
        let n: i64 = self.query_scalar(
            "SELECT count(*) FROM commands WHERE id = ?1",
            params![command_id],
        )?;
        Ok(n > 0)
    }

    /// Logs a command that is landing (call inside its transaction).
    fn record_command(&self, project_id: i64, command: &CommandRecord) -> Result<()> {
        let paths = serde_json::to_string(&command.paths).unwrap_or_else(|_| "[]".into());
        self.execute(
            "INSERT INTO commands(id, project_id, kind, paths, message, git_commit, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                command.id.as_str(),
                project_id,
                command.kind.as_str(),
                paths,
                command.message.as_str(),
                command.git_commit.clone(),
                command.created_at
            ],
        )?;
        Ok(())
    }

    /// Records the git commit that command `command_id` made (when none is recorded yet).
    fn set_command_git_commit(&self, command_id: &str, commit: &str) -> Result<()> {
        self.execute(
            "UPDATE commands SET git_commit = ?2 WHERE id = ?1 AND git_commit IS NULL",
            params![command_id, commit],
        )?;
        Ok(())
    }

    /// Every path a landed command changed, once each.
    fn commanded_paths(&self, project_id: i64) -> Result<Vec<String>> {
        let sql = format!(
            "SELECT DISTINCT j.value FROM commands c, {} WHERE c.project_id = ?1 ORDER BY 1",
            self.dialect().json_strings("c.paths")
        );
        let rows = self.query(&sql, params![project_id])?;
        rows.iter().map(|r| r.get(0).map_err(Into::into)).collect()
    }

    /// Deletes all but the newest `keep` backups of `path`; returns the sha256 of each
    /// removed backup that no row of the project references any more (its bytes, kept in
    /// the project's own store, can go; another project's rows name its own copy).
    fn prune_file_backups(&self, project_id: i64, path: &str, keep: usize) -> Result<Vec<String>> {
        let old = backups(
            self,
            "WHERE project_id = ?1 AND path = ?2",
            params![project_id, path],
        )?;
        let mut freed = Vec::new();
        for b in old.into_iter().skip(keep) {
            self.execute("DELETE FROM file_backups WHERE id = ?1", params![b.id])?;
            if !self.backup_referenced(project_id, &b.sha256)? {
                freed.push(b.sha256);
            }
        }
        Ok(freed)
    }

    /// Whether a backup row of project `project_id` references the bytes `sha256`. Each
    /// project keeps its backups' bytes in its own store, so a row of another project with
    /// the same sha256 says nothing about this project's copy.
    fn backup_referenced(&self, project_id: i64, sha256: &str) -> Result<bool> {
        let n: i64 = self.query_scalar(
            "SELECT count(*) FROM file_backups WHERE project_id = ?1 AND sha256 = ?2",
            params![project_id, sha256],
        )?;
        Ok(n > 0)
    }

    /// Moves the row of file `file_id` to `new_path`, keeping its id and so the ids of
    /// everything derived from it. A soft-deleted row already at `new_path` is removed
    /// first; a live one is an error (the caller checks).
    fn move_file(&self, project_id: i64, file_id: i64, new_path: &str) -> Result<()> {
        self.atomic(|tx| {
            tx.execute(
                "DELETE FROM files WHERE project_id = ?1 AND path = ?2 AND deleted = 1",
                params![project_id, new_path],
            )?;
            tx.execute(
                "UPDATE files SET path = ?2 WHERE id = ?1",
                params![file_id, new_path],
            )?;
            Ok(())
        })
    }
}

impl<E: Executor> HistoryStore for E {}

fn backups(
    ex: &impl Executor,
    filter: &str,
    args: Vec<codedb_driver::Value>,
) -> Result<Vec<FileBackup>> {
    let rows = ex.query(
        &format!(
            "SELECT id, path, sha256, size, command_id, command, created_at FROM file_backups \
             {filter} ORDER BY created_at DESC, id DESC"
        ),
        args,
    )?;
    rows.iter()
        .map(|r| {
            Ok(FileBackup {
                id: r.get(0)?,
                path: r.get(1)?,
                sha256: r.get(2)?,
                size: r.get(3)?,
                command_id: r.get(4)?,
                command: r.get(5)?,
                created_at: r.get(6)?,
            })
        })
        .collect()
}
