//! Users: list, get, create many, update one (optimistic concurrency), delete many.

use crate::api::rpc::{method, Method};
use std::collections::HashMap;

use super::auth::{audit_or, AdminSession};
use super::{Ctx, Mama, OpResult};
use crate::api::types::{in_scope, LimitsChange, Scope};
use crate::api::types::{
    CountUsersParams, CreateUsersParams, DeleteUsersParams, GetUsersParams, KeyStatus,
    ListIdsParams, ListUsersParams, Page, PageCursor, RevealKeyParams, RevealedKey,
    UpdateUserParams, UserCounts, UserIds, UserList, UserSort, UserView, UsersCreated,
    UsersDeleted, UsersFound,
};
use crate::api::{ApiError, ErrorCode};
use crate::auth::hash_token;
use crate::crypto::{mint_virtual_key, user_key_aad};
use crate::db::organizations;
use crate::db::outbox::{self, NewOp};
use crate::db::undo::{self, UndoRecord};
use crate::db::usage::store as usage_store;
use crate::db::users::cursor::{Cursor, Window};
use crate::db::users::limits::LimitColumns;
use crate::db::users::{self, NewUserRow, UserChanges, UserRow};
use crate::db::{self, events, DbError};
use crate::domain::limits::{self, UserLimits};
use crate::domain::{validate, KeyAccess, NameSet};
use crate::secret::SecretString;

pub(crate) use super::user_input::{
    check_id_list, dedup, info_json, key_hint, missing_users, within_scope,
};
use super::user_input::{unknown_services, validate_new_users, Grant};

pub use super::user_input::MAX_USERS_PER_CALL;

/// Why `users.create` wrote nothing, found inside its transaction.
enum CreateRefused {
    /// A row grants a service that does not exist.
    UnknownServices(ApiError),
    /// These users exist already.
    Existing(Vec<String>),
    /// These ids are in the trash (their users may come back).
    Trashed(Vec<String>),
}

/// Where a `users.list` page starts: at `offset`, or after / before a cursor (offset 0).
fn page_window(cursor: &PageCursor, sort: UserSort, offset: u64) -> OpResult<Window> {
    let decode = |field: &str, c: &str| {
        Cursor::decode(c, sort.column).map_err(|e| ApiError::invalid(field, e.to_string()))
    };
    match (&cursor.after, &cursor.before) {
        (None, None) => Ok(Window::Offset(offset)),
        (Some(_), Some(_)) => Err(ApiError::invalid(
            "cursor",
            "give after or before, not both",
        )),
        _ if offset != 0 => Err(ApiError::invalid("page.offset", "must be 0 with a cursor")),
        (Some(after), None) => Ok(Window::After(decode("cursor.after", after)?)),
        (None, Some(before)) => Ok(Window::Before(decode("cursor.before", before)?)),
    }
}

impl Mama {
    /// Whether `all-team-models` means anything here: LiteLLM is configured with a team.
    pub fn team_configured(&self) -> bool {
        self.sync.engine().is_some_and(|e| e.config.has_team())
    }

