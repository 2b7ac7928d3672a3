//! Login, sessions and password changes.
//!
//! Throttling lives in the database so that several daemons share it (the rules are in
//! [`super::throttle`]): after a few failures the next attempt must wait a growing delay, counted
//! per account and source, per source, and per account from the network.

use crate::api::actions;
use crate::api::rpc::{method, Method};
use chrono::{DateTime, Duration, NaiveDateTime, Utc};

use super::{audit_failed, throttle, Actor, Ctx, Mama, OpResult};
use crate::api::types::{ChangePasswordParams, LoginParams, Role, Scope, Session, WhoAmI};
use crate::api::{ApiError, ErrorCode};
use crate::auth::{self, SessionClaims, TokenError};
use crate::db::admins::{self, AdminRow, FailureScope};
use crate::db::{self, events, DbError};

/// An authenticated admin session.
#[derive(Debug, Clone)]
pub struct AdminSession {
    pub username: String,
    pub role: Role,
    /// The organizations the account is limited to, read with the account on every call.
    pub organizations: Scope,
    pub must_change_password: bool,
    pub claims: SessionClaims,
}

impl AdminSession {
    /// The scope every query of this session runs in.
    pub fn scope(&self) -> Scope {
        self.organizations.clone()
    }

    pub fn is_scoped(&self) -> bool {
        self.organizations.is_some()
    }

    /// Whether a user of `organization` is within this session's scope.
    pub fn in_scope(&self, organization: &str) -> bool {
        crate::api::types::in_scope(&self.organizations, organization)
    }

    /// Viewers read users but never a virtual key's value.
    pub fn may_see_keys(&self) -> bool {
        self.role.may_change()
    }

    /// Refuses a user of an organization outside the scope, naming the field at fault.
    pub fn require_in_scope(&self, field: &str, organization: &str) -> OpResult<()> {
        if self.in_scope(organization) {
            return Ok(());
        }
        Err(ApiError {
            fields: vec![crate::api::FieldError {
                field: field.into(),
                message: format!("organization {organization:?} is outside your scope"),
                row: None,
            }],
            ..ApiError::new(
                ErrorCode::Forbidden,
                format!(
                    "{field}: organization {organization:?} is outside your scope ({})",
                    crate::api::types::describe_scope(&self.organizations)
                ),
            )
        })
    }

    pub fn require_super(&self) -> OpResult<()> {
        if self.role == Role::Super {
            Ok(())
        } else {
            Err(ApiError::new(
                ErrorCode::Forbidden,
                "only a super admin may do this",
            ))
        }
    }
}

pub fn parse_role(s: &str) -> Role {
    Role::parse(s)
}

fn to_utc(t: NaiveDateTime) -> DateTime<Utc> {
    t.and_utc()
}

impl Mama {
    /// Creates the super admin `admin` on an empty database, flagged must-change.
    pub fn ensure_bootstrap_admin(&self) -> Result<bool, DbError> {
        let password = self.config.bootstrap_password.clone();
        let hash = auth::hash_password(&password).map_err(|e| DbError::Corrupt(e.to_string()))?;
        self.db.write_blocking(|conn| {
            if admins::count(conn)? > 0 {
                return Ok(false);
            }
            let now = db::now();
            admins::insert(
                conn,
                &AdminRow {
                    username: "admin".into(),
                    role: Role::Super.as_str().into(),
                    password_hash: hash,
                    must_change_password: true,
                    security_stamp: uuid::Uuid::new_v4().to_string(),
                    created_at: now,
                    password_changed_at: now,
                    organizations: None,
                },
            )?;
            let event = super::Ctx::system("bootstrap")
                .event(actions::ADMINS_BOOTSTRAP)
                .detail("created super admin admin")
                .ok();
            events::insert(conn, &[event])?;
            Ok(true)
        })
    }

    fn issue_session(&self, admin: &AdminRow) -> OpResult<Session> {
        let (token, claims) = self
            .jwt
            .issue(&admin.username, &admin.role, &admin.security_stamp)
            .map_err(|e| internal(&e.to_string()))?;
        Ok(Session {
            token,
            expires_at: claims.expires_at().unwrap_or_else(Utc::now),
            must_change_password: admin.must_change_password,
            username: admin.username.clone(),
            role: parse_role(&admin.role),
            organizations: admin.scope(),
        })
    }

