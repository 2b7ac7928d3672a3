//! A LiteLLM stand-in for tests: an HTTP server on loopback that answers like LiteLLM 1.103.7
//! (the captures in `shared/litellm/captures/`, quirks included), keeps its keys in memory,
//! records every call, and misbehaves on demand (see [`Fault`]; connection refused is
//! [`StandIn::stop`]).
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use mama_tests::standin::{Fault, FaultRule, StandIn};
//! let litellm = StandIn::start().await?;
//! litellm.faults().inject(FaultRule::new(Fault::Status(500)).on("/key/update").times(1));
//! // … point mama at litellm.base_url() with litellm.master_key() …
//! assert_eq!(litellm.calls("/key/update").len(), 0);
//! # Ok(()) }
//! ```

mod activity;
mod calls;
mod faults;
mod routes;
mod state;
mod wire;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::response::Response;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use activity::StandInUsage;
pub use calls::Call;
pub use faults::{Fault, FaultRule, Faults};
pub use state::{Deployment, StandInKey, StandInTeam, ALL_PROXY_MODELS, ALL_TEAM_MODELS};

use calls::CallLog;
use routes::Shared;
use state::{Caller, Generated, NewKey, State};

/// How to start a stand-in.
#[derive(Debug, Clone)]
pub struct StandInConfig {
    /// `127.0.0.1:0` by default (a free port).
    pub addr: SocketAddr,
    /// Random `sk-standin-…` by default.
    pub master_key: Option<String>,
}

impl Default for StandInConfig {
    fn default() -> Self {
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            master_key: None,
        }
    }
}

/// The accept loop currently serving, and the switch that stops it.
struct Running {
    down: watch::Sender<bool>,
    task: JoinHandle<()>,
}

/// A running stand-in; stops serving when dropped.
pub struct StandIn {
    addr: SocketAddr,
    shared: Arc<Shared>,
    running: Mutex<Option<Running>>,
}

impl StandIn {
    /// Starts on a free loopback port with the models of `shared/litellm/real/config.yaml`.
    pub async fn start() -> std::io::Result<Self> {
        Self::start_with(StandInConfig::default()).await
    }

    pub async fn start_with(config: StandInConfig) -> std::io::Result<Self> {
        let listener = TcpListener::bind(config.addr).await?;
        let addr = listener.local_addr()?;
        let master_key = config
            .master_key
            .unwrap_or_else(|| format!("sk-standin-{}", uuid::Uuid::new_v4().simple()));
        let shared = Arc::new(Shared {
            memory: Mutex::new(State::with_default_models()),
            master_key,
            faults: Faults::default(),
            calls: CallLog::default(),
        });
        let running = serve(listener, shared.clone());
        Ok(Self {
            addr,
            shared,
            running: Mutex::new(Some(running)),
        })
    }

