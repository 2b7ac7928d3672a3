//! The usage screen through `update` and on ratatui's `TestBackend`: its queries, its toggles,
//! the `/` filter mapped to the usage filter, one user's usage opened from the users table, and
//! snapshots at 80×24, wide and without colour, fed from hand-built reports with Hangul names.

mod common;

use chrono::{Days, NaiveDate};
use common::*;
use mama_api::types::{
    BackfillProgress, Usage, UsageCollection, UsageGroup, UsageQueryParams, UsageReport, UsageRow,
};
use mama_tui::action::{Action, Cmd, Screen, Tag};
use mama_tui::app::App;
use mama_tui::effect::Effect;
use mama_tui::update::update;
use serde_json::Value;

fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap_or_default()
}

fn usage(spend: f64, ok: u64, failed: u64, tokens: u64) -> Usage {
    Usage {
        spend,
        successful_requests: ok,
        failed_requests: failed,
        prompt_tokens: tokens * 3 / 4,
        completion_tokens: tokens - tokens * 3 / 4,
        total_tokens: tokens,
    }
}

fn row(key: &str, usage: Usage) -> UsageRow {
    UsageRow {
        keys: vec![key.into()],
        deleted: false,
        usage,
    }
}

fn collected() -> UsageCollection {
    UsageCollection {
        as_of: Some(at(9, 55)),
        backfill: None,
        last_error: None,
    }
}

/// The last 30 days up to 2026-03-02 (the fixtures' today), `group`ed as asked.
fn report(group: Vec<UsageGroup>, rows: Vec<UsageRow>, total: Usage) -> UsageReport {
    UsageReport {
        from: day("2026-02-01"),
        to: day("2026-03-02"),
        group,
        row_count: rows.len() as u64,
        rows,
        rest: None,
        total,
        not_mamas: None,
        collection: collected(),
    }
}

fn total() -> Usage {
    usage(182.4, 12_040, 87, 9_850_000)
}

/// Organizations ranked by spend: Hangul ones, the users without one, and a long name.
fn by_organization() -> UsageReport {
    report(
        vec![UsageGroup::Organization],
        vec![
            row("연구소", usage(96.3, 5_200, 12, 5_100_000)),
            row("Research", usage(41.0, 3_100, 70, 2_400_000)),
            row("연구소 본부", usage(30.1, 2_900, 0, 1_900_000)),
            row("", usage(10.0, 600, 5, 300_000)),
            row(
                "International Business Development",
                usage(5.0, 240, 0, 150_000),
            ),
        ],
        total(),
    )
}

/// Spend per day over the range: a weekday rhythm, with the weekend days missing (no usage).
fn by_day() -> UsageReport {
    let rows = (0..30u64)
        .filter_map(|i| {
            let d = day("2026-02-01") + Days::new(i);
            let weekday = chrono::Datelike::weekday(&d).num_days_from_monday();
            (weekday < 5).then(|| {
                let spend = 3.0 + (i % 7) as f64 * 1.7 + if i == 23 { 9.0 } else { 0.0 };
                row(
                    &d.to_string(),
                    usage(spend, 300 + i * 11, i % 3, 250_000 + i * 1_000),
                )
            })
        })
        .collect();
    report(vec![UsageGroup::Day], rows, total())
}

fn usage_calls(effects: &[Effect]) -> Vec<(Tag, UsageQueryParams)> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Call {
                method: "usage.query",
                params,
                tag,
                ..
            } => Some((
                tag.clone(),
                serde_json::from_value(params.clone()).unwrap_or_else(|e| panic!("{e}")),
            )),
            _ => None,
        })
        .collect()
}

fn json(report: &UsageReport) -> Value {
    serde_json::to_value(report).unwrap_or_default()
}

/// Answers every usage query among `effects`: the ones by time with `chart`, the others with
/// `table`.
fn answer(app: &mut App, effects: &[Effect], table: &UsageReport, chart: &UsageReport) {
    for (tag, params) in usage_calls(effects) {
        let by_time = params.group.iter().all(|g| g.is_time()) || params.group.len() == 2;
        reply(app, tag, json(if by_time { chart } else { table }));
    }
}

/// Logged in, on the usage screen ranking organizations, both answers in.
fn usage_app(width: u16, height: u16, color: bool) -> App {
    let mut app = users_app(width, height, sample_users(), 5);
    app.color = color;
    let effects = cmd(&mut app, Cmd::GoTo(Screen::Usage));
    assert_eq!(app.screen, Screen::Usage);
    let first = usage_calls(&effects);
    assert_eq!(first.len(), 2, "the table and the chart: {effects:?}");
    let effects = cmd(&mut app, Cmd::UsageRanks);
    let calls = usage_calls(&effects);
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].1.group, [UsageGroup::Organization]);
    answer(&mut app, &effects, &by_organization(), &by_day());
    // The first two answers: the users' table (asked before `t`, so dropped) and the chart.
    for (tag, _) in first {
        reply(&mut app, tag, json(&by_day()));
    }
    assert_eq!(app.in_flight, 0);
    app
}

