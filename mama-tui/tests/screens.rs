//! Every screen rendered on ratatui's `TestBackend` (80×24, plus wide ones) and compared with
//! insta snapshots. Rows include Hangul ids and organizations to prove alignment by display
//! width.

mod common;

use common::*;
use mama_tui::action::{Action, Cmd, Screen, Tag};
use mama_tui::app::App;
use mama_tui::text::Edit;
use mama_tui::update::update;
use ratatui::style::Color;
use serde_json::json;

#[test]
fn login_screen() {
    let app = App::new(SERVER.into(), true, 80, 24);
    insta::assert_snapshot!(screen(&app));
}

#[test]
fn login_after_session_expiry() {
    let mut app = users_app(80, 24, sample_users(), 5);
    app.end_session("Your session expired. Log in again.");
    let text = screen(&app);
    assert!(
        !text.contains("김철수"),
        "no user data after the session ends"
    );
    insta::assert_snapshot!(text);
}

#[test]
fn forced_password_change() {
    let mut app = App::new(SERVER.into(), true, 80, 24);
    reply(&mut app, Tag::Login, session(true));
    typed(&mut app, "admin");
    cmd(&mut app, Cmd::NextField);
    typed(&mut app, "short");
    cmd(&mut app, Cmd::NextField);
    typed(&mut app, "short");
    cmd(&mut app, Cmd::Open);
    assert_eq!(app.screen, Screen::ForcePassword);
    insta::assert_snapshot!(screen(&app));
}

#[test]
fn users_table_80x24_with_hangul() {
    let mut app = users_app(80, 24, sample_users(), 100_000);
    update(&mut app, Action::Cmd(Cmd::Down));
    update(&mut app, Action::Cmd(Cmd::ToggleMark));
    let text = screen(&app);
    insta::assert_snapshot!(text);
}

#[test]
fn users_columns_align_by_display_width() {
    let app = users_app(80, 24, sample_users(), 5);
    let text = screen(&app);
    // The organization column starts at the same cell on every row, Hangul or not.
    let starts: Vec<usize> = text
        .lines()
        .skip(2)
        .take(5)
        .map(|line| {
            let org_start = ["연구소", "Sales", "Ops", "Research"]
                .iter()
                .filter_map(|org| line.find(org))
                .min()
                .unwrap_or(0);
            unicode_width::UnicodeWidthStr::width(&line[..org_start])
        })
        .collect();
    assert!(
        starts.windows(2).all(|w| w[0] == w[1]),
        "organization column starts at {starts:?}"
    );
}

#[test]
fn users_table_wide() {
    let mut app = users_app(160, 30, sample_users(), 5);
    update(
        &mut app,
        Action::Cmd(Cmd::Sort(mama_api::types::UserColumn::Organization)),
    );
    let query = app.users.query;
    reply_first_page(
        &mut app,
        json!({
            "users": sample_users(), "total": 5, "matching": 5, "offset": 0, "limit": 200
        }),
    );
    reply(
        &mut app,
        Tag::UsersCount { query },
        json!({"total": 5, "matching": 5}),
    );
    update(
        &mut app,
        Action::Cmd(Cmd::Sort(mama_api::types::UserColumn::Organization)),
    );
    let query = app.users.query;
    reply_first_page(
        &mut app,
        json!({
            "users": sample_users(), "total": 5, "matching": 5, "offset": 0, "limit": 200
        }),
    );
    reply(
        &mut app,
        Tag::UsersCount { query },
        json!({"total": 5, "matching": 5}),
    );
    let text = screen(&app);
    assert!(text.contains("organization ▼"));
    insta::assert_snapshot!(text);
}

#[test]
fn unavailable_models_are_red_and_marked_without_colour() {
    // Wide enough for the whole models list next to every other column.
    let app = users_app(200, 24, sample_users(), 5);
    let terminal = render(&app);
    let buffer = terminal.backend().buffer();
    let row = 2u16;
    let line: String = (0..200)
        .map(|x| buffer[(x, row)].symbol().to_string())
        .collect();
    let at = line
        .find("old-model")
        .map(|byte| unicode_width::UnicodeWidthStr::width(&line[..byte]) as u16);
    let Some(x) = at else {
        panic!("old-model not on row 2: {line}")
    };
    assert_eq!(buffer[(x, row)].fg, Color::Red);

    let mut plain = users_app(200, 24, sample_users(), 5);
    plain.color = false;
    let text = screen(&plain);
    assert!(
        text.contains("old-model!"),
        "NO_COLOR marks unavailable models with !"
    );
    let terminal = render(&plain);
    let buffer = terminal.backend().buffer();
    assert!(
        buffer.content.iter().all(|c| c.fg == Color::Reset),
        "NO_COLOR: no foreground colours"
    );
}

