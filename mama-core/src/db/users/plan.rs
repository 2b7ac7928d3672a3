//! How a users filter becomes SQL, fast on 100,000 users (issue 4: a filter keystroke or a sort
//! shows the new first page in ≤ 50 ms).
//!
//! Each term of a filter can be answered two ways. *Driving*: read the users the term selects
//! through its index (the trigram index for a substring, `user_models_by_model` for a model, …),
//! then sort just those: about one row read per match. *Checking*: walk the index of the sort
//! column and test each row until the page is full: about (offset + limit) × total / matching
//! rows read. PostgreSQL's planner has statistics to choose between them; SQLite's has none and
//! picks by the shape of the SQL (`IN (subquery)` drives, a correlated `EXISTS` checks), which
//! cost 170 ms for a model most users hold sorted by organization. So on SQLite we first count
//! the candidates of each indexable term (one index range each, capped) and write the SQL in
//! the shape that reads fewer rows. Every plan returns the same rows; only the speed differs.

use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Text};
use diesel::sqlite::SqliteConnection;

use super::key_status::StoredKeyStatus;
use super::rows::BoxedUsers;
use super::terms::{like_escape, text_term, trigram_query};
use crate::api::types::{KeyStatus, UserColumn, UserFilter};
use crate::db::schema::{user_info, user_models, user_services, users};
use crate::db::{DbConn, DbError, MultiBackend};
use crate::domain::access::SENTINEL_MODELS;

pub use super::terms::Term;

/// How to write a filter as SQL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    /// SQL that any backend plans by itself: PostgreSQL (its pg_trgm indexes serve the `LIKE`
    /// terms), and callers that just need the set of matching users.
    Portable,
    /// SQLite: read the candidates of `driver` first (none: walk the sort order), and check
    /// every other term row by row.
    Sqlite { driver: Option<Term> },
}

/// A boxed condition on `users`.
pub type Cond<'a> = Box<dyn BoxableExpression<users::table, MultiBackend, SqlType = Bool> + 'a>;

/// `users.id IN (…)` for a substring of the id or organization (`org_only`: the organization),
/// on SQLite: from the trigram index, or, for terms too short for it, from a scan of the narrow
/// `user_search` table.
fn search_drive<'a>(term: &str, org_only: bool) -> Cond<'a> {
    let column = org_only.then_some("search_org");
    match trigram_query(term, column) {
        Some(q) => Box::new(
            sql::<Bool>(
                "users.id IN (SELECT s.user_id FROM user_search s WHERE s.rid IN \
                 (SELECT rowid FROM user_search_fts WHERE user_search_fts MATCH ",
            )
            .bind::<Text, _>(q)
            .sql("))"),
        ),
        None => {
            let pattern = format!("%{}%", like_escape(term));
            if org_only {
                Box::new(
                    sql::<Bool>(
                        "users.id IN (SELECT user_id FROM user_search \
                         WHERE search_org LIKE ",
                    )
                    .bind::<Text, _>(pattern)
                    .sql(" ESCAPE '\\')"),
                )
            } else {
                Box::new(
                    sql::<Bool>(
                        "users.id IN (SELECT user_id FROM user_search \
                         WHERE search_id LIKE ",
                    )
                    .bind::<Text, _>(pattern.clone())
                    .sql(" ESCAPE '\\' OR search_org LIKE ")
                    .bind::<Text, _>(pattern)
                    .sql(" ESCAPE '\\')"),
                )
            }
        }
    }
}

/// A substring test (`org_only`: of the organization) as an SQL literal. A query holding a
/// literal is never kept as a prepared statement, so PostgreSQL plans it with the actual pattern
/// every time: a kept statement switches to a generic plan after five executions, and the
/// generic plan of `LIKE $1` reads both trigram indexes whole (49 ms instead of 17 to count a
/// two-character term, whose pattern has no trigram).
fn planned_each_time<'a>(term: &str, org_only: bool) -> Cond<'a> {
    let pattern = format!("%{}%", like_escape(term));
    if org_only {
        Box::new(
            sql::<Bool>("users.search_org LIKE ")
                .bind::<Text, _>(pattern)
                .sql(" ESCAPE '\\'"),
        )
    } else {
        Box::new(
            sql::<Bool>("(users.search_id LIKE ")
                .bind::<Text, _>(pattern.clone())
                .sql(" ESCAPE '\\' OR users.search_org LIKE ")
                .bind::<Text, _>(pattern)
                .sql(" ESCAPE '\\')"),
        )
    }
}

