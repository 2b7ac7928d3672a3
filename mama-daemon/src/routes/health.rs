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

/// Ready: the database answers and is migrated. LiteLLM's reachability is reported, not fatal.
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let db = state.mama.db.clone();
    let migrated = db.read(mama_core::db::migrate::is_current).await;
    let (status, db_state) = match migrated {
        Ok(true) => (StatusCode::OK, "ok"),
        Ok(false) => (StatusCode::SERVICE_UNAVAILABLE, "migrations pending"),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "unreachable"),
    };
    (
        status,
        Json(
            json!({"status": if status == StatusCode::OK { "ready" } else { "not ready" }, "database": db_state}),
        ),
    )
}