#[test]
fn usage_80x24_by_organization() {
    let app = usage_app(80, 24, true);
    let text = screen(&app);
    assert!(text.contains("as of 09:55 UTC (5m ago)"), "{text}");
    assert!(text.contains("spend per day (USD)"), "{text}");
    insta::assert_snapshot!(text);
}

#[test]
fn usage_wide_160x40() {
    let app = usage_app(160, 40, true);
    insta::assert_snapshot!(screen(&app));
}

#[test]
fn usage_without_colour_carries_everything_in_text() {
    let app = usage_app(80, 24, false);
    let terminal = render(&app);
    let buffer = terminal.backend().buffer();
    let coloured = buffer
        .content
        .iter()
        .any(|c| c.fg != ratatui::style::Color::Reset || c.bg != ratatui::style::Color::Reset);
    assert!(!coloured, "NO_COLOR: no colour anywhere");
    let text = screen(&app);
    assert!(text.contains('█'), "bars are block characters: {text}");
    assert!(text.contains("52.8%"), "share in numbers: {text}");
    insta::assert_snapshot!(text);
}

#[test]
fn hangul_names_keep_the_columns_aligned() {
    let app = usage_app(80, 24, true);
    let text = screen(&app);
    let column_of = |name: &str| {
        let line = text.lines().find(|l| l.contains(name)).unwrap_or_default();
        let before = &line[..line.find('$').unwrap_or(0)];
        unicode_width::UnicodeWidthStr::width(before)
    };
    assert_eq!(column_of("연구소 본부"), column_of("Research"));
    assert_eq!(column_of("  연구소 "), column_of("(none)"));
}

#[test]
fn collecting_and_loading_are_said() {
    let mut app = users_app(80, 24, sample_users(), 5);
    cmd(&mut app, Cmd::GoTo(Screen::Usage));
    let text = screen(&app);
    assert!(text.contains("loading…"), "{text}");
    let mut report = by_organization();
    report.collection = UsageCollection {
        as_of: None,
        backfill: Some(BackfillProgress {
            days_done: 12,
            days: 90,
        }),
        last_error: None,
    };
    let query = app.usage.table_query;
    reply(&mut app, Tag::UsageTable { query }, json(&report));
    let text = screen(&app);
    assert!(text.contains("collecting… 12/90 days"), "{text}");
    // While collecting, the screen asks again after a while to show the progress.
    let later = at(10, 1);
    let chart = app.usage.chart_query;
    reply(&mut app, Tag::UsageChart { query: chart }, json(&by_day()));
    let effects = update(&mut app, Action::Tick(later));
    assert_eq!(usage_calls(&effects).len(), 2, "{effects:?}");
}

#[test]
fn deleted_users_are_marked() {
    let mut app = users_app(80, 24, sample_users(), 5);
    let effects = cmd(&mut app, Cmd::GoTo(Screen::Usage));
    let mut table = report(
        vec![UsageGroup::User],
        vec![
            row("김철수", usage(3.0, 10, 0, 1000)),
            UsageRow {
                keys: vec!["gone-user".into()],
                deleted: true,
                usage: usage(1.0, 5, 1, 500),
            },
        ],
        usage(4.0, 15, 1, 1500),
    );
    table.rest = Some(usage(0.5, 2, 0, 10));
    table.row_count = 7;
    answer(&mut app, &effects, &table, &by_day());
    let text = screen(&app);
    assert!(text.contains("gone-user (deleted)"), "{text}");
    assert!(text.contains("… 5 more: $0.50"), "{text}");
}

#[test]
fn u_on_a_user_opens_that_users_usage() {
    let mut app = users_app(80, 24, sample_users(), 5);
    let effects = cmd(&mut app, Cmd::OpenUsage);
    assert_eq!(app.screen, Screen::Usage);
    let calls = usage_calls(&effects);
    assert_eq!(calls.len(), 2);
    for (_, params) in &calls {
        assert_eq!(params.filter.user_ids, ["김철수"]);
    }
    assert_eq!(calls[0].1.group, [UsageGroup::Model], "the user's models");
    let models = report(
        vec![UsageGroup::Model],
        vec![
            row("gpt-4o", usage(4.0, 120, 3, 90_000)),
            row("old-model", usage(0.25, 8, 8, 1_000)),
        ],
        usage(4.25, 139, 11, 91_000),
    );
    answer(&mut app, &effects, &models, &by_day());
    let text = screen(&app);
    assert!(text.contains("/user:김철수"), "{text}");
    assert!(text.contains("user 김철수"), "{text}");
    assert!(text.contains("$4.25 · 150 requests (11 failed)"), "{text}");
    assert!(text.contains("gpt-4o"), "{text}");
}

