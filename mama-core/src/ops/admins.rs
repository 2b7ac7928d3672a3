//! Admin accounts: the super admin creates, changes and deletes accounts of three roles (super,
//! admin, viewer), admins and viewers optionally limited to organizations — never their own
//! account, never the last super admin.

use super::auth::{audit_or, internal, parse_role, AdminSession};
use super::{audit_failed, Ctx, Mama, OpResult};
use crate::api::actions;
use crate::api::rpc::{method, Method};
use crate::api::types::{
    describe_scope, AdminList, AdminView, CreateAdminParams, DeleteAdminParams, Role, Scope,
    UpdateAdminParams,
};
use crate::api::{ApiError, ErrorCode};
use crate::auth;
use crate::db::admins::{self, AdminRow};
use crate::db::{self, events, DbError};
use crate::domain::validate;

fn view(row: AdminRow) -> AdminView {
    AdminView {
        role: parse_role(&row.role),
        organizations: row.scope(),
        username: row.username,
        must_change_password: row.must_change_password,
        created_at: row.created_at.and_utc(),
        password_changed_at: row.password_changed_at.and_utc(),
    }
}

impl Mama {
    pub async fn list_admins(&self, ctx: &Ctx, _session: &AdminSession) -> OpResult<AdminList> {
        let rows = self.db.read(admins::list).await.map_err(ApiError::from)?;
        self.audit
            .record(
                ctx.event(method::AdminsList::ACTION)
                    .count(rows.len() as u64)
                    .ok(),
            )
            .await
            .map_err(|_| audit_failed())?;
        Ok(AdminList {
            admins: rows.into_iter().map(view).collect(),
        })
    }

    pub async fn create_admin(
        &self,
        ctx: &Ctx,
        session: &AdminSession,
        params: CreateAdminParams,
    ) -> OpResult<AdminView> {
        let result = self.create_admin_inner(ctx, session, params).await;
        if let Err(err) = &result {
            self.audit
                .record_failure(ctx.event(method::AdminsCreate::ACTION).failed(err))
                .await;
        }
        result
    }

    async fn create_admin_inner(
        &self,
        ctx: &Ctx,
        session: &AdminSession,
        params: CreateAdminParams,
    ) -> OpResult<AdminView> {
        session.require_super()?;
        let mut problems = validate::Problems::default();
        if let Err(msg) = validate::username(&params.username) {
            problems.push("username", msg, None);
        }
        if let Err(msg) = auth::check_new_password(&params.username, &params.password) {
            problems.push("password", msg, None);
        }
        let organizations = checked_scope(params.role, params.organizations, &mut problems);
        if !problems.is_empty() {
            return Err(ApiError::invalid_fields(problems.errors));
        }
        let password = params.password;
        let hash = tokio::task::spawn_blocking(move || auth::hash_password(&password))
            .await
            .map_err(|e| internal(&e.to_string()))?
            .map_err(|e| internal(&e.to_string()))?;
        let now = db::now();
        let row = AdminRow {
            username: params.username.clone(),
            role: params.role.as_str().into(),
            password_hash: hash,
            // The creator chose this password; the new admin must pick their own.
            must_change_password: true,
            security_stamp: uuid::Uuid::new_v4().to_string(),
            created_at: now,
            password_changed_at: now,
            organizations: admins::scope_column(&organizations),
        };
        let event = ctx
            .event(method::AdminsCreate::ACTION)
            .detail(format!(
                "username={} role={} scope={}",
                params.username,
                params.role.as_str(),
                describe_scope(&organizations)
            ))
            .ok();
        let inserted = row.clone();
        self.db
            .write(move |conn| {
                if admins::find(conn, &inserted.username)?.is_some() {
                    return Ok(false);
                }
                admins::insert(conn, &inserted)?;
                events::insert(conn, &[event])?;
                Ok::<_, DbError>(true)
            })
            .await
            .map_err(audit_or)?
            .then_some(())
            .ok_or_else(|| {
                ApiError::new(
                    ErrorCode::AlreadyExists,
                    format!("admin {} already exists", params.username),
                )
            })?;
        Ok(view(row))
    }

    /// `admins.update`: replaces an account's role and scope; its sessions end at once (a new
    /// security stamp), so a narrower scope is never used by a token issued for the wider one.
    pub async fn update_admin(
        &self,
        ctx: &Ctx,
        session: &AdminSession,
        params: UpdateAdminParams,
    ) -> OpResult<AdminView> {
        let result = self.update_admin_inner(ctx, session, params).await;
        if let Err(err) = &result {
            self.audit
                .record_failure(ctx.event(method::AdminsUpdate::ACTION).failed(err))
                .await;
        }
        result
    }

