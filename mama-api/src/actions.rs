//! The actions the event log records: every admin RPC method (its [`Method::ACTION`]) and what
//! the daemon does on its own or for services, declared here. An event names an [`Action`],
//! never a free string, so a misspelt action does not compile and the view/change split of
//! `events.list` cannot miss one.
//!
//! [`Method::ACTION`]: crate::rpc::Method::ACTION

use std::sync::OnceLock;

pub use crate::action::Action;
use crate::rpc::methods;
use crate::types::EventKind;

macro_rules! other_actions {
    ($( $(#[$doc:meta])* $konst:ident = $name:literal, $kind:ident; )*) => {
        $(
            $(#[$doc])*
            pub const $konst: Action = Action::new($name, EventKind::$kind);
        )*
        /// The actions that are not RPC methods.
        pub const OTHERS: &[Action] = &[$($konst),*];
    };
}

other_actions! {
    /// The first super admin was created at first start.
    ADMINS_BOOTSTRAP = "admins.bootstrap", Change;
    /// `mama-daemon admin reset-password` on the host.
    ADMINS_RESET_PASSWORD = "admins.reset_password", Change;
    /// `mama-daemon rotate-encryption-key` re-encrypted the stored keys.
    ENCRYPTION_KEY_ROTATE = "encryption_key.rotate", Change;
    /// The event log could be written again after a failure.
    EVENTS_RECOVERED = "events.recovered", Change;
    /// Events older than the retention period were deleted; the count and cut-off are in it.
    EVENTS_PRUNED = "events.pruned", Change;
    /// Trashed users whose time in the trash ran out were deleted for good with their keys.
    USERS_PURGE_DUE = "users.purge_due", Change;
    /// A service read one user (`GET /api/v1/users/{id}`).
    REST_GET_USER = "rest.get_user", View;
    /// A service looked up many users (`POST /api/v1/users/lookup`).
    REST_LOOKUP = "rest.lookup", View;
    /// Unauthenticated REST requests from one source in one minute, counted in one event.
    REST_REFUSED = "rest.refused", Change;
    /// A service read its users' usage (`GET /api/v1/usage`).
    REST_USAGE = "rest.usage", View;
    /// A request to `/rpc` that named no method mama has (or could not be parsed).
    RPC_INVALID = "rpc.invalid", Change;
    /// A key was created in LiteLLM.
    SYNC_CREATE = "sync.create", Change;
    /// A key was changed in LiteLLM (or its change failed).
    SYNC_UPDATE = "sync.update", Change;
    /// A key was found already as wanted in LiteLLM.
    SYNC_VERIFY = "sync.verify", Change;
    /// A key was deleted in LiteLLM (or its deletion failed).
    SYNC_DELETE = "sync.delete", Change;
    /// A periodic reconcile (the `sync.reconcile` method records the operator's).
    SYNC_RECONCILE = "sync.reconcile", Change;
    /// The reconciler recreated a key missing from LiteLLM.
    SYNC_RECONCILE_RECREATE = "sync.reconcile.recreate", Change;
    /// The reconciler found a key differing from what mama wants, per field.
    SYNC_RECONCILE_DRIFT = "sync.reconcile.drift", Change;
    /// The reconciler queued failed or stalled users again.
    SYNC_RECONCILE_RETRY = "sync.reconcile.retry", Change;
    /// The reconciler deleted a key of mama's that no user holds.
    SYNC_RECONCILE_ORPHAN = "sync.reconcile.orphan", Change;
    /// The reconciler set the team's models back.
    SYNC_RECONCILE_TEAM = "sync.reconcile.team", Change;
}

/// Every action: the methods', then the others (an action may be both, like `sync.reconcile`,
/// listed once).
pub fn all() -> &'static [Action] {
    static ALL: OnceLock<Vec<Action>> = OnceLock::new();
    ALL.get_or_init(|| {
        let mut all: Vec<Action> = methods::methods()
            .iter()
            .map(|m| Action::new(m.name, m.kind))
            .collect();
        for other in OTHERS {
            if !all.iter().any(|a| a.name() == other.name()) {
                all.push(*other);
            }
        }
        all
    })
}

/// The names of the actions that only read, for filtering the event log by kind.
pub fn view_names() -> &'static [&'static str] {
    static VIEWS: OnceLock<Vec<&'static str>> = OnceLock::new();
    VIEWS.get_or_init(|| {
        all()
            .iter()
            .filter(|a| a.kind() == EventKind::View)
            .map(|a| a.name())
            .collect()
    })
}

/// The declared action called `name`.
pub fn find(name: &str) -> Option<Action> {
    all().iter().copied().find(|a| a.name() == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn views_are_the_reads() {
        let views = view_names();
        for name in [
            "users.list",
            "users.get",
            "sync.status",
            "rest.lookup",
            "rest.get_user",
        ] {
            assert!(views.contains(&name), "{name} is a view");
        }
        for name in [
            "users.create",
            "auth.login",
            "sync.reconcile",
            "rest.refused",
        ] {
            assert!(!views.contains(&name), "{name} is a change");
        }
    }

    #[test]
    fn an_action_declared_as_method_and_other_agrees() {
        for other in OTHERS {
            if let Some(m) = methods::find(other.name()) {
                assert_eq!(m.kind, other.kind(), "{}", other.name());
            }
        }
        assert_eq!(find("sync.reconcile"), Some(SYNC_RECONCILE));
        assert_eq!(find("nope"), None);
    }
}
