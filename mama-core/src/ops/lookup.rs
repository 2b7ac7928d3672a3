//! The REST lookup for services: many user ids in, each user's info and key out. A service gets
//! a user's key only if that user's allowed services include it.
//!
//! The answer is assembled from each user's JSON rendered once ([`RenderedUser`]); those
//! renderings (and on SQLite the token → service resolution) are cached for the current data
//! generation (see `lookup_cache`), so a lookup of ids answered before costs a hash lookup per
//! id and a copy of its bytes.

use crate::api::actions;
use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};

use zeroize::{Zeroize, Zeroizing};

use super::lookup_cache::{GenerationCache, Keyed};
use super::{Actor, Ctx, Mama, OpResult};
use crate::api::rest::{KeyWithheld, LookupUser, MAX_LOOKUP_IDS};
use crate::api::types::KeyStatus;
use crate::api::{ApiError, ErrorCode};
use crate::auth::{constant_time_eq, hash_token, looks_like_service_token};
use crate::crypto::{user_key_aad, KeyCipher};
use crate::db::{self, services, users, Backend, DbConn, DbError};
use crate::domain::{limits, validate, KeyAccess, NameSet};

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

/// One user's entry in a lookup answer, as JSON, for both kinds of caller, or the mark that no
/// such user exists: one block of memory holding the id, the allowed services (`\n`-delimited)
/// and both entries, so answering for a user touches one place (see `lookup_cache` on why that
/// matters). Wiped when dropped, as it holds the key.
pub struct RenderedUser {
    buf: Box<str>,
    /// Ends of the id, the services and the entry for allowed services within `buf`.
    id_end: u32,
    services_end: u32,
    allowed_end: u32,
    /// Unix time from which this answer is out of date though nothing was written: the key's
    /// expiry (`i64::MAX`: never).
    stale_at: i64,
}

impl Keyed for RenderedUser {
    fn key(&self) -> &str {
        &self.buf[..self.id_end as usize]
    }
}

impl Drop for RenderedUser {
    fn drop(&mut self) {
        self.buf.zeroize();
    }
}

impl RenderedUser {
    /// The entry for an id no user has (cached like any other answer of this generation).
    fn missing(id: &str) -> RenderedUser {
        let end = id.len() as u32;
        RenderedUser {
            buf: id.into(),
            id_end: end,
            services_end: end,
            allowed_end: end,
            stale_at: i64::MAX,
        }
    }

    fn is_stale(&self, now: i64) -> bool {
        self.stale_at <= now
    }

    fn exists(&self) -> bool {
        self.buf.len() > self.id_end as usize
    }