#[test]
fn users_filter_bar_with_error() {
    let mut app = users_app(80, 24, sample_users(), 5);
    cmd(&mut app, Cmd::Filter);
    typed(&mut app, "org:연구소 modle:x");
    cmd(&mut app, Cmd::Open);
    // The daemon answers the query the first keystroke sent; the rest does not parse.
    let query = app.users.query;
    reply_first_page(
        &mut app,
        json!({
            "users": sample_users(), "total": 5, "matching": 5, "offset": 0, "limit": 200
        }),
    );
    reply(
        &mut app,
        Tag::UsersCount { query },
        json!({"total": 5, "matching": 5}),
    );
    cmd(&mut app, Cmd::Filter);
    insta::assert_snapshot!(screen(&app));
}

#[test]
fn users_empty() {
    let app = users_app(80, 24, vec![], 0);
    insta::assert_snapshot!(screen(&app));
}

#[test]
fn edit_dialog() {
    let mut app = users_app(80, 24, sample_users(), 5);
    cmd(&mut app, Cmd::Open);
    insta::assert_snapshot!(screen(&app));
}

#[test]
fn edit_dialog_conflict() {
    let mut app = users_app(80, 24, sample_users(), 5);
    cmd(&mut app, Cmd::Open);
    typed(&mut app, " 2");
    cmd(&mut app, Cmd::Save);
    let epoch = app.epoch;
    let mut err = mama_api::ApiError::new(mama_api::ErrorCode::Conflict, "stale version");
    err.current_version = Some(4);
    update(
        &mut app,
        Action::Reply(mama_tui::action::Reply {
            epoch,
            tag: Tag::UpdateUser,
            result: Err(mama_tui::client::ClientError::Api(err)),
        }),
    );
    insta::assert_snapshot!(screen(&app));
}

#[test]
fn model_picker() {
    let mut app = users_app(80, 24, sample_users(), 5);
    reply(
        &mut app,
        Tag::Catalog,
        json!({
            "models": [
                {"name": "claude-3-5-sonnet", "available": true, "users": 1},
                {"name": "gpt-4o", "available": true, "users": 2},
                {"name": "old-model", "available": false, "users": 1},
            ],
            "fetched_at": "2026-03-02T09:59:00Z",
            "users_with_unavailable": 1
        }),
    );
    cmd(&mut app, Cmd::Open);
    cmd(&mut app, Cmd::NextField);
    cmd(&mut app, Cmd::Open);
    insta::assert_snapshot!(screen(&app));
}

/// `all-team-models` is offered only when the daemon has a LiteLLM team (it refuses it otherwise).
#[test]
fn the_picker_offers_all_team_models_only_with_a_team() {
    for team in [false, true] {
        let mut app = users_app(80, 24, sample_users(), 5);
        reply(
            &mut app,
            Tag::SyncStatus,
            json!({
                "configured": true, "team_configured": team, "litellm_reachable": true,
                "litellm_error": null, "queue_depth": 0, "users_pending": 0, "users_failed": 0,
                "last_reconcile_at": null
            }),
        );
        cmd(&mut app, Cmd::Open);
        cmd(&mut app, Cmd::NextField);
        cmd(&mut app, Cmd::Open);
        assert_eq!(
            screen(&app).contains("all-team-models"),
            team,
            "team: {team}"
        );
    }
}

fn marked_app() -> App {
    let mut app = users_app(80, 24, sample_users(), 5);
    cmd(&mut app, Cmd::ToggleMark);
    cmd(&mut app, Cmd::ToggleMark);
    app
}

#[test]
fn bulk_dialog_and_preview() {
    let mut app = marked_app();
    cmd(&mut app, Cmd::BulkEdit);
    insta::assert_snapshot!("bulk_dialog", screen(&app));
    cmd(&mut app, Cmd::NextField);
    cmd(&mut app, Cmd::Open);
    typed(&mut app, "gpt-5");
    // Enter on a typed name, nothing toggled: checks it and closes the picker.
    cmd(&mut app, Cmd::Open);
    cmd(&mut app, Cmd::Save);
    reply(
        &mut app,
        Tag::BulkPreview,
        json!([{
            "matched": 2, "changed": 2, "models_added": ["gpt-5"], "models_removed": [],
            "services_added": [], "services_removed": [], "dry_run": true
        }]),
    );
    insta::assert_snapshot!("bulk_preview", screen(&app));
}