    /// The admin view of a row; `with_key` decrypts the key (users.get only).
    pub fn user_view(&self, row: &UserRow, with_key: bool) -> OpResult<UserView> {
        let models = row.model_set().map_err(ApiError::from)?;
        let (mut key_status, mut key_error) = (row.key_status, row.key_error.clone());
        // A key that does not decrypt (tampered, or copied from another row) fails only its own
        // user, visibly, instead of the whole call; the log says which user.
        let key = match with_key.then(|| self.decrypt_key(row)).transpose() {
            Ok(key) => key.flatten().map(|k| k.expose().to_owned()),
            Err(_) => {
                key_status = KeyStatus::Failed;
                key_error =
                    Some("the stored key cannot be decrypted; rotate the user's key".into());
                None
            }
        };
        let limits = row.limits.limits();
        let suspended = row.suspension.suspension();
        let status = crate::domain::limits::status(
            key_status,
            suspended.is_some(),
            &limits.values,
            row.spend,
            chrono::Utc::now(),
        );
        Ok(UserView {
            id: row.id.clone(),
            organization: row.organization.clone(),
            unavailable_models: self.catalog.unavailable(models.iter()),
            models: models.to_vec(),
            services: row.service_set().map_err(ApiError::from)?.to_vec(),
            info: row.info_map().map_err(ApiError::from)?,
            key_hint: row.key_hint.clone(),
            key_status,
            key_error,
            key_blocked: KeyAccess::of(&models, self.team_configured()).blocked,
            rotating: row.prev_key_hash.is_some(),
            key,
            inherited: limits.inherited(),
            limits: limits.values,
            suspended,
            status,
            spend: row.spend,
            // A reconcile reads every key's spend: a value it left alone is current as of then.
            spend_read_at: row
                .spend_read_at
                .map(|t| t.and_utc())
                .map(|read| self.sync.last_reconcile().map_or(read, |r| r.max(read))),
            spend_30d: row.usage_spend_30d,
            requests_30d: row.usage_requests_30d.max(0) as u64,
            last_used: row.last_used.map(|t| t.date()),
            rotated_at: row.rotated_at.map(|t| t.and_utc()),
            previous_key_expires_at: row
                .retiring_until
                .map(|t| t.and_utc())
                .filter(|t| *t > chrono::Utc::now()),
            version: row.version,
            created_at: row.created_at.and_utc(),
            updated_at: row.updated_at.and_utc(),
        })
    }

    /// The user's plaintext key. A ciphertext that does not decrypt (tampered, or copied from
    /// another row) is an error, never silently "no key".
    pub fn decrypt_key(&self, row: &UserRow) -> OpResult<Option<SecretString>> {
        self.decrypt_for(&row.id, row.key_ciphertext.as_deref())
    }

    /// Decrypts the key stored for `user_id`; the ciphertext is bound to that id.
    pub fn decrypt_for(
        &self,
        user_id: &str,
        blob: Option<&[u8]>,
    ) -> OpResult<Option<SecretString>> {
        let Some(blob) = blob else { return Ok(None) };
        match self.cipher.decrypt(blob, &user_key_aad(user_id)) {
            Ok(secret) => Ok(Some(secret)),
            Err(_) => {
                tracing::error!(user = %user_id, "stored key does not decrypt (tampered or moved ciphertext)");
                Err(ApiError::new(
                    ErrorCode::Internal,
                    format!("the stored key of {user_id} cannot be decrypted"),
                ))
            }
        }
    }

    pub async fn list_users(
        &self,
        ctx: &Ctx,
        s: &AdminSession,
        mut params: ListUsersParams,
    ) -> OpResult<UserList> {
        params.filter.scope = s.scope();
        let result = self.list_users_inner(params.clone()).await;
        let event = ctx.event(method::UsersList::ACTION).filter(&params.filter);
        self.finish_read(event, result, |e, list| e.count(list.users.len() as u64))
            .await
    }

    async fn list_users_inner(&self, params: ListUsersParams) -> OpResult<UserList> {
        let Page { offset, limit } = params.page;
        if limit == 0 || limit > Page::MAX_LIMIT {
            return Err(ApiError::invalid(
                "page.limit",
                format!("must be 1 to {}", Page::MAX_LIMIT),
            ));
        }
        let (filter, sort) = (params.filter, params.sort);
        let window = page_window(&params.cursor, sort, offset)?;
        let available = self.catalog.get().map(|s| s.models);
        // The page and the counts run at once on two connections (two cores): a keystroke in
        // the TUI's filter waits for the slower of the two, not for both (and for neither
        // count when it asks for them separately, with `users.count`).
        let (page_filter, page_available) = (filter.clone(), available.clone());
        let page = self.db.read(move |conn| {
            users::page(
                conn,
                &page_filter,
                page_available.as_deref(),
                sort,
                &window,
                limit,
            )
        });
        let (rows, counts) = if params.counts {
            let counts = self
                .db
                .read(move |conn| users::counts(conn, &filter, available.as_deref()));
            let (rows, counts) = tokio::join!(page, counts);
            (rows, Some(counts.map_err(ApiError::from)?))
        } else {
            (page.await, None)
        };
        let rows = rows.map_err(ApiError::from)?;
        let users = rows
            .iter()
            .map(|r| self.user_view(r, false))
            .collect::<OpResult<Vec<_>>>()?;
        let (start_cursor, end_cursor) = users::page_cursors(&rows, sort.column);
        Ok(UserList {
            users,
            total: counts.map(|(total, _)| total),
            matching: counts.map(|(_, matching)| matching),
            offset,
            limit,
            start_cursor,
            end_cursor,
        })
    }

