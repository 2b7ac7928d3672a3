//! The read side of usage: `usage.query`'s groupings, summed in the database.
//!
//! One statement per answer part, each a `GROUP BY` in the day range: the ranked rows (cut to
//! `top` in SQL), how many groups there are, and the totals. When no grouping or filter names a
//! user the rows come from `usage_daily_org` (summed over users per day, organization and model:
//! thousands of rows for 90 days, not millions); otherwise from `usage_daily`, through its
//! primary key (which starts with the day) or the user, organization or model index. Weeks and months are computed from the day by each backend's date
//! functions, so both answer the same keys (`2026-11-30` for the ISO week starting that Monday,
//! `2026-12-01` for December).

use chrono::NaiveDate;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Date, Double, Nullable, Text};

use crate::api::types::{Usage, UsageFilter, UsageGroup, UsageMeasure, UsagePreset, UsageRow};
use crate::db::{DbConn, DbError};

/// What to sum: the range, the filter, the groupings and the ranking.
#[derive(Debug, Clone)]
pub struct UsageSpec<'a> {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub filter: &'a UsageFilter,
    pub group: &'a [UsageGroup],
    pub sort: UsageMeasure,
    pub ascending: bool,
    pub top: u32,
    /// The preset the range came from: the top users of a preset range are read from the
    /// ranking recomputed after every collection ([`super::ranked`]).
    pub preset: Option<UsagePreset>,
}

/// The rows (at most `top`), how many groups there were, and the totals of everything matched.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UsageAnswer {
    pub rows: Vec<UsageRow>,
    pub row_count: u64,
    pub total: Usage,
}

/// A value bound to a placeholder.
#[derive(Debug, Clone)]
pub(super) enum Bind {
    Day(NaiveDate),
    Text(String),
    Int(i64),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Dialect {
    Sqlite,
    Pg,
}

/// SQL text with its binds in order; placeholders are written per backend.
pub(super) struct Statement {
    dialect: Dialect,
    pub(super) sql: String,
    pub(super) binds: Vec<Bind>,
}

impl Statement {
    pub(super) fn new(dialect: Dialect) -> Self {
        Statement {
            dialect,
            sql: String::new(),
            binds: Vec::new(),
        }
    }

    pub(super) fn push(&mut self, text: &str) -> &mut Self {
        self.sql.push_str(text);
        self
    }

    pub(super) fn bind(&mut self, value: Bind) -> &mut Self {
        self.binds.push(value);
        match self.dialect {
            Dialect::Sqlite => self.sql.push('?'),
            Dialect::Pg => {
                let n = self.binds.len();
                self.sql.push_str(&format!("${n}"));
            }
        }
        self
    }
}

macro_rules! run_boxed {
    ($conn:expr, $statement:expr, $backend:ty, $row:ty) => {{
        let mut q = diesel::sql_query($statement.sql.clone()).into_boxed::<$backend>();
        for b in &$statement.binds {
            q = match b {
                Bind::Day(d) => q.bind::<Date, _>(*d),
                Bind::Text(t) => q.bind::<Text, _>(t.clone()),
                Bind::Int(n) => q.bind::<BigInt, _>(*n),
            };
        }
        q.load::<$row>($conn)
    }};
}

pub(super) fn load<R>(conn: &mut DbConn, statement: &Statement) -> Result<Vec<R>, DbError>
where
    R: QueryableByName<diesel::sqlite::Sqlite> + QueryableByName<diesel::pg::Pg> + 'static,
{
    Ok(match conn {
        DbConn::Sqlite(c) => run_boxed!(c, statement, diesel::sqlite::Sqlite, R)?,
        DbConn::Pg(c) => run_boxed!(c, statement, diesel::pg::Pg, R)?,
    })
}

/// The key of a grouping as text, per backend.
fn group_key(dialect: Dialect, group: UsageGroup) -> &'static str {
    match (dialect, group) {
        (_, UsageGroup::User) => "user_id",
        (_, UsageGroup::Organization) => "organization",
        (_, UsageGroup::Model) => "model",
        (Dialect::Sqlite, UsageGroup::Day) => "day",
        (Dialect::Pg, UsageGroup::Day) => "CAST(day AS TEXT)",
        // Monday of the ISO week: %w is 0 for Sunday.
        (Dialect::Sqlite, UsageGroup::Week) => {
            "date(day, '-' || ((CAST(strftime('%w', day) AS INTEGER) + 6) % 7) || ' days')"
        }
        (Dialect::Pg, UsageGroup::Week) => "CAST(CAST(date_trunc('week', day) AS DATE) AS TEXT)",
        (Dialect::Sqlite, UsageGroup::Month) => "date(day, 'start of month')",
        (Dialect::Pg, UsageGroup::Month) => "CAST(CAST(date_trunc('month', day) AS DATE) AS TEXT)",
    }
}