#[test]
fn delete_confirm_shows_count_and_ids() {
    let mut app = marked_app();
    cmd(&mut app, Cmd::DeleteMarked);
    let text = screen(&app);
    assert!(text.contains("Delete 2 users?"));
    insta::assert_snapshot!(text);
}

#[test]
fn create_dialog_with_row_errors() {
    let mut app = users_app(80, 24, sample_users(), 5);
    cmd(&mut app, Cmd::CreateUsers);
    update(
        &mut app,
        Action::Edit(Edit::Paste(
            "id,organization,models,services\n최민수,연구소,gpt-4o,chat\nbad id!,Ops,,\n".into(),
        )),
    );
    cmd(&mut app, Cmd::Save);
    let epoch = app.epoch;
    let err = mama_api::ApiError::invalid_fields(vec![mama_api::FieldError {
        field: "users[1].id".into(),
        message: "only letters, digits and . _ - @ are allowed".into(),
        row: Some(1),
    }]);
    update(
        &mut app,
        Action::Reply(mama_tui::action::Reply {
            epoch,
            tag: Tag::CreateUsers,
            result: Err(mama_tui::client::ClientError::Api(err)),
        }),
    );
    insta::assert_snapshot!(screen(&app));
}

#[test]
fn help_overlay() {
    let mut app = users_app(80, 24, sample_users(), 5);
    cmd(&mut app, Cmd::Help);
    let text = screen(&app);
    // Every command of the users screen can be read on 80×24, scrolling (the screen switches
    // on one line).
    let mut all = String::new();
    for _ in 0..40 {
        all.push_str(&screen(&app));
        cmd(&mut app, Cmd::Down);
    }
    cmd(&mut app, Cmd::Top);
    let mut seen = Vec::new();
    for b in mama_tui::keymap::bindings(Screen::Users) {
        if seen.contains(&b.cmd) || matches!(b.cmd, Cmd::GoTo(_)) {
            continue;
        }
        seen.push(b.cmd);
        let help: String = b.help.chars().take(12).collect();
        let line = format!("{:<8}{help}", b.key);
        assert!(all.contains(&line), "{line:?} not in help:\n{all}");
    }
    assert!(all.contains("1–8     users models admins"), "{all}");
    assert!(!all.contains("… │"), "an entry is cut:\n{all}");
    for term in ["budget:none|set unavailable", "quit", "reload"] {
        assert!(all.contains(term), "{term} never shown");
    }
    assert!(text.contains("↓ more"), "{text}");
    insta::assert_snapshot!("help_80", text);
    // Scrolled to the end, the rest shows, whole: the filter's terms are wrapped, never cut.
    update(&mut app, Action::Scroll(3));
    cmd(&mut app, Cmd::Bottom);
    let end = screen(&app);
    assert!(!end.contains("↓ more"), "{end}");
    insta::assert_snapshot!("help_80_scrolled", end);
    cmd(&mut app, Cmd::Back);
    assert!(app.popups.is_empty());
    let mut wide = users_app(120, 40, sample_users(), 5);
    cmd(&mut wide, Cmd::Help);
    insta::assert_snapshot!("help_wide", screen(&wide));
}

#[test]
fn command_palette() {
    let mut app = users_app(80, 24, sample_users(), 5);
    cmd(&mut app, Cmd::Palette);
    typed(&mut app, "export /tmp/users.csv");
    insta::assert_snapshot!(screen(&app));
}

#[test]
fn models_screen() {
    let mut app = users_app(80, 24, sample_users(), 5);
    cmd(&mut app, Cmd::GoTo(Screen::Models));
    reply(
        &mut app,
        Tag::Models,
        json!({
            "models": [
                {"name": "all-proxy-models", "available": true, "users": 0},
                {"name": "all-team-models", "available": true, "users": 1},
                {"name": "claude-3-5-sonnet", "available": true, "users": 1},
                {"name": "gpt-4o", "available": true, "users": 2},
                {"name": "old-model", "available": false, "users": 1},
            ],
            "fetched_at": "2026-03-02T09:59:00Z",
            "users_with_unavailable": 1
        }),
    );
    insta::assert_snapshot!(screen(&app));
}

