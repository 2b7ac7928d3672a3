//! The `users` table and its set tables (`user_models`, `user_services`, `user_info`).
//! Filtering, sorting and paging happen here, in SQL, never in memory.

use std::collections::BTreeMap;

use diesel::prelude::*;

use super::schema::{user_info, user_models, user_services, users};
use super::{DbConn, DbError, CHUNK};
use crate::api::types::{Info, KeyStatus, UserFilter};
use crate::domain::NameSet;

pub mod cursor;
mod key_status;
pub mod limits;
mod paging;
pub mod plan;
mod rows;
mod side_count;
pub mod skip;
mod terms;

pub use key_status::StoredKeyStatus;
pub use paging::{page, page_cursors};
use plan::Plan;
pub use rows::{BoxedUsers, LookupRow, NewUserRow, UserChanges, UserRow};
pub use terms::{like_escape, search_text};

/// Users matching `filter`, as portable SQL each backend plans by itself. `available` is the
/// current model catalog, needed only for the `unavailable_models` term (without a catalog
/// nothing counts as unavailable).
pub fn filtered<'a>(filter: &UserFilter, available: Option<&[String]>) -> BoxedUsers<'a> {
    plan::build(filter, available, Plan::Portable)
}

/// All users and those matching `filter`. A separate query from [`page`], so the two can run
/// on two connections at once. Both counts are exact. A filter of one indexed term (or of
/// substrings only, on SQLite) is counted from its index alone; on PostgreSQL, where COUNT(*)
/// reads every index entry, the total is the row the `user_count` triggers keep.
pub fn counts(
    conn: &mut DbConn,
    filter: &UserFilter,
    available: Option<&[String]>,
) -> Result<(u64, u64), DbError> {
    if let Some(scope) = &filter.scope {
        // The total a scoped account sees is its organizations' users.
        let within = UserFilter {
            scope: Some(scope.clone()),
            ..UserFilter::default()
        };
        let total = plan::build(&within, None, Plan::Portable)
            .count()
            .get_result::<i64>(conn)? as u64;
        if *filter == within {
            return Ok((total, total));
        }
        let matching: i64 = plan::build(filter, available, Plan::Portable)
            .count()
            .get_result(conn)?;
        return Ok((total, matching as u64));
    }
    let total = match conn {
        DbConn::Pg(c) => plan::pg_total(c)?,
        DbConn::Sqlite(_) => None,
    };
    let total = match total {
        Some(n) => n,
        None => users::table.count().get_result::<i64>(conn)? as u64,
    };
    if filter.is_empty() {
        return Ok((total, total));
    }
    let plan = match conn {
        DbConn::Sqlite(c) => match plan::for_count(c, filter)? {
            plan::Counting::Done(n) => return Ok((total, n)),
            plan::Counting::Query(plan) => plan,
        },
        DbConn::Pg(_) => match plan::single_set_count(conn, filter)? {
            Some(n) => return Ok((total, n)),
            None => Plan::Portable,
        },
    };
    let matching: i64 = plan::build(filter, available, plan)
        .count()
        .get_result(conn)?;
    Ok((total, matching as u64))
}

/// The ids of every user matching `filter` (for bulk changes by filter).
pub fn matching_ids(
    conn: &mut DbConn,
    filter: &UserFilter,
    available: Option<&[String]>,
) -> Result<Vec<String>, DbError> {
    let plan = match conn {
        DbConn::Sqlite(c) if !filter.is_empty() => plan::for_all(c, filter)?,
        _ => Plan::Portable,
    };
    Ok(plan::build(filter, available, plan)
        .select(users::id)
        .order_by(users::id.asc())
        .load(conn)?)
}

/// Loads the given users (any order), one query per chunk of ids.
pub fn find_many(conn: &mut DbConn, ids: &[String]) -> Result<Vec<UserRow>, DbError> {
    let mut rows = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(CHUNK) {
        rows.extend(
            users::table
                .filter(users::id.eq_any(chunk))
                .select(UserRow::as_select())
                .load(conn)?,
        );
    }
    Ok(rows)
}

pub fn find(conn: &mut DbConn, id: &str) -> Result<Option<UserRow>, DbError> {
    Ok(users::table
        .find(id)
        .select(UserRow::as_select())
        .first(conn)
        .optional()?)
}

/// Loads the given users for a lookup, one query per chunk of ids.
pub fn find_for_lookup(conn: &mut DbConn, ids: &[String]) -> Result<Vec<LookupRow>, DbError> {
    let mut rows = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(CHUNK) {
        rows.extend(
            users::table
                .filter(users::id.eq_any(chunk))
                .select(LookupRow::as_select())
                .load(conn)?,
        );
    }
    Ok(rows)
}