    /// `users.count`: the counts of `users.list` alone, for a client that showed the page
    /// without waiting for them.
    pub async fn count_users(
        &self,
        ctx: &Ctx,
        s: &AdminSession,
        params: CountUsersParams,
    ) -> OpResult<UserCounts> {
        let available = self.catalog.get().map(|s| s.models);
        let mut filter = params.filter.clone();
        filter.scope = s.scope();
        let event = ctx.event(method::UsersCount::ACTION).filter(&params.filter);
        let result = self
            .db
            .read(move |conn| users::counts(conn, &filter, available.as_deref()))
            .await
            .map_err(ApiError::from)
            .map(|(total, matching)| UserCounts { total, matching });
        self.finish_read(event, result, |e, counts| e.count(counts.matching))
            .await
    }

    /// `users.list_ids`: all matching ids at once, so marking every match is one call.
    pub async fn list_user_ids(
        &self,
        ctx: &Ctx,
        s: &AdminSession,
        params: ListIdsParams,
    ) -> OpResult<UserIds> {
        let available = self.catalog.get().map(|s| s.models);
        let mut filter = params.filter.clone();
        filter.scope = s.scope();
        let event = ctx
            .event(method::UsersListIds::ACTION)
            .filter(&params.filter);
        let result = self
            .db
            .read(move |conn| users::matching_ids(conn, &filter, available.as_deref()))
            .await
            .map_err(ApiError::from);
        let result = result.map(|ids| UserIds { ids });
        self.finish_read(event, result, |e, found| e.count(found.ids.len() as u64))
            .await
    }

    pub async fn get_users(
        &self,
        ctx: &Ctx,
        s: &AdminSession,
        params: GetUsersParams,
    ) -> OpResult<UsersFound> {
        let event = ctx
            .event(method::UsersGet::ACTION)
            .users(params.ids.clone());
        let with_keys = s.may_see_keys() && !params.without_keys;
        let detail = if with_keys {
            "keys shown"
        } else if params.without_keys {
            "keys not asked for"
        } else {
            "keys withheld (viewer)"
        };
        let result = self.get_users_inner(params, s.scope(), with_keys).await;
        self.finish_read(event, result, |e, _| e.detail(detail))
            .await
    }

    /// `users.reveal_key`: one user's full key for an admin to see or copy. Its own event
    /// (`key revealed`), so an audit tells a reveal from the reads that show only the hint.
    pub async fn reveal_key(
        &self,
        ctx: &Ctx,
        s: &AdminSession,
        params: RevealKeyParams,
    ) -> OpResult<RevealedKey> {
        let event = ctx
            .event(method::UsersRevealKey::ACTION)
            .users(vec![params.id.clone()]);
        let get = GetUsersParams {
            ids: vec![params.id.clone()],
            without_keys: false,
        };
        let result = self
            .get_users_inner(get, s.scope(), s.may_see_keys())
            .await
            .and_then(|mut found| match found.users.pop() {
                Some(user) => Ok(RevealedKey {
                    id: user.id,
                    key: user.key,
                    key_hint: user.key_hint,
                    key_status: user.key_status,
                }),
                None => {
                    let mut err = ApiError::new(
                        ErrorCode::NotFound,
                        format!("no user {:?} (or not in your organizations)", params.id),
                    );
                    err.missing = vec![params.id.clone()];
                    Err(err)
                }
            });
        self.finish_read(event, result, |e, _| e.detail("key revealed"))
            .await
    }

    async fn get_users_inner(
        &self,
        params: GetUsersParams,
        scope: Scope,
        with_keys: bool,
    ) -> OpResult<UsersFound> {
        check_id_list("ids", &params.ids, MAX_USERS_PER_CALL)?;
        let ids = params.ids.clone();
        let rows = self
            .db
            .read(move |conn| users::find_many(conn, &ids))
            .await
            .map_err(ApiError::from)?;
        let rows = within_scope(&scope, rows);
        let mut by_id: HashMap<&str, &UserRow> = rows.iter().map(|r| (r.id.as_str(), r)).collect();
        let mut found = Vec::new();
        let mut missing = Vec::new();
        for id in &params.ids {
            match by_id.remove(id.as_str()) {
                Some(row) => found.push(self.user_view(row, with_keys)?),
                None => missing.push(id.clone()),
            }
        }
        Ok(UsersFound {
            users: found,
            missing,
        })
    }

