//! The yardstick: an axum endpoint that answers every POST with the same precomputed body. It
//! runs on its own two-worker tokio runtime in its own thread, like a separate small server, so
//! it does not share the load generator's scheduler.

use std::net::SocketAddr;
use std::sync::mpsc;

use anyhow::Context;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::post;
use axum::Router;
use hyper::body::Bytes;
use tokio::sync::oneshot;

/// A running static server; stopped when dropped.
pub struct StaticServer {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
}

impl StaticServer {
    /// Serves `body` as `application/json` at `POST /static` on 127.0.0.1 (ephemeral port).
    pub fn start(body: Bytes, worker_threads: usize) -> anyhow::Result<StaticServer> {
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
                let _ = ready_tx.send(listener.local_addr().map_err(|e| e.to_string()));
                let app = Router::new()
                    .route("/static", post(serve_static))
                    .with_state(body);
                let _ = axum::serve(listener, app)
                    .with_graceful_shutdown(async {
                        let _ = stopped.await;
                    })
                    .await;
            });
            // Keep-alive connections may still be open: do not wait for them.
            runtime.shutdown_background();
        });
        let addr = ready_rx
            .recv()
            .context("the static server thread ended early")?
            .map_err(anyhow::Error::msg)
            .context("binding the static server")?;
        Ok(StaticServer {
            addr,
            stop: Some(stop),
        })
    }

    pub fn url(&self) -> String {
        format!("http://{}/static", self.addr)
    }
}

/// Reads the request body (as the lookup does) and answers with the precomputed one.
async fn serve_static(State(body): State<Bytes>, _request: Bytes) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], body)
}

impl Drop for StaticServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
