//! Architecture checks over `cargo metadata` and the source tree.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Deserialize;

/// The codedb crates each crate may depend on: `(crate, normal, extra for dev)`.
/// Mirrors the table in ARCHITECTURE.md; a new crate must be added here on purpose.
const LAYERS: &[(&str, &[&str], &[&str])] = &[
    ("codedb-driver", &[], &[]),
    ("codedb-schema", &["codedb-driver"], &[]),
    ("codedb-sqlite", &["codedb-driver", "codedb-schema"], &[]),
    (
        "codedb-postgres",
        &["codedb-driver", "codedb-schema"],
        &["codedb-sqlite", "codedb-backends"],
    ),
    (
        "codedb-backends",
        &[
            "codedb-driver",
            "codedb-schema",
            "codedb-sqlite",
            "codedb-postgres",
        ],
        &[],
    ),
    (
        "codedb-core",
        &["codedb-driver", "codedb-schema"],
        &["codedb-sqlite", "codedb-backends"],
    ),
    (
        "codedb-commands",
        &["codedb-core", "codedb-driver", "codedb-schema"],
        &["codedb-sqlite", "codedb-backends"],
    ),
    (
        "codedb-server",
        &[
            "codedb-driver",
            "codedb-schema",
            "codedb-sqlite",
            "codedb-backends",
            "codedb-core",
            "codedb-commands",
        ],
        &[],
    ),
    (
        "codedb-cli",
        &[
            "codedb-driver",
            "codedb-schema",
            "codedb-sqlite",
            "codedb-core",
            "codedb-commands",
            "codedb-server",
            "codedb-backends",
        ],
        &[],
    ),
    ("xtask", &[], &[]),
];

/// Third-party crates that only the named crates of ours may name (any kind of dependency):
/// each backend's client library stays inside its backend crate.
const OWNED: &[(&str, &[&str])] = &[
    ("rusqlite", &["codedb-sqlite"]),
    ("r2d2", &["codedb-sqlite", "codedb-postgres"]),
    ("r2d2_sqlite", &["codedb-sqlite"]),
    ("libsqlite3-sys", &["codedb-sqlite"]),
    ("postgres", &["codedb-postgres"]),
    ("tokio-postgres", &["codedb-postgres"]),
    ("postgres-types", &["codedb-postgres"]),
];

/// Crates that only the binary may use as a normal dependency (tests may use them).
const BINARY_ONLY: &[(&str, &str)] = &[("tracing-subscriber", "codedb-cli")];

#[derive(Deserialize)]
struct Metadata {
    packages: Vec<Package>,
    workspace_members: Vec<String>,
}

#[derive(Deserialize)]
struct Package {
    name: String,
    id: String,
    dependencies: Vec<Dependency>,
}

#[derive(Deserialize)]
struct Dependency {
    name: String,
    kind: Option<String>,
}

/// Runs every check and reports all failures together.
pub(crate) fn run(root: &Path) -> Result<(), String> {
    let mut problems = Vec::new();
    match metadata(root) {
        Ok(meta) => {
            problems.extend(check_layering(&meta));
            problems.extend(check_owned_crates(&meta));
        }
        Err(e) => problems.push(e),
    }
    let files = rust_files(root);
    problems.extend(check_module_docs(root, &files));
    problems.extend(check_no_ignored_tests(root, &files));
    problems.extend(check_backend_names_in_source(root, &files));
    problems.extend(check_no_domain_sql_above_core(root, &files));
    problems.extend(check_dialect_named_only_in_dialect(root, &files));
    if problems.is_empty() {
        println!("tidy: {} checks passed over {} files", 7, files.len());
        Ok(())
    } else {
        Err(format!(
            "tidy found {} problem(s):\n  {}",
            problems.len(),
            problems.join("\n  ")
        ))
    }
}

