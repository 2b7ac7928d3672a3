//! Budgets, rate limits, expiry and suspension through `update`: what the dialogs send (only
//! what changed), what they refuse before asking the daemon, and how the daemon's refusals show.

mod common;

use common::*;
use mama_api::{ApiError, ErrorCode, FieldError};
use mama_tui::action::{Action, Cmd, Reply, Tag};
use mama_tui::app::App;
use mama_tui::effect::Effect;
use mama_tui::popup::Popup;
use mama_tui::update::update;
use serde_json::{json, Value};

fn params(effects: &[Effect]) -> Value {
    match effects.first() {
        Some(Effect::Call { params, .. }) => params.clone(),
        Some(Effect::Batch { params, .. }) => params[0].clone(),
        other => panic!("no call: {other:?}"),
    }
}

fn clear_field(app: &mut App) {
    update(app, Action::Edit(mama_tui::text::Edit::End));
    update(app, Action::Edit(mama_tui::text::Edit::ClearLine));
}

fn edit_error(app: &App) -> Option<String> {
    app.popups.iter().rev().find_map(|p| match p {
        Popup::Edit(d) => d.error.clone(),
        _ => None,
    })
}

/// The edit dialog of the first sample user (김철수), focus on its budget.
fn editing_budget() -> App {
    let mut app = users_app(80, 24, sample_users(), 5);
    cmd(&mut app, Cmd::Open);
    for _ in 0..3 {
        cmd(&mut app, Cmd::NextField);
    }
    app
}

#[test]
fn the_edit_dialog_sends_only_the_limits_that_changed() {
    let mut app = editing_budget();
    clear_field(&mut app);
    typed(&mut app, "0");
    cmd(&mut app, Cmd::NextField); // period
    cmd(&mut app, Cmd::NextField); // tpm
    clear_field(&mut app); // no limit of its own any more
    cmd(&mut app, Cmd::NextField); // rpm
    clear_field(&mut app);
    typed(&mut app, "inherit");
    cmd(&mut app, Cmd::NextField); // expires
    clear_field(&mut app);
    typed(&mut app, "+30d");
    let effects = cmd(&mut app, Cmd::Save);
    assert_eq!(methods(&effects), vec!["users.update"]);
    let sent = params(&effects);
    let expires =
        (app.now + chrono::Duration::days(30)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    assert_eq!(
        sent["limits"],
        json!({"max_budget": 0.0, "tpm_limit": null, "rpm_limit": "inherit", "expires_at": expires}),
    );
    assert!(
        sent.get("organization").is_none() && sent.get("suspend").is_none(),
        "{sent}"
    );
}

#[test]
fn a_bad_limit_is_named_beside_its_field_before_the_daemon_is_asked() {
    let mut app = editing_budget();
    clear_field(&mut app);
    typed(&mut app, "-5");
    assert!(cmd(&mut app, Cmd::Save).is_empty());
    assert_eq!(
        edit_error(&app).as_deref(),
        Some("budget: must be 0 or more (0 refuses every call)")
    );
    clear_field(&mut app);
    typed(&mut app, "10");
    for _ in 0..4 {
        cmd(&mut app, Cmd::NextField);
    }
    clear_field(&mut app);
    typed(&mut app, "2020-01-01");
    assert!(cmd(&mut app, Cmd::Save).is_empty());
    assert_eq!(
        edit_error(&app).as_deref(),
        Some("expires: 2020-01-01 is in the past")
    );
}

#[test]
fn the_daemons_refusal_names_the_field() {
    let mut app = editing_budget();
    clear_field(&mut app);
    typed(&mut app, "99");
    cmd(&mut app, Cmd::Save);
    let mut err = ApiError::new(ErrorCode::InvalidParams, "invalid params");
    err.fields.push(FieldError {
        field: "limits.max_budget".into(),
        message: "exceeds the organization's ceiling of 50".into(),
        row: None,
    });
    let epoch = app.epoch;
    update(
        &mut app,
        Action::Reply(Reply {
            epoch,
            tag: Tag::UpdateUser,
            result: Err(mama_tui::client::ClientError::Api(err)),
        }),
    );
    assert_eq!(
        edit_error(&app).as_deref(),
        Some("limits.max_budget: exceeds the organization's ceiling of 50")
    );
}

#[test]
fn suspending_asks_why_and_resuming_asks_first() {
    let mut app = users_app(80, 24, sample_users(), 5);
    cmd(&mut app, Cmd::SuspendResume);
    assert!(cmd(&mut app, Cmd::Open).is_empty(), "a reason is needed");
    typed(&mut app, "laptop stolen");
    let effects = cmd(&mut app, Cmd::Open);
    assert_eq!(methods(&effects), vec!["users.update"]);
    let sent = params(&effects);
    assert_eq!(sent["id"], json!("김철수"));
    assert_eq!(sent["suspend"], json!({"reason": "laptop stolen"}));
    let mut suspended = sample_users().remove(0);
    suspended.status = mama_api::types::UserStatus::Suspended;
    let effects = reply(
        &mut app,
        Tag::SuspendUser,
        serde_json::to_value(&suspended).unwrap(),
    );
    assert!(app.popups.is_empty());
    assert!(
        methods(&effects).contains(&"users.list"),
        "the rows are read again"
    );
    reply_first_page(
        &mut app,
        json!({"users": sample_users(), "total": 5, "matching": 5, "offset": 0, "limit": 200}),
    );

    // 박영희 is suspended: `p` offers to resume.
    cmd(&mut app, Cmd::Down);
    cmd(&mut app, Cmd::SuspendResume);
    assert!(matches!(app.popups.last(), Some(Popup::Confirm(_))));
    let effects = cmd(&mut app, Cmd::Yes);
    let sent = params(&effects);
    assert_eq!(
        (sent["id"].clone(), sent["resume"].clone()),
        (json!("박영희"), json!(true))
    );
}

#[test]
fn the_bulk_dialog_sets_limits_extends_expiry_and_suspends() {
    let mut app = users_app(80, 24, sample_users(), 5);
    cmd(&mut app, Cmd::ToggleMark);
    cmd(&mut app, Cmd::ToggleMark);
    cmd(&mut app, Cmd::BulkEdit);
    for _ in 0..8 {
        cmd(&mut app, Cmd::NextField);
    }
    typed(&mut app, "0"); // budget
    cmd(&mut app, Cmd::NextField);
    cmd(&mut app, Cmd::NextField);
    typed(&mut app, "none"); // tpm
    for _ in 0..4 {
        cmd(&mut app, Cmd::NextField);
    }
    typed(&mut app, "30"); // extend expiry
    cmd(&mut app, Cmd::NextField);
    cmd(&mut app, Cmd::Toggle); // suspension: unchanged → suspend
    assert!(cmd(&mut app, Cmd::Save).is_empty());
    let error = app.popups.last().and_then(|p| match p {
        Popup::Bulk(d) => d.error.clone(),
        _ => None,
    });
    assert_eq!(
        error.as_deref(),
        Some("suspend: say why (the reason is recorded)")
    );
    cmd(&mut app, Cmd::NextField);
    typed(&mut app, "audit"); // the reason: typing it means suspending
    let effects = cmd(&mut app, Cmd::Save);
    let sent = params(&effects);
    assert_eq!(
        sent["limits"],
        json!({"max_budget": 0.0, "tpm_limit": null})
    );
    assert_eq!(sent["extend_expiry_days"], json!(30));
    assert_eq!(sent["suspend"], json!({"reason": "audit"}));
    assert_eq!(sent["dry_run"], json!(true));
    assert!(sent.get("models").is_none(), "{sent}");
}
