//! Undo (issue 18) on the events screen, through the keymap, `update` and ratatui's
//! `TestBackend`: `u` previews with a dry run and shows each user and each conflict at 80×24
//! (Hangul ids included), `f` previews again with force, only `y` applies (with the force that
//! was previewed), the status line names the undo's own event, and what cannot be undone — a
//! failed call, a view, or what the daemon refuses — is said without changing anything. A
//! viewer is not offered `u`, and pressing it sends nothing.

mod common;

use common::*;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use mama_api::{ApiError, ErrorCode};
use mama_tui::action::{Action, Reply, Screen, Tag};
use mama_tui::app::{App, Level};
use mama_tui::client::ClientError;
use mama_tui::effect::Effect;
use mama_tui::keymap::{handle_key, Context};
use mama_tui::popup::Popup;
use mama_tui::update::update;
use serde_json::{json, Value};

/// A key pressed as the terminal sends it: through the keymap, then `update`.
fn press(app: &mut App, code: KeyCode) -> Vec<Effect> {
    let action = handle_key(Context::of(app), KeyEvent::new(code, KeyModifiers::NONE));
    update(app, action)
}

fn key(app: &mut App, c: char) -> Vec<Effect> {
    press(app, KeyCode::Char(c))
}

/// The method and params of each call among `effects`.
fn calls(effects: &[Effect]) -> Vec<(&'static str, Value)> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Call { method, params, .. } => Some((*method, params.clone())),
            _ => None,
        })
        .collect()
}

fn status(app: &App) -> (Level, String) {
    app.message.clone().unwrap_or((Level::Info, String::new()))
}

fn event(id: &str, at: &str, actor: &str, action: &str, users: &[&str], result: &str) -> Value {
    let failed = result != "ok";
    json!({
        "id": id, "at": at, "actor_kind": "admin", "actor": actor, "channel": "rpc",
        "action": action, "user_ids": users, "target_count": users.len(),
        "target_filter": null, "result": result,
        "error_code": if failed { json!("not_found") } else { Value::Null },
        "error_message": if failed { json!("no such user(s)") } else { Value::Null },
        "client": "unix", "request_id": "r", "duration_ms": 4, "detail": null
    })
}

/// Newest first: a bulk change by 운영자, a view, a failed delete.
fn events() -> Value {
    json!({
        "events": [
            event("0195e2a0-7c3a-7000-8000-00000000bb01", "2026-03-02T09:31:00Z", "운영자",
                  "users.bulk_update", &["김철수", "박영희", "lee.young@example.com"], "ok"),
            event("0195e2a0-7c3a-7000-8000-00000000bb02", "2026-03-02T09:30:00Z", "admin",
                  "users.list", &[], "ok"),
            event("0195e2a0-7c3a-7000-8000-00000000bb03", "2026-03-02T09:29:00Z", "admin",
                  "users.delete", &["u00017"], "error"),
        ],
        "matching": 3, "offset": 0, "limit": 100
    })
}

const BULK: &str = "0195e2a0-7c3a-7000-8000-00000000bb01";

/// Signed in with `session`, on the events screen (opened with `5`) with [`events`] listed.
fn events_app_as(session: Value) -> App {
    let mut app = users_app_as(session, 80, 24, sample_users(), 5);
    let effects = key(&mut app, '5');
    assert_eq!(app.screen, Screen::Events);
    assert_eq!(methods(&effects), vec!["events.list"]);
    let query = app.events.query;
    reply(&mut app, Tag::Events { query }, events());
    app
}

fn events_app() -> App {
    events_app_as(session(false))
}

/// What undoing the bulk change would do: three users back, one changed since.
fn preview(force: bool) -> Value {
    let mut changes = vec![
        json!({"id": "김철수", "now": "models: gpt-4o, o1", "after": "models: gpt-4o"}),
        json!({"id": "박영희", "now": "models: claude-3-5-sonnet, o1; services: chat",
               "after": "models: claude-3-5-sonnet; services: none"}),
        json!({"id": "lee.young@example.com", "now": "models: all-team-models, o1",
               "after": "models: all-team-models"}),
    ];
    if force {
        changes.push(json!({"id": "u00017", "now": "models: gpt-4o, o1, o3",
                            "after": "models: gpt-4o"}));
    }
    json!({
        "event_id": BULK, "action": "users.bulk_update",
        "changed": changes.len(), "changes": changes,
        "conflicted": 1, "conflicts": [
            {"id": "u00017", "reason": "changed again since (version 7 now, 5 after the event)",
             "forceable": true}
        ],
        "dry_run": true
    })
}

fn answer_preview(app: &mut App, force: bool) {
    let tag = Tag::UndoPreview {
        event_id: BULK.into(),
        force,
    };
    reply(app, tag, preview(force));
}