    async fn update_admin_inner(
        &self,
        ctx: &Ctx,
        session: &AdminSession,
        params: UpdateAdminParams,
    ) -> OpResult<AdminView> {
        session.require_super()?;
        if params.username == session.username {
            return Err(ApiError::new(
                ErrorCode::Forbidden,
                "you cannot change your own role or scope; another super admin can",
            ));
        }
        let mut problems = validate::Problems::default();
        let organizations = checked_scope(params.role, params.organizations, &mut problems);
        if !problems.is_empty() {
            return Err(ApiError::invalid_fields(problems.errors));
        }
        let name = params.username.clone();
        let role = params.role;
        let event = ctx
            .event(method::AdminsUpdate::ACTION)
            .detail(format!(
                "username={name} role={} scope={}",
                role.as_str(),
                describe_scope(&organizations)
            ))
            .ok();
        let column = admins::scope_column(&organizations);
        self.db
            .write(move |conn| {
                let Some(target) = admins::find(conn, &name)? else {
                    return Ok(Err(ApiError::new(
                        ErrorCode::NotFound,
                        format!("no admin named {name}"),
                    )));
                };
                if target.role == Role::Super.as_str()
                    && role != Role::Super
                    && admins::count_role(conn, "super")? <= 1
                {
                    return Ok(Err(ApiError::new(
                        ErrorCode::Forbidden,
                        "the last super admin cannot lose the role",
                    )));
                }
                let stamp = uuid::Uuid::new_v4().to_string();
                admins::set_role(conn, &name, role.as_str(), column, &stamp)?;
                events::insert(conn, &[event])?;
                Ok::<_, DbError>(Ok(admins::find(conn, &name)?))
            })
            .await
            .map_err(audit_or)??
            .map(view)
            .ok_or_else(|| ApiError::new(ErrorCode::NotFound, "the admin was deleted meanwhile"))
    }

    pub async fn delete_admin(
        &self,
        ctx: &Ctx,
        session: &AdminSession,
        params: DeleteAdminParams,
    ) -> OpResult<()> {
        let result = self.delete_admin_inner(ctx, session, params).await;
        if let Err(err) = &result {
            self.audit
                .record_failure(ctx.event(method::AdminsDelete::ACTION).failed(err))
                .await;
        }
        result
    }

    async fn delete_admin_inner(
        &self,
        ctx: &Ctx,
        session: &AdminSession,
        params: DeleteAdminParams,
    ) -> OpResult<()> {
        session.require_super()?;
        if params.username == session.username {
            return Err(ApiError::new(
                ErrorCode::Forbidden,
                "you cannot delete yourself",
            ));
        }
        let name = params.username.clone();
        let event = ctx
            .event(method::AdminsDelete::ACTION)
            .detail(format!("username={name}"))
            .ok();
        self.db
            .write(move |conn| {
                let Some(target) = admins::find(conn, &name)? else {
                    return Ok(Err(ApiError::new(
                        ErrorCode::NotFound,
                        format!("no admin named {name}"),
                    )));
                };
                if target.role == Role::Super.as_str() && admins::count_role(conn, "super")? <= 1 {
                    return Ok(Err(ApiError::new(
                        ErrorCode::Forbidden,
                        "the last super admin cannot be deleted",
                    )));
                }
                admins::delete(conn, &name)?;
                events::insert(conn, &[event])?;
                Ok::<_, DbError>(Ok(()))
            })
            .await
            .map_err(audit_or)?
    }
}

/// The scope to store for an account of `role`: organization names checked and deduplicated
/// (in the order given); a super admin is never limited.
fn checked_scope(role: Role, scope: Scope, problems: &mut validate::Problems) -> Scope {
    let orgs = scope?;
    if role == Role::Super {
        problems.push(
            "organizations",
            "a super admin is never limited to organizations; leave it out",
            None,
        );
        return None;
    }
    let mut seen = std::collections::HashSet::new();
    let mut kept = Vec::with_capacity(orgs.len());
    for (i, org) in orgs.into_iter().enumerate() {
        if org.is_empty() {
            problems.push(format!("organizations[{i}]"), "must not be empty", None);
        } else if let Err(msg) = validate::organization(&org) {
            problems.push(format!("organizations[{i}]"), msg, None);
        } else if seen.insert(org.clone()) {
            kept.push(org);
        }
    }
    Some(kept)
}

/// Local recovery (`mama-daemon admin reset-password NAME`): sets a random one-time password,
/// flags must-change and ends the admin's sessions. Returns the password to show once.
pub fn reset_password_offline(db: &crate::db::Db, username: &str) -> Result<String, ApiError> {
    use rand::distributions::{Alphanumeric, DistString};
    let password = Alphanumeric.sample_string(&mut rand::rngs::OsRng, 20);
    let hash = auth::hash_password(&password).map_err(|e| super::auth::internal(&e.to_string()))?;
    let name = username.to_string();
    let event = Ctx::system("cli")
        .event(actions::ADMINS_RESET_PASSWORD)
        .detail(format!("username={name}"))
        .ok();
    db.write_blocking(|conn| {
        if !admins::set_password(
            conn,
            &name,
            &hash,
            true,
            &uuid::Uuid::new_v4().to_string(),
            db::now(),
        )? {
            return Ok(Err(ApiError::new(
                ErrorCode::NotFound,
                format!("no admin named {name}"),
            )));
        }
        events::insert(conn, &[event])?;
        Ok::<_, DbError>(Ok(()))
    })
    .map_err(audit_or)??;
    Ok(password)
}
