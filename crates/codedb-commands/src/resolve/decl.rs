//! The declarative languages' specs (notation: `lang::decl_refs`) resolved against the
//! project.
//!
//! Modules, by each language's import system:
//! * TypeScript/TSX/JavaScript: a relative specifier (`./x`, `../y/z`) from the importing
//!   file's directory, as written, then with each extension (`.ts .tsx .d.ts .js .jsx .mjs
//!   .cjs .mts .cts`), then as a directory's `index` with each; a `.js` specifier also
//!   names the `.ts`/`.tsx` beside it. A bare specifier (`react`) is external.
//! * Go: an import path names the directory whose path is its suffix (the module's root at
//!   the project root or below it: `example.com/app/store` -> `store/` or `app/store/`),
//!   the longest such; none is external (`fmt`).
//! * Java: a package names the directories whose path ends with it (`com/acme/model`, so
//!   `src/main/java/com/acme/model` too); none is external (`java.util`).
//! * C/C++: `#include "x.h"` relative to the including file, then any project file whose
//!   path ends with `x.h` (the nearest); `<x.h>` the latter only; none is external.
//!
//! A member of a module is the definition of that qualified name in one of its files
//! (`exact`), following TypeScript/JavaScript re-exports (`export ... from`) and default
//! exports (`import A from './a'` names what `a` exports as `default`); a plain
//! name is the nearest enclosing definition's, then the package's (Go, Java: the same
//! directory), then the included headers' (C/C++); `this.x` is the class's (`inferred`).
//! Anything else falls back to the name: `name` or `ambiguous`.

use codedb_core::store::{Confidence, EntityKind, Resolution, ResolvedRef, SymbolicRef};

use super::{Deps, FileEntry, Files, Project, by_name};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    Ecma,
    Go,
    Java,
    C,
}

fn family(language: &str) -> Option<Family> {
    Some(match language {
        "typescript" | "tsx" | "javascript" => Family::Ecma,
        "go" => Family::Go,
        "java" => Family::Java,
        "c" | "cpp" => Family::C,
        _ => return None,
    })
}

/// How deep re-exports are followed.
const MAX_HOPS: usize = 16;

const ECMA_EXTENSIONS: &[&str] = &[
    ".ts", ".tsx", ".d.ts", ".js", ".jsx", ".mjs", ".cjs", ".mts", ".cts",
];

/// What a module specifier names.
#[derive(Debug, Clone)]
enum Module {
    /// Project files (a Go package or Java package may be several), sorted by path.
    Files(Vec<i64>),
    /// Outside the project, by this dotted name.
    External(String),
    /// Nothing found, nothing known.
    Unknown,
}

pub(crate) fn dir_of(path: &str) -> &str {
    path.rfind('/').map_or("", |i| &path[..i])
}

pub(crate) fn base_of(path: &str) -> &str {
    path.rfind('/').map_or(path, |i| &path[i + 1..])
}

/// `a/b/../c/./d` -> `a/c/d`; `None` when `..` leaves the root.
fn normalize(path: &str) -> Option<String> {
    let mut out: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                out.pop()?;
            }
            p => out.push(p),
        }
    }
    Some(out.join("/"))
}

fn join(dir: &str, rel: &str) -> String {
    if dir.is_empty() {
        rel.to_owned()
    } else {
        format!("{dir}/{rel}")
    }
}

struct Resolver<'a> {
    project: &'a dyn Project,
    file: &'a FileEntry,
    family: Family,
    language: &'a str,
    deps: &'a mut Deps,
    /// C/C++: the files this file includes; Java: the files of the packages it imports
    /// whole (`import p.*`).
    includes: Vec<i64>,
}

pub(crate) fn resolve(
    project: &dyn Project,
    file: &FileEntry,
    refs: Vec<SymbolicRef>,
    deps: &mut Deps,
) -> Vec<ResolvedRef> {
    let language = file.language.as_deref().unwrap_or("");
    let Some(family) = family(language) else {
        return refs
            .into_iter()
            .map(|symbolic| ResolvedRef {
                resolution: by_name(project, language, &symbolic.name),
                symbolic,
            })
            .collect();
    };
    let mut r = Resolver {
        project,
        file,
        family,
        language,
        deps,
        includes: Vec::new(),
    };
    let opened = match family {
        Family::C => "|",
        Family::Java => "|*",
        Family::Ecma | Family::Go => "",
    };
    if !opened.is_empty() {
        for s in &refs {
            if let Some(m) = s
                .spec
                .strip_prefix("M:")
                .and_then(|s| s.strip_suffix(opened))
                && !m.contains('|')
                && let Module::Files(files) = r.module(&file.path, m)
            {
                r.includes.extend(files);
            }
        }
    }
    refs.into_iter()
        .map(|symbolic| ResolvedRef {
            resolution: r.reference(&symbolic.spec),
            symbolic,
        })
        .collect()
}

