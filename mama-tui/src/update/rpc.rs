//! Calling the daemon and reading its answers: decoding a result, saying what went wrong in one
//! line, noticing an older daemon, and calling one method once per chunk of a large request.

use mama_api::rpc::Method;
use mama_api::ErrorCode;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::action::Tag;
use crate::app::App;
use crate::client::ClientError;
use crate::effect::{to_params, Effect};

/// Ids per `users.rotate_keys` call (the daemon takes up to 10,000 per call; a rotation is one
/// event per call). Bulk changes and deletes send every marked id in one call; above this many
/// marks that are exactly a filter's result, a bulk change names the filter instead.
pub const ID_CHUNK: usize = 5000;

/// Decodes a result into its type; a mismatch is a protocol error, not a panic.
pub fn decode<T: DeserializeOwned>(result: Result<Value, ClientError>) -> Result<T, ClientError> {
    let value = result?;
    serde_json::from_value(value).map_err(|e| ClientError::Protocol(e.to_string()))
}

/// The answer of one call of method `M`, of the type the contract declares for it: a reply
/// handler names the method it called, never a result type that could drift from the daemon's.
pub fn answer<M: Method>(result: Result<Value, ClientError>) -> Result<M::Output, ClientError> {
    decode(result)
}

/// The answers of a [`batch`] of calls of method `M`, in order.
pub fn answers<M: Method>(
    result: Result<Value, ClientError>,
) -> Result<Vec<M::Output>, ClientError> {
    decode(result)
}

/// Whether the daemon lacks the method (an older daemon): features degrade instead of failing.
pub fn is_missing_method(err: &ClientError) -> bool {
    err.api()
        .is_some_and(|e| e.code == ErrorCode::MethodNotFound)
}

/// One line for the status bar: the daemon's message, with the fields at fault.
pub fn describe(err: &ClientError) -> String {
    match err {
        ClientError::Api(api) if api.code == ErrorCode::LoginThrottled => {
            match api.retry_after_secs {
                Some(secs) => format!("{} (retry in {secs}s)", api.message),
                None => api.message.clone(),
            }
        }
        ClientError::Api(api) => api.message.clone(),
        other => other.to_string(),
    }
}

/// Calls method `M` once per params (see [`Effect::Batch`]).
pub fn batch<M: Method>(app: &mut App, params: Vec<M::Params>, tag: Tag) {
    let effect = Effect::Batch {
        method: M::NAME,
        params: params.iter().map(to_params).collect(),
        tag,
        token: app.token(),
        epoch: app.epoch,
    };
    app.push_effect(effect);
}