    /// Decodes a stored row and renders both entries. A key that does not decrypt (tampered or
    /// moved ciphertext) is withheld as `key_unreadable` instead of failing the whole lookup.
    /// Buffers that hold the key are sized up front, so none is reallocated (leaving an unwiped
    /// copy behind).
    fn render(
        row: &users::LookupRow,
        cipher: &KeyCipher,
        serving: Serving,
    ) -> Result<RenderedUser, DbError> {
        let corrupt = |what: &str, e: serde_json::Error| {
            DbError::Corrupt(format!("{what} of {}: {e}", row.id))
        };
        let now = Utc::now();
        let limits = row.limits.limits().values;
        // An answer stays valid until the key expires: then it must say so, though no write
        // has happened.
        // So does the end of a rotated key's grace.
        let stale_at = [limits.expires_at, row.retiring_until.map(|t| t.and_utc())]
            .into_iter()
            .flatten()
            .filter(|at| *at > now)
            .map(|at| at.timestamp())
            .min()
            .unwrap_or(i64::MAX);
        let services: Vec<String> =
            serde_json::from_str(&row.services).map_err(|e| corrupt("services", e))?;
        let mut user = LookupUser {
            id: row.id.clone(),
            organization: row.organization.clone(),
            models: serde_json::from_str(&row.models).map_err(|e| corrupt("models", e))?,
            services,
            info: serde_json::from_str(&row.info).map_err(|e| corrupt("info", e))?,
            key: None,
            key_status: row.key_status,
            key_withheld: Some(KeyWithheld::ServiceNotAllowed),
            status: limits::status(
                row.key_status,
                row.suspended_at.is_some(),
                &limits,
                row.spend,
                now,
            ),
            limits,
            rotated_at: row.rotated_at.map(|t| t.and_utc()),
            previous_key_expires_at: row.retiring_until.map(|t| t.and_utc()).filter(|t| *t > now),
        };
        let for_others = serde_json::to_string(&user).map_err(|e| corrupt("answer", e))?;
        let models = NameSet::new(user.models.iter().cloned());
        let choice = serving.choose(row, &models, now);
        if choice.rotating {
            // The old key works until LiteLLM confirms the new one: it is the one served.
            user.key_status = KeyStatus::Active;
        }
        (user.key, user.key_withheld) = match choice.key {
            Err(why) => (None, Some(why)),
            Ok(blob) => match cipher.decrypt(blob, &user_key_aad(&row.id)) {
                Ok(key) => (Some(key.expose().to_string()), None),
                Err(_) => {
                    tracing::error!(user = %row.id, "stored key does not decrypt (tampered or moved ciphertext)");
                    // As `users.get` shows it: the key has failed until it is rotated.
                    user.key_status = KeyStatus::Failed;
                    (None, Some(KeyWithheld::KeyUnreadable))
                }
            },
        };
        let key_len = user.key.as_ref().map_or(0, |k| 2 * k.len());
        let mut for_allowed = Zeroizing::new(Vec::with_capacity(for_others.len() + key_len + 64));
        let rendered = serde_json::to_writer(&mut *for_allowed, &user);
        if let Some(key) = user.key.as_mut() {
            key.zeroize();
        }
        rendered.map_err(|e| corrupt("answer", e))?;
        let for_allowed = std::str::from_utf8(&for_allowed)
            .map_err(|e| DbError::Corrupt(format!("answer of {}: {e}", row.id)))?;
        let services_len: usize = user.services.iter().map(|s| s.len() + 1).sum();
        let total = row.id.len() + 1 + services_len + for_allowed.len() + for_others.len();
        let mut buf = String::with_capacity(total);
        buf.push_str(&row.id);
        let id_end = buf.len();
        buf.push('\n');
        for service in &user.services {
            buf.push_str(service);
            buf.push('\n');
        }
        let services_end = buf.len();
        buf.push_str(for_allowed);
        let allowed_end = buf.len();
        buf.push_str(&for_others);
        let offset = |n: usize| {
            u32::try_from(n)
                .map_err(|_| DbError::Corrupt(format!("answer of {} is too large", row.id)))
        };
        Ok(RenderedUser {
            id_end: offset(id_end)?,
            services_end: offset(services_end)?,
            allowed_end: offset(allowed_end)?,
            stale_at,
            // Exactly sized, so this does not reallocate.
            buf: buf.into_boxed_str(),
        })
    }

    /// Whether `service` is among the user's services: a compare per service (users have a
    /// few), where a substring search would first build a searcher for every user answered.
    fn allows(&self, service: &str) -> bool {
        !service.is_empty()
            && self.buf[self.id_end as usize..self.services_end as usize]
                .split('\n')
                .any(|allowed| allowed == service)
    }

    /// This user's entry as `service` may see it.
    fn json_for(&self, service: &str) -> &str {
        if self.allows(service) {
            &self.buf[self.services_end as usize..self.allowed_end as usize]
        } else {
            &self.buf[self.allowed_end as usize..]
        }
    }
}

/// What the daemon knows that decides which key a lookup may hand out.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Serving {
    /// LiteLLM is configured: only a key LiteLLM confirmed is handed out. (Without LiteLLM no key
    /// can be confirmed; keys are served as pending, as the README says.)
    pub litellm: bool,
    pub team_configured: bool,
}

/// The key a lookup hands out for one user, or why none.
struct ServedKey<'r> {
    key: Result<&'r [u8], KeyWithheld>,
    /// The previous key is served while a rotation waits for LiteLLM.
    rotating: bool,
}

impl Serving {
    /// The key that works in LiteLLM: none for a user who may use no model (its key is blocked);
    /// the previous key while a rotation is unconfirmed; the current key once LiteLLM confirmed it.
    fn choose<'r>(
        &self,
        row: &'r users::LookupRow,
        models: &NameSet,
        now: DateTime<Utc>,
    ) -> ServedKey<'r> {
        let withheld = |why| ServedKey {
            key: Err(why),
            rotating: false,
        };
        let Some(current) = row.key_ciphertext.as_deref() else {
            return withheld(KeyWithheld::NoKey);
        };
        if row.suspended_at.is_some() {
            return withheld(KeyWithheld::Suspended);
        }
        if users::limits::expired(row.limits.expires_at, now) {
            return withheld(KeyWithheld::Expired);
        }
        if KeyAccess::of(models, self.team_configured).blocked {
            return withheld(KeyWithheld::NoModels);
        }
        if let Some(previous) = row.prev_key_ciphertext.as_deref() {
            return ServedKey {
                key: Ok(previous),
                rotating: true,
            };
        }
        if self.litellm && row.synced_models.is_none() {
            return withheld(KeyWithheld::NotInLiteLlmYet);
        }
        ServedKey {
            key: Ok(current),
            rotating: false,
        }
    }
}