#[test]
fn admins_screen() {
    let mut app = users_app(80, 24, sample_users(), 5);
    cmd(&mut app, Cmd::GoTo(Screen::Admins));
    reply(
        &mut app,
        Tag::Admins,
        json!({"admins": [
            {"username": "admin", "role": "super", "must_change_password": false,
             "created_at": "2026-03-01T08:00:00Z", "password_changed_at": "2026-03-01T08:05:00Z"},
            {"username": "운영자", "role": "admin", "must_change_password": true,
             "organizations": ["Sales", "영업부"],
             "created_at": "2026-03-02T09:00:00Z", "password_changed_at": "2026-03-02T09:00:00Z"},
            {"username": "alice", "role": "viewer", "must_change_password": false,
             "organizations": ["연구소", "연구소 본부", "Research", "Sales"],
             "created_at": "2026-03-02T09:10:00Z", "password_changed_at": "2026-03-02T09:20:00Z"},
            {"username": "auditor", "role": "viewer", "must_change_password": false,
             "organizations": [],
             "created_at": "2026-03-02T09:30:00Z", "password_changed_at": "2026-03-02T09:30:00Z"},
        ]}),
    );
    insta::assert_snapshot!(screen(&app));
}

fn services_app() -> App {
    let mut app = users_app(80, 24, sample_users(), 5);
    cmd(&mut app, Cmd::GoTo(Screen::Services));
    reply(
        &mut app,
        Tag::Services,
        json!({"services": [
            {"name": "chat", "created_at": "2026-03-01T08:00:00Z", "users": 3, "tokens": [
                {"id": "t1", "hint": "mama_st_ab12…", "created_at": "2026-03-01T08:01:00Z", "revoked_at": null},
                {"id": "t2", "hint": "mama_st_cd34…", "created_at": "2026-03-01T08:02:00Z", "revoked_at": "2026-03-02T08:00:00Z"},
            ]},
            {"name": "billing", "created_at": "2026-03-01T09:00:00Z", "users": 1, "tokens": []},
        ]}),
    );
    app
}

#[test]
fn services_screen() {
    let app = services_app();
    insta::assert_snapshot!(screen(&app));
}

#[test]
fn issued_token_is_shown_once() {
    let mut app = services_app();
    let effects = cmd(&mut app, Cmd::IssueToken);
    assert_eq!(methods(&effects), vec!["services.issue_token"]);
    reply(
        &mut app,
        Tag::IssueToken,
        json!({"id": "t3", "service": "chat", "token": "mama_st_0123456789abcdef0123456789abcdef", "hint": "mama_st_0123…"}),
    );
    insta::assert_snapshot!(screen(&app));
    cmd(&mut app, Cmd::Back);
    assert!(
        !screen(&app).contains("0123456789abcdef"),
        "the token is gone once the popup closes"
    );
}

#[test]
fn events_screen() {
    let mut app = users_app(80, 24, sample_users(), 5);
    cmd(&mut app, Cmd::GoTo(Screen::Events));
    let query = app.events.query;
    reply(
        &mut app,
        Tag::Events { query },
        json!({
            "events": [
                {"id": "e2", "at": "2026-03-02T09:31:00Z", "actor_kind": "admin", "actor": "admin", "channel": "rpc",
                 "action": "users.bulk_update", "user_ids": ["김철수", "lee.young@example.com"], "target_count": 2,
                 "target_filter": null, "result": "ok", "error_code": null, "error_message": null, "client": "unix",
                 "request_id": "r2", "duration_ms": 12, "detail": null},
                {"id": "e1", "at": "2026-03-02T09:30:00Z", "actor_kind": "admin", "actor": "admin", "channel": "rpc",
                 "action": "auth.login", "user_ids": [], "target_count": 0, "target_filter": null, "result": "error",
                 "error_code": "login_failed", "error_message": "wrong", "client": "unix", "request_id": "r1",
                 "duration_ms": 80, "detail": null},
            ],
            "matching": 2, "offset": 0, "limit": 100
        }),
    );
    insta::assert_snapshot!(screen(&app));
    // With room, the result shows the error's code and message whole.
    update(&mut app, Action::Resize(140, 24));
    let wide = screen(&app);
    assert!(wide.contains("login_failed: wrong"), "{wide}");
    insta::assert_snapshot!("events_screen_140", wide);
}

#[test]
fn status_line_says_na_without_sync_status() {
    let mut app = users_app(80, 24, sample_users(), 5);
    let epoch = app.epoch;
    update(
        &mut app,
        Action::Reply(mama_tui::action::Reply {
            epoch,
            tag: Tag::SyncStatus,
            result: Err(mama_tui::client::ClientError::Api(mama_api::ApiError::new(
                mama_api::ErrorCode::MethodNotFound,
                "no such method",
            ))),
        }),
    );
    let text = screen(&app);
    assert!(text.contains("LiteLLM: n/a"), "{text}");
}

