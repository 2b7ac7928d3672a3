//! Users CSV: what `:export` writes, the create-users dialog reads back as the same users;
//! line ends of every kind; a clear error for an unknown column; `~` in paths. Then the dialog's
//! two ways to create (all or none; the valid rows with the rejected ones written to a file)
//! and the export's overwrite confirm, driven through `update` as the runtime would.

mod common;

use std::ffi::OsStr;
use std::path::PathBuf;

use chrono::{DateTime, TimeZone, Utc};
use common::{cmd, reply, user, users_app};
use mama_api::types::{
    BudgetPeriod, Days, KeyLimits, KeyStatus, LimitField, LimitsChange, NewUser, Setting, UserView,
};
use mama_tui::action::{Action, Cmd, Reply, Tag};
use mama_tui::client::ClientError;
use mama_tui::csv;
use mama_tui::effect::Effect;
use mama_tui::popup::Popup;
use mama_tui::text::Edit;
use mama_tui::update::update;
use proptest::prelude::*;
use serde_json::json;

/// Before every expiry the fixtures use, so none is "in the past".
fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 10, 0, 0).unwrap()
}

/// What importing `u` should create: its own limits set (`none` as a clear), inherited ones
/// left to the organization.
fn expected(u: &UserView) -> NewUser {
    fn own<T: Clone>(u: &UserView, field: LimitField, v: &Option<T>) -> Setting<T> {
        if u.inherited.contains(&field) {
            Setting::Keep
        } else {
            v.clone().map_or(Setting::Clear, Setting::Set)
        }
    }
    let l = &u.limits;
    NewUser {
        id: u.id.clone(),
        organization: u.organization.clone(),
        models: u.models.clone(),
        services: u.services.clone(),
        info: u.info.clone(),
        limits: LimitsChange {
            max_budget: own(u, LimitField::MaxBudget, &l.max_budget),
            budget_period: own(u, LimitField::BudgetPeriod, &l.budget_period),
            tpm_limit: own(u, LimitField::TpmLimit, &l.tpm_limit),
            rpm_limit: own(u, LimitField::RpmLimit, &l.rpm_limit),
            expires_at: own(u, LimitField::ExpiresAt, &l.expires_at),
            rotation_every: own(u, LimitField::RotationEvery, &l.rotation_every),
        },
    }
}

fn import(text: &str) -> Vec<NewUser> {
    let parsed = csv::parse_users(text, now()).expect("the header is known");
    parsed
        .rows
        .into_iter()
        .map(|r| {
            r.user
                .unwrap_or_else(|e| panic!("line {}: {e}\n{text}", r.line))
        })
        .collect()
}

fn export(users: &[UserView]) -> String {
    String::from_utf8(csv::users_csv(users).expect("written")).expect("UTF-8")
}

fn awkward_users() -> Vec<UserView> {
    let mut kim = user(
        "김철수",
        "연구소, 본사",
        &["gpt-4o", "claude"],
        &["chat"],
        KeyStatus::Active,
    );
    kim.info.insert("note".into(), "says \"hi\", twice".into());
    kim.info.insert("팀".into(), "검색".into());
    kim.limits = KeyLimits {
        max_budget: Some(12.345),
        budget_period: Some(BudgetPeriod::parse("30d").unwrap()),
        tpm_limit: Some(10_000),
        rpm_limit: None,
        expires_at: Some(Utc.with_ymd_and_hms(2026, 6, 30, 12, 34, 56).unwrap()),
        rotation_every: Some(Days(90)),
    };
    // rpm: the user's own "no limit"; tpm follows the organization.
    kim.inherited = vec![LimitField::TpmLimit];
    let mut empty = user("lee", "", &[], &[], KeyStatus::None);
    empty.inherited = LimitField::ALL.to_vec();
    let quoted = user("o'neil", "\"Quotes\" Inc", &["m"], &[], KeyStatus::Pending);
    vec![kim, empty, quoted]
}

