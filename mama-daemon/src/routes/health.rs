//! Liveness and readiness.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

use crate::state::AppState;

/// Alive: the process answers.
pub async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// Ready: the database answers and is migrated, and the event log accepts writes (every request
/// needs its event stored: a daemon that cannot store them answers 503 to nearly everything).
/// LiteLLM's reachability is reported, not fatal.
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let db = state.mama.db.clone();
    let migrated = db.read(mama_core::db::migrate::is_current).await;
    let (mut status, db_state) = match migrated {
        Ok(true) => (StatusCode::OK, "ok"),
        Ok(false) => (StatusCode::SERVICE_UNAVAILABLE, "migrations pending"),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "unreachable"),
    };
    let events = if state.mama.event_log_ready().await {
        "ok"
    } else {
        status = StatusCode::SERVICE_UNAVAILABLE;
        "not writable"
    };
    // LiteLLM is reported, never fatal: reads and REST keep working while it is down.
    let litellm = match state.mama.sync.engine() {
        None => json!({"configured": false}),
        Some(_) => {
            let link = state.mama.sync.link();
            json!({"configured": true, "reachable": link.reachable, "error": link.error})
        }
    };
    let ready = if status == StatusCode::OK {
        "ready"
    } else {
        "not ready"
    };
    (
        status,
        Json(json!({"status": ready, "database": db_state, "events": events, "litellm": litellm})),
    )
}