/// A scope as SQLite's `json_each` reads it: one bind, however many organizations.
fn scope_json(scope: &[String]) -> String {
    serde_json::to_string(scope).unwrap_or_else(|_| "[]".into())
}

const SCOPE_ROWS: &str =
    "SELECT 1 FROM users WHERE organization IN (SELECT value FROM json_each(?))";

/// `users.organization IN scope`. On SQLite, driving reads the scope's users through
/// `users_organization`; checking (`+`) keeps SQLite on the sort order's index. An empty scope
/// matches nothing.
fn scope_cond<'a>(scope: &[String], sqlite: bool, drives: bool) -> Cond<'a> {
    if !sqlite {
        return Box::new(users::organization.eq_any(scope.to_vec()));
    }
    let sql_text = if drives {
        "users.id IN (SELECT s.id FROM users s WHERE s.organization IN \
         (SELECT value FROM json_each("
    } else {
        "+users.organization IN (SELECT value FROM json_each("
    };
    let close = if drives { ")))" } else { "))" };
    Box::new(
        sql::<Bool>(sql_text)
            .bind::<Text, _>(scope_json(scope))
            .sql(close),
    )
}

/// A correlated membership test in a set table, which SQLite evaluates row by row.
fn exists_in<'a>(table: &'static str, column: &'static str, value: &str) -> Cond<'a> {
    Box::new(
        sql::<Bool>(&format!(
            "EXISTS (SELECT 1 FROM {table} m WHERE m.user_id = users.id AND m.{column} = "
        ))
        .bind::<Text, _>(value.to_string())
        .sql(")"),
    )
}

/// Users matching `filter`, written as `plan` says. `available` is the current model catalog,
/// needed only for the `unavailable_models` term (without one nothing counts as unavailable).
pub fn build<'a>(filter: &UserFilter, available: Option<&[String]>, plan: Plan) -> BoxedUsers<'a> {
    let sqlite = matches!(plan, Plan::Sqlite { .. });
    let drives = |t: Term| plan == Plan::Sqlite { driver: Some(t) };
    let mut query = users::table.into_boxed();
    if let Some(text) = text_term(&filter.text) {
        query = if drives(Term::Text) {
            query.filter(search_drive(text, false))
        } else if plan == Plan::Portable {
            query.filter(planned_each_time(text, false))
        } else {
            let pattern = format!("%{}%", like_escape(text));
            query.filter(
                users::search_id
                    .like(pattern.clone())
                    .escape('\\')
                    .or(users::search_org.like(pattern).escape('\\')),
            )
        };
    }
    if let Some(org) = text_term(&filter.organization) {
        query = if drives(Term::Org) {
            query.filter(search_drive(org, true))
        } else if plan == Plan::Portable {
            query.filter(planned_each_time(org, true))
        } else {
            query.filter(
                users::search_org
                    .like(format!("%{}%", like_escape(org)))
                    .escape('\\'),
            )
        };
    }
    if let Some(model) = &filter.model {
        query = if sqlite && !drives(Term::Model) {
            query.filter(exists_in("user_models", "model", model))
        } else {
            let ids = user_models::table
                .filter(user_models::model.eq(model.clone()))
                .select(user_models::user_id);
            query.filter(users::id.eq_any(ids))
        };
    }
    if let Some(service) = &filter.service {
        query = if sqlite && !drives(Term::Service) {
            query.filter(exists_in("user_services", "service", service))
        } else {
            let ids = user_services::table
                .filter(user_services::service.eq(service.clone()))
                .select(user_services::user_id);
            query.filter(users::id.eq_any(ids))
        };
    }
    if let Some(key) = &filter.info_key {
        query = if sqlite && !drives(Term::InfoKey) {
            query.filter(exists_in("user_info", "key", key))
        } else {
            let ids = user_info::table
                .filter(user_info::key.eq(key.clone()))
                .select(user_info::user_id);
            query.filter(users::id.eq_any(ids))
        };
    }
    if let Some(status) = filter.key_status {
        query = if sqlite && !drives(Term::KeyStatus) {
            // The unary `+` keeps SQLite from reading the rows through `users_key_status`.
            query.filter(
                sql::<Bool>("+users.key_status = ").bind::<Text, _>(StoredKeyStatus(status)),
            )
        } else {
            query.filter(users::key_status.eq(StoredKeyStatus(status)))
        };
    }
    if let Some(scope) = &filter.scope {
        query = query.filter(scope_cond(scope, sqlite, drives(Term::Scope)));
    }
    if filter.unavailable_models {
        match available {
            Some(catalog) => {
                let mut known: Vec<String> = catalog.to_vec();
                known.extend(SENTINEL_MODELS.iter().map(|s| s.to_string()));
                let ids = user_models::table
                    .filter(user_models::model.ne_all(known))
                    .select(user_models::user_id);
                query = query.filter(users::id.eq_any(ids));
            }
            None => query = query.filter(users::id.ne(users::id)),
        }
    }
    row_terms(query, filter, crate::db::now())
}

