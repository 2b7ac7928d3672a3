//! Whole flows through `update`: actions and canned daemon answers in, model and effects out.
//! No terminal and no daemon; the runtime would perform the effects the same way.

mod common;

use chrono::Duration;
use common::*;
use mama_api::types::{KeyStatus, UserColumn};
use mama_api::{ApiError, ErrorCode};
use mama_tui::action::{Action, Cmd, Reply, Screen, Tag};
use mama_tui::app::{App, SyncState};
use mama_tui::client::ClientError;
use mama_tui::effect::Effect;
use mama_tui::update::{update, ID_CHUNK};
use mama_tui::users::RowsAt;
use serde_json::json;

fn fail(app: &mut App, tag: Tag, code: ErrorCode) -> Vec<Effect> {
    let epoch = app.epoch;
    update(
        app,
        Action::Reply(Reply {
            epoch,
            tag,
            result: Err(ClientError::Api(ApiError::new(code, "x"))),
        }),
    )
}

fn many(n: usize) -> Vec<mama_api::types::UserView> {
    (0..n)
        .map(|i| user(&format!("u{i:06}"), "Org", &[], &[], KeyStatus::Active))
        .collect()
}

#[test]
fn login_then_users_are_fetched() {
    let mut app = App::new(SERVER.into(), true, 80, 24);
    typed(&mut app, "secret");
    let effects = cmd(&mut app, Cmd::Open);
    assert_eq!(methods(&effects), vec!["auth.login"]);
    let effects = reply(&mut app, Tag::Login, session(false));
    assert_eq!(app.screen, Screen::Users);
    assert_eq!(methods(&effects), vec!["users.list", "users.count"]);
    assert!(
        app.login.password.is_empty(),
        "the password is not kept after login"
    );
}

#[test]
fn wrong_password_stays_on_login_with_a_message() {
    let mut app = App::new(SERVER.into(), true, 80, 24);
    typed(&mut app, "nope");
    cmd(&mut app, Cmd::Open);
    fail(&mut app, Tag::Login, ErrorCode::LoginFailed);
    assert_eq!(app.screen, Screen::Login);
    assert_eq!(
        app.login.message.as_deref(),
        Some("Wrong username or password.")
    );
}

#[test]
fn forced_password_change_then_users() {
    let mut app = App::new(SERVER.into(), true, 80, 24);
    reply(&mut app, Tag::Login, session(true));
    assert_eq!(app.screen, Screen::ForcePassword);
    typed(&mut app, "admin");
    cmd(&mut app, Cmd::Open);
    typed(&mut app, "a-long-password");
    cmd(&mut app, Cmd::Open);
    typed(&mut app, "a-long-password");
    let effects = cmd(&mut app, Cmd::Open);
    assert_eq!(methods(&effects), vec!["auth.change_password"]);
    let effects = reply(&mut app, Tag::ChangePassword, session(false));
    assert_eq!(app.screen, Screen::Users);
    assert_eq!(methods(&effects), vec!["users.list", "users.count"]);
}

#[test]
fn any_call_needing_a_password_change_goes_to_the_forced_screen() {
    let mut app = users_app(80, 24, sample_users(), 5);
    fail(&mut app, Tag::Admins, ErrorCode::PasswordChangeRequired);
    assert_eq!(app.screen, Screen::ForcePassword);
}

#[test]
fn session_expiry_returns_to_login_and_forgets_everything() {
    for code in [
        ErrorCode::SessionExpired,
        ErrorCode::SessionRevoked,
        ErrorCode::Unauthenticated,
    ] {
        let mut app = users_app(80, 24, sample_users(), 5);
        cmd(&mut app, Cmd::ToggleMark);
        cmd(&mut app, Cmd::Open);
        let query = app.users.query;
        fail(
            &mut app,
            Tag::UsersPage {
                query,
                at: RowsAt::Start(200),
            },
            code,
        );
        assert_eq!(app.screen, Screen::Login);
        assert!(app.session.is_none());
        assert!(
            app.users.marks.is_empty() && app.users.loaded_rows() == 0 && app.popups.is_empty()
        );
        assert!(app.login.message.is_some());
        // A late answer from the old session is dropped.
        reply(
            &mut app,
            Tag::UsersPage {
                query,
                at: RowsAt::Start(0),
            },
            json!({"users": sample_users(), "total": 5, "matching": 5, "offset": 0, "limit": 200}),
        );
        assert_eq!(app.users.loaded_rows(), 0);
    }
}

