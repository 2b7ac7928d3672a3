//! `POST /rpc`: JSON-RPC 2.0 for the TUI and other admin tools.
//!
//! Every call is recorded: use cases record their own events; what fails before a use case runs
//! (bad JSON, bad token, bad params, unknown method) is recorded here.

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use mama_core::api::actions::{self, Action};
use mama_core::api::rpc::{self, method, Caller, Method, RpcRequest, RpcResponse};
use mama_core::api::{ApiError, ErrorCode};
use mama_core::ops::auth::AdminSession;
use mama_core::ops::{Actor, Channel, Ctx, Mama};
use serde::de::DeserializeOwned;
use serde_json::Value;

use self::serve::{Serve, ServeAnonymous};
use super::{bearer, request_id, Peer};
use crate::access_log::CallNote;
use crate::error::sanitize_serde_message;
use crate::state::AppState;

mod serve;

/// Why a call failed, and whether its event is already stored.
enum Failure {
    /// Raised before a use case ran (bad JSON, token, params, method): the handler records it.
    Early(ApiError),
    /// Returned by a use case, which recorded its own event.
    Recorded(ApiError),
}

impl From<ApiError> for Failure {
    fn from(err: ApiError) -> Self {
        Failure::Early(err)
    }
}

pub async fn handle_rpc(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<Peer>,
    note: CallNote,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let ctx = Ctx::new(
        Actor::Anonymous(None),
        Channel::Rpc,
        peer.to_string(),
        request_id(&headers),
    );
    let mama = &state.mama;
    let body = read_body(mama, &headers, body).await;
    let mut login_name = None;
    let (id, method_name, outcome) = match parse(body) {
        Err(err) => (Value::Null, "rpc".to_string(), Err(Failure::Early(err))),
        Ok(req) => {
            let id = req.id.clone().unwrap_or(Value::Null);
            let name = req.method.clone();
            login_name = login_username(&req);
            (id, name, dispatch(mama, &ctx, &note, &headers, &req).await)
        }
    };
    let response = match outcome {
        Ok(result) => RpcResponse::ok(id, result),
        Err(Failure::Recorded(err)) => RpcResponse::err(id, err),
        Err(Failure::Early(err)) => {
            let ctx = ctx.with_actor(actor_from_token(mama, &headers).await);
            mama.audit
                .record_failure(ctx.event(action_of(&method_name)).failed(&err))
                .await;
            RpcResponse::err(id, err)
        }
    };
    let outcome = response
        .error
        .as_ref()
        .map(|e| e.data.code.as_str())
        .unwrap_or("ok");
    let action = action_of(&method_name);
    state.metrics.rpc_call(action.name(), outcome);
    note.rpc(action.name(), outcome);
    if action.name() == method::AuthLogin::NAME {
        let error = response.error.as_ref().map(|e| e.data.code);
        log_login(&note, &peer, login_name.as_deref(), error);
    }
    if let Some(err) = response.error.as_ref() {
        if err.data.code == ErrorCode::LoginFailed {
            state
                .metrics
                .login_failures
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        if err.data.message == mama_core::ops::AUDIT_FAILED_MESSAGE {
            state
                .metrics
                .event_write_failures
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }
    let status = response
        .error
        .as_ref()
        .map(|e| {
            StatusCode::from_u16(e.data.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
        })
        .unwrap_or(StatusCode::OK);
    (status, Json(response)).into_response()
}

/// The username an `auth.login` call tries, cut to 64 characters; never the password.
fn login_username(req: &RpcRequest) -> Option<String> {
    if req.method != method::AuthLogin::NAME {
        return None;
    }
    let name = req.params.as_ref()?.get("username")?.as_str()?;
    Some(truncate(name, 64))
}

/// A successful login names its admin in the request's line; a refused one gets a warning with
/// where it came from and the username tried (quoted, so it cannot forge a line).
fn log_login(note: &CallNote, peer: &Peer, username: Option<&str>, error: Option<ErrorCode>) {
    let username = username.unwrap_or("");
    match error {
        None => note.admin(username),
        Some(ErrorCode::LoginFailed) => {
            tracing::warn!(peer = %peer, username, "login failed")
        }
        Some(ErrorCode::LoginThrottled) => {
            tracing::warn!(peer = %peer, username, "login refused: too many failures")
        }
        Some(_) => {}
    }
}

/// Events name the method; an unknown method is recorded under a fixed action, so a client
/// cannot write arbitrary text into the action column.
fn action_of(method_name: &str) -> Action {
    match rpc::find(method_name) {
        Some(m) => Action::new(m.name, m.kind),
        None => actions::RPC_INVALID,
    }
}

/// Best effort: name the admin in the event of a failed call when the token is valid.
async fn actor_from_token(mama: &Mama, headers: &HeaderMap) -> Actor {
    match bearer(headers) {
        Some(token) => match mama.jwt.verify(token) {
            Ok(claims) => Actor::Admin(claims.sub),
            Err(_) => Actor::Anonymous(None),
        },
        None => Actor::Anonymous(None),
    }
}

/// Largest body of a call carrying a valid session token: a bulk change naming a million
/// marked users (ids of up to 64 characters) is one call, so one transaction and one event.
pub const SESSION_BODY_BYTES: usize = 64 * 1024 * 1024;

/// Reads the body, up to [`SESSION_BODY_BYTES`] for a caller whose session token verifies
/// (a signature check, no database) and [`super::MAX_BODY_BYTES`] for anyone else, so a
/// stranger cannot make the daemon buffer more than a megabyte per request.
async fn read_body(mama: &Mama, headers: &HeaderMap, body: Body) -> Result<Bytes, ApiError> {
    let signed_in = bearer(headers).is_some_and(|token| mama.jwt.verify(token).is_ok());
    let limit = if signed_in {
        SESSION_BODY_BYTES
    } else {
        super::MAX_BODY_BYTES
    };
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(err) if err.downcast_ref::<LengthLimitError>().is_some() => Err(ApiError::new(
            ErrorCode::PayloadTooLarge,
            format!("the request body is larger than {limit} bytes"),
        )),
        Err(_) => Err(ApiError::new(
            ErrorCode::InvalidRequest,
            "the request body could not be read",
        )),
    }
}

fn parse(body: Result<Bytes, ApiError>) -> Result<RpcRequest, ApiError> {
    let bytes = body?;
    let value: Value = serde_json::from_slice(&bytes).map_err(|e| {
        ApiError::new(
            ErrorCode::ParseError,
            format!(
                "the body is not valid JSON: {}",
                sanitize_serde_message(&e.to_string())
            ),
        )
    })?;
    let req: RpcRequest = serde_json::from_value(value).map_err(|e| {
        ApiError::new(
            ErrorCode::InvalidRequest,
            format!(
                "not a JSON-RPC 2.0 request: {}",
                sanitize_serde_message(&e.to_string())
            ),
        )
    })?;
    if req.jsonrpc != "2.0" {
        return Err(ApiError::new(
            ErrorCode::InvalidRequest,
            "jsonrpc must be \"2.0\"",
        ));
    }
    Ok(req)
}

fn params<T: DeserializeOwned>(req: &RpcRequest) -> Result<T, Failure> {
    let value = match &req.params {
        None | Some(Value::Null) => Value::Object(Default::default()),
        Some(v) => v.clone(),
    };
    // The path names the field at fault (`limits.max_budget`, `users[3].id`), as validation does.
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let field = if path.is_empty() || path == "." {
            "params".to_string()
        } else {
            path
        };
        let msg = sanitize_serde_message(&e.into_inner().to_string());
        Failure::Early(ApiError::invalid(&field, msg))
    })
}

