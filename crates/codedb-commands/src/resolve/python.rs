//! Python specs (notation: `lang::python_refs`) resolved against the project: modules
//! found by dotted name (from the top of each file's package chain) or relative to the
//! file, module members through definitions, re-exported imports, star imports (honouring
//! `__all__`) and submodules, class members through the class, its attributes and its
//! bases in order, calls through a class (an instance) or a declared return type.
//!
//! A spec whose walk breaks before its last name (an unknown value) falls back to that name:
//! `name` or `ambiguous`. A walk that ends on a data attribute or an instance names no
//! definition and yields nothing.

use std::collections::{HashMap, HashSet};

use codedb_core::store::{Confidence, EntityKind, Resolution, ResolvedRef, SymbolicRef};

use super::{Deps, FileEntry, Project, by_name};

const LANGUAGE: &str = "python";

/// Steps one spec may take (members, calls, bindings followed) before it gives up.
const BUDGET: usize = 256;

fn is_python(path: &str) -> bool {
    path.ends_with(".py") || path.ends_with(".pyi")
}

/// The directory of `path` (`""` at the root).
fn dir_of(path: &str) -> &str {
    path.rfind('/').map_or("", |i| &path[..i])
}

fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_owned()
    } else {
        format!("{dir}/{name}")
    }
}

/// A module's dotted parts from its path: `a/b/c.py` -> `[a, b, c]`, `a/b/__init__.py` ->
/// `[a, b]`.
fn parts(path: &str) -> Vec<&str> {
    let stem = path
        .strip_suffix(".pyi")
        .or_else(|| path.strip_suffix(".py"))
        .unwrap_or(path);
    let mut parts: Vec<&str> = stem.split('/').filter(|p| !p.is_empty()).collect();
    if parts.last() == Some(&"__init__") {
        parts.pop();
    }
    parts
}

/// The dotted names a Python file is imported by: from the directory above its topmost
/// package (the chain of directories with an `__init__`), and from the project root.
pub(crate) fn module_names(path: &str, is_package: impl Fn(&str) -> bool) -> Vec<String> {
    let parts = parts(path);
    if parts.is_empty() {
        return Vec::new();
    }
    let is_init = path.ends_with("__init__.py") || path.ends_with("__init__.pyi");
    // The directories that hold the module are `parts[..k]` for k up to this (a package's
    // own directory included).
    let held_by = if is_init {
        parts.len()
    } else {
        parts.len() - 1
    };
    let mut top = held_by;
    while top > 0 && is_package(&parts[..top].join("/")) {
        top -= 1;
    }
    let mut out = vec![parts[top..].join(".")];
    let full = parts.join(".");
    if !out.contains(&full) {
        out.push(full);
    }
    out.retain(|m| !m.is_empty());
    out
}

/// Dotted module name -> the Python files it may name (indexes into `files`).
pub(crate) fn module_map(files: &[FileEntry]) -> HashMap<String, Vec<usize>> {
    let packages: HashSet<&str> = files
        .iter()
        .filter(|f| f.path.ends_with("/__init__.py") || f.path.ends_with("/__init__.pyi"))
        .map(|f| dir_of(&f.path))
        .collect();
    let mut out: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, f) in files.iter().enumerate() {
        if f.language.as_deref() != Some(LANGUAGE) || !is_python(&f.path) {
            continue;
        }
        for name in module_names(&f.path, |d| packages.contains(d)) {
            out.entry(name).or_default().push(i);
        }
    }
    out
}

/// Every dotted suffix a file could be imported by (for dependency keys: what another
/// file's lookup may have recorded).
pub(crate) fn module_suffixes(path: &str) -> Vec<String> {
    let parts = parts(path);
    (0..parts.len()).map(|i| parts[i..].join(".")).collect()
}

/// What a spec's walk has reached.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Val {
    Module(i64),
    ExtModule(String),
    Def(i64, String, EntityKind),
    Instance(i64, String),
    External(String),
    /// `super()` in a method of this class: its bases.
    Super(i64, String),
    /// A known attribute whose value is unknown.
    Data,
    Unknown,
}

struct Walk<'a> {
    project: &'a dyn Project,
    deps: &'a mut Deps,
    budget: usize,
    inferred: bool,
    /// Bindings being followed (file, owner, name): a cycle stops.
    following: HashSet<(i64, String, String)>,
}

/// A spec split: inferred mark, root, path.
fn split(spec: &str) -> (bool, &str, Vec<&str>) {
    let (inferred, spec) = match spec.strip_prefix('~') {
        Some(rest) => (true, rest),
        None => (false, spec),
    };
    let (root, path) = spec.split_once('|').unwrap_or((spec, ""));
    let path = if path.is_empty() {
        Vec::new()
    } else {
        path.split('.').collect()
    };
    (inferred, root, path)
}

