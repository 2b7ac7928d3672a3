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

/// The column and direction of the `users.list` call among `effects`.
fn sort_sent(effects: &[Effect]) -> Value {
    effects
        .iter()
        .find_map(|e| match e {
            Effect::Call {
                method: "users.list",
                params,
                ..
            } => Some(params["sort"].clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no users.list in {effects:?}"))
}

fn key(app: &mut App, c: char) -> Vec<Effect> {
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    let context = mama_tui::keymap::Context::of(app);
    let action = mama_tui::keymap::handle_key(
        context,
        KeyEvent::new(KeyCode::Char(c), KeyModifiers::SHIFT),
    );
    update(app, action)
}

#[test]
fn the_limit_columns_sort_in_the_daemon_by_key_and_again_reverses() {
    for (c, column) in [
        ('B', "max_budget"),
        ('$', "spend"),
        ('L', "rpm_limit"),
        ('E', "expires_at"),
        ('W', "spend_30d"),
        ('Q', "requests_30d"),
        ('Y', "last_used"),
    ] {
        let mut app = users_app(80, 24, sample_users(), 5);
        let effects = key(&mut app, c);
        assert_eq!(
            sort_sent(&effects),
            json!({"column": column, "descending": false}),
            "{c}"
        );
        assert_eq!(methods(&effects), vec!["users.list", "users.count"]);
        let effects = key(&mut app, c);
        assert_eq!(
            sort_sent(&effects),
            json!({"column": column, "descending": true}),
            "{c} again"
        );
    }
}

/// Where `heading` starts on the header line, in terminal cells.
fn header_x(app: &App, heading: &str) -> u16 {
    let text = screen(app);
    let header = text.lines().nth(1).unwrap_or_default();
    let at = header
        .find(heading)
        .unwrap_or_else(|| panic!("{heading} not in {header:?}"));
    unicode_width::UnicodeWidthStr::width(&header[..at]) as u16
}

#[test]
fn a_click_on_a_limit_header_sorts_by_it_and_the_bar_says_so() {
    let mut app = users_app(80, 24, sample_users(), 5);
    let x = header_x(&app, "budget");
    let effects = update(&mut app, Action::Click { x, y: 1 });
    assert_eq!(
        sort_sent(&effects),
        json!({"column": "max_budget", "descending": false})
    );
    reply_first_page(
        &mut app,
        json!({"users": sample_users(), "total": 5, "matching": 5, "offset": 0, "limit": 200}),
    );
    let text = screen(&app);
    assert!(text.contains("budget ▲"), "{text}");
    assert!(text.contains("sort budget ▲"), "{text}");

    let x = header_x(&app, "expires");
    let effects = update(&mut app, Action::Click { x: x + 2, y: 1 });
    assert_eq!(
        sort_sent(&effects),
        json!({"column": "expires_at", "descending": false})
    );

    // The limits column (shown from 130 columns on) sorts by requests per minute; the status
    // column by status, the most pressing first.
    let mut wide = users_app(140, 30, sample_users(), 5);
    let x = header_x(&wide, "limits");
    let effects = update(&mut wide, Action::Click { x, y: 1 });
    assert_eq!(
        sort_sent(&effects),
        json!({"column": "rpm_limit", "descending": false})
    );
    let x = header_x(&wide, "status");
    let effects = update(&mut wide, Action::Click { x, y: 1 });
    assert_eq!(
        sort_sent(&effects),
        json!({"column": "status", "descending": false})
    );
}

#[test]
fn a_click_on_a_30_day_header_sorts_by_it_and_the_bar_names_it() {
    // Spend over 30 days shows from 100 columns, the last use from 120, requests from 180.
    for (width, heading, column, name) in [
        (100, "30d $", "spend_30d", "spend 30d"),
        (120, "used", "last_used", "last used"),
        (180, "30d req", "requests_30d", "requests 30d"),
    ] {
        let mut app = users_app(width, 24, sample_users(), 5);
        let x = header_x(&app, heading);
        let effects = update(&mut app, Action::Click { x, y: 1 });
        assert_eq!(
            sort_sent(&effects),
            json!({"column": column, "descending": false}),
            "{heading}"
        );
        reply_first_page(
            &mut app,
            json!({"users": sample_users(), "total": 5, "matching": 5, "offset": 0, "limit": 200}),
        );
        let text = screen(&app);
        assert!(text.contains(&format!("{heading} ▲")), "{text}");
        assert!(text.contains(&format!("sort {name} ▲")), "{text}");
        // Again: reversed.
        let effects = update(&mut app, Action::Click { x: x + 1, y: 1 });
        assert_eq!(
            sort_sent(&effects),
            json!({"column": column, "descending": true}),
            "{heading} again"
        );
    }
    // Too narrow for them: the columns are not there, the keys still sort.
    let app = users_app(99, 24, sample_users(), 5);
    assert!(!screen(&app).contains("30d $"));
}
