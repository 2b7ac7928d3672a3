//! Two traps an operator fell into: the picker's Enter unchecking what space had just checked,
//! and marks hidden by a filter that a bulk change or a delete still acts on. Keys go through
//! the keymap as a terminal would send them.

mod common;

use common::*;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use mama_tui::action::{Action, Cmd, Tag};
use mama_tui::app::App;
use mama_tui::effect::Effect;
use mama_tui::keymap::{handle_key, Context};
use mama_tui::popup::Popup;
use mama_tui::update::update;
use serde_json::json;
use std::collections::BTreeSet;

/// One key press, translated in the context the app is in.
fn key(app: &mut App, code: KeyCode) -> Vec<Effect> {
    let action = handle_key(Context::of(app), KeyEvent::new(code, KeyModifiers::NONE));
    update(app, action)
}

fn type_keys(app: &mut App, text: &str) {
    for c in text.chars() {
        key(app, KeyCode::Char(c));
    }
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| s.to_string()).collect()
}

/// The bulk dialog on the first user, its models picker open on a known catalog.
fn bulk_picker() -> App {
    let mut app = users_app(80, 24, sample_users(), 5);
    key(&mut app, KeyCode::Char(' '));
    key(&mut app, KeyCode::Char('b'));
    reply(
        &mut app,
        Tag::Catalog,
        json!({"models": [
            {"name": "claude-3-5-sonnet", "available": true, "users": 1},
            {"name": "gpt-4o", "available": true, "users": 2},
            {"name": "gpt-4o-mini", "available": true, "users": 0},
        ], "users_with_unavailable": 0}),
    );
    key(&mut app, KeyCode::Tab);
    key(&mut app, KeyCode::Enter);
    assert!(matches!(app.popups.last(), Some(Popup::Picker(_))));
    app
}

fn bulk_models(app: &App) -> BTreeSet<String> {
    match app.popups.last() {
        Some(Popup::Bulk(d)) => d.models.clone(),
        other => panic!("the bulk dialog is on top: {other:?}"),
    }
}

#[test]
fn type_space_enter_keeps_the_name_checked() {
    let mut app = bulk_picker();
    type_keys(&mut app, "sonnet");
    key(&mut app, KeyCode::Char(' '));
    key(&mut app, KeyCode::Enter);
    assert_eq!(bulk_models(&app), set(&["claude-3-5-sonnet"]));
}

#[test]
fn enter_on_a_typed_name_checks_it_only_while_nothing_was_toggled() {
    // Nothing toggled: Enter checks the highlighted match and closes.
    let mut app = bulk_picker();
    type_keys(&mut app, "mini");
    key(&mut app, KeyCode::Enter);
    assert_eq!(bulk_models(&app), set(&["gpt-4o-mini"]));

    // A name nothing lists: Enter adds it.
    let mut app = bulk_picker();
    type_keys(&mut app, "gpt-9");
    key(&mut app, KeyCode::Enter);
    assert_eq!(bulk_models(&app), set(&["gpt-9"]));

    // Something toggled: Enter closes with the checks as they are, the search ignored.
    let mut app = bulk_picker();
    key(&mut app, KeyCode::Char(' '));
    type_keys(&mut app, "mini");
    key(&mut app, KeyCode::Enter);
    assert_eq!(bulk_models(&app), set(&["all-proxy-models"]));

    // Space on a name nothing lists adds it too; space again on a listed one unchecks it.
    let mut app = bulk_picker();
    type_keys(&mut app, "gpt-9");
    key(&mut app, KeyCode::Char(' '));
    type_keys(&mut app, "sonnet");
    key(&mut app, KeyCode::Char(' '));
    key(&mut app, KeyCode::Char(' '));
    key(&mut app, KeyCode::Enter);
    assert_eq!(bulk_models(&app), set(&["gpt-9"]));
}

#[test]
fn enter_never_unchecks_a_name_the_user_already_has() {
    let mut app = users_app(80, 24, sample_users(), 5);
    // 김철수 holds gpt-4o and old-model.
    key(&mut app, KeyCode::Enter);
    key(&mut app, KeyCode::Tab);
    let Some(Popup::Edit(d)) = app.popups.last() else {
        panic!("the edit dialog: {:?}", app.popups.last())
    };
    let before = d.models.clone();
    assert!(before.contains("gpt-4o"), "{before:?}");
    key(&mut app, KeyCode::Enter);
    assert!(matches!(app.popups.last(), Some(Popup::Picker(_))));
    type_keys(&mut app, "gpt-4o");
    key(&mut app, KeyCode::Enter);
    let Some(Popup::Edit(d)) = app.popups.last() else {
        panic!("back in the edit dialog: {:?}", app.popups.last())
    };
    assert_eq!(d.models, before);
}