#[test]
fn bulk_organization_and_info() {
    let mut app = marked_app();
    cmd(&mut app, Cmd::BulkEdit);
    // models: add → remove → unchanged; then to the organization.
    cmd(&mut app, Cmd::NextChoice);
    cmd(&mut app, Cmd::NextChoice);
    for _ in 0..5 {
        cmd(&mut app, Cmd::NextField);
    }
    typed(&mut app, "연구소 2팀");
    cmd(&mut app, Cmd::NextField);
    typed(&mut app, "team=검색");
    update(&mut app, Action::Edit(Edit::Newline));
    typed(&mut app, "floor=3");
    cmd(&mut app, Cmd::NextField);
    typed(&mut app, "seat");
    let text = screen(&app);
    assert!(
        text.contains("◂ set to ▸"),
        "typing an organization sets it"
    );
    insta::assert_snapshot!("bulk_organization_and_info_dialog", text);
    cmd(&mut app, Cmd::Save);
    reply(
        &mut app,
        Tag::BulkPreview,
        json!([{"matched": 2, "changed": 2, "models_added": [], "models_removed": [],
                "services_added": [], "services_removed": [], "dry_run": true}]),
    );
    insta::assert_snapshot!("bulk_organization_and_info_preview", screen(&app));
    cmd(&mut app, Cmd::Yes);
    reply(
        &mut app,
        Tag::BulkApply,
        json!([{"matched": 2, "changed": 1, "models_added": [], "models_removed": [],
                "services_added": [], "services_removed": [], "dry_run": false}]),
    );
    insta::assert_snapshot!("bulk_organization_and_info_summary", screen(&app));
}

#[test]
fn sync_failures_summary() {
    let mut app = users_app(80, 24, sample_users(), 5);
    app.watching_sync = true;
    reply(
        &mut app,
        Tag::SyncStatus,
        json!({"configured": true, "litellm_reachable": true, "litellm_error": null,
               "queue_depth": 0, "users_pending": 0, "users_failed": 2, "last_reconcile_at": null}),
    );
    // The table is read again to show the synced keys.
    let query = app.users.query;
    reply_first_page(
        &mut app,
        json!({"users": sample_users(), "total": 5, "matching": 5, "offset": 0, "limit": 200}),
    );
    reply(
        &mut app,
        Tag::UsersCount { query },
        json!({"total": 5, "matching": 5}),
    );
    let mut park = user(
        "박영희",
        "연구소 본부",
        &["claude-3-5-sonnet"],
        &[],
        mama_api::types::KeyStatus::Failed,
    );
    park.key_error = Some("LiteLLM answered 400: model claude-9 not found".into());
    let mut bot = user(
        "ops-bot",
        "Ops",
        &[],
        &[],
        mama_api::types::KeyStatus::Failed,
    );
    bot.key_error = Some("LiteLLM unreachable: connection refused".into());
    reply(
        &mut app,
        Tag::SyncFailures,
        json!({"users": [park, bot], "total": 5, "matching": 2, "offset": 0, "limit": 8}),
    );
    insta::assert_snapshot!(screen(&app));
}

fn events_reply(app: &mut App) {
    let query = app.events.query;
    reply(
        app,
        Tag::Events { query },
        json!({
            "events": [
                {"id": "e3", "at": "2026-03-02T09:41:07Z", "actor_kind": "admin", "actor": "admin", "channel": "rpc",
                 "action": "users.delete", "user_ids": ["u00017"], "target_count": 1,
                 "target_filter": null, "result": "error", "error_code": "not_found",
                 "error_message": "no such user(s)", "client": "unix:uid=1000,pid=4242",
                 "request_id": "r3", "duration_ms": 3, "detail": null},
            ],
            "matching": 1, "offset": 0, "limit": 100
        }),
    );
}

#[test]
fn events_time_range_filter() {
    let mut app = users_app(80, 24, sample_users(), 5);
    cmd(&mut app, Cmd::GoTo(Screen::Events));
    cmd(&mut app, Cmd::Filter);
    typed(&mut app, "since:2026-03-02T09:30 until:15m");
    insta::assert_snapshot!("events_filter_typing", screen(&app));
    cmd(&mut app, Cmd::Open);
    events_reply(&mut app);
    let text = screen(&app);
    assert!(
        text.contains("2026-03-02 09:30 → 09:45 UTC · 1 events"),
        "{text}"
    );
    insta::assert_snapshot!("events_time_range_applied", text);
    cmd(&mut app, Cmd::Open);
    insta::assert_snapshot!("event_details", screen(&app));
}

