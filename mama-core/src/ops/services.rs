//! Services and their API tokens. A token's plaintext exists only in the answer to
//! `services.issue_token`; mama keeps its SHA-256.

use crate::api::rpc::{method, Method};
use std::collections::HashMap;

use super::auth::{audit_or, AdminSession};
use super::{audit_failed, Ctx, Mama, OpResult};
use crate::api::types::{
    IssueTokenParams, IssuedToken, RevokeTokenParams, ServiceDeleted, ServiceList,
    ServiceNameParams, ServiceTokenView, ServiceView,
};
use crate::api::{ApiError, ErrorCode};
use crate::auth::new_service_token;
use crate::db::services::{self, ServiceRow, TokenRow};
use crate::db::{self, events, users, DbError};
use crate::domain::validate;

impl Mama {
    pub async fn list_services(&self, ctx: &Ctx, _s: &AdminSession) -> OpResult<ServiceList> {
        let (rows, tokens, usage) = self
            .db
            .read(|conn| {
                Ok::<_, DbError>((
                    services::list(conn)?,
                    services::all_tokens(conn)?,
                    users::service_usage(conn)?,
                ))
            })
            .await
            .map_err(ApiError::from)?;
        let usage: HashMap<String, i64> = usage.into_iter().collect();
        let mut by_service: HashMap<String, Vec<ServiceTokenView>> = HashMap::new();
        for t in tokens {
            by_service
                .entry(t.service.clone())
                .or_default()
                .push(ServiceTokenView {
                    id: t.id,
                    hint: t.hint,
                    created_at: t.created_at.and_utc(),
                    revoked_at: t.revoked_at.map(|r| r.and_utc()),
                });
        }
        let services = rows
            .into_iter()
            .map(|s| ServiceView {
                tokens: by_service.remove(&s.name).unwrap_or_default(),
                users: usage.get(&s.name).copied().unwrap_or(0) as u64,
                name: s.name,
                created_at: s.created_at.and_utc(),
            })
            .collect::<Vec<_>>();
        self.audit
            .record(
                ctx.event(method::ServicesList::ACTION)
                    .count(services.len() as u64)
                    .ok(),
            )
            .await
            .map_err(|_| audit_failed())?;
        Ok(ServiceList { services })
    }

    pub async fn create_service(
        &self,
        ctx: &Ctx,
        _s: &AdminSession,
        params: ServiceNameParams,
    ) -> OpResult<ServiceView> {
        let event = ctx
            .event(method::ServicesCreate::ACTION)
            .detail(format!("service={}", params.name));
        let result = async {
            validate::service_name(&params.name).map_err(|m| ApiError::invalid("name", m))?;
            let row = ServiceRow {
                name: params.name.clone(),
                created_at: db::now(),
            };
            let (inserted, ev) = (row.clone(), event.clone());
            self.db
                .write(move |conn| {
                    if services::exists(conn, &inserted.name)? {
                        return Ok(Err(ApiError::new(
                            ErrorCode::AlreadyExists,
                            format!("service {} already exists", inserted.name),
                        )));
                    }
                    services::insert(conn, &inserted)?;
                    // A new service starts with no users. Grants of its name that predate it
                    // (made before granting required an existing service, or left by a deleted
                    // service of the same name) are not grants of this service: they go.
                    let stale = users::remove_service(conn, &inserted.name)?;
                    let ev = match stale.len() {
                        0 => ev.ok(),
                        n => ev
                            .users(&stale)
                            .detail(format!(
                                "service={}, stale grant removed from {}",
                                inserted.name,
                                count_users(n)
                            ))
                            .ok(),
                    };
                    events::insert(conn, &[ev])?;
                    Ok::<_, DbError>(Ok(()))
                })
                .await
                .map_err(audit_or)??;
            Ok(ServiceView {
                name: row.name,
                created_at: row.created_at.and_utc(),
                tokens: Vec::new(),
                users: 0,
            })
        }
        .await;
        if let Err(err) = &result {
            self.audit.record_failure(event.failed(err)).await;
        }
        result
    }

