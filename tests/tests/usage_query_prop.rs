//! `usage.query`'s groupings against a plain in-memory computation on random data, on the
//! database the suite runs on (SQLite or PostgreSQL): every grouping and pair of groupings,
//! filters, measures, both directions and `top`.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate};
use diesel::RunQueryDsl;
use mama_core::api::types::{Usage, UsageFilter, UsageGroup, UsageMeasure};
use mama_core::db::usage::query::{query, UsageSpec};
use mama_core::db::usage::rollup::refresh_org_days;
use mama_core::db::{migrate, Db, DbConn, Location};
use mama_tests::harness::TestDatabase;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

const USERS: [(&str, &str); 5] = [
    ("alice", "research"),
    ("bob", "R&D"),
    ("김철수", "연구소"),
    ("dave", ""),
    ("erin_x", "research"),
];
const MODELS: [&str; 3] = ["mock-gpt", "gpt-4o", "claude"];
const GROUPS: [UsageGroup; 6] = [
    UsageGroup::User,
    UsageGroup::Organization,
    UsageGroup::Model,
    UsageGroup::Day,
    UsageGroup::Week,
    UsageGroup::Month,
];

fn first_day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 9, 20).expect("date")
}

#[derive(Debug, Clone)]
struct Row {
    day: NaiveDate,
    user: usize,
    model: usize,
    usage: Usage,
}

fn rows() -> impl Strategy<Value = Vec<Row>> {
    let row = (
        0u64..100,
        0..USERS.len(),
        0..MODELS.len(),
        0u32..400,
        0u64..50,
        0u64..5,
        0u64..500,
        0u64..500,
    )
        .prop_map(
            |(day, user, model, quarters, ok, failed, prompt, completion)| Row {
                day: first_day() + chrono::Days::new(day),
                user,
                model,
                // Quarters of a dollar add up exactly in binary floating point, in any order.
                usage: Usage {
                    spend: f64::from(quarters) * 0.25,
                    successful_requests: ok,
                    failed_requests: failed,
                    prompt_tokens: prompt,
                    completion_tokens: completion,
                    total_tokens: prompt + completion,
                },
            },
        );
    proptest::collection::vec(row, 0..80).prop_map(|rows| {
        // One row per (day, user, model), as stored.
        let mut unique = BTreeMap::new();
        for r in rows {
            unique.insert((r.day, r.user, r.model), r);
        }
        unique.into_values().collect()
    })
}

#[derive(Debug, Clone)]
struct Ask {
    from: NaiveDate,
    to: NaiveDate,
    group: Vec<UsageGroup>,
    filter: UsageFilter,
    sort: UsageMeasure,
    ascending: bool,
    top: u32,
}

fn asks() -> impl Strategy<Value = Ask> {
    let group = prop_oneof![
        Just(vec![]),
        (0..GROUPS.len()).prop_map(|g| vec![GROUPS[g]]),
        (0..GROUPS.len(), 0..GROUPS.len())
            .prop_filter("two different, at most one span of time", |(a, b)| {
                a != b && !(GROUPS[*a].is_time() && GROUPS[*b].is_time())
            })
            .prop_map(|(a, b)| vec![GROUPS[a], GROUPS[b]]),
    ];
    let filter = (
        proptest::option::of(proptest::sample::subsequence(
            USERS.iter().map(|(u, _)| u.to_string()).collect::<Vec<_>>(),
            1..3,
        )),
        proptest::option::of(prop_oneof![Just("RE"), Just("연구"), Just("r&"), Just("x")]),
        proptest::option::of(prop_oneof![Just("SEARCH"), Just("소"), Just("_")]),
        proptest::option::of(0..MODELS.len()),
        // An account's organization scope (issue 18): none, some, or the empty scope.
        proptest::option::of(proptest::sample::subsequence(
            vec!["research", "R&D", "연구소", "elsewhere"],
            0..3,
        )),
    )
        .prop_map(|(ids, text, org, model, scope)| UsageFilter {
            user_ids: ids.unwrap_or_default(),
            text: text.map(str::to_string),
            organization: org.map(str::to_string),
            model: model.map(|m| MODELS[m].to_string()),
            scope: scope.map(|orgs| orgs.into_iter().map(str::to_string).collect()),
        });
    (
        0u64..100,
        0u64..100,
        group,
        filter,
        0..UsageMeasure::ALL.len(),
        any::<bool>(),
        1u32..12,
    )
        .prop_map(|(a, b, group, filter, sort, ascending, top)| Ask {
            from: first_day() + chrono::Days::new(a.min(b)),
            to: first_day() + chrono::Days::new(a.max(b)),
            group,
            filter,
            sort: UsageMeasure::ALL[sort],
            ascending,
            top,
        })
}

