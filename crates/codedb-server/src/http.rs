//! MCP over streamable HTTP (`codedb serve --http ADDR`): rmcp's server transport
//! (`StreamableHttpService`, stateless, JSON answers) served by hyper at `/mcp`, behind
//! the checks a shared server needs, each made before rmcp sees the request:
//!
//! 1. the path is `/mcp` (else 404);
//! 2. an `Origin` header, when present, is one of `server.allowed_origins` (default: the
//!    loopback origins `http://localhost`, `http://127.0.0.1`, `http://[::1]`, any port),
//!    else 403, as the MCP specification asks of HTTP servers (DNS rebinding);
//! 3. `Authorization: Bearer TOKEN` matches the server's token, compared in constant time,
//!    else 401 with `WWW-Authenticate: Bearer` (nothing is read or done);
//! 4. the body is read up to `server.max_request_bytes` (else 413 with a JSON-RPC error)
//!    and must be JSON (else 400 with a JSON-RPC parse error, -32700); a `tools/call`
//!    whose `arguments` is not an object gets invalid params (-32602);
//! 5. rmcp answers; a JSON answer larger than `server.max_response_bytes` is replaced by a
//!    JSON-RPC error naming the limit (the call itself ran: a write landed or not as its
//!    report would have said, see `history`).
//!
//! Every refusal is an answer with a clear message; the server keeps serving. Each
//! connection is a task of its own, so a client that never reads its answer holds up no
//! one else; a request's headers must arrive within [`HEADER_TIMEOUT`].
//!
//! The token is `server.token` when the configuration names one, else the content of
//! `.codedb/token`, generated (32 random bytes, hex) on first start with mode 0600. A
//! non-loopback address is refused unless `server.token` is set: a token that lives only
//! in a file on this machine cannot have been handed to a remote client on purpose.
//!
//! Shutdown (SIGINT/SIGTERM): the listener closes, requests in flight run to their answer
//! (at most [`DRAIN_LIMIT`]), then the runtime waits for blocking tool calls and the
//! server stops.

use std::convert::Infallible;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use serde_json::{Value, json};

use crate::mcp::CodedbMcp;
use crate::server::{Server, StartError};

/// The MCP endpoint's path.
pub const ENDPOINT: &str = "/mcp";
/// How long a client may take to send a request's headers.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(30);
/// How long requests in flight are waited for at shutdown.
pub const DRAIN_LIMIT: Duration = Duration::from_secs(120);
/// The token file under the project root.
pub const TOKEN_FILE: &str = ".codedb/token";

/// What the HTTP transport needs, resolved from the configuration and the command line.
#[derive(Clone)]
pub struct HttpOptions {
    /// Where to listen.
    pub addr: SocketAddr,
    /// The bearer token every request must carry.
    pub token: String,
    /// The largest request body read, in bytes.
    pub max_request_bytes: usize,
    /// The largest answer sent, in bytes.
    pub max_response_bytes: usize,
    /// `Origin` values accepted (`scheme://host[:port]`; `:*` any port).
    pub allowed_origins: Vec<String>,
}

impl std::fmt::Debug for HttpOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpOptions")
            .field("addr", &self.addr)
            .field("token", &"<redacted>")
            .field("max_request_bytes", &self.max_request_bytes)
            .field("max_response_bytes", &self.max_response_bytes)
            .field("allowed_origins", &self.allowed_origins)
            .finish()
    }
}

/// `ADDR` as the command line and `server.http` take it: `HOST:PORT`, or a bare port
/// (then 127.0.0.1).
pub fn parse_addr(text: &str) -> Result<SocketAddr, String> {
    let text = text.trim();
    if let Ok(port) = text.parse::<u16>() {
        return Ok(SocketAddr::from(([127, 0, 0, 1], port)));
    }
    text.parse::<SocketAddr>().map_err(|_| {
        format!(
            "{text:?} is not an address to listen on (HOST:PORT, e.g. 127.0.0.1:8765, or a port)"
        )
    })
}