/// Which of `ids` exist.
pub fn existing_ids(conn: &mut DbConn, ids: &[String]) -> Result<Vec<String>, DbError> {
    let mut found = Vec::new();
    for chunk in ids.chunks(CHUNK) {
        found.extend(
            users::table
                .filter(users::id.eq_any(chunk))
                .select(users::id)
                .load::<String>(conn)?,
        );
    }
    Ok(found)
}

pub fn count(conn: &mut DbConn) -> Result<u64, DbError> {
    Ok(users::table.count().get_result::<i64>(conn)? as u64)
}

/// Inserts users and their set rows.
pub fn insert_many(conn: &mut DbConn, rows: &[NewUserRow]) -> Result<(), DbError> {
    for chunk in rows.chunks(super::rows_per_insert(15)) {
        crate::per_backend!(conn, |c| diesel::insert_into(users::table)
            .values(chunk)
            .execute(c))?;
    }
    let mut models = Vec::new();
    let mut services = Vec::new();
    let mut infos = Vec::new();
    for row in rows {
        let m = NameSet::from_json(&row.models).map_err(|e| DbError::Corrupt(e.to_string()))?;
        models.extend(m.iter().map(|v| (row.id.clone(), v.clone())));
        let s = NameSet::from_json(&row.services).map_err(|e| DbError::Corrupt(e.to_string()))?;
        services.extend(s.iter().map(|v| (row.id.clone(), v.clone())));
        let info: Info =
            serde_json::from_str(&row.info).map_err(|e| DbError::Corrupt(e.to_string()))?;
        infos.extend(info.into_iter().map(|(k, v)| (row.id.clone(), k, v)));
    }
    insert_model_rows(conn, &models)?;
    insert_service_rows(conn, &services)?;
    insert_info_rows(conn, &infos)?;
    Ok(())
}

pub fn insert_model_rows(conn: &mut DbConn, rows: &[(String, String)]) -> Result<(), DbError> {
    for chunk in rows.chunks(super::rows_per_insert(2)) {
        let values: Vec<_> = chunk
            .iter()
            .map(|(u, m)| (user_models::user_id.eq(u), user_models::model.eq(m)))
            .collect();
        crate::per_backend!(conn, |c| diesel::insert_into(user_models::table)
            .values(&values)
            .execute(c))?;
    }
    Ok(())
}

pub fn insert_service_rows(conn: &mut DbConn, rows: &[(String, String)]) -> Result<(), DbError> {
    for chunk in rows.chunks(super::rows_per_insert(2)) {
        let values: Vec<_> = chunk
            .iter()
            .map(|(u, s)| (user_services::user_id.eq(u), user_services::service.eq(s)))
            .collect();
        crate::per_backend!(conn, |c| diesel::insert_into(user_services::table)
            .values(&values)
            .execute(c))?;
    }
    Ok(())
}

pub fn insert_info_rows(
    conn: &mut DbConn,
    rows: &[(String, String, String)],
) -> Result<(), DbError> {
    for chunk in rows.chunks(super::rows_per_insert(3)) {
        let values: Vec<_> = chunk
            .iter()
            .map(|(u, k, v)| {
                (
                    user_info::user_id.eq(u),
                    user_info::key.eq(k),
                    user_info::value.eq(v),
                )
            })
            .collect();
        crate::per_backend!(conn, |c| diesel::insert_into(user_info::table)
            .values(&values)
            .execute(c))?;
    }
    Ok(())
}

/// Removes `values` from the given users' model rows.
pub fn delete_model_rows(
    conn: &mut DbConn,
    user_ids: &[String],
    values: Option<&[String]>,
) -> Result<(), DbError> {
    for chunk in user_ids.chunks(CHUNK) {
        let q = diesel::delete(user_models::table).filter(user_models::user_id.eq_any(chunk));
        match values {
            Some(v) => q.filter(user_models::model.eq_any(v)).execute(conn)?,
            None => q.execute(conn)?,
        };
    }
    Ok(())
}

pub fn delete_service_rows(
    conn: &mut DbConn,
    user_ids: &[String],
    values: Option<&[String]>,
) -> Result<(), DbError> {
    for chunk in user_ids.chunks(CHUNK) {
        let q = diesel::delete(user_services::table).filter(user_services::user_id.eq_any(chunk));
        match values {
            Some(v) => q.filter(user_services::service.eq_any(v)).execute(conn)?,
            None => q.execute(conn)?,
        };
    }
    Ok(())
}