/// The key of `row` under one grouping, as `usage.query` writes it.
fn key_of(row: &Row, group: UsageGroup) -> String {
    let (user, org) = USERS[row.user];
    match group {
        UsageGroup::User => user.to_string(),
        UsageGroup::Organization => org.to_string(),
        UsageGroup::Model => MODELS[row.model].to_string(),
        UsageGroup::Day => row.day.to_string(),
        UsageGroup::Week => (row.day
            - chrono::Days::new(u64::from(row.day.weekday().num_days_from_monday())))
        .to_string(),
        UsageGroup::Month => row.day.with_day(1).expect("first").to_string(),
    }
}

fn matches(row: &Row, ask: &Ask) -> bool {
    let (user, org) = USERS[row.user];
    let f = &ask.filter;
    let contains = |hay: &str, needle: &str| hay.to_lowercase().contains(&needle.to_lowercase());
    row.day >= ask.from
        && row.day <= ask.to
        && (f.user_ids.is_empty() || f.user_ids.iter().any(|id| id == user))
        && f.model.as_deref().is_none_or(|m| m == MODELS[row.model])
        && f.scope
            .as_ref()
            .is_none_or(|orgs| orgs.iter().any(|o| o == org))
        && f.organization.as_deref().is_none_or(|o| contains(org, o))
        && f.text
            .as_deref()
            .is_none_or(|t| contains(user, t) || contains(org, t))
}

/// The answer computed in memory: every group's sums, and the totals.
fn expected(rows: &[Row], ask: &Ask) -> (BTreeMap<Vec<String>, Usage>, Usage) {
    let mut groups: BTreeMap<Vec<String>, Usage> = BTreeMap::new();
    let mut total = Usage::default();
    for row in rows.iter().filter(|r| matches(r, ask)) {
        total.add(&row.usage);
        if !ask.group.is_empty() {
            let key = ask.group.iter().map(|g| key_of(row, *g)).collect();
            groups.entry(key).or_default().add(&row.usage);
        }
    }
    (groups, total)
}

