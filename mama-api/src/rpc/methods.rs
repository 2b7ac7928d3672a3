//! Every admin RPC method, declared once.
//!
//! [`with_methods!`](crate::with_methods) holds the one table; everything else is generated from
//! it or checked against it:
//! - here, a unit type per method implementing [`Method`] (its name, params, result, the kind of
//!   event it records and who may call it) and the [`methods()`] table;
//! - the daemon's dispatcher, which calls the same macro and so must serve every method (a
//!   method without a handler does not compile);
//! - the TUI's client, which calls `call::<M>(M::Params)` and decodes `M::Output`, so params of
//!   the wrong type do not compile;
//! - the event log, whose actions are [`Method::ACTION`] (see [`crate::actions`]);
//! - `docs/admin-rpc.md`, whose method table is checked against [`methods()`] by a test
//!   (`mama-api/tests/docs.rs`).
//!
//! Adding a method is one row in the table plus its use case and handler.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::action::Action;
use crate::types::EventKind;

/// Who may call a method. The daemon checks it before the use case runs; an account's
/// organization scope is applied inside the use case's queries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Caller {
    /// Anyone who reaches the admin listener (signing in).
    Anyone,
    /// Any signed-in account, even one who must still change the first password.
    Pending,
    /// Any signed-in account (viewers too) whose password is no longer the initial one.
    Viewer,
    /// An admin or super admin; a scoped admin acts only on users of its organizations.
    Admin,
    /// An admin or super admin without an organization scope: the method acts on every
    /// organization at once (services, the whole sync).
    GlobalAdmin,
    /// A super admin.
    Super,
}

impl Caller {
    pub const fn as_str(self) -> &'static str {
        match self {
            Caller::Anyone => "anyone",
            Caller::Pending => "any account (also before the first password change)",
            Caller::Viewer => "viewer, admin",
            Caller::Admin => "admin (scoped: its organizations)",
            Caller::GlobalAdmin => "admin without a scope",
            Caller::Super => "super admin",
        }
    }

    /// Whether an account of `role`, limited to organizations when `scoped`, may call a
    /// method declared for this caller. `Err` says why not.
    pub fn admits(self, role: crate::types::Role, scoped: bool) -> Result<(), &'static str> {
        use crate::types::Role;
        match self {
            Caller::Anyone | Caller::Pending | Caller::Viewer => Ok(()),
            Caller::Admin if role.may_change() => Ok(()),
            Caller::GlobalAdmin if role.may_change() && !scoped => Ok(()),
            Caller::GlobalAdmin if role.may_change() => Err(
                "this acts on every organization; an admin limited to organizations may not do it",
            ),
            Caller::Super if role == Role::Super => Ok(()),
            Caller::Super => Err("only a super admin may do this"),
            Caller::Admin | Caller::GlobalAdmin => Err("a viewer may read but not change anything"),
        }
    }
}

/// One admin RPC method: a unit type per method, generated from the table.
pub trait Method: Copy + Send + Sync + 'static {
    /// The JSON-RPC method name, also the action of the event every call records.
    const NAME: &'static str;
    /// A view reads only; a change changes something (or signs in). Decides how its event is
    /// filed, see [`EventKind`].
    const KIND: EventKind;
    /// Who may call it.
    const CALLER: Caller;
    /// One line for the docs.
    const SUMMARY: &'static str;
    /// The action of the event a call records.
    const ACTION: Action = Action::new(Self::NAME, Self::KIND);
    /// What the method takes; unknown fields are refused.
    type Params: Serialize + DeserializeOwned + Send + 'static;
    /// What it answers.
    type Output: Serialize + DeserializeOwned + Send + 'static;
}

/// A method's declaration as data, for the docs, the event log and the dispatcher's lookups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MethodInfo {
    pub name: &'static str,
    pub kind: EventKind,
    pub caller: Caller,
    pub summary: &'static str,
    /// The params and result types' names (the last path segment), for the docs.
    pub params: &'static str,
    pub output: &'static str,
}

/// Params of a method that takes none. `{}`, `null` or no params at all; anything else is
/// refused like any unknown field.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoParams {}

/// The result of a method that answers nothing but success: `{}`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Done {}