    /// `http://127.0.0.1:<port>`, without a trailing slash.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn master_key(&self) -> &str {
        &self.shared.master_key
    }

    /// Fault rules; see [`FaultRule`].
    pub fn faults(&self) -> &Faults {
        &self.shared.faults
    }

    /// Calls received on one path (e.g. `/key/update`), oldest first.
    pub fn calls(&self, route: &str) -> Vec<Call> {
        self.shared.calls.route(route)
    }

    /// Every call received, oldest first.
    pub fn all_calls(&self) -> Vec<Call> {
        self.shared.calls.all()
    }

    pub fn call_count(&self, route: &str) -> usize {
        self.shared.calls.count(route)
    }

    pub fn clear_calls(&self) {
        self.shared.calls.clear();
    }

    /// Live keys, newest first.
    pub fn keys(&self) -> Vec<StandInKey> {
        self.shared.memory().list(None, None, None)
    }

    /// Keys deleted through `/key/delete` (still answered by `/key/info` as `deleted`).
    pub fn deleted_keys(&self) -> Vec<StandInKey> {
        self.shared.memory().deleted.values().cloned().collect()
    }

    /// A live key by hash (or plaintext).
    pub fn key(&self, key_or_hash: &str) -> Option<StandInKey> {
        self.shared
            .memory()
            .info(key_or_hash)
            .filter(|(_, deleted)| !deleted)
            .map(|(k, _)| k)
    }

    pub fn teams(&self) -> Vec<StandInTeam> {
        self.shared.memory().teams.clone()
    }

    /// Replaces the served models (one deployment per name; repeat a name for two).
    pub fn set_models(&self, names: &[&str]) {
        self.shared.memory().set_models(names);
    }

    /// Creates a key behind mama's back (as an operator in LiteLLM's UI would); returns its hash.
    pub fn insert_key(
        &self,
        key: &str,
        key_alias: Option<&str>,
        models: &[&str],
        user_id: Option<&str>,
    ) -> Option<String> {
        let req = NewKey {
            key: Some(key.to_owned()),
            key_alias: key_alias.map(str::to_owned),
            models: models.iter().map(|m| (*m).to_owned()).collect(),
            user_id: user_id.map(str::to_owned),
            ..NewKey::default()
        };
        match self.shared.memory().generate(&Caller::Master, req) {
            Ok(Generated::Created { key, .. }) => Some(key.token),
            _ => None,
        }
    }

    /// Changes a live key behind mama's back (drift); false when there is no such key.
    pub fn edit_key(&self, key_or_hash: &str, edit: impl FnOnce(&mut StandInKey)) -> bool {
        let token = state::token_of(key_or_hash);
        match self.shared.memory().keys.get_mut(&token) {
            Some(key) => {
                edit(key);
                true
            }
            None => false,
        }
    }

    /// LiteLLM loses a key entirely (no archive either); false when there was none.
    pub fn forget_key(&self, key_or_hash: &str) -> bool {
        let token = state::token_of(key_or_hash);
        let mut memory = self.shared.memory();
        let live = memory.keys.remove(&token).is_some();
        memory.deleted.remove(&token).is_some() || live
    }

    /// Records usage of a key (by hash or plaintext) as one stored row of LiteLLM's daily table;
    /// recording the same day, key and model again adds a row (LiteLLM splits them too).
    pub fn record_usage(
        &self,
        day: chrono::NaiveDate,
        key_or_hash: &str,
        model: &str,
        usage: StandInUsage,
    ) {
        self.shared.memory().usage.push(activity::UsageRow {
            day,
            key_hash: state::token_of(key_or_hash),
            model: model.to_owned(),
            usage,
        });
    }

    /// Stops listening: new connections are refused and open ones are cut. State is kept.
    pub async fn stop(&self) {
        let running = self.lock_running().take();
        if let Some(running) = running {
            let _ = running.down.send(true);
            let _ = running.task.await;
        }
    }

    /// Listens again on the same port after [`Self::stop`].
    pub async fn restart(&self) -> std::io::Result<()> {
        self.stop().await;
        let listener = TcpListener::bind(self.addr).await?;
        let running = serve(listener, self.shared.clone());
        *self.lock_running() = Some(running);
        Ok(())
    }

    pub fn is_up(&self) -> bool {
        self.lock_running().is_some()
    }

    fn lock_running(&self) -> std::sync::MutexGuard<'_, Option<Running>> {
        self.running.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for StandIn {
    fn drop(&mut self) {
        if let Some(running) = self.lock_running().take() {
            let _ = running.down.send(true);
            running.task.abort();
        }
    }
}

/// Accepts connections until `down`; each connection is dropped (cut) on `down` too, so a
/// stopped stand-in really looks like a dead proxy.
fn serve(listener: TcpListener, shared: Arc<Shared>) -> Running {
    let (down, mut down_rx) = watch::channel(false);
    let app = routes::router(shared);
    let task = tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                accepted = listener.accept() => accepted,
                _ = down_rx.changed() => break,
            };
            let Ok((stream, _)) = accepted else { continue };
            let router = TowerToHyperService::new(app.clone());
            let service = hyper::service::service_fn(move |req| {
                let answer = hyper::service::Service::call(&router, req);
                async move { answer_or_reset(answer.await) }
            });
            let mut conn_down = down_rx.clone();
            tokio::spawn(async move {
                let conn = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service);
                tokio::select! {
                    _ = conn => {}
                    _ = conn_down.changed() => {}
                }
            });
        }
    });
    Running { down, task }
}

/// Turns a response marked by [`Fault::Reset`] into a service error: hyper then closes the
/// connection without writing a status line, which is the point of that fault.
fn answer_or_reset(answer: Result<Response, Infallible>) -> Result<Response, std::io::Error> {
    let response = match answer {
        Ok(response) => response,
        Err(never) => match never {},
    };
    if routes::is_reset(&response) {
        return Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "stand-in: connection reset before any answer",
        ));
    }
    Ok(response)
}
