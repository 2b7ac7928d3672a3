//! The REST lookup for services: many user ids in, each user's info and key out. A service gets
//! a user's key only if that user's allowed services include it.
//!
//! The answer is assembled from each user's JSON rendered once ([`RenderedUser`]); those
//! renderings (and on SQLite the token → service resolution) are cached for the current data
//! generation (see `lookup_cache`), so a lookup of ids answered before costs a hash lookup per
//! id and a copy of its bytes.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use zeroize::{Zeroize, Zeroizing};

use super::lookup_cache::{GenerationCache, Keyed};
use super::{Actor, Ctx, Mama, OpResult};
use crate::api::rest::{KeyWithheld, LookupUser, MAX_LOOKUP_IDS};
use crate::api::types::KeyStatus;
use crate::api::{ApiError, ErrorCode};
use crate::auth::{constant_time_eq, hash_token, looks_like_service_token};
use crate::crypto::{user_key_aad, KeyCipher};
use crate::db::{self, services, users, Backend, DbError};
use crate::domain::validate;

/// The caches a daemon keeps for lookups (see `lookup_cache`).
#[derive(Clone, Default)]
pub(crate) struct LookupCaches {
    users: GenerationCache<RenderedUser>,
    /// Live tokens by SHA-256, with their service.
    tokens: GenerationCache<TokenService>,
}

/// A live service token (by hash) and the service it belongs to.
struct TokenService {
    hash: String,
    service: String,
}

impl Keyed for TokenService {
    fn key(&self) -> &str {
        &self.hash
    }
}

/// One user's entry in a lookup answer, as JSON, for both kinds of caller: one block of memory
/// holding the id, the allowed services (`\n`-delimited) and both entries, so answering for
/// a user touches one place (see `lookup_cache` on why that matters). Wiped when dropped, as it
/// holds the key.
pub struct RenderedUser {
    buf: String,
    /// Ends of the id, the services and the entry for allowed services within `buf`.
    id_end: usize,
    services_end: usize,
    allowed_end: usize,
}

impl Keyed for RenderedUser {
    fn key(&self) -> &str {
        &self.buf[..self.id_end]
    }
}

impl Drop for RenderedUser {
    fn drop(&mut self) {
        self.buf.zeroize();
    }
}

impl RenderedUser {
    /// Decodes a stored row and renders both entries. A key that does not decrypt (tampered or
    /// moved ciphertext) is withheld as `key_unreadable` instead of failing the whole lookup.
    fn render(row: &users::LookupRow, cipher: &KeyCipher) -> Result<RenderedUser, DbError> {
        let corrupt = |what: &str, e: serde_json::Error| {
            DbError::Corrupt(format!("{what} of {}: {e}", row.id))
        };
        let services: Vec<String> =
            serde_json::from_str(&row.services).map_err(|e| corrupt("services", e))?;
        let mut user = LookupUser {
            id: row.id.clone(),
            organization: row.organization.clone(),
            models: serde_json::from_str(&row.models).map_err(|e| corrupt("models", e))?,
            services,
            info: serde_json::from_str(&row.info).map_err(|e| corrupt("info", e))?,
            key: None,
            key_status: KeyStatus::parse(&row.key_status).unwrap_or(KeyStatus::Failed),
            key_withheld: Some(KeyWithheld::ServiceNotAllowed),
        };
        let mut buf = String::with_capacity(2 * (row.models.len() + row.info.len()) + 512);
        buf.push_str(&row.id);
        let id_end = buf.len();
        buf.push('\n');
        for service in &user.services {
            buf.push_str(service);
            buf.push('\n');
        }
        let services_end = buf.len();
        let for_others = serde_json::to_string(&user).map_err(|e| corrupt("answer", e))?;
        (user.key, user.key_withheld) = match row.key_ciphertext.as_deref() {
            None => (None, Some(KeyWithheld::NoKey)),
            Some(blob) => match cipher.decrypt(blob, &user_key_aad(&row.id)) {
                Ok(key) => (Some(key.expose().to_string()), None),
                Err(_) => {
                    tracing::error!(user = %row.id, "stored key does not decrypt (tampered or moved ciphertext)");
                    // As `users.get` shows it: the key has failed until it is rotated.
                    user.key_status = KeyStatus::Failed;
                    (None, Some(KeyWithheld::KeyUnreadable))
                }
            },
        };
        let rendered = serde_json::to_string(&user).map(Zeroizing::new);
        if let Some(key) = user.key.as_mut() {
            key.zeroize();
        }
        buf.push_str(&rendered.map_err(|e| corrupt("answer", e))?);
        let allowed_end = buf.len();
        buf.push_str(&for_others);
        Ok(RenderedUser {
            buf,
            id_end,
            services_end,
            allowed_end,
        })
    }