fn done<T: serde::Serialize>(r: Result<T, ApiError>) -> Result<Value, Failure> {
    match r {
        Ok(v) => serde_json::to_value(v).map_err(|_| {
            Failure::Early(ApiError::new(
                ErrorCode::Internal,
                "could not encode the result",
            ))
        }),
        Err(e) => Err(Failure::Recorded(e)),
    }
}

/// One call being dispatched: runs a method's use case once its caller is checked.
struct Call<'a> {
    mama: &'a Mama,
    ctx: &'a Ctx,
    note: &'a CallNote,
    headers: &'a HeaderMap,
    req: &'a RpcRequest,
}

impl Call<'_> {
    async fn anonymous<M: ServeAnonymous>(&self) -> Result<Value, Failure> {
        done(M::serve(self.mama, self.ctx, params::<M::Params>(self.req)?).await)
    }

    async fn signed_in<M: Serve>(&self) -> Result<Value, Failure> {
        let session = self.session::<M>().await?;
        self.note.admin(&session.username);
        let ctx = &self.ctx.with_actor(Actor::Admin(session.username.clone()));
        // The one place roles are enforced: the method table says who may call each method.
        if let Err(why) = M::CALLER.admits(session.role, session.is_scoped()) {
            return Err(Failure::Early(ApiError::new(ErrorCode::Forbidden, why)));
        }
        let params = params::<M::Params>(self.req)?;
        done(M::serve(self.mama, ctx, &session, params).await)
    }

    /// The caller's session; refused before the first password change unless the method is
    /// declared [`Caller::Pending`].
    async fn session<M: Method>(&self) -> Result<AdminSession, Failure> {
        let token = bearer(self.headers).ok_or_else(|| {
            ApiError::new(
                ErrorCode::Unauthenticated,
                "log in first: no session token in the Authorization header",
            )
        })?;
        let session = self.mama.authenticate(token).await?;
        if session.must_change_password && M::CALLER != Caller::Pending {
            return Err(Failure::Early(ApiError::new(
                ErrorCode::PasswordChangeRequired,
                "you must change your password first (auth.change_password)",
            )));
        }
        Ok(session)
    }
}

/// Builds [`dispatch_declared`] from the method table: every method is served by the impl of
/// [`ServeAnonymous`] or [`Serve`] its declared caller calls for.
macro_rules! dispatcher {
    (@run Anyone, $call:ident, $m:ty) => { $call.anonymous::<$m>().await };
    (@run $caller:ident, $call:ident, $m:ty) => { $call.signed_in::<$m>().await };
    ($( $ty:ident = $name:literal, $params:ty => $output:ty, $kind:ident, $caller:ident, $summary:literal; )*) => {
        /// Runs the declared method called `name`; `None` when there is none.
        async fn dispatch_declared(call: &Call<'_>, name: &str) -> Option<Result<Value, Failure>> {
            Some(match name {
                $( $name => dispatcher!(@run $caller, call, method::$ty), )*
                _ => return None,
            })
        }
    };
}

mama_core::api::with_methods!(dispatcher);

async fn dispatch(
    mama: &Mama,
    ctx: &Ctx,
    note: &CallNote,
    headers: &HeaderMap,
    req: &RpcRequest,
) -> Result<Value, Failure> {
    let call = Call {
        mama,
        ctx,
        note,
        headers,
        req,
    };
    match dispatch_declared(&call, &req.method).await {
        Some(outcome) => outcome,
        None => Err(Failure::Early(ApiError::new(
            ErrorCode::MethodNotFound,
            format!(
                "no method {:?}; see docs/admin-rpc.md",
                truncate(&req.method, 64)
            ),
        ))),
    }
}

fn truncate(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}