/// The one table of admin RPC methods. Calls `$callback!` with one row per method:
///
/// `Type = "name", Params => Output, Kind, Caller, "summary";`
///
/// where `Kind` is an [`EventKind`] variant and `Caller` a [`Caller`] variant. The crate
/// declares the method types from it; the daemon builds its dispatcher from it.
#[macro_export]
macro_rules! with_methods {
    ($callback:ident) => {
        $callback! {
            AuthLogin = "auth.login", $crate::types::LoginParams => $crate::types::Session,
                Change, Anyone, "Sign in with a username and password; answers a session token.";
            AuthRefresh = "auth.refresh", $crate::rpc::NoParams => $crate::types::Session,
                Change, Viewer, "A fresh session token for the signed-in admin.";
            AuthLogout = "auth.logout", $crate::rpc::NoParams => $crate::rpc::Done,
                Change, Pending, "Ends the session: its token is refused from now on.";
            AuthChangePassword = "auth.change_password",
                $crate::types::ChangePasswordParams => $crate::types::Session,
                Change, Pending, "Changes the own password; ends every other session.";
            AuthWhoami = "auth.whoami", $crate::rpc::NoParams => $crate::types::WhoAmI,
                View, Viewer, "Who the session belongs to, its role and organization scope.";
            AdminsList = "admins.list", $crate::rpc::NoParams => $crate::types::AdminList,
                View, Viewer, "Every admin account.";
            AdminsCreate = "admins.create",
                $crate::types::CreateAdminParams => $crate::types::AdminView,
                Change, Super, "Creates an account (super, admin or viewer, optionally scoped); it must change the given password first.";
            AdminsUpdate = "admins.update", $crate::types::UpdateAdminParams => $crate::types::AdminView,
                Change, Super, "Changes an account's role and organization scope; ends its sessions.";
            AdminsDelete = "admins.delete", $crate::types::DeleteAdminParams => $crate::rpc::Done,
                Change, Super, "Deletes an admin and ends its sessions.";
            UsersList = "users.list", $crate::types::ListUsersParams => $crate::types::UserList,
                View, Viewer, "A page of users, filtered and sorted in the database.";
            UsersListIds = "users.list_ids",
                $crate::types::ListIdsParams => $crate::types::UserIds,
                View, Viewer, "Every id matching a filter (to mark them all).";
            UsersCount = "users.count",
                $crate::types::CountUsersParams => $crate::types::UserCounts,
                View, Viewer, "How many users match a filter, in total and per key state.";
            UsersGet = "users.get", $crate::types::GetUsersParams => $crate::types::UsersFound,
                View, Viewer, "Users by id (viewers: never the key), with what changed since a given version.";
            UsersRevealKey = "users.reveal_key",
                $crate::types::RevealKeyParams => $crate::types::RevealedKey,
                View, Admin, "One user's full key, each reveal recorded as its own event.";
            UsersCreate = "users.create",
                $crate::types::CreateUsersParams => $crate::types::UsersCreated,
                Change, Admin, "Creates users (all or none); their keys are minted in LiteLLM.";
            UsersUpdate = "users.update",
                $crate::types::UpdateUserParams => $crate::types::UserView,
                Change, Admin, "Changes one user, refusing a stale version.";
            UsersDelete = "users.delete",
                $crate::types::DeleteUsersParams => $crate::types::UsersDeleted,
                Change, Admin,
                "Moves users to the trash (their keys blocked) or, without a trash, deletes them.";
            UsersTrash = "users.trash",
                $crate::types::ListTrashParams => $crate::types::TrashList,
                View, Viewer, "Deleted users waiting in the trash, filtered and sorted.";
            UsersRestore = "users.restore",
                $crate::types::TrashIdsParams => $crate::types::UsersRestored,
                Change, Admin, "Brings users back from the trash with the same key (unblocked).";
            UsersPurge = "users.purge",
                $crate::types::TrashIdsParams => $crate::types::UsersPurged,
                Change, Admin, "Deletes users in the trash, and their keys, for good.";
            UsersBulkUpdate = "users.bulk_update",
                $crate::types::BulkUpdateParams => $crate::types::BulkUpdateResult,
                Change, Admin,
                "Replaces, adds or removes models and services on many users; previews with dry_run.";
            UsersRotateKeys = "users.rotate_keys",
                $crate::types::RotateKeysParams => $crate::types::KeysRotated,
                Change, Admin, "New keys for users; the old key works until LiteLLM has the new.";
            ServicesList = "services.list", $crate::rpc::NoParams => $crate::types::ServiceList,
                View, Viewer, "Every service and its tokens (never a token's value).";
            ServicesCreate = "services.create",
                $crate::types::ServiceNameParams => $crate::types::ServiceView,
                Change, GlobalAdmin, "Creates a service.";
            ServicesDelete = "services.delete",
                $crate::types::ServiceNameParams => $crate::types::ServiceDeleted,
                Change, GlobalAdmin, "Deletes a service, its tokens and every user's grant of it.";
            ServicesIssueToken = "services.issue_token",
                $crate::types::IssueTokenParams => $crate::types::IssuedToken,
                Change, GlobalAdmin, "A new token for a service; its value is shown only here.";
            ServicesRevokeToken = "services.revoke_token",
                $crate::types::RevokeTokenParams => $crate::rpc::Done,
                Change, GlobalAdmin, "Revokes a service token.";
            OrganizationsList = "organizations.list",
                $crate::rpc::NoParams => $crate::types::OrganizationList,
                View, Viewer, "Organizations, their users and the default limits they inherit.";
            OrganizationsSetDefaults = "organizations.set_defaults",
                $crate::types::SetDefaultsParams => $crate::types::DefaultsSet,
                Change, Admin, "Replaces an organization's default limits; inheriting users follow.";
            EventsList = "events.list",
                $crate::types::ListEventsParams => $crate::types::EventList,
                View, Viewer, "A page of the event log, newest first, filtered.";
            EventsUndo = "events.undo", $crate::types::UndoParams => $crate::types::UndoResult,
                Change, Admin,
                "Reverses a change event (previews with dry_run); users changed since are conflicts.";
            ModelsList = "models.list",
                $crate::types::ModelsListParams => $crate::types::ModelList,
                View, Viewer, "The models mama grants and whether LiteLLM serves each.";
            SyncStatus = "sync.status", $crate::rpc::NoParams => $crate::types::SyncStatus,
                View, Viewer, "The LiteLLM sync: queue, failures, last reconcile.";
            SyncReconcile = "sync.reconcile",
                $crate::rpc::NoParams => $crate::types::ReconcileSummary,
                Change, GlobalAdmin, "Compares every key with LiteLLM now and repairs what differs.";
            SyncRetryFailed = "sync.retry_failed",
                $crate::types::RetryFailedParams => $crate::types::FailedRetried,
                Change, GlobalAdmin, "Queues the users whose sync failed for good once more.";
            UsageQuery = "usage.query",
                $crate::types::UsageQueryParams => $crate::types::UsageReport,
                View, Viewer, "Usage and spend in a range of days, grouped, filtered and ranked.";
            UsageRefresh = "usage.refresh", $crate::rpc::NoParams => $crate::types::UsageRefreshed,
                Change, GlobalAdmin, "Collects the days not yet final from LiteLLM now.";
        }
    };
}