fn fail(app: &mut App, tag: Tag, code: ErrorCode, message: &str) -> Vec<Effect> {
    let epoch = app.epoch;
    update(
        app,
        Action::Reply(Reply {
            epoch,
            tag,
            result: Err(ClientError::Api(ApiError::new(code, message))),
        }),
    )
}

#[test]
fn u_previews_the_undo_of_a_change_at_80x24_with_a_conflict() {
    let mut app = events_app();
    let effects = key(&mut app, 'u');
    assert_eq!(
        calls(&effects),
        vec![(
            "events.undo",
            json!({"event_id": BULK, "dry_run": true, "force": false})
        )],
        "a dry run first"
    );
    assert!(screen(&app).contains("asking the daemon what the undo would do"));
    answer_preview(&mut app, false);
    let text = screen(&app);
    assert!(
        text.contains("Undo users.bulk_update of 2026-03-02 09:31 UTC by 운영자"),
        "{text}"
    );
    assert!(text.contains("3 users will be set back"), "{text}");
    assert!(
        text.contains("1 conflict: changed again since — left alone"),
        "{text}"
    );
    assert!(
        text.contains("김철수: models: gpt-4o, o1 → models: gpt-4o"),
        "{text}"
    );
    assert!(
        text.contains("u00017: changed again since (version 7 now, 5 after the event)"),
        "{text}"
    );
    assert!(text.contains("f forces"), "{text}");
    let hints = text.lines().last().unwrap_or_default();
    assert!(
        hints.contains("y undo") && hints.contains("f force"),
        "{hints}"
    );
    // Every line fits the 80 columns, Hangul counted as two cells.
    assert!(
        text.lines()
            .all(|l| unicode_width::UnicodeWidthStr::width(l) <= 80),
        "{text}"
    );
    insta::assert_snapshot!("undo_preview_80x24", text);
}

#[test]
fn only_y_applies_and_the_status_names_the_undo_event() {
    let mut app = events_app();
    key(&mut app, 'u');
    // Before the preview answers, `y` applies nothing: nothing was shown yet.
    assert!(calls(&key(&mut app, 'y')).is_empty());
    answer_preview(&mut app, false);
    // Enter, pressed out of habit, undoes nothing.
    assert!(calls(&press(&mut app, KeyCode::Enter)).is_empty());
    assert!(matches!(app.popups.last(), Some(Popup::Undo(_))));

    let effects = key(&mut app, 'y');
    assert_eq!(
        calls(&effects),
        vec![(
            "events.undo",
            json!({"event_id": BULK, "dry_run": false, "force": false})
        )]
    );
    assert!(app.popups.is_empty());
    let mut done = preview(false);
    done["dry_run"] = json!(false);
    done["undo_event_id"] = json!("0195e2a0-9f00-7000-8000-0000c0ffee42");
    let effects = reply(&mut app, Tag::UndoApply, done);
    assert_eq!(
        status(&app),
        (
            Level::Info,
            "Undone: 3 users set back (event …c0ffee42) — undo that event to redo".into()
        )
    );
    assert_eq!(methods(&effects), vec!["events.list"], "the events reload");
}

#[test]
fn f_previews_again_with_force_and_y_applies_forced() {
    let mut app = events_app();
    key(&mut app, 'u');
    answer_preview(&mut app, false);
    let effects = key(&mut app, 'f');
    assert_eq!(
        calls(&effects),
        vec![(
            "events.undo",
            json!({"event_id": BULK, "dry_run": true, "force": true})
        )]
    );
    // A late answer to the unforced preview is not taken for the forced one.
    answer_preview(&mut app, false);
    assert!(screen(&app).contains("asking the daemon"));
    assert!(calls(&key(&mut app, 'y')).is_empty());
    answer_preview(&mut app, true);
    let text = screen(&app);
    assert!(text.contains("4 users will be set back"), "{text}");
    assert!(
        text.contains("FORCED: users changed since are set back too and lose later changes"),
        "{text}"
    );
    assert!(text.contains("u00017: models: gpt-4o, o1, o3 → models: gpt-4o"));
    let effects = key(&mut app, 'y');
    assert_eq!(
        calls(&effects),
        vec![(
            "events.undo",
            json!({"event_id": BULK, "dry_run": false, "force": true})
        )],
        "the force that was previewed"
    );
}

#[test]
fn n_and_esc_cancel_without_a_call() {
    let mut app = events_app();
    key(&mut app, 'u');
    answer_preview(&mut app, false);
    assert!(calls(&key(&mut app, 'n')).is_empty());
    assert!(app.popups.is_empty());
    key(&mut app, 'u');
    answer_preview(&mut app, false);
    assert!(calls(&press(&mut app, KeyCode::Esc)).is_empty());
    assert!(app.popups.is_empty());
}

