//! `codedb`: the command line of codedb.
//!
//! Each subcommand is a thin layer over the library crates: it parses arguments (clap),
//! installs the tracing subscriber (only this binary does; `RUST_LOG` or `-v` choose the
//! level, logs go to stderr), runs one library call and prints the result, as text or, with
//! `--json`, as one JSON object on stdout. Errors go to stderr as `error: ...`; the exit code
//! says what kind of failure it was (`output::Failure`: 1 failed, 2 usage, 3 conflict, 4
//! landed with work left for `recover`).

// clap turns doc comments into help text, where `<placeholders>` are the convention.
#![allow(rustdoc::invalid_html_tags)]

mod cli;
mod commands;
mod config;
mod context;
mod open;
mod output;

use std::process::ExitCode;

use clap::Parser;

/// mimalloc, for Rust and (through its `override` feature) for the C code that parses and
/// stores: glibc's malloc cost about a tenth of a cold index's CPU time, mostly in
/// tree-sitter's many small nodes freed from several threads.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    // The server logs its startup steps by default (stderr is its log; stdout is MCP's).
    let serving = matches!(args.command, cli::Command::Serve { .. });
    init_logging(args.verbose, serving);
    match cli::run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            output::print_error(&err);
            ExitCode::from(err.kind.exit_code())
        }
    }
}

fn init_logging(verbose: u8, serving: bool) {
    use tracing_subscriber::EnvFilter;
    let default = match verbose {
        0 if serving => "warn,codedb_server=info",
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    use std::io::IsTerminal;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .init();
}
