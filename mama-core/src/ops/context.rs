//! Who is asking, from where, over which channel: everything an event needs besides the action.

use std::time::Instant;

use crate::api::ApiError;
use crate::db::events::{EventRow, NewEvent, INLINE_USER_IDS, LISTED_USER_IDS};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    Rpc,
    Rest,
    Sync,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Rpc => "rpc",
            Channel::Rest => "rest",
            Channel::Sync => "sync",
        }
    }
}

/// The authenticated (or not yet authenticated) caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    Admin(String),
    Service(String),
    System,
    /// Not authenticated (yet): a failed login names the username it tried.
    Anonymous(Option<String>),
}

impl Actor {
    pub fn kind(&self) -> &'static str {
        match self {
            Actor::Admin(_) => "admin",
            Actor::Service(_) => "service",
            Actor::System => "system",
            Actor::Anonymous(_) => "anonymous",
        }
    }

    pub fn name(&self) -> String {
        match self {
            Actor::Admin(n) | Actor::Service(n) => n.clone(),
            Actor::System => "mama".into(),
            Actor::Anonymous(Some(n)) => n.clone(),
            Actor::Anonymous(None) => "-".into(),
        }
    }
}

/// One request's context.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub actor: Actor,
    pub channel: Channel,
    /// Client address, or the socket peer's credentials for the Unix socket.
    pub client: String,
    pub request_id: String,
    pub started: Instant,
}

impl Ctx {
    pub fn new(
        actor: Actor,
        channel: Channel,
        client: impl Into<String>,
        request_id: impl Into<String>,
    ) -> Ctx {
        Ctx {
            actor,
            channel,
            client: client.into(),
            request_id: request_id.into(),
            started: Instant::now(),
        }
    }

    /// A context for the daemon's own work (sync worker, reconciler).
    pub fn system(action_id: impl Into<String>) -> Ctx {
        Ctx::new(Actor::System, Channel::Sync, "local", action_id)
    }

    pub fn with_actor(&self, actor: Actor) -> Ctx {
        Ctx {
            actor,
            ..self.clone()
        }
    }

    /// Starts an event for `action`.
    pub fn event(&self, action: &str) -> EventBuilder {
        EventBuilder {
            ctx: self.clone(),
            action: action.to_string(),
            user_ids: Vec::new(),
            target_count: None,
            filter: None,
            detail: None,
        }
    }
}

/// Builds one event row; finished with [`EventBuilder::ok`] or [`EventBuilder::failed`].
#[derive(Debug, Clone)]
pub struct EventBuilder {
    ctx: Ctx,
    action: String,
    user_ids: Vec<String>,
    target_count: Option<i64>,
    filter: Option<String>,
    detail: Option<String>,
}

impl EventBuilder {
    pub fn users(mut self, ids: impl IntoIterator<Item = String>) -> Self {
        self.user_ids = ids.into_iter().collect();
        self
    }

    pub fn count(mut self, n: u64) -> Self {
        self.target_count = Some(n as i64);
        self
    }

    pub fn filter<T: serde::Serialize>(mut self, filter: &T) -> Self {
        self.filter = serde_json::to_string(filter).ok();
        self
    }

    /// A short description of what was done; never a secret.
    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    pub fn ok(self) -> NewEvent {
        self.finish("ok", None, None)
    }

    pub fn failed(self, err: &ApiError) -> NewEvent {
        self.finish(
            "error",
            Some(err.code.as_str().to_string()),
            Some(err.message.clone()),
        )
    }

    fn finish(self, result: &str, code: Option<String>, message: Option<String>) -> NewEvent {
        let keep = if self.user_ids.len() <= INLINE_USER_IDS {
            INLINE_USER_IDS
        } else {
            LISTED_USER_IDS
        };
        let listed: Vec<&String> = self.user_ids.iter().take(keep).collect();
        let row = EventRow {
            id: uuid::Uuid::now_v7().to_string(),
            at: crate::db::now(),
            actor_kind: self.ctx.actor.kind().into(),
            actor: self.ctx.actor.name(),
            channel: self.ctx.channel.as_str().into(),
            action: self.action,
            user_ids: serde_json::to_string(&listed).unwrap_or_else(|_| "[]".into()),
            target_count: self.target_count.unwrap_or(self.user_ids.len() as i64),
            target_filter: self.filter,
            result: result.into(),
            error_code: code,
            error_message: message,
            client: Some(self.ctx.client.clone()),
            request_id: Some(self.ctx.request_id.clone()),
            duration_ms: Some(self.ctx.started.elapsed().as_millis() as i64),
            detail: self.detail,
        };
        NewEvent {
            row,
            all_user_ids: self.user_ids,
        }
    }
}
