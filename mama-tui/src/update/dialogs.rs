//! The edit, bulk-edit and create dialogs and the picker they open.

use std::collections::{BTreeMap, BTreeSet};

use mama_api::rpc::method;
use mama_api::types::{GetUsersParams, KeysRotated, UpdateUserParams, UsersDeleted, UsersFound};
use mama_api::ErrorCode;
use serde_json::Value;

use super::{decode, describe, is_missing_method, users};
use crate::action::{Cmd, Tag};
use crate::app::{App, SyncState};
use crate::client::ClientError;
use crate::popup::{
    parse_info, BulkField, CreateField, EditDialog, EditField, Picker, PickerTarget, Popup,
};
use crate::text::{count, Edit};

/// LiteLLM's sentinels: always offered, always available.
pub const SENTINELS: [&str; 2] = ["all-team-models", "all-proxy-models"];

/// Loads the model catalog and service names for the pickers when they are not known yet.
pub fn ensure_pickers(app: &mut App) {
    if app.catalog.is_empty() {
        app.call::<method::ModelsList>(&Default::default(), Tag::Catalog);
    }
    if app.service_names.is_empty() {
        app.call::<method::ServicesList>(&Default::default(), Tag::ServiceNames);
    }
}

pub fn edit(app: &mut App, edit: &Edit) {
    match app.popups.last_mut() {
        Some(Popup::Edit(d)) => {
            match d.focus {
                EditField::Organization => d.organization.apply(edit),
                EditField::Info => d.info.apply(edit),
                EditField::Models | EditField::Services => false,
            };
        }
        Some(Popup::Create(d)) => {
            match d.focus {
                CreateField::Rows => d.rows.apply(edit),
                CreateField::CsvPath => d.csv_path.apply(edit),
            };
        }
        Some(Popup::Bulk(d)) => match d.focus {
            // Typing an organization means setting it.
            BulkField::Organization => d.set_organization |= d.organization.apply(edit),
            BulkField::InfoSet => {
                d.info_set.apply(edit);
            }
            BulkField::InfoUnset => {
                d.info_unset.apply(edit);
            }
            _ => {}
        },
        Some(Popup::Picker(p)) => {
            let changed = p.query.apply(edit);
            if changed {
                p.cursor = 0;
            }
        }
        _ => {}
    }
}

pub fn command(app: &mut App, cmd: Cmd) {
    match app.popups.last() {
        Some(Popup::Edit(_)) => edit_command(app, cmd),
        Some(Popup::Bulk(_)) => super::bulk::command(app, cmd),
        Some(Popup::Create(_)) => super::create::command(app, cmd),
        Some(Popup::Picker(_)) => picker_command(app, cmd),
        _ => {}
    }
}

pub(super) fn cycle<T: Copy + PartialEq>(all: &[T], current: T, forward: bool) -> T {
    let i = all.iter().position(|f| *f == current).unwrap_or(0);
    let n = all.len();
    all[if forward {
        (i + 1) % n
    } else {
        (i + n - 1) % n
    }]
}

fn edit_command(app: &mut App, cmd: Cmd) {
    let Some(Popup::Edit(d)) = app.popups.last_mut() else {
        return;
    };
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
        Cmd::Open | Cmd::Save => save_user(app),
        Cmd::Reload => {
            let params = GetUsersParams {
                ids: vec![d.user.id.clone()],
            };
            app.call::<method::UsersGet>(&params, Tag::EditLoad);
        }
        _ => {}
    }
}

fn save_user(app: &mut App) {
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
    };
    if params.organization.is_none()
        && params.models.is_none()
        && params.services.is_none()
        && params.info.is_none()
    {
        app.popups.pop();
        return;
    }
    d.saving = true;
    d.error = None;
    app.call::<method::UsersUpdate>(&params, Tag::UpdateUser);
}

/// Options for a picker: the catalog (or service names), the sentinels, and whatever is already
/// chosen. A chosen model the catalog lacks is unavailable (red) when the catalog is known.
fn picker_options(
    app: &App,
    target: PickerTarget,
    chosen: &BTreeSet<String>,
    unavailable: &[String],
) -> Vec<(String, bool)> {
    let mut options: BTreeMap<String, bool> = BTreeMap::new();
    match target {
        PickerTarget::Models => {
            for (name, available) in &app.catalog {
                options.insert(name.clone(), *available);
            }
            // `all-team-models` is offered only where it means something: the daemon refuses
            // it while no LiteLLM team is configured (it would open every model).
            let team = matches!(&app.sync, SyncState::Known(s) if s.team_configured);
            for sentinel in SENTINELS {
                if sentinel != "all-team-models" || team {
                    options.insert(sentinel.to_string(), true);
                }
            }
            let catalog_known = !app.catalog.is_empty();
            for name in chosen {
                options.entry(name.clone()).or_insert(!catalog_known);
            }
            for name in unavailable {
                options.insert(name.clone(), false);
            }
        }
        PickerTarget::Services => {
            // Only existing services can be granted; a name a user holds from before that rule
            // shows as unavailable (once the services are known), so it can be taken away.
            let known = !app.service_names.is_empty();
            for name in app.service_names.iter() {
                options.insert(name.clone(), true);
            }
            for name in chosen {
                options.entry(name.clone()).or_insert(!known);
            }
        }
    }
    options.into_iter().collect()
}

