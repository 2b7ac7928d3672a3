//! `mama-usage-bench`: issue 17's query numbers. Seeds a database (SQLite or PostgreSQL, as
//! `MAMA_TEST_DATABASE` says) with usage of N users over D days, written inside the database
//! (each user active on about 3 days in 10, with one model or two; 50 organizations, 4
//! models), builds the rollups a collection leaves (per organization and model, the users'
//! 30-day columns, the preset ranking; each timed), then times `usage.query`'s database work
//! for the TUI's screens: the median of 7 runs after one warm-up.
//!
//! `cargo build --release -p mama-tests --bin mama-usage-bench`
//! `MAMA_TEST_DATABASE=sqlite target/release/mama-usage-bench [--users N] [--days D]`

#![forbid(unsafe_code)]

use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{Days, NaiveDate, Utc};
use diesel::RunQueryDsl;
use mama_core::api::types::{UsageFilter, UsageGroup, UsageMeasure, UsagePreset, UsageRange};
use mama_core::db::usage::query::{query, UsageSpec};
use mama_core::db::usage::{ranked, rollup};
use mama_core::db::{migrate, Db, DbConn, Location};
use mama_tests::bench::arg;
use mama_tests::harness::TestDatabase;

fn execute(conn: &mut DbConn, sql: &str) -> anyhow::Result<usize> {
    match conn {
        DbConn::Sqlite(c) => diesel::sql_query(sql).execute(c),
        DbConn::Pg(c) => diesel::sql_query(sql).execute(c),
    }
    .with_context(|| sql.chars().take(120).collect::<String>())
}

/// The seeding statement: users × days, kept where a hash of (user, day) says active.
fn seed_sql(conn: &DbConn, users: u64, days: u64, today: NaiveDate) -> String {
    let models = "CASE (i + j) % 4 WHEN 0 THEN 'mock-gpt' WHEN 1 THEN 'gpt-4o' \
                  WHEN 2 THEN 'claude' ELSE 'llama' END";
    let active = "((i * 7919 + j * 104729) % 10) < 3";
    let ok = "(1 + (i * 31 + j * 17) % 40)";
    match conn {
        DbConn::Sqlite(_) => format!(
            "WITH RECURSIVE u(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM u WHERE i < {last_user}), \
             d(j) AS (SELECT 0 UNION ALL SELECT j + 1 FROM d WHERE j < {last_day}) \
             INSERT INTO usage_daily SELECT date('{today}', '-' || j || ' days'), \
               printf('user-%06d', i), {models}, 'org-' || (i % 50), {ok} * 1.35e-05, {ok}, \
               (i + j) % 3, {ok} * 10, {ok} * 20, {ok} * 30 \
             FROM u, d WHERE {active}",
            last_user = users - 1,
            last_day = days - 1,
        ),
        DbConn::Pg(_) => format!(
            "INSERT INTO usage_daily SELECT DATE '{today}' - j, 'user-' || lpad(i::text, 6, '0'), \
               {models}, 'org-' || (i % 50), {ok} * 1.35e-05, {ok}, (i + j) % 3, {ok} * 10, \
               {ok} * 20, {ok} * 30 \
             FROM generate_series(0, {last_user}) AS i, generate_series(0, {last_day}) AS j \
             WHERE {active}",
            last_user = users - 1,
            last_day = days - 1,
        ),
    }
}

/// The users the usage belongs to (id and organization; the rest default).
fn users_sql(conn: &DbConn, users: u64) -> String {
    let last = users - 1;
    match conn {
        DbConn::Sqlite(_) => format!(
            "WITH RECURSIVE u(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM u WHERE i < {last}) \
             INSERT INTO users (id, organization, search_id, search_org, created_at, updated_at) \
             SELECT printf('user-%06d', i), 'org-' || (i % 50), printf('user-%06d', i), \
               'org-' || (i % 50), datetime('now'), datetime('now') FROM u"
        ),
        DbConn::Pg(_) => format!(
            "INSERT INTO users (id, organization, search_id, search_org, created_at, updated_at) \
             SELECT 'user-' || lpad(i::text, 6, '0'), 'org-' || (i % 50), \
               'user-' || lpad(i::text, 6, '0'), 'org-' || (i % 50), now(), now() \
             FROM generate_series(0, {last}) AS i"
        ),
    }
}

