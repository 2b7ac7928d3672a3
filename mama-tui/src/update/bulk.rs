//! Bulk edit of the marked users: the dialog, the dry-run preview and the applied summary.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use mama_api::rpc::method;
use mama_api::types::{BulkUpdateParams, SetChange, SetOp, Suspend};
use serde_json::Value;

use super::bulk_summary::{request_lines, sum_bulk, summary_lines};
use super::form::cycle;
use super::picker::open_picker;
use super::rpc::{answers, batch, describe};
use super::users::{bulk_targets, hidden_marks_line, refresh_table};
use crate::action::{Cmd, Tag};
use crate::app::App;
use crate::bulk_preview::BulkPreview;
use crate::client::ClientError;
use crate::popup::{
    cycle_op, parse_info, parse_keys, BulkDialog, BulkField, BulkSuspension, PickerTarget, Popup,
};
use crate::text::{count, Edit};

pub fn edit(d: &mut BulkDialog, edit: &Edit) {
    match d.focus {
        // Typing an organization means setting it.
        BulkField::Organization => d.set_organization |= d.organization.apply(edit),
        BulkField::InfoSet => {
            d.info_set.apply(edit);
        }
        BulkField::InfoUnset => {
            d.info_unset.apply(edit);
        }
        BulkField::Limit(field) => {
            d.limits.input_mut(field).apply(edit);
        }
        BulkField::ExtendExpiry => {
            d.extend_expiry.apply(edit);
        }
        // Typing a reason means suspending.
        BulkField::SuspendReason => {
            let typed = d.reason.apply(edit);
            if typed && !d.reason.is_empty() {
                d.suspension = BulkSuspension::Suspend;
            }
        }
        _ => {}
    }
}

pub fn command(app: &mut App, cmd: Cmd) {
    let now = app.now;
    let Some(Popup::Bulk(d)) = app.popups.last_mut() else {
        return;
    };
    match cmd {
        Cmd::Back => {
            app.popups.pop();
        }
        Cmd::NextField => d.focus = cycle(&BulkField::ALL, d.focus, true),
        Cmd::PrevField => d.focus = cycle(&BulkField::ALL, d.focus, false),
        Cmd::NextChoice | Cmd::PrevChoice | Cmd::Toggle
            if matches!(d.focus, BulkField::ModelsOp | BulkField::ServicesOp) =>
        {
            let forward = cmd != Cmd::PrevChoice;
            if d.focus == BulkField::ModelsOp {
                d.models_op = cycle_op(d.models_op, forward);
            } else {
                d.services_op = cycle_op(d.services_op, forward);
            }
        }
        Cmd::NextChoice | Cmd::PrevChoice | Cmd::Toggle if d.focus == BulkField::OrganizationOp => {
            d.set_organization = !d.set_organization;
        }
        Cmd::NextChoice | Cmd::Toggle if d.focus == BulkField::SuspendOp => {
            d.suspension = d.suspension.cycle();
        }
        Cmd::PrevChoice if d.focus == BulkField::SuspendOp => {
            d.suspension = d.suspension.cycle().cycle();
        }
        // Enter in a text field moves on, like tab: ctrl-s previews.
        Cmd::Open
            if matches!(
                d.focus,
                BulkField::Limit(_) | BulkField::ExtendExpiry | BulkField::SuspendOp
            ) =>
        {
            d.focus = cycle(&BulkField::ALL, d.focus, true)
        }
        Cmd::Open | Cmd::Toggle if d.focus == BulkField::Models => {
            let chosen = d.models.clone();
            open_picker(app, PickerTarget::Models, chosen, &[]);
        }
        Cmd::Open | Cmd::Toggle if d.focus == BulkField::Services => {
            let chosen = d.services.clone();
            open_picker(app, PickerTarget::Services, chosen, &[]);
        }
        Cmd::Open | Cmd::Save => match bulk_change(d, now) {
            Ok(change) => {
                d.error = None;
                d.busy = true;
                let batch: Vec<BulkUpdateParams> = bulk_targets(app)
                    .into_iter()
                    .map(|p| BulkUpdateParams {
                        ids: p.ids,
                        filter: p.filter,
                        ..change.clone()
                    })
                    .collect();
                preview_bulk(app, batch);
            }
            Err(problem) => d.error = Some(problem),
        },
        _ => {}
    }
}

