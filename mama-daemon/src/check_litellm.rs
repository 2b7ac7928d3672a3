//! `check-config`'s look at LiteLLM: is it reachable, does it take the master key, what does it
//! serve. Three calls with a short timeout: `/health/readiness` (public), `/model/info` (any
//! valid key) and `/key/list?size=1` (admin only, so a virtual key given by mistake for the
//! master key is caught). The master key is sent, never printed.

use std::time::Duration;

use mama_core::litellm::{ListKeys, LiteLlm, LiteLlmConfig, LiteLlmError, ReqwestLiteLlm};

use crate::config::Settings;

/// Longest wait for one LiteLLM answer during the check.
const CHECK_TIMEOUT: Duration = Duration::from_secs(5);

/// What the check found.
#[derive(Debug, PartialEq, Eq)]
pub enum LiteLlmCheck {
    /// No LiteLLM URL or no master key file: keys stay pending; not a problem.
    NotConfigured,
    /// The master key file could not be read: already reported by the file checks.
    KeyUnreadable,
    /// Everything answered; a sentence saying what LiteLLM serves.
    Found(String),
    /// A sentence saying what is wrong.
    Problem(String),
}

/// Calls LiteLLM as the daemon would, with [`CHECK_TIMEOUT`] at most per call.
pub async fn check(settings: &Settings) -> LiteLlmCheck {
    let (Some(url), Some(key_file)) = (&settings.litellm_url, &settings.litellm_master_key_file)
    else {
        return LiteLlmCheck::NotConfigured;
    };
    let Ok(master_key) = crate::worker::read_master_key(key_file) else {
        return LiteLlmCheck::KeyUnreadable;
    };
    let shown = mama_core::db::redact_url(url);
    let timeout = settings.sync.timeout.min(CHECK_TIMEOUT);
    let client = match ReqwestLiteLlm::new(LiteLlmConfig {
        base_url: url.clone(),
        master_key,
        request_timeout: timeout,
        connect_timeout: timeout.min(Duration::from_secs(3)),
    }) {
        Ok(client) => client,
        Err(e) => return LiteLlmCheck::Problem(format!("LiteLLM at {shown}: {e}")),
    };
    let health = match client.health().await {
        Ok(health) => health,
        Err(e) => {
            return LiteLlmCheck::Problem(format!(
                "LiteLLM at {shown} is not reachable: {}",
                unreachable(&e, timeout)
            ))
        }
    };
    let models = match client.model_info_names().await {
        Ok(models) => models,
        Err(e) => return LiteLlmCheck::Problem(refused(&shown, &e, timeout)),
    };
    let keys = match client
        .list_keys(&ListKeys {
            size: 1,
            ..ListKeys::default()
        })
        .await
    {
        Ok(page) => page.total_count,
        Err(e) => return LiteLlmCheck::Problem(refused(&shown, &e, timeout)),
    };
    let database = match health.db.as_deref() {
        Some(db) => format!(", database {db}"),
        None => String::new(),
    };
    LiteLlmCheck::Found(format!(
        "LiteLLM at {shown}: reachable ({}{database}); master key accepted; {} model(s), {keys} key(s)",
        health.status,
        models.len()
    ))
}

/// Why a call got no answer, in mama's words.
fn unreachable(err: &LiteLlmError, timeout: Duration) -> String {
    match err {
        LiteLlmError::Timeout => format!("no answer within {} s", timeout.as_secs_f64()),
        LiteLlmError::Connect { .. } => {
            "the connection failed (refused, no route to the host, or the name does not resolve)"
                .to_string()
        }
        other => other.to_string(),
    }
}

/// Why an authenticated call failed: the master key refused, or anything else.
fn refused(shown: &str, err: &LiteLlmError, timeout: Duration) -> String {
    match err {
        LiteLlmError::Unauthorized { .. } | LiteLlmError::Forbidden { .. } => format!(
            "LiteLLM at {shown} refused the master key ({}): check the master key file (it must hold LiteLLM's master key, not a virtual key)",
            err.status().unwrap_or(401)
        ),
        other => format!(
            "LiteLLM at {shown} is reachable but an admin call failed: {}",
            unreachable(other, timeout)
        ),
    }
}
