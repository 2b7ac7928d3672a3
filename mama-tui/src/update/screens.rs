//! What the keys do on the logged-in screens: the users table, the lists beside it, and their
//! filter bars. The data they show is loaded and answered in `users` and `lists`.

use mama_api::rpc::{method, Method};
use mama_api::types::{EventView, IssueTokenParams, Role};

use super::bulk::drop_unavailable;
use super::confirm::{ask_for_users, id_preview};
use super::lists;
use super::nav::{go_to, quit};
use super::organizations;
use super::picker::ensure_pickers;
use super::users;
use crate::action::{Cmd, Screen, Tag};
use crate::app::{service_rows, App, EVENTS_PAGE};
use crate::popup::{
    BulkDialog, Confirm, ConfirmAction, CreateDialog, EditDialog, Popup, Prompt, PromptPurpose,
};
use crate::text::{count, Edit};
use crate::trash::TrashKept;

/// Keys on a logged-in screen, once the commands every screen shares are handled.
pub fn command(app: &mut App, screen: Screen, cmd: Cmd) {
    match screen {
        Screen::Users => users_command(app, cmd),
        Screen::Usage => super::usage::command(app, cmd),
        Screen::Trash => super::trash::command(app, cmd),
        _ => list_command(app, screen, cmd),
    }
}

/// Keys on the users screen.
fn users_command(app: &mut App, cmd: Cmd) {
    let rows = app.table_rows() as i64;
    match cmd {
        Cmd::Down => users::move_by(app, 1),
        Cmd::Up => users::move_by(app, -1),
        Cmd::PageDown => users::move_by(app, rows),
        Cmd::PageUp => users::move_by(app, -rows),
        Cmd::Top => users::move_by(app, i64::MIN / 2),
        Cmd::Bottom => {
            let rows = app.table_rows();
            app.users.bottom(rows);
            users::fetch_pages(app);
        }
        Cmd::Sort(column) => users::sort(app, column),
        Cmd::Filter => app.users.filter_editing = true,
        Cmd::Reload => users::refresh_table(app),
        Cmd::ToggleMark => {
            if let Some(id) = app.users.selected_user().map(|u| u.id.clone()) {
                app.users.toggle_mark(&id);
                users::move_by(app, 1);
            }
        }
        Cmd::MarkAll => users::mark_all(app),
        Cmd::ClearMarks => users::clear_marks(app),
        Cmd::Back => {
            if !app.users.marks.is_empty() {
                users::clear_marks(app);
            } else if !app.users.filter_input.is_empty() {
                app.users.filter_input.clear();
                users::apply_filter(app);
            }
        }
        Cmd::Open => {
            if let Some(user) = app.users.selected_user().cloned() {
                // A viewer gets the same dialog to read: nothing in it can be saved, and the
                // key, which the daemon never sends it, is said to be hidden.
                let read_only = app.refusal(method::UsersUpdate::CALLER);
                let key_hidden = app.session.as_ref().is_some_and(|s| s.role == Role::Viewer);
                if read_only.is_none() {
                    ensure_pickers(app);
                }
                let dialog = EditDialog::new(user).for_account(read_only, key_hidden);
                app.popups.push(Popup::Edit(Box::new(dialog)));
            }
        }
        Cmd::BulkEdit => {
            if app.users.marks.is_empty() {
                app.error("Mark users first (space marks, a marks all matching).");
            } else {
                ensure_pickers(app);
                app.popups.push(Popup::Bulk(Box::new(BulkDialog::new(
                    app.users.marks.len() as u64,
                ))));
            }
        }
        Cmd::CreateUsers => app.popups.push(Popup::Create(CreateDialog::default())),
        Cmd::DeleteMarked => ask_delete(app),
        Cmd::RotateMarked => confirm_ids(
            app,
            "Rotate keys",
            "Rotate the keys of",
            ConfirmAction::RotateKeys,
        ),
        Cmd::DropUnavailable => drop_unavailable(app),
        Cmd::SuspendResume => super::suspend::ask(app),
        Cmd::RevealKey => super::reveal::ask(app),
        Cmd::OpenUsage => super::usage::open_for_user(app),
        _ => {}
    }
}

fn confirm_ids(app: &mut App, title: &str, verb: &str, action: fn(Vec<String>) -> ConfirmAction) {
    let ids = users::selection(app);
    if ids.is_empty() {
        app.error("Nothing to act on: mark users first.");
        return;
    }
    let mut lines = vec![format!("{verb} {}?", count(ids.len() as u64, "user"))];
    lines.extend(users::hidden_marks_line(app));
    lines.extend(id_preview(&ids, 8));
    lines.push(String::new());
    lines.push("y: yes   n/esc: no".into());
    app.popups.push(Popup::Confirm(Confirm {
        title: title.into(),
        lines,
        action: action(ids),
        typed: None,
    }));
}