/// The change a bulk dialog describes (every part of `users.bulk_update` but the selection),
/// or why it describes none. Checked here so a typo never reaches the daemon as a wider change.
///
/// Adding or removing nothing leaves that set alone: the dialog opens on "add models", and an
/// operator who only changes services should not have to switch models back to "unchanged"
/// first. The preview shows what will change before anything does.
pub fn bulk_change(d: &BulkDialog, now: DateTime<Utc>) -> Result<BulkUpdateParams, String> {
    let change = |op: Option<SetOp>, values: &BTreeSet<String>| -> Option<SetChange> {
        match op {
            None => None,
            Some(SetOp::Add | SetOp::Remove) if values.is_empty() => None,
            Some(op) => Some(SetChange {
                op,
                values: values.iter().cloned().collect(),
            }),
        }
    };
    let models = change(d.models_op, &d.models);
    let services = change(d.services_op, &d.services);
    let picking = |op: Option<SetOp>| matches!(op, Some(SetOp::Add | SetOp::Remove));
    let organization = d
        .set_organization
        .then(|| d.organization.value().trim().to_string());
    let info_set = parse_info(&d.info_set.text()).map_err(|e| format!("info to set: {e}"))?;
    let info_unset = parse_keys(d.info_unset.value());
    if let Some(key) = info_unset.iter().find(|k| info_set.contains_key(*k)) {
        return Err(format!("info key `{key}` is both set and removed"));
    }
    let limits = d.limits.bulk(now).map_err(|(_, problem)| problem)?;
    let extend = d.extend_expiry.value().trim();
    let extend_expiry_days = if extend.is_empty() {
        None
    } else {
        match extend.trim_end_matches('d').parse::<u32>() {
            Ok(days) if (1..=3650).contains(&days) => Some(days),
            _ => {
                return Err(format!(
                    "extend expiry: {extend:?} is not a number of days (1 to 3650)"
                ))
            }
        }
    };
    if extend_expiry_days.is_some() && !limits.expires_at.is_keep() {
        return Err("set the expiry or extend it, not both".into());
    }
    let reason = d.reason.value().trim();
    let (suspend, resume) = match d.suspension {
        BulkSuspension::Unchanged => (None, false),
        BulkSuspension::Suspend if reason.is_empty() => {
            return Err("suspend: say why (the reason is recorded)".into())
        }
        BulkSuspension::Suspend => (
            Some(Suspend {
                reason: reason.to_string(),
            }),
            false,
        ),
        BulkSuspension::Resume => (None, true),
    };
    if models.is_none()
        && services.is_none()
        && organization.is_none()
        && info_set.is_empty()
        && info_unset.is_empty()
        && limits.is_empty()
        && extend_expiry_days.is_none()
        && suspend.is_none()
        && !resume
    {
        if picking(d.models_op) {
            return Err("pick the models to add or remove".into());
        }
        if picking(d.services_op) {
            return Err("pick the services to add or remove".into());
        }
        return Err("nothing to change: choose an operation (←/→) or fill in a field".into());
    }
    Ok(BulkUpdateParams {
        models,
        services,
        organization,
        info_set: (!info_set.is_empty()).then_some(info_set),
        info_unset: (!info_unset.is_empty()).then_some(info_unset),
        limits,
        extend_expiry_days,
        suspend,
        resume,
        ..BulkUpdateParams::default()
    })
}

/// Sends the dry run of a bulk change; the answer opens the confirm popup.
pub fn preview_bulk(app: &mut App, batch_params: Vec<BulkUpdateParams>) {
    let dry: Vec<BulkUpdateParams> = batch_params
        .iter()
        .map(|p| BulkUpdateParams {
            dry_run: true,
            ..p.clone()
        })
        .collect();
    app.pending_bulk = batch_params;
    batch::<method::UsersBulkUpdate>(app, dry, Tag::BulkPreview);
}

/// Drops unavailable models from the marked users: a dry run first, then a confirm.
pub fn drop_unavailable(app: &mut App) {
    if app.users.marks.is_empty() {
        app.error("Mark users first (on the users screen: filter `unavailable`, then a).");
        return;
    }
    let batch: Vec<BulkUpdateParams> = bulk_targets(app)
        .into_iter()
        .map(|p| BulkUpdateParams {
            drop_unavailable_models: true,
            ..p
        })
        .collect();
    preview_bulk(app, batch);
}

