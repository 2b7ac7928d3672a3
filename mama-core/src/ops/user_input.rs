//! Input checks and small helpers shared by the user use cases. Validation collects every
//! problem before anything is written, so a bulk call fails as a whole with all reasons.

use std::collections::{HashMap, HashSet};

use super::OpResult;
use crate::api::types::{Info, NewUser};
use crate::api::{ApiError, ErrorCode};
use crate::db::{services, DbConn, DbError};
use crate::domain::validate;

/// Most users one create or get call takes.
pub const MAX_USERS_PER_CALL: usize = 10_000;

/// Most ids one bulk change or delete takes (a bulk change by filter has no limit): every
/// hand-marked user of a million in one call, so one transaction and one event.
pub const MAX_BULK_IDS: usize = 1_000_000;

/// `sk-...` and the last four characters, like LiteLLM's own `key_name`.
pub fn key_hint(key: &str) -> String {
    let tail: String = key
        .chars()
        .rev()
        .take(4)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    format!("sk-...{tail}")
}

pub fn info_json(info: &Info) -> String {
    serde_json::to_string(info).unwrap_or_else(|_| "{}".into())
}

pub fn dedup(ids: Vec<String>) -> Vec<String> {
    let mut seen = HashSet::new();
    ids.into_iter()
        .filter(|id| seen.insert(id.clone()))
        .collect()
}

/// A list of user ids: 1 to `max`, each valid.
pub fn check_id_list(field: &str, ids: &[String], max: usize) -> OpResult<()> {
    if ids.is_empty() {
        return Err(ApiError::invalid(field, "must name at least one user"));
    }
    if ids.len() > max {
        return Err(ApiError::invalid(
            field,
            format!("at most {max} ids per call (got {})", ids.len()),
        ));
    }
    let mut problems = validate::Problems::default();
    for (i, id) in ids.iter().enumerate() {
        if let Err(msg) = validate::user_id(id) {
            problems.push(format!("{field}[{i}]"), msg, Some(i));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(ApiError::invalid_fields(problems.errors))
    }
}

pub fn validate_new_users(users: &[NewUser], team_configured: bool) -> OpResult<()> {
    if users.is_empty() {
        return Err(ApiError::invalid("users", "must hold at least one user"));
    }
    if users.len() > MAX_USERS_PER_CALL {
        return Err(ApiError::invalid(
            "users",
            format!("at most {MAX_USERS_PER_CALL} users per call"),
        ));
    }
    let mut problems = validate::Problems::default();
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (i, user) in users.iter().enumerate() {
        let row = Some(i);
        if let Err(msg) = validate::user_id(&user.id) {
            problems.push(format!("users[{i}].id"), msg, row);
        } else if let Some(first) = seen.insert(user.id.as_str(), i) {
            problems.push(
                format!("users[{i}].id"),
                format!("duplicate of row {first}"),
                row,
            );
        }
        if let Err(msg) = validate::organization(&user.organization) {
            problems.push(format!("users[{i}].organization"), msg, row);
        }
        validate::set_members(
            &format!("users[{i}].models"),
            &user.models,
            row,
            &mut problems,
        );
        validate::team_sentinel(
            &format!("users[{i}].models"),
            &user.models,
            team_configured,
            row,
            &mut problems,
        );
        validate::set_members(
            &format!("users[{i}].services"),
            &user.services,
            row,
            &mut problems,
        );
        validate::info(&format!("users[{i}].info"), &user.info, row, &mut problems);
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(ApiError::invalid_fields(problems.errors))
    }
}

/// The `not_found` error naming the ids that `found` lacks (nothing was done: `outcome` says
/// what); None when every id exists.
pub fn missing_users<'a>(
    ids: &[String],
    found: impl IntoIterator<Item = &'a str>,
    outcome: &str,
) -> Option<ApiError> {
    let found: HashSet<&str> = found.into_iter().collect();
    let missing: Vec<String> = ids
        .iter()
        .filter(|i| !found.contains(i.as_str()))
        .cloned()
        .collect();
    if missing.is_empty() {
        return None;
    }
    let message = format!("{} of the users do not exist; {outcome}", missing.len());
    Some(ApiError {
        missing,
        ..ApiError::new(ErrorCode::NotFound, message)
    })
}

/// The rows within `scope`: a scoped account names users of other organizations as if they
/// did not exist (it may not learn of them, let alone change them).
pub fn within_scope(
    scope: &crate::api::types::Scope,
    mut rows: Vec<crate::db::users::UserRow>,
) -> Vec<crate::db::users::UserRow> {
    if let Some(orgs) = scope {
        rows.retain(|r| orgs.contains(&r.organization));
    }
    rows
}

/// Services one list in the params grants: the list's field (`users[3].services`,
/// `services.values`), its bulk row, and the names to check with their place in the list.
#[derive(Debug, Clone)]
pub struct Grant {
    pub field: String,
    pub row: Option<usize>,
    pub names: Vec<(usize, String)>,
}

impl Grant {
    /// Every name of the list.
    pub fn all(field: impl Into<String>, names: &[String], row: Option<usize>) -> Grant {
        Grant {
            field: field.into(),
            row,
            names: names.iter().cloned().enumerate().collect(),
        }
    }
}

/// The `invalid_params` error naming each granted entry that is no service; None when all exist.
/// Run inside the write transaction that grants them: a service deleted meanwhile is not granted.
pub fn unknown_services(conn: &mut DbConn, grants: &[Grant]) -> Result<Option<ApiError>, DbError> {
    let mut wanted: Vec<String> = grants
        .iter()
        .flat_map(|g| g.names.iter().map(|(_, name)| name.clone()))
        .collect();
    if wanted.is_empty() {
        return Ok(None);
    }
    wanted.sort_unstable();
    wanted.dedup();
    let existing = services::existing(conn, &wanted)?;
    let mut problems = validate::Problems::default();
    for grant in grants {
        for (i, name) in &grant.names {
            if !existing.contains(name) {
                problems.push(
                    format!("{}[{i}]", grant.field),
                    format!("service {name} does not exist (create it first with services.create)"),
                    grant.row,
                );
            }
        }
    }
    Ok((!problems.is_empty()).then(|| ApiError::invalid_fields(problems.errors)))
}
