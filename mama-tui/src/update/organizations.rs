//! Organizations and their default limits: the list, the defaults dialog, its dry-run preview
//! ("N users will change, M keep their own values"), and applying it after a `y`.

use mama_api::rpc::method;
use mama_api::types::{KeyLimits, LimitField, SetDefaultsParams};
use serde_json::Value;

use super::form::{cycle, find_popup};
use super::rpc::{answer, describe, is_missing_method};
use crate::action::{Cmd, Tag};
use crate::app::{organization_name, App};
use crate::client::ClientError;
use crate::limits::{field_label, field_of, field_value, NONE};
use crate::popup::{Confirm, ConfirmAction, OrgDefaultsDialog, Popup};
use crate::text::{count, Edit};

pub fn load(app: &mut App) {
    app.call::<method::OrganizationsList>(&Default::default(), Tag::Organizations);
}

/// Enter on the organizations screen: the selected organization's defaults.
pub fn open_defaults(app: &mut App) {
    if let Some(organization) = app.organizations.current().cloned() {
        app.popups
            .push(Popup::OrgDefaults(Box::new(OrgDefaultsDialog::new(
                organization,
            ))));
    }
}

pub fn edit(d: &mut OrgDefaultsDialog, edit: &Edit) {
    d.limits.input_mut(d.focus).apply(edit);
}

pub fn command(app: &mut App, cmd: Cmd) {
    let Some(Popup::OrgDefaults(d)) = app.popups.last_mut() else {
        return;
    };
    match cmd {
        Cmd::Back => {
            app.popups.pop();
        }
        Cmd::NextField => d.focus = cycle(&LimitField::ALL, d.focus, true),
        Cmd::PrevField => d.focus = cycle(&LimitField::ALL, d.focus, false),
        // Enter moves on like tab, and saves on the last field.
        Cmd::Open if d.focus != LimitField::RotationEvery => {
            d.focus = cycle(&LimitField::ALL, d.focus, true)
        }
        Cmd::Open | Cmd::Save => preview(app),
        _ => {}
    }
}

/// Checks the fields and asks the daemon what the new defaults would change.
fn preview(app: &mut App) {
    let now = app.now;
    let Some(Popup::OrgDefaults(d)) = app.popups.last_mut() else {
        return;
    };
    if d.busy {
        return;
    }
    let defaults = match d.limits.defaults(&d.organization.defaults, now) {
        Ok(defaults) => defaults,
        Err((field, problem)) => {
            d.error = Some(problem);
            d.focus = field;
            return;
        }
    };
    if defaults == d.organization.defaults {
        let name = organization_name(&d.organization.name).to_string();
        app.popups.pop();
        app.info(format!("The defaults of {name} are unchanged."));
        return;
    }
    d.busy = true;
    d.error = None;
    let params = SetDefaultsParams {
        name: d.organization.name.clone(),
        defaults,
        dry_run: true,
    };
    app.call::<method::OrganizationsSetDefaults>(&params, Tag::OrgDefaultsPreview);
}

/// Sends the previewed defaults for real.
pub fn apply(app: &mut App, params: SetDefaultsParams) {
    let name = organization_name(&params.name).to_string();
    app.call::<method::OrganizationsSetDefaults>(&params, Tag::OrgDefaultsApply);
    app.info(format!("Setting the defaults of {name}…"));
}

fn dialog(popup: &mut Popup) -> Option<&mut OrgDefaultsDialog> {
    match popup {
        Popup::OrgDefaults(d) => Some(d),
        _ => None,
    }
}

/// `budget (USD)  10.00 → 20.00` for each field that changes.
fn changed_lines(old: &KeyLimits, new: &KeyLimits) -> Vec<String> {
    let shown = |limits: &KeyLimits, field| {
        let value = field_value(limits, field);
        if value.is_empty() {
            NONE.to_string()
        } else {
            value
        }
    };
    LimitField::ALL
        .into_iter()
        .filter(|f| field_value(old, *f) != field_value(new, *f))
        .map(|f| {
            format!(
                "  {:<13} {} → {}",
                field_label(f),
                shown(old, f),
                shown(new, f)
            )
        })
        .collect()
}