#[test]
fn an_export_imports_as_the_same_users() {
    let users = awkward_users();
    let text = export(&users);
    assert!(
        text.starts_with(
            "id,organization,models,services,info,budget,period,tpm,rpm,expires,rotate,\
             key_status,key_hint,status,spend\n"
        ),
        "{text}"
    );
    assert_eq!(
        import(&text),
        users.iter().map(expected).collect::<Vec<_>>(),
        "{text}"
    );
}

fn name() -> impl Strategy<Value = String> {
    // Letters, Hangul, commas and quotes; no list separator, no spaces at the ends.
    "[a-z김철수연구소,\"'.-]{1,8}"
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn any_exported_users_import_back(
        orgs in prop::collection::vec(name(), 1..4),
        models in prop::collection::vec(prop::collection::vec("[a-z0-9.-]{1,6}", 0..3), 1..4),
        note in "[a-z김]([a-z김 ,\"]{0,6}[a-z김])?",
        budget in prop::option::of(0u32..100_000),
        own in prop::collection::vec(any::<bool>(), 6),
    ) {
        let users: Vec<UserView> = orgs
            .iter()
            .zip(models.iter().cycle())
            .enumerate()
            .map(|(i, (org, models))| {
                let models: Vec<&str> = models.iter().map(String::as_str).collect();
                let mut u = user(&format!("u{i}"), org, &models, &[], KeyStatus::Active);
                u.info.insert("note".into(), note.clone());
                u.limits.max_budget = budget.map(|b| f64::from(b) / 100.0);
                u.inherited = LimitField::ALL
                    .into_iter()
                    .zip(&own)
                    .filter(|(_, own)| !**own)
                    .map(|(f, _)| f)
                    .collect();
                u
            })
            .collect();
        let text = export(&users);
        prop_assert_eq!(import(&text), users.iter().map(expected).collect::<Vec<_>>());
    }
}

#[test]
fn cr_lf_and_crlf_read_the_same() {
    let lf = "id,organization,models\n김철수,\"연구소, 본사\",gpt-4o;claude\n\n# a comment\nlee,Sales,\npark,Ops,a b\n";
    let crlf = lf.replace('\n', "\r\n");
    let cr = lf.replace('\n', "\r");
    let want = csv::parse_users(lf, now()).unwrap();
    assert_eq!(want.rows.len(), 3);
    assert_eq!(
        want.rows.iter().map(|r| r.line).collect::<Vec<_>>(),
        [1, 4, 5]
    );
    assert_eq!(
        want.rows[2].user.as_ref().unwrap().models,
        ["a", "b"],
        "space separates too"
    );
    assert_eq!(csv::parse_users(&crlf, now()).unwrap(), want);
    assert_eq!(csv::parse_users(&cr, now()).unwrap(), want);
}

#[test]
fn a_header_takes_any_order_and_ignores_state_columns() {
    let text = "Status , key_hint,ORGANIZATION,id,spend,key_status,reason,tpm_limit\n\
                active,sk-...1234,Sales,lee,1.50,active,was bad,10k\n";
    let users = import(text);
    assert_eq!(users.len(), 1);
    assert_eq!(users[0].id, "lee");
    assert_eq!(users[0].organization, "Sales");
    assert_eq!(users[0].limits.tpm_limit, Setting::Set(10_000));
}

#[test]
fn an_unknown_column_is_named_with_the_known_ones() {
    let err = csv::parse_users("id,organisation,models\nlee,Sales,", now()).unwrap_err();
    assert_eq!(err.line, 0);
    assert!(
        err.message.starts_with("unknown column \"organisation\"; known columns: id, organization, models, services, info, budget"),
        "{}",
        err.message
    );
    assert!(err.message.contains("reason"), "{}", err.message);
}

