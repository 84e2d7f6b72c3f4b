//! Each language's counts checked against the language's own front end, on real code
//! nobody here wrote. For every file, codedb's classes, functions, methods and imports
//! (the indexer's parse, and in total the index's `stats`) must equal what the oracle
//! counts by the README's rules, except the stated exceptions below, each with the exact
//! difference and its reason (an exception that stops happening fails the test too).
//!
//! | language | oracle | corpus |
//! |---|---|---|
//! | Go | `go/parser` + `go/ast` (`oracles/go_counts.go`, `go run`) | Go 1.19's standard library (Debian's `golang-1.19-src`), `src/go` and `src/encoding` without `testdata` |
//! | TypeScript, TSX, JavaScript | the TypeScript compiler API (`oracles/ts_counts.js`, npm `typescript` 5.6.3 under `target/oracles/`) | npm's `@tanstack/react-query` 5.59.0 (`.ts`/`.tsx` sources; `.js`/`.cjs`/`.d.ts` builds) and `rxjs` 7.8.1 (`.ts` sources, `.d.ts` types, ES5/ES2015/CommonJS builds) |
//! | Java | javac's tree API, `com.sun.source.tree` (`oracles/JavaCounts.java`, `java` in source-file mode) | the Java sources of npm's `cordova-android` 12.0.1 and `@capacitor/android` 5.7.0 |
//! | C, C++ | libclang (`oracles/c_counts.py`, PyPI's `libclang` 18.1.1 in a venv under `target/oracles/`) | the SQLite amalgamation libsqlite3-sys vendors (the version `Cargo.lock` pins, from cargo's registry); Tessil's robin-map as PyPI's `nanobind` 2.2.0 wheel vendors it |
//!
//! clang compiles one branch of each `#if`, tree-sitter reads them all: a C or C++
//! exception states what codedb counts in the branches clang skipped, and the test checks
//! that figure against clang's skipped ranges, apart from the rest of the difference.
//!
//! A tool that is absent makes its test print `SKIP ...` and pass; `.ci/run` installs them.
#![allow(clippy::unwrap_used, clippy::print_stdout)] // tests fail loudly and report figures on purpose

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use codedb_commands::{IndexOptions, index, lang};
use codedb_core::{CodeDatabase, CodeStore, SyncOptions};

#[path = "support/corpus.rs"]
mod support;
use support::workspace;

/// Classes, functions, methods, imports.
type Counts = [i64; 4];

/// A file where codedb and the oracle differ, on purpose.
struct Exception {
    path: &'static str,
    /// codedb's counts minus the oracle's.
    diff: Counts,
    #[allow(dead_code)] // read by people: why the difference is right
    reason: &'static str,
}

fn oracle_dir() -> PathBuf {
    workspace().join("target/oracles")
}

fn have(tool: &str, arg: &str) -> bool {
    Command::new(tool)
        .arg(arg)
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The oracle's JSON: path -> counts.
fn run_oracle(mut cmd: Command) -> BTreeMap<String, Counts> {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "oracle {cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// codedb's counts per file of `dir` in `languages`, from the indexer's parse; the index's
/// totals (SQLite) must be their sums.
fn codedb_counts(dir: &Path, languages: &[&str]) -> BTreeMap<String, Counts> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            let Some(l) = lang::detect(&p) else { continue };
            let bytes = std::fs::read(&p).unwrap();
            let l = lang::refine(l, &p, &bytes);
            if !languages.contains(&l.name) {
                continue;
            }
            let parsed = lang::parse(l, &bytes);
            let mut c = [0; 4];
            for e in &parsed.entities {
                c[match e.kind.as_str() {
                    "class" => 0,
                    "function" => 1,
                    _ => 2,
                }] += 1;
            }
            c[3] = i64::try_from(parsed.imports.len()).unwrap();
            let rel = p
                .strip_prefix(dir)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            out.insert(rel, c);
        }
    }
    let tmp = tempfile::tempdir().unwrap();
    let manager = codedb_sqlite::open(tmp.path().join("c.sqlite")).unwrap();
    let db = CodeDatabase::open_with_schema(manager.driver(), manager.schema_backend()).unwrap();
    db.ensure_schema_synced(&SyncOptions {
        backup_dir: Some(tmp.path().join("b")),
        ..SyncOptions::default()
    })
    .unwrap();
    let summary = index(&db, dir, &IndexOptions::default()).unwrap();
    assert_eq!(summary.files_skipped, 0, "{:?}", summary.skipped);
    let mut total = [0i64; 5];
    for l in languages {
        let s = db.stats(codedb_core::Scope::All, Some(l)).unwrap();
        for (t, v) in total
            .iter_mut()
            .zip([s.files, s.classes, s.functions, s.methods, s.imports])
        {
            *t += v;
        }
    }
    let mut sums = [i64::try_from(out.len()).unwrap(), 0, 0, 0, 0];
    for c in out.values() {
        for i in 0..4 {
            sums[i + 1] += c[i];
        }
    }
    assert_eq!(total, sums, "the index's stats and the parse's counts");
    manager.stop().unwrap();
    out
}

