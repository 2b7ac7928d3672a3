//! Who is asking, from where, over which channel: everything an event needs besides the action.

use std::time::Instant;

use crate::api::actions::Action;
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
        self.clone().into_name()
    }

    /// The name, without copying it.
    fn into_name(self) -> String {
        match self {
            Actor::Admin(n) | Actor::Service(n) | Actor::Anonymous(Some(n)) => n,
            Actor::System => "mama".into(),
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
    /// The data generation read while authenticating this request, when that came for free
    /// (PostgreSQL reads it with the service token): its lookup starts from it instead of
    /// reading it again (see `lookup_cache`).
    pub data_generation: Option<u64>,
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
            data_generation: None,
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
    pub fn event(&self, action: Action) -> EventBuilder {
        EventBuilder {
            ctx: self.clone(),
            action,
            user_ids_json: String::from("[]"),
            user_count: 0,
            linked_user_ids: Vec::new(),
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
    action: Action,
    /// The affected users as the row shows them: a JSON array of all of them, or of the first
    /// [`LISTED_USER_IDS`] when there are more than [`INLINE_USER_IDS`]. Rendered once, when
    /// they are named: an audited lookup of 100 ids costs one buffer, not 100 strings.
    user_ids_json: String,
    user_count: usize,
    /// Every affected user, only when they are too many for the row (see [`INLINE_USER_IDS`]).
    linked_user_ids: Vec<String>,
    target_count: Option<i64>,
    filter: Option<String>,
    detail: Option<String>,
}

impl EventBuilder {
    pub fn action(&self) -> Action {
        self.action
    }

    pub fn users<I>(mut self, ids: I) -> Self
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
        I::IntoIter: ExactSizeIterator,
    {
        let ids = ids.into_iter();
        let count = ids.len();
        let linked = count > INLINE_USER_IDS;
        let listed = if linked { LISTED_USER_IDS } else { count };
        let mut json = String::with_capacity(2 + listed * 16);
        json.push('[');
        let mut all = Vec::with_capacity(if linked { count } else { 0 });
        for (i, id) in ids.enumerate() {
            let id = id.as_ref();
            if i < listed {
                if i > 0 {
                    json.push(',');
                }
                push_json_string(&mut json, id);
            }
            if linked {
                all.push(id.to_string());
            }
        }
        json.push(']');
        self.user_ids_json = json;
        self.user_count = count;
        self.linked_user_ids = all;
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
        // The builder owns its copy of the context: its strings move into the row.
        let ctx = self.ctx;
        let row = EventRow {
            id: uuid::Uuid::now_v7().to_string(),
            at: crate::db::now(),
            actor_kind: ctx.actor.kind().into(),
            duration_ms: Some(ctx.started.elapsed().as_millis() as i64),
            actor: ctx.actor.into_name(),
            channel: ctx.channel.as_str().into(),
            action: self.action.name().into(),
            user_ids: self.user_ids_json,
            target_count: self.target_count.unwrap_or(self.user_count as i64),
            target_filter: self.filter,
            result: result.into(),
            error_code: code,
            error_message: message,
            client: Some(ctx.client),
            request_id: Some(ctx.request_id),
            detail: self.detail,
            user_ids_packed: None,
        };
        NewEvent {
            row,
            linked_user_ids: self.linked_user_ids,
        }
    }
}

/// Appends `s` as a JSON string. Valid ids need no escaping (the common case, copied as is);
/// anything else goes through serde_json.
fn push_json_string(out: &mut String, s: &str) {
    let plain = s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\');
    if plain {
        out.push('"');
        out.push_str(s);
        out.push('"');
    } else {
        out.push_str(&serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into()));
    }
}
