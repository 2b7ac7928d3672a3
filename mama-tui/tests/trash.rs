//! The trash (issue 18) through the keymap, `update` and ratatui's `TestBackend`: the trash
//! screen at 80×24 and 160×40 with Hangul names, its sorting, filter and paging as the daemon is
//! asked for them, restore and purge behind a confirm that only `y` answers, the users screen's
//! delete (Enter never confirms it; above the threshold the count must be typed), what the
//! answers say about the daemon's trash, and a viewer offered neither restore nor purge.

mod common;

use common::*;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use mama_api::rpc::Caller;
use mama_api::types::Role;
use mama_tui::action::{Screen, Tag};
use mama_tui::app::{App, Level};
use mama_tui::effect::Effect;
use mama_tui::keymap::{handle_key, Context};
use mama_tui::popup::Popup;
use mama_tui::update::update;
use serde_json::{json, Value};

/// A key pressed as the terminal sends it: through the keymap, then `update`.
fn press(app: &mut App, code: KeyCode, mods: KeyModifiers) -> Vec<Effect> {
    let action = handle_key(Context::of(app), KeyEvent::new(code, mods));
    update(app, action)
}

fn key(app: &mut App, c: char) -> Vec<Effect> {
    press(app, KeyCode::Char(c), KeyModifiers::NONE)
}

fn ctrl(app: &mut App, c: char) -> Vec<Effect> {
    press(app, KeyCode::Char(c), KeyModifiers::CONTROL)
}

fn enter(app: &mut App) -> Vec<Effect> {
    press(app, KeyCode::Enter, KeyModifiers::NONE)
}

/// Typed through the keymap, so keys that are commands elsewhere are tried as keys.
fn keys(app: &mut App, text: &str) {
    for c in text.chars() {
        key(app, c);
    }
}

fn hint_bar(app: &App) -> String {
    screen(app).lines().last().unwrap_or_default().to_string()
}

