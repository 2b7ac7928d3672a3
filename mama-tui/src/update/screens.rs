//! The models, admins, services and events screens, and the status line's sync poll.

use mama_api::rpc::method;
use mama_api::types::{
    AdminList, EventList, EventView, FailedRetried, IssueTokenParams, IssuedToken, KeyStatus,
    ListEventsParams, ListUsersParams, ModelList, ModelsListParams, Page, ReconcileSummary,
    ServiceDeleted, ServiceList, ServiceView, SyncStatus, UserFilter, UserList, UserSort,
};
use mama_api::ErrorCode;
use serde_json::Value;

use super::{decode, describe, is_missing_method, users};
use crate::action::{Cmd, Screen, Tag};
use crate::app::{App, SyncState, EVENTS_PAGE};
use crate::client::ClientError;
use crate::event_filter;
use crate::popup::{AdminForm, Confirm, ConfirmAction, Popup, Prompt, PromptPurpose};
use crate::text::{count, Edit};

pub fn load_models(app: &mut App) {
    app.call::<method::ModelsList>(&ModelsListParams::default(), Tag::Models);
}

pub fn load_admins(app: &mut App) {
    app.call::<method::AdminsList>(&Default::default(), Tag::Admins);
}

pub fn load_services(app: &mut App) {
    app.call::<method::ServicesList>(&Default::default(), Tag::Services);
}

pub fn load_events(app: &mut App) {
    app.events.query += 1;
    let params = ListEventsParams {
        filter: app.events.filter.clone(),
        page: Page {
            offset: app.events.offset,
            limit: EVENTS_PAGE,
        },
    };
    let query = app.events.query;
    app.call::<method::EventsList>(&params, Tag::Events { query });
}

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
    lines.push("The sync retries them; filter status:failed lists them all.".into());
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

/// Rows of the services screen: each service, then its tokens.
pub fn service_rows(services: &[ServiceView]) -> Vec<(usize, Option<usize>)> {
    services
        .iter()
        .enumerate()
        .flat_map(|(s, service)| {
            std::iter::once((s, None)).chain((0..service.tokens.len()).map(move |t| (s, Some(t))))
        })
        .collect()
}

pub fn command(app: &mut App, screen: Screen, cmd: Cmd) {
    let page = app.table_rows() as i64;
    let delta = match cmd {
        Cmd::Down => Some(1),
        Cmd::Up => Some(-1),
        Cmd::PageDown if screen != Screen::Events => Some(page),
        Cmd::PageUp if screen != Screen::Events => Some(-page),
        Cmd::Top => Some(i64::MIN / 2),
        Cmd::Bottom => Some(i64::MAX / 2),
        _ => None,
    };
    if let Some(delta) = delta {
        match screen {
            Screen::Models => app.models.move_by(delta),
            Screen::Admins => app.admins.move_by(delta),
            Screen::Services => {
                let max = service_rows(&app.services.items).len().saturating_sub(1) as i64;
                app.services.selected =
                    (app.services.selected as i64 + delta).clamp(0, max.max(0)) as usize;
            }
            Screen::Events => app.events.list.move_by(delta),
            _ => {}
        }
        return;
    }
    match (screen, cmd) {
        (_, Cmd::Reload) => super::go_to(app, screen),
        (Screen::Models, Cmd::ShowUnavailableUsers) => {
            app.users.filter_input.set("unavailable");
            super::go_to(app, Screen::Users);
            users::apply_filter(app);
        }
        (Screen::Models, Cmd::DropUnavailable) => users::drop_unavailable(app),
        (Screen::Admins, Cmd::New) => app.popups.push(Popup::NewAdmin(AdminForm::default())),
        (Screen::Admins, Cmd::Remove) => {
            if let Some(admin) = app.admins.current() {
                let username = admin.username.clone();
                app.popups.push(Popup::Confirm(Confirm {
                    title: "Delete admin".into(),
                    lines: vec![
                        format!("Delete admin {username}?"),
                        String::new(),
                        "y: yes   n/esc: no".into(),
                    ],
                    action: ConfirmAction::DeleteAdmin(username),
                }));
            }
        }
        (Screen::Services, Cmd::New) => app.popups.push(Popup::Prompt(Prompt {
            title: "New service".into(),
            input: Default::default(),
            purpose: PromptPurpose::NewService,
            error: None,
        })),
        (Screen::Services, Cmd::IssueToken) => {
            if let Some((s, _)) = service_rows(&app.services.items)
                .get(app.services.selected)
                .copied()
            {
                let service = app.services.items[s].name.clone();
                app.call::<method::ServicesIssueToken>(
                    &IssueTokenParams { service },
                    Tag::IssueToken,
                );
            }
        }
        (Screen::Services, Cmd::Remove) => {
            let Some((s, token)) = service_rows(&app.services.items)
                .get(app.services.selected)
                .copied()
            else {
                return;
            };
            let service = &app.services.items[s];
            let confirm = match token.and_then(|t| service.tokens.get(t)) {
                Some(token) => Confirm {
                    title: "Revoke token".into(),
                    lines: vec![
                        format!("Revoke token {} of {}?", token.hint, service.name),
                        "Callers using it are refused at once.".into(),
                        String::new(),
                        "y: yes   n/esc: no".into(),
                    ],
                    action: ConfirmAction::RevokeToken(token.id.clone()),
                },
                None => Confirm {
                    title: "Delete service".into(),
                    lines: vec![
                        format!("Delete service {}?", service.name),
                        match service.users {
                            0 => "No user allows it.".to_string(),
                            n => format!(
                                "{} {} it and will lose it.",
                                count(n, "user"),
                                if n == 1 { "allows" } else { "allow" }
                            ),
                        },
                        "Its tokens stop working at once; a service created later under".into(),
                        "this name starts with no users.".into(),
                        String::new(),
                        "y: yes   n/esc: no".into(),
                    ],
                    action: ConfirmAction::DeleteService(service.name.clone()),
                },
            };
            app.popups.push(Popup::Confirm(confirm));
        }
        (Screen::Events, Cmd::Filter) => app.events.filter_editing = true,
        (Screen::Events, Cmd::Open) => {
            if let Some(event) = app.events.list.current() {
                let popup = event_details(event);
                app.popups.push(popup);
            }
        }
        (Screen::Events, Cmd::Back) => {
            app.events.filter_input.clear();
            apply_events_filter(app);
        }
        (Screen::Events, Cmd::PageDown)
            if app.events.offset + u64::from(EVENTS_PAGE) < app.events.matching =>
        {
            app.events.offset += u64::from(EVENTS_PAGE);
            app.events.list.selected = 0;
            load_events(app);
        }
        (Screen::Events, Cmd::PageUp) if app.events.offset > 0 => {
            app.events.offset = app.events.offset.saturating_sub(u64::from(EVENTS_PAGE));
            app.events.list.selected = 0;
            load_events(app);
        }
        _ => {}
    }
}

