//! codedb's server: a configuration file ([`config`]), a startup and a shutdown in a fixed
//! order ([`Server`]), one [`WorkerManager`] that starts, supervises (restart with backoff)
//! and stops every worker ([`workers`]; the DB worker's monitor, the file watcher and the
//! maintenance worker in [`builtin`]), and the MCP tools over stdio ([`mcp`], with the
//! official `rmcp` SDK).
//!
//! [`serve`] is what `codedb serve` runs: start, serve MCP on stdin/stdout until end of
//! input or SIGINT/SIGTERM, shut down.
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
pub mod mcp;
mod server;
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
        let service = handler
            .serve(checked_stdio())
            .await
            .map_err(|e| format!("MCP initialization failed: {e}"))?;
        let cancel = service.cancellation_token();
        tokio::select! {
            r = service.waiting() => {
                r.map_err(|e| format!("MCP service failed: {e}"))?;
                tracing::info!(step = "shutdown", "end of input");
            }
            () = shutdown_signal() => {
                tracing::info!(step = "shutdown", "signal received; no new requests");
                cancel.cancel();
            }
        }
        Ok::<(), String>(())
    });
    // In-flight blocking tool calls finish (each commits or rolls back) before the runtime
    // goes; then the workers and the DB worker stop.
    runtime.shutdown_timeout(std::time::Duration::from_secs(30));
    server.shutdown();
    result.map_err(StartError::Serve)
}

/// stdin/stdout for rmcp, with two additions: a line that is not JSON is answered with a
/// JSON-RPC parse error (-32700) instead of being dropped, and a `tools/call` whose
/// `arguments` is not an object with an invalid-params error (-32602; rmcp would answer
/// "method not found"); the server keeps serving. rmcp reads and writes through in-memory
/// pipes; one task owns stdout, so lines never mix.
fn checked_stdio() -> (tokio::io::DuplexStream, tokio::io::DuplexStream) {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let (mut to_rmcp, rmcp_in) = tokio::io::duplex(1 << 20);
    let (rmcp_out, from_rmcp) = tokio::io::duplex(1 << 20);
    let (out_tx, mut out_rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let errors = out_tx.clone();
    tokio::spawn(async move {
        let mut lines = BufReader::new(tokio::io::stdin()).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if line.trim().is_empty() {
                continue;
            }
            match serde_json::from_str::<serde_json::Value>(&line) {
                Ok(request) if let Some(reply) = invalid_tool_call(&request) => {
                    let _ = errors.send(reply.to_string());
                }
                Ok(_) => {
                    if to_rmcp.write_all(line.as_bytes()).await.is_err()
                        || to_rmcp.write_all(b"\n").await.is_err()
                    {
                        break;
                    }
                }
                Err(e) => {
                    tracing::warn!("malformed JSON-RPC line: {e}");
                    let reply = serde_json::json!({
                        "jsonrpc": "2.0", "id": null,
                        "error": {"code": -32700, "message": format!("Parse error: {e}")}
                    });
                    let _ = errors.send(reply.to_string());
                }
            }
        }
        // End of input: rmcp sees its input close and the service ends.
        let _ = to_rmcp.shutdown().await;
    });
    tokio::spawn(async move {
        let mut lines = BufReader::new(from_rmcp).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if out_tx.send(line).is_err() {
                break;
            }
        }
    });
    tokio::spawn(async move {
        let mut stdout = tokio::io::stdout();
        while let Some(line) = out_rx.recv().await {
            if stdout.write_all(line.as_bytes()).await.is_err()
                || stdout.write_all(b"\n").await.is_err()
                || stdout.flush().await.is_err()
            {
                break;
            }
        }
    });
    (rmcp_in, rmcp_out)
}

/// The error answer to a `tools/call` request whose `arguments` is present but not an
/// object, if `request` is one.
fn invalid_tool_call(request: &serde_json::Value) -> Option<serde_json::Value> {
    if request.get("method")?.as_str()? != "tools/call" {
        return None;
    }
    let arguments = request.get("params")?.get("arguments")?;
    if arguments.is_object() || arguments.is_null() {
        return None;
    }
    let kind = match arguments {
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Number(_) => "a number",
        _ => "a boolean",
    };
    Some(serde_json::json!({
        "jsonrpc": "2.0",
        "id": request.get("id").cloned().unwrap_or(serde_json::Value::Null),
        "error": {
            "code": -32602,
            "message": format!("Invalid params: tools/call arguments must be an object, not {kind}"),
        }
    }))
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
