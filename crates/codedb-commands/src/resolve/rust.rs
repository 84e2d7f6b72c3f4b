//! Rust specs (notation: `lang::rust_refs`) resolved against the project.
//!
//! A path is walked segment by segment from a position: a module (a file and an inline
//! module in it), a definition, or an external crate's item. `crate` is the crate root (the
//! nearest `lib.rs` or `main.rs` in the file's directory or above it), `self` the current
//! module, `super` its parent (the enclosing inline module, else the file that declares
//! this one: `mod.rs`, `lib.rs`, `main.rs` in the directory above, or `dir.rs` beside it).
//! A name in a module is, in order: its definition there, its `use` binding (followed),
//! its inline module, its file module (`name.rs` or `name/mod.rs` in the module's
//! directory), or what one of its glob imports names. A first segment found nowhere and
//! spelled like a crate (lowercase, with more segments after it) is an external path
//! (`std::fmt::Display`). A name after a type is its associated function or method: in the
//! type's own file, else in the impl blocks of that type in other files (their impl's path
//! resolved back to the same type; one unproved candidate is `inferred`). Methods called
//! on `self` are `inferred`; anything unprovable falls back to the last name: `name` or
//! `ambiguous`.

use std::collections::HashSet;

use codedb_core::store::{Confidence, EntityKind, Resolution, ResolvedRef, SymbolicRef};

use super::{Deps, FileEntry, Project, by_name};

const LANGUAGE: &str = "rust";

/// Steps one spec may take before it gives up.
const BUDGET: usize = 256;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Pos {
    /// A file and an inline module path in it (`""`: the file's own module).
    Module(i64, String),
    Def(i64, String, EntityKind),
    External(String),
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

/// Other paths a lookup of this file may have recorded (none: lookups record the paths
/// they try, which [`super::keys_of`] gives every file).
pub(crate) fn path_keys(_path: &str) -> Vec<String> {
    Vec::new()
}

fn dir_of(path: &str) -> &str {
    path.rfind('/').map_or("", |i| &path[..i])
}

fn base_of(path: &str) -> &str {
    path.rfind('/').map_or(path, |i| &path[i + 1..])
}

fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_owned()
    } else {
        format!("{dir}/{name}")
    }
}

fn qual(module: &str, name: &str) -> String {
    if module.is_empty() {
        name.to_owned()
    } else {
        format!("{module}::{name}")
    }
}

/// A spec's parts: inferred mark, module, path segments.
fn parse(spec: &str) -> Option<(bool, &str, Vec<&str>)> {
    let (inferred, spec) = match spec.strip_prefix('~') {
        Some(rest) => (true, rest),
        None => (false, spec),
    };
    let rest = spec.strip_prefix("P:")?;
    let (module, path) = rest.split_once('|')?;
    let segs: Vec<&str> = path.split("::").filter(|s| !s.is_empty()).collect();
    (!segs.is_empty()).then_some((inferred, module, segs))
}