#[test]
fn a_bad_row_is_that_row_only() {
    let parsed = csv::parse_users("kim,Ops\n,Ops\nlee,Ops,,,,ten\n", now()).unwrap();
    let errors: Vec<_> = parsed
        .rows
        .iter()
        .map(|r| r.user.as_ref().err().cloned())
        .collect();
    assert_eq!(errors[0], None);
    assert_eq!(errors[1].as_deref(), Some("the id is empty"));
    assert!(errors[2]
        .as_deref()
        .is_some_and(|e| e.starts_with("budget:")));
}

#[test]
fn a_leading_tilde_is_the_home_directory() {
    let home = Some(OsStr::new("/home/op"));
    assert_eq!(
        csv::expand_home("~/exports/users.csv", home),
        PathBuf::from("/home/op/exports/users.csv")
    );
    assert_eq!(csv::expand_home(" ~ ", home), PathBuf::from("/home/op"));
    assert_eq!(
        csv::expand_home("~bob/x.csv", home),
        PathBuf::from("~bob/x.csv")
    );
    assert_eq!(
        csv::expand_home("/tmp/~/x", home),
        PathBuf::from("/tmp/~/x")
    );
    assert_eq!(csv::expand_home("~/x.csv", None), PathBuf::from("~/x.csv"));
}

fn paste(app: &mut mama_tui::app::App, text: &str) {
    update(app, Action::Edit(Edit::Paste(text.into())));
}

fn sent_users(effects: &[Effect]) -> (Vec<String>, Tag) {
    match effects.first() {
        Some(Effect::Call {
            method: "users.create",
            params,
            tag,
            ..
        }) => (
            params["users"]
                .as_array()
                .unwrap()
                .iter()
                .map(|u| u["id"].as_str().unwrap().to_string())
                .collect(),
            tag.clone(),
        ),
        other => panic!("{other:?}"),
    }
}

fn refuse(app: &mut mama_tui::app::App, tag: Tag, row: usize, message: &str) -> Vec<Effect> {
    let epoch = app.epoch;
    let err = mama_api::ApiError::invalid_fields(vec![mama_api::FieldError {
        field: format!("users[{row}].id"),
        message: message.into(),
        row: Some(row),
    }]);
    update(
        app,
        Action::Reply(Reply {
            epoch,
            tag,
            result: Err(ClientError::Api(err)),
        }),
    )
}

fn create_dialog(app: &mama_tui::app::App) -> &mama_tui::popup::CreateDialog {
    match app.popups.last() {
        Some(Popup::Create(d)) => d,
        other => panic!("{other:?}"),
    }
}

#[test]
fn pasted_rows_with_cr_line_ends_are_rows() {
    let mut app = users_app(100, 30, vec![], 0);
    cmd(&mut app, Cmd::CreateUsers);
    paste(&mut app, "kim,Ops\rlee,Ops\r\npark,Ops\r");
    let (ids, tag) = sent_users(&cmd(&mut app, Cmd::Save));
    assert_eq!(ids, ["kim", "lee", "park"]);
    assert_eq!(tag, Tag::CreateUsers);
}