/// Everything an event records, for the row the table can only abbreviate.
fn event_details(e: &EventView) -> Popup {
    let mut lines = vec![
        format!("at       {} UTC", e.at.format("%Y-%m-%d %H:%M:%S%.3f")),
        format!("actor    {} ({}) via {}", e.actor, e.actor_kind, e.channel),
        format!("action   {}", e.action),
    ];
    let result = match (&e.error_code, &e.error_message) {
        (Some(code), Some(message)) => format!("{} {code}: {message}", e.result),
        (Some(code), None) => format!("{} {code}", e.result),
        _ => e.result.clone(),
    };
    lines.push(format!("result   {result}"));
    if e.target_count > 0 {
        let mut users = e
            .user_ids
            .iter()
            .take(5)
            .cloned()
            .collect::<Vec<_>>()
            .join(", ");
        if e.target_count > 5 {
            users.push_str(&format!(" … ({} in all)", e.target_count));
        }
        lines.push(format!("users    {users}"));
    }
    for (label, value) in [
        ("filter", &e.target_filter),
        ("detail", &e.detail),
        ("client", &e.client),
        ("request", &e.request_id),
    ] {
        if let Some(value) = value {
            lines.push(format!("{label:<8} {value}"));
        }
    }
    if let Some(ms) = e.duration_ms {
        lines.push(format!("took     {ms} ms"));
    }
    Popup::Message {
        title: format!("event {}", e.id),
        lines,
    }
}

pub fn edit_events_filter(app: &mut App, edit: &Edit) {
    if app.events.filter_editing {
        app.events.filter_input.apply(edit);
    }
}

pub fn events_filter_command(app: &mut App, cmd: Cmd) {
    match cmd {
        // A filter that does not parse keeps the bar open, with the problem beside it.
        Cmd::Open => {
            apply_events_filter(app);
            app.events.filter_editing = app.events.filter_error.is_some();
        }
        Cmd::Back => {
            app.events.filter_editing = false;
            app.events.filter_input.clear();
            apply_events_filter(app);
        }
        Cmd::Quit => super::quit(app),
        _ => {}
    }
}

/// Parses the filter bar at the current time and loads the first page. Also used on reload
/// and when the screen opens, so an age (`since:15m`) always counts back from now.
pub(super) fn apply_events_filter(app: &mut App) {
    match event_filter::parse(app.events.filter_input.value(), app.now) {
        Ok(filter) => {
            app.events.filter_error = None;
            app.events.filter = filter;
            app.events.offset = 0;
            app.events.list.selected = 0;
            load_events(app);
        }
        Err(problem) => app.events.filter_error = Some(problem),
    }
}