pub fn reply(app: &mut App, tag: Tag, result: Result<Value, ClientError>) {
    match tag {
        Tag::BulkPreview => {
            if let Some(Popup::Bulk(d)) = app.popups.last_mut() {
                d.busy = false;
            }
            let change = app.pending_bulk.first().cloned();
            match answers::<method::UsersBulkUpdate>(result).map(sum_bulk) {
                Ok(Some(preview)) if preview.changed == 0 => {
                    app.pending_bulk.clear();
                    let mut lines = summary_lines(&preview, change.as_ref());
                    lines.push("Nothing to apply.".into());
                    app.popups.push(Popup::Message {
                        title: "Preview".into(),
                        lines,
                    });
                }
                Ok(Some(preview)) => {
                    let summary = request_lines(&preview, change.as_ref());
                    let apply = std::mem::take(&mut app.pending_bulk);
                    let hidden = hidden_marks_line(app);
                    let dialog = BulkPreview::new(apply, summary, &preview, hidden);
                    app.popups.push(Popup::BulkPreview(Box::new(dialog)));
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
        Tag::BulkApply => {
            let applied = std::mem::take(&mut app.pending_bulk);
            applied_reply(app, &applied, result);
        }
        _ => {}
    }
}

/// Keys in the preview: scrolling, and `y` to apply what it shows.
pub fn preview_command(app: &mut App, cmd: Cmd) {
    let (width, height) = (app.width, app.height);
    let Some(Popup::BulkPreview(p)) = app.popups.last_mut() else {
        return;
    };
    let page = p.list_size(width, height).1;
    let max = p.max_scroll(width, height);
    match cmd {
        Cmd::No | Cmd::Back => {
            app.popups.pop();
        }
        Cmd::Down => p.scroll = (p.scroll + 1).min(max),
        Cmd::Up => p.scroll = p.scroll.saturating_sub(1),
        Cmd::PageDown => p.scroll = (p.scroll + page).min(max),
        Cmd::PageUp => p.scroll = p.scroll.saturating_sub(page),
        Cmd::Top => p.scroll = 0,
        Cmd::Bottom => p.scroll = max,
        Cmd::Yes => {
            let apply = std::mem::take(&mut p.apply);
            app.popups
                .retain(|p| !matches!(p, Popup::Bulk(_) | Popup::BulkPreview(_)));
            // Kept until the answer, for the summary.
            app.pending_bulk = apply.clone();
            batch::<method::UsersBulkUpdate>(app, apply, Tag::BulkApply);
            app.info("Applying the bulk change…");
        }
        _ => {}
    }
}

/// The summary of an applied bulk change, or why it failed.
fn applied_reply(app: &mut App, applied: &[BulkUpdateParams], result: Result<Value, ClientError>) {
    match answers::<method::UsersBulkUpdate>(result).map(sum_bulk) {
        Ok(Some(done)) => {
            let mut lines = vec![format!(
                "Changed {} of {}.",
                done.changed,
                count(done.matched, "selected user")
            )];
            lines.extend(summary_lines(&done, applied.first()).into_iter().skip(1));
            lines.push("LiteLLM sync progress is in the status line.".into());
            app.popups.push(Popup::Message {
                title: "Bulk change applied".into(),
                lines,
            });
            app.info(format!(
                "Bulk change applied to {}.",
                count(done.changed, "user")
            ));
            app.watching_sync = true;
            app.last_sync_poll = None;
            refresh_table(app);
        }
        Ok(None) => {}
        // One call, one transaction (see `bulk_targets`): a failure changed nothing.
        Err(err) => app.error(format!(
            "bulk change failed, nothing was changed: {}",
            describe(&err)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_add_leaves_that_set_alone_when_something_else_changes() {
        // As the dialog opens (add models), with only a service to remove picked.
        let mut d = BulkDialog::new(2);
        d.services_op = Some(SetOp::Remove);
        d.services.insert("search".into());
        let change = bulk_change(&d, Utc::now()).expect("a change of services only");
        assert!(change.models.is_none(), "{change:?}");
        assert_eq!(
            change.services.map(|s| (s.op, s.values)),
            Some((SetOp::Remove, vec!["search".to_string()]))
        );
    }

    #[test]
    fn nothing_picked_and_nothing_else_says_what_to_pick() {
        let d = BulkDialog::new(2);
        assert_eq!(
            bulk_change(&d, Utc::now()).unwrap_err(),
            "pick the models to add or remove"
        );
        let mut d = BulkDialog::new(2);
        d.models_op = None;
        d.services_op = Some(SetOp::Add);
        assert_eq!(
            bulk_change(&d, Utc::now()).unwrap_err(),
            "pick the services to add or remove"
        );
        d.services_op = None;
        assert!(bulk_change(&d, Utc::now())
            .unwrap_err()
            .starts_with("nothing to change"));
        // Replacing with nothing is a change: it empties the set.
        d.models_op = Some(SetOp::Replace);
        let change = bulk_change(&d, Utc::now()).expect("replace with nothing");
        assert_eq!(change.models.map(|m| m.values), Some(vec![]));
    }
}
