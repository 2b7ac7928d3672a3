//! The admin RPC client: JSON-RPC 2.0 over HTTP/1.1 on the daemon's Unix socket or a TCP port.
//!
//! hyper's low-level connection API keeps the dependency tree small and lets one connection be
//! reused across calls. Calls run concurrently from spawned tasks, so idle connections sit in a
//! tiny pool: usually exactly one, a second one only while two calls overlap.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use mama_api::rpc::{Method, RpcRequest, RpcResponse};
use mama_api::ApiError;
use serde_json::Value;

/// Where the daemon listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    Unix(PathBuf),
    /// `host:port` of a plain-HTTP admin listener.
    Tcp(String),
}

impl Endpoint {
    /// Parses `--server http://HOST:PORT`. Only plain HTTP: TLS belongs in front of the daemon
    /// (an SSH tunnel or a proxy), not in the TUI.
    pub fn from_server_url(url: &str) -> Result<Self, String> {
        let uri: hyper::Uri = url.parse().map_err(|e| format!("--server {url}: {e}"))?;
        match uri.scheme_str() {
            Some("http") | None => {}
            Some(other) => {
                return Err(format!(
                    "--server {url}: scheme {other} is not supported; use http://HOST:PORT"
                ))
            }
        }
        let authority = uri
            .authority()
            .ok_or_else(|| format!("--server {url}: expected http://HOST:PORT"))?;
        let port = authority.port_u16().unwrap_or(80);
        Ok(Endpoint::Tcp(format!("{}:{port}", authority.host())))
    }

    /// What the status line shows.
    pub fn describe(&self) -> String {
        match self {
            Endpoint::Unix(path) => format!("unix:{}", path.display()),
            Endpoint::Tcp(addr) => format!("http://{addr}"),
        }
    }

    fn host_header(&self) -> &str {
        match self {
            Endpoint::Unix(_) => "localhost",
            Endpoint::Tcp(addr) => addr,
        }
    }
}

/// Why a call failed. `Api` is the daemon's answer; the others mean no answer was read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ClientError {
    #[error("{0}")]
    Api(ApiError),
    #[error("cannot reach the daemon: {0}")]
    Connect(String),
    #[error("the daemon did not answer in time")]
    Timeout,
    #[error("unexpected answer from the daemon: {0}")]
    Protocol(String),
    /// A local failure (reading or writing a file).
    #[error("{0}")]
    Local(String),
}

impl ClientError {
    pub fn api(&self) -> Option<&ApiError> {
        match self {
            ClientError::Api(err) => Some(err),
            _ => None,
        }
    }
}

/// Methods that may be retried after a connection the server closed: they change nothing.
fn is_read_only(method: &str) -> bool {
    method.ends_with(".list")
        || method.ends_with(".get")
        || method == "sync.status"
        || method == "auth.whoami"
}

/// Largest answer accepted; a page of 1000 users is a few hundred KiB.
const MAX_BODY: usize = 64 * 1024 * 1024;

pub struct RpcClient {
    endpoint: Endpoint,
    idle: Mutex<Vec<SendRequest<Full<Bytes>>>>,
    next_id: AtomicU64,
    timeout: Duration,
}

impl RpcClient {
    pub fn new(endpoint: Endpoint, timeout: Duration) -> Self {
        RpcClient {
            endpoint,
            idle: Mutex::new(Vec::new()),
            next_id: AtomicU64::new(1),
            timeout,
        }
    }

    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// Calls method `M` and decodes its answer; a result of another shape is a protocol error.
    pub async fn call_typed<M: Method>(
        &self,
        params: &M::Params,
        token: Option<&str>,
    ) -> Result<M::Output, ClientError> {
        let value = self.call(M::NAME, encode(params)?, token).await?;
        decode_as(value)
    }

