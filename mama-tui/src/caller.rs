//! Calls made with a token that was replaced meanwhile.
//!
//! `auth.refresh` and `auth.change_password` end the old session and hand out a new token. A
//! call already on its way with the old token then fails with `session_revoked`, though the
//! operator is still logged in. The caller knows the newest token (the runtime copies it from
//! the model after every update) and repeats such a call once with it, so a refresh never
//! throws the operator back to the login screen.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use mama_api::rpc::Method;
use mama_api::ErrorCode;
use serde_json::Value;

use crate::client::{decode_as, encode, ClientError, RpcClient};

/// How long a revoked call waits for a token that may be arriving (a refresh in flight).
const WAIT_FOR_NEW_TOKEN: Duration = Duration::from_secs(2);

#[derive(Clone)]
pub struct Caller {
    client: Arc<RpcClient>,
    latest: Arc<RwLock<Option<String>>>,
}

impl Caller {
    pub fn new(client: Arc<RpcClient>) -> Self {
        Caller {
            client,
            latest: Arc::new(RwLock::new(None)),
        }
    }

    pub fn client(&self) -> &RpcClient {
        &self.client
    }

    /// Records the model's current token.
    pub fn set_token(&self, token: Option<String>) {
        let mut latest = self.latest.write().unwrap_or_else(|p| p.into_inner());
        if *latest != token {
            *latest = token;
        }
    }

    fn latest(&self) -> Option<String> {
        self.latest
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Calls method `M` and decodes its answer (see [`RpcClient::call_typed`]).
    pub async fn call_typed<M: Method>(
        &self,
        params: &M::Params,
        token: Option<&str>,
    ) -> Result<M::Output, ClientError> {
        let value = self.call(M::NAME, encode(params)?, token).await?;
        decode_as(value)
    }

    pub async fn call(
        &self,
        method: &str,
        params: Value,
        token: Option<&str>,
    ) -> Result<Value, ClientError> {
        let result = self.client.call(method, params.clone(), token).await;
        let revoked = matches!(
            &result,
            Err(ClientError::Api(e)) if matches!(e.code, ErrorCode::SessionRevoked | ErrorCode::SessionExpired)
        );
        if !revoked || token.is_none() {
            return result;
        }
        let started = tokio::time::Instant::now();
        loop {
            let latest = self.latest();
            if latest.is_none() {
                return result;
            }
            if latest.as_deref() != token {
                return self.client.call(method, params, latest.as_deref()).await;
            }
            if started.elapsed() >= WAIT_FOR_NEW_TOKEN {
                return result;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}
