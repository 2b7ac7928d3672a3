//! Admin accounts, revoked sessions and login failures.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{admins, login_failures, revoked_sessions};
use super::{DbConn, DbError};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = admins)]
pub struct AdminRow {
    pub username: String,
    pub role: String,
    pub password_hash: String,
    pub must_change_password: bool,
    pub security_stamp: String,
    pub created_at: NaiveDateTime,
    pub password_changed_at: NaiveDateTime,
    /// JSON array of organization names the account is limited to; NULL: every organization.
    pub organizations: Option<String>,
}

impl AdminRow {
    /// The account's scope. A stored list that does not parse limits the account to nothing:
    /// a damaged row never widens access.
    pub fn scope(&self) -> crate::api::types::Scope {
        self.organizations
            .as_deref()
            .map(|json| serde_json::from_str::<Vec<String>>(json).unwrap_or_default())
    }
}

/// How a scope is stored in `admins.organizations`.
pub fn scope_column(scope: &crate::api::types::Scope) -> Option<String> {
    scope
        .as_ref()
        .map(|orgs| serde_json::to_string(orgs).unwrap_or_else(|_| "[]".into()))
}

pub fn find(conn: &mut DbConn, username: &str) -> Result<Option<AdminRow>, DbError> {
    Ok(admins::table
        .find(username)
        .select(AdminRow::as_select())
        .first(conn)
        .optional()?)
}

pub fn list(conn: &mut DbConn) -> Result<Vec<AdminRow>, DbError> {
    Ok(admins::table
        .order_by(admins::username.asc())
        .select(AdminRow::as_select())
        .load(conn)?)
}

pub fn count(conn: &mut DbConn) -> Result<i64, DbError> {
    Ok(admins::table.count().get_result(conn)?)
}

pub fn count_role(conn: &mut DbConn, role: &str) -> Result<i64, DbError> {
    Ok(admins::table
        .filter(admins::role.eq(role))
        .count()
        .get_result(conn)?)
}

pub fn insert(conn: &mut DbConn, row: &AdminRow) -> Result<(), DbError> {
    diesel::insert_into(admins::table)
        .values(row)
        .execute(conn)?;
    Ok(())
}

pub fn delete(conn: &mut DbConn, username: &str) -> Result<bool, DbError> {
    Ok(diesel::delete(admins::table.find(username)).execute(conn)? == 1)
}

/// Sets role and scope and a new security stamp (which ends every session of the account).
pub fn set_role(
    conn: &mut DbConn,
    username: &str,
    role: &str,
    organizations: Option<String>,
    stamp: &str,
) -> Result<bool, DbError> {
    let n = diesel::update(admins::table.find(username))
        .set((
            admins::role.eq(role),
            admins::organizations.eq(organizations),
            admins::security_stamp.eq(stamp),
        ))
        .execute(conn)?;
    Ok(n == 1)
}

/// Sets a new password hash and a new security stamp (which ends every older session).
pub fn set_password(
    conn: &mut DbConn,
    username: &str,
    hash: &str,
    must_change: bool,
    stamp: &str,
    at: NaiveDateTime,
) -> Result<bool, DbError> {
    let n = diesel::update(admins::table.find(username))
        .set((
            admins::password_hash.eq(hash),
            admins::must_change_password.eq(must_change),
            admins::security_stamp.eq(stamp),
            admins::password_changed_at.eq(at),
        ))
        .execute(conn)?;
    Ok(n == 1)
}

pub fn revoke_session(
    conn: &mut DbConn,
    jti: &str,
    expires_at: NaiveDateTime,
) -> Result<(), DbError> {
    diesel::insert_into(revoked_sessions::table)
        .values((
            revoked_sessions::jti.eq(jti),
            revoked_sessions::expires_at.eq(expires_at),
        ))
        .execute(conn)?;
    // Expired entries can never match a valid token again.
    diesel::delete(revoked_sessions::table.filter(revoked_sessions::expires_at.lt(super::now())))
        .execute(conn)?;
    Ok(())
}

pub fn is_session_revoked(conn: &mut DbConn, jti: &str) -> Result<bool, DbError> {
    Ok(revoked_sessions::table
        .find(jti)
        .count()
        .get_result::<i64>(conn)?
        > 0)
}

pub fn record_login_failure(
    conn: &mut DbConn,
    username: &str,
    client: &str,
    at: NaiveDateTime,
) -> Result<(), DbError> {
    diesel::insert_into(login_failures::table)
        .values((
            login_failures::username.eq(username),
            login_failures::client.eq(client),
            login_failures::at.eq(at),
        ))
        .execute(conn)?;
    Ok(())
}

/// Which failed logins to count (see `ops::throttle`).
#[derive(Debug, Clone, Copy)]
pub enum FailureScope<'a> {
    /// One source, over all accounts.
    Source(&'a str),
    /// One account from one source.
    Pair { account: &'a str, source: &'a str },
    /// One account from network sources (not the local Unix socket).
    AccountFromNetwork(&'a str),
}

/// Failures in `scope` since `since`: how many, and the latest.
pub fn failures(
    conn: &mut DbConn,
    scope: FailureScope<'_>,
    since: NaiveDateTime,
) -> Result<(i64, Option<NaiveDateTime>), DbError> {
    let scoped = || {
        let q = login_failures::table
            .filter(login_failures::at.ge(since))
            .into_boxed();
        match scope {
            FailureScope::Source(source) => q.filter(login_failures::client.eq(source)),
            FailureScope::Pair { account, source } => q
                .filter(login_failures::username.eq(account))
                .filter(login_failures::client.eq(source)),
            FailureScope::AccountFromNetwork(account) => q
                .filter(login_failures::username.eq(account))
                .filter(login_failures::client.not_like("unix:%")),
        }
    };
    let n = scoped().count().get_result(conn)?;
    let last = scoped()
        .select(diesel::dsl::max(login_failures::at))
        .first(conn)?;
    Ok((n, last))
}

/// A successful login clears the failure streak of that account from that source only (an
/// attacker's failures from elsewhere keep counting against the attacker); old rows expire.
pub fn clear_login_failures(
    conn: &mut DbConn,
    username: &str,
    client: &str,
    older_than: NaiveDateTime,
) -> Result<(), DbError> {
    diesel::delete(
        login_failures::table
            .filter(login_failures::username.eq(username))
            .filter(login_failures::client.eq(client)),
    )
    .execute(conn)?;
    diesel::delete(login_failures::table.filter(login_failures::at.lt(older_than)))
        .execute(conn)?;
    Ok(())
}
