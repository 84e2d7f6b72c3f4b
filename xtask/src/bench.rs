//! `cargo xtask bench <name> [--json] [ARGS...]`: builds and runs a benchmark with the bench
//! profile and passes its output through.
//!
//! | name     | what it measures                                   | where it lives                    |
//! |----------|----------------------------------------------------|-----------------------------------|
//! | `worker` | DBWorker chain vs plain rusqlite, round trips, reads under a writer | `crates/codedb-core/benches/worker.rs` |
//! | `schema` | no-op startup sync, a 1M-row rebuild vs sqlite-utils | `crates/codedb-core/benches/schema.rs` |
//! | `index` | indexing sympy: cold, no-op, one file; vs py_indexer.py and a bare parse; then one corpus per language and a mixed one at 1x/4x/16x (`--languages-only`, `--rounds N`) | `crates/codedb-commands/benches/index.rs` |
//! | `refs` | resolved references on sympy: cold vs a bare parse, no-op, one-file and interface re-index, database growth, cost by size | `crates/codedb-commands/benches/refs.rs` |
//! | `map` | `query map --tokens 4000` on sympy: warm and first call, ranking alone, cost by size; aider's repo map when installed | `crates/codedb-commands/benches/map.rs` |
//! | `search` | regex search over the stored source of sympy vs ripgrep over the same tree | `crates/codedb-commands/benches/search.rs` |
//! | `serve` | `codedb serve` over stdio: startup, a search tool call, an edit tool call; symbol/search latency alone and while sympy is indexed cold in the same server | `crates/codedb-cli/benches/serve.rs` |
//! | `edit` | a whole-file edit and a symbol replacement with git commit vs `cp` + `git add` + `git commit` | `crates/codedb-commands/benches/edit.rs` |
//! | `rename` | `rename` of a function with 180 references in 61 files vs a one-file `edit` of the same tree (`--runs N`) | `crates/codedb-commands/benches/rename.rs` |

/// Benchmarks: name -> (package, bench target).
const BENCHES: &[(&str, &str, &str)] = &[
    ("worker", "codedb-core", "worker"),
    ("schema", "codedb-core", "schema"),
    ("index", "codedb-commands", "index"),
    ("edit", "codedb-commands", "edit"),
    ("refs", "codedb-commands", "refs"),
    ("map", "codedb-commands", "map"),
    ("search", "codedb-commands", "search"),
    ("rename", "codedb-commands", "rename"),
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
