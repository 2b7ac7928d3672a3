//! Users ranked over each preset range (`usage_ranked`, see the `usage` migration): recomputed
//! after every collection as a new generation, read by `usage.query` for the one question that
//! would otherwise sum millions of rows at every screen refresh: the top users of a preset
//! range, ranked by spend, requests or tokens.
//!
//! On SQLite the recomputation runs in small write transactions (one per range and block of
//! users), so the daemon's other writes are never held up for long; on PostgreSQL in one.

use chrono::NaiveDate;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Date, Nullable, Text};

use super::query::{Bind, Dialect, Statement, SumRow, UsageAnswer, UsageSpec, SUMS};
use crate::api::types::{UsageGroup, UsageMeasure, UsagePreset, UsageRange, UsageRow};
use crate::db::schema::usage_collector;
use crate::db::{Db, DbConn, DbError};

/// Users per write transaction on SQLite.
const USERS_PER_BLOCK: usize = 2000;
/// Up to this many organizations a filter matches are named in the top users' query (read from
/// the organization index); beyond, the filter is tested row by row.
const MAX_NAMED_ORGANIZATIONS: usize = 200;

/// The generation in use and the day it was computed for.
fn current(conn: &mut DbConn) -> Result<(Option<i64>, Option<NaiveDate>), DbError> {
    let row: Option<(Option<i64>, Option<NaiveDate>)> = crate::per_backend!(conn, |c| {
        usage_collector::table
            .select((
                usage_collector::ranked_generation,
                usage_collector::ranked_for,
            ))
            .first(c)
            .optional()
    })?;
    Ok(row.unwrap_or((None, None)))
}

#[derive(QueryableByName)]
struct Id {
    #[diesel(sql_type = Text)]
    user_id: String,
}

/// A row of `usage_ranked_orgs`: the organization (as `k1`), its users and their sums.
#[derive(QueryableByName)]
struct OrganizationSums {
    #[diesel(sql_type = BigInt)]
    users: i64,
    #[diesel(embed)]
    sums: SumRow,
}

#[derive(QueryableByName)]
struct Generation {
    #[diesel(sql_type = Nullable<BigInt>)]
    generation: Option<i64>,
}

fn execute(conn: &mut DbConn, statement: &Statement) -> Result<usize, DbError> {
    macro_rules! run {
        ($c:expr, $backend:ty) => {{
            let mut q = diesel::sql_query(statement.sql.clone()).into_boxed::<$backend>();
            for b in &statement.binds {
                q = match b {
                    Bind::Day(d) => q.bind::<Date, _>(*d),
                    Bind::Text(t) => q.bind::<Text, _>(t.clone()),
                    Bind::Int(n) => q.bind::<BigInt, _>(*n),
                };
            }
            q.execute($c)?
        }};
    }
    Ok(match conn {
        DbConn::Sqlite(c) => run!(c, diesel::sqlite::Sqlite),
        DbConn::Pg(c) => run!(c, diesel::pg::Pg),
    })
}

/// `INSERT INTO usage_ranked` of one range's sums per user (of the users `from_user..to_user`
/// when given).
fn insert_span(
    dialect: Dialect,
    generation: i64,
    preset: UsagePreset,
    (from, to): (NaiveDate, NaiveDate),
    users: Option<(&str, &str)>,
) -> Statement {
    let mut s = Statement::new(dialect);
    s.push(
        "INSERT INTO usage_ranked (generation, span, user_id, organization, spend, \
         successful_requests, failed_requests, prompt_tokens, completion_tokens, total_tokens, \
         requests) SELECT ",
    )
    .bind(Bind::Int(generation))
    .push(", ")
    .bind(Bind::Text(preset.as_str().to_string()))
    .push(
        ", user_id, MAX(organization), SUM(spend), SUM(successful_requests), \
         SUM(failed_requests), SUM(prompt_tokens), SUM(completion_tokens), SUM(total_tokens), \
         SUM(successful_requests) + SUM(failed_requests) FROM usage_daily WHERE day >= ",
    )
    .bind(Bind::Day(from))
    .push(" AND day <= ")
    .bind(Bind::Day(to));
    if let Some((first, last)) = users {
        s.push(" AND user_id >= ")
            .bind(Bind::Text(first.to_string()))
            .push(" AND user_id <= ")
            .bind(Bind::Text(last.to_string()));
    }
    s.push(" GROUP BY user_id");
    s
}

