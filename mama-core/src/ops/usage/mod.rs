//! Usage use cases: `usage.query` (here) and `usage.refresh` ([`refresh`]).

mod refresh;
pub mod service;

use super::auth::AdminSession;
use super::{Ctx, Mama, OpResult};
use crate::api::rpc::{method, Method};
use crate::api::types::{UsageGroup, UsageQueryParams, UsageRange, UsageReport};
use crate::api::{ApiError, ErrorCode};
use crate::db::usage::query::{self as usage_db, UsageSpec};
use crate::db::usage::store;
use crate::db::DbError;

/// Rows `usage.query` answers unless `top` says otherwise, and the most it answers.
pub const DEFAULT_TOP: u32 = 1000;
pub const MAX_TOP: u32 = 10_000;
/// The longest range: ten years of days.
pub const MAX_RANGE_DAYS: i64 = 3660;
/// The most user ids one query names.
pub const MAX_USER_IDS: usize = 1000;

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::InvalidParams, message)
}

/// The checked form of the params: every problem named with its field.
fn check(
    params: &UsageQueryParams,
    today: chrono::NaiveDate,
) -> OpResult<(chrono::NaiveDate, chrono::NaiveDate, u32)> {
    let (from, to) = params.range.days(today);
    if from > to {
        return Err(invalid(format!("range: from ({from}) is after to ({to})")));
    }
    if (to - from).num_days() >= MAX_RANGE_DAYS {
        return Err(invalid(format!(
            "range: at most {MAX_RANGE_DAYS} days, got {}",
            (to - from).num_days() + 1
        )));
    }
    if params.group.len() > 2 {
        return Err(invalid(format!(
            "group: at most two groupings, got {}",
            params.group.len()
        )));
    }
    if params.group.len() == 2 && params.group[0] == params.group[1] {
        return Err(invalid(format!(
            "group: {} given twice",
            params.group[0].as_str()
        )));
    }
    if params.group.len() == 2 && params.group.iter().all(|g| g.is_time()) {
        return Err(invalid("group: at most one of day, week and month"));
    }
    let top = params.top.unwrap_or(DEFAULT_TOP);
    if top == 0 || top > MAX_TOP {
        return Err(invalid(format!("top: 1..={MAX_TOP}, got {top}")));
    }
    let filter = &params.filter;
    if filter.user_ids.len() > MAX_USER_IDS {
        return Err(invalid(format!(
            "filter.user_ids: at most {MAX_USER_IDS} ids, got {}",
            filter.user_ids.len()
        )));
    }
    if let Some(bad) = filter.user_ids.iter().find(|id| id.trim().is_empty()) {
        return Err(invalid(format!("filter.user_ids: an empty id ({bad:?})")));
    }
    for (field, value) in [
        ("filter.text", &filter.text),
        ("filter.organization", &filter.organization),
        ("filter.model", &filter.model),
    ] {
        if value.as_deref().is_some_and(|v| v.trim().is_empty()) {
            return Err(invalid(format!(
                "{field}: empty (leave it out to match all)"
            )));
        }
    }
    Ok((from, to, top))
}

