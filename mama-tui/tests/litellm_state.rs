//! What the TUI says when LiteLLM's state is not known: no LiteLLM configured (the status line
//! says so, and how many keys wait), and a catalog never read (availability "unknown", not
//! "yes"). 80×24 snapshots.

mod common;

use common::*;
use mama_tui::action::{Cmd, Screen, Tag};
use mama_tui::app::App;
use serde_json::json;

/// The users screen of a daemon without LiteLLM: `pending` users wait for one.
fn without_litellm(pending: u64) -> App {
    let mut app = users_app(80, 24, sample_users(), 5);
    reply(
        &mut app,
        Tag::SyncStatus,
        json!({
            "configured": false, "litellm_reachable": null, "litellm_error": null,
            "queue_depth": pending, "users_pending": pending, "users_failed": 0,
            "last_reconcile_at": null
        }),
    );
    app
}

#[test]
fn status_line_without_litellm() {
    let app = without_litellm(12_007);
    let text = screen(&app);
    assert!(
        text.contains("LiteLLM: not configured · 12007 keys wait as pending"),
        "{text}"
    );
    insta::assert_snapshot!(text);
}

#[test]
fn status_line_without_litellm_and_nothing_waiting() {
    let text = screen(&without_litellm(0));
    assert!(
        text.contains("LiteLLM: not configured · keys wait as pending"),
        "{text}"
    );
}

#[test]
fn a_message_keeps_not_configured_and_the_account() {
    let mut app = without_litellm(200);
    app.error("users: the daemon refused the change because it was too large");
    let text = screen(&app);
    let status = text.lines().rev().nth(1).unwrap_or_default();
    assert!(status.contains("LiteLLM: not configured"), "{status}");
    assert!(status.contains("admin"), "{status}");
}

#[test]
fn models_screen_with_a_catalog_never_read() {
    let mut app = without_litellm(3);
    cmd(&mut app, Cmd::GoTo(Screen::Models));
    reply(
        &mut app,
        Tag::Models,
        json!({
            "models": [
                {"name": "all-team-models", "available": true, "users": 1},
                {"name": "claude-3-5-sonnet", "available": null, "users": 1},
                {"name": "gpt-4o", "available": null, "users": 2},
            ],
            "fetched_at": null,
            "users_with_unavailable": 0
        }),
    );
    let text = screen(&app);
    assert!(
        !text.contains("gpt-4o                              yes"),
        "{text}"
    );
    assert!(text.contains("unknown"), "{text}");
    insta::assert_snapshot!(text);
}
