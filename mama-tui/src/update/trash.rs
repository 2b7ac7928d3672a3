//! The trash screen: its keys, its page of `users.trash` (sorted, filtered and paged by the
//! daemon), restoring and purging the marked users (each behind a confirm), and the answers.

use mama_api::rpc::method;
use mama_api::types::{TrashIdsParams, TrashedUser};
use serde_json::Value;

use super::confirm::{ask_for_users, id_preview};
use super::rpc::{answer, describe, is_missing_method};
use crate::action::{Cmd, Screen, Tag};
use crate::app::App;
use crate::client::ClientError;
use crate::popup::{ConfirmAction, Popup};
use crate::text::{count, Edit};
use crate::trash::{TrashKept, TRASH_PAGE};

/// Asks for the page the screen shows.
pub fn load(app: &mut App) {
    app.trash.query += 1;
    let query = app.trash.query;
    let params = app.trash.params();
    app.call::<method::UsersTrash>(&params, Tag::Trash { query });
}

/// Keys on the trash screen (the account was checked against each key's caller).
pub fn command(app: &mut App, cmd: Cmd) {
    let rows = app.table_rows() as i64;
    match cmd {
        Cmd::Down => app.trash.list.move_by(1),
        Cmd::Up => app.trash.list.move_by(-1),
        Cmd::PageDown => page_down(app, rows),
        Cmd::PageUp => page_up(app, rows),
        Cmd::Top => app.trash.list.move_by(i64::MIN / 2),
        Cmd::Bottom => app.trash.list.move_by(i64::MAX / 2),
        Cmd::TrashSort(column) => {
            app.trash.sort_by(column);
            load(app);
        }
        Cmd::Filter => app.trash.filter_editing = true,
        Cmd::Reload => load(app),
        Cmd::ToggleMark => app.trash.toggle_mark(),
        Cmd::MarkAll => {
            let added = app.trash.mark_page();
            app.info(format!(
                "Marked {} more; {} marked.",
                added,
                app.trash.marks.len()
            ));
        }
        Cmd::ClearMarks => app.trash.marks.clear(),
        Cmd::Back => {
            if !app.trash.marks.is_empty() {
                app.trash.marks.clear();
            } else if !app.trash.filter_input.is_empty() {
                app.trash.filter_input.clear();
                apply_filter(app);
            }
        }
        Cmd::Open => {
            if let Some(user) = app.trash.list.current() {
                let popup = details(user);
                app.popups.push(popup);
            }
        }
        Cmd::Restore => ask_restore(app),
        Cmd::Purge => ask_purge(app),
        _ => {}
    }
}

/// A screenful down; past the last row of the page, the next page.
fn page_down(app: &mut App, rows: i64) {
    let t = &mut app.trash;
    let last = t.list.items.len().saturating_sub(1);
    if t.list.selected >= last && t.has_next_page() {
        t.offset += u64::from(TRASH_PAGE);
        t.list.selected = 0;
        load(app);
    } else {
        t.list.move_by(rows);
    }
}

/// A screenful up; before the first row of the page, the previous page.
fn page_up(app: &mut App, rows: i64) {
    let t = &mut app.trash;
    if t.list.selected == 0 && t.offset > 0 {
        t.offset = t.offset.saturating_sub(u64::from(TRASH_PAGE));
        // Its last row, to go on upwards from there.
        t.list.selected = TRASH_PAGE as usize - 1;
        load(app);
    } else {
        t.list.move_by(-rows);
    }
}

fn ask_restore(app: &mut App) {
    let ids = app.trash.selection();
    if ids.is_empty() {
        app.error("Nothing to restore: the trash is empty here.");
        return;
    }
    let n = ids.len() as u64;
    let mut lines = vec![format!("Restore {}?", count(n, "user"))];
    lines.extend(id_preview(&ids, 8));
    lines.push(String::new());
    lines.push("They come back as they were, with the same keys,".into());
    lines.push("unblocked in LiteLLM.".into());
    let action = ConfirmAction::RestoreUsers(ids);
    ask_for_users(app, "Restore users", lines, action, n, "restore");
}

fn ask_purge(app: &mut App) {
    let ids = app.trash.selection();
    if ids.is_empty() {
        app.error("Nothing to purge: the trash is empty here.");
        return;
    }
    let n = ids.len() as u64;
    let mut lines = vec![format!("Purge {} for good?", count(n, "user"))];
    lines.extend(id_preview(&ids, 8));
    lines.push(String::new());
    lines.push("This is final: their keys are deleted in LiteLLM".into());
    lines.push("and they cannot be restored.".into());
    let action = ConfirmAction::PurgeUsers(ids);
    ask_for_users(app, "Purge users", lines, action, n, "purge");
}