#[test]
fn the_filter_maps_to_the_usage_filter_and_refuses_user_terms() {
    let mut app = usage_app(80, 24, true);
    cmd(&mut app, Cmd::Filter);
    typed(&mut app, "org:연구소 model:gpt-4o");
    let effects = cmd(&mut app, Cmd::Open);
    let calls = usage_calls(&effects);
    assert_eq!(calls.len(), 2);
    for (_, params) in &calls {
        assert_eq!(params.filter.organization.as_deref(), Some("연구소"));
        assert_eq!(params.filter.model.as_deref(), Some("gpt-4o"));
    }
    assert!(!app.usage.filter_editing);

    cmd(&mut app, Cmd::Filter);
    typed(&mut app, " status:suspended");
    let effects = cmd(&mut app, Cmd::Open);
    assert!(usage_calls(&effects).is_empty());
    assert!(app.usage.filter_editing, "the bar stays open on an error");
    let text = screen(&app);
    assert!(text.contains("filters users, not usage"), "{text}");
}

#[test]
fn enter_charts_the_selected_row_and_esc_charts_everything() {
    let mut app = usage_app(80, 24, true);
    cmd(&mut app, Cmd::Down);
    let effects = cmd(&mut app, Cmd::Open);
    let calls = usage_calls(&effects);
    assert_eq!(calls.len(), 1, "only the chart");
    let params = &calls[0].1;
    assert_eq!(params.group, [UsageGroup::Organization, UsageGroup::Day]);
    assert_eq!(params.filter.organization.as_deref(), Some("Research"));
    let text = screen(&app);
    assert!(text.contains("● 2"), "the charted row is marked: {text}");
    let effects = cmd(&mut app, Cmd::Back);
    assert_eq!(usage_calls(&effects)[0].1.group, [UsageGroup::Day]);
    assert!(app.usage.focus.is_none());
}

#[test]
fn toggles_ask_again_only_for_what_they_change() {
    let mut app = usage_app(80, 24, true);
    let effects = cmd(&mut app, Cmd::UsageMeasure);
    let calls = usage_calls(&effects);
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].1.sort, mama_api::types::UsageMeasure::Requests);
    let effects = cmd(&mut app, Cmd::UsageBuckets);
    let calls = usage_calls(&effects);
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].1.group, [UsageGroup::Week]);
    let effects = cmd(&mut app, Cmd::UsageRange(false));
    let calls = usage_calls(&effects);
    assert_eq!(calls.len(), 2);
    assert_eq!(
        calls[0].1.range,
        mama_api::types::UsageRange::Preset(mama_api::types::UsagePreset::Last90Days)
    );
    let effects = cmd(
        &mut app,
        Cmd::UsageSort(mama_api::types::UsageMeasure::Requests),
    );
    assert!(usage_calls(&effects)[0].1.ascending, "again: reversed");
}

#[test]
fn late_answers_of_an_older_query_are_dropped() {
    let mut app = usage_app(80, 24, true);
    let old = app.usage.table_query;
    cmd(&mut app, Cmd::UsageMeasure);
    let stale = report(
        vec![UsageGroup::Organization],
        vec![row("stale", usage(1.0, 1, 0, 1))],
        usage(1.0, 1, 0, 1),
    );
    reply(&mut app, Tag::UsageTable { query: old }, json(&stale));
    assert!(!screen(&app).contains("stale"));
}

#[test]
fn the_palette_opens_usage_and_exports_its_table() {
    let mut app = users_app(80, 24, sample_users(), 5);
    update(&mut app, Action::Cmd(Cmd::Palette));
    typed(&mut app, "usage");
    cmd(&mut app, Cmd::Open);
    assert_eq!(app.screen, Screen::Usage);
    update(&mut app, Action::Cmd(Cmd::Palette));
    typed(&mut app, "export /tmp/usage.csv");
    let effects = cmd(&mut app, Cmd::Open);
    assert!(
        matches!(
            effects.as_slice(),
            [Effect::ExportUsage { params, .. }] if params.top == Some(10_000)
        ),
        "{effects:?}"
    );
    reply(
        &mut app,
        Tag::UsageExport,
        serde_json::json!({"rows": 6, "path": "/tmp/usage.csv"}),
    );
    assert_eq!(
        app.message.as_ref().map(|(_, m)| m.as_str()),
        Some("Exported 6 usage rows to /tmp/usage.csv.")
    );
}

#[test]
fn an_older_daemon_without_usage_says_so() {
    let mut app = users_app(80, 24, sample_users(), 5);
    cmd(&mut app, Cmd::GoTo(Screen::Usage));
    let query = app.usage.table_query;
    let epoch = app.epoch;
    update(
        &mut app,
        Action::Reply(mama_tui::action::Reply {
            epoch,
            tag: Tag::UsageTable { query },
            result: Err(mama_tui::client::ClientError::Api(mama_api::ApiError::new(
                mama_api::ErrorCode::MethodNotFound,
                "no such method",
            ))),
        }),
    );
    assert!(screen(&app).contains("This daemon has no usage yet (usage.query)."));
}

#[test]
fn the_usage_screen_draws_at_any_size() {
    for height in 1..=14 {
        for width in [1, 5, 10, 20, 30, 45, 80, 119, 120] {
            let mut app = usage_app(80, 24, true);
            update(&mut app, Action::Resize(width, height));
            let drawn = std::panic::catch_unwind(|| screen(&app));
            assert!(drawn.is_ok(), "usage panics at {width}×{height}");
        }
    }
}
