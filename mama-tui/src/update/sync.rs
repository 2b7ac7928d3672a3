//! The status line's view of LiteLLM: the answers to the `sync.status` poll, the failures a
//! watched change left, and the `:retry` and `:reconcile` commands.

use mama_api::rpc::method;
use mama_api::types::{
    KeyStatus, ListUsersParams, Page, ReconcileSummary, UserFilter, UserList, UserSort,
};
use serde_json::Value;

use super::rpc::{answer, describe, is_missing_method};
use super::users::refresh_table;
use crate::action::Tag;
use crate::app::{App, SyncState};
use crate::client::ClientError;
use crate::popup::Popup;
use crate::text::count;

/// Users whose key failed to sync, shown with the reasons once a watched change has synced.
const FAILURES_SHOWN: u32 = 8;

fn load_sync_failures(app: &mut App) {
    let params = ListUsersParams {
        filter: UserFilter {
            key_status: Some(KeyStatus::Failed),
            ..UserFilter::default()
        },
        sort: UserSort::default(),
        page: Page {
            offset: 0,
            limit: FAILURES_SHOWN,
        },
        ..ListUsersParams::default()
    };
    app.call::<method::UsersList>(&params, Tag::SyncFailures);
}

/// The end of the summary of a bulk change or a key rotation: who failed in LiteLLM, and why.
/// Stacked only over nothing or another message, never over a dialog being typed in.
fn show_sync_failures(app: &mut App, list: UserList) {
    if list.users.is_empty() {
        return;
    }
    let matching = list.matching.unwrap_or(list.users.len() as u64);
    let mut lines = vec![format!(
        "{} could not be synced to LiteLLM:",
        count(matching, "user")
    )];
    for user in &list.users {
        let reason = user.key_error.as_deref().unwrap_or("no reason given");
        lines.push(format!("  {}: {reason}", user.id));
    }
    if matching > list.users.len() as u64 {
        lines.push(format!(
            "  … and {} more",
            matching - list.users.len() as u64
        ));
    }
    lines.push(String::new());
    lines.push("The sync retries them; filter key:failed lists them all.".into());
    if app
        .popups
        .last()
        .is_none_or(|p| matches!(p, Popup::Message { .. }))
    {
        app.popups.push(Popup::Message {
            title: "LiteLLM sync finished with failures".into(),
            lines,
        });
    }
}

/// `:retry`: every failed user's key is tried again now; the sync is watched like a change's.
pub fn retry_failed(app: &mut App) {
    app.call::<method::SyncRetryFailed>(&Default::default(), Tag::RetryFailed);
    app.info("Retrying failed users…");
}

pub fn reconcile(app: &mut App) {
    app.call::<method::SyncReconcile>(&Default::default(), Tag::Reconcile);
    app.info("Reconciling with LiteLLM…");
}

/// " (models 2, blocked 1)": which fields the reconcile found changed behind mama's back.
fn drift_fields(s: &ReconcileSummary) -> String {
    if s.drift.is_empty() {
        return String::new();
    }
    let fields: Vec<String> = s.drift.iter().map(|(f, n)| format!("{f} {n}")).collect();
    format!(" ({})", fields.join(", "))
}

pub fn reply(app: &mut App, tag: Tag, result: Result<Value, ClientError>) {
    match tag {
        Tag::SyncStatus => match answer::<method::SyncStatus>(result) {
            Ok(status) => {
                if app.watching_sync && status.users_pending == 0 && status.queue_depth == 0 {
                    app.watching_sync = false;
                    if status.users_failed > 0 {
                        app.error(format!("LiteLLM sync done; {} failed (filter key:failed, :retry to try again).", count(status.users_failed, "user")));
                        load_sync_failures(app);
                    } else {
                        app.info("LiteLLM sync done.");
                    }
                    // The rows on screen still show the keys as they were before the sync.
                    refresh_table(app);
                }
                app.sync = SyncState::Known(status);
            }
            Err(err) if is_missing_method(&err) => app.sync = SyncState::NotAvailable,
            // A transient failure keeps the last known state; the next poll tries again.
            Err(_) => {}
        },
        Tag::SyncFailures => match answer::<method::UsersList>(result) {
            Ok(list) => show_sync_failures(app, list),
            Err(err) => app.error(format!("failed users: {}", describe(&err))),
        },
        Tag::Reconcile => match answer::<method::SyncReconcile>(result) {
            Ok(s) => app.info(format!(
                "Reconciled: {} keys seen, {} recreated, {} repaired{}, {} retried, {} orphans deleted, {} errors.",
                s.keys_seen,
                s.recreated,
                s.drift.values().sum::<u64>(),
                drift_fields(&s),
                s.retried,
                s.orphans_deleted,
                s.errors.len()
            )),
            Err(err) => app.error(format!("reconcile: {}", describe(&err))),
        },
        Tag::RetryFailed => match answer::<method::SyncRetryFailed>(result) {
            Ok(r) if r.retried == 0 => app.info("No failed users to retry."),
            Ok(r) => {
                app.info(format!("Retrying {}…", count(r.retried, "failed user")));
                app.watching_sync = true;
                refresh_table(app);
            }
            Err(err) => app.error(format!("retry: {}", describe(&err))),
        },
        _ => {}
    }
}