/// Five users, the first `marks` marked, then filtered down to `visible` of `matching`.
fn marked_then_filtered(marks: usize, visible: &[&str], matching: u64) -> (App, Vec<Effect>) {
    let mut app = users_app(80, 24, sample_users(), 5);
    for _ in 0..marks {
        key(&mut app, KeyCode::Char(' '));
    }
    assert_eq!(app.users.marks_label(), format!("{marks} marked users"));
    key(&mut app, KeyCode::Char('/'));
    type_keys(&mut app, "org:연구소");
    key(&mut app, KeyCode::Enter);
    let rows: Vec<_> = sample_users()
        .into_iter()
        .filter(|u| visible.contains(&u.id.as_str()))
        .collect();
    let mut effects = reply_first_page(
        &mut app,
        json!({"users": rows, "offset": 0, "limit": 200,
               "start_cursor": "first", "end_cursor": "last"}),
    );
    let query = app.users.query;
    effects.extend(reply(
        &mut app,
        Tag::UsersCount { query },
        json!({"total": 5, "matching": matching}),
    ));
    (app, effects)
}

#[test]
fn marks_hidden_by_the_filter_are_named_wherever_marks_act() {
    let (mut app, effects) = marked_then_filtered(3, &["김철수"], 1);
    assert!(
        !effects
            .iter()
            .any(|e| matches!(e, Effect::CollectIds { .. })),
        "every matching row is loaded: no need to ask the daemon"
    );
    assert_eq!(app.users.marks.len(), 3);
    assert_eq!(app.users.marks_not_in_view(), Some(2));
    assert_eq!(app.users.marks_label(), "3 marked (2 not in view)");
    let text = screen(&app);
    assert!(text.contains("marked 3 (2 not in view)"), "{text}");

    key(&mut app, KeyCode::Char('b'));
    let text = screen(&app);
    assert!(
        text.contains("bulk edit 3 marked (2 not in view)"),
        "{text}"
    );
    assert!(text.contains("2 of them not in view"), "{text}");
    key(&mut app, KeyCode::Esc);

    update(&mut app, Action::Cmd(Cmd::DeleteMarked));
    let text = screen(&app);
    assert!(text.contains("Delete 3 users?"), "{text}");
    assert!(
        text.contains("3 marked (2 not in view): 2 filtered out of view"),
        "{text}"
    );
}

#[test]
fn marks_hidden_among_many_rows_are_asked_of_the_daemon() {
    // 1,000 match; only the first page is loaded: the daemon says which ids match.
    let (mut app, effects) = marked_then_filtered(3, &["김철수"], 1000);
    let asked: Vec<_> = effects
        .iter()
        .filter_map(|e| match e {
            Effect::CollectIds { tag, .. } => Some(tag.clone()),
            _ => None,
        })
        .collect();
    let query = app.users.query;
    assert_eq!(asked, vec![Tag::MarksInView { query }]);
    assert_eq!(app.users.marks_not_in_view(), None);
    assert_eq!(app.users.marks_label(), "3 marked (? not in view)");
    reply(
        &mut app,
        Tag::MarksInView { query },
        json!(["김철수", "박영희", "someone-else"]),
    );
    assert_eq!(app.users.marks_label(), "3 marked (1 not in view)");
    // Asked once per query.
    let effects = update(&mut app, Action::Cmd(Cmd::Down));
    assert!(!effects
        .iter()
        .any(|e| matches!(e, Effect::CollectIds { .. })));
}

fn sample(id: &str, before: &str, org: &str) -> serde_json::Value {
    let after = if before.is_empty() {
        "gpt-5".to_string()
    } else {
        format!("{before},gpt-5")
    };
    json!({"id": id, "changes": [
        {"field": "organization", "before": org, "after": "Platform"},
        {"field": "models", "before": before, "after": after},
    ]})
}