#[test]
fn session_is_refreshed_before_it_expires() {
    let mut app = users_app(80, 24, sample_users(), 5);
    let expires = app
        .session
        .as_ref()
        .map(|s| s.expires_at)
        .unwrap_or_default();
    let effects = update(&mut app, Action::Tick(expires - Duration::minutes(12)));
    assert!(!methods(&effects).contains(&"auth.refresh"));
    let effects = update(&mut app, Action::Tick(expires - Duration::minutes(4)));
    assert!(methods(&effects).contains(&"auth.refresh"));
    let effects = update(&mut app, Action::Tick(expires - Duration::minutes(4)));
    assert!(
        !methods(&effects).contains(&"auth.refresh"),
        "one refresh at a time"
    );
    let mut renewed = session(false);
    renewed["token"] = json!("tok-2");
    renewed["expires_at"] = json!("2026-03-02T10:30:00Z");
    reply(&mut app, Tag::Refresh, renewed);
    assert_eq!(app.token().as_deref(), Some("tok-2"));
}

#[test]
fn sync_status_not_available_stops_polling() {
    let mut app = users_app(80, 24, sample_users(), 5);
    fail(&mut app, Tag::SyncStatus, ErrorCode::MethodNotFound);
    assert_eq!(app.sync, SyncState::NotAvailable);
    let later = app.now + Duration::seconds(30);
    let effects = update(&mut app, Action::Tick(later));
    assert!(!methods(&effects).contains(&"sync.status"));
}

