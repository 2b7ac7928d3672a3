//! An `org:` term on a list sorted by organization, by skipping whole organizations.
//!
//! Walking the organization index and testing each row assumes the matches are spread evenly
//! through the sort order; for a substring of the sort column itself they are not: every
//! `org:연구소` match sorts after every `Sales…` and `Ops…` row, so the walk read 80,000 rows
//! before the first match (200 ms). All rows of one organization match or none does, so the walk
//! can instead visit each distinct organization once (one index seek, one row read) until the
//! first one that matches, and the page then walks the index from there. PostgreSQL walked the
//! same 80,000 rows (its statistics cannot see the correlation either), so it skips the same way.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Nullable, Text};

use super::terms::like_escape;
use crate::db::{DbConn, DbError};

/// Distinct organizations visited at most before giving up on skipping (then the page walks
/// row by row as before).
const MAX_VISITS: i64 = 5000;

/// Where the matches of an `org:` term start in the organization order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Skip {
    /// The first matching organization at or past the start.
    From(String),
    /// No organization at or past the start matches.
    Nothing,
    /// Too many organizations to visit: walk row by row.
    Unknown,
}

#[derive(QueryableByName)]
struct Visit {
    #[diesel(sql_type = Nullable<Text>)]
    v: Option<String>,
    #[diesel(sql_type = BigInt)]
    n: i64,
    #[diesel(sql_type = Bool)]
    hit: bool,
}

// Whether organization `o.v` matches: the search text of its first row only (all its rows have
// the same one), or the test would read every row of every organization it skips.
macro_rules! org_matches {
    () => {
        "((SELECT u.search_org FROM users u WHERE u.organization = o.v LIMIT 1) \
         LIKE ?2 ESCAPE '\\')"
    };
}

// The recursive walk over distinct organizations, in four shapes (ascending or descending, from
// a start value or from the end of the index); `?1` is the start, `?2` the LIKE pattern.
macro_rules! walk {
    ($first:literal, $next:literal) => {
        concat!(
            "WITH RECURSIVE o(v, n) AS (SELECT (",
            $first,
            "), CAST(0 AS BIGINT) UNION ALL SELECT (",
            $next,
            "), n + 1 FROM o WHERE o.v IS NOT NULL AND n < ?3 AND NOT coalesce(",
            org_matches!(),
            ", false)) SELECT v, n, coalesce(",
            org_matches!(),
            ", false) AS hit FROM o ORDER BY n DESC LIMIT 1"
        )
    };
}

const UP_FROM: &str = walk!(
    "SELECT organization FROM users WHERE organization >= ?1 ORDER BY organization LIMIT 1",
    "SELECT organization FROM users WHERE organization > o.v ORDER BY organization LIMIT 1"
);
const DOWN_FROM: &str = walk!(
    "SELECT organization FROM users WHERE organization <= ?1 \
     ORDER BY organization DESC LIMIT 1",
    "SELECT organization FROM users WHERE organization < o.v \
     ORDER BY organization DESC LIMIT 1"
);

/// The first organization matching the substring `org` at or past `start` (the cursor's
/// organization; none: the start of the order) going up, or down when `descending`.
pub fn first_match(
    conn: &mut DbConn,
    org: &str,
    descending: bool,
    start: Option<&str>,
) -> Result<Skip, DbError> {
    // Every organization is >= '', and none is above U+10FFFF repeated (at most 128 characters).
    let start = start.map_or_else(
        || {
            if descending {
                char::MAX.to_string().repeat(200)
            } else {
                String::new()
            }
        },
        str::to_string,
    );
    let query = if descending { DOWN_FROM } else { UP_FROM };
    let pattern = format!("%{}%", like_escape(org));
    let visit: Visit = match conn {
        DbConn::Sqlite(c) => diesel::sql_query(query)
            .bind::<Text, _>(start)
            .bind::<Text, _>(pattern)
            .bind::<BigInt, _>(MAX_VISITS)
            .get_result(c)?,
        // The same statement with PostgreSQL's placeholders.
        DbConn::Pg(c) => diesel::sql_query(query.replace('?', "$"))
            .bind::<Text, _>(start)
            .bind::<Text, _>(pattern)
            .bind::<BigInt, _>(MAX_VISITS)
            .get_result(c)?,
    };
    Ok(match visit.v {
        None => Skip::Nothing,
        Some(v) if visit.hit => Skip::From(v),
        Some(_) if visit.n >= MAX_VISITS => Skip::Unknown,
        Some(_) => Skip::Nothing,
    })
}
