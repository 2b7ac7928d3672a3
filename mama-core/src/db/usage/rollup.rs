//! Each user's usage of the last 30 days and last day of use, kept on its `users` row so the
//! users list sorts by them from an index (`spend_30d`, `requests_30d`, `last_used`).

use chrono::NaiveDate;
use diesel::sql_types::Date;
use diesel::RunQueryDsl;

use crate::db::{DbConn, DbError};

/// Rewrites the 30-day sums and the last day of use of every user that has usage since
/// `today − 30 days` or still shows some: users whose usage left the window drop to zero.
/// Returns how many rows it wrote.
pub fn refresh_user_rollups(conn: &mut DbConn, today: NaiveDate) -> Result<usize, DbError> {
    // The window's first day; anything older no longer counts.
    let since = today - chrono::Days::new(29);
    let sql = |p: &dyn Fn(usize) -> String| {
        format!(
            "UPDATE users SET \
               usage_spend_30d = COALESCE((SELECT SUM(u.spend) FROM usage_daily u \
                   WHERE u.user_id = users.id AND u.day >= {s}), 0), \
               usage_requests_30d = COALESCE((SELECT CAST(SUM(u.successful_requests + u.failed_requests) AS BIGINT) \
                   FROM usage_daily u WHERE u.user_id = users.id AND u.day >= {s}), 0), \
               last_used = COALESCE((SELECT {day_start} FROM usage_daily u \
                   WHERE u.user_id = users.id AND u.successful_requests + u.failed_requests > 0), users.last_used) \
             WHERE users.id IN (SELECT DISTINCT user_id FROM usage_daily WHERE day >= {w}) \
                OR users.usage_spend_30d <> 0 OR users.usage_requests_30d <> 0",
            s = p(1),
            w = p(2),
            day_start = match p(0).as_str() {
                "pg" => "CAST(MAX(u.day) AS TIMESTAMP)",
                _ => "datetime(MAX(u.day))",
            },
        )
    };
    let written = match conn {
        DbConn::Sqlite(c) => diesel::sql_query(sql(&|n| {
            if n == 0 {
                "sqlite".into()
            } else {
                format!("?{n}")
            }
        }))
        .bind::<Date, _>(since)
        .bind::<Date, _>(since)
        .execute(c)?,
        DbConn::Pg(c) => diesel::sql_query(sql(&|n| {
            if n == 0 {
                "pg".into()
            } else {
                format!("${n}")
            }
        }))
        .bind::<Date, _>(since)
        .bind::<Date, _>(since)
        .execute(c)?,
    };
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