pub fn reply(app: &mut App, tag: Tag, result: Result<Value, ClientError>) {
    match tag {
        Tag::Models | Tag::Catalog => match decode::<ModelList>(result) {
            Ok(list) => {
                app.catalog = list.models.iter().map(|m| (m.name.clone(), m.available)).collect();
                if tag == Tag::Models {
                    app.models.set(list.models.clone());
                    app.model_list = Some(list);
                }
            }
            Err(err) if is_missing_method(&err) => {
                if tag == Tag::Models {
                    app.models.loaded = true;
                    app.error("This daemon does not list models yet (models.list).");
                }
            }
            Err(err) => app.error(format!("models: {}", describe(&err))),
        },
        Tag::ServiceNames | Tag::Services => match decode::<ServiceList>(result) {
            Ok(list) => {
                app.service_names = list.services.iter().map(|s| s.name.clone()).collect();
                if tag == Tag::Services {
                    app.services.set(list.services);
                    let rows = service_rows(&app.services.items).len();
                    app.services.selected = app.services.selected.min(rows.saturating_sub(1));
                }
            }
            Err(err) => app.error(format!("services: {}", describe(&err))),
        },
        Tag::Admins => match decode::<AdminList>(result) {
            Ok(list) => app.admins.set(list.admins),
            Err(err) => {
                app.admins.loaded = true;
                if err.api().is_some_and(|e| e.code == ErrorCode::Forbidden) {
                    app.error("Only a super admin can list admins.");
                } else {
                    app.error(format!("admins: {}", describe(&err)));
                }
            }
        },
        Tag::CreateAdmin => match result {
            Ok(_) => {
                app.popups.retain(|p| !matches!(p, Popup::NewAdmin(_)));
                app.info("Admin created; they must change the password at first login.");
                load_admins(app);
            }
            Err(err) => match app.popups.last_mut() {
                Some(Popup::NewAdmin(form)) => form.error = Some(describe(&err)),
                _ => app.error(describe(&err)),
            },
        },
        Tag::DeleteAdmin => {
            match result {
                Ok(_) => app.info("Admin deleted."),
                Err(err) => app.error(format!("delete admin: {}", describe(&err))),
            }
            load_admins(app);
        }
        Tag::CreateService => match result {
            Ok(_) => {
                app.popups.retain(|p| !matches!(p, Popup::Prompt(_)));
                app.info("Service created. t issues a token.");
                load_services(app);
            }
            Err(err) => match app.popups.last_mut() {
                Some(Popup::Prompt(prompt)) => prompt.error = Some(describe(&err)),
                _ => app.error(describe(&err)),
            },
        },
        Tag::DeleteService => {
            match decode::<ServiceDeleted>(result) {
                Ok(deleted) => app.info(format!(
                    "Service deleted; removed from {}.",
                    count(deleted.grants_removed, "user")
                )),
                Err(err) => app.error(describe(&err)),
            }
            load_services(app);
        }
        Tag::RevokeToken => {
            match result {
                Ok(_) => app.info("Token revoked."),
                Err(err) => app.error(describe(&err)),
            }
            load_services(app);
        }
        Tag::IssueToken => match decode::<IssuedToken>(result) {
            Ok(issued) => {
                app.popups.push(Popup::Message {
                    title: format!("New token for {}", issued.service),
                    lines: vec![
                        "Copy it now: it is shown only once.".into(),
                        String::new(),
                        issued.token,
                        String::new(),
                        format!("(id {}, hint {})", issued.id, issued.hint),
                    ],
                });
                load_services(app);
            }
            Err(err) => app.error(format!("issue token: {}", describe(&err))),
        },
        Tag::Events { query } if query == app.events.query => match decode::<EventList>(result) {
            Ok(list) => {
                app.events.matching = list.matching;
                app.events.list.set(list.events);
            }
            Err(err) => app.error(format!("events: {}", describe(&err))),
        },
        Tag::SyncStatus => match decode::<SyncStatus>(result) {
            Ok(status) => {
                if app.watching_sync && status.users_pending == 0 && status.queue_depth == 0 {
                    app.watching_sync = false;
                    if status.users_failed > 0 {
                        app.error(format!("LiteLLM sync done; {} failed (filter status:failed, :retry to try again).", count(status.users_failed, "user")));
                        load_sync_failures(app);
                    } else {
                        app.info("LiteLLM sync done.");
                    }
                    // The rows on screen still show the keys as they were before the sync.
                    super::dialogs::refresh_table(app);
                }
                app.sync = SyncState::Known(status);
            }
            Err(err) if is_missing_method(&err) => app.sync = SyncState::NotAvailable,
            // A transient failure keeps the last known state; the next poll tries again.
            Err(_) => {}
        },
        Tag::SyncFailures => match decode::<UserList>(result) {
            Ok(list) => show_sync_failures(app, list),
            Err(err) => app.error(format!("failed users: {}", describe(&err))),
        },
        Tag::Reconcile => match decode::<ReconcileSummary>(result) {
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
        Tag::RetryFailed => match decode::<FailedRetried>(result) {
            Ok(r) if r.retried == 0 => app.info("No failed users to retry."),
            Ok(r) => {
                app.info(format!("Retrying {}…", count(r.retried, "failed user")));
                app.watching_sync = true;
                super::dialogs::refresh_table(app);
            }
            Err(err) => app.error(format!("retry: {}", describe(&err))),
        },
        _ => {}
    }
}