/// "3 users will change, 1 keeps its own values".
fn impact(changed: u64, unaffected: u64, future: bool) -> String {
    let (change, keep) = match (future, unaffected == 1) {
        (true, true) => ("will change", "keeps its"),
        (true, false) => ("will change", "keep their"),
        (false, true) => ("changed", "keeps its"),
        (false, false) => ("changed", "keep their"),
    };
    format!(
        "{} {change}, {unaffected} {keep} own values",
        count(changed, "user")
    )
}

pub fn reply(app: &mut App, tag: Tag, result: Result<Value, ClientError>) {
    match tag {
        Tag::Organizations => match answer::<method::OrganizationsList>(result) {
            Ok(list) => app.organizations.set(list.organizations),
            Err(err) => {
                app.organizations.loaded = true;
                if is_missing_method(&err) {
                    app.error("This daemon has no organizations yet (organizations.list).");
                } else {
                    app.error(format!("organizations: {}", describe(&err)));
                }
            }
        },
        Tag::OrgDefaultsPreview => {
            let Some(d) = find_popup(app, dialog) else {
                return;
            };
            d.busy = false;
            match answer::<method::OrganizationsSetDefaults>(result) {
                Ok(preview) => {
                    let name = organization_name(&preview.name).to_string();
                    let mut lines = vec![format!("New defaults of {name}:")];
                    lines.extend(changed_lines(&d.organization.defaults, &preview.defaults));
                    lines.push(String::new());
                    lines.push(format!(
                        "{}.",
                        impact(preview.users_changed, preview.users_unaffected, true)
                    ));
                    lines.push(String::new());
                    lines.push("y: apply   n/esc: back to the form".into());
                    let params = SetDefaultsParams {
                        name: preview.name,
                        defaults: preview.defaults,
                        dry_run: false,
                    };
                    app.popups.push(Popup::Confirm(Confirm {
                        title: "Organization defaults".into(),
                        lines,
                        action: ConfirmAction::SetOrgDefaults(params),
                        typed: None,
                    }));
                }
                Err(ClientError::Api(api)) if !api.fields.is_empty() => {
                    let problems: Vec<String> = api
                        .fields
                        .iter()
                        .map(|f| format!("{}: {}", f.field, f.message))
                        .collect();
                    if let Some(field) = api.fields.iter().find_map(|f| field_of(&f.field)) {
                        d.focus = field;
                    }
                    d.error = Some(problems.join("; "));
                }
                Err(err) => d.error = Some(describe(&err)),
            }
        }
        Tag::OrgDefaultsApply => {
            match answer::<method::OrganizationsSetDefaults>(result) {
                Ok(set) => {
                    app.popups.retain(|p| !matches!(p, Popup::OrgDefaults(_)));
                    app.info(format!(
                        "Defaults of {} set: {}.",
                        organization_name(&set.name),
                        impact(set.users_changed, set.users_unaffected, false)
                    ));
                    // The users that inherit show their new limits when the table is next seen.
                    app.users.invalidate();
                    if set.users_changed > 0 {
                        app.watching_sync = true;
                        app.last_sync_poll = None;
                    }
                }
                Err(err) => {
                    let message = describe(&err);
                    match find_popup(app, dialog) {
                        Some(d) => d.error = Some(message),
                        None => app.error(format!("organization defaults: {message}")),
                    }
                }
            }
            load(app);
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_impact_reads_in_both_numbers() {
        assert_eq!(
            impact(3, 1, true),
            "3 users will change, 1 keeps its own values"
        );
        assert_eq!(
            impact(1, 0, false),
            "1 user changed, 0 keep their own values"
        );
    }

    #[test]
    fn only_changed_fields_are_listed() {
        let old = KeyLimits {
            max_budget: Some(10.0),
            rpm_limit: Some(60),
            ..KeyLimits::default()
        };
        let new = KeyLimits {
            max_budget: Some(20.0),
            rpm_limit: Some(60),
            tpm_limit: Some(1000),
            ..KeyLimits::default()
        };
        assert_eq!(
            changed_lines(&old, &new),
            vec![
                "  budget (USD)  10.00 → 20.00".to_string(),
                "  tpm           — → 1000".to_string(),
            ]
        );
    }
}
