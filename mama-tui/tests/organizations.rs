//! Organizations and their default limits through `update`: the list, the defaults form, the
//! dry-run preview, and applying it only after a `y`.

mod common;

use common::*;
use mama_tui::action::{Cmd, Screen, Tag};
use mama_tui::app::App;
use mama_tui::effect::Effect;
use mama_tui::popup::Popup;
use serde_json::{json, Value};

fn call(effects: &[Effect]) -> (&'static str, Value) {
    match effects.first() {
        Some(Effect::Call { method, params, .. }) => (method, params.clone()),
        other => panic!("no call: {other:?}"),
    }
}

fn clear_field(app: &mut App) {
    mama_tui::update::update(
        app,
        mama_tui::action::Action::Edit(mama_tui::text::Edit::End),
    );
    mama_tui::update::update(
        app,
        mama_tui::action::Action::Edit(mama_tui::text::Edit::ClearLine),
    );
}

fn dialog_error(app: &App) -> Option<String> {
    app.popups.iter().rev().find_map(|p| match p {
        Popup::OrgDefaults(d) => d.error.clone(),
        _ => None,
    })
}

/// The defaults form of Research (the second row), its budget raised to 25 and its tpm limit
/// removed.
fn research_edited() -> App {
    let mut app = organizations_app(80, 24);
    cmd(&mut app, Cmd::Down);
    cmd(&mut app, Cmd::Open);
    clear_field(&mut app);
    typed(&mut app, "25");
    cmd(&mut app, Cmd::NextField); // period
    cmd(&mut app, Cmd::NextField); // tpm
    clear_field(&mut app);
    app
}

fn preview_answer() -> Value {
    json!({
        "name": "Research",
        "defaults": {"max_budget": 25.0, "budget_period": "30d", "tpm_limit": null,
                     "rpm_limit": 60, "expires_at": null, "rotation_every": "90d"},
        "users_changed": 10, "users_unaffected": 2, "dry_run": true
    })
}

#[test]
fn the_list_shows_each_organization_and_the_palette_and_6_open_it() {
    let app = organizations_app(80, 24);
    assert_eq!(app.screen, Screen::Organizations);
    assert_eq!(app.organizations.items.len(), 4);
    let mut app = users_app(80, 24, sample_users(), 5);
    mama_tui::update::update(&mut app, mama_tui::action::Action::Cmd(Cmd::Palette));
    typed(&mut app, "orgs");
    let effects = cmd(&mut app, Cmd::Open);
    assert_eq!(methods(&effects), vec!["organizations.list"]);
    assert_eq!(app.screen, Screen::Organizations);
}

#[test]
fn new_defaults_are_previewed_then_applied_after_yes() {
    let mut app = research_edited();
    let effects = cmd(&mut app, Cmd::Save);
    let (method, sent) = call(&effects);
    assert_eq!(method, "organizations.set_defaults");
    assert_eq!(
        sent,
        json!({
            "name": "Research",
            "defaults": {"max_budget": 25.0, "budget_period": "30d", "tpm_limit": null,
                         "rpm_limit": 60, "expires_at": null, "rotation_every": "90d"},
            "dry_run": true
        }),
        "every field is sent (the call replaces them all), the unchanged ones as they were"
    );
    assert!(cmd(&mut app, Cmd::Save).is_empty(), "one preview at a time");

    reply(&mut app, Tag::OrgDefaultsPreview, preview_answer());
    let Some(Popup::Confirm(confirm)) = app.popups.last() else {
        panic!("no confirm: {:?}", app.popups)
    };
    assert!(
        confirm
            .lines
            .contains(&"10 users will change, 2 keep their own values.".to_string()),
        "{:?}",
        confirm.lines
    );

    // n goes back to the form, as it was typed.
    cmd(&mut app, Cmd::No);
    assert!(matches!(app.popups.last(), Some(Popup::OrgDefaults(_))));
    cmd(&mut app, Cmd::Save);
    reply(&mut app, Tag::OrgDefaultsPreview, preview_answer());

    let effects = cmd(&mut app, Cmd::Yes);
    let (method, sent) = call(&effects);
    assert_eq!(method, "organizations.set_defaults");
    assert!(sent.get("dry_run").is_none(), "the real call: {sent}");
    assert_eq!(sent["defaults"]["max_budget"], json!(25.0));

    let mut applied = preview_answer();
    applied["dry_run"] = json!(false);
    let effects = reply(&mut app, Tag::OrgDefaultsApply, applied);
    assert!(app.popups.is_empty());
    assert_eq!(
        app.message.as_ref().map(|(_, m)| m.as_str()),
        Some("Defaults of Research set: 10 users changed, 2 keep their own values.")
    );
    assert_eq!(
        methods(&effects),
        vec!["organizations.list"],
        "the list is read again"
    );

    // The users table reads its rows again when it is next shown.
    let effects = cmd(&mut app, Cmd::GoTo(Screen::Users));
    assert!(methods(&effects).contains(&"users.list"), "{effects:?}");
}

#[test]
fn a_bad_or_inherited_value_is_named_before_the_daemon_is_asked() {
    let mut app = research_edited();
    typed(&mut app, "lots");
    assert!(cmd(&mut app, Cmd::Save).is_empty());
    assert_eq!(
        dialog_error(&app).as_deref(),
        Some("tpm: \"lots\" is not a whole number above 0, e.g. 60 or 10k")
    );
    clear_field(&mut app);
    typed(&mut app, "inherit");
    assert!(cmd(&mut app, Cmd::Save).is_empty());
    assert_eq!(
        dialog_error(&app).as_deref(),
        Some("tpm: an organization's default is a value, or blank for none")
    );
}

#[test]
fn unchanged_defaults_close_without_a_call() {
    let mut app = organizations_app(80, 24);
    cmd(&mut app, Cmd::Open);
    assert!(cmd(&mut app, Cmd::Save).is_empty());
    assert!(app.popups.is_empty());
    assert_eq!(
        app.message.as_ref().map(|(_, m)| m.as_str()),
        Some("The defaults of (none) are unchanged.")
    );
}

#[test]
fn a_refused_apply_stays_in_the_form_with_the_reason() {
    let mut app = research_edited();
    cmd(&mut app, Cmd::Save);
    reply(&mut app, Tag::OrgDefaultsPreview, preview_answer());
    cmd(&mut app, Cmd::Yes);
    let epoch = app.epoch;
    mama_tui::update::update(
        &mut app,
        mama_tui::action::Action::Reply(mama_tui::action::Reply {
            epoch,
            tag: Tag::OrgDefaultsApply,
            result: Err(mama_tui::client::ClientError::Api(mama_api::ApiError::new(
                mama_api::ErrorCode::Forbidden,
                "only a super admin may change defaults",
            ))),
        }),
    );
    assert_eq!(
        dialog_error(&app).as_deref(),
        Some("only a super admin may change defaults")
    );
}