fn found(confidence: Confidence, file: Option<i64>, name: String) -> Option<Resolution> {
    Some(Resolution {
        confidence,
        target_file: file,
        target_name: Some(name),
    })
}

impl Resolver<'_> {
    fn separator(&self) -> &'static str {
        if self.family == Family::C { "::" } else { "." }
    }

    fn fallback(&self, path: &str) -> Option<Resolution> {
        let sep = self.separator();
        let last = path.rsplit(['.']).next().unwrap_or(path);
        let last = last.rsplit(sep).next().unwrap_or(last);
        if last.is_empty() {
            return None;
        }
        by_name(self.project, self.language, last)
    }

    fn reference(&mut self, spec: &str) -> Option<Resolution> {
        let (root, path) = spec.split_once('|').unwrap_or((spec, ""));
        if let Some(module) = root.strip_prefix("M:") {
            let from = self.file.path.clone();
            return self.member_of_module(&from, module, path, 0);
        }
        if let Some(qual) = root.strip_prefix("L:") {
            return self.lexical(qual, path);
        }
        if let Some(class) = root.strip_prefix("C:") {
            let q = format!("{class}{}{path}", self.separator());
            if self.project.defs(self.file.id).by_qual.contains_key(&q) {
                return found(Confidence::Inferred, Some(self.file.id), q);
            }
            return self.fallback(path);
        }
        self.fallback(path)
    }

    /// `path` in the module `module` imported by the file at `from`.
    fn member_of_module(
        &mut self,
        from: &str,
        module: &str,
        path: &str,
        hops: usize,
    ) -> Option<Resolution> {
        match self.module(from, module) {
            Module::Files(files) => {
                // `M:p|*`: the package itself.
                if path.is_empty() || path == "*" {
                    return found(Confidence::Exact, files.first().copied(), String::new());
                }
                if let Some((f, q)) = self.in_files(&files, path, hops) {
                    return found(Confidence::Exact, Some(f), q);
                }
                self.fallback(path)
            }
            Module::External(x) => {
                let name = if path.is_empty() {
                    x
                } else {
                    format!("{x}.{path}")
                };
                found(Confidence::Exact, None, name)
            }
            Module::Unknown => {
                if path.is_empty() {
                    None
                } else {
                    self.fallback(path)
                }
            }
        }
    }

    /// The definition `path` (dotted) in one of `files`, through re-exports.
    fn in_files(&mut self, files: &[i64], path: &str, hops: usize) -> Option<(i64, String)> {
        let q = if self.family == Family::C {
            path.replace('.', "::")
        } else {
            path.to_owned()
        };
        for f in files {
            self.deps.file(*f);
            if self.project.defs(*f).by_qual.contains_key(&q) {
                return Some((*f, q));
            }
        }
        if self.family != Family::Ecma || hops >= MAX_HOPS {
            return None;
        }
        // Re-exports: `export {a} from './a'`, `export * from './a'`.
        let (first, rest) = path.split_once('.').unwrap_or((path, ""));
        for f in files {
            let Some(entry) = self.project.files().get(*f).cloned() else {
                continue;
            };
            let bindings = self.project.bindings(*f);
            let named: Vec<String> = bindings.get("", first).to_vec();
            let stars: Vec<String> = bindings.get("", "*").to_vec();
            for spec in named {
                // `export default A`: a definition of this same file.
                if let Some(local) = spec.strip_prefix("L:") {
                    let q = if rest.is_empty() {
                        local.to_owned()
                    } else {
                        format!("{local}.{rest}")
                    };
                    if self.project.defs(*f).by_qual.contains_key(&q) {
                        return Some((*f, q));
                    }
                    continue;
                }
                let Some((root, inner)) = spec.split_once('|') else {
                    continue;
                };
                let Some(module) = root.strip_prefix("M:") else {
                    continue;
                };
                let inner = if rest.is_empty() {
                    inner.to_owned()
                } else {
                    format!("{inner}.{rest}")
                };
                if let Module::Files(next) = self.module(&entry.path, module)
                    && let Some(hit) = self.in_files(&next, &inner, hops + 1)
                {
                    return Some(hit);
                }
            }
            for spec in stars {
                let Some(module) = spec.strip_prefix("M:").and_then(|s| s.strip_suffix('|')) else {
                    continue;
                };
                if let Module::Files(next) = self.module(&entry.path, module)
                    && let Some(hit) = self.in_files(&next, path, hops + 1)
                {
                    return Some(hit);
                }
            }
        }
        None
    }

    /// A plain name (`name` or `Name.member`) used inside `qual`.
    fn lexical(&mut self, qual: &str, path: &str) -> Option<Resolution> {
        let sep = self.separator();
        let (first, rest) = path.split_once('.').unwrap_or((path, ""));
        let own = self.project.defs(self.file.id);
        let parts: Vec<&str> = if qual.is_empty() {
            Vec::new()
        } else {
            qual.split(sep).collect()
        };
        let mut hit: Option<(i64, String)> = None;
        for k in (0..=parts.len()).rev() {
            let prefix = parts[..k].join(sep);
            // JavaScript and Go: a class's members are no lexical scope.
            if k > 0
                && matches!(self.family, Family::Ecma | Family::Go)
                && own.by_qual.get(&prefix) == Some(&EntityKind::Class)
            {
                continue;
            }
            // `User.User`, `A::A`: a constructor, not what the class's name means.
            if k > 0 && parts[k - 1] == first {
                continue;
            }
            let candidate = if prefix.is_empty() {
                first.to_owned()
            } else {
                format!("{prefix}{sep}{first}")
            };
            if own.by_qual.contains_key(&candidate) {
                hit = Some((self.file.id, candidate));
                break;
            }
        }
        if hit.is_none() {
            hit = match self.family {
                Family::Go => self.in_package(first),
                Family::Java => self
                    .in_package(first)
                    .or_else(|| self.in_opened_packages(first)),
                Family::C => {
                    let includes = self.includes.clone();
                    let suffix = format!("::{first}");
                    includes.into_iter().find_map(|f| {
                        self.deps.file(f);
                        let defs = self.project.defs(f);
                        if defs.by_qual.contains_key(first) {
                            return Some((f, first.to_owned()));
                        }
                        // In a namespace or class of the header: one such, or none.
                        let mut inner = defs.by_qual.keys().filter(|q| q.ends_with(&suffix));
                        match (inner.next(), inner.next()) {
                            (Some(q), None) => Some((f, q.clone())),
                            _ => None,
                        }
                    })
                }
                Family::Ecma => None,
            };
        }
        let Some((f, q)) = hit else {
            return self.fallback(path);
        };
        if rest.is_empty() {
            return found(Confidence::Exact, Some(f), q);
        }
        let member = format!("{q}{sep}{}", rest.replace('.', sep));
        if self.project.defs(f).by_qual.contains_key(&member) {
            return found(Confidence::Exact, Some(f), member);
        }
        self.fallback(path)
    }

    /// A top-level definition `name` in another file of this file's directory (Go's
    /// package, Java's).
    fn in_package(&mut self, name: &str) -> Option<(i64, String)> {
        let dir = dir_of(&self.file.path).to_owned();
        self.deps.keys.insert(format!("g:{dir}"));
        let files = self.project.files();
        let found: Vec<i64> = self
            .project
            .named(self.language, name)
            .iter()
            .filter(|d| {
                d.qualified_name == name
                    && d.file_id != self.file.id
                    && files.get(d.file_id).is_some_and(|f| dir_of(&f.path) == dir)
            })
            .map(|d| d.file_id)
            .collect();
        match found.as_slice() {
            [one] => {
                self.deps.file(*one);
                Some((*one, name.to_owned()))
            }
            _ => None,
        }
    }

    /// A class `name` of a package imported whole (`import p.*`): one such, or none
    /// (two would not compile).
    fn in_opened_packages(&mut self, name: &str) -> Option<(i64, String)> {
        let mut found = Vec::new();
        for f in self.includes.clone() {
            self.deps.file(f);
            if self.project.defs(f).by_qual.contains_key(name) {
                found.push(f);
            }
        }
        match found.as_slice() {
            [one] => Some((*one, name.to_owned())),
            _ => None,
        }
    }

    /// What the module specifier `module`, written in the file at `from`, names.
    fn module(&mut self, from: &str, module: &str) -> Module {
        match self.family {
            Family::Ecma => self.ecma_module(from, module),
            Family::Go => self.package_dirs(module, '/'),
            Family::Java => {
                if module.is_empty() {
                    Module::Unknown
                } else {
                    self.package_dirs(module, '.')
                }
            }
            Family::C => self.include(from, module),
        }
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

    fn ecma_module(&mut self, from: &str, module: &str) -> Module {
        if !module.starts_with('.') {
            return if module.starts_with('/') || module.is_empty() {
                Module::Unknown
            } else {
                Module::External(module.to_owned())
            };
        }
        let Some(base) = normalize(&join(dir_of(from), module)) else {
            return Module::Unknown;
        };
        let mut candidates = vec![base.clone()];
        for ext in [".js", ".jsx", ".mjs", ".cjs"] {
            if let Some(stem) = base.strip_suffix(ext) {
                for ts in [".ts", ".tsx", ".mts", ".cts"] {
                    candidates.push(format!("{stem}{ts}"));
                }
            }
        }
        for ext in ECMA_EXTENSIONS {
            candidates.push(format!("{base}{ext}"));
        }
        for ext in ECMA_EXTENSIONS {
            candidates.push(join(&base, &format!("index{ext}")));
        }
        match self.first_file(&candidates) {
            Some(f) => Module::Files(vec![f]),
            None => Module::Unknown,
        }
    }

    /// Go's import path (`/`) or Java's package (`.`): the directories whose path ends
    /// with it, the longest match.
    fn package_dirs(&mut self, module: &str, sep: char) -> Module {
        let wanted: Vec<&str> = module.split(sep).filter(|p| !p.is_empty()).collect();
        let Some(last) = wanted.last() else {
            return Module::Unknown;
        };
        self.deps.keys.insert(format!("d:{last}"));
        let files: &Files = self.project.files();
        let mut best: Option<(usize, &str)> = None;
        for dir in files.dir_names.get(*last).map_or(&[][..], Vec::as_slice) {
            let have: Vec<&str> = dir.split('/').collect();
            let common = have
                .iter()
                .rev()
                .zip(wanted.iter().rev())
                .take_while(|(a, b)| a == b)
                .count();
            // Go: the module root is the project's root or a directory below it, so the
            // directory's own path ends the import path, or two elements at least agree.
            // Java: the package is the directory's path's end.
            let whole = match sep {
                '/' => common == have.len() || common >= 2.min(wanted.len()),
                _ => common == wanted.len(),
            };
            if whole && best.is_none_or(|(c, d)| common > c || (common == c && dir.as_str() < d)) {
                best = Some((common, dir.as_str()));
            }
        }
        let Some((_, dir)) = best else {
            return Module::External(module.replace('/', "."));
        };
        let language_ok = |f: &FileEntry| {
            f.language
                .as_deref()
                .is_some_and(|l| family(l) == Some(self.family))
        };
        let mut found: Vec<(String, i64)> = files
            .dirs
            .get(dir)
            .map_or(&[][..], Vec::as_slice)
            .iter()
            .map(|i| &files.all[*i])
            .filter(|f| language_ok(f))
            .map(|f| (f.path.clone(), f.id))
            .collect();
        found.sort();
        if found.is_empty() {
            return Module::Unknown;
        }
        Module::Files(found.into_iter().map(|(_, id)| id).collect())
    }

    /// `"x.h"` or `<x.h>` included by the file at `from`.
    fn include(&mut self, from: &str, raw: &str) -> Module {
        let quoted = raw.starts_with('"');
        let name = raw.trim_matches(|c| matches!(c, '"' | '<' | '>')).trim();
        if name.is_empty() {
            return Module::Unknown;
        }
        if quoted
            && let Some(rel) = normalize(&join(dir_of(from), name))
            && let Some(f) = self.first_file(&[rel])
        {
            return Module::Files(vec![f]);
        }
        let base = base_of(name);
        self.deps.keys.insert(format!("b:{base}"));
        let files = self.project.files();
        let suffix = format!("/{name}");
        let from_dir = dir_of(from);
        let best = files
            .base_names
            .get(base)
            .map_or(&[][..], Vec::as_slice)
            .iter()
            .map(|i| &files.all[*i])
            .filter(|f| f.path == name || f.path.ends_with(&suffix))
            .max_by_key(|f| {
                let common = f
                    .path
                    .split('/')
                    .zip(from_dir.split('/'))
                    .take_while(|(a, b)| a == b)
                    .count();
                (common, std::cmp::Reverse(f.path.clone()))
            });
        match best {
            Some(f) => Module::Files(vec![f.id]),
            None => Module::External(name.to_owned()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_normalize_within_the_root() {
        assert_eq!(normalize("a/b/../c/./d").as_deref(), Some("a/c/d"));
        assert_eq!(normalize("../x"), None);
        assert_eq!(base_of("a/b.h"), "b.h");
        assert_eq!(dir_of("b.h"), "");
    }
}
