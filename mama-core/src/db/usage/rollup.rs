//! Each user's usage of the last 30 days and last day of use, kept on its `users` row so the
//! users list sorts by them from an index (`spend_30d`, `requests_30d`, `last_used`).

use chrono::NaiveDate;
use diesel::sql_types::Date;
use diesel::RunQueryDsl;

use crate::db::{DbConn, DbError};

/// Rewrites the 30-day sums and the last day of use of every user with usage stored since
/// `touched_since` or inside the 30-day window, and zeroes the sums of users whose usage left
/// the window. Returns how many rows it wrote.
///
/// Two statements with `EXISTS` / `NOT EXISTS` tests, which both databases answer per user from
/// the `(user_id, day)` index: one `users.id IN (subquery) OR …` statement made PostgreSQL
/// rescan the subquery for every user once the ids outgrew `work_mem` (minutes at 100,000
/// users).
pub fn refresh_user_rollups(
    conn: &mut DbConn,
    today: NaiveDate,
    touched_since: NaiveDate,
) -> Result<usize, DbError> {
    // The window's first day; anything older no longer counts in the sums.
    let since = today - chrono::Days::new(29);
    let touched = touched_since.min(since);
    // Each statement with the days it binds, in order.
    let statements = |p: &dyn Fn(usize) -> String, day_start: &str| {
        [
            (
                format!(
                    "UPDATE users SET usage_spend_30d = 0, usage_requests_30d = 0 \
                     WHERE (usage_spend_30d <> 0 OR usage_requests_30d <> 0) \
                       AND NOT EXISTS (SELECT 1 FROM usage_daily u \
                           WHERE u.user_id = users.id AND u.day >= {s})",
                    s = p(1),
                ),
                vec![since],
            ),
            (
                format!(
                    "UPDATE users SET \
                       usage_spend_30d = COALESCE((SELECT SUM(u.spend) FROM usage_daily u \
                           WHERE u.user_id = users.id AND u.day >= {s}), 0), \
                       usage_requests_30d = COALESCE((SELECT CAST(SUM(u.successful_requests + u.failed_requests) AS BIGINT) \
                           FROM usage_daily u WHERE u.user_id = users.id AND u.day >= {s}), 0), \
                       last_used = COALESCE((SELECT {day_start} FROM usage_daily u \
                           WHERE u.user_id = users.id AND u.successful_requests + u.failed_requests > 0), users.last_used) \
                     WHERE EXISTS (SELECT 1 FROM usage_daily u \
                         WHERE u.user_id = users.id AND u.day >= {t})",
                    s = p(1),
                    t = p(2),
                ),
                vec![since, touched],
            ),
        ]
    };
    let mut written = 0;
    match conn {
        DbConn::Sqlite(c) => {
            for (sql, days) in statements(&|n| format!("?{n}"), "datetime(MAX(u.day))") {
                let mut q = diesel::sql_query(sql).into_boxed::<diesel::sqlite::Sqlite>();
                for day in days {
                    q = q.bind::<Date, _>(day);
                }
                written += q.execute(c)?;
            }
        }
        DbConn::Pg(c) => {
            for (sql, days) in statements(&|n| format!("${n}"), "CAST(MAX(u.day) AS TIMESTAMP)") {
                let mut q = diesel::sql_query(sql).into_boxed::<diesel::pg::Pg>();
                for day in days {
                    q = q.bind::<Date, _>(day);
                }
                written += q.execute(c)?;
            }
        }
    }
    Ok(written)
}

/// Rewrites `usage_daily_org` for the days `from..=to` from `usage_daily`: call it in the
/// transaction that replaced those days.
pub fn refresh_org_days(conn: &mut DbConn, from: NaiveDate, to: NaiveDate) -> Result<(), DbError> {
    let statements = |p: &dyn Fn(usize) -> String| {
        [
            format!(
                "DELETE FROM usage_daily_org WHERE day >= {} AND day <= {}",
                p(1),
                p(2)
            ),
            format!(
                "INSERT INTO usage_daily_org (day, organization, model, spend, successful_requests, \
                   failed_requests, prompt_tokens, completion_tokens, total_tokens) \
                 SELECT day, organization, model, SUM(spend), SUM(successful_requests), \
                   SUM(failed_requests), SUM(prompt_tokens), SUM(completion_tokens), SUM(total_tokens) \
                 FROM usage_daily WHERE day >= {} AND day <= {} GROUP BY day, organization, model",
                p(1),
                p(2)
            ),
        ]
    };
    match conn {
        DbConn::Sqlite(c) => {
            for sql in statements(&|n| format!("?{n}")) {
                diesel::sql_query(sql)
                    .bind::<Date, _>(from)
                    .bind::<Date, _>(to)
                    .execute(c)?;
            }
        }
        DbConn::Pg(c) => {
            for sql in statements(&|n| format!("${n}")) {
                diesel::sql_query(sql)
                    .bind::<Date, _>(from)
                    .bind::<Date, _>(to)
                    .execute(c)?;
            }
        }
    }
    Ok(())
}
