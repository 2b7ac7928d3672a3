//! Undoing a change from the events screen: `u` asks the daemon for a dry run and shows it, `f`
//! asks again with force, `y` applies what was previewed (same force), and the answers. Nothing
//! is changed before the `y`.

use mama_api::rpc::method;
use mama_api::types::UndoParams;
use mama_api::ErrorCode;
use serde_json::Value;

use super::lists;
use super::rpc::{answer, describe};
use crate::action::{Cmd, Screen, Tag};
use crate::app::{organization_name, App};
use crate::client::ClientError;
use crate::popup::Popup;
use crate::text::count;
use crate::undo::{list_size, short_id, UndoDialog, UndoTarget};

/// `u` on the events screen (the account was checked against `events.undo`'s caller): the
/// selected event's preview, or — for a failed call or a view — why it cannot be undone,
/// without asking the daemon.
pub fn ask(app: &mut App) {
    let Some(event) = app.events.list.current() else {
        app.error("No event selected.");
        return;
    };
    match UndoTarget::of(event) {
        Ok(target) => {
            let dialog = UndoDialog::new(target);
            preview(app, &dialog);
            app.popups.push(Popup::Undo(Box::new(dialog)));
        }
        Err(why) => app.error(why),
    }
}

/// Asks the daemon what undoing the dialog's event would do, with its force.
fn preview(app: &mut App, d: &UndoDialog) {
    let params = UndoParams {
        event_id: d.target.id.clone(),
        dry_run: true,
        force: d.force,
    };
    let tag = Tag::UndoPreview {
        event_id: d.target.id.clone(),
        force: d.force,
    };
    app.call::<method::EventsUndo>(&params, tag);
}

/// The undo popup, wherever it is in the stack (it takes every key, so normally on top).
fn dialog(app: &mut App) -> Option<&mut UndoDialog> {
    app.popups.iter_mut().rev().find_map(|p| match p {
        Popup::Undo(d) => Some(d.as_mut()),
        _ => None,
    })
}

/// Keys in the preview popup.
pub fn command(app: &mut App, cmd: Cmd) {
    let (width, height) = (app.width, app.height);
    let page = list_size(width, height).1;
    let Some(Popup::Undo(d)) = app.popups.last_mut() else {
        return;
    };
    let max = d.max_scroll(width, height);
    match cmd {
        Cmd::No | Cmd::Back => {
            app.popups.pop();
        }
        Cmd::Down => d.scroll = (d.scroll + 1).min(max),
        Cmd::Up => d.scroll = d.scroll.saturating_sub(1),
        Cmd::PageDown => d.scroll = (d.scroll + page).min(max),
        Cmd::PageUp => d.scroll = d.scroll.saturating_sub(page),
        Cmd::Top => d.scroll = 0,
        Cmd::Bottom => d.scroll = max,
        // Force on or off: previewed again, so `y` only ever applies what is on screen.
        Cmd::Toggle => {
            d.force = !d.force;
            d.preview = None;
            d.scroll = 0;
            let Some(Popup::Undo(d)) = app.popups.pop() else {
                return;
            };
            preview(app, &d);
            app.popups.push(Popup::Undo(d));
        }
        Cmd::Yes if d.preview.is_none() => {}
        Cmd::Yes if !d.changes_something() => {
            app.error("Nothing to undo: no user would be set back.");
        }
        Cmd::Yes => {
            let params = UndoParams {
                event_id: d.target.id.clone(),
                dry_run: false,
                force: d.force,
            };
            let action = d.target.action.clone();
            app.popups.pop();
            app.call::<method::EventsUndo>(&params, Tag::UndoApply);
            app.info(format!("Undoing {action}…"));
        }
        _ => {}
    }
}

pub fn reply(app: &mut App, tag: Tag, result: Result<Value, ClientError>) {
    match tag {
        Tag::UndoPreview { event_id, force } => {
            let waiting = dialog(app).is_some_and(|d| {
                d.target.id == event_id && d.force == force && d.preview.is_none()
            });
            if !waiting {
                return;
            }
            match answer::<method::EventsUndo>(result) {
                Ok(preview) => {
                    if let Some(d) = dialog(app) {
                        d.preview = Some(preview);
                        d.scroll = 0;
                    }
                }
                Err(err) => {
                    app.popups.retain(|p| !matches!(p, Popup::Undo(_)));
                    app.error(refused(&err));
                }
            }
        }
        Tag::UndoApply => {
            match answer::<method::EventsUndo>(result) {
                Ok(done) => {
                    app.info(undone(&done));
                    // Users changed: the users table asks again when next seen.
                    app.users.invalidate();
                }
                Err(err) => app.error(refused(&err)),
            }
            if app.screen == Screen::Events {
                lists::load_events(app);
            }
        }
        _ => {}
    }
}

/// Why the daemon would not undo: its own words (a view, a failed call, a change it cannot
/// undo), or that nothing is left to undo.
fn refused(err: &ClientError) -> String {
    match err.api().map(|e| e.code) {
        Some(ErrorCode::Conflict) => format!("Nothing left to undo: {}", describe(err)),
        Some(ErrorCode::InvalidParams | ErrorCode::NotFound) => describe(err),
        _ => format!("undo: {}", describe(err)),
    }
}

/// The status line after an undo: how many were set back, and the event that records it —
/// itself undoable, which redoes.
fn undone(done: &mama_api::types::UndoResult) -> String {
    let mut text = format!("Undone: {} set back", count(done.changed, "user"));
    if let Some(org) = &done.organization_defaults {
        text.push_str(&format!(
            ", the defaults of {} put back",
            organization_name(org)
        ));
    }
    if let Some(id) = &done.undo_event_id {
        text.push_str(&format!(
            " (event …{}) — undo that event to redo",
            short_id(id)
        ));
    }
    text
}
