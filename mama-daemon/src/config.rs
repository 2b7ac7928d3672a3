//! Settings: flags, then `MAMA_*` environment variables (clap merges those two), then the TOML
//! config file, then defaults. Secrets are never flags: only paths to files, or
//! `$CREDENTIALS_DIRECTORY` (systemd `LoadCredential=`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Args;
use serde::Deserialize;

/// Options shared by every subcommand.
#[derive(Debug, Clone, Args, Default)]
pub struct Opts {
    /// TOML config file. Default: /etc/mama/mama.toml when it exists.
    #[arg(long, env = "MAMA_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// Directory for the SQLite database, generated keys and the admin socket.
    /// Default: $STATE_DIRECTORY (systemd), else $XDG_STATE_HOME/mama, else ~/.local/state/mama.
    #[arg(long, env = "MAMA_DATA_DIR", global = true)]
    pub data_dir: Option<PathBuf>,
    /// Database: a SQLite file path (default: <data-dir>/mama.db) or postgres://user@host/db.
    #[arg(long, env = "MAMA_DATABASE_URL", global = true, hide_env_values = true)]
    pub database_url: Option<String>,
    /// REST API for services (TCP). Default: 127.0.0.1:8686.
    #[arg(long, env = "MAMA_LISTEN", global = true)]
    pub listen: Option<SocketAddr>,
    /// Admin RPC Unix socket (mode 0660). Default: $RUNTIME_DIRECTORY/admin.sock under systemd,
    /// else <data-dir>/admin.sock.
    #[arg(long, env = "MAMA_ADMIN_SOCKET", global = true)]
    pub admin_socket: Option<PathBuf>,
    /// Also serve the admin RPC on this TCP address (e.g. 127.0.0.1:8687). Off by default.
    #[arg(long, env = "MAMA_ADMIN_LISTEN", global = true)]
    pub admin_listen: Option<SocketAddr>,
    /// Base URL of the LiteLLM proxy, e.g. http://127.0.0.1:4000. Without it keys stay pending.
    #[arg(long, env = "MAMA_LITELLM_URL", global = true)]
    pub litellm_url: Option<String>,
    /// File holding LiteLLM's master key (or credential `litellm-master-key`).
    #[arg(long, env = "MAMA_LITELLM_MASTER_KEY_FILE", global = true)]
    pub litellm_master_key_file: Option<PathBuf>,
    /// File holding the 32-byte key that encrypts virtual keys at rest (or credential
    /// `encryption-key`). Default: <data-dir>/encryption.key, created with mode 0600 for an
    /// empty database only: a database that holds keys refuses any other key, or none.
    #[arg(long, env = "MAMA_ENCRYPTION_KEY_FILE", global = true)]
    pub encryption_key_file: Option<PathBuf>,
    /// File holding the session signing key (or credential `jwt-key`). Default:
    /// <data-dir>/jwt.key, created with mode 0600. Several daemons must share it.
    #[arg(long, env = "MAMA_JWT_KEY_FILE", global = true)]
    pub jwt_key_file: Option<PathBuf>,
    /// Log filter (tracing EnvFilter syntax), e.g. info or mama=debug. No level logs a secret.
    #[arg(long, env = "MAMA_LOG", global = true)]
    pub log: Option<String>,
    /// Log format: `text` (default; journald adds the time and unit) or `json`, one object per
    /// line with the fields at the top level, for log shippers.
    #[arg(long, env = "MAMA_LOG_FORMAT", global = true, value_enum)]
    pub log_format: Option<LogFormat>,
    /// Lifetime of an admin session token, in minutes (default 15; 1 to 1440). The TUI renews
    /// its token before it runs out; an expired token is refused at once. Daemons sharing one
    /// database must use the same value (a longer-lived token is refused by the others).
    #[arg(long, env = "MAMA_SESSION_MINUTES", global = true)]
    pub session_minutes: Option<u32>,
    /// Timeout of one LiteLLM call, in seconds (default 10).
    #[arg(long, env = "MAMA_LITELLM_TIMEOUT_SECS", global = true)]
    pub litellm_timeout_secs: Option<f64>,
    /// LiteLLM operations applied at once (default 8).
    #[arg(long, env = "MAMA_SYNC_CONCURRENCY", global = true)]
    pub sync_concurrency: Option<usize>,
    /// Longest wait between retries of one operation, in seconds (default 300).
    #[arg(long, env = "MAMA_SYNC_MAX_BACKOFF_SECS", global = true)]
    pub sync_max_backoff_secs: Option<f64>,
    /// Prefix of the key aliases mama gives its keys in LiteLLM (default `mama-`).
    #[arg(long, env = "MAMA_SYNC_ALIAS_PREFIX", global = true)]
    pub alias_prefix: Option<String>,
    /// LiteLLM team alias for keys holding `all-team-models` (created if missing). Needs
    /// --litellm-team-models. Without a team, `all-team-models` is refused.
    #[arg(long, env = "MAMA_LITELLM_TEAM", global = true)]
    pub litellm_team: Option<String>,
    /// The models the team opens, comma-separated (e.g. gpt-4o,mock-gpt): what
    /// `all-team-models` stands for. mama keeps the team restricted to exactly these.
    #[arg(
        long,
        env = "MAMA_LITELLM_TEAM_MODELS",
        global = true,
        value_delimiter = ','
    )]
    pub litellm_team_models: Option<Vec<String>>,
    /// Seconds between reconciles with LiteLLM (default 120; one also runs at start). Each
    /// compares every field mama owns on every key; see BENCHMARKS.md for its cost.
    #[arg(long, env = "MAMA_RECONCILE_INTERVAL_SECS", global = true)]
    pub reconcile_interval_secs: Option<f64>,
    /// Minimum age in seconds of an orphan key (mama's alias, no user) before it is deleted
    /// (default 600).
    #[arg(long, env = "MAMA_ORPHAN_MIN_AGE_SECS", global = true)]
    pub orphan_min_age_secs: Option<f64>,
    /// Days events are kept (default 400: a yearly audit with a month to spare); older ones are
    /// deleted every hour, in small batches, and the deletion is itself an event. 0 keeps every
    /// event forever (plan the disk, see docs/deploy.md §9).
    #[arg(long, env = "MAMA_EVENTS_RETENTION_DAYS", global = true)]
    pub events_retention_days: Option<u32>,
    /// Seconds a rotated key keeps working after its replacement is live in LiteLLM (default
    /// 900), so services can switch without an outage; `users.rotate_keys` may ask for another.
    #[arg(long, env = "MAMA_ROTATION_GRACE_SECS", global = true)]
    pub rotation_grace_secs: Option<f64>,
    /// Seconds between usage collections from LiteLLM's daily activity (default 300; one also
    /// runs at start). Only with LiteLLM configured.
    #[arg(long, env = "MAMA_USAGE_INTERVAL_SECS", global = true)]
    pub usage_interval_secs: Option<f64>,
    /// Days of usage the first collection reads back, today included (default 90; 0 disables
    /// the backfill: only today and yesterday are read).
    #[arg(long, env = "MAMA_USAGE_BACKFILL_DAYS", global = true)]
    pub usage_backfill_days: Option<u32>,
    /// Days a deleted user waits in the trash, its key blocked in LiteLLM and restorable, before
    /// it and its key are deleted for good (default 7; 0: no trash, a delete is final at once).
    #[arg(long, env = "MAMA_TRASH_DAYS", global = true)]
    pub trash_days: Option<u32>,
}