/// The terms on the limit, suspension and spend columns, tested on each `users` row. `now`
/// decides which expiries have passed.
fn row_terms<'a>(
    mut query: BoxedUsers<'a>,
    filter: &UserFilter,
    now: chrono::NaiveDateTime,
) -> BoxedUsers<'a> {
    use crate::api::types::UserStatus;
    if let Some(days) = filter.expires_within_days {
        let until = now + chrono::Duration::days(i64::from(days));
        query = query.filter(users::expires_at.le(until));
    }
    if let Some(spend) = filter.spend_above {
        query = query.filter(users::spend.gt(spend));
    }
    match filter.has_budget {
        Some(true) => query = query.filter(users::max_budget.is_not_null()),
        Some(false) => query = query.filter(users::max_budget.is_null()),
        None => {}
    }
    let Some(status) = filter.status else {
        return query;
    };
    // Each user is in exactly one state: the first that applies, in this order.
    let suspended = || users::suspended_at.is_not_null();
    let expired = || users::expires_at.le(now);
    let over_budget = || users::spend.ge(users::max_budget);
    let key = |status| users::key_status.eq(StoredKeyStatus(status));
    match status {
        UserStatus::Suspended => query.filter(suspended()),
        UserStatus::Expired => query
            .filter(users::suspended_at.is_null())
            .filter(expired()),
        UserStatus::OverBudget => query
            .filter(users::suspended_at.is_null())
            .filter(users::expires_at.is_null().or(users::expires_at.gt(now)))
            .filter(over_budget()),
        key_state => {
            let key_status = match key_state {
                UserStatus::Failed => KeyStatus::Failed,
                UserStatus::Pending => KeyStatus::Pending,
                UserStatus::Active => KeyStatus::Active,
                _ => KeyStatus::None,
            };
            query
                .filter(users::suspended_at.is_null())
                .filter(users::expires_at.is_null().or(users::expires_at.gt(now)))
                .filter(
                    users::spend
                        .is_null()
                        .or(users::max_budget.is_null())
                        .or(users::spend.lt(users::max_budget)),
                )
                .filter(key(key_status))
        }
    }
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Runs `SELECT count(*) FROM (<rows> LIMIT cap)` with one text bind.
fn count_capped(
    c: &mut SqliteConnection,
    rows: &str,
    value: &str,
    cap: Option<u64>,
) -> Result<u64, DbError> {
    let cap = cap.map_or(-1, |n| i64::try_from(n).unwrap_or(i64::MAX));
    let count: Count = diesel::sql_query(format!("SELECT count(*) AS n FROM ({rows} LIMIT ?)"))
        .bind::<Text, _>(value)
        .bind::<BigInt, _>(cap)
        .get_result(c)?;
    Ok(count.n as u64)
}

const FTS_ROWS: &str = "SELECT 1 FROM user_search_fts WHERE user_search_fts MATCH ?";

/// The SQL condition on `user_search` for the substring terms of a filter, with its binds.
fn substring_condition(text: Option<&str>, org: Option<&str>) -> (String, Vec<String>) {
    let mut cond = String::from("1 = 1");
    let mut binds = Vec::new();
    if let Some(t) = text {
        let pattern = format!("%{}%", like_escape(t));
        cond.push_str(" AND (search_id LIKE ? ESCAPE '\\' OR search_org LIKE ? ESCAPE '\\')");
        binds.extend([pattern.clone(), pattern]);
    }
    if let Some(o) = org {
        cond.push_str(" AND search_org LIKE ? ESCAPE '\\'");
        binds.push(format!("%{}%", like_escape(o)));
    }
    (cond, binds)
}

