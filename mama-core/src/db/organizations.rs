//! The `organizations` table: default limits an organization's users inherit.

use std::collections::HashMap;

use diesel::prelude::*;

use super::schema::{organizations, users};
use super::users::limits::DefaultColumns;
use super::users::limits::LimitColumns;
use super::{DbConn, DbError, CHUNK};
use crate::api::types::KeyLimits;

/// The default limits of each of `names` (an organization without a row has none).
pub fn defaults_of(
    conn: &mut DbConn,
    names: &[String],
) -> Result<HashMap<String, KeyLimits>, DbError> {
    let mut found: HashMap<String, KeyLimits> = names
        .iter()
        .map(|n| (n.clone(), KeyLimits::default()))
        .collect();
    let mut wanted: Vec<&String> = names.iter().collect();
    wanted.sort_unstable();
    wanted.dedup();
    for chunk in wanted.chunks(CHUNK) {
        let rows: Vec<(String, DefaultColumns)> = organizations::table
            .filter(organizations::name.eq_any(chunk))
            .select((organizations::name, DefaultColumns::as_select()))
            .load(conn)?;
        for (name, columns) in rows {
            found.insert(name, columns.limits());
        }
    }
    Ok(found)
}

/// The defaults of one organization.
pub fn defaults(conn: &mut DbConn, name: &str) -> Result<KeyLimits, DbError> {
    Ok(defaults_of(conn, &[name.to_string()])?
        .remove(name)
        .unwrap_or_default())
}

/// Every organization with defaults, by name.
pub fn all(conn: &mut DbConn) -> Result<Vec<(String, KeyLimits)>, DbError> {
    let rows: Vec<(String, DefaultColumns)> = organizations::table
        .select((organizations::name, DefaultColumns::as_select()))
        .order_by(organizations::name.asc())
        .load(conn)?;
    Ok(rows.into_iter().map(|(n, c)| (n, c.limits())).collect())
}

/// Stores an organization's defaults (all of them; an empty set deletes the row).
pub fn set(conn: &mut DbConn, name: &str, limits: &KeyLimits) -> Result<(), DbError> {
    diesel::delete(organizations::table.find(name)).execute(conn)?;
    if limits.is_empty() {
        return Ok(());
    }
    let columns = DefaultColumns::of(limits);
    diesel::insert_into(organizations::table)
        .values((
            organizations::name.eq(name),
            columns,
            organizations::updated_at.eq(super::now()),
        ))
        .execute(conn)?;
    Ok(())
}

/// How many users each organization has, by name.
pub fn user_counts(conn: &mut DbConn) -> Result<Vec<(String, i64)>, DbError> {
    use diesel::dsl::count_star;
    Ok(users::table
        .group_by(users::organization)
        .select((users::organization, count_star()))
        .order_by(users::organization.asc())
        .load(conn)?)
}

/// The limits of every user of `name`, by id.
pub fn member_limits(
    conn: &mut DbConn,
    name: &str,
) -> Result<Vec<(String, LimitColumns)>, DbError> {
    Ok(users::table
        .filter(users::organization.eq(name))
        .select((users::id, LimitColumns::as_select()))
        .order_by(users::id.asc())
        .load(conn)?)
}