    /// `auth.login`. Always records an event, success or failure (never the password).
    pub async fn login(&self, ctx: &Ctx, params: LoginParams) -> OpResult<Session> {
        let ctx = ctx.with_actor(Actor::Anonymous(Some(truncate(&params.username, 64))));
        let result = self.login_inner(&ctx, params).await;
        match &result {
            Ok(session) => {
                let ctx = ctx.with_actor(Actor::Admin(session.username.clone()));
                self.audit
                    .record(ctx.event(method::AuthLogin::ACTION).ok())
                    .await
                    .map_err(|_| audit_failed())?;
            }
            Err(err) if err.code == ErrorCode::LoginFailed => {} // recorded with the failure row
            Err(err) => {
                self.audit
                    .record_failure(ctx.event(method::AuthLogin::ACTION).failed(err))
                    .await
            }
        }
        result
    }

    async fn login_inner(&self, ctx: &Ctx, params: LoginParams) -> OpResult<Session> {
        // A login whose event cannot be stored is refused before the password is evaluated,
        // the same way for every password: no oracle, and nothing evaluated unrecorded.
        if !self.event_log_ready().await {
            return Err(audit_failed());
        }
        let username = params.username.clone();
        let source = throttle::source_of(&ctx.client);
        self.check_throttle(&username, &source).await?;
        let lookup = username.clone();
        let admin = self
            .db
            .read(move |conn| admins::find(conn, &lookup))
            .await
            .map_err(ApiError::from)?;
        let password = params.password;
        let ok = tokio::task::spawn_blocking(move || match &admin {
            Some(a) => {
                auth::verify_password(&password, &a.password_hash).map(|ok| ok.then(|| a.clone()))
            }
            None => {
                auth::verify_dummy(&password);
                Ok(None)
            }
        })
        .await
        .map_err(|e| internal(&e.to_string()))?
        .map_err(|e| internal(&e.to_string()))?;
        match ok {
            Some(admin) => {
                let (name, src) = (admin.username.clone(), source.clone());
                self.db
                    .write(move |conn| {
                        admins::clear_login_failures(
                            conn,
                            &name,
                            &src,
                            db::now() - Duration::hours(2),
                        )
                    })
                    .await
                    .map_err(|e: DbError| ApiError::from(e))?;
                self.issue_session(&admin)
            }
            None => {
                // The failure counts first, in its own transaction: throttling never depends on
                // the event being stored. A failure that cannot be counted is refused like a
                // login whose event cannot be stored.
                let at = db::now();
                self.db
                    .write(move |conn| admins::record_login_failure(conn, &username, &source, at))
                    .await
                    .map_err(|_| audit_failed())?;
                let err = ApiError::new(ErrorCode::LoginFailed, "wrong username or password");
                self.audit
                    .record(ctx.event(method::AuthLogin::ACTION).failed(&err))
                    .await
                    .map_err(|_| audit_failed())?;
                Err(err)
            }
        }
    }

    /// Whether events can be stored now. After a failed write, one event recording the recovery
    /// is the probe: until it is stored, the log counts as unavailable.
    pub async fn event_log_ready(&self) -> bool {
        if self.audit.last_write_ok() {
            return true;
        }
        let probe = Ctx::system("event-log-probe")
            .event(actions::EVENTS_RECOVERED)
            .detail("the event log accepts writes again")
            .ok();
        self.audit.record(probe).await.is_ok()
    }

