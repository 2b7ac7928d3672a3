//! A minimal JSON-RPC client for tests, over the daemon's Unix socket or admin TCP port. One
//! connection per call keeps it simple and exercises connection handling too.

use std::net::SocketAddr;
use std::path::PathBuf;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};

#[derive(Debug, Clone)]
enum Target {
    Unix(PathBuf),
    Tcp(SocketAddr),
}

/// What came back: the HTTP status and the JSON-RPC body.
#[derive(Debug, Clone)]
pub struct RpcReply {
    pub status: u16,
    pub body: Value,
}

impl RpcReply {
    /// The result; panics with the error when the call failed.
    pub fn ok(&self) -> &Value {
        assert!(
            self.body.get("error").is_none(),
            "expected success, got HTTP {} {}",
            self.status,
            self.body
        );
        assert_eq!(self.status, 200);
        &self.body["result"]
    }

    /// The error code (`error.data.code`); panics when the call succeeded.
    pub fn code(&self) -> &str {
        self.body["error"]["data"]["code"]
            .as_str()
            .unwrap_or_else(|| panic!("expected an error, got {}", self.body))
    }

    pub fn error(&self) -> &Value {
        &self.body["error"]["data"]
    }
}

#[derive(Debug, Clone)]
pub struct RpcClient {
    target: Target,
    pub token: Option<String>,
    next_id: u64,
}

impl RpcClient {
    pub fn unix(path: PathBuf) -> RpcClient {
        RpcClient {
            target: Target::Unix(path),
            token: None,
            next_id: 1,
        }
    }

    pub fn tcp(addr: SocketAddr) -> RpcClient {
        RpcClient {
            target: Target::Tcp(addr),
            token: None,
            next_id: 1,
        }
    }

    /// Logs in and keeps the session token; returns the login result.
    pub async fn login(&mut self, username: &str, password: &str) -> Value {
        let reply = self
            .call(
                "auth.login",
                json!({"username": username, "password": password}),
            )
            .await;
        let result = reply.ok().clone();
        self.token = Some(result["token"].as_str().expect("token").to_string());
        result
    }

    /// Creates the service `name` unless it exists (users can be granted only services that
    /// exist).
    pub async fn ensure_service(&mut self, name: &str) {
        let reply = self.call("services.create", json!({ "name": name })).await;
        if reply.body.get("error").is_some() {
            assert_eq!(reply.code(), "already_exists", "{}", reply.body);
        }
    }

    /// Creates the service `name` (unless it exists) and returns a fresh token for it (for REST
    /// calls).
    pub async fn service_token(&mut self, name: &str) -> String {
        self.ensure_service(name).await;
        let issued = self
            .call("services.issue_token", json!({ "service": name }))
            .await;
        issued.ok()["token"]
            .as_str()
            .expect("services.issue_token returns the token")
            .to_string()
    }

    pub async fn call(&mut self, method: &str, params: Value) -> RpcReply {
        let id = self.next_id;
        self.next_id += 1;
        let body = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        self.post_raw(body.to_string().into_bytes()).await
    }

    /// Sends any bytes as the body of `POST /rpc`.
    pub async fn post_raw(&self, body: Vec<u8>) -> RpcReply {
        let mut req = hyper::Request::post("/rpc")
            .header("host", "mama")
            .header("content-type", "application/json");
        if let Some(token) = &self.token {
            req = req.header("authorization", format!("Bearer {token}"));
        }
        let req = req.body(Full::new(Bytes::from(body))).expect("request");
        let (status, bytes) = match &self.target {
            Target::Unix(path) => {
                let stream = tokio::net::UnixStream::connect(path)
                    .await
                    .expect("connect to the admin socket");
                send(TokioIo::new(stream), req).await
            }
            Target::Tcp(addr) => {
                let stream = tokio::net::TcpStream::connect(addr)
                    .await
                    .expect("connect to the admin port");
                send(TokioIo::new(stream), req).await
            }
        };
        let body = serde_json::from_slice(&bytes).unwrap_or_else(|_| {
            panic!(
                "not JSON (HTTP {status}): {}",
                String::from_utf8_lossy(&bytes)
            )
        });
        RpcReply { status, body }
    }
}

async fn send<T>(io: T, req: hyper::Request<Full<Bytes>>) -> (u16, Bytes)
where
    T: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io)
        .await
        .expect("http handshake");
    tokio::spawn(conn);
    let resp = sender.send_request(req).await.expect("response");
    let status = resp.status().as_u16();
    let bytes = resp.into_body().collect().await.expect("body").to_bytes();
    (status, bytes)
}

impl RpcClient {
    /// Like [`RpcClient::call`], but the daemon records `request_id` (`x-request-id`) on the
    /// call's event, and a daemon that goes away is an `Err` saying where the call was cut
    /// (connect, send, answer) rather than a panic: a test that kills the daemon tells an
    /// answered call from one that never was.
    pub async fn try_call(
        &mut self,
        method: &str,
        params: Value,
        request_id: &str,
    ) -> Result<RpcReply, String> {
        let id = self.next_id;
        self.next_id += 1;
        let body = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        let mut req = hyper::Request::post("/rpc")
            .header("host", "mama")
            .header("content-type", "application/json")
            .header("x-request-id", request_id);
        if let Some(token) = &self.token {
            req = req.header("authorization", format!("Bearer {token}"));
        }
        let req = req
            .body(Full::new(Bytes::from(body.to_string())))
            .map_err(|e| format!("request: {e}"))?;
        let (status, bytes) = match &self.target {
            Target::Unix(path) => {
                let stream = tokio::net::UnixStream::connect(path)
                    .await
                    .map_err(|e| format!("connect: {e}"))?;
                try_send(TokioIo::new(stream), req).await?
            }
            Target::Tcp(addr) => {
                let stream = tokio::net::TcpStream::connect(addr)
                    .await
                    .map_err(|e| format!("connect: {e}"))?;
                try_send(TokioIo::new(stream), req).await?
            }
        };
        let body = serde_json::from_slice(&bytes).map_err(|_| {
            format!(
                "not JSON (HTTP {status}): {}",
                String::from_utf8_lossy(&bytes)
            )
        })?;
        Ok(RpcReply { status, body })
    }
}

async fn try_send<T>(io: T, req: hyper::Request<Full<Bytes>>) -> Result<(u16, Bytes), String>
where
    T: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    tokio::spawn(conn);
    let resp = sender
        .send_request(req)
        .await
        .map_err(|e| format!("send: {e}"))?;
    let status = resp.status().as_u16();
    let bytes = resp
        .into_body()
        .collect()
        .await
        .map_err(|e| format!("answer: {e}"))?
        .to_bytes();
    Ok((status, bytes))
}
