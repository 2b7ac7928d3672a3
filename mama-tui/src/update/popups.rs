//! Keys for the popup on top of the stack: help, messages, confirms, the palette and the small
//! forms. The bigger dialogs live in `dialogs`.

use mama_api::rpc::method;
use mama_api::types::RevokeTokenParams;
use mama_api::types::{DeleteAdminParams, DeleteUsersParams, RotateKeysParams, ServiceNameParams};

use super::nav::{go_to, quit};
use super::rpc::{batch, ID_CHUNK};
use super::{auth, bulk, dialogs, organizations, suspend, sync, trash, undo, usage, users};
use crate::action::{Cmd, Screen, Tag};
use crate::app::App;
use crate::popup::{ConfirmAction, Popup, PromptPurpose, TypedCount};
use crate::text::{count, Edit};

pub fn edit(app: &mut App, edit: &Edit) {
    let Some(popup) = app.popups.last_mut() else {
        return;
    };
    match popup {
        Popup::Palette(input) => {
            input.apply(edit);
        }
        Popup::Prompt(prompt) => {
            prompt.input.apply(edit);
        }
        Popup::Password(form) => {
            form.input_mut().apply(edit);
        }
        Popup::Edit(_)
        | Popup::Create(_)
        | Popup::Picker(_)
        | Popup::Bulk(_)
        | Popup::OrgDefaults(_)
        | Popup::Account(_) => dialogs::edit(app, edit),
        Popup::Confirm(confirm) => {
            if let Some(typed) = &mut confirm.typed {
                type_count(typed, edit);
            }
        }
        Popup::Help { .. } | Popup::Message { .. } | Popup::Undo(_) | Popup::BulkPreview(_) => {}
    }
}

/// Typing the count: digits only, so a `y` (or any other key pressed out of habit) is refused
/// with a word on what to type instead.
fn type_count(typed: &mut TypedCount, edit: &Edit) {
    match edit {
        Edit::Insert(c) if !c.is_ascii_digit() => {
            typed.error = Some(format!(
                "{c} is not enough: type {}, then enter",
                typed.expected
            ));
        }
        edit => {
            typed.input.apply(edit);
            typed.error = None;
        }
    }
}

pub fn command(app: &mut App, cmd: Cmd) {
    if cmd == Cmd::Quit {
        quit(app);
        return;
    }
    let Some(popup) = app.popups.last_mut() else {
        return;
    };
    match popup {
        Popup::Help { .. } => help_command(app, cmd),
        Popup::Message { .. } => {
            if cmd == Cmd::Back {
                app.popups.pop();
            }
        }
        Popup::Confirm(confirm) => match cmd {
            Cmd::Yes if confirm.typed.is_none() => {
                if let Some(Popup::Confirm(confirm)) = app.popups.pop() {
                    confirmed(app, confirm.action);
                }
            }
            // Enter in the count field: only the exact count confirms.
            Cmd::Open | Cmd::Save => {
                let Some(typed) = &mut confirm.typed else {
                    return;
                };
                if typed.check() {
                    if let Some(Popup::Confirm(confirm)) = app.popups.pop() {
                        confirmed(app, confirm.action);
                    }
                }
            }
            Cmd::No | Cmd::Back => {
                app.popups.pop();
                app.pending_bulk.clear();
            }
            _ => {}
        },
        Popup::Palette(input) => match cmd {
            Cmd::Open => {
                let line = input.value().trim().to_string();
                app.popups.pop();
                palette(app, &line);
            }
            Cmd::Back => {
                app.popups.pop();
            }
            _ => {}
        },
        Popup::Password(form) => {
            if cmd == Cmd::Back {
                app.popups.pop();
            } else if auth::password_form_command(form, cmd) {
                auth::submit_password(app, true);
            }
        }
        Popup::Prompt(prompt) => match cmd {
            Cmd::Back => {
                app.popups.pop();
            }
            Cmd::Open | Cmd::Save => {
                let value = prompt.input.value().trim().to_string();
                if value.is_empty() {
                    prompt.error = Some(format!("a {} is needed", prompt.label));
                    return;
                }
                match &prompt.purpose {
                    PromptPurpose::NewService => {
                        let params = ServiceNameParams { name: value };
                        app.call::<method::ServicesCreate>(&params, Tag::CreateService);
                    }
                    PromptPurpose::SuspendUser { id, version } => {
                        let (id, version) = (id.clone(), *version);
                        suspend::suspend(app, id, version, value);
                    }
                }
            }
            _ => {}
        },
        Popup::Edit(_)
        | Popup::Bulk(_)
        | Popup::Create(_)
        | Popup::Picker(_)
        | Popup::OrgDefaults(_)
        | Popup::Account(_) => dialogs::command(app, cmd),
        Popup::Undo(_) => undo::command(app, cmd),
        Popup::BulkPreview(_) => bulk::preview_command(app, cmd),
    }
}

