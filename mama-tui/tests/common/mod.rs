//! Fixtures: an app driven into a state through `update` with canned daemon answers, exactly as
//! the runtime would, and a renderer onto ratatui's `TestBackend`.
#![allow(dead_code)]

use chrono::{TimeZone, Utc};
use mama_api::types::{
    BudgetPeriod, Days, KeyLimits, KeyStatus, LimitField, Suspension, UserStatus, UserView,
};
use mama_tui::action::{Action, Reply, Tag};
use mama_tui::app::App;
use mama_tui::effect::Effect;
use mama_tui::update::update;
use mama_tui::users::RowsAt;
use ratatui::backend::TestBackend;
use ratatui::Terminal;
use serde_json::{json, Value};

pub const SERVER: &str = "unix:/run/mama/admin.sock";

pub fn at(hour: u32, min: u32) -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, hour, min, 0)
        .single()
        .unwrap_or_default()
}

pub fn session(must_change: bool) -> Value {
    json!({
        "token": "tok-1",
        "expires_at": "2026-03-02T10:15:00Z",
        "must_change_password": must_change,
        "username": "admin",
        "role": "super",
    })
}

/// A session of `username` with `role`, limited to `organizations` (`None`: every one).
pub fn session_as(username: &str, role: &str, organizations: Option<&[&str]>) -> Value {
    json!({
        "token": "tok-1",
        "expires_at": "2026-03-02T10:15:00Z",
        "must_change_password": false,
        "username": username,
        "role": role,
        "organizations": organizations,
    })
}

pub fn user(
    id: &str,
    org: &str,
    models: &[&str],
    services: &[&str],
    status: KeyStatus,
) -> UserView {
    UserView {
        id: id.into(),
        organization: org.into(),
        models: models.iter().map(|s| s.to_string()).collect(),
        services: services.iter().map(|s| s.to_string()).collect(),
        info: Default::default(),
        key_hint: (status != KeyStatus::None)
            .then(|| format!("sk-...{}", &format!("{:04}", id.len() * 37)[..4])),
        key_status: status,
        key_error: None,
        key_blocked: models.is_empty(),
        rotating: false,
        key: None,
        unavailable_models: vec![],
        limits: Default::default(),
        inherited: mama_api::types::LimitField::ALL.to_vec(),
        suspended: None,
        status: match status {
            KeyStatus::None => mama_api::types::UserStatus::None,
            KeyStatus::Pending => mama_api::types::UserStatus::Pending,
            KeyStatus::Active => mama_api::types::UserStatus::Active,
            KeyStatus::Failed => mama_api::types::UserStatus::Failed,
        },
        spend: None,
        spend_read_at: None,
        spend_30d: 0.0,
        requests_30d: 0,
        last_used: None,
        rotated_at: None,
        previous_key_expires_at: None,
        version: 3,
        created_at: at(9, 0),
        updated_at: at(9, 30),
    }
}

fn on(month: u32, day: u32) -> Option<chrono::DateTime<Utc>> {
    Utc.with_ymd_and_hms(2026, month, day, 0, 0, 0).single()
}

fn day(month: u32, day: u32) -> Option<chrono::NaiveDate> {
    chrono::NaiveDate::from_ymd_opt(2026, month, day)
}

/// A small, mixed population: Hangul ids and organizations, every key status, an unavailable
/// model and info notes; budgets, rate limits and expiry (own and inherited), spend, and a
/// suspended, an over-budget and an expired user; 30-day usage from "today" (03-02) back to
/// beyond the 30 days, and never.
pub fn sample_users() -> Vec<UserView> {
    let mut kim = user(
        "김철수",
        "연구소",
        &["gpt-4o", "old-model"],
        &["chat"],
        KeyStatus::Active,
    );
    kim.unavailable_models = vec!["old-model".into()];
    kim.info.insert("team".into(), "검색".into());
    let mut lee = user(
        "lee.young@example.com",
        "Sales",
        &["all-team-models"],
        &["chat", "billing"],
        KeyStatus::Pending,
    );
    lee.info.insert("seat".into(), "12".into());
    // Own budget and rate limits; the rotation follows the organization.
    kim.limits = KeyLimits {
        max_budget: Some(10.0),
        budget_period: Some(BudgetPeriod::Month),
        tpm_limit: Some(10_000),
        rpm_limit: Some(60),
        expires_at: on(6, 30),
        rotation_every: Some(Days(90)),
    };
    kim.inherited = vec![LimitField::RotationEvery];
    kim.spend = Some(4.2);
    kim.spend_read_at = Some(at(9, 45));
    kim.spend_30d = 12.4;
    kim.requests_30d = 1_250;
    kim.last_used = day(2, 27);
    // The organization's daily budget, spent.
    lee.limits = KeyLimits {
        max_budget: Some(5.0),
        budget_period: Some(BudgetPeriod::Day),
        rpm_limit: Some(20),
        ..KeyLimits::default()
    };
    lee.spend = Some(5.1);
    lee.status = UserStatus::OverBudget;
    lee.spend_30d = 48.75;
    lee.requests_30d = 312;
    lee.last_used = day(3, 2);
    let mut park = user(
        "박영희",
        "연구소 본부",
        &["claude-3-5-sonnet"],
        &[],
        KeyStatus::Failed,
    );
    park.suspended = Some(Suspension {
        at: at(8, 15),
        by: "admin".into(),
        reason: "left the team".into(),
    });
    park.status = UserStatus::Suspended;
    park.spend = Some(0.0);
    // Used, but not in the last 30 days.
    park.last_used = day(1, 15);
    let mut u17 = user(
        "u00017",
        "Research",
        &["gpt-4o"],
        &["chat"],
        KeyStatus::Active,
    );
    u17.limits.expires_at = on(3, 1);
    u17.inherited.retain(|f| *f != LimitField::ExpiresAt);
    u17.status = UserStatus::Expired;
    u17.spend_30d = 0.35;
    u17.requests_30d = 7;
    u17.last_used = day(3, 1);
    vec![
        kim,
        park,
        lee,
        user("ops-bot", "Ops", &[], &["provisioning"], KeyStatus::None),
        u17,
    ]
}