/// All five users marked, four of them filtered out of view; the bulk dialog adds gpt-5 (typed
/// in the picker) and sets the organization, and the daemon's dry run answers for all five.
fn preview_app() -> App {
    let (mut app, _) = marked_then_filtered(5, &["김철수"], 1);
    key(&mut app, KeyCode::Char('b'));
    key(&mut app, KeyCode::Tab);
    key(&mut app, KeyCode::Enter);
    type_keys(&mut app, "gpt-5");
    key(&mut app, KeyCode::Enter);
    assert_eq!(bulk_models(&app), set(&["gpt-5"]));
    app.popups.iter_mut().for_each(|p| {
        if let Popup::Bulk(d) = p {
            d.set_organization = true;
            d.organization.set("Platform");
        }
    });
    let effects = update(&mut app, Action::Cmd(Cmd::Save));
    assert!(
        matches!(effects.first(), Some(Effect::Batch { method, .. }) if *method == "users.bulk_update"),
        "{effects:?}"
    );
    reply(
        &mut app,
        Tag::BulkPreview,
        json!([{
            "matched": 5, "changed": 5, "models_added": ["gpt-5"], "models_removed": [],
            "services_added": [], "services_removed": [], "dry_run": true,
            "samples": [
                sample("김철수", "gpt-4o,old-model", "연구소"),
                sample("박영희", "claude-3-5-sonnet", "연구소 본부"),
                sample("lee.young@example.com", "all-team-models", "Sales"),
                sample("ops-bot", "", "Ops"),
                sample("u00017", "gpt-4o", "Research"),
            ]
        }]),
    );
    app
}

fn preview_scroll(app: &App) -> usize {
    match app.popups.last() {
        Some(Popup::BulkPreview(p)) => p.scroll,
        other => panic!("the preview is on top: {other:?}"),
    }
}

#[test]
fn the_bulk_preview_lists_every_user_it_changes_and_scrolls() {
    let mut app = preview_app();
    let text = screen(&app);
    assert!(text.contains("Preview of the bulk change"), "{text}");
    assert!(text.contains("5 marked (4 not in view)"), "{text}");
    for id in ["김철수", "박영희", "lee.young@example.com", "ops-bot"] {
        assert!(text.contains(id), "{id} is listed:\n{text}");
    }
    assert!(
        text.contains("models: gpt-4o,old-model → gpt-4o,old-model,gpt-5"),
        "{text}"
    );
    insta::assert_snapshot!("bulk_preview_lists_users_80x24", text);

    // j/k scroll the list inside the popup; PgDn goes to its end, PgUp back to the top.
    key(&mut app, KeyCode::Char('j'));
    assert_eq!(preview_scroll(&app), 1);
    key(&mut app, KeyCode::Char('k'));
    assert_eq!(preview_scroll(&app), 0);
    key(&mut app, KeyCode::PageDown);
    let text = screen(&app);
    assert!(text.contains("u00017"), "the last user shows:\n{text}");
    insta::assert_snapshot!("bulk_preview_scrolled_80x24", text);
    key(&mut app, KeyCode::PageUp);
    assert_eq!(preview_scroll(&app), 0);

    // y applies the previewed change: the same ids, no dry run.
    let effects = key(&mut app, KeyCode::Char('y'));
    let Some(Effect::Batch { method, params, .. }) = effects.first() else {
        panic!("{effects:?}")
    };
    assert_eq!(*method, "users.bulk_update");
    assert!(params[0].get("dry_run").is_none());
    assert_eq!(params[0]["ids"].as_array().map(Vec::len), Some(5));
    assert!(app.popups.is_empty(), "{:?}", app.popups);
}

#[test]
fn the_preview_says_how_many_users_it_does_not_list() {
    let mut app = users_app(80, 24, sample_users(), 5);
    key(&mut app, KeyCode::Char(' '));
    key(&mut app, KeyCode::Char('b'));
    app.popups.iter_mut().for_each(|p| {
        if let Popup::Bulk(d) = p {
            d.models_op = None;
            d.suspension = mama_tui::popup::BulkSuspension::Resume;
        }
    });
    update(&mut app, Action::Cmd(Cmd::Save));
    reply(
        &mut app,
        Tag::BulkPreview,
        json!([{
            "matched": 250, "changed": 250, "models_added": [], "models_removed": [],
            "services_added": [], "services_removed": [], "resumed": 250, "dry_run": true,
            "samples": [{"id": "u1", "changes": [
                {"field": "suspended", "before": "suspended", "after": "active"}]}]
        }]),
    );
    let Some(Popup::BulkPreview(p)) = app.popups.last() else {
        panic!("the preview: {:?}", app.popups.last())
    };
    let lines = p.lines(70);
    assert_eq!(
        lines.last().map(String::as_str),
        Some("  … and 249 more users not listed"),
        "{lines:?}"
    );
}