/// Recomputes the ranking of every preset range for `today` as a new generation, switches to
/// it and deletes the old one. Returns the new generation.
pub async fn refresh(db: &Db, today: NaiveDate) -> Result<i64, DbError> {
    let (generation, users) = db
        .read(move |conn| {
            let next: Vec<Generation> = crate::per_backend!(conn, |c| diesel::sql_query(
                "SELECT MAX(generation) AS generation FROM usage_ranked"
            )
            .load(c))?;
            let stored = next.first().and_then(|g| g.generation);
            let (current, _) = current(conn)?;
            let generation = stored.max(current).unwrap_or(0) + 1;
            // Every user with usage in the longest range, in id order, for the blocks.
            let since = UsageRange::Preset(UsagePreset::Last90Days).days(today).0;
            let earliest = since.min(UsageRange::Preset(UsagePreset::LastMonth).days(today).0);
            let ids: Vec<Id> = match conn {
                DbConn::Sqlite(c) => diesel::sql_query(
                    "SELECT DISTINCT user_id FROM usage_daily WHERE day >= ? ORDER BY user_id",
                )
                .bind::<Date, _>(earliest)
                .load(c)?,
                DbConn::Pg(_) => Vec::new(),
            };
            Ok::<_, DbError>((generation, ids))
        })
        .await?;
    let blocks: Vec<(String, String)> = users
        .chunks(USERS_PER_BLOCK)
        .filter_map(|c| Some((c.first()?.user_id.clone(), c.last()?.user_id.clone())))
        .collect();
    for preset in UsagePreset::ALL {
        let range = UsageRange::Preset(preset).days(today);
        if blocks.is_empty() {
            // PostgreSQL (or no usage): the whole range at once.
            db.write(move |conn| {
                let dialect = super::query::dialect(conn);
                execute(conn, &insert_span(dialect, generation, preset, range, None))
            })
            .await?;
            continue;
        }
        for (first, last) in &blocks {
            let (first, last) = (first.clone(), last.clone());
            db.write(move |conn| {
                let dialect = super::query::dialect(conn);
                execute(
                    conn,
                    &insert_span(dialect, generation, preset, range, Some((&first, &last))),
                )
            })
            .await?;
        }
    }
    // Each ranking summed per organization, for the count and the totals.
    for preset in UsagePreset::ALL {
        db.write(move |conn| {
            let dialect = super::query::dialect(conn);
            let mut s = Statement::new(dialect);
            s.push(
                "INSERT INTO usage_ranked_orgs (generation, span, organization, users, spend, \
                 successful_requests, failed_requests, prompt_tokens, completion_tokens, \
                 total_tokens) SELECT generation, span, organization, COUNT(*), SUM(spend), \
                 SUM(successful_requests), SUM(failed_requests), SUM(prompt_tokens), \
                 SUM(completion_tokens), SUM(total_tokens) FROM usage_ranked WHERE generation = ",
            )
            .bind(Bind::Int(generation))
            .push(" AND span = ")
            .bind(Bind::Text(preset.as_str().to_string()))
            .push(" GROUP BY generation, span, organization");
            execute(conn, &s)
        })
        .await?;
    }
    db.write(move |conn| {
        crate::per_backend!(conn, |c| diesel::update(usage_collector::table)
            .set((
                usage_collector::ranked_generation.eq(Some(generation)),
                usage_collector::ranked_for.eq(Some(today)),
            ))
            .execute(c))?;
        Ok::<_, DbError>(())
    })
    .await?;
    // The old generations, one range at a time.
    for preset in UsagePreset::ALL {
        db.write(move |conn| {
            let dialect = super::query::dialect(conn);
            let mut removed = 0;
            for table in ["usage_ranked", "usage_ranked_orgs"] {
                let mut s = Statement::new(dialect);
                s.push(&format!("DELETE FROM {table} WHERE generation <> "))
                    .bind(Bind::Int(generation))
                    .push(" AND span = ")
                    .bind(Bind::Text(preset.as_str().to_string()));
                removed += execute(conn, &s)?;
            }
            Ok::<_, DbError>(removed)
        })
        .await?;
    }
    Ok(generation)
}

/// The ranked column of a measure, if it has an index.
fn ranked_column(measure: UsageMeasure) -> &'static str {
    match measure {
        UsageMeasure::Spend => "spend",
        UsageMeasure::Requests => "requests",
        UsageMeasure::Tokens => "total_tokens",
        UsageMeasure::SuccessfulRequests => "successful_requests",
        UsageMeasure::FailedRequests => "failed_requests",
    }
}

