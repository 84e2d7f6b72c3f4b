//! codedb's server: a configuration file ([`config`]), a startup and a shutdown in a fixed
//! order ([`Server`]), one [`WorkerManager`] that starts, supervises (restart with backoff)
//! and stops every worker ([`workers`]; the DB worker's monitor, the file watcher and the
//! maintenance worker in [`builtin`]), and the MCP tools over stdio ([`mcp`], with the
//! official `rmcp` SDK).
//!
//! [`serve`] is what `codedb serve` runs: start, serve MCP on stdin/stdout until end of
//! input or SIGINT/SIGTERM, shut down. [`serve_http`] (`codedb serve --http ADDR`) serves
//! MCP over streamable HTTP at `/mcp` instead, with a bearer token ([`http`]).
//!
//! Started from a project root and its configuration, the server recovers interrupted
//! commands, opens and syncs the database, and starts its workers; it stops them in reverse
//! order:
//!
//! ```
//! use codedb_server::{Config, Server};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let config = Config::parse("[watcher]\nenabled = false\n", "codedb.toml".as_ref())?;
//! assert!(!config.watcher.enabled);
//! # let dir = tempfile::tempdir()?;
//! # std::fs::write(dir.path().join("codedb.toml"), "[watcher]\nenabled = false\n")?;
//! let server = Server::start(dir.path(), Some(&dir.path().join("codedb.toml")))?;
//! assert_eq!(server.steps().last().map(String::as_str), Some("ready"));
//! server.shutdown();
//! # Ok(())
//! # }
//! ```

pub mod builtin;
pub mod config;
pub mod http;
pub mod mcp;
mod server;
mod stdio;
pub mod workers;

use std::path::Path;
use std::sync::Arc;

pub use config::{Config, ConfigError};
pub use server::{Server, StartError};
pub use workers::{State, StatusFile, Worker, WorkerContext, WorkerManager, WorkerStatus};

/// Starts the server for `root` (with `config`, or the defaults) and serves MCP over
/// stdio until the client closes its end or a signal arrives; then shuts down in order.
pub fn serve(root: &Path, config: Option<&Path>) -> Result<(), StartError> {
    serve_on(root, config, None)
}

/// [`serve`], with the database `database` instead of the configuration's (the command
/// line's `--db`).
pub fn serve_on(
    root: &Path,
    config: Option<&Path>,
    database: Option<codedb_backends::DatabaseSpec>,
) -> Result<(), StartError> {
    let server = Arc::new(Server::start_on(root, config, database)?);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| StartError::Serve(format!("cannot start the async runtime: {e}")))?;
    let handler = mcp::CodedbMcp::new(Arc::clone(&server));
    let result = runtime.block_on(async move {
        use rmcp::ServiceExt;
        let (transport, bridge) = stdio::Bridge::start();
        let service = handler
            .serve(transport)
            .await
            .map_err(|e| format!("MCP initialization failed: {e}"))?;
        let cancel = service.cancellation_token();
        let mut waiting = tokio::spawn(service.waiting());
        let ended = tokio::select! {
            r = &mut waiting => Some(r),
            () = shutdown_signal() => None,
        };
        let outcome = match ended {
            Some(r) => {
                tracing::info!(step = "shutdown", "end of input");
                r
            }
            None => {
                tracing::info!(step = "shutdown", "signal received; no new requests");
                // The requests in flight are answered, then rmcp's input closes and its
                // service ends by itself.
                bridge.stop_reading().await;
                match tokio::time::timeout(std::time::Duration::from_secs(10), &mut waiting).await {
                    Ok(r) => r,
                    Err(_) => {
                        cancel.cancel();
                        (&mut waiting).await
                    }
                }
            }
        };
        // Every answer rmcp produced is written and flushed before the process goes.
        bridge.finish().await;
        outcome
            .map_err(|e| format!("MCP service failed: {e}"))?
            .map_err(|e| format!("MCP service failed: {e}"))?;
        Ok::<(), String>(())
    });
    // In-flight blocking tool calls finish (each commits or rolls back) before the runtime
    // goes; then the workers and the DB worker stop.
    runtime.shutdown_timeout(std::time::Duration::from_secs(30));
    server.shutdown();
    result.map_err(StartError::Serve)
}

/// Starts the server for `root` and serves MCP over streamable HTTP ([`http`]) on `addr`
/// (else `server.http`, else 127.0.0.1:8765) until SIGINT/SIGTERM; then lets the requests
/// in flight finish and shuts down in order. Once listening, it prints
/// `codedb: serving MCP on http://ADDR/mcp` on stderr.
pub fn serve_http(
    root: &Path,
    config: Option<&Path>,
    database: Option<codedb_backends::DatabaseSpec>,
    addr: Option<&str>,
) -> Result<(), StartError> {
    // The options first: a refused address or token starts nothing.
    let loaded = match config {
        Some(path) => Config::load(path)?,
        None => Config::default(),
    };
    let options = http::HttpOptions::resolve(root, &loaded, addr)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| StartError::Serve(format!("cannot start the async runtime: {e}")))?;
    let (listener, local) = runtime
        .block_on(http::bind(&options))
        .map_err(StartError::Serve)?;
    let server = match Server::start_on(root, config, database) {
        Ok(s) => Arc::new(s),
        Err(e) => {
            runtime.shutdown_background();
            return Err(e);
        }
    };
    tracing::info!(address = %local, "serving MCP over HTTP");
    #[allow(clippy::print_stderr)]
    {
        eprintln!("codedb: serving MCP on http://{local}{}", http::ENDPOINT);
    }
    runtime.block_on(http::run(
        Arc::clone(&server),
        options,
        listener,
        shutdown_signal(),
    ));
    // Blocking tool calls still running (their client gone) finish before the workers stop.
    runtime.shutdown_timeout(std::time::Duration::from_secs(30));
    server.shutdown();
    Ok(())
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) {
            (Ok(mut int), Ok(mut term)) => {
                tokio::select! {
                    _ = int.recv() => {}
                    _ = term.recv() => {}
                }
            }
            _ => std::future::pending::<()>().await,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