/// The TOML file's shape: the same names as the flags, with underscores.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub data_dir: Option<PathBuf>,
    pub database_url: Option<String>,
    pub listen: Option<SocketAddr>,
    pub admin_socket: Option<PathBuf>,
    pub admin_listen: Option<SocketAddr>,
    pub litellm_url: Option<String>,
    pub litellm_master_key_file: Option<PathBuf>,
    pub encryption_key_file: Option<PathBuf>,
    pub jwt_key_file: Option<PathBuf>,
    pub log: Option<String>,
    pub log_format: Option<LogFormat>,
    pub session_minutes: Option<u32>,
    pub litellm_timeout_secs: Option<f64>,
    pub sync_concurrency: Option<usize>,
    pub sync_max_backoff_secs: Option<f64>,
    pub alias_prefix: Option<String>,
    pub litellm_team: Option<String>,
    pub litellm_team_models: Option<Vec<String>>,
    pub reconcile_interval_secs: Option<f64>,
    pub orphan_min_age_secs: Option<f64>,
    pub events_retention_days: Option<u32>,
    pub rotation_grace_secs: Option<f64>,
    pub usage_interval_secs: Option<f64>,
    pub usage_backfill_days: Option<u32>,
    pub trash_days: Option<u32>,
}

/// How log lines are written to stderr.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines (`key=value` fields).
    #[default]
    Text,
    /// One JSON object per line, fields at the top level.
    Json,
}