/// A lookup's answer, rendered: `{"users": [...], "missing": [...]}` (see `LookupResponse`).
pub struct RenderedLookup {
    /// The JSON body. Holds keys; wiped when dropped.
    pub json: Zeroizing<String>,
    pub found: usize,
    pub missing: usize,
}

/// How many times a lookup tries to answer from the cache before it reads every id afresh
/// (only when writes keep committing between its reads).
const CACHED_ATTEMPTS: usize = 3;

/// The answer to a lookup of `ids` (each one's rendering, aligned) for `service`.
fn assemble(ids: &[&str], users: &[&RenderedUser], service: &str) -> RenderedLookup {
    // Each user's entry, chosen once. Sized up front: growing would leave copies of keys
    // behind in freed memory. Sizing also reads one byte of every cache line the copy will
    // read: those loads are independent, so their misses overlap, and the copy below finds the
    // lines in cache.
    let mut touched = 0u8;
    let entries: Vec<Option<&str>> = users
        .iter()
        .map(|user| {
            user.exists().then(|| {
                let entry = user.json_for(service);
                touched ^= entry.bytes().step_by(64).fold(0, |acc, b| acc ^ b);
                entry
            })
        })
        .collect();
    std::hint::black_box(touched);
    let capacity = 32
        + entries
            .iter()
            .zip(ids)
            .map(|(entry, id)| entry.map_or(id.len() + 3, |e| e.len() + 1))
            .sum::<usize>();
    // A duplicate id in the request is answered once, where it first appears. Equal ids are
    // the same cache entry, so duplicates are found by address; requests rarely hold any, and
    // then one sort tells so without hashing every id.
    let mut seen = repeated_entries(users).then(HashSet::new);
    let mut json = Zeroizing::new(String::with_capacity(capacity));
    json.push_str(r#"{"users":["#);
    let mut found = 0;
    let mut missing = Vec::new();
    for ((id, user), entry) in ids.iter().zip(users).zip(&entries) {
        if let Some(seen) = seen.as_mut() {
            if !seen.insert(std::ptr::from_ref(*user)) {
                continue;
            }
        }
        match entry {
            Some(entry) => {
                if found > 0 {
                    json.push(',');
                }
                json.push_str(entry);
                found += 1;
            }
            None => missing.push(*id),
        }
    }
    json.push_str(r#"],"missing":["#);
    for (i, id) in missing.iter().enumerate() {
        if i > 0 {
            json.push(',');
        }
        // Ids are validated before a lookup: none needs JSON escaping.
        json.push('"');
        json.push_str(id);
        json.push('"');
    }
    json.push_str("]}");
    RenderedLookup {
        json,
        found,
        missing: missing.len(),
    }
}

/// Whether any entry appears more than once (by address: one entry per distinct id).
fn repeated_entries(users: &[&RenderedUser]) -> bool {
    let mut addresses: Vec<*const RenderedUser> =
        users.iter().map(|user| std::ptr::from_ref(*user)).collect();
    addresses.sort_unstable();
    addresses.windows(2).any(|pair| pair[0] == pair[1])
}

impl Mama {
    /// Resolves a bearer token to its service: `ctx` as that service. Every refusal looks the
    /// same to the caller.
    pub async fn authenticate_service(&self, ctx: &Ctx, token: Option<&str>) -> OpResult<Ctx> {
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
        let (service, data_generation) = match self.db.backend() {
            Backend::Sqlite => (self.sqlite_token_service(&hash).await?, None),
            Backend::Postgres => {
                // The token and the data version in one round trip; no cache (a revocation by
                // another daemon must count at once).
                let wanted = hash.clone();
                let (row, version) = self
                    .db
                    .read(move |conn| match conn {
                        DbConn::Pg(pg) => services::find_live_token_at_version(pg, &wanted),
                        DbConn::Sqlite(_) => Err(DbError::Unavailable("not PostgreSQL".into())),
                    })
                    .await
                    .map_err(ApiError::from)?;
                (row, Some(version))
            }
        };
        // Found by its hash (a unique index), then compared in constant time, so neither the
        // lookup nor the comparison tells an attacker how close a guess was.
        let service = service
            .filter(|(_, stored)| constant_time_eq(stored.as_bytes(), hash.as_bytes()))
            .map(|(service, _)| service)
            .ok_or_else(refused)?;
        let mut ctx = ctx.with_actor(Actor::Service(service));
        ctx.data_generation = data_generation;
        Ok(ctx)
    }

    /// SQLite: the live token with this hash as `(service, stored hash)`, cached per write
    /// generation (one daemon owns the file, so its own write counter is the generation).
    async fn sqlite_token_service(&self, hash: &str) -> OpResult<Option<(String, String)>> {
        let cache = &self.lookup_caches.tokens;
        let generation = self.db.write_generation();
        let cached = cache.with(generation, |view| {
            view.get(hash)
                .map(|token| (token.service.clone(), token.hash.clone()))
        });
        if cached.is_some() {
            return Ok(cached);
        }
        let wanted = hash.to_string();
        let row = self
            .db
            .read(move |conn| services::find_live_token(conn, &wanted))
            .await
            .map_err(ApiError::from)?;
        let Some(row) = row else {
            return Ok(None);
        };
        let current = self.db.write_generation();
        let token = TokenService {
            hash: row.token_hash.clone(),
            service: row.service.clone(),
        };
        cache.put_many(generation, current, [token]);
        Ok(Some((row.service, row.token_hash)))
    }

    /// `POST /api/v1/users/lookup`. The caller's ctx must carry `Actor::Service`.
    pub async fn lookup_users(&self, ctx: &Ctx, ids: &[&str]) -> OpResult<RenderedLookup> {
        let result = self.lookup_inner(ctx, ids).await;
        let event = ctx.event(actions::REST_LOOKUP).users(ids);
        self.finish_read(event, result, |e, answer| {
            e.detail(format!(
                "found {}, missing {}",
                answer.found, answer.missing
            ))
        })
        .await
    }

    async fn lookup_inner(&self, ctx: &Ctx, ids: &[&str]) -> OpResult<RenderedLookup> {
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
        let service = self.calling_service(ctx)?;
        self.answer_from_rendered(ctx, ids, |users| assemble(ids, users, service))
            .await
    }

    fn calling_service<'c>(&self, ctx: &'c Ctx) -> OpResult<&'c str> {
        match &ctx.actor {
            Actor::Service(service) => Ok(service),
            _ => Err(ApiError::new(
                ErrorCode::Unauthenticated,
                "a service token is required",
            )),
        }
    }

    /// Runs `answer` on the rendering of each of `ids` (aligned with them): from the cache
    /// while it is current (in place, under its read lock), after reading what it lacks in one
    /// query per chunk of ids.
    async fn answer_from_rendered<R>(
        &self,
        ctx: &Ctx,
        ids: &[&str],
        answer: impl Fn(&[&RenderedUser]) -> R,
    ) -> OpResult<R> {
        let cache = &self.lookup_caches.users;
        for attempt in 0..CACHED_ATTEMPTS {
            let generation = match ctx.data_generation {
                Some(read_at_authentication) if attempt == 0 => read_at_authentication,
                _ => self.cache_generation().await?,
            };
            let now = Utc::now().timestamp();
            let outcome = cache.with(generation, |view| {
                let found = view.get_all(ids);
                let misses: Vec<String> = ids
                    .iter()
                    .zip(&found)
                    .filter(|(_, user)| user.is_none_or(|u| u.is_stale(now)))
                    .map(|(id, _)| id.to_string())
                    .collect();
                if !misses.is_empty() {
                    return Err(misses);
                }
                let users: Vec<&RenderedUser> = found.into_iter().flatten().collect();
                Ok(answer(&users))
            });
            let misses = match outcome {
                Ok(done) => return Ok(done),
                Err(misses) => misses,
            };
            let (fetched, current) = self.render_from_db(misses).await?;
            // Kept unless a write committed meanwhile (then the next attempt starts from the
            // newer generation).
            cache.put_many(generation, current, fetched);
        }
        // Writes keep committing between this lookup's reads: answer from one read of every id.
        let (fetched, _) = self
            .render_from_db(ids.iter().map(|id| id.to_string()).collect())
            .await?;
        let by_id: HashMap<&str, &RenderedUser> = fetched.iter().map(|u| (u.key(), u)).collect();
        let users: Vec<&RenderedUser> =
            ids.iter().filter_map(|id| by_id.get(id).copied()).collect();
        if users.len() != ids.len() {
            return Err(ApiError::from(DbError::Corrupt(
                "a lookup read lost an id".into(),
            )));
        }
        Ok(answer(&users))
    }

    /// The generation cached entries are valid for (see `lookup_cache`).
    async fn cache_generation(&self) -> OpResult<u64> {
        match self.db.backend() {
            Backend::Sqlite => Ok(self.db.write_generation()),
            Backend::Postgres => self.db.read(db::data_version).await.map_err(ApiError::from),
        }
    }

    /// Reads and renders each of `ids` (a "missing" entry for those no user has), with the
    /// generation as of just after the read.
    async fn render_from_db(&self, ids: Vec<String>) -> OpResult<(Vec<RenderedUser>, u64)> {
        let cipher = self.cipher.clone();
        let db = self.db.clone();
        let serving = Serving {
            litellm: self.sync.engine().is_some(),
            team_configured: self.team_configured(),
        };
        self.db
            .read(move |conn| {
                let rows = users::find_for_lookup(conn, &ids)?;
                let mut rendered = rows
                    .iter()
                    .map(|row| RenderedUser::render(row, &cipher, serving))
                    .collect::<Result<Vec<_>, DbError>>()?;
                let found: HashSet<&str> = rows.iter().map(|r| r.id.as_str()).collect();
                let mut absent: Vec<&str> = ids
                    .iter()
                    .map(String::as_str)
                    .filter(|id| !found.contains(id))
                    .collect();
                absent.sort_unstable();
                absent.dedup();
                rendered.extend(absent.into_iter().map(RenderedUser::missing));
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
        let event = ctx.event(actions::REST_GET_USER).users([id.as_str()]);
        let result = self.lookup_one(ctx, &id).await;
        self.finish_read(event, result, |e, _| e.detail("found"))
            .await
    }

    async fn lookup_one(&self, ctx: &Ctx, id: &str) -> OpResult<Zeroizing<String>> {
        validate::user_id(id).map_err(|msg| ApiError::invalid("id", msg))?;
        let service = self.calling_service(ctx)?;
        let entry = self
            .answer_from_rendered(ctx, &[id], |users| {
                let user = users[0];
                user.exists()
                    .then(|| Zeroizing::new(user.json_for(service).to_string()))
            })
            .await?;
        entry.ok_or_else(|| ApiError {
            missing: vec![id.to_string()],
            ..ApiError::new(ErrorCode::NotFound, format!("no user {id}"))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A rendering as `RenderedUser::render` lays it out, with short stand-in answers.
    fn user(id: &str, services: &[&str]) -> RenderedUser {
        let mut buf = format!("{id}\n");
        for service in services {
            buf.push_str(service);
            buf.push('\n');
        }
        let services_end = buf.len() as u32;
        buf.push_str(&format!(r#"{{"id":"{id}","key":"k"}}"#));
        let allowed_end = buf.len() as u32;
        buf.push_str(&format!(r#"{{"id":"{id}","key":null}}"#));
        RenderedUser {
            buf: buf.into_boxed_str(),
            id_end: id.len() as u32,
            services_end,
            allowed_end,
            stale_at: i64::MAX,
        }
    }

    #[test]
    fn a_key_goes_only_to_a_service_named_exactly() {
        let alice = user("alice", &["billing", "search"]);
        assert_eq!(alice.json_for("billing"), r#"{"id":"alice","key":"k"}"#);
        assert_eq!(alice.json_for("search"), r#"{"id":"alice","key":"k"}"#);
        // Prefixes, extensions and the empty name are other services.
        for other in ["bill", "billing2", "searc", "", "billing\nsearch"] {
            assert_eq!(
                alice.json_for(other),
                r#"{"id":"alice","key":null}"#,
                "{other:?}"
            );
        }
        let nobody = user("bob", &[]);
        assert_eq!(nobody.json_for("billing"), r#"{"id":"bob","key":null}"#);
    }

    #[test]
    fn repeated_ids_are_answered_once_where_they_first_appear() {
        let (a, b) = (user("a", &["s"]), user("b", &[]));
        let gone = RenderedUser::missing("gone");
        let ids = ["b", "gone", "a", "b", "gone", "a"];
        let users = [&b, &gone, &a, &b, &gone, &a];
        let answer = assemble(&ids, &users, "s");
        assert_eq!(
            answer.json.as_str(),
            r#"{"users":[{"id":"b","key":null},{"id":"a","key":"k"}],"missing":["gone"]}"#
        );
        assert_eq!((answer.found, answer.missing), (2, 1));

        let unique = assemble(&["a", "gone"], &[&a, &gone], "s");
        assert_eq!(
            unique.json.as_str(),
            r#"{"users":[{"id":"a","key":"k"}],"missing":["gone"]}"#
        );
    }
}
