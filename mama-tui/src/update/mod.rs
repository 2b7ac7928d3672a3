//! `update(&mut App, Action) -> Vec<Effect>`: the only place the model changes. Pure apart from
//! the clock values the tick carries, so whole flows are tested by feeding actions and replies.
//!
//! This file only routes: an action, a key or an answer goes to the module that owns it. The
//! modules import only from the layers under them, so no two depend on each other:
//!
//! 1. keys: `popups` (the popup on top) over `screens` (the logged-in screens), `auth` (login)
//!    and `dialogs`, which hands typing and keys to the dialog on top;
//! 2. the dialogs `edit_user`, `bulk` and `create`; `organizations` (their defaults dialog);
//!    `admins` (the accounts, their form and answers);
//!    `sync` (LiteLLM's state); `nav` (screens); `usage` (the usage screen and its queries);
//!    `trash` (the trash screen, restoring and purging); `undo` (undoing an event, previewed);
//! 3. the data they change: `users` (the users table), `lists` (models, admins, services,
//!    events);
//! 4. what all use: `rpc` (calls and answers), `form` (what dialogs share), `confirm` (asking
//!    before acting on many users), `picker`.

mod admins;
mod auth;
mod bulk;
mod bulk_summary;
mod confirm;
pub mod create;
mod dialogs;
mod edit_user;
mod form;
mod lists;
mod nav;
mod organizations;
mod picker;
mod popups;
mod reveal;
mod rpc;
mod screens;
mod suspend;
mod sync;
mod trash;
mod undo;
mod usage;
mod users;

use chrono::{DateTime, Duration, Utc};
use mama_api::rpc::method;
use mama_api::ErrorCode;
use serde_json::Value;

use crate::action::{Action, Cmd, Reply, Screen, Tag};
use crate::app::{App, SyncState};
use crate::client::ClientError;
use crate::effect::Effect;
use crate::popup::Popup;
use nav::{go_to, quit};

pub use bulk::bulk_change;
pub use create::parse_rows;
pub use picker::SENTINELS;
pub use rpc::{is_missing_method, ID_CHUNK};
pub use users::bulk_targets;

/// How often the status line asks for `sync.status`.
const SYNC_POLL_SECS: i64 = 5;
/// Refresh the session when less than this remains (sessions last 15 minutes).
const REFRESH_BEFORE_SECS: i64 = 5 * 60;