/// A timed query: its name, grouping (one or two), filter and preset range (none: the same
/// days as a custom range).
type Case<'a> = (
    &'a str,
    UsageGroup,
    Option<UsageGroup>,
    &'a UsageFilter,
    Option<UsagePreset>,
);

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let users = arg("--users", 100_000);
    let days = arg("--days", 90);
    let dir = tempfile::tempdir()?;
    let database = TestDatabase::create(dir.path());
    let location = Location::parse(&database.url).map_err(anyhow::Error::msg)?;
    let db = Db::open(&location, 4)?;
    let mut conn = db.conn()?;
    migrate::run(&mut conn)?;
    drop(conn);
    let today = Utc::now().date_naive();
    let first = today - Days::new(days - 1);

    let started = Instant::now();
    let mut conn = db.conn()?;
    let sql = seed_sql(&conn, users, days, today);
    let rows = execute(&mut conn, &sql)?;
    let sql = users_sql(&conn, users);
    execute(&mut conn, &sql)?;
    let analyze = match &*conn {
        DbConn::Sqlite(_) => "ANALYZE",
        DbConn::Pg(_) => "VACUUM ANALYZE usage_daily",
    };
    execute(&mut conn, analyze)?;
    println!(
        "{:?}: {users} users x {days} days: {rows} usage rows seeded in {:.1} s",
        database.kind,
        started.elapsed().as_secs_f64()
    );

    let started = Instant::now();
    rollup::refresh_org_days(&mut conn, first, today)?;
    println!(
        "rollup per organization and model, {days} days: {}",
        ms(started.elapsed())
    );
    let started = Instant::now();
    // A collection rewrites today and yesterday.
    rollup::refresh_org_days(&mut conn, today - Days::new(1), today)?;
    println!(
        "rollup per organization and model, 2 days: {}",
        ms(started.elapsed())
    );
    let started = Instant::now();
    let written = rollup::refresh_user_rollups(&mut conn, today, first)?;
    println!(
        "users' 30-day columns ({written} users): {}",
        ms(started.elapsed())
    );
    drop(conn);
    let started = Instant::now();
    ranked::refresh(&db, today).await?;
    println!("preset ranking (6 ranges): {}", ms(started.elapsed()));
    let mut conn = db.conn()?;
    if let DbConn::Pg(_) = &*conn {
        execute(&mut conn, "VACUUM ANALYZE")?;
    }

    let none = UsageFilter::default();
    let research = UsageFilter {
        organization: Some("org-7".into()),
        ..UsageFilter::default()
    };
    let one_user = UsageFilter {
        user_ids: vec!["user-004242".into()],
        ..UsageFilter::default()
    };
    let thirty = UsageRange::Preset(UsagePreset::Last30Days).days(today);
    let cases: Vec<Case> = vec![
        (
            "top 1000 users, 30d, by spend (ranking)",
            UsageGroup::User,
            None,
            &none,
            Some(UsagePreset::Last30Days),
        ),
        (
            "top 1000 users, 30d, org filter (ranking)",
            UsageGroup::User,
            None,
            &research,
            Some(UsagePreset::Last30Days),
        ),
        (
            "chart by day, 30d, everything (rollup)",
            UsageGroup::Day,
            None,
            &none,
            Some(UsagePreset::Last30Days),
        ),
        (
            "organizations, 30d (rollup)",
            UsageGroup::Organization,
            None,
            &none,
            Some(UsagePreset::Last30Days),
        ),
        (
            "organization x week, 30d (rollup)",
            UsageGroup::Organization,
            Some(UsageGroup::Week),
            &none,
            Some(UsagePreset::Last30Days),
        ),
        (
            "one user by model, 30d",
            UsageGroup::Model,
            None,
            &one_user,
            Some(UsagePreset::Last30Days),
        ),
        (
            "one user by day, 30d",
            UsageGroup::Day,
            None,
            &one_user,
            Some(UsagePreset::Last30Days),
        ),
        (
            "top 1000 users, custom 30 days (rows)",
            UsageGroup::User,
            None,
            &none,
            None,
        ),
    ];
    for (name, first_group, second, filter, preset) in cases {
        let mut group = vec![first_group];
        group.extend(second);
        let spec = UsageSpec {
            from: thirty.0,
            to: thirty.1,
            filter,
            group: &group,
            sort: UsageMeasure::Spend,
            ascending: false,
            top: 1000,
            preset,
        };
        let mut times = Vec::new();
        let mut shown = 0;
        for run in 0..8 {
            let started = Instant::now();
            let answer = query(&mut conn, &spec)?;
            if run > 0 {
                times.push(started.elapsed());
            }
            shown = answer.rows.len();
        }
        println!("{name:45} {:>10}  ({shown} rows)", ms(median(times)));
    }
    Ok(())
}
