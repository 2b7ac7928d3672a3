//! `GET /api/v1/usage`: a service reads the usage of users that allow it, by day or by model.
//! The same rule as the key lookup: a user whose allowed services do not include the calling
//! service is answered without usage (`withheld: service_not_allowed`).

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;
use diesel::prelude::*;

use crate::api::actions;
use crate::api::rest::{
    KeyWithheld, UsageBy, UsageItem, UsageResponse, UserUsage, MAX_USAGE_DAYS, MAX_USAGE_IDS,
};
use crate::api::types::{Usage, UsageFilter, UsageGroup, UsageMeasure};
use crate::api::{ApiError, ErrorCode};
use crate::db::schema::users;
use crate::db::usage::query::{self as usage_db, UsageSpec};
use crate::db::usage::store;
use crate::db::{DbConn, DbError};
use crate::domain::{validate, NameSet};
use crate::ops::{Actor, Ctx, Mama, OpResult};

/// A service's usage request as the query string gave it, still unchecked.
#[derive(Debug, Clone, Default)]
pub struct UsageRequest {
    pub user_ids: Vec<String>,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub group: UsageBy,
}

fn check(request: &UsageRequest, today: NaiveDate) -> OpResult<(NaiveDate, NaiveDate)> {
    let ids = &request.user_ids;
    if ids.is_empty() || ids.len() > MAX_USAGE_IDS {
        return Err(ApiError::invalid(
            "user_ids",
            format!("must hold 1 to {MAX_USAGE_IDS} ids (got {})", ids.len()),
        ));
    }
    let mut problems = validate::Problems::default();
    for (i, id) in ids.iter().enumerate() {
        if let Err(msg) = validate::user_id(id) {
            problems.push(format!("user_ids[{i}]"), msg, Some(i));
        }
    }
    if !problems.is_empty() {
        return Err(ApiError::invalid_fields(problems.errors));
    }
    let to = request.to.unwrap_or(today);
    let from = match request.from {
        Some(from) => from,
        None => to.checked_sub_days(chrono::Days::new(29)).unwrap_or(to),
    };
    if from > to {
        return Err(ApiError::invalid(
            "from",
            format!("{from} is after to ({to})"),
        ));
    }
    if (to - from).num_days() >= MAX_USAGE_DAYS {
        return Err(ApiError::invalid(
            "to",
            format!(
                "the range covers {} days; at most {MAX_USAGE_DAYS}",
                (to - from).num_days() + 1
            ),
        ));
    }
    Ok((from, to))
}

/// The allowed services of those of `ids` that are users.
fn services_of(conn: &mut DbConn, ids: &[String]) -> Result<HashMap<String, String>, DbError> {
    let mut found = HashMap::new();
    for chunk in ids.chunks(500) {
        let rows: Vec<(String, String)> = match conn {
            DbConn::Sqlite(c) => users::table
                .filter(users::id.eq_any(chunk))
                .select((users::id, users::services))
                .load(c)?,
            DbConn::Pg(c) => users::table
                .filter(users::id.eq_any(chunk))
                .select((users::id, users::services))
                .load(c)?,
        };
        found.extend(rows);
    }
    Ok(found)
}

impl Mama {
    /// `GET /api/v1/usage`: the usage of each requested user in the range, by day or by model.
    pub async fn service_usage(&self, ctx: &Ctx, request: UsageRequest) -> OpResult<UsageResponse> {
        let ids = request.user_ids.clone();
        let result = self.service_usage_inner(ctx, request).await;
        let event = ctx.event(actions::REST_USAGE).users(&ids);
        self.finish_read(event, result, |e, answer| {
            e.detail(format!(
                "{} users, missing {}",
                answer.users.len(),
                answer.missing.len()
            ))
        })
        .await
    }

    async fn service_usage_inner(
        &self,
        ctx: &Ctx,
        request: UsageRequest,
    ) -> OpResult<UsageResponse> {
        let service = match &ctx.actor {
            Actor::Service(service) => service.clone(),
            _ => {
                return Err(ApiError::new(
                    ErrorCode::Unauthenticated,
                    "a service token is required",
                ))
            }
        };
        let (from, to) = check(&request, chrono::Utc::now().date_naive())?;
        let by = request.group;
        let mut ids = request.user_ids;
        // One answer per id, in request order.
        let mut seen = std::collections::HashSet::new();
        ids.retain(|id| seen.insert(id.clone()));
        self.db
            .read(move |conn| {
                let services = services_of(conn, &ids)?;
                let allowed: Vec<String> = ids
                    .iter()
                    .filter(|id| {
                        services.get(*id).is_some_and(|s| {
                            NameSet::from_json(s).is_ok_and(|set| set.contains(&service))
                        })
                    })
                    .cloned()
                    .collect();
                let mut by_user: BTreeMap<String, Vec<UsageItem>> = BTreeMap::new();
                if !allowed.is_empty() {
                    let filter = UsageFilter {
                        user_ids: allowed.clone(),
                        ..UsageFilter::default()
                    };
                    let second = match by {
                        UsageBy::Day => UsageGroup::Day,
                        UsageBy::Model => UsageGroup::Model,
                    };
                    let days = (to - from).num_days() as u32 + 1;
                    let spec = UsageSpec {
                        from,
                        to,
                        filter: &filter,
                        group: &[UsageGroup::User, second],
                        sort: UsageMeasure::Spend,
                        ascending: false,
                        top: (allowed.len() as u32).saturating_mul(days.max(1)).max(1),
                        preset: None,
                    };
                    for row in usage_db::query(conn, &spec)?.rows {
                        let [user, key] = <[String; 2]>::try_from(row.keys).unwrap_or_default();
                        by_user.entry(user).or_default().push(UsageItem {
                            key,
                            usage: row.usage,
                        });
                    }
                }
                let as_of = store::collection(conn)?.as_of;
                let mut users = Vec::new();
                let mut missing = Vec::new();
                for id in ids {
                    if !services.contains_key(&id) {
                        missing.push(id);
                        continue;
                    }
                    if !allowed.contains(&id) {
                        users.push(UserUsage {
                            id,
                            withheld: Some(KeyWithheld::ServiceNotAllowed),
                            total: Usage::default(),
                            rows: Vec::new(),
                        });
                        continue;
                    }
                    let mut rows = by_user.remove(&id).unwrap_or_default();
                    // Days in time order; models by spend, the largest first.
                    if by == UsageBy::Day {
                        rows.sort_by(|a, b| a.key.cmp(&b.key));
                    }
                    let mut total = Usage::default();
                    for row in &rows {
                        total.add(&row.usage);
                    }
                    users.push(UserUsage {
                        id,
                        withheld: None,
                        total,
                        rows,
                    });
                }
                Ok::<_, DbError>(UsageResponse {
                    from,
                    to,
                    group: by,
                    users,
                    missing,
                    as_of,
                })
            })
            .await
            .map_err(ApiError::from)
    }
}
