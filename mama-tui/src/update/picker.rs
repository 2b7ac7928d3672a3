//! The picker the edit and bulk dialogs open for models or services, and the lists it offers.

use std::collections::{BTreeMap, BTreeSet};

use mama_api::rpc::method;

use crate::action::{Cmd, Tag};
use crate::app::{App, SyncState};
use crate::popup::{Picker, PickerTarget, Popup};
use crate::text::Edit;

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

pub fn open_picker(
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
        toggled: false,
        catalog_known,
    }));
}

/// Typing searches.
pub fn edit(p: &mut Picker, edit: &Edit) {
    let changed = p.query.apply(edit);
    if changed {
        p.cursor = 0;
    }
}

/// Keys in the picker. Space checks or unchecks; Enter closes it with the checks as they are
/// and never unchecks anything. Only while nothing has been toggled does Enter on a typed
/// search first check its highlighted match (or the typed name itself): type, Enter is the
/// quick way to pick one name, and type, space, Enter keeps what space checked.
pub fn command(app: &mut App, cmd: Cmd) {
    let Some(Popup::Picker(p)) = app.popups.last_mut() else {
        return;
    };
    let visible_len = p.visible().len();
    match cmd {
        Cmd::Up => p.cursor = p.cursor.saturating_sub(1),
        Cmd::Down => p.cursor = (p.cursor + 1).min(visible_len.saturating_sub(1)),
        Cmd::Toggle => {
            if visible_len > 0 {
                toggle_current(p);
            } else if add_typed(p) {
                p.query.clear();
                p.cursor = 0;
            }
            p.toggled = true;
        }
        Cmd::Back => {
            app.popups.pop();
        }
        Cmd::Open | Cmd::Save => {
            if !p.toggled && !p.query.is_empty() {
                if visible_len > 0 {
                    check_current(p);
                } else {
                    add_typed(p);
                }
            }
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

fn check_current(p: &mut Picker) {
    let name = p.visible().get(p.cursor).map(|(name, _)| name.clone());
    if let Some(name) = name {
        p.chosen.insert(name);
    }
}

/// Adds the typed name, which nothing listed matches, as a checked option; false when only
/// blanks were typed.
fn add_typed(p: &mut Picker) -> bool {
    let name = p.query.value().trim().to_string();
    if name.is_empty() {
        return false;
    }
    // Not in the list: unavailable, unless the list is not known yet (the daemon refuses a
    // service that does not exist either way).
    p.options.push((name.clone(), !p.catalog_known));
    p.options.sort();
    p.chosen.insert(name);
    true
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
