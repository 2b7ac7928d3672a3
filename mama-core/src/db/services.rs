//! Services (the names users' `services` hold) and their API tokens (stored as SHA-256).

use std::collections::HashSet;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{service_tokens, services};
use super::{DbConn, DbError, CHUNK};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = services)]
pub struct ServiceRow {
    pub name: String,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = service_tokens)]
pub struct TokenRow {
    pub id: String,
    pub service: String,
    pub token_hash: String,
    pub hint: String,
    pub created_at: NaiveDateTime,
    pub revoked_at: Option<NaiveDateTime>,
}

pub fn list(conn: &mut DbConn) -> Result<Vec<ServiceRow>, DbError> {
    Ok(services::table
        .order_by(services::name.asc())
        .select(ServiceRow::as_select())
        .load(conn)?)
}

pub fn all_tokens(conn: &mut DbConn) -> Result<Vec<TokenRow>, DbError> {
    Ok(service_tokens::table
        .order_by((
            service_tokens::service.asc(),
            service_tokens::created_at.asc(),
        ))
        .select(TokenRow::as_select())
        .load(conn)?)
}

pub fn exists(conn: &mut DbConn, name: &str) -> Result<bool, DbError> {
    Ok(services::table.find(name).count().get_result::<i64>(conn)? > 0)
}

/// Which of `names` are services, one query per chunk. Run inside the write transaction that
/// grants them, so a service deleted meanwhile cannot be granted.
pub fn existing(conn: &mut DbConn, names: &[String]) -> Result<HashSet<String>, DbError> {
    let mut found = HashSet::new();
    for chunk in names.chunks(CHUNK) {
        found.extend(
            services::table
                .filter(services::name.eq_any(chunk))
                .select(services::name)
                .load::<String>(conn)?,
        );
    }
    Ok(found)
}

pub fn insert(conn: &mut DbConn, row: &ServiceRow) -> Result<(), DbError> {
    diesel::insert_into(services::table)
        .values(row)
        .execute(conn)?;
    Ok(())
}

/// Deletes a service and its tokens.
pub fn delete(conn: &mut DbConn, name: &str) -> Result<bool, DbError> {
    diesel::delete(service_tokens::table.filter(service_tokens::service.eq(name))).execute(conn)?;
    Ok(diesel::delete(services::table.find(name)).execute(conn)? == 1)
}

pub fn insert_token(conn: &mut DbConn, row: &TokenRow) -> Result<(), DbError> {
    diesel::insert_into(service_tokens::table)
        .values(row)
        .execute(conn)?;
    Ok(())
}

/// Marks a token revoked; false when there is no such live token.
pub fn revoke_token(conn: &mut DbConn, id: &str, at: NaiveDateTime) -> Result<bool, DbError> {
    let n = diesel::update(
        service_tokens::table
            .find(id)
            .filter(service_tokens::revoked_at.is_null()),
    )
    .set(service_tokens::revoked_at.eq(at))
    .execute(conn)?;
    Ok(n == 1)
}

/// On PostgreSQL: the live token with this hash (its service and stored hash) and the shared data
/// version (see `db::data_version`), in one round trip instead of two: a REST lookup needs both
/// before it can answer from the cache. Written with the query builder (not as SQL text) so the
/// connection keeps it prepared.
pub fn find_live_token_at_version(
    conn: &mut diesel::PgConnection,
    token_hash: &str,
) -> Result<(Option<(String, String)>, u64), DbError> {
    use super::schema::data_version;
    let live = || {
        service_tokens::table
            .filter(service_tokens::token_hash.eq(token_hash))
            .filter(service_tokens::revoked_at.is_null())
    };
    let (version, service, stored): (i64, Option<String>, Option<String>) = data_version::table
        .select((
            data_version::version,
            live().select(service_tokens::service).single_value(),
            live().select(service_tokens::token_hash).single_value(),
        ))
        .first(conn)?;
    Ok((service.zip(stored), version as u64))
}

/// The live token with this hash (one indexed lookup: the hash is UNIQUE).
pub fn find_live_token(conn: &mut DbConn, token_hash: &str) -> Result<Option<TokenRow>, DbError> {
    Ok(service_tokens::table
        .filter(service_tokens::token_hash.eq(token_hash))
        .filter(service_tokens::revoked_at.is_null())
        .select(TokenRow::as_select())
        .first(conn)
        .optional()?)
}