#[test]
fn a_long_list_scrolls_with_j_k_and_pages() {
    let mut app = events_app();
    key(&mut app, 'u');
    let changes: Vec<Value> = (0..40)
        .map(
            |i| json!({"id": format!("사용자{i:02}"), "now": "models: a, b", "after": "models: a"}),
        )
        .collect();
    let tag = Tag::UndoPreview {
        event_id: BULK.into(),
        force: false,
    };
    reply(
        &mut app,
        tag,
        json!({"event_id": BULK, "action": "users.bulk_update", "changed": 1200,
               "changes": changes, "conflicted": 0, "conflicts": [], "dry_run": true}),
    );
    let text = screen(&app);
    assert!(text.contains("1200 users will be set back"), "{text}");
    assert!(
        text.contains("사용자00:") && !text.contains("사용자39:"),
        "{text}"
    );
    assert!(text.contains("1–14 of 41"), "{text}");
    key(&mut app, 'j');
    assert!(!screen(&app).contains("사용자00:"));
    key(&mut app, 'k');
    assert!(screen(&app).contains("사용자00:"));
    press(&mut app, KeyCode::PageDown);
    press(&mut app, KeyCode::PageDown);
    press(&mut app, KeyCode::PageDown);
    let text = screen(&app);
    assert!(
        text.contains("사용자39:") && text.contains("… and 1160 more"),
        "the end, and no further: {text}"
    );
    assert!(text.contains("28–41 of 41"), "{text}");
    press(&mut app, KeyCode::PageUp);
    assert!(screen(&app).contains("14–27 of 41"));
}

#[test]
fn a_failed_call_or_a_view_cannot_be_undone_and_nothing_is_asked() {
    let mut app = events_app();
    key(&mut app, 'j');
    let effects = key(&mut app, 'u');
    assert!(calls(&effects).is_empty(), "a view: nothing to ask");
    let (level, text) = status(&app);
    assert_eq!(level, Level::Error);
    assert!(text.contains("users.list only reads"), "{text}");
    key(&mut app, 'j');
    let effects = key(&mut app, 'u');
    assert!(calls(&effects).is_empty(), "a failed call: nothing to ask");
    let (level, text) = status(&app);
    assert_eq!(level, Level::Error);
    assert!(text.contains("users.delete failed (not_found)"), "{text}");
    assert!(app.popups.is_empty());
}

#[test]
fn what_the_daemon_refuses_is_shown_in_its_words() {
    let mut app = events_app();
    key(&mut app, 'u');
    let message = "event e1 (users.rotate_keys, ok) cannot be undone: only applied changes of \
                   users and organization defaults can";
    let tag = Tag::UndoPreview {
        event_id: BULK.into(),
        force: false,
    };
    fail(&mut app, tag, ErrorCode::InvalidParams, message);
    assert!(app.popups.is_empty());
    assert_eq!(status(&app), (Level::Error, message.into()));

    // Applied meanwhile by someone else: nothing left to undo.
    key(&mut app, 'u');
    answer_preview(&mut app, false);
    key(&mut app, 'y');
    let effects = fail(
        &mut app,
        Tag::UndoApply,
        ErrorCode::Conflict,
        "nothing to undo for e1: 3 conflicts (force reverses users changed since)",
    );
    let (level, text) = status(&app);
    assert_eq!(level, Level::Error);
    assert!(text.starts_with("Nothing left to undo: nothing to undo for e1"));
    assert_eq!(methods(&effects), vec!["events.list"]);
}

#[test]
fn a_viewer_is_not_offered_u_and_pressing_it_sends_nothing() {
    let mut app = events_app_as(session_as("alice", "viewer", None));
    let text = screen(&app);
    let hints = text.lines().last().unwrap_or_default();
    assert!(!hints.contains("undo"), "{hints}");
    key(&mut app, '?');
    assert!(!screen(&app).contains("undo the change"), "the help");
    press(&mut app, KeyCode::Esc);
    let effects = key(&mut app, 'u');
    assert!(calls(&effects).is_empty(), "{effects:?}");
    assert!(app.popups.is_empty());
    assert_eq!(
        status(&app),
        (
            Level::Error,
            "a viewer may read but not change anything".into()
        )
    );

    // An admin is offered it, in the hint bar and the help.
    let mut app = events_app();
    let text = screen(&app);
    assert!(
        text.lines().last().unwrap_or_default().contains("u undo"),
        "{text}"
    );
    key(&mut app, '?');
    assert!(screen(&app).contains("undo the change"));
}