    /// Calls `method`, bounded by the per-request timeout.
    pub async fn call(
        &self,
        method: &str,
        params: Value,
        token: Option<&str>,
    ) -> Result<Value, ClientError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let body = serde_json::to_vec(&RpcRequest::new(id, method, params))
            .map_err(|e| ClientError::Protocol(e.to_string()))?;
        let body = Bytes::from(body);
        match tokio::time::timeout(self.timeout, self.send(method, body, token)).await {
            Ok(result) => result,
            Err(_) => Err(ClientError::Timeout),
        }
    }

    async fn send(
        &self,
        method: &str,
        body: Bytes,
        token: Option<&str>,
    ) -> Result<Value, ClientError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let (mut sender, reused) = match self.take_idle() {
                Some(sender) => (sender, true),
                None => (self.connect().await?, false),
            };
            let request = self.request(body.clone(), token)?;
            let sent = match sender.ready().await {
                Ok(()) => sender.send_request(request).await,
                Err(err) => Err(err),
            };
            let response = match sent {
                Ok(response) => response,
                // A kept-alive connection the daemon closed meanwhile: retry on a fresh one when
                // the request surely was not processed, or when repeating it is harmless.
                Err(err)
                    if reused && attempt == 1 && (err.is_canceled() || is_read_only(method)) =>
                {
                    continue
                }
                Err(err) => return Err(ClientError::Connect(err.to_string())),
            };
            let status = response.status();
            let collected = response
                .into_body()
                .collect()
                .await
                .map_err(|e| ClientError::Connect(e.to_string()))?
                .to_bytes();
            if collected.len() > MAX_BODY {
                return Err(ClientError::Protocol("answer too large".into()));
            }
            self.put_idle(sender);
            // The body is read whatever the status: failures carry the JSON-RPC error object.
            let parsed: RpcResponse = serde_json::from_slice(&collected).map_err(|_| {
                ClientError::Protocol(format!("HTTP {status} without a JSON-RPC body"))
            })?;
            return parsed.into_result().map_err(ClientError::Api);
        }
    }

    fn request(
        &self,
        body: Bytes,
        token: Option<&str>,
    ) -> Result<hyper::Request<Full<Bytes>>, ClientError> {
        let mut builder = hyper::Request::builder()
            .method(hyper::Method::POST)
            .uri("/rpc")
            .header(hyper::header::HOST, self.endpoint.host_header())
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .header(hyper::header::ACCEPT, "application/json");
        if let Some(token) = token {
            builder = builder.header(hyper::header::AUTHORIZATION, format!("Bearer {token}"));
        }
        builder
            .body(Full::new(body))
            .map_err(|e| ClientError::Protocol(e.to_string()))
    }

    fn take_idle(&self) -> Option<SendRequest<Full<Bytes>>> {
        let mut idle = self
            .idle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        while let Some(sender) = idle.pop() {
            if !sender.is_closed() {
                return Some(sender);
            }
        }
        None
    }

    fn put_idle(&self, sender: SendRequest<Full<Bytes>>) {
        if sender.is_closed() {
            return;
        }
        let mut idle = self
            .idle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if idle.len() < 4 {
            idle.push(sender);
        }
    }

    async fn connect(&self) -> Result<SendRequest<Full<Bytes>>, ClientError> {
        let connect_err =
            |e: std::io::Error| ClientError::Connect(format!("{}: {e}", self.endpoint.describe()));
        match &self.endpoint {
            Endpoint::Unix(path) => {
                let stream = tokio::net::UnixStream::connect(path)
                    .await
                    .map_err(connect_err)?;
                handshake(TokioIo::new(stream)).await
            }
            Endpoint::Tcp(addr) => {
                let stream = tokio::net::TcpStream::connect(addr)
                    .await
                    .map_err(connect_err)?;
                // Small JSON calls: latency matters more than packet count.
                let _ = stream.set_nodelay(true);
                handshake(TokioIo::new(stream)).await
            }
        }
    }
}

async fn handshake<T>(io: TokioIo<T>) -> Result<SendRequest<Full<Bytes>>, ClientError>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (sender, connection) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| ClientError::Connect(e.to_string()))?;
    // The connection task ends when the sender is dropped or the daemon closes the socket.
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(sender)
}

/// Params as JSON; a value that cannot be encoded is a protocol error, not a panic.
pub(crate) fn encode<P: serde::Serialize>(params: &P) -> Result<Value, ClientError> {
    serde_json::to_value(params).map_err(|e| ClientError::Protocol(e.to_string()))
}

/// A result as its declared type; a mismatch is a protocol error, not a panic.
pub(crate) fn decode_as<T: serde::de::DeserializeOwned>(value: Value) -> Result<T, ClientError> {
    serde_json::from_value(value).map_err(|e| ClientError::Protocol(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_urls() {
        assert_eq!(
            Endpoint::from_server_url("http://127.0.0.1:8687"),
            Ok(Endpoint::Tcp("127.0.0.1:8687".into()))
        );
        assert_eq!(
            Endpoint::from_server_url("http://mama.local"),
            Ok(Endpoint::Tcp("mama.local:80".into()))
        );
        assert!(Endpoint::from_server_url("https://x:1").is_err());
    }
}