/// The method and params of the one call among `effects`.
fn call(effects: &[Effect]) -> (&'static str, Value) {
    let calls: Vec<(&'static str, Value)> = effects
        .iter()
        .filter_map(|e| match e {
            Effect::Call { method, params, .. } => Some((*method, params.clone())),
            Effect::Batch { method, params, .. } => {
                Some((*method, params.first().cloned().unwrap_or_default()))
            }
            _ => None,
        })
        .collect();
    match calls.as_slice() {
        [one] => one.clone(),
        other => panic!("one call expected: {other:?}"),
    }
}

fn info(app: &App) -> String {
    match &app.message {
        Some((Level::Info, text)) => text.clone(),
        other => panic!("an info message expected: {other:?}"),
    }
}

/// Four deleted users (the fixtures' now is 2026-03-02 10:00 UTC, the trash keeps 7 days):
/// Hangul ids and organizations, one without an organization or key, one due within hours.
fn trashed() -> Value {
    json!([
        {"id": "김철수", "organization": "연구소", "models": ["gpt-4o", "claude-3-5-sonnet"],
         "key_hint": "sk-...0333", "deleted_at": "2026-03-02T09:48:00Z", "deleted_by": "admin",
         "purge_after": "2026-03-09T09:48:00Z"},
        {"id": "박영희", "organization": "연구소 본부", "models": ["claude-3-5-sonnet"],
         "key_hint": "sk-...0222", "deleted_at": "2026-03-01T07:00:00Z", "deleted_by": "운영자",
         "purge_after": "2026-03-08T07:00:00Z"},
        {"id": "ops-bot", "organization": "", "models": [], "key_hint": null,
         "deleted_at": "2026-02-24T10:00:00Z", "deleted_by": "carol",
         "purge_after": "2026-03-03T10:00:00Z"},
        {"id": "lee.young@example.com", "organization": "Sales", "models": ["all-team-models"],
         "key_hint": "sk-...0777", "deleted_at": "2026-02-23T12:00:00Z", "deleted_by": "admin",
         "purge_after": "2026-03-02T12:00:00Z"},
    ])
}

fn page(users: Value, matching: u64, offset: u64) -> Value {
    json!({"users": users, "matching": matching, "offset": offset, "limit": 100})
}

/// Answers the trash page the app asked for last.
fn answer_trash(app: &mut App, result: Value) -> Vec<Effect> {
    let query = app.trash.query;
    reply(app, Tag::Trash { query }, result)
}

/// Signed in with `session`, on the trash screen (opened with `8`) with [`trashed`] listed.
fn trash_app_as(session: Value, width: u16, height: u16) -> App {
    let mut app = users_app_as(session, width, height, sample_users(), 5);
    let effects = key(&mut app, '8');
    assert_eq!(app.screen, Screen::Trash);
    assert_eq!(
        call(&effects),
        (
            "users.trash",
            json!({"sort": {"column": "deleted_at", "descending": true},
                   "page": {"offset": 0, "limit": 100}})
        ),
        "newest deletion first, one page"
    );
    answer_trash(&mut app, page(trashed(), 4, 0));
    app
}

fn trash_app(width: u16, height: u16) -> App {
    trash_app_as(session(false), width, height)
}

fn viewer_trash_app() -> App {
    trash_app_as(
        session_as("alice", "viewer", Some(&["연구소", "Sales"])),
        80,
        24,
    )
}

#[test]
fn trash_screen_80x24_with_hangul() {
    let mut app = trash_app(80, 24);
    key(&mut app, 'j');
    key(&mut app, ' ');
    let text = screen(&app);
    // The narrow layout leaves out the models and who deleted; the rest lines up by cells.
    assert!(text.contains("purged"), "{text}");
    assert!(!text.contains("claude-3-5-sonnet"), "{text}");
    assert!(text.contains("12m ago") && text.contains("03-09 09:48 (in 6d)"));
    assert!(text.contains("03-02 12:00 (in 2h)"), "due soon: {text}");
    let column = |id: &str| {
        let line = text.lines().find(|l| l.contains(id)).unwrap_or_default();
        let before = &line[..line.find("sk-...").unwrap_or(0)];
        unicode_width::UnicodeWidthStr::width(before)
    };
    assert_eq!(column("김철수"), column("lee.young"), "{text}");
    assert!(text.contains("4 deleted · marked 1"), "{text}");
    let hints = hint_bar(&app);
    assert!(
        hints.contains("r restore") && hints.contains("ctrl-d purge"),
        "{hints}"
    );
    insta::assert_snapshot!("trash_80x24", text);
}

#[test]
fn trash_screen_160x40_shows_models_who_deleted_and_the_year() {
    let app = trash_app(160, 40);
    let text = screen(&app);
    assert!(
        text.contains("gpt-4o,claude-3-5-sonnet") && text.contains("운영자"),
        "{text}"
    );
    assert!(text.contains("2026-03-09 09:48 (in 6d 23h)"), "{text}");
    assert!(text.contains("8 trash"), "the tab: {text}");
    insta::assert_snapshot!("trash_160x40", text);
}

#[test]
fn sorting_filtering_and_paging_ask_the_daemon() {
    let mut app = trash_app(80, 24);
    let sort = |app: &mut App, c: char| call(&key(app, c)).1["sort"].clone();
    assert_eq!(
        sort(&mut app, 'P'),
        json!({"column": "purge_after", "descending": false}),
        "the soonest purge first"
    );
    assert_eq!(
        sort(&mut app, 'P'),
        json!({"column": "purge_after", "descending": true}),
        "again: reversed"
    );
    assert_eq!(
        sort(&mut app, 'I'),
        json!({"column": "id", "descending": false})
    );
    assert_eq!(
        sort(&mut app, 'O'),
        json!({"column": "organization", "descending": false})
    );
    assert_eq!(
        sort(&mut app, 'D'),
        json!({"column": "deleted_at", "descending": true})
    );
    assert!(screen(&app).contains("deleted ▼"));

    // The filter is text, sent on enter; esc clears it.
    key(&mut app, '/');
    keys(&mut app, "연구");
    let (method, params) = call(&enter(&mut app));
    assert_eq!((method, &params["text"]), ("users.trash", &json!("연구")));
    let (_, params) = call(&press(&mut app, KeyCode::Esc, KeyModifiers::NONE));
    assert!(params.get("text").is_none(), "{params}");

    // 250 in the trash: PgDn past the last row of the page asks for the next one.
    let many: Vec<Value> = (0..100)
        .map(|i| {
            let mut u = trashed()[0].clone();
            u["id"] = json!(format!("user{i:03}"));
            u
        })
        .collect();
    answer_trash(&mut app, page(json!(many), 250, 0));
    key(&mut app, 'G');
    let (_, params) = call(&press(&mut app, KeyCode::PageDown, KeyModifiers::NONE));
    assert_eq!(params["page"], json!({"offset": 100, "limit": 100}));
}

#[test]
fn restore_marked_needs_an_explicit_yes_then_says_what_happened_and_reloads() {
    let mut app = trash_app(80, 24);
    key(&mut app, ' ');
    key(&mut app, ' ');
    assert!(key(&mut app, 'r').is_empty(), "nothing before the confirm");
    let text = screen(&app);
    assert!(
        text.contains("Restore 2 users?") && text.contains("same keys"),
        "{text}"
    );
    assert!(enter(&mut app).is_empty(), "Enter does not confirm");
    assert!(matches!(app.popups.last(), Some(Popup::Confirm(_))));
    let (method, params) = call(&key(&mut app, 'y'));
    assert_eq!(
        (method, params),
        ("users.restore", json!({"ids": ["김철수", "박영희"]}))
    );
    let effects = reply(&mut app, Tag::RestoreUsers, json!({"restored": 2}));
    assert_eq!(
        info(&app),
        "Restored 2 users (same keys, unblocked in LiteLLM)."
    );
    assert!(app.trash.marks.is_empty());
    assert_eq!(call(&effects).0, "users.trash", "reloaded");

    // Nothing marked: the row under the cursor.
    answer_trash(&mut app, page(trashed(), 4, 0));
    key(&mut app, 'g');
    key(&mut app, 'j');
    key(&mut app, 'r');
    assert!(screen(&app).contains("Restore 1 user?"));
    let (_, params) = call(&key(&mut app, 'y'));
    assert_eq!(params, json!({"ids": ["박영희"]}));
}

#[test]
fn purge_says_it_is_final_and_deletes_the_keys() {
    let mut app = trash_app(80, 24);
    key(&mut app, 'G');
    assert!(ctrl(&mut app, 'd').is_empty());
    let text = screen(&app);
    assert!(text.contains("Purge 1 user for good?"), "{text}");
    assert!(
        text.contains("This is final") && text.contains("keys are deleted in LiteLLM"),
        "{text}"
    );
    assert!(enter(&mut app).is_empty(), "Enter does not confirm");
    let (method, params) = call(&key(&mut app, 'y'));
    assert_eq!(
        (method, params),
        ("users.purge", json!({"ids": ["lee.young@example.com"]}))
    );
    let effects = reply(&mut app, Tag::PurgeUsers, json!({"purged": 1}));
    assert_eq!(info(&app), "Purged 1 user for good.");
    assert_eq!(call(&effects).0, "users.trash");
    // `n` backs out of a confirm without a call.
    ctrl(&mut app, 'd');
    assert!(key(&mut app, 'n').is_empty() && app.popups.is_empty());
}

#[test]
fn the_palette_and_the_help_know_the_trash() {
    let mut app = users_app(80, 24, sample_users(), 5);
    key(&mut app, ':');
    typed(&mut app, "trash");
    let effects = enter(&mut app);
    assert_eq!(app.screen, Screen::Trash);
    assert_eq!(call(&effects).0, "users.trash");
    assert!(mama_tui::palette::help(&app).contains(":trash"));
    key(&mut app, '?');
    let help = screen(&app);
    for line in ["r       restore marked", "ctrl-d  purge marked", "1–8"] {
        assert!(help.contains(line), "{line:?} in\n{help}");
    }
}

/// The users screen with `n` users marked.
fn marked(n: usize, typed_above: u64) -> App {
    let mut app = users_app(80, 24, sample_users(), 5);
    app.confirm_typed_above = typed_above;
    app.users
        .marks
        .extend((0..n).map(|i| format!("user{i:03}")));
    app
}

#[test]
fn enter_never_confirms_a_delete_and_y_does() {
    let mut app = marked(2, 100);
    assert!(ctrl(&mut app, 'd').is_empty());
    let text = screen(&app);
    assert!(text.contains("Delete 2 users?"), "{text}");
    // Before any answer the TUI cannot know whether the daemon keeps a trash: it says both.
    assert!(
        text.contains("moved to the trash (if the daemon keeps one)")
            && text.contains("restore from the trash screen (8)")
            && text.contains("Without a trash they are deleted for good."),
        "{text}"
    );
    assert_eq!(hint_bar(&app), "y yes  n/esc no");
    for _ in 0..3 {
        assert!(enter(&mut app).is_empty(), "Enter sent something");
    }
    assert!(
        matches!(app.popups.last(), Some(Popup::Confirm(_))),
        "still asking"
    );
    let (method, params) = call(&key(&mut app, 'y'));
    assert_eq!(method, "users.delete");
    assert_eq!(params["ids"].as_array().map(Vec::len), Some(2));

    // The answer says the daemon keeps a trash, until when, and how to get them back …
    reply(
        &mut app,
        Tag::DeleteUsers,
        json!([{"deleted": 2, "purge_after": "2026-03-09T10:00:00Z"}]),
    );
    assert_eq!(
        info(&app),
        "Moved 2 users to the trash until 2026-03-09 10:00 UTC — restore with 8."
    );
    // … and the next confirm says so plainly.
    app.users.marks.insert("u00017".into());
    ctrl(&mut app, 'd');
    let text = screen(&app);
    assert!(
        text.contains("moved to the trash for 7 days, keys blocked;")
            && text.contains("restore from the trash screen (8)."),
        "{text}"
    );
}

#[test]
fn a_delete_without_a_trash_is_said_to_be_final() {
    let mut app = marked(1, 100);
    ctrl(&mut app, 'd');
    key(&mut app, 'y');
    reply(&mut app, Tag::DeleteUsers, json!([{"deleted": 1}]));
    assert_eq!(
        info(&app),
        "Deleted 1 user. For good: the daemon keeps no trash."
    );
    app.users.marks.insert("u00017".into());
    ctrl(&mut app, 'd');
    let text = screen(&app);
    assert!(
        text.contains("The daemon keeps no trash: they are deleted for good,"),
        "{text}"
    );
}

#[test]
fn above_the_threshold_the_count_must_be_typed() {
    // At the threshold a `y` still confirms.
    let mut app = marked(100, 100);
    ctrl(&mut app, 'd');
    assert_eq!(call(&key(&mut app, 'y')).0, "users.delete");

    let mut app = marked(150, 100);
    ctrl(&mut app, 'd');
    let text = screen(&app);
    assert!(
        text.contains("Delete 150 users?") && text.contains("type 150 and press enter"),
        "{text}"
    );
    assert!(
        hint_bar(&app).contains("enter confirm"),
        "{}",
        hint_bar(&app)
    );
    // `y` alone is not enough: it is not even typed, and the dialog says what to do.
    assert!(key(&mut app, 'y').is_empty());
    let Some(Popup::Confirm(confirm)) = app.popups.last() else {
        panic!("still asking: {:?}", app.popups)
    };
    let typed = confirm.typed.as_ref().expect("a count field");
    assert_eq!(typed.input.value(), "");
    assert!(
        typed
            .error
            .as_deref()
            .is_some_and(|e| e == "y is not enough: type 150, then enter"),
        "{:?}",
        typed.error
    );
    // Enter on nothing, or on a wrong number, refuses and says so.
    assert!(enter(&mut app).is_empty());
    keys(&mut app, "149");
    assert!(enter(&mut app).is_empty());
    let text = screen(&app);
    assert!(
        text.contains("149 is not the number of users: type 150 to confirm"),
        "{text}"
    );
    insta::assert_snapshot!("typed_count_refused", text);
    // The right number confirms.
    ctrl(&mut app, 'u');
    keys(&mut app, "150");
    let (method, params) = call(&enter(&mut app));
    assert_eq!(method, "users.delete");
    assert_eq!(params["ids"].as_array().map(Vec::len), Some(150));
    assert!(app.popups.is_empty());

    // Esc backs out without a call.
    let mut app = marked(150, 100);
    ctrl(&mut app, 'd');
    assert!(press(&mut app, KeyCode::Esc, KeyModifiers::NONE).is_empty());
    assert!(app.popups.is_empty());
}

#[test]
fn purging_many_needs_the_typed_count_too() {
    let mut app = trash_app(80, 24);
    app.confirm_typed_above = 3;
    key(&mut app, 'a');
    assert_eq!(app.trash.marks.len(), 4);
    ctrl(&mut app, 'd');
    assert!(key(&mut app, 'y').is_empty());
    keys(&mut app, "4");
    assert_eq!(call(&enter(&mut app)).0, "users.purge");
}

#[test]
fn a_viewer_is_offered_neither_restore_nor_purge_and_pressing_them_sends_nothing() {
    let mut app = viewer_trash_app();
    let hints = hint_bar(&app);
    assert!(
        !hints.contains("restore") && !hints.contains("purge"),
        "{hints}"
    );
    assert!(
        hints.contains("/ filter"),
        "reading is still offered: {hints}"
    );
    key(&mut app, '?');
    let help = screen(&app);
    assert!(
        !help.contains("restore") && !help.contains("purge marked"),
        "{help}"
    );
    assert!(help.contains("sort by purge time"), "reading is: {help}");
    key(&mut app, '?');
    let refused = Caller::Admin
        .admits(Role::Viewer, true)
        .err()
        .unwrap_or_default();
    key(&mut app, ' ');
    for press in [
        |app: &mut App| key(app, 'r'),
        |app: &mut App| ctrl(app, 'd'),
    ] {
        app.message = None;
        let effects = press(&mut app);
        assert!(methods(&effects).is_empty(), "{:?}", methods(&effects));
        assert!(app.popups.is_empty(), "{:?}", app.popups);
        assert_eq!(app.message, Some((Level::Error, refused.to_string())));
    }
    insta::assert_snapshot!("trash_of_a_viewer", screen(&app));
}
