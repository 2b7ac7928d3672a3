//! SQLite: counting a filter of substring and set terms (`org:sales model:mock-gpt`) without
//! reading `users`. `user_search` holds one row per user (triggers keep it in step), with the
//! searched text, so the count drives from the most selective term's index and tests the others
//! in `user_search` and the set tables' primary keys: two fewer lookups per candidate than
//! testing `users` rows (20 ms instead of 34 for 20,000 candidates).

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use diesel::sqlite::{Sqlite, SqliteConnection};

use super::terms::{like_escape, text_term, trigram_query, Term};
use crate::api::types::UserFilter;
use crate::db::DbError;

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Whether `filter` only has terms `user_search` and the set tables answer (not the key
/// status, nor unavailable models, which need `users` or the catalog).
pub fn applies(filter: &UserFilter) -> bool {
    filter.key_status.is_none()
        && !filter.unavailable_models
        && !filter.has_row_terms()
        && filter.scope.is_none()
}

/// The number of users matching `filter` (see [`applies`]), read from `driver`'s index first.
pub fn count(c: &mut SqliteConnection, filter: &UserFilter, driver: Term) -> Result<u64, DbError> {
    let mut sql = String::from("SELECT count(*) AS n FROM user_search s WHERE 1 = 1");
    let mut binds: Vec<String> = Vec::new();
    for (term, value) in [
        (Term::Text, &filter.text),
        (Term::Org, &filter.organization),
    ] {
        let Some(t) = text_term(value) else { continue };
        let column = (term == Term::Org).then_some("search_org");
        match trigram_query(t, column).filter(|_| driver == term) {
            Some(q) => {
                sql.push_str(
                    " AND s.rid IN (SELECT rowid FROM user_search_fts \
                     WHERE user_search_fts MATCH ?)",
                );
                binds.push(q);
            }
            None => {
                let pattern = format!("%{}%", like_escape(t));
                if term == Term::Org {
                    sql.push_str(" AND s.search_org LIKE ? ESCAPE '\\'");
                    binds.push(pattern);
                } else {
                    sql.push_str(
                        " AND (s.search_id LIKE ? ESCAPE '\\' OR s.search_org LIKE ? ESCAPE '\\')",
                    );
                    binds.extend([pattern.clone(), pattern]);
                }
            }
        }
    }
    let sets = [
        (
            Term::Model,
            &filter.model,
            " AND s.user_id IN (SELECT user_id FROM user_models WHERE model = ?)",
            " AND EXISTS (SELECT 1 FROM user_models m WHERE m.user_id = s.user_id AND m.model = ?)",
        ),
        (
            Term::Service,
            &filter.service,
            " AND s.user_id IN (SELECT user_id FROM user_services WHERE service = ?)",
            " AND EXISTS (SELECT 1 FROM user_services m WHERE m.user_id = s.user_id \
             AND m.service = ?)",
        ),
        (
            Term::InfoKey,
            &filter.info_key,
            " AND s.user_id IN (SELECT user_id FROM user_info WHERE key = ?)",
            " AND EXISTS (SELECT 1 FROM user_info m WHERE m.user_id = s.user_id AND m.key = ?)",
        ),
    ];
    for (term, value, drive, check) in sets {
        if let Some(v) = value {
            sql.push_str(if driver == term { drive } else { check });
            binds.push(v.clone());
        }
    }
    let mut query = diesel::sql_query(sql).into_boxed::<Sqlite>();
    for b in binds {
        query = query.bind::<Text, _>(b);
    }
    let count: Count = query.get_result(c)?;
    Ok(count.n.max(0) as u64)
}