impl Walk<'_> {
    fn spend(&mut self) -> bool {
        if self.budget == 0 {
            return false;
        }
        self.budget -= 1;
        true
    }

    fn reference(&mut self, file: i64, spec: &str) -> Option<Resolution> {
        if let Some(name) = spec.strip_prefix("N:|") {
            return by_name(self.project, LANGUAGE, name);
        }
        let (inferred, module, segs) = parse(spec)?;
        self.inferred = inferred;
        let pos = self.walk(file, module, &segs);
        let confidence = if self.inferred {
            Confidence::Inferred
        } else {
            Confidence::Exact
        };
        let found = |file: Option<i64>, name: String| {
            Some(Resolution {
                confidence,
                target_file: file,
                target_name: Some(name),
            })
        };
        match pos {
            Pos::Def(f, q, _) => found(Some(f), q),
            Pos::Module(f, m) if m.is_empty() => found(Some(f), String::new()),
            Pos::Module(..) => None,
            Pos::External(x) => found(None, x),
            Pos::Unknown => {
                let last = *segs.last()?;
                if matches!(last, "self" | "super" | "crate") {
                    return None;
                }
                by_name(self.project, LANGUAGE, last)
            }
        }
    }

    fn walk(&mut self, file: i64, module: &str, segs: &[&str]) -> Pos {
        let Some((first, rest)) = segs.split_first() else {
            return Pos::Unknown;
        };
        let mut pos = match *first {
            "crate" => self
                .crate_root(file)
                .map_or(Pos::Unknown, |r| Pos::Module(r, String::new())),
            "self" => Pos::Module(file, module.to_owned()),
            "super" => self.parent(file, module),
            name => {
                let p = self.in_module(file, module, name);
                let crate_like = name.starts_with(|c: char| c.is_ascii_lowercase());
                if p == Pos::Unknown && !rest.is_empty() && crate_like {
                    Pos::External(name.to_owned())
                } else {
                    p
                }
            }
        };
        for seg in rest {
            if pos == Pos::Unknown || !self.spend() {
                return Pos::Unknown;
            }
            pos = self.step(pos, seg);
        }
        pos
    }

    fn step(&mut self, pos: Pos, seg: &str) -> Pos {
        match pos {
            Pos::Module(f, m) => match seg {
                "super" => self.parent(f, &m),
                "self" => Pos::Module(f, m),
                _ => self.in_module(f, &m, seg),
            },
            Pos::Def(f, q, EntityKind::Class) => self.type_member(f, &q, seg),
            Pos::External(x) => Pos::External(format!("{x}::{seg}")),
            _ => Pos::Unknown,
        }
    }

    fn path_of(&self, file: i64) -> Option<String> {
        self.project.files().get(file).map(|f| f.path.clone())
    }

    /// The first of `paths` that is a live file (each recorded as looked at).
    fn first_file(&mut self, paths: &[String]) -> Option<i64> {
        for p in paths {
            self.deps.path(p);
            if let Some(f) = self.project.files().at(p) {
                return Some(f.id);
            }
        }
        None
    }

    /// The crate root of `file`: the nearest `lib.rs` or `main.rs` at or above its
    /// directory.
    fn crate_root(&mut self, file: i64) -> Option<i64> {
        let path = self.path_of(file)?;
        let mut dir = dir_of(&path).to_owned();
        loop {
            let found = self.first_file(&[join(&dir, "lib.rs"), join(&dir, "main.rs")]);
            if found.is_some() {
                return found;
            }
            if dir.is_empty() {
                return None;
            }
            dir = dir_of(&dir).to_owned();
        }
    }

    /// The parent of module `module` of `file`.
    fn parent(&mut self, file: i64, module: &str) -> Pos {
        if !module.is_empty() {
            let parent = module.rsplit_once("::").map_or("", |(p, _)| p);
            return Pos::Module(file, parent.to_owned());
        }
        let Some(path) = self.path_of(file) else {
            return Pos::Unknown;
        };
        let name = base_of(&path);
        if matches!(name, "lib.rs" | "main.rs") {
            return Pos::Unknown;
        }
        let dir = dir_of(&path);
        let parent_dir = if name == "mod.rs" { dir_of(dir) } else { dir };
        let mut candidates = vec![
            join(parent_dir, "mod.rs"),
            join(parent_dir, "lib.rs"),
            join(parent_dir, "main.rs"),
        ];
        if !parent_dir.is_empty() {
            candidates.push(format!("{parent_dir}.rs"));
        }
        self.first_file(&candidates)
            .map_or(Pos::Unknown, |f| Pos::Module(f, String::new()))
    }

    /// The directory the file modules of `module` of `file` live in.
    fn module_dir(&self, file: i64, module: &str) -> Option<String> {
        let path = self.path_of(file)?;
        let name = base_of(&path);
        let dir = dir_of(&path);
        let mut base = if matches!(name, "lib.rs" | "main.rs" | "mod.rs") {
            dir.to_owned()
        } else {
            join(dir, name.strip_suffix(".rs").unwrap_or(name))
        };
        for part in module.split("::").filter(|p| !p.is_empty()) {
            base = join(&base, part);
        }
        Some(base)
    }

    /// The spec `spec` of a binding of `file`, walked.
    fn binding(&mut self, file: i64, spec: &str) -> Pos {
        match parse(spec) {
            Some((_, module, segs)) => {
                let module = module.to_owned();
                let segs: Vec<String> = segs.into_iter().map(str::to_owned).collect();
                let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
                self.walk(file, &module, &segs)
            }
            None => Pos::Unknown,
        }
    }

    /// `name` in module `module` of `file`.
    fn in_module(&mut self, file: i64, module: &str, name: &str) -> Pos {
        if !self.spend() {
            return Pos::Unknown;
        }
        self.deps.file(file);
        let q = qual(module, name);
        if let Some(kind) = self.project.defs(file).by_qual.get(&q) {
            return Pos::Def(file, q, *kind);
        }
        let bindings = self.project.bindings(file);
        let specs: Vec<String> = bindings.get(module, name).to_vec();
        if specs.iter().any(|s| s == "mod") {
            return Pos::Module(file, q);
        }
        for spec in &specs {
            let key = (file, module.to_owned(), name.to_owned());
            if !self.following.insert(key.clone()) {
                continue;
            }
            let pos = self.binding(file, spec);
            self.following.remove(&key);
            if pos != Pos::Unknown {
                return pos;
            }
        }
        if let Some(dir) = self.module_dir(file, module) {
            let candidates = [
                join(&dir, &format!("{name}.rs")),
                join(&dir, &format!("{name}/mod.rs")),
            ];
            if let Some(f) = self.first_file(&candidates) {
                return Pos::Module(f, String::new());
            }
        }
        let globs: Vec<String> = bindings.get(module, "*").to_vec();
        for spec in &globs {
            let key = (file, module.to_owned(), format!("*{spec}"));
            if !self.following.insert(key.clone()) {
                continue;
            }
            let pos = match self.binding(file, spec) {
                Pos::Module(gf, gm) => self.in_module(gf, &gm, name),
                _ => Pos::Unknown,
            };
            self.following.remove(&key);
            if pos != Pos::Unknown {
                return pos;
            }
        }
        Pos::Unknown
    }

    /// `name` on the type `q` of `file`: its associated function or method.
    fn type_member(&mut self, file: i64, q: &str, name: &str) -> Pos {
        self.deps.file(file);
        let own = format!("{q}::{name}");
        if let Some(kind) = self.project.defs(file).by_qual.get(&own) {
            return Pos::Def(file, own, *kind);
        }
        let ty = q.rsplit("::").next().unwrap_or(q);
        let suffix = format!("::{name}");
        let candidates: Vec<(i64, String, EntityKind)> = self
            .project
            .named(LANGUAGE, name)
            .iter()
            .filter(|d| {
                d.qualified_name
                    .strip_suffix(&suffix)
                    .is_some_and(|t| t.rsplit("::").next() == Some(ty))
            })
            .map(|d| (d.file_id, d.qualified_name.clone(), d.kind))
            .collect();
        let target = Pos::Def(file, q.to_owned(), EntityKind::Class);
        for (cf, cq, kind) in &candidates {
            self.deps.file(*cf);
            let impl_name = cq.strip_suffix(&suffix).unwrap_or(cq).to_owned();
            let specs: Vec<String> = self.project.bindings(*cf).get("impl", &impl_name).to_vec();
            for spec in specs {
                let key = (*cf, "impl".to_owned(), impl_name.clone());
                if !self.following.insert(key.clone()) {
                    continue;
                }
                let pos = self.binding(*cf, &spec);
                self.following.remove(&key);
                if pos == target {
                    return Pos::Def(*cf, cq.clone(), *kind);
                }
            }
        }
        if let [(cf, cq, kind)] = candidates.as_slice() {
            self.inferred = true;
            return Pos::Def(*cf, cq.clone(), *kind);
        }
        self.trait_default(file, &target, name)
            .unwrap_or(Pos::Unknown)
    }

    /// `Type::m` where `m` is a default method of a trait the type implements (`impl
    /// Trait for Type`, looked for in the type's file and the trait's): that method.
    fn trait_default(&mut self, file: i64, target: &Pos, name: &str) -> Option<Pos> {
        let suffix = format!("::{name}");
        let provided: Vec<(i64, String, EntityKind)> = self
            .project
            .named(LANGUAGE, name)
            .iter()
            .filter(|d| d.qualified_name.ends_with(&suffix))
            .map(|d| (d.file_id, d.qualified_name.clone(), d.kind))
            .collect();
        for (tf, tq, kind) in provided {
            let owner = tq.strip_suffix(&suffix).unwrap_or(&tq).to_owned();
            let wanted = Pos::Def(tf, owner, EntityKind::Class);
            let mut files = vec![file];
            if tf != file {
                files.push(tf);
            }
            for f in files {
                self.deps.file(f);
                let bindings = self.project.bindings(f);
                let Some(traits) = bindings.by_owner.get("trait") else {
                    continue;
                };
                for (impl_name, specs) in traits {
                    for spec in specs {
                        if !self.spend() {
                            return None;
                        }
                        let key = (f, "trait".to_owned(), impl_name.clone());
                        if !self.following.insert(key.clone()) {
                            continue;
                        }
                        let is_trait = self.binding(f, spec) == wanted;
                        let is_type = is_trait
                            && bindings
                                .get("impl", impl_name)
                                .iter()
                                .any(|ty| self.binding(f, ty) == *target);
                        self.following.remove(&key);
                        if is_type {
                            return Some(Pos::Def(tf, tq, kind));
                        }
                    }
                }
            }
        }
        None
    }
}