    pub async fn create_users(
        &self,
        ctx: &Ctx,
        s: &AdminSession,
        params: CreateUsersParams,
    ) -> OpResult<UsersCreated> {
        let ids: Vec<String> = params.users.iter().map(|u| u.id.clone()).collect();
        let result = match out_of_scope(s, &params) {
            Some(err) => Err(err),
            None => self.create_users_inner(ctx, params).await,
        };
        if let Err(err) = &result {
            self.audit
                .record_failure(
                    ctx.event(method::UsersCreate::ACTION)
                        .users(ids)
                        .failed(err),
                )
                .await;
        }
        result
    }

    async fn create_users_inner(
        &self,
        ctx: &Ctx,
        params: CreateUsersParams,
    ) -> OpResult<UsersCreated> {
        validate_new_users(&params.users, self.team_configured())?;
        let mut problems = validate::Problems::default();
        for (i, user) in params.users.iter().enumerate() {
            let field = format!("users[{i}].limits");
            limits::validate(
                &field,
                &user.limits,
                chrono::Utc::now(),
                Some(i),
                &mut problems,
            );
        }
        if !problems.is_empty() {
            return Err(ApiError::invalid_fields(problems.errors));
        }
        let now = db::now();
        let mut rows = Vec::with_capacity(params.users.len());
        let mut ops = Vec::with_capacity(params.users.len());
        for user in &params.users {
            let key = mint_virtual_key();
            let models = NameSet::new(user.models.iter().cloned());
            let services = NameSet::new(user.services.iter().cloned());
            let plain = key.expose();
            rows.push(NewUserRow {
                id: user.id.clone(),
                organization: user.organization.clone(),
                models: models.to_json(),
                services: services.to_json(),
                info: info_json(&user.info),
                search_id: users::search_text(&user.id),
                search_org: users::search_text(&user.organization),
                version: 1,
                key_ciphertext: Some(self.cipher.encrypt(plain, &user_key_aad(&user.id))),
                key_hash: Some(hash_token(plain)),
                key_hint: Some(key_hint(plain)),
                key_status: KeyStatus::Pending.into(),
                created_at: now,
                updated_at: now,
                limits: LimitColumns::default(),
            });
            ops.push(NewOp::sync(&user.id));
        }
        let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
        let event = ctx
            .event(method::UsersCreate::ACTION)
            .users(ids.clone())
            .ok();
        let grants: Vec<Grant> = params
            .users
            .iter()
            .enumerate()
            .filter(|(_, u)| !u.services.is_empty())
            .map(|(i, u)| Grant::all(format!("users[{i}].services"), &u.services, Some(i)))
            .collect();
        let own_limits: Vec<LimitsChange> = params.users.iter().map(|u| u.limits.clone()).collect();
        let created = self
            .db
            .write(move |conn| {
                if let Some(err) = unknown_services(conn, &grants)? {
                    return Ok(Err(CreateRefused::UnknownServices(err)));
                }
                let orgs: Vec<String> = rows.iter().map(|r| r.organization.clone()).collect();
                let defaults = organizations::defaults_of(conn, &orgs)?;
                for (row, own) in rows.iter_mut().zip(&own_limits) {
                    let inherited = defaults.get(&row.organization).cloned().unwrap_or_default();
                    row.limits = LimitColumns::of(&UserLimits::default().changed(own, &inherited));
                }
                let existing = users::existing_ids(conn, &ids)?;
                if !existing.is_empty() {
                    return Ok(Err(CreateRefused::Existing(existing)));
                }
                let trashed = crate::db::trash::trashed_ids(conn, &ids)?;
                if !trashed.is_empty() {
                    return Ok(Err(CreateRefused::Trashed(trashed)));
                }
                users::insert_many(conn, &rows)?;
                let minted: Vec<(String, String)> = rows
                    .iter()
                    .filter_map(|r| r.key_hash.clone().map(|h| (h, r.id.clone())))
                    .collect();
                usage_store::record_keys(conn, &minted, now)?;
                outbox::enqueue(conn, &ops, now)?;
                let event_id = event.row.id.clone();
                events::insert(conn, &[event])?;
                let created = ids.iter().map(|id| (id.clone(), 1)).collect();
                undo::store(
                    conn,
                    &event_id,
                    &UndoRecord {
                        created,
                        ..UndoRecord::default()
                    },
                )?;
                Ok::<_, DbError>(Ok(users::find_many(conn, &ids)?))
            })
            .await
            .map_err(audit_or)?;
        let rows = created.map_err(|refused| {
            let (existing, trashed) = match refused {
                CreateRefused::UnknownServices(err) => return err,
                CreateRefused::Existing(existing) => (existing, false),
                CreateRefused::Trashed(trashed) => (trashed, true),
            };
            let index: HashMap<&str, usize> = params
                .users
                .iter()
                .enumerate()
                .map(|(i, u)| (u.id.as_str(), i))
                .collect();
            let fields = existing
                .iter()
                .map(|id| crate::api::FieldError {
                    field: format!("users[{}].id", index.get(id.as_str()).copied().unwrap_or(0)),
                    message: if trashed {
                        format!("user {id} is in the trash: restore it, or purge it to reuse the id")
                    } else {
                        format!("user {id} already exists")
                    },
                    row: index.get(id.as_str()).copied(),
                })
                .collect();
            ApiError {
                fields,
                ..ApiError::new(
                    ErrorCode::AlreadyExists,
                    if trashed {
                        format!(
                            "{} of the users are in the trash (deleted, restorable); restore or purge them first; nothing was created",
                            existing.len()
                        )
                    } else {
                        format!(
                            "{} of the users already exist; nothing was created",
                            existing.len()
                        )
                    },
                )
            }
        })?;
        let mut order: HashMap<String, usize> = HashMap::new();
        for (i, u) in params.users.iter().enumerate() {
            order.insert(u.id.clone(), i);
        }
        let mut views = rows
            .iter()
            .map(|r| self.user_view(r, false))
            .collect::<OpResult<Vec<_>>>()?;
        views.sort_by_key(|v| order.get(&v.id).copied().unwrap_or(usize::MAX));
        Ok(UsersCreated {
            created: views.len() as u64,
            users: views,
        })
    }

