//! Starts LiteLLM sync when a LiteLLM URL and master key file are configured: the outbox worker,
//! the model catalog refresh and the periodic reconcile. Without them the daemon still serves
//! everything from the database and changes wait as pending.
//! Tuning comes from [`crate::config::SyncSettings`] (flags, `MAMA_*` variables, TOML).

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
pub fn spawn(settings: &Settings, mama: Mama) -> Result<Option<Running>> {
    let (Some(url), Some(key_file)) = (&settings.litellm_url, &settings.litellm_master_key_file)
    else {
        tracing::info!("LiteLLM not configured: key changes stay pending until it is");
        return Ok(None);
    };
    let master_key = read_master_key(key_file)?;
    let tuning = &settings.sync;
    let client = ReqwestLiteLlm::new(LiteLlmConfig {
        base_url: url.clone(),
        master_key,
        request_timeout: tuning.timeout,
        connect_timeout: tuning.timeout.min(Duration::from_secs(3)),
    })
    .map_err(|e| anyhow::anyhow!("LiteLLM client: {e}"))?;
    let config = SyncConfig {
        alias_prefix: tuning.alias_prefix.clone(),
        concurrency: tuning.concurrency,
        // A job makes at most six calls (the team's first check, info, generate, info, update).
        op_timeout: tuning.timeout * 6 + Duration::from_secs(5),
        team_alias: tuning.team.clone(),
        team_models: tuning.team_models.clone(),
        orphan_min_age: tuning.orphan_min_age,
        max_backoff: tuning.max_backoff,
    };
    let reconcile_every = tuning.reconcile_every;
    tracing::info!(litellm = %url, concurrency = config.concurrency, "LiteLLM sync enabled");
    mama.sync.configure(Engine {
        client: Arc::new(client),
        config,
    });
    let (stop, stop_rx) = tokio::sync::watch::channel(false);
    let worker = tokio::spawn(worker::run(mama.clone(), stop_rx));
    let periodic = tokio::spawn(periodic(mama, reconcile_every));
    Ok(Some(Running {
        stop,
        worker,
        periodic,
    }))
}

/// The running sync tasks.
pub struct Running {
    stop: tokio::sync::watch::Sender<bool>,
    worker: tokio::task::JoinHandle<()>,
    periodic: tokio::task::JoinHandle<()>,
}

impl Running {
    /// Stops claiming new operations and waits (bounded) for the ones in flight; what does not
    /// finish keeps its lease and is retried after a restart.
    pub async fn stop(self, within: Duration) {
        self.periodic.abort();
        let _ = self.stop.send(true);
        if tokio::time::timeout(within, self.worker).await.is_err() {
            tracing::warn!("sync operations still running at shutdown; they resume after restart");
        }
    }
}

/// Reads the master key, without the trailing newline editors add. Never logged.
pub(crate) fn read_master_key(path: &Path) -> Result<SecretString> {
    if let Some(problem) = crate::commands::secret_file_problem("the LiteLLM master key file", path)
    {
        bail!("refusing to start: {problem}");
    }
    let raw = std::fs::read_to_string(path)
        .with_context(|| format!("reading the LiteLLM master key file {}", path.display()))?;
    let key = raw.trim_end_matches(['\n', '\r']);
    if key.trim().is_empty() {
        bail!("the LiteLLM master key file {} is empty", path.display());
    }
    Ok(SecretString::new(key))
}

/// Catalog refresh and reconcile: both at start, then on their own intervals.
async fn periodic(mama: Mama, reconcile_every: Duration) {
    let Some(engine) = mama.sync.engine().cloned() else {
        return;
    };
    let mut catalog = tokio::time::interval(CATALOG_EVERY);
    let mut reconciling = tokio::time::interval(reconcile_every);
    // A reconcile longer than the interval (100,000 keys on a slow proxy) is followed by a full
    // interval of rest, not by another reconcile at once.
    catalog.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    reconciling.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
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
            mama.sync.observed(Ok(()));
        }
        Err(e) => {
            tracing::warn!(error = %e, "could not refresh the model catalog");
            mama.sync.observed(Err(&e));
        }
    }
}