impl HttpOptions {
    /// The options for serving `root` with `config` on `addr` (the command line's, else
    /// `server.http`): the token resolved (configured, or read or generated in
    /// `.codedb/token`), a non-loopback address without a configured token refused.
    pub fn resolve(
        root: &Path,
        config: &crate::Config,
        addr: Option<&str>,
    ) -> Result<HttpOptions, StartError> {
        let text = addr
            .or(config.server.http.as_deref())
            .unwrap_or("127.0.0.1:8765");
        let addr = parse_addr(text).map_err(StartError::Serve)?;
        let token = match &config.server.token {
            Some(t) => t.clone(),
            None if !addr.ip().is_loopback() => {
                return Err(StartError::Serve(format!(
                    "refusing to listen on {addr}: not a loopback address, and server.token is \
                     not set (set a token in codedb.toml to serve other machines)"
                )));
            }
            None => token_file(root)?,
        };
        Ok(HttpOptions {
            addr,
            token,
            max_request_bytes: config.server.max_request_bytes as usize,
            max_response_bytes: config.server.max_response_bytes as usize,
            allowed_origins: config.server.allowed_origins.clone().unwrap_or_else(|| {
                ["http://localhost:*", "http://127.0.0.1:*", "http://[::1]:*"]
                    .map(String::from)
                    .to_vec()
            }),
        })
    }
}

/// The token in `ROOT/.codedb/token`, generated (mode 0600, written before it is used)
/// when absent. A token file others can read is refused.
fn token_file(root: &Path) -> Result<String, StartError> {
    let path: PathBuf = root.join(TOKEN_FILE);
    let fail = |what: &str, e: std::io::Error| {
        StartError::Serve(format!("{}: cannot {what}: {e}", path.display()))
    };
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let mode = std::fs::metadata(&path)
                    .map_err(|e| fail("read", e))?
                    .permissions()
                    .mode();
                if mode & 0o077 != 0 {
                    return Err(StartError::Serve(format!(
                        "{}: mode {:o} lets others read the token; make it 0600 \
                         (chmod 600) or remove it for a new one",
                        path.display(),
                        mode & 0o777
                    )));
                }
            }
            let token = text.trim().to_owned();
            if token.len() < 16 {
                return Err(StartError::Serve(format!(
                    "{}: the token is shorter than 16 characters; remove the file for a new one",
                    path.display()
                )));
            }
            Ok(token)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            codedb_commands::create_state_dir(&root.join(codedb_commands::STATE_DIR)).map_err(
                |e| StartError::Serve(format!("cannot create {}/.codedb: {e}", root.display())),
            )?;
            let mut bytes = [0u8; 32];
            std::fs::File::open("/dev/urandom")
                .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut bytes))
                .map_err(|e| fail("generate a token from /dev/urandom", e))?;
            let token = codedb_commands::hex(&bytes);
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let mut file = options.open(&path).map_err(|e| fail("create", e))?;
            file.write_all(format!("{token}\n").as_bytes())
                .and_then(|()| file.sync_all())
                .map_err(|e| fail("write", e))?;
            tracing::info!(path = %path.display(), "generated a bearer token");
            Ok(token)
        }
        Err(e) => Err(fail("read", e)),
    }
}

/// Whether `given` equals `expected`, in time that depends only on their lengths.
pub fn token_matches(given: &[u8], expected: &[u8]) -> bool {
    let mut diff = u8::from(given.len() != expected.len());
    for (i, e) in expected.iter().enumerate() {
        diff |= e ^ given.get(i).copied().unwrap_or(!e);
    }
    diff == 0
}

/// Whether the `Origin` value `origin` is one of `allowed` (scheme, host, and port; an
/// entry ending in `:*` takes any port).
fn origin_allowed(origin: &str, allowed: &[String]) -> bool {
    allowed.iter().any(|a| match a.strip_suffix(":*") {
        Some(base) => {
            origin == base
                || origin
                    .strip_prefix(base)
                    .and_then(|rest| rest.strip_prefix(':'))
                    .is_some_and(|port| {
                        !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit())
                    })
        }
        None => origin == a,
    })
}

