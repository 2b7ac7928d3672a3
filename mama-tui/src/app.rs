//! The whole state of the UI (the Elm "model"). `view` only reads it; `update` only changes it.

use chrono::{DateTime, Utc};
use mama_api::rpc::{Caller, Method};
use mama_api::types::{
    AdminView, EventFilter, EventView, ModelList, OrganizationView, Role, Scope, ServiceView,
    SyncStatus,
};

use crate::action::{Screen, Tag};
use crate::effect::Effect;
use crate::popup::{PasswordForm, Popup};
use crate::text::TextInput;
use crate::trash::{TrashKept, TrashState, DEFAULT_CONFIRM_TYPED_ABOVE};
use crate::usage::UsageState;
use crate::users::UsersState;

/// The logged-in admin. Only the token grants anything; it is dropped on logout or expiry.
#[derive(Debug, Clone)]
pub struct SessionInfo {
    pub token: String,
    pub username: String,
    pub role: Role,
    /// The organizations the account is limited to (`None`: every organization).
    pub organizations: Scope,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Default)]
pub struct LoginForm {
    pub username: TextInput,
    pub password: TextInput,
    /// 0 = username, 1 = password.
    pub focus: usize,
    pub busy: bool,
    /// Why the operator is here (session expired, wrong password, …).
    pub message: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Info,
    Error,
}

/// What the status line knows about LiteLLM and the sync queue.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum SyncState {
    #[default]
    Unknown,
    /// The daemon has no `sync.status` (older daemon): shown as "LiteLLM: n/a".
    NotAvailable,
    Known(SyncStatus),
}

/// A simple list screen (admins, services, models).
#[derive(Debug)]
pub struct ListState<T> {
    pub items: Vec<T>,
    pub selected: usize,
    pub loaded: bool,
}

impl<T> Default for ListState<T> {
    fn default() -> Self {
        ListState {
            items: Vec::new(),
            selected: 0,
            loaded: false,
        }
    }
}

impl<T> ListState<T> {
    pub fn set(&mut self, items: Vec<T>) {
        self.items = items;
        self.selected = self.selected.min(self.items.len().saturating_sub(1));
        self.loaded = true;
    }

    pub fn move_by(&mut self, delta: i64) {
        let max = self.items.len().saturating_sub(1) as i64;
        self.selected = (self.selected as i64 + delta).clamp(0, max.max(0)) as usize;
    }

    pub fn current(&self) -> Option<&T> {
        self.items.get(self.selected)
    }
}

/// How an organization is named on screen: `(none)` for the users without one.
pub fn organization_name(name: &str) -> &str {
    if name.is_empty() {
        "(none)"
    } else {
        name
    }
}

/// Rows of the services screen: each service, then its tokens, as (service, token) indexes.
pub fn service_rows(services: &[ServiceView]) -> Vec<(usize, Option<usize>)> {
    services
        .iter()
        .enumerate()
        .flat_map(|(s, service)| {
            std::iter::once((s, None)).chain((0..service.tokens.len()).map(move |t| (s, Some(t))))
        })
        .collect()
}

#[derive(Debug, Default)]
pub struct EventsState {
    pub list: ListState<EventView>,
    pub filter_input: TextInput,
    pub filter_editing: bool,
    pub filter: EventFilter,
    pub filter_error: Option<String>,
    pub offset: u64,
    pub matching: u64,
    pub query: u64,
}

/// Rows per events page.
pub const EVENTS_PAGE: u32 = 100;

#[derive(Debug)]
pub struct App {
    /// Where the daemon is, for the status line.
    pub server: String,
    /// False under `NO_COLOR`: styles then use only bold/reverse.
    pub color: bool,
    pub width: u16,
    pub height: u16,
    pub screen: Screen,
    pub session: Option<SessionInfo>,
    /// Bumped whenever the session ends; answers from older epochs are dropped.
    pub epoch: u64,
    pub login: LoginForm,
    pub force_password: PasswordForm,
    pub users: UsersState,
    pub models: ListState<mama_api::types::ModelView>,
    pub model_list: Option<ModelList>,
    pub admins: ListState<AdminView>,
    pub services: ListState<ServiceView>,
    pub events: EventsState,
    pub organizations: ListState<OrganizationView>,
    pub usage: UsageState,
    pub trash: TrashState,
    /// What the daemon's answers said about its trash, for the delete confirm.
    pub trash_kept: TrashKept,
    /// Deleting or purging more users than this asks for their count to be typed.
    pub confirm_typed_above: u64,
    /// Minutes without a key press, click or paste after which the session ends (0: never).
    pub idle_logout_minutes: u64,
    /// When the operator last pressed a key, clicked or pasted.
    pub last_input: DateTime<Utc>,
    pub popups: Vec<Popup>,
    pub message: Option<(Level, String)>,
    pub sync: SyncState,
    /// Models LiteLLM serves (name, available), for pickers.
    pub catalog: Vec<(String, bool)>,
    pub service_names: Vec<String>,
    pub in_flight: usize,
    pub ticks: u64,
    pub now: DateTime<Utc>,
    pub last_sync_poll: Option<DateTime<Utc>>,
    pub refreshing: bool,
    /// A bulk change was applied: the status line follows the sync queue until it drains.
    pub watching_sync: bool,
    /// Bulk changes previewed (dry run) and waiting for the operator's confirmation.
    pub pending_bulk: Vec<mama_api::types::BulkUpdateParams>,
    pub quit: bool,
    effects: Vec<Effect>,
}

