//! The yardstick: an axum endpoint that answers every POST with the same precomputed body. It
//! runs on its own two-worker tokio runtime in its own thread, like a separate small server, so
//! it does not share the load generator's scheduler. With an [`AuditConfig`] the same server
//! also answers `POST /audited`, which first makes an audit record of the request durable (see
//! [`super::audit_log`]).

use std::net::SocketAddr;
use std::sync::{mpsc, Arc};
use std::time::Instant;

use anyhow::Context;
use axum::extract::{ConnectInfo, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use hyper::body::Bytes;
use tokio::sync::oneshot;

use super::audit_log::{AuditConfig, AuditLog, LogStats};

/// A running static server; stopped when dropped.
pub struct StaticServer {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    audit: Option<AuditLog>,
}

/// What both endpoints answer with, and the audited one's log (shared behind an `Arc`, so the
/// state a request clones is one pointer, as the plain `Bytes` it was).
struct Served {
    body: Bytes,
    audit: Option<AuditLog>,
}

impl StaticServer {
    /// Serves `body` as `application/json` at `POST /static` on 127.0.0.1 (ephemeral port), and
    /// with `audit` also at `POST /audited`.
    pub fn start(
        body: Bytes,
        worker_threads: usize,
        audit: Option<AuditConfig>,
    ) -> anyhow::Result<StaticServer> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(worker_threads.max(1))
            .thread_name("static-server")
            .enable_all()
            .build()
            .context("building the static server's runtime")?;
        let (ready_tx, ready_rx) = mpsc::channel();
        let (stop, stopped) = oneshot::channel::<()>();
        std::thread::spawn(move || {
            runtime.block_on(async move {
                let listener = match tokio::net::TcpListener::bind("127.0.0.1:0").await {
                    Ok(l) => l,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e.to_string()));
                        return;
                    }
                };
                // The writer task lives on this runtime, like the handlers.
                let audit = match audit.as_ref().map(AuditLog::open).transpose() {
                    Ok(a) => a,
                    Err(e) => {
                        let _ = ready_tx.send(Err(format!("{e:#}")));
                        return;
                    }
                };
                let served = Arc::new(Served {
                    body,
                    audit: audit.clone(),
                });
                let _ = ready_tx.send(
                    listener
                        .local_addr()
                        .map(|a| (a, audit))
                        .map_err(|e| e.to_string()),
                );
                let app = Router::new()
                    .route("/static", post(serve_static))
                    .route("/audited", post(serve_audited))
                    .with_state(served);
                let _ = axum::serve(
                    listener,
                    app.into_make_service_with_connect_info::<SocketAddr>(),
                )
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
            });
            // Keep-alive connections may still be open: do not wait for them.
            runtime.shutdown_background();
        });
        let (addr, audit) = ready_rx
            .recv()
            .context("the static server thread ended early")?
            .map_err(anyhow::Error::msg)
            .context("starting the static server")?;
        Ok(StaticServer {
            addr,
            stop: Some(stop),
            audit,
        })
    }

    pub fn url(&self) -> String {
        format!("http://{}/static", self.addr)
    }

    /// The audited endpoint, if the server was started with an audit log.
    pub fn audited_url(&self) -> Option<String> {
        self.audit
            .as_ref()
            .map(|_| format!("http://{}/audited", self.addr))
    }

    /// What the audited endpoint's writer has made durable so far.
    pub fn audit_stats(&self) -> Option<&LogStats> {
        self.audit.as_ref().map(AuditLog::stats)
    }
}

/// Reads the request body (as the lookup does) and answers with the precomputed one.
async fn serve_static(State(served): State<Arc<Served>>, _request: Bytes) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        served.body.clone(),
    )
}

/// Records the request (ids as the lookup stores them, caller, request id…), waits until the
/// record is durable, then answers with the precomputed body; 500 if it could not be stored.
async fn serve_audited(
    State(served): State<Arc<Served>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Bytes,
) -> Response {
    let started = Instant::now();
    let Some(audit) = &served.audit else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let Some(record) = audit.record(&request, &peer.to_string(), started) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    if !audit.append(record).await {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    (
        [(header::CONTENT_TYPE, "application/json")],
        served.body.clone(),
    )
        .into_response()
}

impl Drop for StaticServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