pub(super) const SUMS: &str = "COALESCE(SUM(spend), 0) AS spend, \
     CAST(COALESCE(SUM(successful_requests), 0) AS BIGINT) AS successful_requests, \
     CAST(COALESCE(SUM(failed_requests), 0) AS BIGINT) AS failed_requests, \
     CAST(COALESCE(SUM(prompt_tokens), 0) AS BIGINT) AS prompt_tokens, \
     CAST(COALESCE(SUM(completion_tokens), 0) AS BIGINT) AS completion_tokens, \
     CAST(COALESCE(SUM(total_tokens), 0) AS BIGINT) AS total_tokens";

/// The ranking expression of a measure over a group.
fn measure_sql(measure: UsageMeasure) -> &'static str {
    match measure {
        UsageMeasure::Spend => "SUM(spend)",
        UsageMeasure::Requests => "SUM(successful_requests) + SUM(failed_requests)",
        UsageMeasure::SuccessfulRequests => "SUM(successful_requests)",
        UsageMeasure::FailedRequests => "SUM(failed_requests)",
        UsageMeasure::Tokens => "SUM(total_tokens)",
    }
}

/// A case-insensitive substring pattern for `LIKE` with `\` escaping.
fn contains_pattern(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len() + 2);
    escaped.push('%');
    for c in text.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped.push('%');
    escaped
}

/// Whether the answer can come from `usage_daily_org` (summed over users): no grouping or
/// filter term names a user.
fn by_organization(spec: &UsageSpec<'_>) -> bool {
    !spec.group.contains(&UsageGroup::User)
        && spec.filter.user_ids.is_empty()
        && spec.filter.text.is_none()
}

/// `FROM <table> WHERE <range and filter>`: the rollup by organization when it answers as
/// well, else the rows per user.
fn from_where(statement: &mut Statement, spec: &UsageSpec<'_>) {
    let table = if by_organization(spec) {
        "usage_daily_org"
    } else {
        "usage_daily"
    };
    statement
        .push(&format!(" FROM {table} WHERE day >= "))
        .bind(Bind::Day(spec.from))
        .push(" AND day <= ")
        .bind(Bind::Day(spec.to));
    let filter = spec.filter;
    if !filter.user_ids.is_empty() {
        statement.push(" AND user_id IN (");
        for (i, id) in filter.user_ids.iter().enumerate() {
            if i > 0 {
                statement.push(", ");
            }
            statement.bind(Bind::Text(id.clone()));
        }
        statement.push(")");
    }
    if let Some(model) = &filter.model {
        statement
            .push(" AND model = ")
            .bind(Bind::Text(model.clone()));
    }
    organization_terms(statement, filter);
}

/// The filter's `organization` and `text` terms (`AND …`), for any table with `user_id` and
/// `organization` columns.
pub(super) fn organization_terms(statement: &mut Statement, filter: &UsageFilter) {
    // The account's scope: only its organizations' rows, none for an empty scope.
    if let Some(scope) = &filter.scope {
        if scope.is_empty() {
            statement.push(" AND 1 = 0");
        } else {
            statement.push(" AND organization IN (");
            for (i, org) in scope.iter().enumerate() {
                if i > 0 {
                    statement.push(", ");
                }
                statement.bind(Bind::Text(org.clone()));
            }
            statement.push(")");
        }
    }
    if let Some(org) = &filter.organization {
        statement
            .push(" AND lower(organization) LIKE ")
            .bind(Bind::Text(contains_pattern(org)))
            .push(" ESCAPE '\\'");
    }
    if let Some(text) = &filter.text {
        let pattern = contains_pattern(text);
        statement
            .push(" AND (lower(user_id) LIKE ")
            .bind(Bind::Text(pattern.clone()))
            .push(" ESCAPE '\\' OR lower(organization) LIKE ")
            .bind(Bind::Text(pattern))
            .push(" ESCAPE '\\')");
    }
}

#[derive(QueryableByName)]
pub(super) struct SumRow {
    #[diesel(sql_type = Nullable<Text>)]
    pub(super) k1: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    k2: Option<String>,
    #[diesel(sql_type = Double)]
    spend: f64,
    #[diesel(sql_type = BigInt)]
    successful_requests: i64,
    #[diesel(sql_type = BigInt)]
    failed_requests: i64,
    #[diesel(sql_type = BigInt)]
    prompt_tokens: i64,
    #[diesel(sql_type = BigInt)]
    completion_tokens: i64,
    #[diesel(sql_type = BigInt)]
    total_tokens: i64,
}

impl SumRow {
    pub(super) fn usage(&self) -> Usage {
        let n = |v: i64| v.max(0) as u64;
        Usage {
            spend: self.spend,
            successful_requests: n(self.successful_requests),
            failed_requests: n(self.failed_requests),
            prompt_tokens: n(self.prompt_tokens),
            completion_tokens: n(self.completion_tokens),
            total_tokens: n(self.total_tokens),
        }
    }
}

#[derive(QueryableByName)]
pub(super) struct CountRow {
    #[diesel(sql_type = BigInt)]
    pub(super) n: i64,
}

