//! `cargo xtask bench <name> [--json] [ARGS...]`: builds and runs a benchmark with the bench
//! profile and passes its output through.
//!
//! | name     | what it measures                                   | where it lives                    |
//! |----------|----------------------------------------------------|-----------------------------------|
//! | `worker` | DBWorker chain vs plain rusqlite, round trips, reads under a writer | `crates/codedb-core/benches/worker.rs` |
//! | `schema` | no-op startup sync, a 1M-row rebuild vs sqlite-utils | `crates/codedb-core/benches/schema.rs` |
//! | `index` | indexing sympy: cold, no-op, one file; vs py_indexer.py and a bare parse | `crates/codedb-commands/benches/index.rs` |
//! | `search` | regex search over the stored source of sympy vs ripgrep over the same tree | `crates/codedb-commands/benches/search.rs` |
//! | `serve` | `codedb serve` over stdio: startup, a search tool call, an edit tool call | `crates/codedb-cli/benches/serve.rs` |
//! | `edit` | a whole-file edit and a symbol replacement with git commit vs `cp` + `git add` + `git commit` | `crates/codedb-commands/benches/edit.rs` |

/// Benchmarks: name -> (package, bench target).
const BENCHES: &[(&str, &str, &str)] = &[
    ("worker", "codedb-core", "worker"),
    ("schema", "codedb-core", "schema"),
    ("index", "codedb-commands", "index"),
    ("edit", "codedb-commands", "edit"),
    ("search", "codedb-commands", "search"),
    ("serve", "codedb-cli", "serve"),
];

pub(crate) fn run(args: &[String]) -> Result<(), String> {
    let Some(name) = args.first() else {
        return Err(format!("usage: cargo xtask bench <{}> [--json]", names()));
    };
    let Some((_, package, target)) = BENCHES.iter().find(|(n, ..)| n == name) else {
        return Err(format!("unknown benchmark {name:?}; known: {}", names()));
    };
    let mut cargo_args = vec!["bench", "-q", "-p", package, "--bench", target, "--"];
    cargo_args.extend(args[1..].iter().map(String::as_str));
    crate::cargo(&cargo_args)
}

fn names() -> String {
    BENCHES
        .iter()
        .map(|(n, ..)| *n)
        .collect::<Vec<_>>()
        .join(" | ")
}