#[test]
fn events_filter_with_a_bad_time() {
    let mut app = users_app(80, 24, sample_users(), 5);
    cmd(&mut app, Cmd::GoTo(Screen::Events));
    events_reply(&mut app);
    cmd(&mut app, Cmd::Filter);
    typed(&mut app, "actor:admin since:yesterday");
    cmd(&mut app, Cmd::Open);
    let text = screen(&app);
    assert!(text.contains("since:yesterday: not a time"), "{text}");
    insta::assert_snapshot!(text);
}

/// A tiny or oddly shaped terminal never crashes the TUI: every screen and the common dialogs
/// drawn at every height from 1 to 12 and a spread of widths (a panic at height 6 on the login
/// screen and 6–7 in the password popup was found this way).
#[test]
fn tiny_terminals_draw_without_panic() {
    type Build = fn() -> App;
    let builders: Vec<(&str, Build)> = vec![
        ("login", || App::new(SERVER.into(), true, 80, 24)),
        ("forced password", || {
            let mut app = App::new(SERVER.into(), true, 80, 24);
            reply(&mut app, Tag::Login, session(true));
            app
        }),
        ("users", || users_app(80, 24, sample_users(), 5)),
        ("password popup", || {
            let mut app = users_app(80, 24, sample_users(), 5);
            app.popups
                .push(mama_tui::popup::Popup::Password(Default::default()));
            app
        }),
        ("edit dialog", || {
            let mut app = users_app(80, 24, sample_users(), 5);
            cmd(&mut app, Cmd::Open);
            app
        }),
        ("bulk dialog", || {
            let mut app = marked_app();
            cmd(&mut app, Cmd::BulkEdit);
            app
        }),
        ("help", || {
            let mut app = users_app(80, 24, sample_users(), 5);
            cmd(&mut app, Cmd::Help);
            app
        }),
        ("palette", || {
            let mut app = users_app(80, 24, sample_users(), 5);
            cmd(&mut app, Cmd::Palette);
            app
        }),
    ];
    for (name, build) in builders {
        for height in 1..=12 {
            for width in [1, 2, 5, 10, 20, 30, 45, 80] {
                let mut app = build();
                update(&mut app, Action::Resize(width, height));
                let drawn = std::panic::catch_unwind(|| screen(&app));
                assert!(drawn.is_ok(), "{name} panics at {width}×{height}");
            }
        }
    }
}

#[test]
fn users_table_120_with_spend_gauges() {
    let app = users_app(120, 24, sample_users(), 5);
    let text = screen(&app);
    assert!(text.contains("▇▇▁▁ 4.20"), "{text}");
    insta::assert_snapshot!(text);
}

/// The 30-day spend, requests and last use: from 100 columns the spend, from 120 the last use,
/// from 180 the requests; the words and numbers carry it all without colour.
#[test]
fn users_table_200_with_30_day_usage_without_colour() {
    let narrow = screen(&users_app(80, 24, sample_users(), 5));
    assert!(
        !narrow.contains("30d $") && !narrow.contains("used"),
        "{narrow}"
    );
    let mut app = users_app(200, 24, sample_users(), 5);
    app.color = false;
    let text = screen(&app);
    let header = text.lines().nth(1).unwrap_or_default();
    let columns = ["30d $", "30d req", "used", "limits"].map(|h| cells_before(header, h));
    for (id, want) in [
        ("김철수", ["12.40", "1.2k", "3d ago"]),
        ("lee.young", ["48.75", "312", "today"]),
        ("박영희", ["0.00", "0", "2026-01-15"]),
        ("ops-bot", ["0.00", "0", "never"]),
        ("u00017", ["0.35", "7", "1d ago"]),
    ] {
        let row = text.lines().find(|l| l.contains(id)).unwrap_or_default();
        let got: Vec<String> = columns
            .windows(2)
            .map(|w| cells_between(row, w[0], w[1]))
            .collect();
        assert_eq!(got, want, "{id}: {row}");
    }
    insta::assert_snapshot!(text);
}

/// Display cells before `heading` on `line`.
fn cells_before(line: &str, heading: &str) -> usize {
    let at = line
        .find(heading)
        .unwrap_or_else(|| panic!("{heading} not in {line:?}"));
    unicode_width::UnicodeWidthStr::width(&line[..at])
}