pub(crate) fn resolve(
    project: &dyn Project,
    file: &FileEntry,
    refs: Vec<SymbolicRef>,
    deps: &mut Deps,
) -> Vec<ResolvedRef> {
    super::resolve_each(refs, |spec| {
        Walk {
            project,
            deps: &mut *deps,
            budget: BUDGET,
            inferred: false,
            following: HashSet::new(),
        }
        .reference(file.id, spec)
    })
}

impl Walk<'_> {
    fn spend(&mut self) -> bool {
        if self.budget == 0 {
            return false;
        }
        self.budget -= 1;
        true
    }

    /// What the reference `spec` in `file` names.
    fn reference(&mut self, file: i64, spec: &str) -> Option<Resolution> {
        let (inferred, root, path) = split(spec);
        self.inferred = inferred;
        let mut v = self.root(file, root);
        let mut broke = false;
        for seg in &path {
            if v == Val::Unknown {
                broke = true;
                break;
            }
            v = self.step(v, seg);
        }
        let confidence = if self.inferred {
            Confidence::Inferred
        } else {
            Confidence::Exact
        };
        let found = |target_file: Option<i64>, target_name: String| {
            Some(Resolution {
                confidence,
                target_file,
                target_name: Some(target_name),
            })
        };
        match v {
            _ if broke => self.fallback(root, &path),
            Val::Module(m) => found(Some(m), String::new()),
            Val::Def(f, q, _) => found(Some(f), q),
            Val::ExtModule(x) | Val::External(x) => found(None, x),
            Val::Instance(..) | Val::Super(..) | Val::Data => None,
            Val::Unknown => self.fallback(root, &path),
        }
    }

    /// The answer by the last name of the spec when its walk broke.
    fn fallback(&mut self, root: &str, path: &[&str]) -> Option<Resolution> {
        let name = match path.last() {
            Some(&"()") => return None,
            Some(name) => *name,
            None => root.strip_prefix("G:")?,
        };
        if root.starts_with("I:") || root.starts_with("R:") {
            // An import names a module or a member of one: no other definition.
            if path.len() <= 1 {
                return None;
            }
        }
        by_name(self.project, LANGUAGE, name)
    }

    fn step(&mut self, v: Val, seg: &str) -> Val {
        if !self.spend() {
            return Val::Unknown;
        }
        if seg == "()" {
            self.call(v)
        } else {
            self.member(v, seg)
        }
    }

    /// The value a binding's spec names, read in `file`.
    fn value(&mut self, file: i64, spec: &str) -> Val {
        let (inferred, root, path) = split(spec);
        if inferred {
            self.inferred = true;
        }
        let mut v = self.root(file, root);
        for seg in path {
            if v == Val::Unknown {
                return v;
            }
            v = self.step(v, seg);
        }
        v
    }

    fn root(&mut self, file: i64, root: &str) -> Val {
        if let Some(q) = root.strip_prefix("D:") {
            return match self.project.defs(file).by_qual.get(q) {
                Some(kind) => Val::Def(file, q.to_owned(), *kind),
                None => Val::Unknown,
            };
        }
        if let Some(dotted) = root.strip_prefix("I:") {
            return self.import(file, dotted);
        }
        if let Some(rel) = root.strip_prefix("R:") {
            return self.relative(file, rel);
        }
        if let Some(q) = root.strip_prefix("P:") {
            return Val::Super(file, q.to_owned());
        }
        if let Some(name) = root.strip_prefix("G:") {
            return self.global(file, name);
        }
        Val::Unknown
    }

    /// The project file of module `dotted`, the nearest to `from` when several are.
    fn module_file(&mut self, from: i64, dotted: &str) -> Option<i64> {
        self.deps.module(dotted);
        let files = self.project.files();
        let found = files.python_modules.get(dotted)?;
        let from_dir = files.get(from).map_or("", |f| dir_of(&f.path)).to_owned();
        let best = found.iter().map(|i| &files.all[*i]).max_by_key(|f| {
            let common = f
                .path
                .split('/')
                .zip(from_dir.split('/'))
                .take_while(|(a, b)| a == b)
                .count();
            // `.py` before `.pyi`, then the nearest, then a package before a module of the
            // same name (as Python's finder), then the first by path.
            (
                f.path.ends_with(".py"),
                common,
                f.path.ends_with("/__init__.py"),
                std::cmp::Reverse(f.path.clone()),
            )
        })?;
        Some(best.id)
    }

    fn import(&mut self, file: i64, dotted: &str) -> Val {
        if let Some(m) = self.module_file(file, dotted) {
            return Val::Module(m);
        }
        let parts: Vec<&str> = dotted.split('.').collect();
        for k in (1..parts.len()).rev() {
            if let Some(m) = self.module_file(file, &parts[..k].join(".")) {
                let mut v = Val::Module(m);
                for p in &parts[k..] {
                    v = self.step(v, p);
                }
                return v;
            }
        }
        Val::ExtModule(dotted.to_owned())
    }

    fn relative(&mut self, file: i64, rel: &str) -> Val {
        let Some(path) = self.project.files().get(file).map(|f| f.path.clone()) else {
            return Val::Unknown;
        };
        let dots = rel.chars().take_while(|c| *c == '.').count();
        let rest = &rel[dots..];
        let mut dir = dir_of(&path).to_owned();
        // Each dot climbs one package; a file at the root is in none, so `from . import x`
        // there (or too many dots anywhere) is beyond the top-level package: an ImportError.
        if dir.split('/').filter(|c| !c.is_empty()).count() < dots {
            return Val::Unknown;
        }
        for _ in 1..dots {
            dir = dir_of(&dir).to_owned();
        }
        let target = if rest.is_empty() {
            dir
        } else {
            join(&dir, &rest.replace('.', "/"))
        };
        let candidates = if rest.is_empty() {
            vec![join(&target, "__init__.py"), join(&target, "__init__.pyi")]
        } else {
            // A package and a module of one name: the package wins, as in Python's finder.
            vec![
                join(&target, "__init__.py"),
                format!("{target}.py"),
                join(&target, "__init__.pyi"),
                format!("{target}.pyi"),
            ]
        };
        self.first_file(&candidates)
            .map_or(Val::Unknown, Val::Module)
    }

    /// The first of `paths` that is a live file (each one recorded as looked at).
    fn first_file(&mut self, paths: &[String]) -> Option<i64> {
        for p in paths {
            self.deps.path(p);
            if let Some(f) = self.project.files().at(p) {
                return Some(f.id);
            }
        }
        None
    }

    /// A name `file` uses but does not bind: its star imports.
    fn global(&mut self, file: i64, name: &str) -> Val {
        let stars: Vec<String> = self.project.bindings(file).get("", "*").to_vec();
        let mut external = Vec::new();
        for star in stars.iter().rev() {
            match self.value(file, star) {
                Val::Module(m) if self.exports(m, name) => {
                    let v = self.module_member(m, name);
                    if v != Val::Unknown {
                        return v;
                    }
                }
                Val::ExtModule(x) => external.push(x),
                _ => {}
            }
        }
        if let [one] = external.as_slice() {
            self.inferred = true;
            return Val::External(format!("{one}.{name}"));
        }
        Val::Unknown
    }

    /// Whether module `m` gives `name` to a star import.
    fn exports(&mut self, m: i64, name: &str) -> bool {
        let bindings = self.project.bindings(m);
        let all = bindings.get("", "__all__");
        if all.is_empty() {
            return !name.starts_with('_');
        }
        all.iter().any(|spec| {
            spec.strip_prefix("A:")
                .is_some_and(|list| list.split(',').any(|n| n == name))
        })
    }

    fn member(&mut self, v: Val, name: &str) -> Val {
        match v {
            Val::Module(m) => self.module_member(m, name),
            Val::ExtModule(x) | Val::External(x) => Val::External(format!("{x}.{name}")),
            Val::Def(f, q, EntityKind::Class) | Val::Instance(f, q) => {
                let mut seen = HashSet::new();
                self.class_member(f, &q, name, &mut seen)
            }
            Val::Super(f, q) => {
                let mut seen = HashSet::from([(f, q.clone())]);
                self.base_member(f, &q, name, &mut seen)
            }
            _ => Val::Unknown,
        }
    }

    fn module_member(&mut self, m: i64, name: &str) -> Val {
        self.deps.file(m);
        if let Some(kind) = self.project.defs(m).by_qual.get(name) {
            return Val::Def(m, name.to_owned(), *kind);
        }
        let bindings = self.project.bindings(m);
        if let Some(spec) = bindings.get("", name).last().cloned() {
            let key = (m, String::new(), name.to_owned());
            if self.following.insert(key.clone()) {
                let v = self.value(m, &spec);
                self.following.remove(&key);
                return v;
            }
            return Val::Unknown;
        }
        let stars: Vec<String> = bindings.get("", "*").to_vec();
        let mut external = Vec::new();
        for star in stars.iter().rev() {
            let key = (m, "*".to_owned(), star.clone());
            if !self.following.insert(key.clone()) {
                continue;
            }
            let sv = self.value(m, star);
            let v = match sv {
                Val::Module(sm) if self.exports(sm, name) => self.module_member(sm, name),
                Val::ExtModule(x) => {
                    external.push(x);
                    Val::Unknown
                }
                _ => Val::Unknown,
            };
            self.following.remove(&key);
            if v != Val::Unknown {
                return v;
            }
        }
        // A submodule of a package.
        let path = self.project.files().get(m).map(|f| f.path.clone());
        if let Some(path) = path
            && (path.ends_with("__init__.py") || path.ends_with("__init__.pyi"))
        {
            let dir = dir_of(&path).to_owned();
            let target = join(&dir, name);
            let candidates = [
                format!("{target}.py"),
                join(&target, "__init__.py"),
                format!("{target}.pyi"),
                join(&target, "__init__.pyi"),
            ];
            if let Some(sub) = self.first_file(&candidates) {
                return Val::Module(sub);
            }
        }
        if let [one] = external.as_slice() {
            self.inferred = true;
            return Val::External(format!("{one}.{name}"));
        }
        Val::Unknown
    }

    /// `name` on class `q` of file `f` or an instance of it: its own definitions, its
    /// attributes, then its bases in order.
    fn class_member(
        &mut self,
        f: i64,
        q: &str,
        name: &str,
        seen: &mut HashSet<(i64, String)>,
    ) -> Val {
        if !self.spend() || !seen.insert((f, q.to_owned())) {
            return Val::Unknown;
        }
        self.deps.file(f);
        let qual = format!("{q}.{name}");
        if let Some(kind) = self.project.defs(f).by_qual.get(&qual) {
            return Val::Def(f, qual, *kind);
        }
        let bindings = self.project.bindings(f);
        if let Some(spec) = bindings.get(q, name).last().cloned() {
            let key = (f, q.to_owned(), name.to_owned());
            if !self.following.insert(key.clone()) {
                return Val::Data;
            }
            let v = self.value(f, &spec);
            self.following.remove(&key);
            return match v {
                Val::Unknown => Val::Data,
                v => v,
            };
        }
        self.base_member(f, q, name, seen)
    }

    /// `name` on the bases of class `q` of file `f`, in order.
    fn base_member(
        &mut self,
        f: i64,
        q: &str,
        name: &str,
        seen: &mut HashSet<(i64, String)>,
    ) -> Val {
        self.deps.file(f);
        let bases: Vec<String> = self.project.bindings(f).get(q, "^").to_vec();
        let mut external = None;
        for base in bases.iter().filter(|b| *b != "?") {
            match self.value(f, base) {
                Val::Def(bf, bq, EntityKind::Class) => {
                    let v = self.class_member(bf, &bq, name, seen);
                    if v != Val::Unknown {
                        return v;
                    }
                }
                Val::External(x) | Val::ExtModule(x) => {
                    external.get_or_insert(x);
                }
                _ => {}
            }
        }
        match external {
            Some(x) => {
                self.inferred = true;
                Val::External(format!("{x}.{name}"))
            }
            None => Val::Unknown,
        }
    }

    fn call(&mut self, v: Val) -> Val {
        match v {
            Val::Def(f, q, EntityKind::Class) => Val::Instance(f, q),
            Val::Def(f, q, _) => {
                self.deps.file(f);
                let Some(spec) = self.project.bindings(f).get(&q, "->").first().cloned() else {
                    return Val::Unknown;
                };
                let key = (f, q.clone(), "->".to_owned());
                if !self.following.insert(key.clone()) {
                    return Val::Unknown;
                }
                self.inferred = true;
                let v = self.value(f, &spec);
                self.following.remove(&key);
                v
            }
            Val::Super(f, q) => Val::Super(f, q),
            _ => Val::Unknown,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_names_start_above_the_topmost_package() {
        let packages = ["src/pkg", "src/pkg/sub"];
        let is_package = |d: &str| packages.contains(&d);
        assert_eq!(
            module_names("src/pkg/sub/mod.py", is_package),
            ["pkg.sub.mod", "src.pkg.sub.mod"]
        );
        assert_eq!(
            module_names("src/pkg/__init__.py", is_package),
            ["pkg", "src.pkg"]
        );
        assert_eq!(module_names("setup.py", is_package), ["setup"]);
        assert_eq!(
            module_names("tests/test_x.py", is_package),
            ["test_x", "tests.test_x"]
        );
        assert_eq!(module_suffixes("a/b/c.py"), ["a.b.c", "b.c", "c"]);
    }
}
