//! REST for services: `POST /api/v1/users/lookup`, `GET /api/v1/users/{id}`,
//! `GET /api/v1/usage`.
//! Credentials only from the `Authorization` header; every request, rejected ones included, is
//! recorded.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{ConnectInfo, Path, RawQuery, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use mama_core::api::actions::{self, Action};
use mama_core::api::rest::{LookupRequest, UsageBy};
use mama_core::api::{ApiError, ErrorCode};
use mama_core::ops::usage::service::UsageRequest;
use mama_core::ops::{Actor, Channel, Ctx, Mama};

use super::{bearer, request_id, Peer, MAX_BODY_BYTES};
use crate::access_log::CallNote;
use crate::error::{sanitize_serde_message, RestError};
use crate::state::AppState;
use zeroize::Zeroizing;

/// Authenticates the calling service, recording a refusal; the request's log line names it.
async fn service_ctx(
    mama: &Mama,
    ctx: &Ctx,
    note: &CallNote,
    headers: &HeaderMap,
    action: Action,
) -> Result<Ctx, RestError> {
    match mama.authenticate_service(ctx, bearer(headers)).await {
        Ok(ctx) => {
            if let Actor::Service(name) = &ctx.actor {
                note.service(name);
            }
            Ok(ctx)
        }
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
    note: CallNote,
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
    let ctx = service_ctx(mama, &ctx, &note, &headers, actions::REST_LOOKUP).await?;
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
    note: CallNote,
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
    let ctx = service_ctx(mama, &ctx, &note, &headers, actions::REST_GET_USER).await?;
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

/// `GET /api/v1/usage?user_ids=a,b&from=2026-11-01&to=2026-11-30&group=day|model`.
pub async fn usage(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<Peer>,
    note: CallNote,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, RestError> {
    let mama = &state.mama;
    let ctx = Ctx::new(
        Actor::Anonymous(None),
        Channel::Rest,
        peer.to_string(),
        request_id(&headers),
    );
    let ctx = service_ctx(mama, &ctx, &note, &headers, actions::REST_USAGE).await?;
    let request = match parse_usage_query(query.as_deref().unwrap_or("")) {
        Ok(r) => r,
        Err(err) => {
            mama.audit
                .record_failure(ctx.event(actions::REST_USAGE).failed(&err))
                .await;
            return Err(RestError(err));
        }
    };
    let answer = mama.service_usage(&ctx, request).await?;
    Ok(axum::Json(answer).into_response())
}

/// Reads the usage query string: `user_ids` (comma-separated, or repeated), `from` and `to`
/// (`YYYY-MM-DD`, default the last 30 days), `group` (`day` or `model`). Anything else, or a
/// parameter given twice, is refused by name.
fn parse_usage_query(query: &str) -> Result<UsageRequest, ApiError> {
    let mut request = UsageRequest::default();
    let mut seen = std::collections::HashSet::new();
    for (name, value) in form_urlencoded::parse(query.as_bytes()) {
        let date = |field: &str| {
            chrono::NaiveDate::parse_from_str(&value, "%Y-%m-%d")
                .map_err(|_| ApiError::invalid(field, "must be a date as YYYY-MM-DD (UTC)"))
        };
        if name != "user_ids" && !seen.insert(name.to_string()) {
            return Err(ApiError::invalid(shown(&name), "given more than once"));
        }
        match name.as_ref() {
            "user_ids" => request.user_ids.extend(
                value
                    .split(',')
                    .filter(|id| !id.is_empty())
                    .map(str::to_string),
            ),
            "from" => request.from = Some(date("from")?),
            "to" => request.to = Some(date("to")?),
            "group" => {
                request.group = match value.as_ref() {
                    "day" => UsageBy::Day,
                    "model" => UsageBy::Model,
                    _ => return Err(ApiError::invalid("group", "must be day or model")),
                }
            }
            other => {
                return Err(ApiError::invalid(
                    shown(other),
                    "unknown parameter (expected user_ids, from, to, group)",
                ))
            }
        }
    }
    Ok(request)
}

/// A parameter name from the request as an error names it: at most 64 characters.
fn shown(name: &str) -> String {
    name.chars().take(64).collect()
}