    /// Refuses the attempt without evaluating it while this account from this source, this
    /// source, or (over the network) this account must wait (see [`throttle`]).
    async fn check_throttle(&self, username: &str, source: &str) -> OpResult<()> {
        let (u, c) = (username.to_string(), source.to_string());
        let now = db::now();
        let counts = self
            .db
            .read(move |conn| {
                let recent = now - throttle::RECENT;
                let hour = now - Duration::hours(1);
                let pair = FailureScope::Pair {
                    account: &u,
                    source: &c,
                };
                Ok::<_, DbError>(throttle::Counts {
                    pair_recent: admins::failures(conn, pair, recent)?,
                    pair_hour: admins::failures(conn, pair, hour)?,
                    source_recent: admins::failures(conn, FailureScope::Source(&c), recent)?,
                    source_hour: admins::failures(conn, FailureScope::Source(&c), hour)?,
                    account_recent: admins::failures(
                        conn,
                        FailureScope::AccountFromNetwork(&u),
                        recent,
                    )?,
                })
            })
            .await
            .map_err(ApiError::from)?;
        throttle::decide(&counts, source, now).map_err(|t| ApiError {
            retry_after_secs: Some(t.retry_secs.max(1) as u64),
            ..ApiError::new(
                ErrorCode::LoginThrottled,
                format!(
                    "too many failed logins {}; try again in {} s",
                    t.why,
                    t.retry_secs.max(1)
                ),
            )
        })
    }

    /// Verifies a bearer token and loads its admin. Errors: `unauthenticated`, `session_expired`,
    /// `session_revoked`.
    pub async fn authenticate(&self, token: &str) -> OpResult<AdminSession> {
        let claims = self.jwt.verify(token).map_err(|e| match e {
            TokenError::Expired => ApiError::new(
                ErrorCode::SessionExpired,
                "the session has expired; log in again",
            ),
            TokenError::Invalid => ApiError::new(
                ErrorCode::Unauthenticated,
                "the session token is not valid; log in",
            ),
        })?;
        let (user, jti) = (claims.sub.clone(), claims.jti.clone());
        let (admin, revoked) = self
            .db
            .read(move |conn| {
                Ok::<_, DbError>((
                    admins::find(conn, &user)?,
                    admins::is_session_revoked(conn, &jti)?,
                ))
            })
            .await
            .map_err(ApiError::from)?;
        let revoked_err = || {
            ApiError::new(
                ErrorCode::SessionRevoked,
                "the session was ended; log in again",
            )
        };
        let admin = admin.ok_or_else(revoked_err)?;
        if revoked || admin.security_stamp != claims.stamp || admin.role != claims.role {
            return Err(revoked_err());
        }
        Ok(AdminSession {
            organizations: admin.scope(),
            username: admin.username,
            role: parse_role(&admin.role),
            must_change_password: admin.must_change_password,
            claims,
        })
    }

    /// The admin row of a session; deleted meanwhile means the session is over.
    async fn session_admin(&self, username: &str) -> OpResult<AdminRow> {
        let name = username.to_string();
        let admin = self
            .db
            .read(move |conn| admins::find(conn, &name))
            .await
            .map_err(ApiError::from)?;
        admin.ok_or_else(|| ApiError::new(ErrorCode::SessionRevoked, "the admin no longer exists"))
    }

    /// `auth.refresh`: a new token for the same session; the old one is revoked.
    pub async fn refresh(&self, ctx: &Ctx, session: &AdminSession) -> OpResult<Session> {
        let admin = self.session_admin(&session.username).await?;
        let new = self.issue_session(&admin)?;
        let (jti, exp) = (session.claims.jti.clone(), expiry(&session.claims));
        let event = ctx.event(method::AuthRefresh::ACTION).ok();
        self.db
            .write(move |conn| {
                admins::revoke_session(conn, &jti, exp)?;
                events::insert(conn, &[event])
            })
            .await
            .map_err(|e: DbError| audit_or(e))?;
        Ok(new)
    }

    /// `auth.logout`: revokes this session's token.
    pub async fn logout(&self, ctx: &Ctx, session: &AdminSession) -> OpResult<()> {
        let (jti, exp) = (session.claims.jti.clone(), expiry(&session.claims));
        let event = ctx.event(method::AuthLogout::ACTION).ok();
        self.db
            .write(move |conn| {
                admins::revoke_session(conn, &jti, exp)?;
                events::insert(conn, &[event])
            })
            .await
            .map_err(|e: DbError| audit_or(e))
    }

