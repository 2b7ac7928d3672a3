//! Starts LiteLLM sync when a LiteLLM URL and master key file are configured: the outbox worker,
//! the model catalog refresh and the periodic reconcile. Without them the daemon still serves
//! everything from the database and changes wait as pending.
//!
//! Tuning knobs not yet in the config file are read from the environment here, at the edge:
//! `MAMA_SYNC_CONCURRENCY` (8), `MAMA_LITELLM_TIMEOUT_SECS` (10), `MAMA_SYNC_ALIAS_PREFIX`
//! (`mama-`), `MAMA_LITELLM_TEAM` (team alias for `all-team-models`, unset),
//! `MAMA_RECONCILE_INTERVAL_SECS` (600), `MAMA_ORPHAN_MIN_AGE_SECS` (600),
//! `MAMA_SYNC_MAX_BACKOFF_SECS` (300).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use mama_core::litellm::{LiteLlm, LiteLlmConfig, ReqwestLiteLlm, SecretString};
use mama_core::ops::{Ctx, Mama};
use mama_core::sync::{reconcile, worker, Engine, SyncConfig};

use crate::config::Settings;

/// How often the model catalog is re-read from LiteLLM.
const CATALOG_EVERY: Duration = Duration::from_secs(300);

/// Starts the sync tasks, or logs why not. Fails only on a configured but unusable setup (an
/// unreadable key file, a bad URL), so a typo is not silently ignored.
pub fn spawn(settings: &Settings, mama: Mama) -> Result<()> {
    let (Some(url), Some(key_file)) = (&settings.litellm_url, &settings.litellm_master_key_file)
    else {
        tracing::info!("LiteLLM not configured: key changes stay pending until it is");
        return Ok(());
    };
    let master_key = read_master_key(key_file)?;
    let timeout = Duration::from_secs_f64(env_num("MAMA_LITELLM_TIMEOUT_SECS", 10.0).max(0.1));
    let client = ReqwestLiteLlm::new(LiteLlmConfig {
        base_url: url.clone(),
        master_key,
        request_timeout: timeout,
        connect_timeout: timeout.min(Duration::from_secs(3)),
    })
    .map_err(|e| anyhow::anyhow!("LiteLLM client: {e}"))?;
    let config = SyncConfig {
        alias_prefix: std::env::var("MAMA_SYNC_ALIAS_PREFIX").unwrap_or_else(|_| "mama-".into()),
        concurrency: env_num("MAMA_SYNC_CONCURRENCY", 8.0).max(1.0) as usize,
        // A job makes at most four calls (info, generate, info, update).
        op_timeout: timeout * 4 + Duration::from_secs(5),
        team_alias: std::env::var("MAMA_LITELLM_TEAM").ok().filter(|t| !t.is_empty()),
        orphan_min_age: Duration::from_secs_f64(env_num("MAMA_ORPHAN_MIN_AGE_SECS", 600.0)),
        max_backoff: Duration::from_secs_f64(env_num("MAMA_SYNC_MAX_BACKOFF_SECS", 300.0)),
    };
    let reconcile_every = Duration::from_secs_f64(env_num("MAMA_RECONCILE_INTERVAL_SECS", 600.0).max(1.0));
    tracing::info!(litellm = %url, concurrency = config.concurrency, "LiteLLM sync enabled");
    mama.sync.configure(Engine {
        client: Arc::new(client),
        config,
    });
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(worker::run(mama.clone(), stop_rx));
    tokio::spawn(async move {
        // Owning the sender keeps the worker running for the life of the process.
        let _stop = stop_tx;
        periodic(mama, reconcile_every).await;
    });
    Ok(())
}

/// Reads the master key, without the trailing newline editors add. Never logged.
fn read_master_key(path: &Path) -> Result<SecretString> {
    let raw = std::fs::read_to_string(path)
        .with_context(|| format!("reading the LiteLLM master key file {}", path.display()))?;
    let key = raw.trim_end_matches(['\n', '\r']);
    if key.trim().is_empty() {
        bail!("the LiteLLM master key file {} is empty", path.display());
    }
    Ok(SecretString::new(key))
}

fn env_num(name: &str, default: f64) -> f64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|v| v.is_finite() && *v >= 0.0)
        .unwrap_or(default)
}

/// Catalog refresh and reconcile: both at start, then on their own intervals.
async fn periodic(mama: Mama, reconcile_every: Duration) {
    let Some(engine) = mama.sync.engine().cloned() else {
        return;
    };
    let mut catalog = tokio::time::interval(CATALOG_EVERY);
    let mut reconciling = tokio::time::interval(reconcile_every);
    loop {
        tokio::select! {
            _ = catalog.tick() => refresh_catalog(&mama, engine.client.as_ref()).await,
            _ = reconciling.tick() => {
                let ctx = Ctx::system(format!("reconcile-{}", uuid::Uuid::now_v7()));
                match reconcile::run(&mama, &engine, &ctx).await {
                    Ok(summary) => tracing::info!(?summary, "reconcile done"),
                    Err(reconcile::ReconcileError::Busy) => tracing::debug!("reconcile already running elsewhere"),
                    Err(e) => tracing::warn!(error = %e, "reconcile failed"),
                }
            }
        }
    }
}

async fn refresh_catalog(mama: &Mama, client: &dyn LiteLlm) {
    match client.list_models().await {
        Ok(models) => {
            tracing::debug!(models = models.len(), "model catalog refreshed");
            mama.catalog.set(models);
        }
        Err(e) => tracing::warn!(error = %e, "could not refresh the model catalog"),
    }
}