impl Mama {
    /// `usage.query`: usage in a range of days, grouped, filtered and ranked in the database.
    pub async fn usage_query(
        &self,
        ctx: &Ctx,
        s: &AdminSession,
        mut params: UsageQueryParams,
    ) -> OpResult<UsageReport> {
        // A scoped account sees its organizations' usage only (and never the keys that are
        // not mama's, which belong to no organization).
        params.filter.scope = s.scope();
        let today = chrono::Utc::now().date_naive();
        let result = match check(&params, today) {
            Err(err) => Err(err),
            Ok((from, to, top)) => self
                .db
                .read(move |conn| {
                    let spec = UsageSpec {
                        from,
                        to,
                        filter: &params.filter,
                        group: &params.group,
                        sort: params.sort,
                        ascending: params.ascending,
                        top,
                        preset: match params.range {
                            UsageRange::Preset(preset) => Some(preset),
                            UsageRange::Days { .. } => None,
                        },
                    };
                    let mut answer = usage_db::query(conn, &spec)?;
                    if let Some(user_col) = params.group.iter().position(|g| *g == UsageGroup::User)
                    {
                        let ids: Vec<String> = answer
                            .rows
                            .iter()
                            .filter_map(|r| r.keys.get(user_col).cloned())
                            .collect();
                        let deleted = usage_db::deleted_among(conn, &ids)?;
                        for row in &mut answer.rows {
                            row.deleted = row
                                .keys
                                .get(user_col)
                                .is_some_and(|id| deleted.contains(id));
                        }
                    }
                    let unfiltered = params.filter == Default::default();
                    let not_mamas = if unfiltered {
                        Some(usage_db::not_mamas(conn, from, to)?)
                    } else {
                        None
                    };
                    let collection = store::collection(conn)?;
                    let mut shown = crate::api::types::Usage::default();
                    for row in &answer.rows {
                        shown.add(&row.usage);
                    }
                    let rest = (answer.row_count > answer.rows.len() as u64).then(|| {
                        let t = &answer.total;
                        crate::api::types::Usage {
                            spend: (t.spend - shown.spend).max(0.0),
                            successful_requests: t
                                .successful_requests
                                .saturating_sub(shown.successful_requests),
                            failed_requests: t
                                .failed_requests
                                .saturating_sub(shown.failed_requests),
                            prompt_tokens: t.prompt_tokens.saturating_sub(shown.prompt_tokens),
                            completion_tokens: t
                                .completion_tokens
                                .saturating_sub(shown.completion_tokens),
                            total_tokens: t.total_tokens.saturating_sub(shown.total_tokens),
                        }
                    });
                    Ok::<_, DbError>(UsageReport {
                        from,
                        to,
                        group: params.group.clone(),
                        rows: answer.rows,
                        rest,
                        row_count: answer.row_count,
                        total: answer.total,
                        not_mamas,
                        collection,
                    })
                })
                .await
                .map_err(ApiError::from),
        };
        self.finish_read(
            ctx.event(method::UsageQuery::ACTION),
            result,
            |e, report| e.count(report.rows.len() as u64),
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::types::{UsageFilter, UsageRange};
    use chrono::NaiveDate;

    fn day(s: &str) -> NaiveDate {
        s.parse().expect("date")
    }

    fn params(range: UsageRange, group: Vec<UsageGroup>) -> UsageQueryParams {
        UsageQueryParams {
            range,
            group,
            filter: UsageFilter::default(),
            sort: Default::default(),
            ascending: false,
            top: None,
        }
    }

    #[test]
    fn bad_params_are_named() {
        let today = day("2026-12-07");
        let backwards = params(
            UsageRange::Days {
                from: day("2026-12-07"),
                to: day("2026-12-01"),
            },
            vec![],
        );
        let err = check(&backwards, today).expect_err("backwards");
        assert!(err.message.contains("range"), "{}", err.message);
        let three = params(
            UsageRange::default(),
            vec![UsageGroup::User, UsageGroup::Model, UsageGroup::Day],
        );
        assert!(check(&three, today)
            .expect_err("three")
            .message
            .contains("group"));
        let two_times = params(
            UsageRange::default(),
            vec![UsageGroup::Day, UsageGroup::Week],
        );
        assert!(check(&two_times, today).is_err());
        let mut zero = params(UsageRange::default(), vec![UsageGroup::User]);
        zero.top = Some(0);
        assert!(check(&zero, today)
            .expect_err("top")
            .message
            .contains("top"));
        let ok = params(
            UsageRange::default(),
            vec![UsageGroup::Organization, UsageGroup::Week],
        );
        assert_eq!(
            check(&ok, today).expect("ok"),
            (day("2026-11-08"), day("2026-12-07"), DEFAULT_TOP)
        );
    }
}