fn metadata(root: &Path) -> Result<Metadata, String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let out = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .current_dir(root)
        .output()
        .map_err(|e| format!("cannot run cargo metadata: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    serde_json::from_slice(&out.stdout).map_err(|e| format!("cannot read cargo metadata: {e}"))
}

fn members(meta: &Metadata) -> impl Iterator<Item = &Package> {
    meta.packages
        .iter()
        .filter(|p| meta.workspace_members.contains(&p.id))
}

fn check_layering(meta: &Metadata) -> Vec<String> {
    let layers: BTreeMap<&str, (&[&str], &[&str])> =
        LAYERS.iter().map(|(c, n, d)| (*c, (*n, *d))).collect();
    let ours: Vec<&str> = LAYERS.iter().map(|(c, ..)| *c).collect();
    let mut problems = Vec::new();
    for package in members(meta) {
        let Some((normal, dev)) = layers.get(package.name.as_str()) else {
            problems.push(format!(
                "crate {} is not in the layering table (xtask/src/tidy.rs, ARCHITECTURE.md): add it on purpose",
                package.name
            ));
            continue;
        };
        for dep in package
            .dependencies
            .iter()
            .filter(|d| ours.contains(&d.name.as_str()))
        {
            let is_dev = dep.kind.as_deref() == Some("dev");
            let allowed =
                normal.contains(&dep.name.as_str()) || (is_dev && dev.contains(&dep.name.as_str()));
            if !allowed {
                let kind = if is_dev {
                    "dev-dependency"
                } else {
                    "dependency"
                };
                problems.push(format!(
                    "{} may not have {} as a {kind} (layering)",
                    package.name, dep.name
                ));
            }
        }
    }
    problems
}

fn check_owned_crates(meta: &Metadata) -> Vec<String> {
    let mut problems = Vec::new();
    for package in members(meta) {
        for dep in &package.dependencies {
            for (krate, owners) in OWNED {
                if dep.name == *krate && !owners.contains(&package.name.as_str()) {
                    problems.push(format!(
                        "{} depends on {krate}; only {} may",
                        package.name,
                        owners.join(" and ")
                    ));
                }
            }
            for (krate, owner) in BINARY_ONLY {
                if dep.name == *krate
                    && package.name != *owner
                    && dep.kind.as_deref() != Some("dev")
                {
                    problems.push(format!(
                        "{} depends on {krate}; only {owner} installs a tracing subscriber",
                        package.name
                    ));
                }
            }
        }
    }
    problems
}

/// Every `.rs` file under `crates/` and `xtask/`, skipping build output.
fn rust_files(root: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![root.join("crates"), root.join("xtask"), root.join("tests")];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                if path
                    .file_name()
                    .is_some_and(|n| n != "target" && n != "test_data")
                {
                    stack.push(path);
                }
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

fn relative(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .display()
        .to_string()
}

fn check_module_docs(root: &Path, files: &[PathBuf]) -> Vec<String> {
    files
        .iter()
        .filter(|f| fs::read_to_string(f).map_or(true, |text| !text.starts_with("//!")))
        .map(|f| {
            format!(
                "{} does not open with a `//!` doc comment",
                relative(root, f)
            )
        })
        .collect()
}

fn check_no_ignored_tests(root: &Path, files: &[PathBuf]) -> Vec<String> {
    // Spelled in two pieces so that this file does not match itself.
    let needle = format!("#[{}", "ignore");
    let mut problems = Vec::new();
    for file in files {
        let Ok(text) = fs::read_to_string(file) else {
            continue;
        };
        for (n, line) in text.lines().enumerate() {
            if line.trim_start().starts_with(&needle) {
                problems.push(format!(
                    "{}:{}: ignored test; fix it or delete it",
                    relative(root, file),
                    n + 1
                ));
            }
        }
    }
    problems
}

/// Backend client paths appear in code only inside their backend crate (rusqlite and
/// r2d2 in codedb-sqlite; postgres and r2d2 in codedb-postgres).
fn check_backend_names_in_source(root: &Path, files: &[PathBuf]) -> Vec<String> {
    let sqlite = root.join("crates").join("codedb-sqlite");
    let postgres = root.join("crates").join("codedb-postgres");
    let xtask = root.join("xtask");
    let sqlite_needles = ["rusqlite::", "r2d2_sqlite::", "libsqlite3_sys::"];
    let postgres_needles = ["postgres::", "r2d2_postgres::", "postgres_types::"];
    let mut problems = Vec::new();
    for file in files.iter().filter(|f| !f.starts_with(&xtask)) {
        let needles: Vec<&str> = if file.starts_with(&sqlite) {
            postgres_needles.to_vec()
        } else if file.starts_with(&postgres) {
            sqlite_needles.to_vec()
        } else {
            sqlite_needles
                .iter()
                .chain(&postgres_needles)
                .chain(&["r2d2::"])
                .copied()
                .collect()
        };
        let Ok(text) = fs::read_to_string(file) else {
            continue;
        };
        for (n, line) in text.lines().enumerate() {
            let code = line.trim_start();
            if code.starts_with("//") {
                continue;
            }
            if let Some(needle) = needles.iter().find(|needle| {
                code.match_indices(**needle).any(|(i, _)| {
                    // `codedb_postgres::` is not `postgres::`.
                    !code[..i].ends_with(|c: char| c.is_alphanumeric() || c == '_')
                })
            }) {
                problems.push(format!(
                    "{}:{}: names `{needle}`; only its backend crate may use it",
                    relative(root, file),
                    n + 1
                ));
            }
        }
    }
    problems
}

/// Every backend difference of the domain code is a method of `Dialect`: outside
/// `dialect.rs`, `schema.rs` (which renders the code tables per backend) and tests, no code
/// names `Dialect::Sqlite` or `Dialect::Postgres`. Tests are a crate's `tests/` and
/// `benches/`, and what follows a file's first `#[cfg(test)]`.
fn check_dialect_named_only_in_dialect(root: &Path, files: &[PathBuf]) -> Vec<String> {
    let core = root.join("crates").join("codedb-core").join("src");
    let allowed = [core.join("dialect.rs"), core.join("schema.rs")];
    let crates = root.join("crates");
    let mut problems = Vec::new();
    for file in files.iter().filter(|f| {
        f.starts_with(&crates)
            && !allowed.contains(f)
            && !f.strip_prefix(&crates).is_ok_and(|inside| {
                inside
                    .components()
                    .any(|c| matches!(c.as_os_str().to_str(), Some("tests" | "benches")))
            })
    }) {
        let Ok(text) = fs::read_to_string(file) else {
            continue;
        };
        for (n, line) in text.lines().enumerate() {
            let code = line.trim_start();
            if code.starts_with("#[cfg(test)]") {
                break;
            }
            if code.starts_with("//") {
                continue;
            }
            if let Some(variant) = ["Dialect::Sqlite", "Dialect::Postgres"]
                .iter()
                .find(|v| code.contains(**v))
            {
                problems.push(format!(
                    "{}:{}: names `{variant}`; ask a `Dialect` method instead (dialect.rs)",
                    relative(root, file),
                    n + 1
                ));
            }
        }
    }
    problems
}

/// The code tables, which only codedb-core's store queries.
const CODE_TABLES: &[&str] = &[
    "projects",
    "files",
    "source",
    "names",
    "classes",
    "functions",
    "methods",
    "imports",
    "usages",
    "refs",
    "bindings",
    "ref_deps",
    "ref_pending",
    "issues",
    "meta",
    "commands",
    "file_backups",
    "symbol_fts",
    "source_fts",
];

/// For each line of `text`, whether it ends inside a string literal (`"..."` or a raw
/// `r#"..."#`), read by a small lexer that knows comments and `'"'`.
fn lines_ending_in_a_string(text: &str) -> Vec<bool> {
    enum State {
        Code,
        Str,
        Raw(usize),
        Comment,
    }
    let bytes = text.as_bytes();
    let mut state = State::Code;
    let mut open = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let rest = &bytes[i..];
        match state {
            _ if rest[0] == b'\n' => {
                if matches!(state, State::Comment) {
                    state = State::Code;
                }
                open.push(matches!(state, State::Str | State::Raw(_)));
            }
            State::Code if rest.starts_with(b"//") => state = State::Comment,
            State::Code if rest.starts_with(b"'\"'") => i += 2,
            State::Code if rest.starts_with(b"'\\\"'") => i += 3,
            State::Code if rest[0] == b'"' => state = State::Str,
            State::Code
                if rest[0] == b'r'
                    && !text[..i].ends_with(|c: char| c.is_alphanumeric() || c == '_') =>
            {
                let hashes = rest[1..].iter().take_while(|b| **b == b'#').count();
                if rest.get(1 + hashes) == Some(&b'"') {
                    state = State::Raw(hashes);
                    i += 1 + hashes;
                }
            }
            State::Str if rest[0] == b'\\' && rest.get(1) != Some(&b'\n') => i += 1,
            State::Str if rest[0] == b'"' => state = State::Code,
            State::Raw(hashes)
                if rest[0] == b'"'
                    && rest[1..].iter().take_while(|b| **b == b'#').count() >= hashes =>
            {
                state = State::Code;
                i += hashes;
            }
            _ => {}
        }
        i += 1;
    }
    open.push(false);
    open
}

/// No crate above codedb-core runs SQL on the code tables: the sources (not the tests) of
/// codedb-commands, codedb-server and codedb-cli never say `FROM files`, `INSERT INTO
/// usages`, `UPDATE commands` and the like; `CodeStore` and `HistoryStore` have a method for
/// what they need. A line that ends inside a string literal is read on into the next, so a
/// statement split over lines (`"... FROM \` then `files f ..."`) is seen too; comment lines
/// are left out.
fn check_no_domain_sql_above_core(root: &Path, files: &[PathBuf]) -> Vec<String> {
    let above: Vec<PathBuf> = ["codedb-commands", "codedb-server", "codedb-cli"]
        .iter()
        .map(|c| root.join("crates").join(c).join("src"))
        .collect();
    let mut problems = Vec::new();
    for file in files
        .iter()
        .filter(|f| above.iter().any(|a| f.starts_with(a)))
    {
        let Ok(text) = fs::read_to_string(file) else {
            continue;
        };
        let open = lines_ending_in_a_string(&text);
        // Every word of the file's code lines, with its line number, in one sequence.
        let words: Vec<(usize, String)> = text
            .lines()
            .enumerate()
            .filter(|(_, line)| !line.trim_start().starts_with("//"))
            .flat_map(|(n, line)| {
                line.split(|c: char| !(c.is_alphanumeric() || c == '_'))
                    .filter(|w| !w.is_empty())
                    .map(move |w| (n + 1, w.to_ascii_lowercase()))
            })
            .collect();
        for w in words.windows(2) {
            // Words of two lines follow each other only inside a string literal.
            let adjacent = w[0].0 == w[1].0 || (w[0].0..w[1].0).all(|n| open[n - 1]);
            if adjacent
                && matches!(
                    w[0].1.as_str(),
                    "from" | "join" | "into" | "update" | "table"
                )
                && CODE_TABLES.contains(&w[1].1.as_str())
            {
                problems.push(format!(
                    "{}:{}: SQL on the code table `{}` above codedb-core; add a CodeStore or \
                     HistoryStore method instead",
                    relative(root, file),
                    w[0].0,
                    w[1].1
                ));
            }
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workspace_root;

    fn meta() -> Metadata {
        metadata(&workspace_root()).expect("cargo metadata")
    }

    #[test]
    fn crates_depend_only_on_lower_layers() {
        let problems = check_layering(&meta());
        assert!(problems.is_empty(), "{problems:#?}");
    }

    #[test]
    fn only_codedb_sqlite_names_rusqlite_or_r2d2_and_only_the_cli_installs_a_subscriber() {
        let problems = check_owned_crates(&meta());
        assert!(problems.is_empty(), "{problems:#?}");
        let root = workspace_root();
        let problems = check_backend_names_in_source(&root, &rust_files(&root));
        assert!(problems.is_empty(), "{problems:#?}");
    }

    #[test]
    fn every_rust_file_opens_with_a_module_doc() {
        let root = workspace_root();
        let problems = check_module_docs(&root, &rust_files(&root));
        assert!(problems.is_empty(), "{problems:#?}");
    }

    #[test]
    fn no_crate_above_core_runs_sql_on_the_code_tables() {
        let root = workspace_root();
        let problems = check_no_domain_sql_above_core(&root, &rust_files(&root));
        assert!(problems.is_empty(), "{problems:#?}");
    }

    #[test]
    fn only_dialect_rs_names_a_backend_of_the_dialect() {
        let root = workspace_root();
        let problems = check_dialect_named_only_in_dialect(&root, &rust_files(&root));
        assert!(problems.is_empty(), "{problems:#?}");
    }

    #[test]
    fn no_test_is_ignored() {
        let root = workspace_root();
        let problems = check_no_ignored_tests(&root, &rust_files(&root));
        assert!(problems.is_empty(), "{problems:#?}");
    }

    #[test]
    fn the_checks_catch_violations() {
        let meta = Metadata {
            workspace_members: vec!["core".into(), "new".into()],
            packages: vec![
                Package {
                    name: "codedb-core".into(),
                    id: "core".into(),
                    dependencies: vec![
                        Dependency {
                            name: "codedb-sqlite".into(),
                            kind: None,
                        },
                        Dependency {
                            name: "rusqlite".into(),
                            kind: Some("dev".into()),
                        },
                        Dependency {
                            name: "tracing-subscriber".into(),
                            kind: None,
                        },
                    ],
                },
                Package {
                    name: "codedb-new".into(),
                    id: "new".into(),
                    dependencies: vec![],
                },
            ],
        };
        let layering = check_layering(&meta);
        assert!(
            layering
                .iter()
                .any(|p| p.contains("codedb-core may not have codedb-sqlite as a dependency")),
            "{layering:?}"
        );
        assert!(
            layering
                .iter()
                .any(|p| p.contains("codedb-new is not in the layering table")),
            "{layering:?}"
        );
        let owned = check_owned_crates(&meta);
        assert!(
            owned.iter().any(|p| p.contains("depends on rusqlite")),
            "{owned:?}"
        );
        assert!(
            owned.iter().any(|p| p.contains("tracing-subscriber")),
            "{owned:?}"
        );

        let dir = std::env::temp_dir().join(format!("codedb-tidy-{}", std::process::id()));
        fs::create_dir_all(dir.join("crates/codedb-core/src")).unwrap();
        let bad = dir.join("crates/codedb-core/src/bad.rs");
        fs::write(
            &bad,
            format!("use rusqlite::Connection;\n#[{}]\nfn t() {{}}\n", "ignore"),
        )
        .unwrap();
        let files = rust_files(&dir);
        assert_eq!(check_module_docs(&dir, &files).len(), 1);
        assert_eq!(check_no_ignored_tests(&dir, &files).len(), 1);
        assert_eq!(check_backend_names_in_source(&dir, &files).len(), 1);
        fs::create_dir_all(dir.join("crates/codedb-server/src")).unwrap();
        fs::write(
            dir.join("crates/codedb-server/src/sql.rs"),
            "//! x\nlet q = \"SELECT f.path FROM files f\";\n// FROM files in a comment\nlet ok = \"read from filesystem\";\n",
        )
        .unwrap();
        let files = rust_files(&dir);
        let sql = check_no_domain_sql_above_core(&dir, &files);
        assert_eq!(sql.len(), 1, "{sql:?}");
        assert!(
            sql[0].contains("sql.rs:2") && sql[0].contains("`files`"),
            "{sql:?}"
        );
        // A statement split over lines, and the `meta` table.
        fs::write(
            dir.join("crates/codedb-server/src/sql_lines.rs"),
            "//! x\nlet q = \"SELECT id FROM \\\n    files WHERE deleted = 0\";\n\
             let u = \"UPDATE\n  commands SET git_commit = ?1\";\n\
             let m = \"SELECT value FROM meta\";\n",
        )
        .unwrap();
        let files = rust_files(&dir);
        let sql = check_no_domain_sql_above_core(&dir, &files);
        let lines: Vec<&String> = sql.iter().filter(|p| p.contains("sql_lines.rs")).collect();
        assert_eq!(lines.len(), 3, "{sql:?}");
        assert!(
            lines[0].contains("sql_lines.rs:2") && lines[0].contains("`files`"),
            "{sql:?}"
        );
        assert!(
            lines[1].contains("sql_lines.rs:4") && lines[1].contains("`commands`"),
            "{sql:?}"
        );
        assert!(lines[2].contains("`meta`"), "{sql:?}");

        fs::write(
            dir.join("crates/codedb-server/src/dialect_use.rs"),
            "//! x\nif d == codedb_core::Dialect::Sqlite {}\n// Dialect::Postgres in a comment\n\
             #[cfg(test)]\nmod tests { const D: Dialect = Dialect::Postgres; }\n",
        )
        .unwrap();
        fs::create_dir_all(dir.join("crates/codedb-server/tests")).unwrap();
        fs::write(
            dir.join("crates/codedb-server/tests/t.rs"),
            "//! x\nlet d = Dialect::Postgres;\n",
        )
        .unwrap();
        let files = rust_files(&dir);
        let dialect = check_dialect_named_only_in_dialect(&dir, &files);
        assert_eq!(dialect.len(), 1, "{dialect:?}");
        assert!(
            dialect[0].contains("dialect_use.rs:2") && dialect[0].contains("Dialect::Sqlite"),
            "{dialect:?}"
        );
        fs::remove_dir_all(&dir).unwrap();
    }
}
