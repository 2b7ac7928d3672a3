//! The accept loops of the daemon's listeners, with the limits `axum::serve` does not set.
//!
//! `axum::serve` gives hyper no timer, so hyper's header-read timeout never runs: 3,000
//! half-sent requests were measured holding their connections open indefinitely and starving
//! `/healthz`. Here every connection must deliver a request's headers within
//! [`HEADER_READ_TIMEOUT`], an idle keep-alive connection is closed like one that stalls in its
//! headers (hyper applies the same timeout to the wait for the next request), and each listener
//! holds at most [`MAX_CONNECTIONS`] at once: past it, new connections wait in the kernel's
//! backlog instead of taking file descriptors. On shutdown, connections finish the request they
//! are serving and close.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, UnixListener};
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;
use tower::ServiceExt;

use crate::routes::Peer;

/// Longest a client may take to send a request's headers (and longest an idle keep-alive
/// connection is kept).
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Most connections one listener serves at once.
pub const MAX_CONNECTIONS: usize = 4096;

/// A listener the loop can accept from, with the peer it reports.
pub enum Listener {
    Tcp(TcpListener),
    Unix(UnixListener),
}

impl Listener {
    async fn accept(&self) -> std::io::Result<(Box<dyn Io>, Peer)> {
        match self {
            Listener::Tcp(l) => {
                let (stream, addr) = l.accept().await?;
                let _ = stream.set_nodelay(true);
                Ok((Box::new(stream), Peer::Tcp(addr)))
            }
            Listener::Unix(l) => {
                let (stream, _) = l.accept().await?;
                let peer = match stream.peer_cred() {
                    Ok(cred) => Peer::Unix {
                        uid: Some(cred.uid()),
                        pid: cred.pid(),
                    },
                    Err(_) => Peer::Unix {
                        uid: None,
                        pid: None,
                    },
                };
                Ok((Box::new(stream), peer))
            }
        }
    }
}

/// A connection's byte stream, whatever the listener.
trait Io: AsyncRead + AsyncWrite + Unpin + Send + 'static {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> Io for T {}

/// Serves `router` on `listener` until `stop` turns true, then lets open connections finish
/// their current request. `ConnectInfo<Peer>` is available to handlers as with `axum::serve`.
pub async fn serve(
    listener: Listener,
    router: Router,
    mut stop: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let mut connections = JoinSet::new();
    loop {
        let permit = tokio::select! {
            permit = slots.clone().acquire_owned() => permit.map_err(std::io::Error::other)?,
            _ = stop.changed() => break,
        };
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.changed() => break,
        };
        let (io, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(err) => {
                // Out of file descriptors and the like: wait a moment rather than spin.
                tracing::warn!(error = %err, "accepting a connection failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let service = router.clone().layer(axum::Extension(ConnectInfo(peer)));
        let stop = stop.clone();
        connections.spawn(async move {
            serve_connection(io, service, stop).await;
            drop(permit);
        });
        // Reap finished connections so the set does not grow with the daemon's age.
        while connections.try_join_next().is_some() {}
    }
    while connections.join_next().await.is_some() {}
    Ok(())
}

async fn serve_connection(io: Box<dyn Io>, service: Router, mut stop: watch::Receiver<bool>) {
    let service =
        service.map_request(|req: hyper::Request<Incoming>| req.map(axum::body::Body::new));
    let hyper_service = TowerToHyperService::new(service);
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .keep_alive(true);
    let conn = builder.serve_connection(TokioIo::new(io), hyper_service);
    tokio::pin!(conn);
    let mut stopping = false;
    loop {
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(err) = result {
                    tracing::debug!(error = %err, "connection ended with an error");
                }
                return;
            }
            changed = stop.changed(), if !stopping => {
                if changed.is_err() || *stop.borrow() {
                    stopping = true;
                    conn.as_mut().graceful_shutdown();
                }
            }
        }
    }
}