    pub async fn delete_service(
        &self,
        ctx: &Ctx,
        _s: &AdminSession,
        params: ServiceNameParams,
    ) -> OpResult<ServiceDeleted> {
        let event = ctx
            .event(method::ServicesDelete::ACTION)
            .detail(format!("service={}", params.name));
        let (name, ev) = (params.name.clone(), event.clone());
        // One transaction: the grants, the tokens and the service go together, so neither a
        // token nor a grant of this name outlives it (a service created later under the name
        // starts with no users), and lookups see the change at once (it starts a new data
        // generation, which empties the lookup caches).
        let result = self
            .db
            .write(move |conn| {
                if !services::exists(conn, &name)? {
                    return Ok(Err(ApiError::new(
                        ErrorCode::NotFound,
                        format!("no service named {name}"),
                    )));
                }
                let holders = users::remove_service(conn, &name)?;
                services::delete(conn, &name)?;
                let detail = format!(
                    "service={name}, removed from {}",
                    count_users(holders.len())
                );
                events::insert(conn, &[ev.users(&holders).detail(detail).ok()])?;
                Ok::<_, DbError>(Ok(ServiceDeleted {
                    grants_removed: holders.len() as u64,
                }))
            })
            .await
            .map_err(audit_or)
            .and_then(|r| r);
        if let Err(err) = &result {
            self.audit.record_failure(event.failed(err)).await;
        }
        result
    }

    pub async fn issue_token(
        &self,
        ctx: &Ctx,
        _s: &AdminSession,
        params: IssueTokenParams,
    ) -> OpResult<IssuedToken> {
        let event = ctx
            .event(method::ServicesIssueToken::ACTION)
            .detail(format!("service={}", params.service));
        let token = new_service_token();
        let row = TokenRow {
            id: uuid::Uuid::new_v4().simple().to_string()[..12].to_string(),
            service: params.service.clone(),
            token_hash: token.hash.clone(),
            hint: token.hint.clone(),
            created_at: db::now(),
            revoked_at: None,
        };
        let (inserted, ev) = (row.clone(), event.clone().ok());
        let result = self
            .db
            .write(move |conn| {
                if !services::exists(conn, &inserted.service)? {
                    return Ok(Err(ApiError::new(
                        ErrorCode::NotFound,
                        format!("no service named {}", inserted.service),
                    )));
                }
                services::insert_token(conn, &inserted)?;
                events::insert(conn, &[ev])?;
                Ok::<_, DbError>(Ok(()))
            })
            .await
            .map_err(audit_or)
            .and_then(|r| r);
        match result {
            Ok(()) => Ok(IssuedToken {
                id: row.id,
                service: row.service,
                token: token.token.expose().to_string(),
                hint: row.hint,
            }),
            Err(err) => {
                self.audit.record_failure(event.failed(&err)).await;
                Err(err)
            }
        }
    }

    pub async fn revoke_token(
        &self,
        ctx: &Ctx,
        _s: &AdminSession,
        params: RevokeTokenParams,
    ) -> OpResult<()> {
        let event = ctx
            .event(method::ServicesRevokeToken::ACTION)
            .detail(format!("token={}", params.id));
        let (id, ev) = (params.id.clone(), event.clone().ok());
        let result = self
            .db
            .write(move |conn| {
                if !services::revoke_token(conn, &id, db::now())? {
                    return Ok(Err(ApiError::new(
                        ErrorCode::NotFound,
                        format!("no live token with id {id}"),
                    )));
                }
                events::insert(conn, &[ev])?;
                Ok::<_, DbError>(Ok(()))
            })
            .await
            .map_err(audit_or)
            .and_then(|r| r);
        if let Err(err) = &result {
            self.audit.record_failure(event.failed(err)).await;
        }
        result
    }
}

/// "1 user", "3 users" (for event details).
fn count_users(n: usize) -> String {
    if n == 1 {
        "1 user".into()
    } else {
        format!("{n} users")
    }
}