/// Counts substring matches by scanning the narrow `user_search` table (not the users rows).
fn scan_count(
    c: &mut SqliteConnection,
    text: Option<&str>,
    org: Option<&str>,
) -> Result<u64, DbError> {
    let (cond, binds) = substring_condition(text, org);
    let mut q = diesel::sql_query(format!(
        "SELECT count(*) AS n FROM user_search WHERE {cond}"
    ))
    .into_boxed::<diesel::sqlite::Sqlite>();
    for b in binds {
        q = q.bind::<Text, _>(b);
    }
    let count: Count = q.get_result(c)?;
    Ok(count.n as u64)
}

/// How many rows the estimate of a short substring tests.
const SAMPLE_ROWS: u64 = 2000;

#[derive(QueryableByName)]
struct Sample {
    #[diesel(sql_type = BigInt)]
    rows: i64,
    #[diesel(sql_type = BigInt)]
    hits: i64,
}

/// Estimates the matches of a substring too short for trigrams from every n-th row of
/// `user_search` (spread over the whole table, whatever order users were created in).
fn sample_estimate(
    c: &mut SqliteConnection,
    text: Option<&str>,
    org: Option<&str>,
    total: u64,
) -> Result<u64, DbError> {
    let stride = (total / SAMPLE_ROWS).max(1);
    let (cond, binds) = substring_condition(text, org);
    let mut q = diesel::sql_query(format!(
        "WITH RECURSIVE r(x) AS (SELECT 1 UNION ALL SELECT x + ? FROM r WHERE x + ? <= ?) \
         SELECT count(*) AS rows, coalesce(sum(CASE WHEN {cond} THEN 1 ELSE 0 END), 0) AS hits \
         FROM user_search WHERE rid IN (SELECT x FROM r)"
    ))
    .into_boxed::<diesel::sqlite::Sqlite>();
    let (stride, total_i) = (stride as i64, i64::try_from(total).unwrap_or(i64::MAX));
    q = q
        .bind::<BigInt, _>(stride)
        .bind::<BigInt, _>(stride)
        .bind::<BigInt, _>(total_i);
    for b in binds {
        q = q.bind::<Text, _>(b);
    }
    let sample: Sample = q.get_result(c)?;
    if sample.rows == 0 {
        return Ok(0);
    }
    Ok((sample.hits as u64).saturating_mul(total) / sample.rows as u64)
}

/// How many users a term selects: exact when `exact`, else a lower bound (the count reached
/// its cap) or an estimate from a sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Estimate {
    pub term: Term,
    pub rows: u64,
    pub exact: bool,
}

/// Estimates for each indexable term of `filter`. Counting stops at `cap`, and at one more
/// than the smallest count so far (enough to know the smallest). Substrings shorter than a
/// trigram are estimated from a sample of `total` (an upper bound of the number of users).
pub fn estimates(
    c: &mut SqliteConnection,
    filter: &UserFilter,
    cap: Option<u64>,
    total: u64,
) -> Result<Vec<Estimate>, DbError> {
    let mut out: Vec<Estimate> = Vec::new();
    let mut cap = cap;
    let mut counted = |c: &mut SqliteConnection, term, rows: &str, value: &str| {
        let n = count_capped(c, rows, value, cap)?;
        let exact = cap.is_none_or(|limit| n < limit);
        cap = Some(cap.map_or(n + 1, |limit| limit.min(n + 1)));
        out.push(Estimate {
            term,
            rows: n,
            exact,
        });
        Ok::<_, DbError>(())
    };
    for (term, value, column) in [
        (Term::Text, &filter.text, None),
        (Term::Org, &filter.organization, Some("search_org")),
    ] {
        if let Some(q) = text_term(value).and_then(|t| trigram_query(t, column)) {
            counted(c, term, FTS_ROWS, &q)?;
        }
    }
    let sets = [
        (
            Term::Model,
            &filter.model,
            "SELECT 1 FROM user_models WHERE model = ?",
        ),
        (
            Term::Service,
            &filter.service,
            "SELECT 1 FROM user_services WHERE service = ?",
        ),
        (
            Term::InfoKey,
            &filter.info_key,
            "SELECT 1 FROM user_info WHERE key = ?",
        ),
    ];
    for (term, value, rows) in sets {
        if let Some(v) = value {
            counted(c, term, rows, v)?;
        }
    }
    if let Some(status) = filter.key_status {
        let rows = "SELECT 1 FROM users WHERE key_status = ?";
        counted(c, Term::KeyStatus, rows, StoredKeyStatus(status).as_str())?;
    }
    if let Some(scope) = &filter.scope {
        counted(c, Term::Scope, SCOPE_ROWS, &scope_json(scope))?;
    }
    for (term, value) in [
        (Term::Text, &filter.text),
        (Term::Org, &filter.organization),
    ] {
        let Some(t) = text_term(value).filter(|t| trigram_query(t, None).is_none()) else {
            continue;
        };
        let (text, org) = match term {
            Term::Text => (Some(t), None),
            _ => (None, Some(t)),
        };
        let rows = sample_estimate(c, text, org, total)?;
        out.push(Estimate {
            term,
            rows,
            exact: false,
        });
    }
    Ok(out)
}