/// ctrl-d: the marked users (or the selected one), once confirmed with `y` — or, above the
/// threshold, with their count typed out. The confirm says where they go, as far as the
/// daemon's answers have told.
fn ask_delete(app: &mut App) {
    let ids = users::selection(app);
    if ids.is_empty() {
        app.error("Nothing to act on: mark users first.");
        return;
    }
    let n = ids.len() as u64;
    let mut lines = vec![format!("Delete {}?", count(n, "user"))];
    lines.extend(users::hidden_marks_line(app));
    lines.extend(id_preview(&ids, 8));
    lines.push(String::new());
    lines.extend(where_deleted_users_go(app.trash_kept));
    let action = ConfirmAction::DeleteUsers(ids);
    ask_for_users(app, "Delete users", lines, action, n, "delete");
}

/// Where a delete sends users. Only an answer of the daemon tells whether it keeps a trash, so
/// before the first one the confirm says both.
fn where_deleted_users_go(kept: TrashKept) -> Vec<String> {
    match kept {
        TrashKept::Days(days) => vec![
            format!(
                "They are moved to the trash for {}, keys blocked;",
                count(days.unsigned_abs(), "day")
            ),
            "restore from the trash screen (8).".into(),
        ],
        TrashKept::None => vec![
            "The daemon keeps no trash: they are deleted for good,".into(),
            "and their keys with them.".into(),
        ],
        TrashKept::Unknown => vec![
            "They are moved to the trash (if the daemon keeps one),".into(),
            "keys blocked; restore from the trash screen (8).".into(),
            "Without a trash they are deleted for good.".into(),
        ],
    }
}

/// Keys on the models, admins, services, events and organizations screens.
fn list_command(app: &mut App, screen: Screen, cmd: Cmd) {
    let page = app.table_rows() as i64;
    let delta = match cmd {
        Cmd::Down => Some(1),
        Cmd::Up => Some(-1),
        Cmd::PageDown if screen != Screen::Events => Some(page),
        Cmd::PageUp if screen != Screen::Events => Some(-page),
        Cmd::Top => Some(i64::MIN / 2),
        Cmd::Bottom => Some(i64::MAX / 2),
        _ => None,
    };
    if let Some(delta) = delta {
        match screen {
            Screen::Models => app.models.move_by(delta),
            Screen::Admins => app.admins.move_by(delta),
            Screen::Services => {
                let max = service_rows(&app.services.items).len().saturating_sub(1) as i64;
                app.services.selected =
                    (app.services.selected as i64 + delta).clamp(0, max.max(0)) as usize;
            }
            Screen::Events => app.events.list.move_by(delta),
            Screen::Organizations => app.organizations.move_by(delta),
            _ => {}
        }
        return;
    }
    match (screen, cmd) {
        (_, Cmd::Reload) => go_to(app, screen),
        (Screen::Models, Cmd::ShowUnavailableUsers) => {
            app.users.filter_input.set("unavailable");
            go_to(app, Screen::Users);
            users::apply_filter(app);
        }
        (Screen::Models, Cmd::DropUnavailable) => drop_unavailable(app),
        (Screen::Admins, Cmd::New) => super::admins::open_new(app),
        (Screen::Admins, Cmd::Open) => super::admins::open_edit(app),
        (Screen::Admins, Cmd::Remove) => {
            if let Some(admin) = app.admins.current() {
                let username = admin.username.clone();
                app.popups.push(Popup::Confirm(Confirm {
                    title: "Delete account".into(),
                    lines: vec![
                        format!("Delete account {username}?"),
                        String::new(),
                        "y: yes   n/esc: no".into(),
                    ],
                    action: ConfirmAction::DeleteAdmin(username),
                    typed: None,
                }));
            }
        }
        (Screen::Services, Cmd::New) => app.popups.push(Popup::Prompt(Prompt {
            title: "New service".into(),
            label: "name",
            input: Default::default(),
            purpose: PromptPurpose::NewService,
            error: None,
        })),
        (Screen::Services, Cmd::IssueToken) => {
            if let Some((s, _)) = service_rows(&app.services.items)
                .get(app.services.selected)
                .copied()
            {
                let service = app.services.items[s].name.clone();
                app.call::<method::ServicesIssueToken>(
                    &IssueTokenParams { service },
                    Tag::IssueToken,
                );
            }
        }
        (Screen::Services, Cmd::Remove) => {
            let Some((s, token)) = service_rows(&app.services.items)
                .get(app.services.selected)
                .copied()
            else {
                return;
            };
            let service = &app.services.items[s];
            let confirm = match token.and_then(|t| service.tokens.get(t)) {
                Some(token) => Confirm {
                    title: "Revoke token".into(),
                    lines: vec![
                        format!("Revoke token {} of {}?", token.hint, service.name),
                        "Callers using it are refused at once.".into(),
                        String::new(),
                        "y: yes   n/esc: no".into(),
                    ],
                    action: ConfirmAction::RevokeToken(token.id.clone()),
                    typed: None,
                },
                None => Confirm {
                    title: "Delete service".into(),
                    lines: vec![
                        format!("Delete service {}?", service.name),
                        match service.users {
                            0 => "No user allows it.".to_string(),
                            n => format!(
                                "{} {} it and will lose it.",
                                count(n, "user"),
                                if n == 1 { "allows" } else { "allow" }
                            ),
                        },
                        "Its tokens stop working at once; a service created later under".into(),
                        "this name starts with no users.".into(),
                        String::new(),
                        "y: yes   n/esc: no".into(),
                    ],
                    action: ConfirmAction::DeleteService(service.name.clone()),
                    typed: None,
                },
            };
            app.popups.push(Popup::Confirm(confirm));
        }
        (Screen::Organizations, Cmd::Open) => organizations::open_defaults(app),
        (Screen::Events, Cmd::Filter) => app.events.filter_editing = true,
        (Screen::Events, Cmd::Open) => {
            if let Some(event) = app.events.list.current() {
                let popup = event_details(event);
                app.popups.push(popup);
            }
        }
        (Screen::Events, Cmd::Undo) => super::undo::ask(app),
        (Screen::Events, Cmd::Back) => {
            app.events.filter_input.clear();
            lists::apply_events_filter(app);
        }
        (Screen::Events, Cmd::PageDown)
            if app.events.offset + u64::from(EVENTS_PAGE) < app.events.matching =>
        {
            app.events.offset += u64::from(EVENTS_PAGE);
            app.events.list.selected = 0;
            lists::load_events(app);
        }
        (Screen::Events, Cmd::PageUp) if app.events.offset > 0 => {
            app.events.offset = app.events.offset.saturating_sub(u64::from(EVENTS_PAGE));
            app.events.list.selected = 0;
            lists::load_events(app);
        }
        _ => {}
    }
}