fn execute(conn: &mut DbConn, sql: &str) {
    match conn {
        DbConn::Sqlite(c) => diesel::sql_query(sql).execute(c),
        DbConn::Pg(c) => diesel::sql_query(sql).execute(c),
    }
    .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// Stores `rows` as the collector would: the rows per user, then the rollup by organization.
fn store(conn: &mut DbConn, rows: &[Row]) {
    execute(conn, "DELETE FROM usage_daily");
    if !rows.is_empty() {
        insert(conn, rows);
    }
    refresh_org_days(conn, first_day(), first_day() + chrono::Days::new(100)).expect("rollup");
}

fn insert(conn: &mut DbConn, rows: &[Row]) {
    let values: Vec<String> = rows
        .iter()
        .map(|r| {
            let (user, org) = USERS[r.user];
            let u = &r.usage;
            format!(
                "('{}', '{user}', '{}', '{org}', {}, {}, {}, {}, {}, {})",
                r.day,
                MODELS[r.model],
                u.spend,
                u.successful_requests,
                u.failed_requests,
                u.prompt_tokens,
                u.completion_tokens,
                u.total_tokens
            )
        })
        .collect();
    execute(
        conn,
        &format!(
            "INSERT INTO usage_daily (day, user_id, model, organization, spend, successful_requests, \
             failed_requests, prompt_tokens, completion_tokens, total_tokens) VALUES {}",
            values.join(", ")
        ),
    );
}

#[test]
fn usage_query_groupings_match_an_in_memory_computation() {
    let dir = tempfile::tempdir().expect("temp dir");
    let database = TestDatabase::create(dir.path());
    let location = Location::parse(&database.url).expect("location");
    let db = Db::open_for_command(&location).expect("database opens");
    let mut conn = db.conn().expect("connection");
    migrate::run(&mut conn).expect("migrations");
    // The runner takes an `Fn`; one case at a time borrows the connection.
    let conn = std::cell::RefCell::new(conn);

    let mut runner = TestRunner::new(Config {
        cases: 96,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&(rows(), asks()), |(rows, ask)| {
            let mut conn = conn.borrow_mut();
            store(&mut conn, &rows);
            let spec = UsageSpec {
                from: ask.from,
                to: ask.to,
                filter: &ask.filter,
                group: &ask.group,
                sort: ask.sort,
                ascending: ask.ascending,
                top: ask.top,
                preset: None,
            };
            let answer = query(&mut conn, &spec).expect("query");
            let (groups, total) = expected(&rows, &ask);
            prop_assert_eq!(answer.total, total, "totals");
            prop_assert_eq!(answer.row_count, groups.len() as u64, "group count");
            prop_assert_eq!(
                answer.rows.len(),
                groups.len().min(ask.top as usize),
                "rows cut to top"
            );
            // Every row is a group with exactly its sums.
            for row in &answer.rows {
                prop_assert_eq!(row.keys.len(), ask.group.len());
                prop_assert_eq!(groups.get(&row.keys), Some(&row.usage), "{:?}", row.keys);
            }
            if ask.group.iter().all(|g| g.is_time()) && !ask.group.is_empty() {
                // Time alone: the first `top` spans in time order.
                let first: Vec<&Vec<String>> = groups.keys().take(ask.top as usize).collect();
                let got: Vec<&Vec<String>> = answer.rows.iter().map(|r| &r.keys).collect();
                prop_assert_eq!(got, first, "time order");
            } else if !ask.group.is_empty() {
                // Ranked: the measures shown are the `top` best, in order.
                let mut all: Vec<f64> = groups.values().map(|u| u.measure(ask.sort)).collect();
                all.sort_by(|a, b| a.total_cmp(b));
                if !ask.ascending {
                    all.reverse();
                }
                all.truncate(ask.top as usize);
                let got: Vec<f64> = answer
                    .rows
                    .iter()
                    .map(|r| r.usage.measure(ask.sort))
                    .collect();
                prop_assert_eq!(got, all, "ranking by {:?}", ask.sort);
            }
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{e}"));
}

/// The ranking recomputed after a collection answers "top users of a preset range" exactly as
/// summing the rows per user does: same totals, same count, same measures in the same order.
#[tokio::test]
async fn the_preset_ranking_answers_like_the_rows_it_sums() {
    use mama_core::api::types::{UsagePreset, UsageRange};
    use proptest::strategy::ValueTree;
    let dir = tempfile::tempdir().expect("temp dir");
    let database = TestDatabase::create(dir.path());
    let location = Location::parse(&database.url).expect("location");
    let db = Db::open_for_command(&location).expect("database opens");
    migrate::run(&mut db.conn().expect("connection")).expect("migrations");
    let today = chrono::Utc::now().date_naive();
    let mut runner = TestRunner::new(Config::default());
    for round in 0..6 {
        let mut rows = rows().new_tree(&mut runner).expect("rows").current();
        // Around today: the preset ranges must find something.
        for r in &mut rows {
            r.day = today - chrono::Days::new((r.day - first_day()).num_days() as u64 % 95);
        }
        let mut unique = BTreeMap::new();
        for r in rows {
            unique.insert((r.day, r.user, r.model), r);
        }
        let rows: Vec<Row> = unique.into_values().collect();
        store(&mut db.conn().expect("connection"), &rows);
        mama_core::db::usage::ranked::refresh(&db, today)
            .await
            .expect("ranking");
        for preset in UsagePreset::ALL {
            for (sort, ascending, filter) in [
                (UsageMeasure::Spend, false, UsageFilter::default()),
                (UsageMeasure::Requests, true, UsageFilter::default()),
                (
                    UsageMeasure::Tokens,
                    false,
                    UsageFilter {
                        organization: Some("SEARCH".into()),
                        ..UsageFilter::default()
                    },
                ),
                (
                    UsageMeasure::FailedRequests,
                    false,
                    UsageFilter {
                        text: Some("김".into()),
                        ..UsageFilter::default()
                    },
                ),
            ] {
                let (from, to) = UsageRange::Preset(preset).days(today);
                let spec = |preset| UsageSpec {
                    from,
                    to,
                    filter: &filter,
                    group: &[UsageGroup::User],
                    sort,
                    ascending,
                    top: 3,
                    preset,
                };
                let mut conn = db.conn().expect("connection");
                let ranked = query(&mut conn, &spec(Some(preset))).expect("ranked");
                let summed = query(&mut conn, &spec(None)).expect("summed");
                let what = format!("round {round}, {preset:?} by {sort:?}, {filter:?}");
                assert_eq!(ranked.total, summed.total, "{what}");
                assert_eq!(ranked.row_count, summed.row_count, "{what}");
                let measures = |a: &mama_core::db::usage::query::UsageAnswer| {
                    a.rows
                        .iter()
                        .map(|r| r.usage.measure(sort))
                        .collect::<Vec<_>>()
                };
                assert_eq!(measures(&ranked), measures(&summed), "{what}");
                for row in &ranked.rows {
                    let twin = summed.rows.iter().find(|r| r.keys == row.keys);
                    if let Some(twin) = twin {
                        assert_eq!(twin.usage, row.usage, "{what}: {:?}", row.keys);
                    }
                }
            }
        }
    }
}