type Body = http_body_util::combinators::BoxBody<Bytes, Infallible>;

fn answer(status: StatusCode, value: &Value) -> Response<Body> {
    let mut r = Response::new(Full::new(Bytes::from(value.to_string())).boxed());
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

/// A JSON-RPC error answer (`id` null when unknown) with an HTTP status.
fn rpc_error(status: StatusCode, id: Value, code: i64, message: String) -> Response<Body> {
    answer(
        status,
        &json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}}),
    )
}

/// The shared state of every connection.
struct Gate {
    options: HttpOptions,
    mcp: StreamableHttpService<CodedbMcp, NeverSessionManager>,
}

impl Gate {
    async fn handle(&self, request: Request<Incoming>) -> Response<Body> {
        if request.uri().path() != ENDPOINT {
            return answer(
                StatusCode::NOT_FOUND,
                &json!({"error": format!("not found: the MCP endpoint is {ENDPOINT}")}),
            );
        }
        if let Some(origin) = request.headers().get(header::ORIGIN) {
            let ok = origin
                .to_str()
                .is_ok_and(|o| origin_allowed(o, &self.options.allowed_origins));
            if !ok {
                tracing::warn!(origin = ?origin, "refused a request from a foreign origin");
                return answer(
                    StatusCode::FORBIDDEN,
                    &json!({"error": format!(
                        "origin {:?} is not allowed (server.allowed_origins)",
                        String::from_utf8_lossy(origin.as_bytes())
                    )}),
                );
            }
        }
        let token = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.as_bytes().strip_prefix(b"Bearer "))
            .unwrap_or_default();
        if !token_matches(token, self.options.token.as_bytes()) {
            let mut r = answer(
                StatusCode::UNAUTHORIZED,
                &json!({"error": "missing or wrong bearer token (Authorization: Bearer TOKEN; \
                                  the token is server.token or .codedb/token)"}),
            );
            r.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            return r;
        }
        if request.method() != Method::POST {
            return self
                .forward(request.map(|_| Full::new(Bytes::new()).boxed()))
                .await;
        }
        let (parts, body) = request.into_parts();
        let limit = self.options.max_request_bytes;
        let bytes = match Limited::new(body, limit).collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(e) if e.is::<http_body_util::LengthLimitError>() => {
                return rpc_error(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    Value::Null,
                    -32600,
                    format!("request body larger than server.max_request_bytes ({limit} bytes)"),
                );
            }
            Err(e) => {
                return rpc_error(
                    StatusCode::BAD_REQUEST,
                    Value::Null,
                    -32600,
                    format!("cannot read the request body: {e}"),
                );
            }
        };
        let message: Value = match serde_json::from_slice(&bytes) {
            Ok(v) => v,
            Err(e) => {
                return rpc_error(
                    StatusCode::BAD_REQUEST,
                    Value::Null,
                    -32700,
                    format!("parse error: the body is not JSON: {e}"),
                );
            }
        };
        let id = message.get("id").cloned().unwrap_or(Value::Null);
        if message.get("method").and_then(Value::as_str) == Some("tools/call") {
            let arguments = message.pointer("/params/arguments");
            if arguments.is_some_and(|a| !a.is_object() && !a.is_null()) {
                return rpc_error(
                    StatusCode::OK,
                    id,
                    -32602,
                    "invalid params: tools/call arguments must be an object".into(),
                );
            }
        }
        let request = Request::from_parts(parts, Full::new(bytes).boxed());
        let response = self.forward(request).await;
        self.limit_answer(response, id).await
    }

    async fn forward(&self, request: Request<Body>) -> Response<Body> {
        self.mcp.handle(request).await
    }

    /// A JSON answer over `max_response_bytes` becomes an error naming the limit; an
    /// event stream passes as it is (its events are the answers of one call).
    async fn limit_answer(&self, response: Response<Body>, id: Value) -> Response<Body> {
        let json = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        if !json {
            return response;
        }
        let limit = self.options.max_response_bytes;
        let (parts, body) = response.into_parts();
        match Limited::new(body, limit).collect().await {
            Ok(collected) => Response::from_parts(parts, Full::new(collected.to_bytes()).boxed()),
            Err(_) => rpc_error(
                StatusCode::OK,
                id,
                -32603,
                format!(
                    "the answer is larger than server.max_response_bytes ({limit} bytes); \
                     ask for less (a limit, a narrower query)"
                ),
            ),
        }
    }
}