    /// Whether `needle` (`"\n" + service + "\n"`) is among the user's services.
    fn allows(&self, needle: &str) -> bool {
        self.buf[self.id_end..self.services_end].contains(needle)
    }

    /// This user's entry as a service may see it; `needle` is `"\n" + service + "\n"`.
    fn json_for(&self, needle: &str) -> &str {
        if self.allows(needle) {
            &self.buf[self.services_end..self.allowed_end]
        } else {
            &self.buf[self.allowed_end..]
        }
    }
}

/// The `needle` of [`RenderedUser::json_for`] for `service`.
fn service_needle(service: &str) -> String {
    format!("\n{service}\n")
}

/// A lookup's answer, rendered: `{"users": [...], "missing": [...]}` (see `LookupResponse`).
pub struct RenderedLookup {
    /// The JSON body. Holds keys; wiped when dropped.
    pub json: Zeroizing<String>,
    pub found: usize,
    pub missing: usize,
}

/// Fills the gaps of `entries` (aligned with `ids`) from freshly read users.
fn align(
    ids: &[String],
    mut entries: Vec<Option<Arc<RenderedUser>>>,
    fetched: &[(String, Arc<RenderedUser>)],
) -> Vec<Option<Arc<RenderedUser>>> {
    let by_id: HashMap<&str, &Arc<RenderedUser>> =
        fetched.iter().map(|(id, u)| (id.as_str(), u)).collect();
    for (id, entry) in ids.iter().zip(entries.iter_mut()) {
        if entry.is_none() {
            *entry = by_id.get(id.as_str()).map(|u| Arc::clone(u));
        }
    }
    entries
}

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
        // Tokens are cached on SQLite only: on PostgreSQL, checking the cache's generation would
        // cost the same round trip as reading the token.
        let generation = self.db.write_generation();
        let token_cache =
            (self.db.backend() == Backend::Sqlite).then_some(&self.lookup_caches.tokens);
        if let Some(cache) = token_cache {
            if let Some(Some(token)) = cache.get_many(generation, &[hash.as_str()]).pop() {
                return Ok(token.service.clone());
            }
        }
        // Found by its hash (a unique index), then compared in constant time, so neither the
        // lookup nor the comparison tells an attacker how close a guess was.
        let wanted = hash.clone();
        let row = self
            .db
            .read(move |conn| services::find_live_token(conn, &wanted))
            .await
            .map_err(ApiError::from)?;
        let service = row
            .filter(|t| constant_time_eq(t.token_hash.as_bytes(), hash.as_bytes()))
            .map(|t| t.service)
            .ok_or_else(refused)?;
        if let Some(cache) = token_cache {
            let current = self.db.write_generation();
            let token = TokenService {
                hash,
                service: service.clone(),
            };
            cache.put_many(generation, current, [Arc::new(token)]);
        }
        Ok(service)
    }

    /// `POST /api/v1/users/lookup`. The caller's ctx must carry `Actor::Service`.
    pub async fn lookup_users(&self, ctx: &Ctx, ids: Vec<String>) -> OpResult<RenderedLookup> {
        let result = self.lookup_inner(ctx, &ids).await;
        let event = ctx.event("rest.lookup").users(ids);
        self.finish_read(event, result, |e, answer| {
            e.detail(format!(
                "found {}, missing {}",
                answer.found, answer.missing
            ))
        })
        .await
    }

    async fn lookup_inner(&self, ctx: &Ctx, ids: &[String]) -> OpResult<RenderedLookup> {
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
        let Actor::Service(service) = &ctx.actor else {
            return Err(ApiError::new(
                ErrorCode::Unauthenticated,
                "a service token is required",
            ));
        };
        let entries = self.rendered_users(ids).await?;
        // A duplicate id in the request is answered once, where it first appears.
        let mut seen = HashSet::with_capacity(ids.len());
        let mut missing = Vec::new();
        let needle = service_needle(service);
        let mut json = Zeroizing::new(String::with_capacity(64 + ids.len() * 320));
        json.push_str(r#"{"users":["#);
        let mut found = 0;
        for (id, entry) in ids.iter().zip(&entries) {
            if !seen.insert(id.as_str()) {
                continue;
            }
            match entry {
                Some(user) => {
                    if found > 0 {
                        json.push(',');
                    }
                    json.push_str(user.json_for(&needle));
                    found += 1;
                }
                None => missing.push(id),
            }
        }
        json.push_str(r#"],"missing":"#);
        json.push_str(
            &serde_json::to_string(&missing)
                .map_err(|e| ApiError::from(DbError::Corrupt(format!("missing ids: {e}"))))?,
        );
        json.push('}');
        Ok(RenderedLookup {
            json,
            found,
            missing: missing.len(),
        })
    }

    /// Each of `ids` rendered (`None` where no such user), in the order of `ids`: from the cache
    /// where it is current, the rest in one query per chunk of ids.
    async fn rendered_users(&self, ids: &[String]) -> OpResult<Vec<Option<Arc<RenderedUser>>>> {
        let caches = &self.lookup_caches;
        let generation = self.cache_generation().await?;
        let keys: Vec<&str> = ids.iter().map(String::as_str).collect();
        let cached = caches.users.get_many(generation, &keys);
        let misses: Vec<String> = ids
            .iter()
            .zip(&cached)
            .filter(|(_, e)| e.is_none())
            .map(|(id, _)| id.clone())
            .collect();
        if misses.is_empty() {
            return Ok(cached);
        }
        let (fetched, current) = self.render_from_db(misses).await?;
        let entries = align(ids, cached, &fetched);
        caches
            .users
            .put_many(generation, current, fetched.into_iter().map(|(_, u)| u));
        Ok(entries)
    }

    /// The generation cached entries are valid for (see `lookup_cache`).
    async fn cache_generation(&self) -> OpResult<u64> {
        match self.db.backend() {
            Backend::Sqlite => Ok(self.db.write_generation()),
            Backend::Postgres => self.db.read(db::data_version).await.map_err(ApiError::from),
        }
    }

    /// Reads and renders the users among `ids` that exist, with the generation as of just after
    /// the read.
    async fn render_from_db(
        &self,
        ids: Vec<String>,
    ) -> OpResult<(Vec<(String, Arc<RenderedUser>)>, u64)> {
        let cipher = self.cipher.clone();
        let db = self.db.clone();
        self.db
            .read(move |conn| {
                let rendered = users::find_for_lookup(conn, &ids)?
                    .iter()
                    .map(|row| {
                        Ok((
                            row.id.clone(),
                            Arc::new(RenderedUser::render(row, &cipher)?),
                        ))
                    })
                    .collect::<Result<Vec<_>, DbError>>()?;
                let current = match db.backend() {
                    Backend::Sqlite => db.write_generation(),
                    Backend::Postgres => db::data_version(conn)?,
                };
                Ok::<_, DbError>((rendered, current))
            })
            .await
            .map_err(ApiError::from)
    }

    /// `GET /api/v1/users/{id}`: the same as a lookup of one id (its entry as JSON), 404 when
    /// missing.
    pub async fn lookup_user(&self, ctx: &Ctx, id: String) -> OpResult<Zeroizing<String>> {
        let event = ctx.event("rest.get_user").users(vec![id.clone()]);
        let result = self.lookup_one(ctx, &id).await;
        self.finish_read(event, result, |e, _| e.detail("found"))
            .await
    }

    async fn lookup_one(&self, ctx: &Ctx, id: &str) -> OpResult<Zeroizing<String>> {
        validate::user_id(id).map_err(|msg| ApiError::invalid("id", msg))?;
        let Actor::Service(service) = &ctx.actor else {
            return Err(ApiError::new(
                ErrorCode::Unauthenticated,
                "a service token is required",
            ));
        };
        let ids = [id.to_string()];
        match self.rendered_users(&ids).await?.pop().flatten() {
            Some(user) => Ok(Zeroizing::new(
                user.json_for(&service_needle(service)).to_string(),
            )),
            None => Err(ApiError {
                missing: vec![id.to_string()],
                ..ApiError::new(ErrorCode::NotFound, format!("no user {id}"))
            }),
        }
    }
}
