//! Driving `codedb serve --http` from a test: the real binary on a loopback port, and a raw
//! HTTP/1.1 client, so that hostile requests can be sent as they are.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::git;

/// A running `codedb serve --http 127.0.0.1:0`: the child and the address it printed.
pub struct Served {
    pub child: Child,
    pub addr: String,
    pub stderr: std::sync::mpsc::Receiver<String>,
}

impl Served {
    pub fn start(root: &Path) -> Served {
        Self::start_with(root, &[])
    }

    pub fn start_with(root: &Path, extra: &[&str]) -> Served {
        let mut child = Command::new(env!("CARGO_BIN_EXE_codedb"))
            .args(["serve", "--http", "127.0.0.1:0", "--root"])
            .arg(root)
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let err = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(60);
        let addr = loop {
            let line = rx
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                .expect("the server printed its address");
            if let Some(rest) = line.split("serving MCP on http://").nth(1) {
                break rest.trim_end_matches("/mcp").to_owned();
            }
        };
        Served {
            child,
            addr,
            stderr: rx,
        }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP/1.1 request on a connection of its own: status, headers (lower case) and body.
pub fn request(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, String, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    // A refused request may be answered (and closed) before its body is all sent.
    let _ = s
        .write_all(head.as_bytes())
        .and_then(|()| s.write_all(body));
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    parse_response(&raw)
}

pub fn parse_response(raw: &[u8]) -> (u16, String, String) {
    let text = String::from_utf8_lossy(raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP answer: {text:?}"));
    (status, head.to_ascii_lowercase(), body.to_owned())
}

/// An MCP POST with `token`, the usual headers and `extra` ones.
pub fn mcp(addr: &str, token: &str, extra: &[(&str, &str)], body: &Value) -> (u16, String, Value) {
    let auth = format!("Bearer {token}");
    let mut headers = vec![
        ("Authorization", auth.as_str()),
        ("Content-Type", "application/json"),
        ("Accept", "application/json, text/event-stream"),
    ];
    headers.extend_from_slice(extra);
    let (status, head, body) = request(addr, "POST", "/mcp", &headers, body.to_string().as_bytes());
    let value = serde_json::from_str(&body).unwrap_or(Value::String(body));
    (status, head, value)
}

pub fn call(addr: &str, token: &str, id: u64, tool: &str, arguments: Value) -> Value {
    let (status, _, answer) = mcp(
        addr,
        token,
        &[],
        &json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
                "params": {"name": tool, "arguments": arguments}}),
    );
    assert_eq!(status, 200, "{answer}");
    answer
}

pub fn token_of(root: &Path) -> String {
    std::fs::read_to_string(root.join(".codedb/token"))
        .unwrap()
        .trim()
        .to_owned()
}

pub fn init_repo(root: &Path, file: &str, text: &str) {
    std::fs::create_dir_all(root).unwrap();
    std::fs::write(root.join(file), text).unwrap();
    git(root, &["init", "-q", "-b", "main"]);
    git(root, &["config", "user.email", "test@example.com"]);
    git(root, &["config", "user.name", "test"]);
    git(root, &["add", "-A"]);
    git(root, &["commit", "-q", "-m", "init"]);
}

/// The answer's structured result, or its JSON-RPC error message prefixed `ERROR: `.
pub fn result(answer: &Value) -> Result<&Value, String> {
    match answer.get("error") {
        Some(e) => Err(format!("ERROR: {e}")),
        None => Ok(&answer["result"]["structuredContent"]),
    }
}

/// A tool call that may fail without failing the test: the answer (HTTP 200), or why there
/// was none (a refused or broken connection, another status). `id` is the JSON-RPC id.
pub fn try_call(
    addr: &str,
    token: &str,
    id: u64,
    tool: &str,
    arguments: &Value,
) -> Result<Value, String> {
    let body = json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
                      "params": {"name": tool, "arguments": arguments}})
    .to_string();
    let mut s = TcpStream::connect(addr).map_err(|e| format!("connect: {e}"))?;
    s.set_read_timeout(Some(Duration::from_secs(60)))
        .map_err(|e| e.to_string())?;
    let head = format!(
        "POST /mcp HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\n\
         Content-Length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes())
        .and_then(|()| s.write_all(body.as_bytes()))
        .map_err(|e| format!("send: {e}"))?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).map_err(|e| format!("read: {e}"))?;
    if raw.is_empty() {
        return Err("no answer".into());
    }
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    if !head.starts_with("HTTP/1.1 200") {
        return Err(format!("{head}: {body}"));
    }
    serde_json::from_str(body).map_err(|e| format!("{e}: {body}"))
}
