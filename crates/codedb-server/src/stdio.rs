//! MCP over stdin/stdout, between the client and rmcp, with what rmcp's own stdio transport
//! lacks:
//!
//! * a line that is not JSON is answered with a JSON-RPC parse error (-32700), and a
//!   `tools/call` whose `arguments` is not an object with invalid params (-32602; rmcp
//!   would answer "method not found"), instead of being dropped; the server keeps serving;
//! * every request is answered before the server goes: at the end of input, or on a signal,
//!   no new request is read, the ones in flight run to their end, their answers are written
//!   and flushed, and only then does rmcp see its input close ([`Bridge::finish`]);
//! * stdin is read by a thread of its own, so that a signal never waits for a client that
//!   keeps its end open.
//!
//! rmcp reads and writes through in-memory pipes; one task owns stdout, so lines never mix.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, DuplexStream};
use tokio::sync::{Notify, mpsc};

/// The requests rmcp was given and has not answered yet, by JSON-RPC id.
#[derive(Debug, Default)]
struct InFlight {
    ids: Mutex<HashSet<String>>,
    changed: Notify,
}

impl InFlight {
    fn started(&self, id: &Value) {
        self.ids
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id.to_string());
    }

    fn answered(&self, id: &Value) {
        self.ids
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&id.to_string());
        self.changed.notify_waiters();
    }

    fn is_empty(&self) -> bool {
        self.ids
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_empty()
    }

    /// Waits until every request is answered, at most `limit`; whether they were.
    async fn drained(&self, limit: Duration) -> bool {
        let wait = async {
            loop {
                let notified = self.changed.notified();
                if self.is_empty() {
                    return;
                }
                notified.await;
            }
        };
        tokio::time::timeout(limit, wait).await.is_ok()
    }
}

/// The running bridge (see the module docs).
#[derive(Debug)]
pub(crate) struct Bridge {
    in_flight: Arc<InFlight>,
    /// Tells the forwarder to read no more and close rmcp's input once drained.
    stop: Arc<Notify>,
    forwarder: tokio::task::JoinHandle<()>,
    writer: tokio::task::JoinHandle<()>,
}

/// How long the answers of requests in flight are waited for when the server goes.
const DRAIN_LIMIT: Duration = Duration::from_secs(120);

impl Bridge {
    /// Starts it: the pipes to give rmcp, and the bridge.
    pub(crate) fn start() -> ((DuplexStream, DuplexStream), Bridge) {
        let (mut to_rmcp, rmcp_in) = tokio::io::duplex(1 << 20);
        let (rmcp_out, from_rmcp) = tokio::io::duplex(1 << 20);
        let (out_tx, mut out_rx) = mpsc::unbounded_channel::<String>();
        let in_flight = Arc::new(InFlight::default());
        let stop = Arc::new(Notify::new());

        // stdin, on a thread of its own: a blocking read the runtime never waits for.
        let (line_tx, mut line_rx) = mpsc::unbounded_channel::<String>();
        std::thread::Builder::new()
            .name("codedb-stdin".into())
            .spawn(move || {
                use std::io::BufRead;
                for line in std::io::stdin().lock().lines() {
                    let Ok(line) = line else { break };
                    if line_tx.send(line).is_err() {
                        break;
                    }
                }
            })
            .ok();

        let errors = out_tx.clone();
        let tracked = Arc::clone(&in_flight);
        let stopped = Arc::clone(&stop);
        let forwarder = tokio::spawn(async move {
            loop {
                let line = tokio::select! {
                    line = line_rx.recv() => line,
                    () = stopped.notified() => None,
                };
                let Some(line) = line else { break };
                if line.trim().is_empty() {
                    continue;
                }
                match serde_json::from_str::<Value>(&line) {
                    Ok(request) => {
                        if let Some(reply) = invalid_tool_call(&request) {
                            let _ = errors.send(reply.to_string());
                            continue;
                        }
                        if let (Some(id), Some(_)) = (request.get("id"), request.get("method")) {
                            tracked.started(id);
                        }
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
            // No more requests: the ones in flight are answered before rmcp's input closes
            // (rmcp ends its service there).
            if !tracked.drained(DRAIN_LIMIT).await {
                tracing::warn!("some requests were still running after {DRAIN_LIMIT:?}");
            }
            let _ = to_rmcp.shutdown().await;
        });

        let answered = Arc::clone(&in_flight);
        tokio::spawn(async move {
            let mut lines = BufReader::new(from_rmcp).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                let id = serde_json::from_str::<Value>(&line).ok().and_then(|v| {
                    (v.get("result").is_some() || v.get("error").is_some())
                        .then(|| v.get("id").cloned())
                        .flatten()
                });
                if out_tx.send(line).is_err() {
                    break;
                }
                if let Some(id) = id {
                    answered.answered(&id);
                }
            }
        });

        let writer = tokio::spawn(async move {
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
        (
            (rmcp_in, rmcp_out),
            Bridge {
                in_flight,
                stop,
                forwarder,
                writer,
            },
        )
    }

    /// Reads no more requests, waits for the answers of those in flight (bounded), and
    /// closes rmcp's input.
    pub(crate) async fn stop_reading(&self) {
        self.stop.notify_one();
        let _ = self.in_flight.drained(DRAIN_LIMIT).await;
    }

    /// Waits until every answer rmcp produced is written and flushed (bounded).
    pub(crate) async fn finish(self) {
        let _ = tokio::time::timeout(DRAIN_LIMIT, self.forwarder).await;
        let _ = tokio::time::timeout(Duration::from_secs(10), self.writer).await;
    }
}

/// The error answer to a `tools/call` request whose `arguments` is present but not an
/// object, if `request` is one.
fn invalid_tool_call(request: &Value) -> Option<Value> {
    if request.get("method")?.as_str()? != "tools/call" {
        return None;
    }
    let arguments = request.get("params")?.get("arguments")?;
    if arguments.is_object() || arguments.is_null() {
        return None;
    }
    let kind = match arguments {
        Value::Array(_) => "an array",
        Value::String(_) => "a string",
        Value::Number(_) => "a number",
        _ => "a boolean",
    };
    Some(serde_json::json!({
        "jsonrpc": "2.0",
        "id": request.get("id").cloned().unwrap_or(Value::Null),
        "error": {
            "code": -32602,
            "message": format!("Invalid params: tools/call arguments must be an object, not {kind}"),
        }
    }))
}