#[test]
fn scrolling_100k_users_fetches_only_pages_near_the_viewport() {
    let mut app = users_app(80, 24, many(200), 100_000);
    app.users.store_counts(100_000, 100_000);
    let effects = cmd(&mut app, Cmd::Bottom);
    let pages: Vec<(RowsAt, serde_json::Value)> = effects
        .iter()
        .filter_map(|e| match e {
            Effect::Call {
                tag: Tag::UsersPage { at, .. },
                params,
                ..
            } => Some((*at, params.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(pages.len(), 1, "{pages:?}");
    assert_eq!(pages[0].0, RowsAt::Last);
    assert_eq!(
        (
            &pages[0].1["sort"]["descending"],
            &pages[0].1["page"]["offset"]
        ),
        (&json!(true), &json!(0)),
        "the last page is the first page of the reversed sort"
    );
    assert_eq!(app.users.selected, 99_999);
    let effects = cmd(&mut app, Cmd::Top);
    assert!(methods(&effects).is_empty() || methods(&effects) == vec!["users.list"]);
    for _ in 0..30 {
        cmd(&mut app, Cmd::PageDown);
    }
    assert_eq!(app.users.selected, 30 * app.table_rows());
}

#[test]
fn paging_down_asks_for_the_rows_after_the_last_one_by_cursor() {
    let mut app = users_app(80, 24, many(200), 100_000);
    app.users.store_counts(100_000, 100_000);
    let mut asked = Vec::new();
    for _ in 0..10 {
        asked.extend(cmd(&mut app, Cmd::PageDown));
    }
    let params: Vec<_> = asked
        .iter()
        .filter_map(|e| match e {
            Effect::Call {
                method: "users.list",
                params,
                ..
            } => Some(params.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(params.len(), 1, "{params:?}");
    assert_eq!(params[0]["page"]["offset"], json!(0));
    assert!(params[0]["cursor"]["after"].is_string(), "{params:?}");
    assert_eq!(params[0]["counts"], json!(false));
}

#[test]
fn typing_a_filter_asks_at_once_then_coalesces_keystrokes() {
    let mut app = users_app(80, 24, sample_users(), 5);
    cmd(&mut app, Cmd::Filter);
    let first = update(&mut app, Action::Edit(mama_tui::text::Edit::Insert('김')));
    assert_eq!(
        methods(&first),
        vec!["users.list", "users.count"],
        "the first keystroke asks at once"
    );
    // While that query is out, further keystrokes send nothing...
    let mut later = Vec::new();
    for c in "철수".chars() {
        later.extend(update(
            &mut app,
            Action::Edit(mama_tui::text::Edit::Insert(c)),
        ));
    }
    let now = app.now;
    later.extend(update(&mut app, Action::Tick(now)));
    assert!(!methods(&later).contains(&"users.list"), "{later:?}");
    // ...until it answers: then one query with everything typed meanwhile.
    let effects = reply_first_page(
        &mut app,
        json!({
            "users": [], "total": 5, "matching": 0, "offset": 0, "limit": 200
        }),
    );
    let params: Vec<_> = effects
        .iter()
        .filter_map(|e| match e {
            Effect::Call {
                method: "users.list",
                params,
                ..
            } => Some(params.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(params.len(), 1);
    assert_eq!(params[0]["filter"]["text"], json!("김철수"));
}

#[test]
fn marks_survive_sorting_filtering_and_scrolling() {
    let mut app = users_app(80, 24, sample_users(), 5);
    cmd(&mut app, Cmd::ToggleMark);
    cmd(&mut app, Cmd::ToggleMark);
    let effects = cmd(&mut app, Cmd::Sort(UserColumn::Organization));
    assert_eq!(methods(&effects), vec!["users.list", "users.count"]);
    cmd(&mut app, Cmd::Filter);
    typed(&mut app, "lee");
    cmd(&mut app, Cmd::Open);
    cmd(&mut app, Cmd::PageDown);
    assert_eq!(
        app.users.marks.iter().cloned().collect::<Vec<_>>(),
        vec!["김철수".to_string(), "박영희".to_string()]
    );
    cmd(&mut app, Cmd::Back);
    assert!(app.users.marks.is_empty(), "esc clears marks first");
}

#[test]
fn sorting_again_reverses() {
    let mut app = users_app(80, 24, sample_users(), 5);
    cmd(&mut app, Cmd::Sort(UserColumn::KeyStatus));
    assert!(!app.users.sort.descending);
    let effects = cmd(&mut app, Cmd::Sort(UserColumn::KeyStatus));
    assert!(app.users.sort.descending);
    let Some(Effect::Call { params, .. }) = effects.first() else {
        panic!("no call")
    };
    assert_eq!(
        params["sort"],
        json!({"column": "key_status", "descending": true})
    );
}

#[test]
fn mark_all_collects_ids_and_big_marks_go_by_filter() {
    let mut app = users_app(80, 24, sample_users(), 5);
    let effects = cmd(&mut app, Cmd::MarkAll);
    let Some(Effect::CollectIds { tag, .. }) = effects.first() else {
        panic!("{effects:?}")
    };
    let ids: Vec<String> = (0..3 * ID_CHUNK).map(|i| format!("u{i}")).collect();
    reply(&mut app, tag.clone(), json!(ids));
    assert_eq!(app.users.marks.len(), 3 * ID_CHUNK);
    assert!(app.users.marks_filter.is_some());
    let targets = mama_tui::update::bulk_targets(&app);
    assert_eq!(targets.len(), 1);
    assert!(targets[0].filter.is_some() && targets[0].ids.is_none());
    // Touching one mark makes them plain ids again, all in one call: one transaction, one event.
    app.users.toggle_mark("u0");
    let targets = mama_tui::update::bulk_targets(&app);
    assert_eq!(targets.len(), 1);
    assert_eq!(
        targets[0].ids.as_ref().map(Vec::len),
        Some(3 * ID_CHUNK - 1)
    );
}

#[test]
fn bulk_edit_previews_then_applies_after_yes() {
    let mut app = users_app(80, 24, sample_users(), 5);
    cmd(&mut app, Cmd::ToggleMark);
    cmd(&mut app, Cmd::BulkEdit);
    let effects = cmd(&mut app, Cmd::Save);
    assert!(
        effects.is_empty(),
        "add with no model picked is refused locally"
    );
    app.popups.iter_mut().for_each(|p| {
        if let mama_tui::popup::Popup::Bulk(d) = p {
            d.models.insert("gpt-5".into());
        }
    });
    let effects = cmd(&mut app, Cmd::Save);
    let Some(Effect::Batch { method, params, .. }) = effects.first() else {
        panic!("{effects:?}")
    };
    assert_eq!(*method, "users.bulk_update");
    assert_eq!(params[0]["dry_run"], json!(true));
    assert_eq!(
        params[0]["models"],
        json!({"op": "add", "values": ["gpt-5"]})
    );
    reply(
        &mut app,
        Tag::BulkPreview,
        json!([{"matched": 1, "changed": 1, "models_added": ["gpt-5"], "models_removed": [], "services_added": [], "services_removed": [], "dry_run": true}]),
    );
    let effects = cmd(&mut app, Cmd::Yes);
    let Some(Effect::Batch { params, .. }) = effects.first() else {
        panic!("{effects:?}")
    };
    assert!(
        params[0].get("dry_run").is_none(),
        "the real call is not a dry run"
    );
    let effects = reply(
        &mut app,
        Tag::BulkApply,
        json!([{"matched": 1, "changed": 1, "models_added": ["gpt-5"], "models_removed": [], "services_added": [], "services_removed": [], "dry_run": false}]),
    );
    assert!(app.watching_sync);
    assert!(
        methods(&effects).contains(&"users.list"),
        "fresh rows after the change"
    );
}

#[test]
fn delete_only_after_confirm() {
    let mut app = users_app(80, 24, sample_users(), 5);
    cmd(&mut app, Cmd::ToggleMark);
    let effects = cmd(&mut app, Cmd::DeleteMarked);
    assert!(effects.is_empty());
    cmd(&mut app, Cmd::No);
    assert!(app.popups.is_empty());
    cmd(&mut app, Cmd::DeleteMarked);
    let effects = cmd(&mut app, Cmd::Yes);
    let Some(Effect::Batch { method, params, .. }) = effects.first() else {
        panic!("{effects:?}")
    };
    assert_eq!(*method, "users.delete");
    assert_eq!(params[0], json!({"ids": ["김철수"]}));
    reply(&mut app, Tag::DeleteUsers, json!([{"deleted": 1}]));
    assert!(app.users.marks.is_empty());
}

#[test]
fn edit_sends_only_changes_with_the_version() {
    let mut app = users_app(80, 24, sample_users(), 5);
    cmd(&mut app, Cmd::Open);
    typed(&mut app, " 본부");
    let effects = cmd(&mut app, Cmd::Save);
    let Some(Effect::Call { method, params, .. }) = effects.first() else {
        panic!("{effects:?}")
    };
    assert_eq!(*method, "users.update");
    assert_eq!(
        params,
        &json!({"id": "김철수", "version": 3, "organization": "연구소 본부"})
    );
}

#[test]
fn create_rows_parse_with_header_and_hangul() {
    let (users, lines) = match mama_tui::update::parse_rows(
        "id,organization,models,services\n김철수,연구소,gpt-4o;claude,chat\n\nlee,Sales,,",
        chrono::Utc::now(),
    ) {
        Ok(parsed) => parsed,
        Err(e) => panic!("{e:?}"),
    };
    assert_eq!(users.len(), 2);
    assert_eq!(users[0].models, vec!["gpt-4o", "claude"]);
    assert_eq!(lines, vec![1, 3]);
}

#[test]
fn palette_commands() {
    let mut app = users_app(80, 24, sample_users(), 5);
    cmd(&mut app, Cmd::Palette);
    typed(&mut app, "models");
    let effects = cmd(&mut app, Cmd::Open);
    assert_eq!(app.screen, Screen::Models);
    assert_eq!(methods(&effects), vec!["models.list"]);
    cmd(&mut app, Cmd::Palette);
    typed(&mut app, "export /tmp/x.csv");
    let effects = cmd(&mut app, Cmd::Open);
    assert!(effects.iter().any(|e| matches!(e, Effect::Export { .. })));
    cmd(&mut app, Cmd::Palette);
    typed(&mut app, "q");
    cmd(&mut app, Cmd::Open);
    assert!(app.quit);
}

#[test]
fn models_not_available_on_the_daemon_is_a_message_not_a_crash() {
    let mut app = users_app(80, 24, sample_users(), 5);
    cmd(&mut app, Cmd::GoTo(Screen::Models));
    fail(&mut app, Tag::Models, ErrorCode::MethodNotFound);
    assert!(app.models.loaded);
    assert!(app
        .message
        .as_ref()
        .is_some_and(|(_, m)| m.contains("models.list")));
}

#[test]
fn clicking_a_header_sorts_and_clicking_a_row_selects_it() {
    let mut app = users_app(80, 24, sample_users(), 5);
    // The organization header starts after the mark and the id column.
    let header = mama_tui::ui::table::HEADER_Y;
    let x = (0..80).find(|&x| {
        mama_tui::ui::screens::users::column_at(&app, x) == Some(UserColumn::Organization)
    });
    let Some(x) = x else {
        panic!("no organization column")
    };
    let effects = update(&mut app, Action::Click { x, y: header });
    assert_eq!(app.users.sort.column, UserColumn::Organization);
    assert_eq!(methods(&effects), vec!["users.list", "users.count"]);
    reply_first_page(
        &mut app,
        json!({"users": sample_users(), "total": 5, "matching": 5, "offset": 0, "limit": 200}),
    );
    update(
        &mut app,
        Action::Click {
            x: 3,
            y: header + 3,
        },
    );
    assert_eq!(app.users.selected, 2);
}

#[test]
fn rotate_keys_behind_a_confirm_and_missing_method_is_explained() {
    let mut app = users_app(80, 24, sample_users(), 5);
    cmd(&mut app, Cmd::RotateMarked);
    let effects = cmd(&mut app, Cmd::Yes);
    assert_eq!(methods(&effects), vec!["users.rotate_keys"]);
    fail(&mut app, Tag::RotateKeys, ErrorCode::MethodNotFound);
    assert!(app
        .message
        .as_ref()
        .is_some_and(|(_, m)| m.contains("rotate")));
    assert_eq!(app.screen, Screen::Users);
}

#[test]
fn admins_and_services_are_created_and_deleted_through_forms_and_confirms() {
    let mut app = users_app(80, 24, sample_users(), 5);
    cmd(&mut app, Cmd::GoTo(Screen::Admins));
    cmd(&mut app, Cmd::New);
    typed(&mut app, "운영자");
    cmd(&mut app, Cmd::NextField);
    typed(&mut app, "a-long-password");
    cmd(&mut app, Cmd::NextField);
    cmd(&mut app, Cmd::NextChoice);
    let effects = cmd(&mut app, Cmd::Save);
    let Some(Effect::Call { params, .. }) = effects.first() else {
        panic!("{effects:?}")
    };
    assert_eq!(
        params,
        &json!({"username": "운영자", "password": "a-long-password", "role": "super",
                "organizations": null})
    );
    let effects = reply(&mut app, Tag::CreateAdmin, json!({}));
    assert!(app.popups.is_empty());
    assert_eq!(methods(&effects), vec!["admins.list"]);

    cmd(&mut app, Cmd::GoTo(Screen::Services));
    cmd(&mut app, Cmd::New);
    typed(&mut app, "chat");
    let effects = cmd(&mut app, Cmd::Open);
    assert_eq!(methods(&effects), vec!["services.create"]);
    reply(&mut app, Tag::CreateService, json!({"name": "chat"}));
    assert!(app.popups.is_empty());
    reply(
        &mut app,
        Tag::Services,
        json!({"services": [{"name": "chat", "created_at": "2026-03-01T08:00:00Z", "users": 0,
        "tokens": [{"id": "t1", "hint": "mama_st_ab…", "created_at": "2026-03-01T08:00:00Z", "revoked_at": null}]}]}),
    );
    cmd(&mut app, Cmd::Down);
    cmd(&mut app, Cmd::Remove);
    let effects = cmd(&mut app, Cmd::Yes);
    let Some(Effect::Call { method, params, .. }) = effects.first() else {
        panic!("{effects:?}")
    };
    assert_eq!(
        (*method, params),
        ("services.revoke_token", &json!({"id": "t1"}))
    );
}

/// Only existing services can be granted: the picker marks a held or typed name that is no
/// service as unavailable, so the operator sees it before the daemon refuses it.
#[test]
fn the_services_picker_marks_names_that_are_no_service() {
    let mut app = users_app(80, 24, sample_users(), 5);
    reply(
        &mut app,
        Tag::ServiceNames,
        json!({"services": [{"name": "billing", "created_at": "2026-03-01T08:00:00Z", "users": 1, "tokens": []}]}),
    );
    cmd(&mut app, Cmd::Open);
    cmd(&mut app, Cmd::NextField);
    cmd(&mut app, Cmd::NextField);
    cmd(&mut app, Cmd::Open);
    typed(&mut app, "ghost");
    // Space adds the typed name and keeps the picker open.
    cmd(&mut app, Cmd::Toggle);
    let Some(mama_tui::popup::Popup::Picker(picker)) = app.popups.last() else {
        panic!("the services picker: {:?}", app.popups)
    };
    assert_eq!(
        picker.options,
        vec![
            ("billing".to_string(), true),
            ("chat".to_string(), false),
            ("ghost".to_string(), false),
        ]
    );
}

#[test]
fn deleting_a_service_says_how_many_users_lose_it_before_and_after() {
    let mut app = users_app(80, 24, sample_users(), 5);
    cmd(&mut app, Cmd::GoTo(Screen::Services));
    reply(
        &mut app,
        Tag::Services,
        json!({"services": [{"name": "chat", "created_at": "2026-03-01T08:00:00Z", "users": 3, "tokens": []}]}),
    );
    cmd(&mut app, Cmd::Remove);
    let Some(mama_tui::popup::Popup::Confirm(confirm)) = app.popups.last() else {
        panic!("a confirm first: {:?}", app.popups)
    };
    assert!(
        confirm
            .lines
            .iter()
            .any(|l| l.contains("3 users allow it and will lose it")),
        "{:?}",
        confirm.lines
    );
    let effects = cmd(&mut app, Cmd::Yes);
    let Some(Effect::Call { method, params, .. }) = effects.first() else {
        panic!("{effects:?}")
    };
    assert_eq!(
        (*method, params),
        ("services.delete", &json!({"name": "chat"}))
    );
    let effects = reply(&mut app, Tag::DeleteService, json!({"grants_removed": 3}));
    assert_eq!(
        app.message.as_ref().map(|(_, text)| text.as_str()),
        Some("Service deleted; removed from 3 users.")
    );
    assert_eq!(methods(&effects), vec!["services.list"]);
}

#[test]
fn events_filter_and_paging() {
    let mut app = users_app(80, 24, sample_users(), 5);
    cmd(&mut app, Cmd::GoTo(Screen::Events));
    cmd(&mut app, Cmd::Filter);
    typed(&mut app, "actor:admin result:error users.");
    let effects = cmd(&mut app, Cmd::Open);
    let Some(Effect::Call { params, .. }) = effects.first() else {
        panic!("{effects:?}")
    };
    assert_eq!(
        params["filter"],
        json!({"actor": "admin", "action": "users.", "result": "error"})
    );
    let query = app.events.query;
    reply(
        &mut app,
        Tag::Events { query },
        json!({"events": [], "matching": 250, "offset": 0, "limit": 100}),
    );
    let effects = cmd(&mut app, Cmd::PageDown);
    let Some(Effect::Call { params, .. }) = effects.first() else {
        panic!("{effects:?}")
    };
    assert_eq!(params["page"], json!({"offset": 100, "limit": 100}));
}

/// The params of the first call or batch among `effects`.
fn first_params(effects: &[Effect]) -> serde_json::Value {
    match effects.first() {
        Some(Effect::Call { params, .. }) => params.clone(),
        Some(Effect::Batch { params, .. }) => params[0].clone(),
        other => panic!("no call: {other:?}"),
    }
}

#[test]
fn events_time_range_is_sent_in_utc_and_ages_count_back_from_now() {
    let mut app = users_app(80, 24, sample_users(), 5);
    cmd(&mut app, Cmd::GoTo(Screen::Events));
    cmd(&mut app, Cmd::Filter);
    typed(
        &mut app,
        "since:2026-03-02T09:00 until:30m user:김철수 result:error",
    );
    let effects = cmd(&mut app, Cmd::Open);
    assert!(!app.events.filter_editing, "a good filter closes the bar");
    assert_eq!(
        first_params(&effects)["filter"],
        json!({
            "user_id": "김철수", "result": "error",
            "since": "2026-03-02T09:00:00Z", "until": "2026-03-02T09:30:00Z"
        })
    );
    // Reload later (within the idle logout's 30 minutes): the age is resolved again from the
    // new time.
    update(&mut app, Action::Tick(at(10, 20)));
    let effects = cmd(&mut app, Cmd::Reload);
    let params = effects
        .iter()
        .find_map(|e| match e {
            Effect::Call {
                method: "events.list",
                params,
                ..
            } => Some(params.clone()),
            _ => None,
        })
        .expect("events.list on reload");
    assert_eq!(params["filter"]["until"], json!("2026-03-02T09:50:00Z"));
}

#[test]
fn a_bad_time_keeps_the_events_filter_open_and_sends_nothing() {
    let mut app = users_app(80, 24, sample_users(), 5);
    cmd(&mut app, Cmd::GoTo(Screen::Events));
    cmd(&mut app, Cmd::Filter);
    typed(&mut app, "since:yesterday");
    let effects = cmd(&mut app, Cmd::Open);
    assert!(methods(&effects).is_empty(), "{effects:?}");
    assert!(app.events.filter_editing, "the bar stays open to fix it");
    let problem = app.events.filter_error.clone().unwrap_or_default();
    assert!(problem.contains("since:yesterday: not a time"), "{problem}");
    // Fixing it applies it.
    for _ in 0.."yesterday".len() {
        update(&mut app, Action::Edit(mama_tui::text::Edit::Backspace));
    }
    typed(&mut app, "2h");
    let effects = cmd(&mut app, Cmd::Open);
    assert_eq!(
        first_params(&effects)["filter"],
        json!({"since": "2026-03-02T08:00:00Z"})
    );
    assert!(app.events.filter_error.is_none());
    let effects = cmd(&mut app, Cmd::Filter);
    assert!(effects.is_empty());
    typed(&mut app, " until:3h");
    cmd(&mut app, Cmd::Open);
    let problem = app.events.filter_error.clone().unwrap_or_default();
    assert!(problem.contains("must be before"), "{problem}");
}

#[test]
fn enter_on_an_event_shows_all_it_recorded() {
    let mut app = users_app(80, 24, sample_users(), 5);
    cmd(&mut app, Cmd::GoTo(Screen::Events));
    let query = app.events.query;
    reply(
        &mut app,
        Tag::Events { query },
        json!({"events": [
            {"id": "e1", "at": "2026-03-02T09:30:00Z", "actor_kind": "anonymous", "actor": "admin",
             "channel": "rpc", "action": "auth.login", "user_ids": [], "target_count": 0,
             "target_filter": null, "result": "error", "error_code": "login_failed",
             "error_message": "wrong username or password", "client": "unix:uid=0,pid=7",
             "request_id": "r1", "duration_ms": 80, "detail": null}
        ], "matching": 1, "offset": 0, "limit": 100}),
    );
    cmd(&mut app, Cmd::Open);
    let text = screen(&app);
    assert!(
        text.contains("login_failed: wrong username or password"),
        "{text}"
    );
    assert!(text.contains("unix:uid=0,pid=7"), "{text}");
}

/// Opens the bulk dialog on two marked users and fills organization and info (models unchanged).
fn bulk_org_info_app() -> App {
    let mut app = users_app(80, 24, sample_users(), 5);
    cmd(&mut app, Cmd::ToggleMark);
    cmd(&mut app, Cmd::ToggleMark);
    cmd(&mut app, Cmd::BulkEdit);
    // models: add → remove → unchanged.
    cmd(&mut app, Cmd::NextChoice);
    cmd(&mut app, Cmd::NextChoice);
    for _ in 0..5 {
        cmd(&mut app, Cmd::NextField);
    }
    typed(&mut app, " 연구소 2팀 ");
    cmd(&mut app, Cmd::NextField);
    typed(&mut app, "team=검색");
    update(&mut app, Action::Edit(mama_tui::text::Edit::Newline));
    typed(&mut app, "floor = 3");
    cmd(&mut app, Cmd::NextField);
    typed(&mut app, "seat, old ,seat");
    app
}

#[test]
fn bulk_organization_and_info_are_previewed_then_applied() {
    let mut app = bulk_org_info_app();
    let effects = cmd(&mut app, Cmd::Save);
    let dry = first_params(&effects);
    assert_eq!(methods(&effects), vec!["users.bulk_update"]);
    assert_eq!(dry["dry_run"], json!(true));
    assert_eq!(dry["ids"], json!(["김철수", "박영희"]));
    assert_eq!(dry["organization"], json!("연구소 2팀"), "trimmed");
    assert_eq!(dry["info_set"], json!({"floor": "3", "team": "검색"}));
    assert_eq!(dry["info_unset"], json!(["seat", "old"]));
    assert!(dry.get("models").is_none() && dry.get("services").is_none());
    reply(
        &mut app,
        Tag::BulkPreview,
        json!([{"matched": 2, "changed": 2, "models_added": [], "models_removed": [],
                "services_added": [], "services_removed": [], "dry_run": true}]),
    );
    let text = screen(&app);
    assert!(text.contains("organization set to: 연구소 2팀"), "{text}");
    assert!(text.contains("info set: floor=3, team=검색"), "{text}");
    assert!(text.contains("info removed: seat, old"), "{text}");
    let effects = cmd(&mut app, Cmd::Yes);
    let applied = first_params(&effects);
    assert!(applied.get("dry_run").is_none());
    assert_eq!(applied["organization"], dry["organization"]);
    assert_eq!(applied["info_set"], dry["info_set"]);
    assert_eq!(applied["info_unset"], dry["info_unset"]);
    reply(
        &mut app,
        Tag::BulkApply,
        json!([{"matched": 2, "changed": 2, "models_added": [], "models_removed": [],
                "services_added": [], "services_removed": [], "dry_run": false}]),
    );
    let text = screen(&app);
    assert!(text.contains("Changed 2 of 2 selected users."), "{text}");
    assert!(text.contains("organization set to: 연구소 2팀"), "{text}");
    assert!(app.pending_bulk.is_empty());
}

#[test]
fn bulk_dialog_checks_organization_and_info_locally() {
    let mut app = bulk_org_info_app();
    typed(&mut app, ",floor");
    let effects = cmd(&mut app, Cmd::Save);
    assert!(effects.is_empty());
    let error = match app.popups.last() {
        Some(mama_tui::popup::Popup::Bulk(d)) => d.error.clone(),
        _ => None,
    };
    assert_eq!(
        error.as_deref(),
        Some("info key `floor` is both set and removed")
    );

    // An organization chosen but left empty clears it; info lines must be key=value.
    let mut app = users_app(80, 24, sample_users(), 5);
    cmd(&mut app, Cmd::ToggleMark);
    cmd(&mut app, Cmd::BulkEdit);
    cmd(&mut app, Cmd::PrevChoice);
    cmd(&mut app, Cmd::PrevChoice);
    for _ in 0..4 {
        cmd(&mut app, Cmd::NextField);
    }
    cmd(&mut app, Cmd::Toggle);
    let effects = cmd(&mut app, Cmd::Save);
    assert_eq!(first_params(&effects)["organization"], json!(""));
    let mut app = users_app(80, 24, sample_users(), 5);
    cmd(&mut app, Cmd::ToggleMark);
    cmd(&mut app, Cmd::BulkEdit);
    cmd(&mut app, Cmd::PrevChoice);
    cmd(&mut app, Cmd::PrevChoice);
    for _ in 0..6 {
        cmd(&mut app, Cmd::NextField);
    }
    typed(&mut app, "no equals sign");
    assert!(cmd(&mut app, Cmd::Save).is_empty());
    let error = match app.popups.last() {
        Some(mama_tui::popup::Popup::Bulk(d)) => d.error.clone(),
        _ => None,
    };
    assert_eq!(
        error.as_deref(),
        Some("info to set: info line 1: expected key=value")
    );
}

#[test]
fn sync_failures_are_listed_with_reasons_once_a_change_has_synced() {
    let mut app = users_app(80, 24, sample_users(), 5);
    app.watching_sync = true;
    let effects = reply(
        &mut app,
        Tag::SyncStatus,
        json!({"configured": true, "litellm_reachable": true, "litellm_error": null,
               "queue_depth": 0, "users_pending": 0, "users_failed": 1, "last_reconcile_at": null}),
    );
    assert!(!app.watching_sync);
    let params = first_params(&effects);
    assert_eq!(params["filter"], json!({"key_status": "failed"}));
    let mut failed = user("박영희", "연구소 본부", &[], &[], KeyStatus::Failed);
    failed.key_error = Some("LiteLLM answered 400: model not found".into());
    reply(
        &mut app,
        Tag::SyncFailures,
        json!({"users": [failed], "total": 5, "matching": 1, "offset": 0, "limit": 8}),
    );
    let text = screen(&app);
    assert!(
        text.contains("박영희: LiteLLM answered 400: model not found"),
        "{text}"
    );
}

#[test]
fn a_new_filter_shows_its_page_before_its_count() {
    let mut app = users_app(100, 24, sample_users(), 5);
    cmd(&mut app, Cmd::Filter);
    let asked = update(&mut app, Action::Edit(mama_tui::text::Edit::Insert('k')));
    assert_eq!(methods(&asked), vec!["users.list", "users.count"]);
    let query = app.users.query;
    reply_first_page(
        &mut app,
        json!({"users": sample_users()[..2], "total": null, "matching": null, "offset": 0,
               "limit": 200, "start_cursor": "a", "end_cursor": "b"}),
    );
    let shown = screen(&app);
    assert!(shown.contains("counting… · marked 0 · rows 1–2"), "{shown}");
    assert!(shown.contains(&sample_users()[1].id), "{shown}");
    reply(
        &mut app,
        Tag::UsersCount { query },
        json!({"total": 5, "matching": 2}),
    );
    assert!(screen(&app).contains("total 5 · matching 2 · marked 0 · rows 1–2"));

    // A count that fails says so once and is not asked again until the next query.
    let asked = update(&mut app, Action::Edit(mama_tui::text::Edit::Insert('i')));
    assert_eq!(methods(&asked), vec!["users.list", "users.count"]);
    let query = app.users.query;
    fail(&mut app, Tag::UsersCount { query }, ErrorCode::Unavailable);
    let again = reply(
        &mut app,
        Tag::UsersPage {
            query,
            at: RowsAt::Start(0),
        },
        json!({"users": sample_users()[..1], "total": null, "matching": null, "offset": 0,
               "limit": 200, "start_cursor": "a", "end_cursor": "a"}),
    );
    assert!(!methods(&again).contains(&"users.count"));
    assert!(screen(&app).contains("count failed"));
}

#[test]
fn created_users_turn_active_on_screen_once_their_keys_are_synced() {
    let mut app = users_app(100, 24, sample_users(), 5);
    cmd(&mut app, Cmd::CreateUsers);
    typed(&mut app, "최신입,연구소,gpt-4o,");
    assert_eq!(methods(&cmd(&mut app, Cmd::Save)), vec!["users.create"]);
    let effects = reply(
        &mut app,
        Tag::CreateUsers,
        json!({"created": 1, "users": []}),
    );
    assert!(methods(&effects).contains(&"users.list"));
    let mut rows = sample_users();
    rows.push(user(
        "최신입",
        "연구소",
        &["gpt-4o"],
        &[],
        KeyStatus::Pending,
    ));
    reply_first_page(
        &mut app,
        json!({"users": rows, "total": 6, "matching": 6, "offset": 0, "limit": 100}),
    );
    let row = |app: &App| {
        screen(app)
            .lines()
            .find(|l| l.contains("최신입"))
            .map(str::to_string)
            .unwrap_or_default()
    };
    assert!(row(&app).contains("pending"), "{}", screen(&app));

    // The next status poll says the sync is done: the rows are read again and show it.
    let later = app.now + Duration::seconds(1);
    let effects = update(&mut app, Action::Tick(later));
    assert!(methods(&effects).contains(&"sync.status"));
    let effects = reply(
        &mut app,
        Tag::SyncStatus,
        json!({"configured": true, "litellm_reachable": true, "litellm_error": null,
               "queue_depth": 0, "users_pending": 0, "users_failed": 0, "last_reconcile_at": null}),
    );
    assert!(methods(&effects).contains(&"users.list"), "{effects:?}");
    rows.last_mut().unwrap().key_status = KeyStatus::Active;
    rows.last_mut().unwrap().status = mama_api::types::UserStatus::Active;
    reply_first_page(
        &mut app,
        json!({"users": rows, "total": 6, "matching": 6, "offset": 0, "limit": 100}),
    );
    assert!(row(&app).contains("active"), "{}", screen(&app));
    assert!(screen(&app).contains("LiteLLM sync done."));
}