    pub async fn whoami(&self, ctx: &Ctx, session: &AdminSession) -> OpResult<WhoAmI> {
        self.audit
            .record(ctx.event(method::AuthWhoami::ACTION).ok())
            .await
            .map_err(|_| audit_failed())?;
        Ok(WhoAmI {
            username: session.username.clone(),
            role: session.role,
            organizations: session.scope(),
            must_change_password: session.must_change_password,
            expires_at: session.claims.expires_at().unwrap_or_else(Utc::now),
        })
    }

    /// `auth.change_password`: needs the old password; ends every other session of this admin.
    pub async fn change_password(
        &self,
        ctx: &Ctx,
        session: &AdminSession,
        params: ChangePasswordParams,
    ) -> OpResult<Session> {
        let result = self.change_password_inner(ctx, session, params).await;
        if let Err(err) = &result {
            self.audit
                .record_failure(ctx.event(method::AuthChangePassword::ACTION).failed(err))
                .await;
        }
        result
    }

    async fn change_password_inner(
        &self,
        ctx: &Ctx,
        session: &AdminSession,
        params: ChangePasswordParams,
    ) -> OpResult<Session> {
        let username = session.username.clone();
        auth::check_new_password(&username, &params.new_password)
            .map_err(|msg| ApiError::invalid("new_password", msg))?;
        if params.new_password == params.old_password {
            return Err(ApiError::invalid(
                "new_password",
                "must differ from the old password",
            ));
        }
        let source = throttle::source_of(&ctx.client);
        self.check_throttle(&username, &source).await?;
        let admin = self.session_admin(&username).await?;
        let (old, new, phc) = (
            params.old_password,
            params.new_password,
            admin.password_hash.clone(),
        );
        let verified = tokio::task::spawn_blocking(move || {
            let ok = auth::verify_password(&old, &phc)?;
            let hash = if ok {
                Some(auth::hash_password(&new)?)
            } else {
                None
            };
            Ok::<_, auth::AuthError>(hash)
        })
        .await
        .map_err(|e| internal(&e.to_string()))?
        .map_err(|e| internal(&e.to_string()))?;
        let Some(hash) = verified else {
            let (u, c, at) = (username.clone(), source.clone(), db::now());
            self.db
                .write(move |conn| admins::record_login_failure(conn, &u, &c, at))
                .await
                .map_err(|e: DbError| ApiError::from(e))?;
            return Err(ApiError {
                fields: vec![crate::api::FieldError {
                    field: "old_password".into(),
                    message: "is wrong".into(),
                    row: None,
                }],
                ..ApiError::new(ErrorCode::InvalidParams, "old_password: is wrong")
            });
        };
        let stamp = uuid::Uuid::new_v4().to_string();
        let event = ctx.event(method::AuthChangePassword::ACTION).ok();
        let (u, s) = (username.clone(), stamp.clone());
        let now = db::now();
        self.db
            .write(move |conn| {
                admins::set_password(conn, &u, &hash, false, &s, now)?;
                events::insert(conn, &[event])
            })
            .await
            .map_err(|e: DbError| audit_or(e))?;
        let admin = AdminRow {
            security_stamp: stamp,
            must_change_password: false,
            password_changed_at: now,
            ..admin
        };
        self.issue_session(&admin)
    }
}

fn expiry(claims: &SessionClaims) -> NaiveDateTime {
    claims
        .expires_at()
        .map(|t| t.naive_utc())
        .unwrap_or_else(|| to_utc(db::now()).naive_utc() + Duration::minutes(20))
}

fn truncate(s: &str, chars: usize) -> String {
    s.chars().take(chars).collect()
}

/// An internal failure: logged in full, reported without details.
pub(crate) fn internal(detail: &str) -> ApiError {
    tracing::error!(%detail, "internal error");
    ApiError::new(ErrorCode::Internal, "internal error; see the daemon's log")
}

/// A failed write transaction that included the event: report it as the event log failing when
/// the database is up (the event insert is the write most likely to be refused), else as usual.
pub(crate) fn audit_or(err: DbError) -> ApiError {
    match err {
        DbError::Query(diesel::result::Error::DatabaseError(_, info)) => {
            tracing::error!(error = %info.message(), "write with its event failed");
            audit_failed()
        }
        other => ApiError::from(other),
    }
}