#[test]
fn all_or_nothing_by_default_and_the_valid_rows_on_request() {
    let mut app = users_app(100, 30, vec![], 0);
    cmd(&mut app, Cmd::CreateUsers);
    paste(
        &mut app,
        "id,organization,tpm\nkim,Ops,\nlee,Ops,lots\nexists,Ops,\npark,Ops,",
    );
    // ctrl-s: a bad row and nothing is sent.
    assert!(cmd(&mut app, Cmd::Save).is_empty());
    let d = create_dialog(&app);
    assert_eq!(
        d.error.as_deref(),
        Some("1 row refused, nothing created · ctrl-v creates the valid rows")
    );
    assert_eq!(d.row_errors.len(), 1);
    assert_eq!(d.row_errors[0].0, 2);

    // ctrl-v: the rows that parse go; the daemon refuses one, the rest go again.
    let (ids, tag) = sent_users(&cmd(&mut app, Cmd::SaveValid));
    assert_eq!(ids, ["kim", "exists", "park"]);
    assert_eq!(tag, Tag::CreateValid);
    let (ids, _) = sent_users(&refuse(&mut app, tag, 1, "already exists"));
    assert_eq!(ids, ["kim", "park"]);
    let effects = reply(
        &mut app,
        Tag::CreateValid,
        json!({"created": 2, "users": []}),
    );
    assert!(app.popups.is_empty(), "the dialog closes");
    let Some(Effect::WriteNewFile {
        path,
        contents,
        tag,
        ..
    }) = effects
        .iter()
        .find(|e| matches!(e, Effect::WriteNewFile { .. }))
    else {
        panic!("{effects:?}")
    };
    assert_eq!(
        *tag,
        Tag::RejectedWritten {
            created: 2,
            rejected: 2
        }
    );
    assert!(
        path.is_absolute()
            && path
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("mama-rejected-")),
        "{path:?}"
    );
    let text = String::from_utf8(contents.clone()).unwrap();
    assert!(
        text.starts_with("id,organization,tpm,reason\nlee,Ops,lots,\"tpm: \"\"lots\"\" is not"),
        "{text}"
    );
    assert!(text.ends_with("exists,Ops,,id: already exists\n"), "{text}");
    // Fixed, the file imports as it is: the reason is ignored.
    let fixed = text.replace("lots", "10k").replace("exists,", "kept,");
    assert_eq!(import(&fixed).len(), 2);

    reply(
        &mut app,
        Tag::RejectedWritten {
            created: 2,
            rejected: 2,
        },
        json!({"path": "/tmp/r.csv"}),
    );
    let (_, message) = app.message.clone().unwrap();
    assert_eq!(
        message,
        "Created 2 users; 2 rows not, with the reasons in /tmp/r.csv (fix, then import it)."
    );
}

#[test]
fn export_expands_the_home_and_asks_before_overwriting() {
    let home = std::env::var("HOME").unwrap_or_default();
    let mut app = users_app(100, 30, vec![], 0);
    cmd(&mut app, Cmd::Palette);
    common::typed(&mut app, "export ~/users.csv");
    let effects = cmd(&mut app, Cmd::Open);
    let Some(Effect::Export {
        path, overwrite, ..
    }) = effects.first()
    else {
        panic!("{effects:?}")
    };
    if !home.is_empty() {
        assert_eq!(*path, PathBuf::from(&home).join("users.csv"));
    }
    assert!(!overwrite);
    let path = path.clone();

    reply(
        &mut app,
        Tag::Export,
        json!({"exists": path.display().to_string()}),
    );
    assert!(matches!(app.popups.last(), Some(Popup::Confirm(_))));
    // Anything but y keeps the file.
    assert!(cmd(&mut app, Cmd::No).is_empty());
    assert!(app.popups.is_empty());

    reply(
        &mut app,
        Tag::Export,
        json!({"exists": path.display().to_string()}),
    );
    let effects = cmd(&mut app, Cmd::Yes);
    assert!(
        matches!(effects.first(), Some(Effect::Export { path: p, overwrite: true, .. }) if *p == path),
        "{effects:?}"
    );
    reply(
        &mut app,
        Tag::Export,
        json!({"rows": 3, "path": path.display().to_string()}),
    );
    let (_, message) = app.message.clone().unwrap();
    assert_eq!(message, format!("Exported 3 users to {}.", path.display()));
}

#[test]
fn a_line_feed_key_is_a_new_line_in_the_rows() {
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    use mama_tui::keymap::{handle_key, Context, Field};
    let ctrl_j = KeyEvent::new(KeyCode::Char('j'), KeyModifiers::CONTROL);
    assert_eq!(
        handle_key(Context::Form(Field::Area), ctrl_j),
        Action::Edit(Edit::Newline)
    );
    let ctrl_v = KeyEvent::new(KeyCode::Char('v'), KeyModifiers::CONTROL);
    assert_eq!(
        handle_key(Context::Form(Field::Area), ctrl_v),
        Action::Cmd(Cmd::SaveValid)
    );
}
