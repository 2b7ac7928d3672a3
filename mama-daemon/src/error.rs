//! `ApiError` → HTTP response: the status from the error code, the JSON envelope as body.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use mama_core::api::error::ErrorBody;
use mama_core::api::ApiError;

/// REST errors: `{"error": {...}}` with the matching status.
pub struct RestError(pub ApiError);

impl IntoResponse for RestError {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.0.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut resp = (
            status,
            Json(ErrorBody {
                error: self.0.clone(),
            }),
        )
            .into_response();
        if let Some(secs) = self.0.retry_after_secs {
            if let Ok(v) = secs.to_string().parse() {
                resp.headers_mut()
                    .insert(axum::http::header::RETRY_AFTER, v);
            }
        }
        resp
    }
}

impl From<ApiError> for RestError {
    fn from(err: ApiError) -> Self {
        RestError(err)
    }
}

/// serde's messages can quote the offending value (`invalid type: string "hunter2"`); a value
/// may be a secret, so only the expectation is kept.
pub fn sanitize_serde_message(msg: &str) -> String {
    let msg = msg.split(" at line ").next().unwrap_or(msg);
    for prefix in ["invalid type: ", "invalid value: ", "invalid length "] {
        if let Some(rest) = msg.strip_prefix(prefix) {
            let expected = rest
                .rsplit_once(", expected ")
                .map(|(_, e)| e)
                .unwrap_or("another value");
            return format!(
                "{}expected {expected}",
                prefix.trim_end_matches(": ").to_string() + ", "
            );
        }
    }
    msg.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_values_are_not_echoed() {
        let m = sanitize_serde_message(
            "invalid type: string \"hunter2\", expected u64 at line 1 column 9",
        );
        assert!(!m.contains("hunter2"), "{m}");
        assert!(m.contains("expected u64"));
        assert_eq!(
            sanitize_serde_message("missing field `ids`"),
            "missing field `ids`"
        );
    }
}
