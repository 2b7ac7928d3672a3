//! One log line per request, written in one place: the middleware both routers wear.
//!
//! The line names what was asked (the route template, or the admin RPC method), how it ended
//! (HTTP status, and the RPC error code or `ok`), how long it took and who asked: `admin:<name>`,
//! `service:<name>` or `anonymous`. Handlers tell the middleware what only they know (the
//! caller, the RPC method) through the [`CallNote`] in the request's extensions. Nothing else
//! from the request reaches the log: no header, query, path or body, so no password, token or
//! key, whatever the level.
//!
//! Probes (`/healthz`, `/readyz`, `/metrics`) are logged at debug: a scrape every few seconds
//! would otherwise bury the requests an operator looks for.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::{ConnectInfo, FromRequestParts, MatchedPath, Request, State};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::Response;

use crate::routes::Peer;
use crate::state::AppState;

/// What a handler learnt about its request, for the request's log line.
#[derive(Debug, Clone, Default)]
pub struct CallNote(Arc<Mutex<Noted>>);

#[derive(Debug, Default)]
struct Noted {
    who: Option<String>,
    rpc: Option<RpcNote>,
}

#[derive(Debug)]
struct RpcNote {
    method: &'static str,
    outcome: String,
}

impl CallNote {
    /// The caller is the signed-in admin `name`.
    pub fn admin(&self, name: &str) {
        self.with(|n| n.who = Some(format!("admin:{name}")));
    }

    /// The caller is the service `name`, its token checked.
    pub fn service(&self, name: &str) {
        self.with(|n| n.who = Some(format!("service:{name}")));
    }

    /// The admin RPC `method` (a declared name, never the client's text) ended with `outcome`:
    /// `ok` or the error code.
    pub fn rpc(&self, method: &'static str, outcome: &str) {
        self.with(|n| {
            n.rpc = Some(RpcNote {
                method,
                outcome: outcome.to_string(),
            })
        });
    }

    fn with(&self, f: impl FnOnce(&mut Noted)) {
        // A poisoned note only loses a log field; the request itself is unaffected.
        if let Ok(mut noted) = self.0.lock() {
            f(&mut noted);
        }
    }

    fn take(&self) -> Noted {
        self.0
            .lock()
            .map(|mut n| std::mem::take(&mut *n))
            .unwrap_or_default()
    }
}

/// Handlers take the note of their request; outside the middleware (never in the daemon) they
/// get a detached one, so a missing layer costs a log field, not the request.
impl<S: Send + Sync> FromRequestParts<S> for CallNote {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<CallNote>()
            .cloned()
            .unwrap_or_default())
    }
}

/// Routes logged at debug rather than info.
const PROBES: &[&str] = &["/healthz", "/readyz", "/metrics"];

/// Middleware writing the request's line once the response is ready.
pub async fn log_request(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let note = CallNote::default();
    request.extensions_mut().insert(note.clone());
    let method = request.method().clone();
    // The route template, never the raw path: the path may hold a user id, the query anything.
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let peer = request
        .extensions()
        .get::<ConnectInfo<Peer>>()
        .map(|ConnectInfo(peer)| peer.to_string())
        .unwrap_or_else(|| "-".into());
    let response = next.run(request).await;
    let ms = (started.elapsed().as_secs_f64() * 10_000.0).round() / 10.0;
    let status = response.status().as_u16();
    let noted = note.take();
    let who = noted.who.as_deref().unwrap_or("anonymous");
    let listener = state.listener;
    match noted.rpc {
        Some(rpc) => tracing::info!(
            listener,
            rpc = rpc.method,
            outcome = rpc.outcome.as_str(),
            status,
            ms,
            who,
            peer = peer.as_str(),
            "rpc call"
        ),
        None if PROBES.contains(&route.as_str()) => tracing::debug!(
            listener,
            method = method.as_str(),
            route = route.as_str(),
            status,
            ms,
            who,
            peer = peer.as_str(),
            "request"
        ),
        None => tracing::info!(
            listener,
            method = method.as_str(),
            route = route.as_str(),
            status,
            ms,
            who,
            peer = peer.as_str(),
            "request"
        ),
    }
    response
}
