//! Prometheus metrics over HTTP: the middleware that counts every request, and `GET /metrics`,
//! which renders the counters the state holds ([`crate::state::counters`]) next to the sync
//! queue and user gauges read from the database.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::state::AppState;

/// Middleware recording every request; `listener` tells the REST and admin listeners apart.
pub async fn track(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().to_string();
    // The matched route template, never the raw path: ids must not become label values.
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let response = next.run(request).await;
    state.metrics.observe(
        state.listener,
        &method,
        &route,
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    response
}

/// `GET /metrics`.
pub async fn render(State(state): State<AppState>) -> Response {
    let mama = state.mama.clone();
    let counts = mama
        .db
        .read(|conn| {
            use mama_core::api::types::KeyStatus;
            use mama_core::db::{outbox, users};
            Ok::<_, mama_core::db::DbError>((
                outbox::depth(conn)?,
                users::count_by_status(conn, KeyStatus::Pending)?,
                users::count_by_status(conn, KeyStatus::Failed)?,
                users::count(conn)?,
            ))
        })
        .await;
    let gauges = match counts {
        Ok((depth, pending, failed, total)) => vec![
            (
                "mama_outbox_depth",
                "LiteLLM operations waiting to be applied.",
                depth,
            ),
            (
                "mama_users_pending",
                "Users whose key waits for LiteLLM.",
                pending,
            ),
            (
                "mama_users_failed",
                "Users whose last LiteLLM sync failed.",
                failed,
            ),
            ("mama_users", "Users.", total),
            ("mama_database_up", "1 when the database answers.", 1),
        ],
        Err(_) => vec![("mama_database_up", "1 when the database answers.", 0)],
    };
    let body = state.metrics.render(state.mama.audit.stats(), &gauges);
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        body,
    )
        .into_response()
}