    pub async fn update_user(
        &self,
        ctx: &Ctx,
        s: &AdminSession,
        params: UpdateUserParams,
    ) -> OpResult<UserView> {
        let id = params.id.clone();
        let result = self.update_user_inner(ctx, s, params).await;
        if let Err(err) = &result {
            self.audit
                .record_failure(
                    ctx.event(method::UsersUpdate::ACTION)
                        .users([id])
                        .failed(err),
                )
                .await;
        }
        result
    }

    async fn update_user_inner(
        &self,
        ctx: &Ctx,
        s: &AdminSession,
        params: UpdateUserParams,
    ) -> OpResult<UserView> {
        let mut problems = validate::Problems::default();
        if let Err(msg) = validate::user_id(&params.id) {
            problems.push("id", msg, None);
        }
        if let Some(org) = &params.organization {
            if let Err(msg) = validate::organization(org) {
                problems.push("organization", msg, None);
            }
        }
        if let Some(models) = &params.models {
            validate::set_members("models", models, None, &mut problems);
            validate::team_sentinel(
                "models",
                models,
                self.team_configured(),
                None,
                &mut problems,
            );
        }
        if let Some(services) = &params.services {
            validate::set_members("services", services, None, &mut problems);
        }
        if let Some(info) = &params.info {
            validate::info("info", info, None, &mut problems);
        }
        limits::validate(
            "limits",
            &params.limits,
            chrono::Utc::now(),
            None,
            &mut problems,
        );
        if let Some(suspend) = &params.suspend {
            limits::validate_suspend("suspend", suspend, &mut problems);
            if params.resume {
                problems.push("resume", "give suspend or resume, not both", None);
            }
        }
        if !problems.is_empty() {
            return Err(ApiError::invalid_fields(problems.errors));
        }
        if let Some(org) = &params.organization {
            s.require_in_scope("organization", org)?;
        }
        let actor = s.username.clone();
        let scope = s.scope();
        let event = ctx
            .event(method::UsersUpdate::ACTION)
            .users([params.id.clone()]);
        let id = params.id.clone();
        let row = self
            .db
            .write(move |conn| {
                let current = users::find(conn, &params.id)?.filter(|u| in_scope(&scope, &u.organization));
                let Some(current) = current else {
                    return Ok(Err(ApiError::new(ErrorCode::NotFound, format!("no user {}", params.id))));
                };
                if current.version != params.version {
                    return Ok(Err(ApiError {
                        current_version: Some(current.version),
                        ..ApiError::new(
                            ErrorCode::Conflict,
                            format!("user {} was changed by someone else (version {} is now {}); reload and edit again", current.id, params.version, current.version),
                        )
                    }));
                }
                let old_services = current.service_set()?;
                if let Some(services) = &params.services {
                    // Only what this change grants anew must exist: a name the user holds from
                    // before the rule may stay (or go) without blocking other edits.
                    let granted = Grant {
                        field: "services".into(),
                        row: None,
                        names: services.iter().cloned().enumerate().filter(|(_, s)| !old_services.contains(s)).collect(),
                    };
                    if let Some(err) = unknown_services(conn, &[granted])? {
                        return Ok(Err(err));
                    }
                }
                let mut changes = UserChanges { updated_at: Some(db::now()), ..Default::default() };
                let mut changed = Vec::new();
                let mut resync = false;
                let new_org = params.organization.clone().filter(|o| *o != current.organization);
                if let Some(org) = new_org.clone() {
                    changes.search_org = Some(users::search_text(&org));
                    changes.organization = Some(org);
                    changed.push("organization");
                }
                // A new organization brings its defaults for every limit the user does not set.
                if new_org.is_some() || !params.limits.is_empty() {
                    let org = new_org.as_deref().unwrap_or(&current.organization);
                    let defaults = organizations::defaults(conn, org)?;
                    let old = current.limits.limits();
                    let new = old.changed(&params.limits, &defaults);
                    if new != old {
                        changes.set_limits(&LimitColumns::of(&new));
                        changed.push("limits");
                        resync |= new.values != old.values;
                    }
                }
                let suspended = current.suspension.suspended_at.is_some();
                if let Some(suspend) = params.suspend.as_ref().filter(|_| !suspended) {
                    changes.set_suspension(Some((db::now(), actor.clone(), suspend.reason.trim().to_string())));
                    changed.push("suspended");
                    resync = true;
                }
                if params.resume && suspended {
                    changes.set_suspension(None);
                    changed.push("resumed");
                    resync = true;
                }
                let old_models = current.model_set()?;
                if let Some(models) = params.models.map(NameSet::new).filter(|m| *m != old_models) {
                    users::delete_model_rows(conn, std::slice::from_ref(&current.id), None)?;
                    users::insert_model_rows(conn, &models.iter().map(|m| (current.id.clone(), m.clone())).collect::<Vec<_>>())?;
                    changes.models = Some(models.to_json());
                    changed.push("models");
                    resync = true;
                }
                if resync {
                    changes.key_status = Some(KeyStatus::Pending.into());
                    changes.key_error = Some(None);
                    outbox::enqueue(conn, &[NewOp::sync(&current.id)], db::now())?;
                }
                if let Some(services) = params.services.map(NameSet::new).filter(|s| *s != old_services) {
                    users::delete_service_rows(conn, std::slice::from_ref(&current.id), None)?;
                    users::insert_service_rows(conn, &services.iter().map(|s| (current.id.clone(), s.clone())).collect::<Vec<_>>())?;
                    changes.services = Some(services.to_json());
                    changed.push("services");
                }
                let old_info = current.info_map()?;
                if let Some(info) = params.info.filter(|i| *i != old_info) {
                    users::delete_info_rows(conn, std::slice::from_ref(&current.id), None)?;
                    let rows: Vec<_> = info.iter().map(|(k, v)| (current.id.clone(), k.clone(), v.clone())).collect();
                    users::insert_info_rows(conn, &rows)?;
                    changes.info = Some(info_json(&info));
                    changed.push("info");
                }
                if !changed.is_empty() {
                    users::update_if_version(conn, &current.id, current.version, &changes)?;
                }
                let detail = if changed.is_empty() { "no change".to_string() } else { format!("changed {}", changed.join(", ")) };
                let done = event.detail(detail).ok();
                let event_id = done.row.id.clone();
                events::insert(conn, &[done])?;
                let states = undo::states_after(conn, undo::capture(std::slice::from_ref(&current)))?;
                undo::store(conn, &event_id, &UndoRecord { states, ..UndoRecord::default() })?;
                Ok::<_, DbError>(Ok(users::find(conn, &id)?))
            })
            .await
            .map_err(audit_or)??;
        let row = row
            .ok_or_else(|| ApiError::new(ErrorCode::NotFound, "the user was deleted meanwhile"))?;
        self.user_view(&row, false)
    }

