//! The edit, bulk-edit and create dialogs and the picker they open.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use mama_core::api::rpc::method;
use mama_core::api::types::{
    BulkUpdateParams, BulkUpdateResult, CreateUsersParams, GetUsersParams, KeysRotated, NewUser, SetChange, SetOp,
    UpdateUserParams, UsersCreated, UsersDeleted, UsersFound,
};
use mama_core::api::ErrorCode;
use serde_json::Value;

use super::popups::batch;
use super::{decode, describe, is_missing_method, to_params, users};
use crate::action::{Cmd, Tag};
use crate::app::App;
use crate::client::ClientError;
use crate::csv;
use crate::effect::Effect;
use crate::popup::{
    cycle_op, parse_info, BulkDialog, BulkField, Confirm, ConfirmAction, CreateField, EditDialog,
    EditField, Picker, PickerTarget, Popup,
};
use crate::text::{Edit, TextArea};

/// LiteLLM's sentinels: always offered, always available.
pub const SENTINELS: [&str; 2] = ["all-team-models", "all-proxy-models"];

/// Loads the model catalog and service names for the pickers when they are not known yet.
pub fn ensure_pickers(app: &mut App) {
    if app.catalog.is_empty() {
        app.call(method::MODELS_LIST, Value::Object(Default::default()), Tag::Catalog);
    }
    if app.service_names.is_empty() {
        app.call(method::SERVICES_LIST, Value::Object(Default::default()), Tag::ServiceNames);
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
        Some(Popup::Bulk(_)) => bulk_command(app, cmd),
        Some(Popup::Create(_)) => create_command(app, cmd),
        Some(Popup::Picker(_)) => picker_command(app, cmd),
        _ => {}
    }
}

fn cycle<T: Copy + PartialEq>(all: &[T], current: T, forward: bool) -> T {
    let i = all.iter().position(|f| *f == current).unwrap_or(0);
    let n = all.len();
    all[if forward { (i + 1) % n } else { (i + n - 1) % n }]
}

fn edit_command(app: &mut App, cmd: Cmd) {
    let Some(Popup::Edit(d)) = app.popups.last_mut() else { return };
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
            let params = GetUsersParams { ids: vec![d.user.id.clone()] };
            app.call(method::USERS_GET, to_params(&params), Tag::EditLoad);
        }
        _ => {}
    }
}

fn save_user(app: &mut App) {
    let Some(Popup::Edit(d)) = app.popups.last_mut() else { return };
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
    if params.organization.is_none() && params.models.is_none() && params.services.is_none() && params.info.is_none() {
        app.popups.pop();
        return;
    }
    d.saving = true;
    d.error = None;
    app.call(method::USERS_UPDATE, to_params(&params), Tag::UpdateUser);
}

