//! Suspending one user (its key switched off, kept) with a reason, and resuming it: `p` on the
//! users screen asks for the reason, or for a confirmation to resume a suspended user.

use mama_api::rpc::method;
use mama_api::types::{Suspend, UpdateUserParams};
use serde_json::Value;

use super::rpc::{answer, describe};
use super::users::refresh_table;
use crate::action::Tag;
use crate::app::App;
use crate::client::ClientError;
use crate::popup::{Confirm, ConfirmAction, Popup, Prompt, PromptPurpose};

/// The daemon's limit on a reason's length.
const MAX_REASON: usize = 256;

/// Asks for the reason to suspend the selected user, or whether to resume it.
pub fn ask(app: &mut App) {
    let Some(user) = app.users.selected_user() else {
        app.error("No user selected.");
        return;
    };
    let (id, version) = (user.id.clone(), user.version);
    match &user.suspended {
        Some(s) => {
            let lines = vec![
                format!("Resume {id}?"),
                format!(
                    "Suspended by {} since {}:",
                    s.by,
                    s.at.format("%Y-%m-%d %H:%M")
                ),
                format!("  {}", s.reason),
                String::new(),
                "y: yes   n/esc: no".into(),
            ];
            app.popups.push(Popup::Confirm(Confirm {
                title: "Resume user".into(),
                lines,
                action: ConfirmAction::ResumeUser { id, version },
                typed: None,
            }));
        }
        None => app.popups.push(Popup::Prompt(Prompt {
            title: format!("Suspend {id}"),
            label: "reason",
            input: Default::default(),
            purpose: PromptPurpose::SuspendUser { id, version },
            error: None,
        })),
    }
}

/// Sends the suspension; the prompt stays until the daemon answers.
pub fn suspend(app: &mut App, id: String, version: i64, reason: String) {
    if reason.chars().count() > MAX_REASON {
        if let Some(Popup::Prompt(p)) = app.popups.last_mut() {
            p.error = Some(format!("at most {MAX_REASON} characters"));
        }
        return;
    }
    let params = UpdateUserParams {
        id,
        version,
        suspend: Some(Suspend { reason }),
        ..UpdateUserParams::default()
    };
    app.call::<method::UsersUpdate>(&params, Tag::SuspendUser);
}

pub fn resume(app: &mut App, id: String, version: i64) {
    let params = UpdateUserParams {
        id,
        version,
        resume: true,
        ..UpdateUserParams::default()
    };
    app.call::<method::UsersUpdate>(&params, Tag::ResumeUser);
}

pub fn reply(app: &mut App, tag: Tag, result: Result<Value, ClientError>) {
    let suspending = tag == Tag::SuspendUser;
    match answer::<method::UsersUpdate>(result) {
        Ok(user) => {
            if suspending {
                app.popups
                    .retain(|p| !matches!(p, Popup::Prompt(p) if matches!(p.purpose, PromptPurpose::SuspendUser { .. })));
                app.info(format!("Suspended {}: its key is switched off.", user.id));
            } else {
                app.info(format!("Resumed {}.", user.id));
            }
            refresh_table(app);
        }
        Err(err) => {
            let message = describe(&err);
            let prompt = app.popups.iter_mut().rev().find_map(|p| match p {
                Popup::Prompt(p) if suspending => Some(p),
                _ => None,
            });
            match prompt {
                Some(p) => p.error = Some(message),
                None => app.error(format!(
                    "{}: {message}",
                    if suspending { "suspend" } else { "resume" }
                )),
            }
        }
    }
}