    pub async fn delete_users(
        &self,
        ctx: &Ctx,
        s: &AdminSession,
        params: DeleteUsersParams,
    ) -> OpResult<UsersDeleted> {
        let event = ctx
            .event(method::UsersDelete::ACTION)
            .users(params.ids.clone());
        let result = self
            .delete_users_inner(event.clone(), s.scope(), &s.username, params)
            .await;
        if let Err(err) = &result {
            self.audit.record_failure(event.failed(err)).await;
        }
        result
    }

    async fn delete_users_inner(
        &self,
        event: super::context::EventBuilder,
        scope: Scope,
        actor: &str,
        params: DeleteUsersParams,
    ) -> OpResult<UsersDeleted> {
        check_id_list("ids", &params.ids, super::user_input::MAX_BULK_IDS)?;
        let ids = dedup(params.ids);
        if self.config.trash_days > 0 {
            return self.trash_users(event, scope, actor, ids).await;
        }
        self.db
            .write(move |conn| {
                let rows = within_scope(&scope, users::find_many(conn, &ids)?);
                if let Some(err) = missing_users(
                    &ids,
                    rows.iter().map(|r| r.id.as_str()),
                    "nothing was deleted",
                ) {
                    return Ok(Err(err));
                }
                // Every key of a user in the middle of a rotation or its grace goes, now.
                let ops: Vec<NewOp> = rows
                    .iter()
                    .flat_map(|r| {
                        [
                            r.key_hash.clone(),
                            r.prev_key_hash.clone(),
                            r.retiring_key_hash.clone(),
                        ]
                        .into_iter()
                        .flatten()
                        .map(|h| NewOp::delete(&r.id, &h))
                    })
                    .collect();
                let deleted = users::delete_many(conn, &ids)?;
                // The keys stop here; their hashes and usage stay (history outlives the user).
                let hashes: Vec<String> = ops.iter().filter_map(|op| op.key_hash.clone()).collect();
                usage_store::retire_keys(conn, &hashes, db::now())?;
                outbox::forget_syncs_of(conn, &ids)?;
                outbox::enqueue(conn, &ops, db::now())?;
                events::insert(conn, &[event.ok()])?;
                Ok::<_, DbError>(Ok(UsersDeleted {
                    deleted: deleted as u64,
                    purge_after: None,
                }))
            })
            .await
            .map_err(audit_or)?
    }
}

/// A create naming an organization outside the account's scope: `forbidden`, every such row
/// named, nothing created.
fn out_of_scope(s: &AdminSession, params: &CreateUsersParams) -> Option<ApiError> {
    let fields: Vec<crate::api::FieldError> = params
        .users
        .iter()
        .enumerate()
        .filter(|(_, u)| !s.in_scope(&u.organization))
        .map(|(i, u)| crate::api::FieldError {
            field: format!("users[{i}].organization"),
            message: format!("organization {:?} is outside your scope", u.organization),
            row: Some(i),
        })
        .collect();
    if fields.is_empty() {
        return None;
    }
    let message = format!(
        "{} of the users are in organizations outside your scope ({}); nothing was created",
        fields.len(),
        crate::api::types::describe_scope(&s.organizations)
    );
    Some(ApiError {
        fields,
        ..ApiError::new(ErrorCode::Forbidden, message)
    })
}