pub(super) fn open_picker(
    app: &mut App,
    target: PickerTarget,
    chosen: BTreeSet<String>,
    unavailable: &[String],
) {
    let options = picker_options(app, target, &chosen, unavailable);
    let catalog_known = match target {
        PickerTarget::Models => !app.catalog.is_empty(),
        PickerTarget::Services => !app.service_names.is_empty(),
    };
    app.popups.push(Popup::Picker(Picker {
        target,
        options,
        chosen,
        query: Default::default(),
        cursor: 0,
        catalog_known,
    }));
}

fn picker_command(app: &mut App, cmd: Cmd) {
    let Some(Popup::Picker(p)) = app.popups.last_mut() else {
        return;
    };
    let visible_len = p.visible().len();
    match cmd {
        Cmd::Up => p.cursor = p.cursor.saturating_sub(1),
        Cmd::Down => p.cursor = (p.cursor + 1).min(visible_len.saturating_sub(1)),
        Cmd::Toggle => toggle_current(p),
        Cmd::Back => {
            app.popups.pop();
        }
        Cmd::Open if !p.query.is_empty() => {
            // Enter on typed text: choose the highlighted match, or the typed name itself.
            if visible_len > 0 {
                toggle_current(p);
            } else {
                let name = p.query.value().trim().to_string();
                if !name.is_empty() {
                    // Not in the list: unavailable, unless the list is not known yet (the
                    // daemon refuses a service that does not exist either way).
                    p.options.push((name.clone(), !p.catalog_known));
                    p.options.sort();
                    p.chosen.insert(name);
                }
            }
            p.query.clear();
            p.cursor = 0;
        }
        Cmd::Open | Cmd::Save => {
            if let Some(Popup::Picker(picker)) = app.popups.pop() {
                apply_picked(app, picker);
            }
        }
        _ => {}
    }
}

fn toggle_current(p: &mut Picker) {
    let name = p.visible().get(p.cursor).map(|(name, _)| name.clone());
    if let Some(name) = name {
        if !p.chosen.remove(&name) {
            p.chosen.insert(name);
        }
    }
}

/// Writes the picker's choice into the dialog beneath it.
fn apply_picked(app: &mut App, picker: Picker) {
    match (app.popups.last_mut(), picker.target) {
        (Some(Popup::Edit(d)), PickerTarget::Models) => d.models = picker.chosen,
        (Some(Popup::Edit(d)), PickerTarget::Services) => d.services = picker.chosen,
        (Some(Popup::Bulk(d)), PickerTarget::Models) => d.models = picker.chosen,
        (Some(Popup::Bulk(d)), PickerTarget::Services) => d.services = picker.chosen,
        _ => {}
    }
}

pub(super) fn find_popup<T>(
    app: &mut App,
    pick: impl Fn(&mut Popup) -> Option<&mut T>,
) -> Option<&mut T> {
    app.popups.iter_mut().rev().find_map(pick)
}

pub fn reply(app: &mut App, tag: Tag, result: Result<Value, ClientError>) {
    match tag {
        Tag::EditLoad => match decode::<UsersFound>(result) {
            Ok(found) => {
                let Some(user) = found.users.into_iter().next() else {
                    app.popups.retain(|p| !matches!(p, Popup::Edit(_)));
                    app.error("That user no longer exists.");
                    return;
                };
                if let Some(d) = find_popup(app, |p| {
                    if let Popup::Edit(d) = p {
                        Some(d)
                    } else {
                        None
                    }
                }) {
                    **d = EditDialog::new(user);
                }
            }
            Err(err) => app.error(describe(&err)),
        },
        Tag::UpdateUser => {
            let Some(d) = find_popup(app, |p| {
                if let Popup::Edit(d) = p {
                    Some(d)
                } else {
                    None
                }
            }) else {
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
                Err(err) => d.error = Some(describe(&err)),
            }
        }
        Tag::DeleteUsers => match decode::<Vec<UsersDeleted>>(result) {
            Ok(parts) => {
                let deleted: u64 = parts.iter().map(|p| p.deleted).sum();
                app.users.marks.clear();
                app.users.marks_filter = None;
                app.info(format!("Deleted {}.", count(deleted, "user")));
                refresh_table(app);
            }
            Err(err) => app.error(format!("delete: {}", describe(&err))),
        },
        Tag::RotateKeys => match decode::<Vec<KeysRotated>>(result) {
            Ok(parts) => {
                let rotated: u64 = parts.iter().map(|p| p.rotated).sum();
                app.info(format!(
                    "Rotated {}; LiteLLM sync follows.",
                    count(rotated, "key")
                ));
                app.watching_sync = true;
                app.last_sync_poll = None;
                refresh_table(app);
            }
            Err(err) if is_missing_method(&err) => {
                app.error("This daemon cannot rotate keys yet (users.rotate_keys).")
            }
            Err(err) => app.error(format!("rotate: {}", describe(&err))),
        },
        _ => {}
    }
}

/// Shows fresh rows after a change, keeping the position.
pub(super) fn refresh_table(app: &mut App) {
    app.users.invalidate();
    users::fetch_pages(app);
}