/// Everything an event records, for the row the table can only abbreviate.
fn event_details(e: &EventView) -> Popup {
    let mut lines = vec![
        format!("at       {} UTC", e.at.format("%Y-%m-%d %H:%M:%S%.3f")),
        format!("actor    {} ({}) via {}", e.actor, e.actor_kind, e.channel),
        format!("action   {}", e.action),
    ];
    let result = match (&e.error_code, &e.error_message) {
        (Some(code), Some(message)) => format!("{} {code}: {message}", e.result),
        (Some(code), None) => format!("{} {code}", e.result),
        _ => e.result.clone(),
    };
    lines.push(format!("result   {result}"));
    if e.target_count > 0 {
        let mut users = e
            .user_ids
            .iter()
            .take(5)
            .cloned()
            .collect::<Vec<_>>()
            .join(", ");
        if e.target_count > 5 {
            users.push_str(&format!(" … ({} in all)", e.target_count));
        }
        lines.push(format!("users    {users}"));
    }
    for (label, value) in [
        ("filter", &e.target_filter),
        ("detail", &e.detail),
        ("client", &e.client),
        ("request", &e.request_id),
    ] {
        if let Some(value) = value {
            lines.push(format!("{label:<8} {value}"));
        }
    }
    if let Some(ms) = e.duration_ms {
        lines.push(format!("took     {ms} ms"));
    }
    Popup::Message {
        title: format!("event {}", e.id),
        lines,
    }
}

/// Enter/esc in the users filter bar.
pub fn users_filter_command(app: &mut App, cmd: Cmd) {
    match cmd {
        Cmd::Open => {
            app.users.filter_editing = false;
            users::apply_filter(app);
        }
        Cmd::Back => {
            app.users.filter_editing = false;
            app.users.filter_input.clear();
            users::apply_filter(app);
        }
        Cmd::Quit => quit(app),
        _ => {}
    }
}

/// Typing in the events filter bar.
pub fn edit_events_filter(app: &mut App, edit: &Edit) {
    if app.events.filter_editing {
        app.events.filter_input.apply(edit);
    }
}

/// Enter/esc in the events filter bar.
pub fn events_filter_command(app: &mut App, cmd: Cmd) {
    match cmd {
        // A filter that does not parse keeps the bar open, with the problem beside it.
        Cmd::Open => {
            lists::apply_events_filter(app);
            app.events.filter_editing = app.events.filter_error.is_some();
        }
        Cmd::Back => {
            app.events.filter_editing = false;
            app.events.filter_input.clear();
            lists::apply_events_filter(app);
        }
        Cmd::Quit => quit(app),
        _ => {}
    }
}

/// Enter/esc in the usage filter bar.
pub fn usage_filter_command(app: &mut App, cmd: Cmd) {
    match cmd {
        // A filter that does not parse keeps the bar open, with the problem beside it.
        Cmd::Open => {
            super::usage::apply_filter(app);
            app.usage.filter_editing = app.usage.filter_error.is_some();
        }
        Cmd::Back => {
            app.usage.filter_editing = false;
            app.usage.filter_input.clear();
            super::usage::apply_filter(app);
        }
        Cmd::Quit => quit(app),
        _ => {}
    }
}

/// Enter/esc in the trash filter bar: the text goes to the daemon on enter.
pub fn trash_filter_command(app: &mut App, cmd: Cmd) {
    match cmd {
        Cmd::Open => {
            app.trash.filter_editing = false;
            super::trash::apply_filter(app);
        }
        Cmd::Back => {
            app.trash.filter_editing = false;
            app.trash.filter_input.clear();
            super::trash::apply_filter(app);
        }
        Cmd::Quit => quit(app),
        _ => {}
    }
}