/// Compares per file; prints the totals.
fn compare(
    name: &str,
    ours: &BTreeMap<String, Counts>,
    theirs: &BTreeMap<String, Counts>,
    exceptions: &[Exception],
) {
    let mut problems = Vec::new();
    let keys: std::collections::BTreeSet<&String> = ours.keys().chain(theirs.keys()).collect();
    let mut used = vec![false; exceptions.len()];
    for k in keys {
        let a = ours.get(k).copied().unwrap_or([-1; 4]);
        let b = theirs.get(k).copied().unwrap_or([-1; 4]);
        let diff = [a[0] - b[0], a[1] - b[1], a[2] - b[2], a[3] - b[3]];
        let stated = exceptions
            .iter()
            .position(|e| e.path == k.as_str() && e.diff == diff);
        if let Some(i) = stated {
            used[i] = true;
        } else if diff != [0; 4] {
            problems.push(format!("{k}: codedb {a:?}, oracle {b:?}"));
        }
    }
    for (e, used) in exceptions.iter().zip(used) {
        if !used {
            problems.push(format!(
                "{}: stated exception {:?} did not happen",
                e.path, e.diff
            ));
        }
    }
    let sum = |m: &BTreeMap<String, Counts>| {
        m.values().fold([0i64; 4], |mut t, c| {
            for i in 0..4 {
                t[i] += c[i];
            }
            t
        })
    };
    println!(
        "{name}: {} files; classes/functions/methods/imports codedb {:?}, oracle {:?}, {} stated exceptions",
        ours.len(),
        sum(ours),
        sum(theirs),
        exceptions.len()
    );
    assert!(
        problems.is_empty(),
        "{name}: {} differences:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

/// Copies the `.go` files of `packages` under Go's `src`, without `testdata`, once.
fn go_corpus(src: &Path, packages: &[&str]) -> PathBuf {
    let dir = workspace().join("target/corpora/go1.19-std");
    if dir.join(".complete").exists() {
        return dir;
    }
    let _ = std::fs::remove_dir_all(&dir);
    for p in packages {
        let mut stack = vec![src.join(p)];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(d).unwrap() {
                let path = e.unwrap().path();
                if path.is_dir() {
                    if path.file_name().is_some_and(|n| n != "testdata") {
                        stack.push(path);
                    }
                } else if path.extension().is_some_and(|x| x == "go") {
                    let target = dir.join(path.strip_prefix(src).unwrap());
                    std::fs::create_dir_all(target.parent().unwrap()).unwrap();
                    std::fs::copy(&path, target).unwrap();
                }
            }
        }
    }
    std::fs::write(dir.join(".complete"), "").unwrap();
    dir
}

#[test]
fn go_counts_equal_go_ast_on_the_standard_library() {
    let src = Path::new("/usr/lib/go-1.19/src");
    if !have("go", "version") || !src.exists() {
        println!(
            "SKIP go oracle: needs Debian's golang-1.19 (go and its source under {})",
            src.display()
        );
        return;
    }
    let corpus = go_corpus(src, &["go", "encoding", "net", "crypto"]);
    let mut cmd = Command::new("go");
    cmd.arg("run")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oracles/go_counts.go"))
        .arg(&corpus)
        .env("GOCACHE", oracle_dir().join("gocache"))
        .env("GOFLAGS", "-mod=mod")
        .env("GO111MODULE", "off");
    let theirs = run_oracle(cmd);
    let ours = codedb_counts(&corpus, &["go"]);
    compare(
        "go (Go 1.19 src/go, encoding, net, crypto)",
        &ours,
        &theirs,
        &[],
    );
}

/// `package@version` from npm, unpacked under `target/corpora/npm/`, once.
fn npm_corpus(spec: &str) -> PathBuf {
    let cache = workspace().join("target/corpora/npm");
    let dir = cache.join(spec.replace('/', "+"));
    if dir.join(".complete").exists() {
        return dir;
    }
    std::fs::create_dir_all(&cache).unwrap();
    let out = Command::new("npm")
        .args(["pack", "-q", spec, "--pack-destination"])
        .arg(&cache)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "npm pack {spec}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tgz = cache.join(String::from_utf8_lossy(&out.stdout).trim());
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let status = Command::new("tar")
        .arg("xzf")
        .arg(&tgz)
        .arg("-C")
        .arg(&dir)
        .status()
        .unwrap();
    assert!(status.success(), "tar xzf {}", tgz.display());
    std::fs::write(dir.join(".complete"), "").unwrap();
    dir
}

/// npm's `typescript` at the pinned version under `target/oracles/`, installing it there
/// when npm is present; `None` without npm.
fn typescript_module() -> Option<PathBuf> {
    // The tests of this file run as threads of one process: two npm installs into one
    // directory at once fail (ENOTEMPTY), so one installs while the other waits.
    static INSTALL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _installing = INSTALL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let modules = oracle_dir().join("node_modules");
    // A marker written after npm succeeded: an install cut short (killed, disk full)
    // leaves a package.json naming the version over a half-written lib/.
    let marker = oracle_dir().join(format!(".typescript-{TYPESCRIPT}-complete"));
    let installed = marker.exists() && modules.join("typescript/lib/typescript.js").exists();
    if !installed {
        if !have("npm", "--version") {
            return None;
        }
        std::fs::create_dir_all(oracle_dir()).unwrap();
        let out = Command::new("npm")
            .args(["install", "-q", "--no-audit", "--no-fund"])
            .arg(format!("typescript@{TYPESCRIPT}"))
            .current_dir(oracle_dir())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "npm install typescript: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::write(&marker, "").unwrap();
    }
    Some(modules)
}

const TYPESCRIPT: &str = "5.6.3";

fn check_ecmascript(spec: &str, exceptions: &[Exception]) {
    if !have("node", "--version") {
        println!("SKIP {spec}: node is not installed");
        return;
    }
    let Some(modules) = typescript_module() else {
        println!("SKIP {spec}: npm is not installed (the oracle needs npm's typescript)");
        return;
    };
    let corpus = npm_corpus(spec);
    let mut cmd = Command::new("node");
    cmd.arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oracles/ts_counts.js"))
        .arg(&corpus)
        .env("NODE_PATH", modules);
    let theirs = run_oracle(cmd);
    let ours = codedb_counts(&corpus, &["typescript", "tsx", "javascript"]);
    compare(spec, &ours, &theirs, exceptions);
}

#[test]
fn typescript_tsx_and_javascript_counts_equal_the_typescript_compiler_api_on_react_query() {
    check_ecmascript("@tanstack/react-query@5.59.0", &[]);
}

#[test]
fn typescript_and_javascript_counts_equal_the_typescript_compiler_api_on_rxjs() {
    check_ecmascript("rxjs@7.8.1", &[]);
}

fn check_java(spec: &str, exceptions: &[Exception]) {
    if !have("java", "-version") {
        println!("SKIP {spec}: java (JDK 11 or later) is not installed");
        return;
    }
    if !have("npm", "--version") {
        println!("SKIP {spec}: npm is not installed (the corpus comes from npm)");
        return;
    }
    let corpus = npm_corpus(spec);
    let mut cmd = Command::new("java");
    cmd.arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oracles/JavaCounts.java"))
        .arg(&corpus);
    let theirs = run_oracle(cmd);
    let ours = codedb_counts(&corpus, &["java"]);
    compare(spec, &ours, &theirs, exceptions);
}

#[test]
fn java_counts_equal_javacs_tree_api_on_cordova_android() {
    check_java("cordova-android@12.0.1", &[]);
}

#[test]
fn java_counts_equal_javacs_tree_api_on_capacitor_android() {
    check_java("@capacitor/android@5.7.0", &[]);
}

/// PyPI's `libclang` (clang's Python bindings with their own libclang.so) at the pinned
/// version, in a venv under `target/oracles/`; `None` when python3 cannot make one.
fn clang_python() -> Option<PathBuf> {
    static INSTALL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _installing = INSTALL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let venv = oracle_dir().join("clang-venv");
    let python = venv.join("bin/python");
    let marker = oracle_dir().join(format!(".libclang-{LIBCLANG}-complete"));
    if marker.exists() && python.exists() {
        return Some(python);
    }
    if !have("python3", "--version") {
        return None;
    }
    std::fs::create_dir_all(oracle_dir()).unwrap();
    let _ = std::fs::remove_dir_all(&venv);
    let made = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&venv)
        .output()
        .unwrap();
    if !made.status.success() {
        println!(
            "python3 -m venv failed: {}",
            String::from_utf8_lossy(&made.stderr)
        );
        return None;
    }
    let out = Command::new(&python)
        .args(["-m", "pip", "install", "-q", "--disable-pip-version-check"])
        .arg(format!("libclang=={LIBCLANG}"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "pip install libclang: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(&marker, "").unwrap();
    Some(python)
}

const LIBCLANG: &str = "18.1.1";

/// The source directory of the crate `name` this workspace's lock file pins (the crate's
/// sources, vendored C included, are in cargo's registry once the workspace builds): read
/// from `Cargo.lock` and looked up under `$CARGO_HOME/registry/src/`. Not `cargo metadata
/// --offline`, which fails on a machine whose registry lacks the packages of other
/// platforms (those it never builds) until an online `cargo metadata` fetched them.
fn crate_source(name: &str) -> PathBuf {
    let lock = std::fs::read_to_string(workspace().join("Cargo.lock")).unwrap();
    let version = lock
        .split("[[package]]")
        .find_map(|package| {
            let field = |key: &str| {
                package.lines().find_map(|line| {
                    line.strip_prefix(&format!("{key} = \""))
                        .and_then(|rest| rest.strip_suffix('"'))
                })
            };
            (field("name") == Some(name))
                .then(|| field("version"))
                .flatten()
        })
        .unwrap_or_else(|| panic!("{name} is not in Cargo.lock"));
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .expect("CARGO_HOME or HOME");
    let wanted = format!("{name}-{version}");
    std::fs::read_dir(cargo_home.join("registry/src"))
        .unwrap()
        .flatten()
        .map(|index| index.path().join(&wanted))
        .find(|dir| dir.join("Cargo.toml").exists())
        .unwrap_or_else(|| {
            panic!(
                "{wanted} is not in {}",
                cargo_home.join("registry/src").display()
            )
        })
}

/// The C and C++ files under `from` copied to `target/corpora/NAME`, once.
fn copy_corpus(name: &str, from: &Path) -> PathBuf {
    let dir = workspace().join("target/corpora").join(name);
    if dir.join(".complete").exists() {
        return dir;
    }
    let _ = std::fs::remove_dir_all(&dir);
    let mut stack = vec![from.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(d).unwrap() {
            let path = e.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if lang::detect(&path).is_some_and(|l| l.name == "c" || l.name == "cpp") {
                let target = dir.join(path.strip_prefix(from).unwrap());
                std::fs::create_dir_all(target.parent().unwrap()).unwrap();
                std::fs::copy(&path, target).unwrap();
            }
        }
    }
    std::fs::write(dir.join(".complete"), "").unwrap();
    dir
}

/// What libclang says of one file.
#[derive(serde::Deserialize)]
struct ClangFile {
    counts: Counts,
    /// Lines of the branches clang did not compile (first, last).
    skipped: Vec<(i64, i64)>,
    defs: Vec<(String, i64)>,
}

/// The files of `corpus` codedb reads as C or C++, with that language.
fn clike_files(corpus: &Path) -> Vec<(String, &'static str)> {
    let mut out = Vec::new();
    let mut stack = vec![corpus.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            let Some(l) = lang::detect(&p) else { continue };
            let l = lang::refine(l, &p, &std::fs::read(&p).unwrap());
            if l.name == "c" || l.name == "cpp" {
                let rel = p
                    .strip_prefix(corpus)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                out.push((rel, l.name));
            }
        }
    }
    out.sort();
    out
}

/// A C or C++ file where codedb and clang differ, on purpose: `inactive` is what codedb
/// counts in the preprocessor branches clang did not compile (checked against clang's
/// skipped ranges), `hidden` the rest of the difference (codedb minus clang), each
/// definition named in `reason`.
struct ClikeException {
    path: &'static str,
    inactive: Counts,
    hidden: Counts,
    #[allow(dead_code)] // read by people: why the difference is right
    reason: &'static str,
}

fn check_clike(name: &str, corpus: &Path, clang_args: &[&str], exceptions: &[ClikeException]) {
    let Some(python) = clang_python() else {
        println!("SKIP {name}: python3 with venv and pip is needed for PyPI's libclang");
        return;
    };
    let files = clike_files(corpus);
    let mut cmd = Command::new(python);
    cmd.arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oracles/c_counts.py"))
        .arg(corpus)
        .args(clang_args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        for (rel, l) in &files {
            writeln!(stdin, "{l}\t{rel}").unwrap();
        }
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "oracle {cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let clang: BTreeMap<String, ClangFile> = serde_json::from_slice(&out.stdout).unwrap();
    let ours = codedb_counts(corpus, &["c", "cpp"]);
    if std::env::var_os("CODEDB_ORACLE_DEBUG").is_some() {
        debug_clike(corpus, &files, &ours, &clang);
    }
    let mut problems = Vec::new();
    for e in exceptions {
        let Some(c) = clang.get(e.path) else {
            problems.push(format!("{}: not in the corpus", e.path));
            continue;
        };
        let inactive = in_skipped(corpus, e.path, &c.skipped);
        if inactive != e.inactive {
            problems.push(format!(
                "{}: codedb counts {inactive:?} in the branches clang skipped, stated {:?}",
                e.path, e.inactive
            ));
        }
    }
    assert!(problems.is_empty(), "{name}: {}", problems.join("\n"));
    let stated: Vec<Exception> = exceptions
        .iter()
        .map(|e| Exception {
            path: e.path,
            diff: std::array::from_fn(|i| e.inactive[i] + e.hidden[i]),
            reason: e.reason,
        })
        .collect();
    let theirs: BTreeMap<String, Counts> =
        clang.iter().map(|(k, v)| (k.clone(), v.counts)).collect();
    compare(name, &ours, &theirs, &stated);
}

/// codedb's classes, functions, methods and imports of `rel` that start on a line of
/// `skipped`.
fn in_skipped(corpus: &Path, rel: &str, skipped: &[(i64, i64)]) -> Counts {
    let path = corpus.join(rel);
    let bytes = std::fs::read(&path).unwrap();
    let l = lang::refine(lang::detect(&path).unwrap(), &path, &bytes);
    let parsed = lang::parse(l, &bytes);
    let inside = |line: i64| skipped.iter().any(|(a, b)| *a <= line && line <= *b);
    let mut c = [0; 4];
    for e in parsed.entities.iter().filter(|e| inside(e.start_line)) {
        c[match e.kind.as_str() {
            "class" => 0,
            "function" => 1,
            _ => 2,
        }] += 1;
    }
    c[3] = i64::try_from(parsed.imports.iter().filter(|i| inside(i.line)).count()).unwrap();
    c
}

/// Prints, for each file that differs, both sides' definitions by line.
fn debug_clike(
    corpus: &Path,
    files: &[(String, &'static str)],
    ours: &BTreeMap<String, Counts>,
    clang: &BTreeMap<String, ClangFile>,
) {
    for (rel, l) in files {
        let (Some(a), Some(b)) = (ours.get(rel), clang.get(rel)) else {
            continue;
        };
        if *a == b.counts {
            continue;
        }
        println!("== {rel} ({l}): codedb {a:?}, clang {:?}", b.counts);
        let bytes = std::fs::read(corpus.join(rel)).unwrap();
        let parsed = lang::parse(lang::by_name(l).unwrap(), &bytes);
        let skipped = |line: i64| b.skipped.iter().any(|(x, y)| *x <= line && line <= *y);
        let mut inactive = [0; 4];
        for e in &parsed.entities {
            let i = match e.kind.as_str() {
                "class" => 0,
                "function" => 1,
                _ => 2,
            };
            if skipped(e.start_line) {
                inactive[i] += 1;
            }
            println!(
                "  codedb {} {} {}{}",
                e.start_line,
                e.kind.as_str(),
                e.qualified_name,
                if skipped(e.start_line) {
                    " (inactive)"
                } else {
                    ""
                }
            );
        }
        inactive[3] =
            i64::try_from(parsed.imports.iter().filter(|i| skipped(i.line)).count()).unwrap();
        for (k, line) in &b.defs {
            println!("  clang {line} {k}");
        }
        println!("  codedb in inactive branches: {inactive:?}");
    }
}

#[test]
fn c_counts_equal_libclang_on_the_sqlite_amalgamation() {
    let corpus = copy_corpus(
        "c-libsqlite3-sys",
        &crate_source("libsqlite3-sys").join("sqlite3"),
    );
    check_clike(
        "sqlite amalgamation (libsqlite3-sys)",
        &corpus,
        &[],
        &[
            ClikeException {
                path: "sqlite3.c",
                inactive: [224, 2211, 0, 45],
                hidden: [-6, -5, 0, 0],
                reason: "inactive branches (Windows, Apple, test and debug builds, \
                    omitted features); the root of the amalgamation is an error node to \
                    tree-sitter (its branches, read all at once, do not balance), and in its \
                    recovery a macro before a definition hides it: the structs \
                    `sqlite3StatType`, `BenignMallocHooks`, `Mem0Global`, `sqlite3PrngType`, \
                    `PCacheGlobal`, `sqlite3AutoExtList` (`static SQLITE_WSD struct X {...}`) \
                    and the functions `sqlite3_memory_used`, `columnNullValue`, \
                    `sqlite3InitOne`, `sqlite3GetToken`, `sqlite3RunParser` \
                    (`SQLITE_API`/`SQLITE_PRIVATE`/`static const` read as a declaration \
                    of their own)",
            },
            ClikeException {
                path: "wasm32-wasi-vfs.c",
                inactive: [0, 4, 0, 2],
                hidden: [0; 4],
                reason: "inactive branches",
            },
        ],
    );
}

#[test]
fn cpp_counts_equal_libclang_on_robin_map() {
    if !have("python3", "--version") {
        println!("SKIP robin-map: python3 (pip) is needed for the corpus");
        return;
    }
    // Tessil's robin-map (tsl/robin_map.h and its two helpers), as nanobind 2.2.0's wheel
    // vendors it.
    let wheel = support::corpus("nanobind", "2.2.0");
    let corpus = copy_corpus(
        "cpp-robin-map",
        &wheel.join("nanobind/ext/robin_map/include"),
    );
    check_clike(
        "robin-map (nanobind 2.2.0)",
        &corpus,
        &[],
        &[
            ClikeException {
                path: "tsl/robin_growth_policy.h",
                inactive: [0, 0, 0, 1],
                hidden: [0; 4],
                reason: "`#include <stdexcept>` in the branch for builds without exceptions",
            },
            ClikeException {
                path: "tsl/robin_hash.h",
                inactive: [0, 0, 1, 0],
                hidden: [0; 4],
                reason: "a `robin_hash` constructor in the branch for old libstdc++",
            },
        ],
    );
}
