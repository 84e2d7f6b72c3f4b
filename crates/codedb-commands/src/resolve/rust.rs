//! Rust specs resolved against the project.

use codedb_core::store::{ResolvedRef, SymbolicRef};

use super::{Deps, FileEntry, Project, by_name};

pub(crate) fn resolve(
    project: &dyn Project,
    _file: &FileEntry,
    refs: Vec<SymbolicRef>,
    _deps: &mut Deps,
) -> Vec<ResolvedRef> {
    refs.into_iter()
        .map(|symbolic| ResolvedRef {
            resolution: by_name(project, "rust", &symbolic.name),
            symbolic,
        })
        .collect()
}

/// Other paths a lookup of this file may have recorded.
pub(crate) fn path_keys(_path: &str) -> Vec<String> {
    Vec::new()
}