/// The text of `line` between display cells `from` and `to`, trimmed.
fn cells_between(line: &str, from: usize, to: usize) -> String {
    let mut at = 0;
    let mut text = String::new();
    for c in line.chars() {
        if (from..to).contains(&at) {
            text.push(c);
        }
        at += unicode_width::UnicodeWidthChar::width(c).unwrap_or(0);
    }
    text.trim().to_string()
}

#[test]
fn keys_that_refuse_calls_read_so_without_colour() {
    let mut app = users_app(80, 24, sample_users(), 5);
    app.color = false;
    let text = screen(&app);
    for (id, status) in [
        ("박영희", "✗ suspended"),
        ("lee.young", "✗ over budget"),
        ("u00017", "✗ expired"),
    ] {
        let row = text.lines().find(|l| l.contains(id)).unwrap_or_default();
        assert!(row.contains(status), "{id}: {row}");
    }
    let row = text
        .lines()
        .find(|l| l.contains("u00017"))
        .unwrap_or_default();
    assert!(
        row.contains("2026-03-01!"),
        "a past expiry is marked: {row}"
    );
    let row = text
        .lines()
        .find(|l| l.contains("김철수"))
        .unwrap_or_default();
    assert!(!row.contains('✗') && row.contains("active"), "{row}");
}

#[test]
fn edit_dialog_with_limits_and_a_bad_budget() {
    let mut app = users_app(80, 24, sample_users(), 5);
    cmd(&mut app, Cmd::Open);
    for _ in 0..3 {
        cmd(&mut app, Cmd::NextField);
    }
    update(&mut app, Action::Edit(Edit::ClearLine));
    update(&mut app, Action::Edit(Edit::End));
    update(&mut app, Action::Edit(Edit::ClearLine));
    typed(&mut app, "-5");
    cmd(&mut app, Cmd::Save);
    let text = screen(&app);
    assert!(text.contains("inherit (org: 90d)"), "{text}");
    insta::assert_snapshot!(text);
}

#[test]
fn edit_dialog_of_a_suspended_user() {
    let mut app = users_app(100, 24, sample_users(), 5);
    cmd(&mut app, Cmd::Down);
    cmd(&mut app, Cmd::Open);
    let text = screen(&app);
    assert!(
        text.contains("✗ suspended by admin, 2026-03-02 08:15"),
        "{text}"
    );
    insta::assert_snapshot!(text);
}

#[test]
fn suspend_prompt() {
    let mut app = users_app(80, 24, sample_users(), 5);
    cmd(&mut app, Cmd::SuspendResume);
    typed(&mut app, "laptop stolen");
    insta::assert_snapshot!(screen(&app));
}

#[test]
fn bulk_limits_preview_with_samples() {
    let mut app = marked_app();
    cmd(&mut app, Cmd::BulkEdit);
    for _ in 0..8 {
        cmd(&mut app, Cmd::NextField);
    }
    typed(&mut app, "0");
    insta::assert_snapshot!("bulk_limits_dialog", screen(&app));
    cmd(&mut app, Cmd::Save);
    reply(
        &mut app,
        Tag::BulkPreview,
        json!([{
            "matched": 2, "changed": 2, "models_added": [], "models_removed": [],
            "services_added": [], "services_removed": [], "limits_changed": 2,
            "suspended": 0, "resumed": 0, "dry_run": true,
            "samples": [
                {"id": "김철수", "changes": [
                    {"field": "max_budget", "before": "$10.00/30d", "after": "$0.00/30d"}]},
                {"id": "박영희", "changes": [
                    {"field": "max_budget", "before": "none", "after": "$0.00"}]}
            ]
        }]),
    );
    let text = screen(&app);
    assert!(text.contains("$10.00/30d → $0.00/30d"), "{text}");
    insta::assert_snapshot!("bulk_limits_preview", text);
    cmd(&mut app, Cmd::Yes);
    reply(
        &mut app,
        Tag::BulkApply,
        json!([{
            "matched": 2, "changed": 2, "models_added": [], "models_removed": [],
            "services_added": [], "services_removed": [], "limits_changed": 2,
            "suspended": 0, "resumed": 0, "dry_run": false, "samples": []
        }]),
    );
    insta::assert_snapshot!("bulk_limits_summary", screen(&app));
}

#[test]
fn organizations_screen() {
    let app = organizations_app(80, 24);
    insta::assert_snapshot!(screen(&app));
}