pub fn update(app: &mut App, action: Action) -> Vec<Effect> {
    if is_input(&action) {
        app.last_input = app.now;
    }
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
        Action::Scroll(rows) if matches!(app.popups.last(), Some(Popup::Undo(_))) => {
            let cmd = if rows < 0 { Cmd::Up } else { Cmd::Down };
            for _ in 0..rows.unsigned_abs() {
                undo::command(app, cmd);
            }
        }
        Action::Scroll(rows) if matches!(app.popups.last(), Some(Popup::Help { .. })) => {
            let cmd = if rows < 0 { Cmd::Up } else { Cmd::Down };
            for _ in 0..rows.unsigned_abs() {
                popups::help_command(app, cmd);
            }
        }
        Action::Scroll(rows) if matches!(app.popups.last(), Some(Popup::BulkPreview(_))) => {
            let cmd = if rows < 0 { Cmd::Up } else { Cmd::Down };
            for _ in 0..rows.unsigned_abs() {
                bulk::preview_command(app, cmd);
            }
        }
        Action::Scroll(rows) => match app.screen {
            Screen::Users if app.popups.is_empty() => users::move_by(app, i64::from(rows)),
            Screen::Usage if app.popups.is_empty() => app.usage.move_by(i64::from(rows)),
            Screen::Trash if app.popups.is_empty() => app.trash.list.move_by(i64::from(rows)),
            _ => {}
        },
        Action::Edit(edit) => {
            if app.popups.is_empty() {
                match app.screen {
                    Screen::Login | Screen::ForcePassword => auth::edit(app, &edit),
                    Screen::Users => users::edit_filter(app, &edit),
                    Screen::Events => screens::edit_events_filter(app, &edit),
                    Screen::Usage => usage::edit_filter(app, &edit),
                    Screen::Trash => trash::edit_filter(app, &edit),
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
        screens::users_filter_command(app, cmd);
        return;
    }
    if app.screen == Screen::Events && app.events.filter_editing {
        screens::events_filter_command(app, cmd);
        return;
    }
    if app.screen == Screen::Usage && app.usage.filter_editing {
        screens::usage_filter_command(app, cmd);
        return;
    }
    if app.screen == Screen::Trash && app.trash.filter_editing {
        screens::trash_filter_command(app, cmd);
        return;
    }
    match app.screen {
        Screen::Login | Screen::ForcePassword => auth::command(app, cmd),
        screen => {
            // A command the account may not run is refused here, whichever key or click sent
            // it: nothing is called, and the status line says why.
            if !global(app, cmd) && app.check(crate::keymap::caller(screen, cmd)) {
                screens::command(app, screen, cmd);
            }
        }
    }
}

/// Commands that mean the same on every logged-in screen. Returns whether `cmd` was one.
fn global(app: &mut App, cmd: Cmd) -> bool {
    match cmd {
        Cmd::Quit => quit(app),
        Cmd::Help => app.popups.push(Popup::Help { scroll: 0 }),
        Cmd::Palette => app.popups.push(Popup::Palette(Default::default())),
        Cmd::GoTo(screen) => go_to(app, screen),
        Cmd::ChangePassword => app.popups.push(Popup::Password(Default::default())),
        Cmd::ShowMessage => show_message(app),
        _ => return false,
    }
    true
}

/// The status line's message in a popup that wraps it, however long.
fn show_message(app: &mut App) {
    let Some((level, text)) = &app.message else {
        return;
    };
    let title = match level {
        crate::app::Level::Error => "Error",
        crate::app::Level::Info => "Message",
    };
    app.popups.push(Popup::Message {
        title: title.to_string(),
        lines: vec![text.clone()],
    });
}

/// Whether the operator did something: a key (bound or not), a click, a scroll or a paste.
/// Ticks, replies and a resized window are not someone at the keyboard.
fn is_input(action: &Action) -> bool {
    !matches!(
        action,
        Action::Tick(_) | Action::Reply(_) | Action::Resize(..)
    )
}

fn tick(app: &mut App, now: DateTime<Utc>) {
    app.now = now;
    app.ticks += 1;
    users::debounce_filter(app);
    usage::tick(app, now);
    if app.session.is_none() {
        // Nobody signed in: the idle clock starts again at the login.
        app.last_input = now;
        return;
    }
    // At most a year: a larger setting means never, and must not overflow.
    let idle = Duration::minutes(app.idle_logout_minutes.min(525_600) as i64);
    if app.idle_logout_minutes > 0 && now - app.last_input >= idle {
        app.call::<method::AuthLogout>(&Default::default(), Tag::Logout);
        app.end_session(format!(
            "Signed out after {} without input (--idle-logout-minutes).",
            crate::text::count(app.idle_logout_minutes, "minute")
        ));
        return;
    }
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
        Tag::UsersPage { .. }
        | Tag::UsersCount { .. }
        | Tag::MarkAll { .. }
        | Tag::MarksInView { .. }
        | Tag::Export
        | Tag::DeleteUsers
        | Tag::RotateKeys => users::reply(app, reply.tag, reply.result),
        Tag::RevealKey => reveal::reply(app, reply.result),
        Tag::EditLoad | Tag::UpdateUser => edit_user::reply(app, reply.tag, reply.result),
        Tag::SuspendUser | Tag::ResumeUser => suspend::reply(app, reply.tag, reply.result),
        Tag::BulkPreview | Tag::BulkApply => bulk::reply(app, reply.tag, reply.result),
        Tag::CreateUsers | Tag::CreateValid | Tag::RejectedWritten { .. } | Tag::ImportFile => {
            create::reply(app, reply.tag, reply.result)
        }
        Tag::Organizations | Tag::OrgDefaultsPreview | Tag::OrgDefaultsApply => {
            organizations::reply(app, reply.tag, reply.result)
        }
        Tag::UsageTable { .. } | Tag::UsageChart { .. } | Tag::UsageExport => {
            usage::reply(app, reply.tag, reply.result)
        }
        Tag::Trash { .. } | Tag::RestoreUsers | Tag::PurgeUsers => {
            trash::reply(app, reply.tag, reply.result)
        }
        Tag::UndoPreview { .. } | Tag::UndoApply => undo::reply(app, reply.tag, reply.result),
        Tag::SyncStatus | Tag::SyncFailures | Tag::Reconcile | Tag::RetryFailed => {
            sync::reply(app, reply.tag, reply.result)
        }
        Tag::Admins | Tag::CreateAdmin | Tag::UpdateAdmin | Tag::DeleteAdmin => {
            admins::reply(app, reply.tag, reply.result)
        }
        _ => lists::reply(app, reply.tag, reply.result),
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
