//! One page of users: sorted in SQL, starting at an offset or next to a cursor's row, on SQLite
//! in the shape that reads the fewest rows (see [`super::plan`] and [`super::skip`]).

use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Double, Timestamp};

use super::cursor::{Cursor, SortValue, Window};
use super::plan::{self, Plan};
use super::rows::{BoxedUsers, UserRow};
use super::skip::{self, Skip};
use crate::api::types::{UserColumn, UserFilter, UserSort};
use crate::db::schema::users;
use crate::db::{DbConn, DbError};

fn sorted(query: BoxedUsers<'_>, sort: UserSort) -> BoxedUsers<'_> {
    macro_rules! by {
        ($col:expr) => {
            if sort.descending {
                query.order_by(($col.desc(), users::id.desc()))
            } else {
                query.order_by(($col.asc(), users::id.asc()))
            }
        };
    }
    match sort.column {
        UserColumn::Id => {
            if sort.descending {
                query.order_by(users::id.desc())
            } else {
                query.order_by(users::id.asc())
            }
        }
        UserColumn::Organization => by!(users::organization),
        UserColumn::Models => by!(users::models),
        UserColumn::Services => by!(users::services),
        UserColumn::KeyStatus => by!(users::key_status),
        UserColumn::Info => by!(users::info),
        UserColumn::CreatedAt => by!(users::created_at),
        UserColumn::UpdatedAt => by!(users::updated_at),
        UserColumn::MaxBudget => by!(sql::<Double>(sort_key::MAX_BUDGET)),
        UserColumn::Spend => by!(sql::<Double>(sort_key::SPEND)),
        UserColumn::TpmLimit => by!(sql::<BigInt>(sort_key::TPM_LIMIT)),
        UserColumn::RpmLimit => by!(sql::<BigInt>(sort_key::RPM_LIMIT)),
        UserColumn::ExpiresAt => by!(sql::<Timestamp>(sort_key::EXPIRES_AT)),
        UserColumn::Status => by!(sql::<BigInt>(sort_key::STATUS)),
        UserColumn::Spend30d => by!(users::usage_spend_30d),
        UserColumn::Requests30d => by!(users::usage_requests_30d),
        UserColumn::LastUsed => by!(sql::<Timestamp>(sort_key::LAST_USED)),
    }
}

/// The sort keys of the nullable limit columns: each column with "none" replaced, so rows
/// compare as whole values (a row-value comparison with a NULL in it is never true) and "no
/// limit" sorts after every limit. The same expressions are indexed (`key_limits` migration),
/// so a page reads its rows in order from the index.
pub mod sort_key {
    pub const MAX_BUDGET: &str = "COALESCE(users.max_budget, 1e300)";
    pub const SPEND: &str = "COALESCE(users.spend, -1)";
    pub const TPM_LIMIT: &str = "COALESCE(users.tpm_limit, 9223372036854775807)";
    pub const RPM_LIMIT: &str = "COALESCE(users.rpm_limit, 9223372036854775807)";
    pub const EXPIRES_AT: &str = "COALESCE(users.expires_at, '9999-12-31 23:59:59')";
    pub const LAST_USED: &str = "COALESCE(users.last_used, '0001-01-01 00:00:00')";
    pub fn never_used() -> chrono::NaiveDateTime {
        chrono::NaiveDate::from_ymd_opt(1, 1, 1)
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .unwrap_or_default()
    }
    /// The status as a rank in `UserStatus::ALL`'s order; see the `status_sort` migration and
    /// [`status_rank`], which computes the same from a row.
    pub const STATUS: &str = "(CASE WHEN users.suspended_at IS NOT NULL THEN 0 \
        WHEN users.expires_at = users.expiry_seen THEN 1 \
        WHEN users.spend >= users.max_budget THEN 2 \
        WHEN users.key_status = 'failed' THEN 3 \
        WHEN users.key_status = 'pending' THEN 4 \
        WHEN users.key_status = 'active' THEN 5 ELSE 6 END)";
    /// What "none" sorts as, for cursors.
    pub const NO_BUDGET: f64 = 1e300;
    pub const NO_SPEND: f64 = -1.0;
    pub const NO_LIMIT: i64 = i64::MAX;
    /// [`STATUS`] of a row, for its cursor.
    pub fn status_rank(row: &super::UserRow) -> i64 {
        use crate::api::types::KeyStatus;
        if row.suspension.suspended_at.is_some() {
            0
        } else if row.limits.expires_at.is_some() && row.limits.expires_at == row.expiry_seen {
            1
        } else if matches!((row.spend, row.limits.max_budget), (Some(s), Some(b)) if s >= b) {
            2
        } else {
            match row.key_status {
                KeyStatus::Failed => 3,
                KeyStatus::Pending => 4,
                KeyStatus::Active => 5,
                KeyStatus::None => 6,
            }
        }
    }

    pub fn never() -> chrono::NaiveDateTime {
        chrono::NaiveDate::from_ymd_opt(9999, 12, 31)
            .and_then(|d| d.and_hms_opt(23, 59, 59))
            .unwrap_or_default()
    }
}

/// One page of users, filtered and sorted in the database (on SQLite in the shape that reads the
/// fewest rows, see [`plan`]), starting where `window` says. Rows come in sort order, also for
/// [`Window::Before`] (read in the reversed order, then turned around).
pub fn page(
    conn: &mut DbConn,
    filter: &UserFilter,
    available: Option<&[String]>,
    sort: UserSort,
    window: &Window,
    limit: u32,
) -> Result<Vec<UserRow>, DbError> {
    let forward = !sort.descending;
    // The order rows are read in: reversed for the rows before a cursor.
    let read_descending = sort.descending != matches!(window, Window::Before(_));
    let plan = match conn {
        DbConn::Sqlite(c) => {
            let skipped = match window {
                Window::Offset(offset) => *offset,
                Window::After(_) | Window::Before(_) => 0,
            };
            let reach = skipped.saturating_add(u64::from(limit));
            plan::for_page(c, filter, sort.column, reach)?
        }
        DbConn::Pg(_) => Plan::Portable,
    };
    let mut query = plan::build(filter, available, plan);
    match organization_skip(conn, filter, sort.column, plan, window, read_descending)? {
        Skip::From(v) if read_descending => query = query.filter(users::organization.le(v)),
        Skip::From(v) => query = query.filter(users::organization.ge(v)),
        Skip::Nothing => return Ok(Vec::new()),
        Skip::Unknown => {}
    }
    let (query, sort, offset) = match window {
        Window::Offset(offset) => (query, sort, *offset),
        Window::After(cursor) => (query.filter(cursor.past(forward)), sort, 0),
        Window::Before(cursor) => {
            let reversed = UserSort {
                descending: !sort.descending,
                ..sort
            };
            (query.filter(cursor.past(!forward)), reversed, 0)
        }
    };
    let mut rows = sorted(query, sort)
        .select(UserRow::as_select())
        .limit(i64::from(limit))
        .offset(i64::try_from(offset).unwrap_or(i64::MAX))
        .load(conn)?;
    if matches!(window, Window::Before(_)) {
        rows.reverse();
    }
    Ok(rows)
}

/// Where the matches of an `org:` term start when the page walks the organization order (see
/// [`skip`]); `Unknown` when the page does not walk that order.
fn organization_skip(
    conn: &mut DbConn,
    filter: &UserFilter,
    column: UserColumn,
    plan: Plan,
    window: &Window,
    descending: bool,
) -> Result<Skip, DbError> {
    let org = filter.organization.as_deref().filter(|o| !o.is_empty());
    let walks = matches!(plan, Plan::Portable | Plan::Sqlite { driver: None });
    let (Some(org), UserColumn::Organization, true) = (org, column, walks) else {
        return Ok(Skip::Unknown);
    };
    let start = match window {
        Window::After(cur) | Window::Before(cur) => match &cur.value {
            SortValue::Text(v) => Some(v.as_str()),
            SortValue::None | SortValue::Time(_) | SortValue::Float(_) | SortValue::Int(_) => None,
        },
        Window::Offset(_) => None,
    };
    skip::first_match(conn, org, descending, start)
}

/// The cursors of a page's first and last row (for the pages before and after it).
pub fn page_cursors(rows: &[UserRow], column: UserColumn) -> (Option<String>, Option<String>) {
    let cursor = |row: Option<&UserRow>| row.map(|r| Cursor::of(r, column).encode());
    (cursor(rows.first()), cursor(rows.last()))
}