#[test]
fn organization_defaults_form_and_preview() {
    let mut app = organizations_app(80, 24);
    cmd(&mut app, Cmd::Down);
    cmd(&mut app, Cmd::Open);
    update(&mut app, Action::Edit(Edit::End));
    update(&mut app, Action::Edit(Edit::ClearLine));
    typed(&mut app, "25");
    cmd(&mut app, Cmd::NextField);
    cmd(&mut app, Cmd::NextField);
    update(&mut app, Action::Edit(Edit::End));
    update(&mut app, Action::Edit(Edit::ClearLine));
    insta::assert_snapshot!("organization_defaults_form", screen(&app));
    cmd(&mut app, Cmd::Save);
    reply(
        &mut app,
        Tag::OrgDefaultsPreview,
        json!({
            "name": "Research",
            "defaults": {"max_budget": 25.0, "budget_period": "30d", "tpm_limit": null,
                         "rpm_limit": 60, "expires_at": null, "rotation_every": "90d"},
            "users_changed": 10, "users_unaffected": 2, "dry_run": true
        }),
    );
    insta::assert_snapshot!("organization_defaults_preview", screen(&app));
}

const LONG_SOCKET: &str =
    "unix:/very/long/path/to/the/deployment/of/mama/under/var/run/mama-daemon/admin.sock";

/// A failed login because the daemon is unreachable at a long socket path.
fn unreachable_daemon(app: &mut App) {
    let epoch = app.epoch;
    update(
        app,
        Action::Reply(mama_tui::action::Reply {
            epoch,
            tag: Tag::Login,
            result: Err(mama_tui::client::ClientError::Connect(format!(
                "{LONG_SOCKET} (connection refused)"
            ))),
        }),
    );
}

#[test]
fn login_error_wraps_in_its_box_at_80x24() {
    let mut app = App::new(LONG_SOCKET.into(), true, 80, 24);
    unreachable_daemon(&mut app);
    let text = screen(&app);
    // Every word of the error and of the server is on screen, nothing cut with `…`.
    for word in [
        "cannot",
        "admin.sock",
        "(connection",
        "refused)",
        "mama-daemon/admin.sock",
    ] {
        assert!(
            text.contains(word),
            "{word:?} not on the login screen:\n{text}"
        );
    }
    assert!(!text.contains('…'), "{text}");
    insta::assert_snapshot!(text);
}

#[test]
fn a_long_status_message_is_cut_and_bang_shows_it_in_full() {
    let mut app = users_app(80, 24, sample_users(), 5);
    let message = format!("cannot reach the daemon: {LONG_SOCKET} (connection refused)");
    app.error(message.clone());
    let text = screen(&app);
    assert!(text.contains("… ! more"), "{text}");
    insta::assert_snapshot!("long_status_message_80", text);
    update(&mut app, Action::Cmd(Cmd::ShowMessage));
    let popup = screen(&app);
    // The popup's lines, read one after the other, hold the whole message.
    let inside: String = popup
        .lines()
        .filter_map(|l| l.split('│').nth(1))
        .collect::<String>()
        .replace(' ', "");
    assert!(inside.contains(&message.replace(' ', "")), "{popup}");
    insta::assert_snapshot!("long_status_message_popup_80", popup);
    cmd(&mut app, Cmd::Back);
    assert!(app.popups.is_empty());
}

#[test]
fn the_screen_tabs_stay_at_80_columns_as_numbers_with_the_current_one_highlighted() {
    let mut app = users_app(80, 24, sample_users(), 5);
    app.users.marks.insert("김철수".into());
    let text = screen(&app);
    let title = text.lines().next().unwrap_or_default();
    assert!(title.ends_with(" 1 2 3 4 5 6 7 8"), "{title:?}");
    assert!(title.contains("marked 1"), "{title:?}");
    insta::assert_snapshot!("title_tabs_80", title);
    // The current screen's number is drawn reversed; the others are not.
    let terminal = render(&app);
    let buffer = terminal.backend().buffer();
    let x = |digit: &str| {
        (0..80u16)
            .rev()
            .find(|&x| buffer[(x, 0)].symbol() == digit)
            .unwrap_or_default()
    };
    let reversed = |x| {
        buffer[(x, 0u16)]
            .modifier
            .contains(ratatui::style::Modifier::REVERSED)
    };
    assert!(reversed(x("1")), "{title:?}");
    assert!(!reversed(x("2")), "{title:?}");
    // Wide enough, the tabs have their names.
    let wide = users_app(140, 24, sample_users(), 5);
    let title = screen(&wide).lines().next().unwrap_or_default().to_string();
    assert!(title.contains("1 users 2 models"), "{title:?}");
}
