//! The REST lookup for services: many user ids in, each user's info and key out. A service gets
//! a user's key only if that user's allowed services include it.

use std::collections::HashMap;
use std::sync::Arc;

use super::{Actor, Ctx, Mama, OpResult};
use crate::api::rest::{KeyWithheld, LookupResponse, LookupUser, MAX_LOOKUP_IDS};
use crate::api::{ApiError, ErrorCode};
use crate::auth::{constant_time_eq, hash_token, looks_like_service_token};
use crate::db::{services, users, DbError};
use crate::domain::validate;

impl Mama {
    /// Resolves a bearer token to its service name. Every refusal looks the same to the caller.
    pub async fn authenticate_service(&self, token: Option<&str>) -> OpResult<String> {
        let refused = || {
            ApiError::new(
                ErrorCode::Unauthenticated,
                "a valid service token is required in the Authorization header (Bearer)",
            )
        };
        let token = token
            .filter(|t| looks_like_service_token(t))
            .ok_or_else(refused)?;
        let hash = hash_token(token);
        // Found by its hash (a unique index), then compared in constant time, so neither the
        // lookup nor the comparison tells an attacker how close a guess was.
        let wanted = hash.clone();
        let row = self
            .db
            .read(move |conn| services::find_live_token(conn, &wanted))
            .await
            .map_err(ApiError::from)?;
        row.filter(|t| constant_time_eq(t.token_hash.as_bytes(), hash.as_bytes()))
            .map(|t| t.service)
            .ok_or_else(refused)
    }

    /// `POST /api/v1/users/lookup`. The caller's ctx must carry `Actor::Service`.
    pub async fn lookup_users(&self, ctx: &Ctx, ids: Vec<String>) -> OpResult<LookupResponse> {
        let event = ctx.event("rest.lookup").users(ids.clone());
        let result = self.lookup_inner(ctx, ids).await;
        self.finish_read(event, result, |e, resp| {
            e.detail(format!(
                "found {}, missing {}",
                resp.users.len(),
                resp.missing.len()
            ))
        })
        .await
    }

    async fn lookup_inner(&self, ctx: &Ctx, ids: Vec<String>) -> OpResult<LookupResponse> {
        if ids.is_empty() || ids.len() > MAX_LOOKUP_IDS {
            return Err(ApiError::invalid(
                "user_ids",
                format!("must hold 1 to {MAX_LOOKUP_IDS} ids (got {})", ids.len()),
            ));
        }
        let mut problems = validate::Problems::default();
        for (i, id) in ids.iter().enumerate() {
            if let Err(msg) = validate::user_id(id) {
                problems.push(format!("user_ids[{i}]"), msg, Some(i));
            }
        }
        if !problems.is_empty() {
            return Err(ApiError::invalid_fields(problems.errors));
        }
        let service = match &ctx.actor {
            Actor::Service(name) => name.clone(),
            _ => {
                return Err(ApiError::new(
                    ErrorCode::Unauthenticated,
                    "a service token is required",
                ))
            }
        };
        let rows = self.lookup_rows(&ids).await?;
        let mut by_id: HashMap<String, Arc<users::LookupRow>> =
            rows.into_iter().map(|r| (r.id.clone(), r)).collect();
        let mut found = Vec::with_capacity(by_id.len());
        let mut missing = Vec::new();
        let corrupt = |what: &str, id: &str, e: serde_json::Error| {
            ApiError::from(DbError::Corrupt(format!("{what} of {id}: {e}")))
        };
        for id in &ids {
            // A duplicate id in the request is answered once, where it first appears.
            let Some(row) = by_id.remove(id.as_str()) else {
                if !found.iter().any(|u: &LookupUser| &u.id == id) {
                    missing.push(id.clone());
                }
                continue;
            };
            // Stored sets are canonical JSON arrays already: no re-sorting needed.
            let services: Vec<String> =
                serde_json::from_str(&row.services).map_err(|e| corrupt("services", &row.id, e))?;
            let (key, withheld) = if !services.contains(&service) {
                (None, Some(KeyWithheld::ServiceNotAllowed))
            } else {
                match self.decrypt_for(&row.id, row.key_ciphertext.as_deref())? {
                    Some(k) => (Some(k), None),
                    None => (None, Some(KeyWithheld::NoKey)),
                }
            };
            found.push(LookupUser {
                models: serde_json::from_str(&row.models)
                    .map_err(|e| corrupt("models", &row.id, e))?,
                info: serde_json::from_str(&row.info).map_err(|e| corrupt("info", &row.id, e))?,
                key_status: crate::api::types::KeyStatus::parse(&row.key_status)
                    .unwrap_or(crate::api::types::KeyStatus::Failed),
                id: row.id.clone(),
                organization: row.organization.clone(),
                services,
                key,
                key_withheld: withheld,
            });
        }
        Ok(LookupResponse {
            users: found,
            missing,
        })
    }

    /// The rows of `ids` that exist: from the cache when it is current, else one query.
    async fn lookup_rows(&self, ids: &[String]) -> OpResult<Vec<Arc<users::LookupRow>>> {
        let Some(cache) = &self.lookup_cache else {
            let wanted = ids.to_vec();
            let rows = self
                .db
                .read(move |conn| users::find_for_lookup(conn, &wanted))
                .await
                .map_err(|e: DbError| ApiError::from(e))?;
            return Ok(rows.into_iter().map(Arc::new).collect());
        };
        let generation = self.db.write_generation();
        let (mut rows, misses) = cache.get(generation, ids);
        if !misses.is_empty() {
            let fetched = self
                .db
                .read(move |conn| users::find_for_lookup(conn, &misses))
                .await
                .map_err(|e: DbError| ApiError::from(e))?;
            let fetched: Vec<Arc<users::LookupRow>> = fetched.into_iter().map(Arc::new).collect();
            cache.put(&self.db, generation, &fetched);
            rows.extend(fetched);
        }
        Ok(rows)
    }

    /// `GET /api/v1/users/{id}`: the same as a lookup of one id, 404 when missing.
    pub async fn lookup_user(&self, ctx: &Ctx, id: String) -> OpResult<LookupUser> {
        let mut resp = self.lookup_users(ctx, vec![id.clone()]).await?;
        resp.users.pop().ok_or_else(|| ApiError {
            missing: vec![id.clone()],
            ..ApiError::new(ErrorCode::NotFound, format!("no user {id}"))
        })
    }
}
