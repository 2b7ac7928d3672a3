//! REST for services: `POST /api/v1/users/lookup`, `GET /api/v1/users/{id}`.
//! Credentials only from the `Authorization` header; every request, rejected ones included, is
//! recorded.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{ConnectInfo, Path, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use mama_core::api::actions::{self, Action};
use mama_core::api::rest::LookupRequest;
use mama_core::api::{ApiError, ErrorCode};
use mama_core::ops::{Actor, Channel, Ctx, Mama};

use super::{bearer, request_id, Peer, MAX_BODY_BYTES};
use crate::error::{sanitize_serde_message, RestError};
use crate::state::AppState;
use zeroize::Zeroizing;

/// Authenticates the calling service, recording a refusal.
async fn service_ctx(
    mama: &Mama,
    ctx: &Ctx,
    headers: &HeaderMap,
    action: Action,
) -> Result<Ctx, RestError> {
    match mama.authenticate_service(ctx, bearer(headers)).await {
        Ok(ctx) => Ok(ctx),
        // A flood of these must not grow the event log without bound: aggregated per source.
        Err(err) if err.code == ErrorCode::Unauthenticated => Err(RestError(
            mama.refuse_unauthenticated(ctx, action, err).await,
        )),
        Err(err) => {
            mama.audit
                .record_failure(ctx.event(action).failed(&err))
                .await;
            Err(RestError(err))
        }
    }
}

pub async fn lookup_users(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<Peer>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, RestError> {
    let mama = &state.mama;
    let ctx = Ctx::new(
        Actor::Anonymous(None),
        Channel::Rest,
        peer.to_string(),
        request_id(&headers),
    );
    let ctx = service_ctx(mama, &ctx, &headers, actions::REST_LOOKUP).await?;
    let parsed = match &body {
        Ok(bytes) => parse_lookup(bytes),
        Err(rejection) => Err(body_unreadable(rejection)),
    };
    let request = match parsed {
        Ok(r) => r,
        Err(err) => {
            mama.audit
                .record_failure(ctx.event(actions::REST_LOOKUP).failed(&err))
                .await;
            return Err(RestError(err));
        }
    };
    let ids: Vec<&str> = request.user_ids.iter().map(AsRef::as_ref).collect();
    let answer = mama.lookup_users(&ctx, &ids).await?;
    Ok(json_body(answer.json))
}

/// A rendered JSON answer as a response. The body is moved, not copied; its buffer still holds
/// keys, so it is not kept longer than the response.
fn json_body(mut json: Zeroizing<String>) -> Response {
    let body: String = std::mem::take(&mut json);
    ([(CONTENT_TYPE, "application/json")], body).into_response()
}

fn body_unreadable(rejection: &BytesRejection) -> ApiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(
            ErrorCode::PayloadTooLarge,
            format!("the request body is larger than {MAX_BODY_BYTES} bytes"),
        )
    } else {
        ApiError::new(
            ErrorCode::InvalidRequest,
            "the request body could not be read",
        )
    }
}

fn parse_lookup(bytes: &[u8]) -> Result<LookupRequest<'_>, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| {
        let msg = sanitize_serde_message(&e.to_string());
        if e.is_syntax() || e.is_eof() {
            ApiError::new(
                ErrorCode::ParseError,
                format!("the body is not valid JSON: {msg}"),
            )
        } else {
            ApiError::invalid(
                "body",
                format!("{msg} (expected {{\"user_ids\": [\"…\"]}})"),
            )
        }
    })
}

pub async fn get_user(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<Peer>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, RestError> {
    let mama = &state.mama;
    let ctx = Ctx::new(
        Actor::Anonymous(None),
        Channel::Rest,
        peer.to_string(),
        request_id(&headers),
    );
    let ctx = service_ctx(mama, &ctx, &headers, actions::REST_GET_USER).await?;
    // axum would answer a path it cannot decode in plain text; a service gets JSON like for
    // any other bad input.
    let id = match id {
        Ok(Path(id)) => id,
        Err(_) => {
            let err = ApiError::invalid(
                "id",
                "the user id in the path is not valid percent-encoded UTF-8",
            );
            mama.audit
                .record_failure(ctx.event(actions::REST_GET_USER).failed(&err))
                .await;
            return Err(RestError(err));
        }
    };
    Ok(json_body(mama.lookup_user(&ctx, id).await?))
}
