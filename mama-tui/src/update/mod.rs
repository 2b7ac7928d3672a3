//! `update(&mut App, Action) -> Vec<Effect>`: the only place the model changes. Pure apart from
//! the clock values the tick carries, so whole flows are tested by feeding actions and replies.

mod auth;
mod bulk;
pub mod create;
mod dialogs;
mod popups;
mod screens;
mod users;

use chrono::{DateTime, Duration, Utc};
use mama_api::rpc::method;
use mama_api::ErrorCode;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use crate::action::{Action, Cmd, Reply, Screen, Tag};
use crate::app::{App, SyncState};
use crate::client::ClientError;
use crate::effect::Effect;
use crate::popup::Popup;

pub use bulk::bulk_change;
pub use create::parse_rows;
pub use dialogs::SENTINELS;
pub use screens::service_rows;
pub use users::{bulk_targets, ID_CHUNK};

/// How often the status line asks for `sync.status`.
const SYNC_POLL_SECS: i64 = 5;
/// Refresh the session when less than this remains (sessions last 15 minutes).
const REFRESH_BEFORE_SECS: i64 = 5 * 60;
/// Ticks (50 ms) a typed filter waits for the previous query's answer before it is sent anyway.
const FILTER_MAX_WAIT_TICKS: u8 = 40;

pub fn update(app: &mut App, action: Action) -> Vec<Effect> {
    match action {
        Action::None => {}
        Action::Tick(now) => tick(app, now),
        Action::Resize(width, height) => {
            app.width = width;
            app.height = height;
            let rows = app.table_rows();
            let selected = app.users.selected;
            app.users.select(selected, rows);
            users::fetch_pages(app);
        }
        Action::Reply(reply) => handle_reply(app, reply),
        Action::Click { x, y } => users::click(app, x, y),
        Action::Scroll(rows) => match app.screen {
            Screen::Users if app.popups.is_empty() => users::move_by(app, i64::from(rows)),
            _ => {}
        },
        Action::Edit(edit) => {
            if app.popups.is_empty() {
                match app.screen {
                    Screen::Login | Screen::ForcePassword => auth::edit(app, &edit),
                    Screen::Users => users::edit_filter(app, &edit),
                    Screen::Events => screens::edit_events_filter(app, &edit),
                    _ => {}
                }
            } else {
                popups::edit(app, &edit);
            }
        }
        Action::Cmd(cmd) => command(app, cmd),
    }
    app.take_effects()
}

fn command(app: &mut App, cmd: Cmd) {
    if !app.popups.is_empty() {
        popups::command(app, cmd);
        return;
    }
    if app.screen == Screen::Users && app.users.filter_editing {
        users::filter_bar_command(app, cmd);
        return;
    }
    if app.screen == Screen::Events && app.events.filter_editing {
        screens::events_filter_command(app, cmd);
        return;
    }
    match app.screen {
        Screen::Login | Screen::ForcePassword => auth::command(app, cmd),
        screen => {
            if !global(app, cmd) {
                match screen {
                    Screen::Users => users::command(app, cmd),
                    _ => screens::command(app, screen, cmd),
                }
            }
        }
    }
}

/// Commands that mean the same on every logged-in screen. Returns whether `cmd` was one.
fn global(app: &mut App, cmd: Cmd) -> bool {
    match cmd {
        Cmd::Quit => quit(app),
        Cmd::Help => app.popups.push(Popup::Help),
        Cmd::Palette => app.popups.push(Popup::Palette(Default::default())),
        Cmd::GoTo(screen) => go_to(app, screen),
        Cmd::ChangePassword => app.popups.push(Popup::Password(Default::default())),
        _ => return false,
    }
    true
}

pub(crate) fn quit(app: &mut App) {
    app.quit = true;
    app.push_effect(Effect::Quit);
}

/// Switches screens and loads what the new one shows.
pub(crate) fn go_to(app: &mut App, screen: Screen) {
    if app.session.is_none() {
        return;
    }
    app.screen = screen;
    match screen {
        Screen::Users => users::fetch_pages(app),
        Screen::Models => screens::load_models(app),
        Screen::Admins => screens::load_admins(app),
        Screen::Services => screens::load_services(app),
        Screen::Events => screens::apply_events_filter(app),
        Screen::Login | Screen::ForcePassword => {}
    }
}

