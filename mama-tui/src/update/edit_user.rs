//! The edit dialog of one user: its fields, saving only what changed (with the version the
//! dialog was opened on), and the answers.

use std::collections::BTreeSet;

use mama_api::rpc::method;
use mama_api::types::{GetUsersParams, UpdateUserParams};
use mama_api::ErrorCode;
use serde_json::Value;

use super::form::{cycle, find_popup};
use super::picker::open_picker;
use super::rpc::{answer, describe};
use super::users::refresh_table;
use crate::action::{Cmd, Tag};
use crate::app::App;
use crate::client::ClientError;
use crate::limits::field_of;
use crate::popup::{parse_info, EditDialog, EditField, PickerTarget, Popup};
use crate::text::Edit;

pub fn edit(d: &mut EditDialog, edit: &Edit) {
    if d.read_only.is_some() {
        return;
    }
    match d.focus {
        EditField::Organization => d.organization.apply(edit),
        EditField::Info => d.info.apply(edit),
        EditField::Limit(field) => d.limits.input_mut(field).apply(edit),
        EditField::Models | EditField::Services => false,
    };
}

pub fn command(app: &mut App, cmd: Cmd) {
    let Some(Popup::Edit(d)) = app.popups.last_mut() else {
        return;
    };
    if let Some(reason) = d.read_only {
        // Read only: moving about and reloading, nothing that would change the user.
        match cmd {
            Cmd::Back => {
                app.popups.pop();
            }
            Cmd::NextField => d.focus = cycle(&EditField::ALL, d.focus, true),
            Cmd::PrevField => d.focus = cycle(&EditField::ALL, d.focus, false),
            Cmd::Reload => reload(app),
            Cmd::Open | Cmd::Save | Cmd::Toggle => d.error = Some(reason.to_string()),
            _ => {}
        }
        return;
    }
    match cmd {
        Cmd::Back => {
            app.popups.pop();
        }
        Cmd::NextField => d.focus = cycle(&EditField::ALL, d.focus, true),
        Cmd::PrevField => d.focus = cycle(&EditField::ALL, d.focus, false),
        Cmd::Open | Cmd::Toggle if d.focus == EditField::Models => {
            let (chosen, unavailable) = (d.models.clone(), d.user.unavailable_models.clone());
            open_picker(app, PickerTarget::Models, chosen, &unavailable);
        }
        Cmd::Open | Cmd::Toggle if d.focus == EditField::Services => {
            let chosen = d.services.clone();
            open_picker(app, PickerTarget::Services, chosen, &[]);
        }
        // Enter in a limit moves on, like tab: ctrl-s saves.
        Cmd::Open if matches!(d.focus, EditField::Limit(_)) => {
            d.focus = cycle(&EditField::ALL, d.focus, true)
        }
        Cmd::Open | Cmd::Save => save_user(app),
        Cmd::Reload => reload(app),
        _ => {}
    }
}

/// ctrl-r: the user as it is now (after a conflict, or to see it again).
fn reload(app: &mut App) {
    let Some(Popup::Edit(d)) = app.popups.last() else {
        return;
    };
    // The dialog shows the hint only; the key itself is fetched by a reveal (its own event).
    let params = GetUsersParams {
        ids: vec![d.user.id.clone()],
        without_keys: true,
    };
    app.call::<method::UsersGet>(&params, Tag::EditLoad);
}

fn save_user(app: &mut App) {
    let now = app.now;
    let Some(Popup::Edit(d)) = app.popups.last_mut() else {
        return;
    };
    if d.saving {
        return;
    }
    let info = match parse_info(&d.info.text()) {
        Ok(info) => info,
        Err(problem) => {
            d.error = Some(problem);
            d.focus = EditField::Info;
            return;
        }
    };
    let limits = match d.limits.edited(now) {
        Ok(limits) => limits,
        Err((field, problem)) => {
            d.error = Some(problem);
            d.focus = EditField::Limit(field);
            return;
        }
    };
    let models: Vec<String> = d.models.iter().cloned().collect();
    let services: Vec<String> = d.services.iter().cloned().collect();
    let old_models: BTreeSet<&String> = d.user.models.iter().collect();
    let old_services: BTreeSet<&String> = d.user.services.iter().collect();
    let organization = d.organization.value().trim().to_string();
    let params = UpdateUserParams {
        id: d.user.id.clone(),
        version: d.user.version,
        organization: (organization != d.user.organization).then_some(organization),
        models: (d.models.iter().collect::<BTreeSet<_>>() != old_models).then_some(models),
        services: (d.services.iter().collect::<BTreeSet<_>>() != old_services).then_some(services),
        info: (info != d.user.info).then_some(info),
        limits,
        ..UpdateUserParams::default()
    };
    if params.organization.is_none()
        && params.models.is_none()
        && params.services.is_none()
        && params.info.is_none()
        && params.limits.is_empty()
    {
        app.popups.pop();
        return;
    }
    d.saving = true;
    d.error = None;
    app.call::<method::UsersUpdate>(&params, Tag::UpdateUser);
}

fn edit_dialog(popup: &mut Popup) -> Option<&mut EditDialog> {
    match popup {
        Popup::Edit(d) => Some(d),
        _ => None,
    }
}

pub fn reply(app: &mut App, tag: Tag, result: Result<Value, ClientError>) {
    match tag {
        Tag::EditLoad => match answer::<method::UsersGet>(result) {
            Ok(found) => {
                let Some(user) = found.users.into_iter().next() else {
                    app.popups.retain(|p| !matches!(p, Popup::Edit(_)));
                    app.error("That user no longer exists.");
                    return;
                };
                if let Some(d) = find_popup(app, edit_dialog) {
                    let (read_only, key_hidden) = (d.read_only, d.key_hidden);
                    *d = EditDialog::new(user).for_account(read_only, key_hidden);
                }
            }
            Err(err) => app.error(describe(&err)),
        },
        Tag::UpdateUser => {
            let Some(d) = find_popup(app, edit_dialog) else {
                return;
            };
            d.saving = false;
            match result {
                Ok(_) => {
                    let id = d.user.id.clone();
                    app.popups.retain(|p| !matches!(p, Popup::Edit(_)));
                    app.info(format!("Saved {id}."));
                    refresh_table(app);
                }
                Err(ClientError::Api(api)) if api.code == ErrorCode::Conflict => {
                    d.conflict = Some(api.current_version.unwrap_or(d.user.version + 1));
                    d.error = Some(
                        "Changed by someone else meanwhile. ctrl-r reloads it, esc cancels.".into(),
                    );
                }
                Err(ClientError::Api(api)) if !api.fields.is_empty() => {
                    // The daemon names the fields it refuses (`limits.max_budget`): say so and
                    // put the cursor on the first one.
                    let problems: Vec<String> = api
                        .fields
                        .iter()
                        .map(|f| format!("{}: {}", f.field, f.message))
                        .collect();
                    if let Some(field) = api.fields.iter().find_map(|f| field_of(&f.field)) {
                        d.focus = EditField::Limit(field);
                    }
                    d.error = Some(problems.join("; "));
                }
                Err(err) => d.error = Some(describe(&err)),
            }
        }
        _ => {}
    }
}
