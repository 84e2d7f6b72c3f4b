//! `.codedb/`, codedb's state directory in a project, and the `.gitignore` holding `*` that
//! codedb keeps in it so that the user's `git status` never shows it (as other tools do with
//! their caches). The user's own files are never touched: the ignore file lives inside
//! codedb's folder, and one that exists is left as it is.

use std::io::Write;
use std::path::Path;

/// The state directory's name.
pub const STATE_DIR: &str = ".codedb";

/// Creates `dir` (and its parents) when missing; when it is a `.codedb` directory, also its
/// `.gitignore` (`*`) when that is missing.
pub fn create_state_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    if dir.file_name().is_some_and(|n| n == STATE_DIR) {
        let ignore = dir.join(".gitignore");
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&ignore)
        {
            Ok(mut f) => f.write_all(b"# codedb's state: never committed\n*\n")?,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
