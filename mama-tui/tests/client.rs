//! The RPC client against a tiny hand-written HTTP/1.1 server on a Unix socket: error bodies
//! read whatever the status, one connection reused, reconnect after the daemon closed it, the
//! per-request timeout, and the retry of a call whose token was refreshed meanwhile.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use mama_api::ErrorCode;
use mama_tui::caller::Caller;
use mama_tui::client::{ClientError, Endpoint, RpcClient};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};

/// How the fake daemon behaves.
#[derive(Clone, Copy)]
enum Mode {
    /// Answers `{"ok": <method>}`, keeps the connection open.
    Echo,
    /// Answers, then closes the connection without saying so.
    CloseAfterEach,
    /// Never answers.
    Silent,
    /// 401 `session_revoked` unless the bearer token is `new`.
    RevokeOld,
    /// 502 with an HTML body.
    BadGateway,
}

struct Server {
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
    accepts: Arc<AtomicUsize>,
}

async fn serve(mode: Mode) -> Server {
    let dir = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => panic!("tempdir: {e}"),
    };
    let path = dir.path().join("admin.sock");
    let listener = match UnixListener::bind(&path) {
        Ok(l) => l,
        Err(e) => panic!("bind: {e}"),
    };
    let accepts = Arc::new(AtomicUsize::new(0));
    let counter = accepts.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(connection(stream, mode));
        }
    });
    Server {
        _dir: dir,
        path,
        accepts,
    }
}

async fn connection(mut stream: UnixStream, mode: Mode) {
    let mut buf = Vec::new();
    loop {
        // Read one request: headers, then Content-Length bytes.
        let head_end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            let mut chunk = [0u8; 4096];
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).to_lowercase();
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        while buf.len() < head_end + length {
            let mut chunk = [0u8; 4096];
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        let body: Value =
            serde_json::from_slice(&buf[head_end..head_end + length]).unwrap_or(Value::Null);
        buf.drain(..head_end + length);
        let id = body["id"].clone();
        let (status, text) = match mode {
            Mode::Silent => {
                tokio::time::sleep(Duration::from_secs(60)).await;
                return;
            }
            Mode::BadGateway => (502, "<html>bad gateway</html>".to_string()),
            Mode::RevokeOld if !head.contains("authorization: bearer new") => (
                401,
                json!({"jsonrpc": "2.0", "id": id, "error": {"code": -32003, "message": "ended",
                    "data": {"code": "session_revoked", "message": "the session was ended"}}})
                .to_string(),
            ),
            _ => (
                200,
                json!({"jsonrpc": "2.0", "id": id, "result": {"ok": body["method"]}}).to_string(),
            ),
        };
        let response = format!(
            "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{text}",
            text.len()
        );
        if stream.write_all(response.as_bytes()).await.is_err() {
            return;
        }
        if matches!(mode, Mode::CloseAfterEach) {
            return;
        }
    }
}

fn client(server: &Server, timeout: Duration) -> RpcClient {
    RpcClient::new(Endpoint::Unix(server.path.clone()), timeout)
}

#[tokio::test]
async fn one_connection_is_reused() {
    let server = serve(Mode::Echo).await;
    let c = client(&server, Duration::from_secs(5));
    for _ in 0..3 {
        assert_eq!(
            c.call("users.list", json!({}), Some("t")).await,
            Ok(json!({"ok": "users.list"}))
        );
    }
    assert_eq!(server.accepts.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn reconnects_after_the_daemon_closed_the_connection() {
    let server = serve(Mode::CloseAfterEach).await;
    let c = client(&server, Duration::from_secs(5));
    for _ in 0..3 {
        assert_eq!(
            c.call("users.list", json!({}), None).await,
            Ok(json!({"ok": "users.list"}))
        );
    }
    assert!(server.accepts.load(Ordering::SeqCst) >= 2);
}

#[tokio::test]
async fn error_bodies_are_read_whatever_the_status() {
    let server = serve(Mode::RevokeOld).await;
    let c = client(&server, Duration::from_secs(5));
    let err = c.call("users.list", json!({}), Some("old")).await;
    assert!(matches!(err, Err(ClientError::Api(e)) if e.code == ErrorCode::SessionRevoked));
    let bad = serve(Mode::BadGateway).await;
    let err = client(&bad, Duration::from_secs(5))
        .call("users.list", json!({}), None)
        .await;
    assert!(matches!(err, Err(ClientError::Protocol(m)) if m.contains("502")));
}

#[tokio::test]
async fn a_silent_daemon_times_out() {
    let server = serve(Mode::Silent).await;
    let err = client(&server, Duration::from_millis(200))
        .call("users.list", json!({}), None)
        .await;
    assert_eq!(err, Err(ClientError::Timeout));
}

#[tokio::test]
async fn no_daemon_is_a_connect_error() {
    let c = RpcClient::new(
        Endpoint::Unix("/nonexistent/mama/admin.sock".into()),
        Duration::from_secs(1),
    );
    assert!(matches!(
        c.call("auth.login", json!({}), None).await,
        Err(ClientError::Connect(_))
    ));
}

#[tokio::test]
async fn a_call_with_a_refreshed_token_is_repeated_with_the_new_one() {
    let server = serve(Mode::RevokeOld).await;
    let caller = Caller::new(Arc::new(client(&server, Duration::from_secs(5))));
    caller.set_token(Some("new".into()));
    assert_eq!(
        caller.call("users.list", json!({}), Some("old")).await,
        Ok(json!({"ok": "users.list"}))
    );
    // A really revoked session (no newer token) still fails.
    caller.set_token(Some("old".into()));
    let err = caller.call("users.list", json!({}), Some("old")).await;
    assert!(matches!(err, Err(ClientError::Api(e)) if e.code == ErrorCode::SessionRevoked));
}