/// The term to drive from, or `None` to walk the sort order: drive when the smallest candidate
/// set costs fewer row reads than the walk is expected to (`reach` = offset + limit rows of
/// `total`, spread evenly).
pub fn choose(estimates: &[Estimate], reach: u64, total: u64) -> Option<Term> {
    let best = estimates.iter().min_by_key(|e| e.rows)?;
    (best.rows <= drive_bound(reach, total)).then_some(best.term)
}

/// The number of candidates above which a page walks the sort order instead of driving.
fn drive_bound(reach: u64, total: u64) -> u64 {
    (reach.saturating_mul(total) as f64).sqrt() as u64
}

/// Whether SQLite can read `column` in order from an index (a walk stops after one page);
/// without one every match is read and sorted anyway, so driving always wins.
fn sort_indexed(column: UserColumn) -> bool {
    !matches!(column, UserColumn::Info | UserColumn::CreatedAt)
}

/// An upper bound of the number of users, in constant time: the largest `user_search` rowid.
fn total_bound(c: &mut SqliteConnection) -> Result<u64, DbError> {
    let count: Count =
        diesel::sql_query("SELECT coalesce(max(rid), 0) AS n FROM user_search").get_result(c)?;
    Ok(count.n as u64)
}

/// The SQLite plan for one page of `filter` sorted by `column`.
pub fn for_page(
    c: &mut SqliteConnection,
    filter: &UserFilter,
    column: UserColumn,
    reach: u64,
) -> Result<Plan, DbError> {
    if filter.is_empty() {
        return Ok(Plan::Sqlite { driver: None });
    }
    let total = total_bound(c)?;
    let reach = if sort_indexed(column) { reach } else { total };
    let bound = drive_bound(reach, total);
    let estimates = estimates(c, filter, Some(bound.saturating_add(1)), total)?;
    Ok(Plan::Sqlite {
        driver: choose(&estimates, reach, total),
    })
}

/// The SQLite plan that reads every match: drive from the most selective term (a short
/// substring drives from a scan of the narrow `user_search`).
fn drive_all(estimates: &[Estimate]) -> Plan {
    let driver = estimates.iter().min_by_key(|e| e.rows).map(|e| e.term);
    Plan::Sqlite { driver }
}

/// The SQLite plan for every user matching `filter` (ids for a bulk change).
pub fn for_all(c: &mut SqliteConnection, filter: &UserFilter) -> Result<Plan, DbError> {
    let total = total_bound(c)?;
    Ok(drive_all(&estimates(c, filter, None, total)?))
}

/// How to count the users matching a (non-empty) filter on SQLite.
pub enum Counting {
    /// An index answered it exactly: a filter of one indexed term, or of substrings only.
    Done(u64),
    /// Count the rows of this plan.
    Query(Plan),
}

/// Past this many matches a substring is counted faster by scanning `user_search` than from
/// the trigram index (whose posting lists then cover most rows).
const FTS_COUNT_MAX: u64 = 50_000;