/// The answer from the ranking when it can give it: users alone, a preset range computed for
/// today, and no filter term the ranking cannot test (ids, model). `None`: ask `usage_daily`.
pub fn answer(
    conn: &mut DbConn,
    spec: &UsageSpec<'_>,
    preset: Option<UsagePreset>,
    today: NaiveDate,
) -> Result<Option<UsageAnswer>, DbError> {
    let Some(preset) = preset else {
        return Ok(None);
    };
    if spec.group != [UsageGroup::User]
        || !spec.filter.user_ids.is_empty()
        || spec.filter.model.is_some()
    {
        return Ok(None);
    }
    let (Some(generation), Some(day)) = current(conn)? else {
        return Ok(None);
    };
    if day != today {
        return Ok(None);
    }
    let dialect = super::query::dialect(conn);
    let span = preset.as_str().to_string();
    let ranking = |s: &mut Statement, table: &str| {
        s.push(&format!(" FROM {table} WHERE generation = "))
            .bind(Bind::Int(generation))
            .push(" AND span = ")
            .bind(Bind::Text(span.clone()));
    };
    // Without a text term (which tests user ids) the summary per organization answers the
    // count and the totals, and names the organizations a filter matches.
    let summary = spec.filter.text.is_none();
    let (row_count, total, organizations) = if summary {
        let mut orgs = Statement::new(dialect);
        orgs.push(
            "SELECT organization AS k1, CAST(NULL AS TEXT) AS k2, users, spend, \
             successful_requests, failed_requests, prompt_tokens, completion_tokens, total_tokens",
        );
        ranking(&mut orgs, "usage_ranked_orgs");
        super::query::organization_terms(&mut orgs, spec.filter);
        let found: Vec<OrganizationSums> = super::query::load(conn, &orgs)?;
        let mut total = crate::api::types::Usage::default();
        let mut users = 0u64;
        let mut names = Vec::with_capacity(found.len());
        for row in found {
            total.add(&row.sums.usage());
            users += row.users.max(0) as u64;
            names.push(row.sums.k1.unwrap_or_default());
        }
        (
            users,
            total,
            (spec.filter.organization.is_some() || spec.filter.scope.is_some()).then_some(names),
        )
    } else {
        let mut count = Statement::new(dialect);
        count.push("SELECT COUNT(*) AS n");
        ranking(&mut count, "usage_ranked");
        super::query::organization_terms(&mut count, spec.filter);
        let row_count = super::query::load::<super::query::CountRow>(conn, &count)?
            .first()
            .map_or(0, |c| c.n.max(0) as u64);
        let mut totals = Statement::new(dialect);
        totals.push(&format!(
            "SELECT CAST(NULL AS TEXT) AS k1, CAST(NULL AS TEXT) AS k2, {SUMS}"
        ));
        ranking(&mut totals, "usage_ranked");
        super::query::organization_terms(&mut totals, spec.filter);
        let total = super::query::load::<SumRow>(conn, &totals)?
            .first()
            .map(SumRow::usage)
            .unwrap_or_default();
        (row_count, total, None)
    };
    let mut rows = Statement::new(dialect);
    rows.push(
        "SELECT user_id AS k1, CAST(NULL AS TEXT) AS k2, spend, successful_requests, \
         failed_requests, prompt_tokens, completion_tokens, total_tokens",
    );
    ranking(&mut rows, "usage_ranked");
    match &organizations {
        // The organizations the filter matches, by name: read from their index.
        Some(names) if names.len() <= MAX_NAMED_ORGANIZATIONS => {
            if names.is_empty() {
                return Ok(Some(UsageAnswer {
                    rows: Vec::new(),
                    row_count,
                    total,
                }));
            }
            rows.push(" AND organization IN (");
            for (i, name) in names.iter().enumerate() {
                if i > 0 {
                    rows.push(", ");
                }
                rows.bind(Bind::Text(name.clone()));
            }
            rows.push(")");
        }
        _ => super::query::organization_terms(&mut rows, spec.filter),
    }
    // The order of the ranking indexes (read backwards for the largest first).
    let direction = if spec.ascending { "ASC" } else { "DESC" };
    rows.push(&format!(
        " ORDER BY {} {direction}, user_id {direction} LIMIT {}",
        ranked_column(spec.sort),
        spec.top
    ));
    let found: Vec<SumRow> = super::query::load(conn, &rows)?;
    Ok(Some(UsageAnswer {
        rows: found
            .into_iter()
            .map(|r| UsageRow {
                keys: vec![r.k1.clone().unwrap_or_default()],
                deleted: false,
                usage: r.usage(),
            })
            .collect(),
        row_count,
        total,
    }))
}