pub fn reply(app: &mut App, tag: Tag, result: Value) -> Vec<Effect> {
    let epoch = app.epoch;
    update(
        app,
        Action::Reply(Reply {
            epoch,
            tag,
            result: Ok(result),
        }),
    )
}

/// Answers the first page of the users list for the query the app asked last.
pub fn reply_first_page(app: &mut App, result: Value) -> Vec<Effect> {
    let query = app.users.query;
    reply(
        app,
        Tag::UsersPage {
            query,
            at: RowsAt::Start(0),
        },
        result,
    )
}

/// Logged in as the super admin; `Users` screen with `users` as the first page.
pub fn users_app(width: u16, height: u16, users: Vec<UserView>, total: u64) -> App {
    users_app_as(session(false), width, height, users, total)
}

/// [`users_app`] signed in with `session` (see [`session_as`]).
pub fn users_app_as(
    session: Value,
    width: u16,
    height: u16,
    users: Vec<UserView>,
    total: u64,
) -> App {
    let mut app = App::new(SERVER.into(), true, width, height);
    app.now = at(10, 0);
    reply(&mut app, Tag::Login, session);
    let query = app.users.query;
    let matching = users.len() as u64;
    reply(
        &mut app,
        Tag::UsersPage {
            query,
            at: RowsAt::Start(0),
        },
        json!({
            "users": users, "total": total, "matching": matching, "offset": 0, "limit": 200,
            "start_cursor": "first", "end_cursor": "last"
        }),
    );
    reply(
        &mut app,
        Tag::UsersCount { query },
        json!({"total": total, "matching": matching}),
    );
    reply(
        &mut app,
        Tag::SyncStatus,
        json!({
            "configured": true, "litellm_reachable": true, "litellm_error": null, "queue_depth": 2,
            "users_pending": 1, "users_failed": 1, "last_reconcile_at": null
        }),
    );
    app
}

pub fn render(app: &App) -> Terminal<TestBackend> {
    let backend = TestBackend::new(app.width, app.height);
    let mut terminal = match Terminal::new(backend) {
        Ok(t) => t,
        Err(e) => panic!("test backend: {e}"),
    };
    if let Err(e) = terminal.draw(|frame| mama_tui::ui::view(app, frame)) {
        panic!("draw: {e}");
    }
    terminal
}

/// The screen as text, one line per row, trailing spaces trimmed.
pub fn screen(app: &App) -> String {
    let terminal = render(app);
    let buffer = terminal.backend().buffer();
    let mut out = String::new();
    for y in 0..buffer.area.height {
        let mut line = String::new();
        let mut skip = 0;
        for x in 0..buffer.area.width {
            if skip > 0 {
                skip -= 1;
                continue;
            }
            let symbol = buffer[(x, y)].symbol();
            skip = unicode_width::UnicodeWidthStr::width(symbol).saturating_sub(1);
            line.push_str(symbol);
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

pub fn cmd(app: &mut App, cmd: mama_tui::action::Cmd) -> Vec<Effect> {
    update(app, Action::Cmd(cmd))
}

pub fn typed(app: &mut App, text: &str) {
    for c in text.chars() {
        update(app, Action::Edit(mama_tui::text::Edit::Insert(c)));
    }
}

/// Methods of the RPC calls among `effects`.
pub fn methods(effects: &[Effect]) -> Vec<&'static str> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Call { method, .. } | Effect::Batch { method, .. } => Some(*method),
            _ => None,
        })
        .collect()
}

/// Three organizations and the users without one: defaults of every kind, and none.
pub fn organizations() -> Value {
    json!({"organizations": [
        {"name": "", "users": 1, "defaults": {}},
        {"name": "Research", "users": 12, "defaults": {
            "max_budget": 20.0, "budget_period": "30d", "tpm_limit": 100000, "rpm_limit": 60,
            "rotation_every": "90d"
        }},
        {"name": "Sales", "users": 3, "defaults": {
            "max_budget": 5.0, "budget_period": "1d", "expires_at": "2026-12-31T00:00:00Z"
        }},
        {"name": "연구소", "users": 2, "defaults": {}},
    ]})
}

/// Logged in, on the organizations screen with [`organizations`] listed.
pub fn organizations_app(width: u16, height: u16) -> App {
    let mut app = users_app(width, height, sample_users(), 5);
    let effects = cmd(
        &mut app,
        mama_tui::action::Cmd::GoTo(mama_tui::action::Screen::Organizations),
    );
    assert_eq!(methods(&effects), vec!["organizations.list"]);
    reply(&mut app, Tag::Organizations, organizations());
    app
}