pub fn for_count(c: &mut SqliteConnection, filter: &UserFilter) -> Result<Counting, DbError> {
    let text = text_term(&filter.text);
    let org = text_term(&filter.organization);
    let only_substrings = UserFilter {
        text: filter.text.clone(),
        organization: filter.organization.clone(),
        ..UserFilter::default()
    } == *filter;
    if only_substrings && (text.is_some() || org.is_some()) {
        let trigrams: Option<Vec<String>> = [
            text.map(|t| trigram_query(t, None)),
            org.map(|o| trigram_query(o, Some("search_org"))),
        ]
        .into_iter()
        .flatten()
        .collect();
        if let Some(trigrams) = trigrams {
            let n = count_capped(c, FTS_ROWS, &trigrams.join(" AND "), Some(FTS_COUNT_MAX))?;
            if n < FTS_COUNT_MAX {
                return Ok(Counting::Done(n));
            }
        }
        return Ok(Counting::Done(scan_count(c, text, org)?));
    }
    let total = total_bound(c)?;
    let estimates = estimates(c, filter, None, total)?;
    let terms = [
        filter.model.is_some(),
        filter.service.is_some(),
        filter.info_key.is_some(),
        filter.key_status.is_some(),
        filter.unavailable_models,
        filter.has_row_terms(),
        filter.scope.is_some(),
        text.is_some(),
        org.is_some(),
    ]
    .into_iter()
    .filter(|set| *set)
    .count();
    Ok(match estimates.as_slice() {
        [e] if terms == 1 && e.exact => Counting::Done(e.rows),
        _ => match drive_all(&estimates) {
            Plan::Sqlite {
                driver: Some(driver),
            } if super::side_count::applies(filter) => {
                Counting::Done(super::side_count::count(c, filter, driver)?)
            }
            plan => Counting::Query(plan),
        },
    })
}

/// PostgreSQL: the number of users, from the row the `user_count` triggers keep (`None` if the
/// row is missing, which the migration prevents).
pub fn pg_total(c: &mut diesel::pg::PgConnection) -> Result<Option<u64>, DbError> {
    let count: Option<Count> = diesel::sql_query("SELECT n FROM user_count WHERE id = 1")
        .get_result(c)
        .optional()?;
    Ok(count.map(|c| c.n.max(0) as u64))
}

/// The number of users matching `filter` when it is a single model, service, info key or key
/// status term, counted in that term's index alone (a set table holds one row per user and
/// member, and loses them with the user); `None` for any other filter.
pub fn single_set_count(conn: &mut DbConn, filter: &UserFilter) -> Result<Option<u64>, DbError> {
    let mut rest = filter.clone();
    let terms = (
        rest.model.take(),
        rest.service.take(),
        rest.info_key.take(),
        rest.key_status.take(),
    );
    if !rest.is_empty() {
        return Ok(None);
    }
    let n: i64 = match terms {
        (Some(m), None, None, None) => user_models::table
            .filter(user_models::model.eq(m))
            .count()
            .get_result(conn)?,
        (None, Some(s), None, None) => user_services::table
            .filter(user_services::service.eq(s))
            .count()
            .get_result(conn)?,
        (None, None, Some(k), None) => user_info::table
            .filter(user_info::key.eq(k))
            .count()
            .get_result(conn)?,
        (None, None, None, Some(status)) => users::table
            .filter(users::key_status.eq(StoredKeyStatus(status)))
            .count()
            .get_result(conn)?,
        _ => return Ok(None),
    };
    Ok(Some(n as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trigram_queries_are_lowercased_quoted_phrases_of_three_characters_or_more() {
        assert_eq!(
            trigram_query("EMP-0123", None).as_deref(),
            Some("\"emp-0123\"")
        );
        assert_eq!(
            trigram_query("R&D \"Alpha\"", Some("search_org")).as_deref(),
            Some("search_org : \"r&d \"\"alpha\"\"\"")
        );
        assert_eq!(trigram_query("연구소", None).as_deref(), Some("\"연구소\""));
        // Characters, not bytes: two Hangul syllables are six bytes but no trigram.
        assert_eq!(trigram_query("연구", None), None);
        assert_eq!(trigram_query("ab", None), None);
    }

    #[test]
    fn pages_drive_from_small_candidate_sets_and_walk_dense_ones() {
        let est = |term, rows| Estimate {
            term,
            rows,
            exact: true,
        };
        // 100,000 users, first page of 200: the walk reads about 200 × 100,000 / n rows.
        let (reach, total) = (200, 100_000);
        assert_eq!(
            choose(&[est(Term::Model, 66_666)], reach, total),
            None,
            "most users hold it: walk the sort order"
        );
        assert_eq!(
            choose(&[est(Term::Text, 100)], reach, total),
            Some(Term::Text)
        );
        assert_eq!(
            choose(
                &[est(Term::Model, 66_666), est(Term::Org, 12)],
                reach,
                total
            ),
            Some(Term::Org),
            "the smallest set drives"
        );
        assert_eq!(choose(&[], reach, total), None);
    }
}