fn tick(app: &mut App, now: DateTime<Utc>) {
    app.now = now;
    app.ticks += 1;
    users::debounce_filter(app);
    let Some(session) = &app.session else { return };
    if !app.refreshing && session.expires_at - now < Duration::seconds(REFRESH_BEFORE_SECS) {
        app.refreshing = true;
        app.call::<method::AuthRefresh>(&Default::default(), Tag::Refresh);
    }
    if app.screen == Screen::ForcePassword || app.sync == SyncState::NotAvailable {
        return;
    }
    let due = app
        .last_sync_poll
        .is_none_or(|last| now - last >= Duration::seconds(SYNC_POLL_SECS));
    if due {
        app.last_sync_poll = Some(now);
        app.call::<method::SyncStatus>(&Default::default(), Tag::SyncStatus);
    }
}

fn handle_reply(app: &mut App, reply: Reply) {
    if reply.tag == Tag::Progress {
        if reply.epoch == app.epoch {
            if let Ok(v) = &reply.result {
                let what = v.get("what").and_then(Value::as_str).unwrap_or("Working");
                let done = v.get("done").and_then(Value::as_u64).unwrap_or(0);
                let total = v.get("total").and_then(Value::as_u64).unwrap_or(0);
                app.info(format!("{what}… {done}/{total}"));
            }
        }
        return;
    }
    app.in_flight = app.in_flight.saturating_sub(1);
    if reply.epoch != app.epoch {
        return;
    }
    if let Err(err) = &reply.result {
        if session_lost(app, &reply.tag, err) {
            return;
        }
    }
    match reply.tag {
        Tag::Login | Tag::Refresh | Tag::Logout | Tag::ChangePassword => {
            auth::reply(app, reply.tag, reply.result)
        }
        Tag::UsersPage { .. } | Tag::UsersCount { .. } | Tag::MarkAll { .. } | Tag::Export => {
            users::reply(app, reply.tag, reply.result)
        }
        Tag::EditLoad | Tag::UpdateUser | Tag::DeleteUsers | Tag::RotateKeys => {
            dialogs::reply(app, reply.tag, reply.result)
        }
        Tag::BulkPreview | Tag::BulkApply => bulk::reply(app, reply.tag, reply.result),
        Tag::CreateUsers | Tag::ImportFile => create::reply(app, reply.tag, reply.result),
        _ => screens::reply(app, reply.tag, reply.result),
    }
}

/// Session errors end the session (or force the password change) whatever the call was.
/// Returns whether the reply was consumed.
fn session_lost(app: &mut App, tag: &Tag, err: &ClientError) -> bool {
    let Some(api) = err.api() else { return false };
    match api.code {
        ErrorCode::SessionExpired if *tag != Tag::Login => {
            app.end_session("Your session expired. Log in again.");
            true
        }
        ErrorCode::SessionRevoked if *tag != Tag::Login => {
            app.end_session("Your session was revoked. Log in again.");
            true
        }
        ErrorCode::Unauthenticated if !matches!(tag, Tag::Login | Tag::ChangePassword) => {
            app.end_session("Not logged in. Log in again.");
            true
        }
        ErrorCode::PasswordChangeRequired if *tag != Tag::ChangePassword => {
            app.popups.clear();
            app.screen = Screen::ForcePassword;
            app.force_password.error = Some("You must change your password first.".into());
            true
        }
        _ => false,
    }
}

/// Serializes params; these types cannot fail to serialize, `Null` is only a type-level fallback.
pub fn to_params<T: Serialize>(params: &T) -> Value {
    serde_json::to_value(params).unwrap_or(Value::Null)
}

/// Decodes a result into its type; a mismatch is a protocol error, not a panic.
pub(crate) fn decode<T: DeserializeOwned>(
    result: Result<Value, ClientError>,
) -> Result<T, ClientError> {
    let value = result?;
    serde_json::from_value(value).map_err(|e| ClientError::Protocol(e.to_string()))
}

/// Whether the daemon lacks the method (an older daemon): features degrade instead of failing.
pub fn is_missing_method(err: &ClientError) -> bool {
    err.api()
        .is_some_and(|e| e.code == ErrorCode::MethodNotFound)
}

/// One line for the status bar: the daemon's message, with the fields at fault.
pub(crate) fn describe(err: &ClientError) -> String {
    match err {
        ClientError::Api(api) if api.code == ErrorCode::LoginThrottled => {
            match api.retry_after_secs {
                Some(secs) => format!("{} (retry in {secs}s)", api.message),
                None => api.message.clone(),
            }
        }
        ClientError::Api(api) => api.message.clone(),
        other => other.to_string(),
    }
}