macro_rules! declare_methods {
    ($( $ty:ident = $name:literal, $params:ty => $output:ty, $kind:ident, $caller:ident, $summary:literal; )*) => {
        $(
            #[doc = $summary]
            #[derive(Debug, Clone, Copy, PartialEq, Eq)]
            pub struct $ty;

            impl Method for $ty {
                const NAME: &'static str = $name;
                const KIND: EventKind = EventKind::$kind;
                const CALLER: Caller = Caller::$caller;
                const SUMMARY: &'static str = $summary;
                type Params = $params;
                type Output = $output;
            }
        )*

        /// Every admin RPC method, in the order of the table.
        pub fn methods() -> &'static [MethodInfo] {
            static METHODS: std::sync::OnceLock<Vec<MethodInfo>> = std::sync::OnceLock::new();
            METHODS.get_or_init(|| vec![$(
                MethodInfo {
                    name: $name,
                    kind: EventKind::$kind,
                    caller: Caller::$caller,
                    summary: $summary,
                    params: short_type_name(std::any::type_name::<$params>()),
                    output: short_type_name(std::any::type_name::<$output>()),
                },
            )*])
        }

        /// Method names, for [`is_method`] without building the table.
        const NAMES: &[&str] = &[$($name),*];
    };
}

with_methods!(declare_methods);

/// The declaration of the method called `name`, if there is one.
pub fn find(name: &str) -> Option<&'static MethodInfo> {
    methods().iter().find(|m| m.name == name)
}

/// Whether `name` is a method.
pub fn is_method(name: &str) -> bool {
    NAMES.contains(&name)
}

fn short_type_name(full: &'static str) -> &'static str {
    full.rsplit("::").next().unwrap_or(full)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn names_are_unique_and_dotted() {
        let names: BTreeSet<_> = methods().iter().map(|m| m.name).collect();
        assert_eq!(
            names.len(),
            methods().len(),
            "a method name is declared twice"
        );
        for name in names {
            let (area, verb) = name.split_once('.').expect("area.verb");
            assert!(!area.is_empty() && !verb.is_empty(), "{name}");
        }
    }

    #[test]
    fn a_method_knows_its_types_and_rules() {
        assert_eq!(AuthLogin::NAME, "auth.login");
        assert_eq!(AuthLogin::CALLER, Caller::Anyone);
        assert_eq!(AdminsCreate::CALLER, Caller::Super);
        assert_eq!(UsersList::KIND, EventKind::View);
        assert_eq!(UsersBulkUpdate::ACTION.name(), "users.bulk_update");
        let info = find("users.update").unwrap();
        assert_eq!(info.params, "UpdateUserParams");
        assert_eq!(info.output, "UserView");
        assert!(find("users.nope").is_none());
    }

    #[test]
    fn no_params_accepts_empty_and_refuses_fields() {
        assert!(serde_json::from_str::<NoParams>("{}").is_ok());
        assert!(serde_json::from_str::<NoParams>(r#"{"x":1}"#).is_err());
        assert_eq!(serde_json::to_string(&Done {}).unwrap(), "{}");
    }
}
