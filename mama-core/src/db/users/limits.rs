//! The limit, suspension and spend columns of `users` (and the default limits of
//! `organizations`) as Rust reads and writes them.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

use crate::api::types::{BudgetPeriod, Days, KeyLimits, Suspension};
use crate::db::schema::{organizations, users};
use crate::domain::limits::UserLimits;

/// The limits of a user as stored: the values that apply, and which the user set itself.
#[derive(Debug, Clone, Default, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = users)]
pub struct LimitColumns {
    pub max_budget: Option<f64>,
    pub budget_period: Option<String>,
    pub tpm_limit: Option<i64>,
    pub rpm_limit: Option<i64>,
    pub expires_at: Option<NaiveDateTime>,
    pub rotation_days: Option<i64>,
    pub limits_own: String,
}

/// An organization's default limits as stored.
#[derive(Debug, Clone, Default, PartialEq, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = organizations)]
#[diesel(treat_none_as_null = true)]
pub struct DefaultColumns {
    pub max_budget: Option<f64>,
    pub budget_period: Option<String>,
    pub tpm_limit: Option<i64>,
    pub rpm_limit: Option<i64>,
    pub expires_at: Option<NaiveDateTime>,
    pub rotation_days: Option<i64>,
}

/// Reads stored values leniently: a value no version of mama writes (a negative limit, an
/// unknown period) counts as no limit rather than failing every read of the user.
fn read(
    max_budget: Option<f64>,
    budget_period: Option<&str>,
    tpm_limit: Option<i64>,
    rpm_limit: Option<i64>,
    expires_at: Option<NaiveDateTime>,
    rotation_days: Option<i64>,
) -> KeyLimits {
    KeyLimits {
        max_budget,
        budget_period: budget_period.and_then(BudgetPeriod::parse),
        tpm_limit: tpm_limit.and_then(|n| u64::try_from(n).ok()),
        rpm_limit: rpm_limit.and_then(|n| u64::try_from(n).ok()),
        expires_at: expires_at.map(|t| t.and_utc()),
        rotation_every: rotation_days.and_then(|n| u32::try_from(n).ok()).map(Days),
    }
}

impl LimitColumns {
    pub fn limits(&self) -> UserLimits {
        UserLimits {
            values: read(
                self.max_budget,
                self.budget_period.as_deref(),
                self.tpm_limit,
                self.rpm_limit,
                self.expires_at,
                self.rotation_days,
            ),
            own: UserLimits::parse_own(&self.limits_own),
        }
    }

    pub fn of(limits: &UserLimits) -> LimitColumns {
        let v = &limits.values;
        LimitColumns {
            max_budget: v.max_budget,
            budget_period: v.budget_period.map(|p| p.as_str().to_string()),
            tpm_limit: v.tpm_limit.map(|n| n as i64),
            rpm_limit: v.rpm_limit.map(|n| n as i64),
            expires_at: v.expires_at.map(|t| t.naive_utc()),
            rotation_days: v.rotation_every.map(|d| i64::from(d.0)),
            limits_own: limits.own_column(),
        }
    }
}

impl DefaultColumns {
    pub fn limits(&self) -> KeyLimits {
        read(
            self.max_budget,
            self.budget_period.as_deref(),
            self.tpm_limit,
            self.rpm_limit,
            self.expires_at,
            self.rotation_days,
        )
    }

    pub fn of(v: &KeyLimits) -> DefaultColumns {
        DefaultColumns {
            max_budget: v.max_budget,
            budget_period: v.budget_period.map(|p| p.as_str().to_string()),
            tpm_limit: v.tpm_limit.map(|n| n as i64),
            rpm_limit: v.rpm_limit.map(|n| n as i64),
            expires_at: v.expires_at.map(|t| t.naive_utc()),
            rotation_days: v.rotation_every.map(|d| i64::from(d.0)),
        }
    }
}

/// Suspension as stored.
#[derive(Debug, Clone, Default, PartialEq, Queryable, Selectable)]
#[diesel(table_name = users)]
pub struct SuspensionColumns {
    pub suspended_at: Option<NaiveDateTime>,
    pub suspended_by: Option<String>,
    pub suspended_reason: Option<String>,
}

impl SuspensionColumns {
    pub fn suspension(&self) -> Option<Suspension> {
        self.suspended_at.map(|at| Suspension {
            at: at.and_utc(),
            by: self.suspended_by.clone().unwrap_or_default(),
            reason: self.suspended_reason.clone().unwrap_or_default(),
        })
    }
}

/// Whether an expiry has passed at `now`.
pub fn expired(expires_at: Option<NaiveDateTime>, now: DateTime<Utc>) -> bool {
    expires_at.is_some_and(|at| at.and_utc() <= now)
}

/// Limit columns ordered by their values, so users whose limits end up the same can be written
/// by one statement (grouped in a `BTreeMap`).
#[derive(Debug, Clone, PartialEq)]
pub struct OrderedLimits(pub LimitColumns);

impl OrderedLimits {
    #[allow(clippy::type_complexity)]
    fn key(
        &self,
    ) -> (
        Option<u64>,
        &Option<String>,
        Option<i64>,
        Option<i64>,
        Option<NaiveDateTime>,
        Option<i64>,
        &String,
    ) {
        let c = &self.0;
        (
            c.max_budget.map(f64::to_bits),
            &c.budget_period,
            c.tpm_limit,
            c.rpm_limit,
            c.expires_at,
            c.rotation_days,
            &c.limits_own,
        )
    }
}

impl Eq for OrderedLimits {}

impl PartialOrd for OrderedLimits {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for OrderedLimits {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.key().cmp(&other.key())
    }
}

/// Marks the expiries that have passed by `now` as seen (`expiry_seen = expires_at`), for the
/// status sort (see the `status_sort` migration); returns how many users it marked. Reads the
/// passed expiries from the expiry sort index, so a minute's run touches only new ones.
pub fn mark_passed_expiries(
    conn: &mut crate::db::DbConn,
    now: NaiveDateTime,
) -> Result<usize, crate::db::DbError> {
    use diesel::dsl::sql;
    use diesel::sql_types::{Bool, Timestamp};
    let passed = sql::<Bool>(super::paging::sort_key::EXPIRES_AT)
        .sql(" <= ")
        .bind::<Timestamp, _>(now);
    let marked = diesel::update(users::table)
        .filter(passed)
        .filter(
            users::expiry_seen
                .is_null()
                .or(users::expiry_seen.ne(users::expires_at)),
        )
        .set(users::expiry_seen.eq(users::expires_at))
        .execute(conn)?;
    Ok(marked)
}