/// Keys in the help: closing, and scrolling when its keys do not all fit.
pub fn help_command(app: &mut App, cmd: Cmd) {
    let (max, page) = crate::ui::help::scroll_range(app);
    let Some(Popup::Help { scroll }) = app.popups.last_mut() else {
        return;
    };
    match cmd {
        Cmd::Back => {
            app.popups.pop();
        }
        Cmd::Down => *scroll = (*scroll + 1).min(max),
        Cmd::Up => *scroll = scroll.saturating_sub(1),
        Cmd::PageDown => *scroll = (*scroll + page).min(max),
        Cmd::PageUp => *scroll = scroll.saturating_sub(page),
        Cmd::Top => *scroll = 0,
        Cmd::Bottom => *scroll = max,
        _ => {}
    }
}

/// The operator said yes.
fn confirmed(app: &mut App, action: ConfirmAction) {
    match action {
        ConfirmAction::DeleteUsers(ids) => {
            // One call however many: deleted all together or not at all, one event.
            let n = ids.len() as u64;
            batch::<method::UsersDelete>(app, vec![DeleteUsersParams { ids }], Tag::DeleteUsers);
            app.info(format!("Deleting {}…", count(n, "user")));
        }
        ConfirmAction::RotateKeys(ids) => {
            let params: Vec<_> = ids
                .chunks(ID_CHUNK)
                .map(|c| RotateKeysParams {
                    ids: c.to_vec(),
                    grace_minutes: None,
                })
                .collect();
            batch::<method::UsersRotateKeys>(app, params, Tag::RotateKeys);
            app.info(format!("Rotating {}…", count(ids.len() as u64, "key")));
        }
        ConfirmAction::ResumeUser { id, version } => suspend::resume(app, id, version),
        ConfirmAction::DeleteAdmin(username) => {
            app.call::<method::AdminsDelete>(&DeleteAdminParams { username }, Tag::DeleteAdmin);
        }
        ConfirmAction::DeleteService(name) => {
            app.call::<method::ServicesDelete>(&ServiceNameParams { name }, Tag::DeleteService);
        }
        ConfirmAction::RevokeToken(id) => {
            app.call::<method::ServicesRevokeToken>(&RevokeTokenParams { id }, Tag::RevokeToken);
        }
        ConfirmAction::SetOrgDefaults(params) => organizations::apply(app, params),
        ConfirmAction::OverwriteExport(path) => users::export_to(app, path, true),
        ConfirmAction::CopyKey { id, key } => super::reveal::copy(app, id, key),
        ConfirmAction::RestoreUsers(ids) => trash::restore(app, ids),
        ConfirmAction::PurgeUsers(ids) => trash::purge(app, ids),
    }
}

/// Runs a `:` command, unless the account may not: then nothing is sent and the status line
/// says why.
pub fn palette(app: &mut App, line: &str) {
    let (name, arg) = line
        .split_once(' ')
        .map_or((line, ""), |(n, a)| (n, a.trim()));
    if name.trim_start_matches(':').is_empty() {
        return;
    }
    let Some(command) = crate::palette::find(name) else {
        let offered = crate::palette::offered(app).join(" ");
        app.error(format!(
            "unknown command :{} (try {offered})",
            name.trim_start_matches(':')
        ));
        return;
    };
    if !app.check(command.caller) {
        return;
    }
    match command.names[0] {
        "q" => quit(app),
        "users" => go_to(app, Screen::Users),
        "models" => go_to(app, Screen::Models),
        "admins" => go_to(app, Screen::Admins),
        "services" => go_to(app, Screen::Services),
        "events" => go_to(app, Screen::Events),
        "orgs" => go_to(app, Screen::Organizations),
        "usage" => go_to(app, Screen::Usage),
        "trash" => go_to(app, Screen::Trash),
        "passwd" => app.popups.push(Popup::Password(Default::default())),
        "help" => app.popups.push(Popup::Help { scroll: 0 }),
        "export" if app.screen == Screen::Usage => usage::export(app, arg),
        "export" => {
            if app.screen != Screen::Users {
                go_to(app, Screen::Users);
            }
            users::export(app, arg);
        }
        "create" => {
            go_to(app, Screen::Users);
            app.popups.push(Popup::Create(Default::default()));
        }
        "logout" => {
            app.call::<method::AuthLogout>(&Default::default(), Tag::Logout);
            app.end_session("Logged out.");
        }
        "reconcile" => sync::reconcile(app),
        "retry" => sync::retry_failed(app),
        other => app.error(format!("command :{other} is not wired up")),
    }
}