/// Binds `options.addr`; the listener and the address it got (port 0 picks one).
pub async fn bind(options: &HttpOptions) -> Result<(tokio::net::TcpListener, SocketAddr), String> {
    let listener = tokio::net::TcpListener::bind(options.addr)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", options.addr))?;
    let local = listener
        .local_addr()
        .map_err(|e| format!("cannot read the bound address: {e}"))?;
    Ok((listener, local))
}

/// Serves MCP on `listener` until `shutdown` resolves; then lets the requests in flight
/// finish (at most [`DRAIN_LIMIT`]).
pub async fn run(
    server: Arc<Server>,
    options: HttpOptions,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let config = StreamableHttpServerConfig::default()
        .with_legacy_session_mode(false)
        .with_json_response(true)
        .with_sse_keep_alive(None)
        .disable_allowed_hosts()
        .with_max_request_body_bytes(options.max_request_bytes);
    let factory_server = Arc::clone(&server);
    let mcp = StreamableHttpService::new(
        move || Ok(CodedbMcp::new(Arc::clone(&factory_server))),
        Arc::new(NeverSessionManager::default()),
        config,
    );
    let gate = Arc::new(Gate { options, mcp });
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT)
        .keep_alive(true);
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            () = &mut shutdown => break,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // Too many open files and the like: wait a little, keep serving.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let gate = Arc::clone(&gate);
        let service = hyper::service::service_fn(move |request| {
            let gate = Arc::clone(&gate);
            async move { Ok::<_, Infallible>(gate.handle(request).await) }
        });
        let connection = builder.serve_connection(TokioIo::new(stream), service);
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    tracing::info!(
        step = "shutdown",
        "signal received; no new connections, draining"
    );
    if tokio::time::timeout(DRAIN_LIMIT, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("requests still running after the drain limit; stopping anyway");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_compare_whole() {
        assert!(token_matches(b"abcdef0123456789", b"abcdef0123456789"));
        assert!(!token_matches(b"abcdef012345678", b"abcdef0123456789"));
        assert!(!token_matches(b"abcdef01234567890", b"abcdef0123456789"));
        assert!(!token_matches(b"abcdef0123456788", b"abcdef0123456789"));
        assert!(!token_matches(b"", b"abcdef0123456789"));
    }

    #[test]
    fn origins_match_scheme_host_and_port() {
        let allowed = vec![
            "http://localhost:*".to_owned(),
            "https://app.example.com".to_owned(),
        ];
        assert!(origin_allowed("http://localhost:3000", &allowed));
        assert!(origin_allowed("http://localhost", &allowed));
        assert!(!origin_allowed("http://localhost.evil.com", &allowed));
        assert!(!origin_allowed("http://localhost:30x0", &allowed));
        assert!(!origin_allowed("https://localhost:3000", &allowed));
        assert!(origin_allowed("https://app.example.com", &allowed));
        assert!(!origin_allowed("https://app.example.com:8443", &allowed));
        assert!(!origin_allowed("null", &allowed));
    }

    #[test]
    fn addresses() {
        assert_eq!(parse_addr("8765").unwrap().to_string(), "127.0.0.1:8765");
        assert_eq!(parse_addr("0.0.0.0:1").unwrap().to_string(), "0.0.0.0:1");
        assert_eq!(parse_addr("[::1]:80").unwrap().to_string(), "[::1]:80");
        assert!(parse_addr("localhost").is_err());
    }
}