/// A TUI left open and unattended signs out after this long (`--idle-logout-minutes`).
pub const DEFAULT_IDLE_LOGOUT_MINUTES: u64 = 30;

impl App {
    pub fn new(server: String, color: bool, width: u16, height: u16) -> Self {
        App {
            server,
            color,
            width,
            height,
            screen: Screen::Login,
            session: None,
            epoch: 0,
            login: LoginForm {
                username: TextInput::new("admin"),
                focus: 1,
                ..LoginForm::default()
            },
            force_password: PasswordForm::default(),
            users: UsersState::default(),
            models: ListState::default(),
            model_list: None,
            admins: ListState::default(),
            services: ListState::default(),
            events: EventsState::default(),
            organizations: ListState::default(),
            usage: UsageState::default(),
            trash: TrashState::default(),
            trash_kept: TrashKept::Unknown,
            confirm_typed_above: DEFAULT_CONFIRM_TYPED_ABOVE,
            idle_logout_minutes: DEFAULT_IDLE_LOGOUT_MINUTES,
            last_input: Utc::now(),
            popups: Vec::new(),
            message: None,
            sync: SyncState::Unknown,
            catalog: Vec::new(),
            service_names: Vec::new(),
            in_flight: 0,
            ticks: 0,
            now: Utc::now(),
            last_sync_poll: None,
            refreshing: false,
            watching_sync: false,
            pending_bulk: Vec::new(),
            quit: false,
            effects: Vec::new(),
        }
    }

    pub fn token(&self) -> Option<String> {
        self.session.as_ref().map(|s| s.token.clone())
    }

    /// Why the signed-in account may not call a method declared for `caller`; `None` when it
    /// may. The daemon decides with the same [`Caller::admits`], so what the TUI offers and what
    /// the daemon allows cannot drift apart. Without a session only what anyone may do is
    /// allowed.
    pub fn refusal(&self, caller: Caller) -> Option<&'static str> {
        let (role, scoped) = match &self.session {
            Some(s) => (s.role, s.organizations.is_some()),
            None if caller == Caller::Anyone => return None,
            None => return Some("not logged in"),
        };
        caller.admits(role, scoped).err()
    }

    /// Whether the signed-in account may call a method declared for `caller`.
    pub fn may(&self, caller: Caller) -> bool {
        self.refusal(caller).is_none()
    }

    /// Refuses, on the status line, what the account may not do. Returns whether it may.
    pub fn check(&mut self, caller: Caller) -> bool {
        match self.refusal(caller) {
            Some(reason) => {
                self.error(reason);
                false
            }
            None => true,
        }
    }

    /// Queues an RPC call with the current session.
    /// Calls method `M` with its own params type, so a call cannot send the wrong shape.
    pub fn call<M: Method>(&mut self, params: &M::Params, tag: Tag) {
        self.in_flight += 1;
        let effect = Effect::Call {
            method: M::NAME,
            params: crate::effect::to_params(params),
            tag,
            token: self.token(),
            epoch: self.epoch,
        };
        self.effects.push(effect);
    }

    pub fn push_effect(&mut self, effect: Effect) {
        // Quitting and the clipboard are answered by no reply.
        if !matches!(effect, Effect::Quit | Effect::Clipboard { .. }) {
            self.in_flight += 1;
        }
        self.effects.push(effect);
    }

    pub fn take_effects(&mut self) -> Vec<Effect> {
        std::mem::take(&mut self.effects)
    }

    pub fn info(&mut self, text: impl Into<String>) {
        self.message = Some((Level::Info, text.into()));
    }

    pub fn error(&mut self, text: impl Into<String>) {
        self.message = Some((Level::Error, text.into()));
    }

    /// Rows of the users table body at the current size (title, header, filter bar, status and
    /// hint lines take the rest).
    pub fn table_rows(&self) -> u64 {
        u64::from(self.height.saturating_sub(5)).max(1)
    }

    /// Ends the session: every user, admin, service, event, organization, usage and trash row is
    /// dropped from memory.
    pub fn end_session(&mut self, message: impl Into<String>) {
        self.session = None;
        self.epoch += 1;
        self.screen = Screen::Login;
        self.login.password.clear();
        self.login.focus = 1;
        self.login.busy = false;
        self.login.message = Some(message.into());
        self.force_password = PasswordForm::default();
        self.users.clear();
        self.models = ListState::default();
        self.model_list = None;
        self.admins = ListState::default();
        self.services = ListState::default();
        self.events = EventsState::default();
        self.organizations = ListState::default();
        self.usage = UsageState::default();
        self.trash = TrashState::default();
        self.popups.clear();
        self.catalog.clear();
        self.service_names.clear();
        self.sync = SyncState::Unknown;
        self.watching_sync = false;
        self.pending_bulk.clear();
        self.refreshing = false;
        self.message = None;
    }
}