/// LiteLLM sync tuning.
#[derive(Debug, Clone)]
pub struct SyncSettings {
    pub timeout: std::time::Duration,
    pub concurrency: usize,
    pub max_backoff: std::time::Duration,
    pub alias_prefix: String,
    pub team: Option<String>,
    /// What the team opens; never empty when `team` is set.
    pub team_models: Vec<String>,
    pub reconcile_every: std::time::Duration,
    pub orphan_min_age: std::time::Duration,
}

/// Longest duration any seconds setting takes (about 31 years): anything longer is a typo,
/// and would overflow a `Duration`.
const MAX_SECS: f64 = 1e9;

/// A seconds setting: the default when unset, at least `min` (smaller values are raised to it),
/// and refused, naming the flag, when it is not a number of seconds a duration can hold.
fn secs(flag: &str, value: Option<f64>, default: f64, min: f64) -> Result<std::time::Duration> {
    let v = value.unwrap_or(default);
    if !v.is_finite() || v > MAX_SECS {
        bail!("--{flag} must be a number of seconds up to {MAX_SECS:e}, not {v}");
    }
    Ok(std::time::Duration::from_secs_f64(v.max(min)))
}

/// Resolved settings.
#[derive(Debug, Clone)]
pub struct Settings {
    pub data_dir: PathBuf,
    pub database_url: String,
    pub listen: SocketAddr,
    pub admin_socket: PathBuf,
    pub admin_listen: Option<SocketAddr>,
    pub litellm_url: Option<String>,
    pub litellm_master_key_file: Option<PathBuf>,
    pub encryption_key_file: PathBuf,
    pub jwt_key_file: PathBuf,
    pub log: String,
    pub log_format: LogFormat,
    /// How long an admin session token lives (see [`Opts::session_minutes`]).
    pub session_ttl: chrono::Duration,
    /// The first super admin's password on an empty database.
    pub bootstrap_password: String,
    pub sync: SyncSettings,
    /// How long events are kept; `None` keeps them forever.
    pub events_retention: Option<chrono::Duration>,
    /// How long a rotated key keeps working after its replacement is live.
    pub rotation_grace: std::time::Duration,
    /// Time between usage collections.
    pub usage_every: std::time::Duration,
    /// Days the first usage collection reads back.
    pub usage_backfill_days: u32,
    /// See [`Opts::trash_days`].
    pub trash_days: u32,
}

const DEFAULT_CONFIG: &str = "/etc/mama/mama.toml";

/// Events older than this many days are deleted (see [`Opts::events_retention_days`]).
pub const DEFAULT_EVENTS_RETENTION_DAYS: u32 = 400;
const MAX_EVENTS_RETENTION_DAYS: u32 = 36_500;
/// Most days a usage backfill reads (ten years): more is a typo.
const MAX_USAGE_BACKFILL_DAYS: u32 = 3_660;
/// Longest trash time: a year.
const MAX_TRASH_DAYS: u32 = 366;
/// Default lifetime of an admin session token.
pub const DEFAULT_SESSION_MINUTES: u32 = 15;
/// Longest session: a day. A stolen token must not outlive a working day.
const MAX_SESSION_MINUTES: u32 = 1440;

