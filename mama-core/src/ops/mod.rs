//! Use cases. Each one validates its input as a whole, owns its transaction, and records its
//! event: a change and its event commit together; a read returns data only after its event is
//! stored (through the [`audit::AuditWriter`], which groups many events per commit).

pub mod admins;
pub mod audit;
pub mod auth;
pub mod bulk;
pub mod catalog;
pub mod context;
pub mod encryption_key;
pub mod events;
pub mod lookup;
mod lookup_cache;
pub mod models;
pub mod organizations;
pub mod refusals;
pub mod rotate;
pub mod services;
pub mod sync;
pub mod throttle;
pub mod trash;
pub mod undo;
pub mod usage;
mod user_input;
pub mod users;

use std::sync::Arc;

pub use context::{Actor, Channel, Ctx};

use crate::api::{ApiError, ErrorCode};
use crate::auth::JwtKeys;
use crate::crypto::KeyCipher;
use crate::db::{Db, DbError};

/// Settings of the use cases that do not come from the database.
#[derive(Debug, Clone)]
pub struct CoreConfig {
    /// Password of the first super admin on an empty database (must be changed at first login).
    pub bootstrap_password: String,
    /// How long a rotated key keeps working once its replacement is live in LiteLLM, unless a
    /// rotation asks for another grace.
    pub rotation_grace: std::time::Duration,
    /// Days of usage the first collection reads back, today included (0: none before
    /// yesterday), so a new installation shows history at once.
    pub usage_backfill_days: u32,
    /// Days a deleted user waits in the trash, its key blocked, before it and its key are
    /// deleted for good (0: no trash, a delete is final at once).
    pub trash_days: u32,
}

impl Default for CoreConfig {
    fn default() -> Self {
        CoreConfig {
            bootstrap_password: "admin".into(),
            rotation_grace: std::time::Duration::from_secs(15 * 60),
            usage_backfill_days: 90,
            trash_days: 7,
        }
    }
}

/// Everything the use cases need. Cheap to clone (all shared).
#[derive(Clone)]
pub struct Mama {
    pub db: Db,
    pub audit: audit::AuditWriter,
    pub jwt: Arc<JwtKeys>,
    pub cipher: Arc<KeyCipher>,
    pub catalog: catalog::Catalog,
    pub config: Arc<CoreConfig>,
    /// LiteLLM sync state; empty until the daemon configures LiteLLM.
    pub sync: crate::sync::SyncHandle,
    /// Rendered lookup answers and token resolutions (see `lookup_cache`).
    lookup_caches: lookup::LookupCaches,
    /// Unauthenticated REST refusals per source, aggregated (see `refusals`).
    pub refusals: refusals::SharedRefusals,
}

impl Mama {
    /// Assembles the core and starts the audit writer (needs a tokio runtime).
    pub fn new(db: Db, jwt: JwtKeys, cipher: KeyCipher, config: CoreConfig) -> Mama {
        let audit = audit::AuditWriter::start(db.clone());
        let refusals = refusals::SharedRefusals::default();
        refusals::start_flusher(Arc::downgrade(&refusals), audit.clone());
        Mama {
            refusals,
            lookup_caches: lookup::LookupCaches::default(),
            db,
            audit,
            jwt: Arc::new(jwt),
            cipher: Arc::new(cipher),
            catalog: catalog::Catalog::default(),
            config: Arc::new(config),
            sync: crate::sync::SyncHandle::default(),
        }
    }
}

impl Mama {
    /// Finishes a read: its data is returned only once its event is stored, and a failure is
    /// recorded too. `describe` adds what the result says (a count, a detail) to the event.
    /// Ends a poll of the daemon's own state — `sync.status`: counts and LiteLLM's state, no
    /// user's data — which is not a view of user information: a success records no event
    /// (the TUI asks every few seconds while a change syncs; such polls were 145 of 334 view
    /// events in a day's use), a failure or refusal is recorded like any request's.
    pub(crate) async fn finish_poll<T>(
        &self,
        event: context::EventBuilder,
        result: OpResult<T>,
    ) -> OpResult<T> {
        if let Err(err) = &result {
            self.audit.record_failure(event.failed(err)).await;
        }
        result
    }

    pub(crate) async fn finish_read<T>(
        &self,
        event: context::EventBuilder,
        result: OpResult<T>,
        describe: impl FnOnce(context::EventBuilder, &T) -> context::EventBuilder,
    ) -> OpResult<T> {
        debug_assert_eq!(
            event.action().kind(),
            crate::api::types::EventKind::View,
            "{} is read through finish_read but is not declared a view",
            event.action().name()
        );
        match result {
            Ok(value) => {
                let event = describe(event, &value).ok();
                self.audit.record(event).await.map_err(|_| audit_failed())?;
                Ok(value)
            }
            Err(err) => {
                self.audit.record_failure(event.failed(&err)).await;
                Err(err)
            }
        }
    }
}

/// Maps a storage error to what a client may see. Internals are logged, never echoed.
impl From<DbError> for ApiError {
    fn from(err: DbError) -> Self {
        match err {
            DbError::Unavailable(detail) => {
                tracing::warn!(%detail, "database unavailable");
                ApiError {
                    retry_after_secs: Some(5),
                    ..ApiError::new(
                        ErrorCode::Unavailable,
                        "the database is unavailable; try again shortly",
                    )
                }
            }
            other => {
                tracing::error!(error = %other, "database error");
                ApiError::new(ErrorCode::Internal, "internal error; see the daemon's log")
            }
        }
    }
}

/// What a client is told when its event could not be stored.
pub const AUDIT_FAILED_MESSAGE: &str = "the event log could not be written; nothing was changed";

/// The error when an event could not be stored: the request must fail and change nothing.
pub fn audit_failed() -> ApiError {
    ApiError {
        retry_after_secs: Some(5),
        ..ApiError::new(ErrorCode::Unavailable, AUDIT_FAILED_MESSAGE)
    }
}

pub type OpResult<T> = Result<T, ApiError>;