pub(super) fn dialect(conn: &DbConn) -> Dialect {
    match conn {
        DbConn::Sqlite(_) => Dialect::Sqlite,
        DbConn::Pg(_) => Dialect::Pg,
    }
}

/// Sums usage as `spec` asks. At most two groupings (the caller checks).
pub fn query(conn: &mut DbConn, spec: &UsageSpec<'_>) -> Result<UsageAnswer, DbError> {
    let today = chrono::Utc::now().date_naive();
    if let Some(answer) = super::ranked::answer(conn, spec, spec.preset, today)? {
        return Ok(answer);
    }
    let dialect = dialect(conn);
    let keys: Vec<&str> = spec.group.iter().map(|g| group_key(dialect, *g)).collect();
    let key_columns = |statement: &mut Statement| {
        let k1 = keys.first().copied().unwrap_or("NULL");
        let k2 = keys.get(1).copied().unwrap_or("NULL");
        statement.push(&format!(
            "SELECT CAST({k1} AS TEXT) AS k1, CAST({k2} AS TEXT) AS k2, {SUMS}"
        ));
    };

    // Totals of everything matched.
    let mut totals = Statement::new(dialect);
    totals.push(&format!(
        "SELECT CAST(NULL AS TEXT) AS k1, CAST(NULL AS TEXT) AS k2, {SUMS}"
    ));
    from_where(&mut totals, spec);
    let total = load::<SumRow>(conn, &totals)?
        .first()
        .map(SumRow::usage)
        .unwrap_or_default();
    if keys.is_empty() {
        return Ok(UsageAnswer {
            rows: Vec::new(),
            row_count: 0,
            total,
        });
    }
    let group_by = (1..=keys.len())
        .map(|i| format!("k{i}"))
        .collect::<Vec<_>>()
        .join(", ");

    // How many groups.
    let mut count = Statement::new(dialect);
    count.push(&format!(
        "SELECT COUNT(*) AS n FROM (SELECT {}",
        keys.join(", ")
    ));
    from_where(&mut count, spec);
    count.push(&format!(" GROUP BY {}) AS g", keys.join(", ")));
    let row_count = load::<CountRow>(conn, &count)?
        .first()
        .map_or(0, |c| c.n.max(0) as u64);

    // The ranked rows; time alone comes in time order.
    let mut rows = Statement::new(dialect);
    key_columns(&mut rows);
    from_where(&mut rows, spec);
    rows.push(&format!(" GROUP BY {group_by} ORDER BY "));
    let by_time = spec.group.iter().all(|g| g.is_time());
    if by_time {
        rows.push(&group_by);
    } else {
        // Ties in the same direction as the measure, so a ranking index reads either way.
        let direction = if spec.ascending { "ASC" } else { "DESC" };
        let ties = (1..=keys.len())
            .map(|i| format!("k{i} {direction}"))
            .collect::<Vec<_>>()
            .join(", ");
        rows.push(&format!("{} {direction}, {ties}", measure_sql(spec.sort)));
    }
    rows.push(&format!(" LIMIT {}", spec.top));
    let rows = load::<SumRow>(conn, &rows)?
        .into_iter()
        .map(|r| UsageRow {
            keys: [r.k1.clone(), r.k2.clone()]
                .into_iter()
                .take(keys.len())
                .map(Option::unwrap_or_default)
                .collect(),
            deleted: false,
            usage: r.usage(),
        })
        .collect();
    Ok(UsageAnswer {
        rows,
        row_count,
        total,
    })
}

/// Usage of keys that are not mama's in the range (every model).
pub fn not_mamas(conn: &mut DbConn, from: NaiveDate, to: NaiveDate) -> Result<Usage, DbError> {
    let dialect = dialect(conn);
    let mut statement = Statement::new(dialect);
    statement
        .push(&format!(
            "SELECT CAST(NULL AS TEXT) AS k1, CAST(NULL AS TEXT) AS k2, {SUMS} FROM usage_other WHERE day >= "
        ))
        .bind(Bind::Day(from))
        .push(" AND day <= ")
        .bind(Bind::Day(to));
    Ok(load::<SumRow>(conn, &statement)?
        .first()
        .map(SumRow::usage)
        .unwrap_or_default())
}

/// Which of `ids` are no longer users (their history is kept).
pub fn deleted_among(
    conn: &mut DbConn,
    ids: &[String],
) -> Result<std::collections::HashSet<String>, DbError> {
    use crate::db::schema::users;
    let mut existing = std::collections::HashSet::new();
    for chunk in ids.chunks(500) {
        let found: Vec<String> = match conn {
            DbConn::Sqlite(c) => users::table
                .filter(users::id.eq_any(chunk))
                .select(users::id)
                .load(c)?,
            DbConn::Pg(c) => users::table
                .filter(users::id.eq_any(chunk))
                .select(users::id)
                .load(c)?,
        };
        existing.extend(found);
    }
    Ok(ids
        .iter()
        .filter(|id| !existing.contains(*id))
        .cloned()
        .collect())
}