fn credential(name: &str) -> Option<PathBuf> {
    let dir = std::env::var_os("CREDENTIALS_DIRECTORY")?;
    let path = Path::new(&dir).join(name);
    path.exists().then_some(path)
}

fn default_data_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("STATE_DIRECTORY") {
        // systemd may pass several, separated by ':'; the first is ours.
        let first = dir
            .to_string_lossy()
            .split(':')
            .next()
            .unwrap_or_default()
            .to_string();
        return PathBuf::from(first);
    }
    if let Some(dir) = std::env::var_os("XDG_STATE_HOME") {
        return Path::new(&dir).join("mama");
    }
    let home = std::env::var_os("HOME").unwrap_or_else(|| ".".into());
    Path::new(&home).join(".local/state/mama")
}

impl Opts {
    pub fn resolve(&self) -> Result<Settings> {
        let file = self.load_file()?;
        let data_dir = self
            .data_dir
            .clone()
            .or(file.data_dir)
            .unwrap_or_else(default_data_dir);
        let database_url = self
            .database_url
            .clone()
            .or(file.database_url)
            .unwrap_or_else(|| data_dir.join("mama.db").to_string_lossy().into_owned());
        let admin_socket = self
            .admin_socket
            .clone()
            .or(file.admin_socket)
            .unwrap_or_else(|| match std::env::var_os("RUNTIME_DIRECTORY") {
                Some(dir) => Path::new(&dir).join("admin.sock"),
                None => data_dir.join("admin.sock"),
            });
        let bootstrap_password = match (
            std::env::var("MAMA_BOOTSTRAP_PASSWORD"),
            credential("bootstrap-password"),
        ) {
            (Ok(p), _) if !p.is_empty() => p,
            (_, Some(path)) => std::fs::read_to_string(&path)
                .with_context(|| format!("reading {}", path.display()))?
                .trim_end_matches('\n')
                .to_string(),
            _ => "admin".to_string(),
        };
        let team = self
            .litellm_team
            .clone()
            .or(file.litellm_team)
            .filter(|t| !t.is_empty());
        let team_models: Vec<String> = self
            .litellm_team_models
            .clone()
            .or(file.litellm_team_models)
            .unwrap_or_default()
            .into_iter()
            .map(|m| m.trim().to_string())
            .filter(|m| !m.is_empty())
            .collect();
        if team.is_some() && team_models.is_empty() {
            bail!("--litellm-team needs --litellm-team-models: a LiteLLM team without models opens every model");
        }
        // `mama-no-models` is mama's own marker of a key that opens nothing, never a model.
        if let Some(sentinel) = team_models.iter().find(|m| {
            mama_core::domain::access::SENTINEL_MODELS.contains(&m.as_str())
                || m.as_str() == mama_core::domain::access::NO_MODELS
        }) {
            bail!("--litellm-team-models must name models, not {sentinel}");
        }
        let sync = SyncSettings {
            timeout: secs(
                "litellm-timeout-secs",
                self.litellm_timeout_secs.or(file.litellm_timeout_secs),
                10.0,
                0.1,
            )?,
            concurrency: self
                .sync_concurrency
                .or(file.sync_concurrency)
                .unwrap_or(8)
                .clamp(1, 256),
            max_backoff: secs(
                "sync-max-backoff-secs",
                self.sync_max_backoff_secs.or(file.sync_max_backoff_secs),
                300.0,
                0.1,
            )?,
            alias_prefix: self
                .alias_prefix
                .clone()
                .or(file.alias_prefix)
                .unwrap_or_else(|| "mama-".into()),
            team,
            team_models,
            reconcile_every: secs(
                "reconcile-interval-secs",
                self.reconcile_interval_secs
                    .or(file.reconcile_interval_secs),
                120.0,
                1.0,
            )?,
            orphan_min_age: secs(
                "orphan-min-age-secs",
                self.orphan_min_age_secs.or(file.orphan_min_age_secs),
                600.0,
                0.0,
            )?,
        };
        let retention_days = self
            .events_retention_days
            .or(file.events_retention_days)
            .unwrap_or(DEFAULT_EVENTS_RETENTION_DAYS);
        if retention_days > MAX_EVENTS_RETENTION_DAYS {
            bail!(
                "--events-retention-days must be at most {MAX_EVENTS_RETENTION_DAYS} (0 keeps events forever), not {retention_days}"
            );
        }
        let events_retention =
            (retention_days > 0).then(|| chrono::Duration::days(i64::from(retention_days)));
        let rotation_grace = secs(
            "rotation-grace-secs",
            self.rotation_grace_secs.or(file.rotation_grace_secs),
            900.0,
            0.0,
        )?;
        let usage_every = secs(
            "usage-interval-secs",
            self.usage_interval_secs.or(file.usage_interval_secs),
            300.0,
            1.0,
        )?;
        let usage_backfill_days = self
            .usage_backfill_days
            .or(file.usage_backfill_days)
            .unwrap_or(90);
        if usage_backfill_days > MAX_USAGE_BACKFILL_DAYS {
            bail!(
                "--usage-backfill-days must be at most {MAX_USAGE_BACKFILL_DAYS} (0 disables the backfill), not {usage_backfill_days}"
            );
        }
        let trash_days = self.trash_days.or(file.trash_days).unwrap_or(7);
        if trash_days > MAX_TRASH_DAYS {
            bail!("--trash-days must be at most {MAX_TRASH_DAYS} (0: no trash), not {trash_days}");
        }
        let session_minutes = self
            .session_minutes
            .or(file.session_minutes)
            .unwrap_or(DEFAULT_SESSION_MINUTES);
        if !(1..=MAX_SESSION_MINUTES).contains(&session_minutes) {
            bail!(
                "--session-minutes must be from 1 to {MAX_SESSION_MINUTES}, not {session_minutes}"
            );
        }
        Ok(Settings {
            sync,
            session_ttl: chrono::Duration::minutes(i64::from(session_minutes)),
            log_format: self.log_format.or(file.log_format).unwrap_or_default(),
            events_retention,
            rotation_grace,
            usage_every,
            usage_backfill_days,
            trash_days,
            listen: self
                .listen
                .or(file.listen)
                .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8686))),
            admin_listen: self.admin_listen.or(file.admin_listen),
            litellm_url: self.litellm_url.clone().or(file.litellm_url),
            litellm_master_key_file: self
                .litellm_master_key_file
                .clone()
                .or(file.litellm_master_key_file)
                .or_else(|| credential("litellm-master-key")),
            encryption_key_file: self
                .encryption_key_file
                .clone()
                .or(file.encryption_key_file)
                .or_else(|| credential("encryption-key"))
                .unwrap_or_else(|| data_dir.join("encryption.key")),
            jwt_key_file: self
                .jwt_key_file
                .clone()
                .or(file.jwt_key_file)
                .or_else(|| credential("jwt-key"))
                .unwrap_or_else(|| data_dir.join("jwt.key")),
            log: self
                .log
                .clone()
                .or(file.log)
                .unwrap_or_else(|| "info".into()),
            data_dir,
            database_url,
            admin_socket,
            bootstrap_password,
        })
    }

    fn load_file(&self) -> Result<FileConfig> {
        let path = match &self.config {
            Some(p) => p.clone(),
            None if Path::new(DEFAULT_CONFIG).exists() => PathBuf::from(DEFAULT_CONFIG),
            None => return Ok(FileConfig::default()),
        };
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading config file {}", path.display()))?;
        match toml::from_str(&text) {
            Ok(cfg) => Ok(cfg),
            Err(e) => bail!("config file {}: {e}", path.display()),
        }
    }
}