/// Takes `service` out of every user that allows it (the `services` column and the set rows),
/// bumping each changed user's version; returns their ids, sorted. Set-based like a bulk change:
/// one `UPDATE` per resulting set and chunk of ids.
pub fn remove_service(conn: &mut DbConn, service: &str) -> Result<Vec<String>, DbError> {
    let ids: Vec<String> = user_services::table
        .filter(user_services::service.eq(service))
        .select(user_services::user_id)
        .order_by(user_services::user_id.asc())
        .load(conn)?;
    if ids.is_empty() {
        return Ok(ids);
    }
    let mut by_new_set: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for chunk in ids.chunks(CHUNK) {
        let sets: Vec<(String, String)> = users::table
            .filter(users::id.eq_any(chunk))
            .select((users::id, users::services))
            .load(conn)?;
        for (id, json) in sets {
            let kept: NameSet = NameSet::from_json(&json)
                .map_err(|e| DbError::Corrupt(format!("services of {id}: {e}")))?
                .iter()
                .filter(|s| *s != service)
                .cloned()
                .collect();
            by_new_set.entry(kept.to_json()).or_default().push(id);
        }
    }
    let now = super::now();
    for (services, holders) in by_new_set {
        let changes = UserChanges {
            services: Some(services),
            updated_at: Some(now),
            ..Default::default()
        };
        update_many(conn, &holders, &changes)?;
    }
    delete_service_rows(conn, &ids, Some(&[service.to_string()]))?;
    Ok(ids)
}

pub fn delete_info_rows(
    conn: &mut DbConn,
    user_ids: &[String],
    keys: Option<&[String]>,
) -> Result<(), DbError> {
    for chunk in user_ids.chunks(CHUNK) {
        let q = diesel::delete(user_info::table).filter(user_info::user_id.eq_any(chunk));
        match keys {
            Some(k) => q.filter(user_info::key.eq_any(k)).execute(conn)?,
            None => q.execute(conn)?,
        };
    }
    Ok(())
}

/// Applies the same changes to every given user and bumps their version; returns rows changed.
pub fn update_many(
    conn: &mut DbConn,
    ids: &[String],
    changes: &UserChanges,
) -> Result<usize, DbError> {
    let mut n = 0;
    for chunk in ids.chunks(CHUNK) {
        n += diesel::update(users::table.filter(users::id.eq_any(chunk)))
            .set((changes, users::version.eq(users::version + 1)))
            .execute(conn)?;
    }
    Ok(n)
}

/// Applies changes to one user only if its version is still `version` (optimistic concurrency).
/// Returns false when the version moved on.
pub fn update_if_version(
    conn: &mut DbConn,
    id: &str,
    version: i64,
    changes: &UserChanges,
) -> Result<bool, DbError> {
    let n = diesel::update(
        users::table
            .filter(users::id.eq(id))
            .filter(users::version.eq(version)),
    )
    .set((changes, users::version.eq(users::version + 1)))
    .execute(conn)?;
    Ok(n == 1)
}

/// Deletes users (their set rows go by cascade); returns how many were deleted.
pub fn delete_many(conn: &mut DbConn, ids: &[String]) -> Result<usize, DbError> {
    let mut n = 0;
    for chunk in ids.chunks(CHUNK) {
        n += diesel::delete(users::table.filter(users::id.eq_any(chunk))).execute(conn)?;
    }
    Ok(n)
}

/// How many users hold each model (for the models screen), in one grouped query.
pub fn model_usage(conn: &mut DbConn) -> Result<Vec<(String, i64)>, DbError> {
    use diesel::dsl::count_star;
    Ok(user_models::table
        .group_by(user_models::model)
        .select((user_models::model, count_star()))
        .order_by(user_models::model.asc())
        .load(conn)?)
}

/// How many users allow each service.
pub fn service_usage(conn: &mut DbConn) -> Result<Vec<(String, i64)>, DbError> {
    use diesel::dsl::count_star;
    Ok(user_services::table
        .group_by(user_services::service)
        .select((user_services::service, count_star()))
        .load(conn)?)
}

/// Users per key status (for the sync summary).
pub fn count_by_status(conn: &mut DbConn, status: KeyStatus) -> Result<u64, DbError> {
    Ok(users::table
        .filter(users::key_status.eq(StoredKeyStatus(status)))
        .count()
        .get_result::<i64>(conn)? as u64)
}

/// Ids of the users in `status`, among `among` when given (the whole table otherwise).
pub fn ids_with_status(
    conn: &mut DbConn,
    status: KeyStatus,
    among: Option<&[String]>,
) -> Result<Vec<String>, DbError> {
    let query = || {
        users::table
            .filter(users::key_status.eq(StoredKeyStatus(status)))
            .select(users::id)
    };
    match among {
        None => Ok(query().load(conn)?),
        Some(ids) => {
            let mut found = Vec::new();
            for chunk in ids.chunks(CHUNK) {
                found.extend(
                    query()
                        .filter(users::id.eq_any(chunk))
                        .load::<String>(conn)?,
                );
            }
            Ok(found)
        }
    }
}