/// Confirmed: brings `ids` back.
pub fn restore(app: &mut App, ids: Vec<String>) {
    let n = ids.len() as u64;
    app.call::<method::UsersRestore>(&TrashIdsParams { ids }, Tag::RestoreUsers);
    app.info(format!("Restoring {}…", count(n, "user")));
}

/// Confirmed: deletes `ids` for good.
pub fn purge(app: &mut App, ids: Vec<String>) {
    let n = ids.len() as u64;
    app.call::<method::UsersPurge>(&TrashIdsParams { ids }, Tag::PurgeUsers);
    app.info(format!("Purging {}…", count(n, "user")));
}

/// Everything the table can only abbreviate.
fn details(u: &TrashedUser) -> Popup {
    let models = if u.models.is_empty() {
        "(none)".to_string()
    } else {
        u.models.join(", ")
    };
    Popup::Message {
        title: format!("{} (in the trash)", u.id),
        lines: vec![
            format!(
                "organization  {}",
                crate::app::organization_name(&u.organization)
            ),
            format!("models        {models}"),
            format!(
                "key           {} (blocked)",
                u.key_hint.as_deref().unwrap_or("none")
            ),
            format!(
                "deleted       {} UTC by {}",
                u.deleted_at.format("%Y-%m-%d %H:%M"),
                u.deleted_by
            ),
            format!(
                "purged        {} UTC",
                u.purge_after.format("%Y-%m-%d %H:%M")
            ),
        ],
    }
}

/// Typing in the filter bar.
pub fn edit_filter(app: &mut App, edit: &Edit) {
    if app.trash.filter_editing {
        app.trash.filter_input.apply(edit);
    }
}

/// Asks for the first page matching the filter bar's text.
pub fn apply_filter(app: &mut App) {
    let text = app.trash.filter_input.value().trim();
    app.trash.filter = (!text.is_empty()).then(|| text.to_string());
    app.trash.offset = 0;
    app.trash.list.selected = 0;
    load(app);
}

pub fn reply(app: &mut App, tag: Tag, result: Result<Value, ClientError>) {
    match tag {
        Tag::Trash { query } if query == app.trash.query => {
            match answer::<method::UsersTrash>(result) {
                Ok(list) if list.users.is_empty() && list.offset > 0 && list.matching > 0 => {
                    // The page emptied (restored or purged from under it): its last page.
                    let page = u64::from(TRASH_PAGE);
                    app.trash.offset = (list.matching - 1) / page * page;
                    load(app);
                }
                Ok(list) => {
                    if let Some(u) = list.users.first() {
                        app.trash_kept = TrashKept::from_span(u.deleted_at, u.purge_after);
                    }
                    app.trash.matching = list.matching;
                    app.trash.offset = list.offset;
                    app.trash.list.set(list.users);
                }
                Err(err) if is_missing_method(&err) => {
                    app.trash.list.loaded = true;
                    app.error("This daemon keeps no trash yet (users.trash).");
                }
                Err(err) => app.error(format!("trash: {}", describe(&err))),
            }
        }
        Tag::RestoreUsers => {
            match answer::<method::UsersRestore>(result) {
                Ok(done) => {
                    app.trash.marks.clear();
                    app.info(format!(
                        "Restored {} (same keys, unblocked in LiteLLM).",
                        count(done.restored, "user")
                    ));
                    // They are users again: the users table shows them when next seen.
                    app.users.invalidate();
                }
                Err(err) => app.error(format!("restore: {}", describe(&err))),
            }
            reload_here(app);
        }
        Tag::PurgeUsers => {
            match answer::<method::UsersPurge>(result) {
                Ok(done) => {
                    app.trash.marks.clear();
                    app.info(format!("Purged {} for good.", count(done.purged, "user")));
                }
                Err(err) => app.error(format!("purge: {}", describe(&err))),
            }
            reload_here(app);
        }
        _ => {}
    }
}

/// Fresh rows after a restore or purge, when the trash is still on screen (it loads anyway
/// when opened).
fn reload_here(app: &mut App) {
    if app.screen == Screen::Trash {
        load(app);
    }
}