/// Options for a picker: the catalog (or service names), the sentinels, and whatever is already
/// chosen. A chosen model the catalog lacks is unavailable (red) when the catalog is known.
fn picker_options(app: &App, target: PickerTarget, chosen: &BTreeSet<String>, unavailable: &[String]) -> Vec<(String, bool)> {
    let mut options: BTreeMap<String, bool> = BTreeMap::new();
    match target {
        PickerTarget::Models => {
            for (name, available) in &app.catalog {
                options.insert(name.clone(), *available);
            }
            for sentinel in SENTINELS {
                options.insert(sentinel.to_string(), true);
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
            for name in app.service_names.iter().chain(chosen) {
                options.insert(name.clone(), true);
            }
        }
    }
    options.into_iter().collect()
}

fn open_picker(app: &mut App, target: PickerTarget, chosen: BTreeSet<String>, unavailable: &[String]) {
    let options = picker_options(app, target, &chosen, unavailable);
    let catalog_known = !app.catalog.is_empty();
    app.popups.push(Popup::Picker(Picker { target, options, chosen, query: Default::default(), cursor: 0, catalog_known }));
}

fn picker_command(app: &mut App, cmd: Cmd) {
    let Some(Popup::Picker(p)) = app.popups.last_mut() else { return };
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
                    p.options.push((name.clone(), p.target == PickerTarget::Services || !p.catalog_known));
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

fn bulk_command(app: &mut App, cmd: Cmd) {
    let Some(Popup::Bulk(d)) = app.popups.last_mut() else { return };
    match cmd {
        Cmd::Back => {
            app.popups.pop();
        }
        Cmd::NextField => d.focus = cycle(&BulkField::ALL, d.focus, true),
        Cmd::PrevField => d.focus = cycle(&BulkField::ALL, d.focus, false),
        Cmd::NextChoice | Cmd::PrevChoice | Cmd::Toggle if matches!(d.focus, BulkField::ModelsOp | BulkField::ServicesOp) => {
            let forward = cmd != Cmd::PrevChoice;
            if d.focus == BulkField::ModelsOp {
                d.models_op = cycle_op(d.models_op, forward);
            } else {
                d.services_op = cycle_op(d.services_op, forward);
            }
        }
        Cmd::Open | Cmd::Toggle if d.focus == BulkField::Models => {
            let chosen = d.models.clone();
            open_picker(app, PickerTarget::Models, chosen, &[]);
        }
        Cmd::Open | Cmd::Toggle if d.focus == BulkField::Services => {
            let chosen = d.services.clone();
            open_picker(app, PickerTarget::Services, chosen, &[]);
        }
        Cmd::Open | Cmd::Save => {
            match bulk_change(d) {
                Ok((models, services)) => {
                    d.error = None;
                    d.busy = true;
                    let batch: Vec<BulkUpdateParams> = users::bulk_targets(app)
                        .into_iter()
                        .map(|p| BulkUpdateParams { models: models.clone(), services: services.clone(), ..p })
                        .collect();
                    preview_bulk(app, batch);
                }
                Err(problem) => d.error = Some(problem),
            }
        }
        _ => {}
    }
}

type Change = (Option<SetChange>, Option<SetChange>);

/// The set changes a bulk dialog describes, or why it describes none.
pub fn bulk_change(d: &BulkDialog) -> Result<Change, String> {
    let change = |op: Option<SetOp>, values: &BTreeSet<String>, what: &str| -> Result<Option<SetChange>, String> {
        match op {
            None => Ok(None),
            Some(SetOp::Add | SetOp::Remove) if values.is_empty() => Err(format!("pick the {what} to add or remove")),
            Some(op) => Ok(Some(SetChange { op, values: values.iter().cloned().collect() })),
        }
    };
    let models = change(d.models_op, &d.models, "models")?;
    let services = change(d.services_op, &d.services, "services")?;
    if models.is_none() && services.is_none() {
        return Err("nothing to change: choose an operation (←/→) for models or services".into());
    }
    Ok((models, services))
}

/// Sends the dry run of a bulk change; the answer opens the confirm popup.
pub fn preview_bulk(app: &mut App, batch_params: Vec<BulkUpdateParams>) {
    let dry: Vec<Value> = batch_params.iter().map(|p| to_params(&BulkUpdateParams { dry_run: true, ..p.clone() })).collect();
    app.pending_bulk = batch_params;
    batch(app, method::USERS_BULK_UPDATE, dry, Tag::BulkPreview);
}

/// Adds up the answers of a batch of bulk calls.
fn sum_bulk(results: Vec<BulkUpdateResult>) -> Option<BulkUpdateResult> {
    let mut iter = results.into_iter();
    let mut total = iter.next()?;
    for r in iter {
        total.matched += r.matched;
        total.changed += r.changed;
        for (into, from) in [
            (&mut total.models_added, r.models_added),
            (&mut total.models_removed, r.models_removed),
            (&mut total.services_added, r.services_added),
            (&mut total.services_removed, r.services_removed),
        ] {
            for v in from {
                if !into.contains(&v) {
                    into.push(v);
                }
            }
        }
    }
    Some(total)
}

fn summary_lines(r: &BulkUpdateResult) -> Vec<String> {
    let mut lines = vec![format!("{} user(s) selected, {} will change.", r.matched, r.changed)];
    for (label, list) in [
        ("models added", &r.models_added),
        ("models removed", &r.models_removed),
        ("services added", &r.services_added),
        ("services removed", &r.services_removed),
    ] {
        if !list.is_empty() {
            lines.push(format!("{label}: {}", list.join(", ")));
        }
    }
    lines
}

fn create_command(app: &mut App, cmd: Cmd) {
    let Some(Popup::Create(d)) = app.popups.last_mut() else { return };
    match cmd {
        Cmd::Back => {
            app.popups.pop();
        }
        Cmd::NextField | Cmd::PrevField => {
            d.focus = if d.focus == CreateField::Rows { CreateField::CsvPath } else { CreateField::Rows };
        }
        Cmd::Open if d.focus == CreateField::CsvPath => {
            let path = d.csv_path.value().trim().to_string();
            if path.is_empty() {
                d.error = Some("type the path of a CSV file".into());
                return;
            }
            d.busy = true;
            let epoch = app.epoch;
            app.push_effect(Effect::ReadFile { path: PathBuf::from(path), epoch });
        }
        Cmd::Open | Cmd::Save => submit_create(app),
        _ => {}
    }
}

/// Parses the rows; returns the users and the text line each came from.
pub fn parse_rows(text: &str) -> Result<(Vec<NewUser>, Vec<usize>), (usize, String)> {
    let mut users = Vec::new();
    let mut lines = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        let fields = csv::parse_line(line);
        if users.is_empty() && fields.first().is_some_and(|f| f.trim().eq_ignore_ascii_case("id")) {
            continue; // a header row
        }
        let field = |i: usize| fields.get(i).map_or("", |f| f.trim());
        let set = |i: usize| -> Vec<String> {
            field(i).split(';').map(str::trim).filter(|s| !s.is_empty()).map(String::from).collect()
        };
        if field(0).is_empty() {
            return Err((n, "the id is empty".into()));
        }
        let info = parse_info(&field(4).replace(';', "\n")).map_err(|e| (n, e))?;
        users.push(NewUser {
            id: field(0).to_string(),
            organization: field(1).to_string(),
            models: set(2),
            services: set(3),
            info,
        });
        lines.push(n);
    }
    Ok((users, lines))
}

fn submit_create(app: &mut App) {
    let Some(Popup::Create(d)) = app.popups.last_mut() else { return };
    if d.busy {
        return;
    }
    d.row_errors.clear();
    d.error = None;
    match parse_rows(&d.rows.text()) {
        Ok((users, _)) if users.is_empty() => d.error = Some("no rows: one user per line".into()),
        Ok((users, lines)) => {
            d.busy = true;
            d.submitted_lines = lines;
            app.call(method::USERS_CREATE, to_params(&CreateUsersParams { users }), Tag::CreateUsers);
        }
        Err((line, problem)) => d.row_errors = vec![(line, problem)],
    }
}

fn find_popup<T>(app: &mut App, pick: impl Fn(&mut Popup) -> Option<&mut T>) -> Option<&mut T> {
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
                if let Some(d) = find_popup(app, |p| if let Popup::Edit(d) = p { Some(d) } else { None }) {
                    **d = EditDialog::new(user);
                }
            }
            Err(err) => app.error(describe(&err)),
        },
        Tag::UpdateUser => {
            let Some(d) = find_popup(app, |p| if let Popup::Edit(d) = p { Some(d) } else { None }) else { return };
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
                    d.error = Some("Someone changed this user since you opened it. ctrl-r reloads (your edits are lost), esc cancels.".into());
                }
                Err(err) => d.error = Some(describe(&err)),
            }
        }
        Tag::CreateUsers => {
            let Some(d) = find_popup(app, |p| if let Popup::Create(d) = p { Some(d) } else { None }) else { return };
            d.busy = false;
            match decode::<UsersCreated>(result) {
                Ok(created) => {
                    app.popups.retain(|p| !matches!(p, Popup::Create(_)));
                    app.info(format!("Created {} user(s).", created.created));
                    refresh_table(app);
                }
                Err(ClientError::Api(api)) => {
                    d.set_field_errors(&api.fields);
                    d.error = Some(api.message);
                }
                Err(err) => d.error = Some(describe(&err)),
            }
        }
        Tag::ImportFile => {
            let Some(d) = find_popup(app, |p| if let Popup::Create(d) = p { Some(d) } else { None }) else { return };
            d.busy = false;
            match result {
                Ok(Value::String(text)) => {
                    d.rows = TextArea::new(&text);
                    d.focus = CreateField::Rows;
                    d.error = None;
                    d.row_errors.clear();
                }
                Ok(_) => d.error = Some("could not read the file".into()),
                Err(err) => d.error = Some(describe(&err)),
            }
        }
        Tag::DeleteUsers => match decode::<Vec<UsersDeleted>>(result) {
            Ok(parts) => {
                let deleted: u64 = parts.iter().map(|p| p.deleted).sum();
                app.users.marks.clear();
                app.users.marks_filter = None;
                app.info(format!("Deleted {deleted} user(s)."));
                refresh_table(app);
            }
            Err(err) => app.error(format!("delete: {}", describe(&err))),
        },
        Tag::RotateKeys => match decode::<Vec<KeysRotated>>(result) {
            Ok(parts) => {
                let rotated: u64 = parts.iter().map(|p| p.rotated).sum();
                app.info(format!("Rotated {rotated} key(s); LiteLLM sync follows."));
                app.watching_sync = true;
                app.last_sync_poll = None;
                refresh_table(app);
            }
            Err(err) if is_missing_method(&err) => app.error("This daemon cannot rotate keys yet (users.rotate_keys)."),
            Err(err) => app.error(format!("rotate: {}", describe(&err))),
        },
        Tag::BulkPreview => {
            if let Some(Popup::Bulk(d)) = app.popups.last_mut() {
                d.busy = false;
            }
            match decode::<Vec<BulkUpdateResult>>(result).map(sum_bulk) {
                Ok(Some(preview)) if preview.changed == 0 => {
                    app.pending_bulk.clear();
                    let mut lines = summary_lines(&preview);
                    lines.push("Nothing to apply.".into());
                    app.popups.push(Popup::Message { title: "Preview".into(), lines });
                }
                Ok(Some(preview)) => {
                    let mut lines = summary_lines(&preview);
                    lines.push(String::new());
                    lines.push("Apply? y: yes   n/esc: no".into());
                    let action = ConfirmAction::ApplyBulk(app.pending_bulk.clone());
                    app.popups.push(Popup::Confirm(Confirm { title: "Preview of the bulk change".into(), lines, action }));
                }
                Ok(None) => app.pending_bulk.clear(),
                Err(err) => {
                    app.pending_bulk.clear();
                    let message = describe(&err);
                    match app.popups.last_mut() {
                        Some(Popup::Bulk(d)) => d.error = Some(message),
                        _ => app.error(format!("bulk change: {message}")),
                    }
                }
            }
        }
        Tag::BulkApply => match decode::<Vec<BulkUpdateResult>>(result).map(sum_bulk) {
            Ok(Some(done)) => {
                let mut lines = vec![format!("Changed {} of {} selected user(s).", done.changed, done.matched)];
                lines.extend(summary_lines(&done).into_iter().skip(1));
                lines.push("LiteLLM sync progress is in the status line.".into());
                app.popups.push(Popup::Message { title: "Bulk change applied".into(), lines });
                app.info(format!("Bulk change applied to {} user(s).", done.changed));
                app.watching_sync = true;
                app.last_sync_poll = None;
                refresh_table(app);
            }
            Ok(None) => {}
            Err(err) => app.error(format!("bulk change failed, nothing was changed: {}", describe(&err))),
        },
        _ => {}
    }
}

/// Shows fresh rows after a change, keeping the position.
fn refresh_table(app: &mut App) {
    app.users.invalidate();
    users::fetch_pages(app);
}
