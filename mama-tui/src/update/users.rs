//! The users table: moving, sorting, filtering, marking, and the pages the daemon sends.

use std::path::PathBuf;

use mama_api::rpc::method;
use mama_api::types::{
    BulkUpdateParams, CountUsersParams, ListUsersParams, Page, PageCursor, UserColumn, UserCounts,
    UserList,
};
use serde_json::Value;

use super::{decode, describe, dialogs};
use crate::action::{Cmd, Screen, Tag};
use crate::app::App;
use crate::client::ClientError;
use crate::effect::Effect;
use crate::filter;
use crate::popup::{BulkDialog, Confirm, ConfirmAction, CreateDialog, EditDialog, Popup};
use crate::text::{count, Edit};
use crate::ui::table;
use crate::users::{PageAsk, PageRequest, PageRows, RowsAt, PAGE};

/// Ids per call when a list of ids is sent: keeps bodies well under the daemon's 1 MiB limit.
pub const ID_CHUNK: usize = 5000;

/// Asks for the pages the viewport needs, and for the counts of a new query (in their own
/// call, so the first page does not wait for them).
pub fn fetch_pages(app: &mut App) {
    if app.session.is_none() || app.screen != Screen::Users {
        return;
    }
    let viewport = app.table_rows();
    let query = app.users.query;
    for PageRequest { ask, at } in app.users.pages_to_fetch(viewport) {
        let mut sort = app.users.sort;
        let (offset, cursor) = match ask {
            PageAsk::Offset(offset) => (offset, PageCursor::default()),
            PageAsk::After(after) => (
                0,
                PageCursor {
                    after: Some(after),
                    before: None,
                },
            ),
            PageAsk::Before(before) => (
                0,
                PageCursor {
                    after: None,
                    before: Some(before),
                },
            ),
            PageAsk::Reversed => {
                sort.descending = !sort.descending;
                (0, PageCursor::default())
            }
        };
        let params = ListUsersParams {
            filter: app.users.filter.clone(),
            sort,
            page: Page {
                offset,
                limit: PAGE as u32,
            },
            cursor,
            counts: false,
        };
        app.call::<method::UsersList>(&params, Tag::UsersPage { query, at });
    }
    if app.users.wants_count() {
        app.users.counting = true;
        let params = CountUsersParams {
            filter: app.users.filter.clone(),
        };
        app.call::<method::UsersCount>(&params, Tag::UsersCount { query });
    }
}

pub fn move_by(app: &mut App, delta: i64) {
    let rows = app.table_rows();
    app.users.move_by(delta, rows);
    fetch_pages(app);
}

/// Rows of the selection (marks, or the current row when nothing is marked).
fn selection(app: &App) -> Vec<String> {
    if app.users.marks.is_empty() {
        app.users
            .selected_user()
            .map(|u| vec![u.id.clone()])
            .unwrap_or_default()
    } else {
        app.users.marks.iter().cloned().collect()
    }
}

/// Bulk params selecting the marked users: the filter when the marks are exactly a filter's
/// result and too many for one call, else ids in chunks.
pub fn bulk_targets(app: &App) -> Vec<BulkUpdateParams> {
    if let Some(filter) = &app.users.marks_filter {
        if app.users.marks.len() > ID_CHUNK {
            return vec![BulkUpdateParams {
                filter: Some(filter.clone()),
                ..Default::default()
            }];
        }
    }
    let ids: Vec<String> = app.users.marks.iter().cloned().collect();
    ids.chunks(ID_CHUNK)
        .map(|chunk| BulkUpdateParams {
            ids: Some(chunk.to_vec()),
            ..Default::default()
        })
        .collect()
}

/// A short list of ids for a confirm popup.
pub fn id_preview(ids: &[String], max: usize) -> Vec<String> {
    let mut lines: Vec<String> = ids.iter().take(max).map(|id| format!("  {id}")).collect();
    if ids.len() > max {
        lines.push(format!("  … and {} more", ids.len() - max));
    }
    lines
}

pub fn command(app: &mut App, cmd: Cmd) {
    let rows = app.table_rows() as i64;
    match cmd {
        Cmd::Down => move_by(app, 1),
        Cmd::Up => move_by(app, -1),
        Cmd::PageDown => move_by(app, rows),
        Cmd::PageUp => move_by(app, -rows),
        Cmd::Top => move_by(app, i64::MIN / 2),
        Cmd::Bottom => {
            let rows = app.table_rows();
            app.users.bottom(rows);
            fetch_pages(app);
        }
        Cmd::Sort(column) => sort(app, column),
        Cmd::Filter => app.users.filter_editing = true,
        Cmd::Reload => {
            app.users.invalidate();
            fetch_pages(app);
        }
        Cmd::ToggleMark => {
            if let Some(id) = app.users.selected_user().map(|u| u.id.clone()) {
                app.users.toggle_mark(&id);
                move_by(app, 1);
            }
        }
        Cmd::MarkAll => mark_all(app),
        Cmd::ClearMarks => clear_marks(app),
        Cmd::Back => {
            if !app.users.marks.is_empty() {
                clear_marks(app);
            } else if !app.users.filter_input.is_empty() {
                app.users.filter_input.clear();
                apply_filter(app);
            }
        }
        Cmd::Open => {
            if let Some(user) = app.users.selected_user().cloned() {
                dialogs::ensure_pickers(app);
                app.popups
                    .push(Popup::Edit(Box::new(EditDialog::new(user))));
            }
        }
        Cmd::BulkEdit => {
            if app.users.marks.is_empty() {
                app.error("Mark users first (space marks, a marks all matching).");
            } else {
                dialogs::ensure_pickers(app);
                app.popups
                    .push(Popup::Bulk(BulkDialog::new(app.users.marks.len() as u64)));
            }
        }
        Cmd::CreateUsers => app.popups.push(Popup::Create(CreateDialog::default())),
        Cmd::DeleteMarked => confirm_ids(app, "Delete users", "Delete", ConfirmAction::DeleteUsers),
        Cmd::RotateMarked => confirm_ids(
            app,
            "Rotate keys",
            "Rotate the keys of",
            ConfirmAction::RotateKeys,
        ),
        Cmd::DropUnavailable => drop_unavailable(app),
        _ => {}
    }
}

fn confirm_ids(app: &mut App, title: &str, verb: &str, action: fn(Vec<String>) -> ConfirmAction) {
    let ids = selection(app);
    if ids.is_empty() {
        app.error("Nothing to act on: mark users first.");
        return;
    }
    let mut lines = vec![format!("{verb} {}?", count(ids.len() as u64, "user"))];
    lines.extend(id_preview(&ids, 8));
    lines.push(String::new());
    lines.push("y: yes   n/esc: no".into());
    app.popups.push(Popup::Confirm(Confirm {
        title: title.into(),
        lines,
        action: action(ids),
    }));
}

/// Drops unavailable models from the marked users: a dry run first, then a confirm.
pub fn drop_unavailable(app: &mut App) {
    if app.users.marks.is_empty() {
        app.error("Mark users first (on the users screen: filter `unavailable`, then a).");
        return;
    }
    let batch: Vec<BulkUpdateParams> = bulk_targets(app)
        .into_iter()
        .map(|p| BulkUpdateParams {
            drop_unavailable_models: true,
            ..p
        })
        .collect();
    super::bulk::preview_bulk(app, batch);
}

fn sort(app: &mut App, column: UserColumn) {
    let sort = &mut app.users.sort;
    if sort.column == column {
        sort.descending = !sort.descending;
    } else {
        sort.column = column;
        sort.descending = false;
    }
    app.users.restart();
    fetch_pages(app);
}

fn clear_marks(app: &mut App) {
    app.users.marks.clear();
    app.users.marks_filter = None;
}

fn mark_all(app: &mut App) {
    if app.users.marking || app.session.is_none() {
        return;
    }
    app.users.marking = true;
    app.info(format!("Marking {} users…", app.users.matching));
    let effect = Effect::CollectIds {
        filter: app.users.filter.clone(),
        sort: app.users.sort,
        tag: Tag::MarkAll {
            query: app.users.query,
        },
        token: app.token(),
        epoch: app.epoch,
    };
    app.push_effect(effect);
}

/// Keystrokes in the filter bar; the daemon is asked after a short pause (see `debounce_filter`).
pub fn edit_filter(app: &mut App, edit: &Edit) {
    if !app.users.filter_editing {
        return;
    }
    if app.users.filter_input.apply(edit) {
        // Send at once when the daemon is idle, so the first keystroke shows results without a
        // delay; while a query is out, keystrokes coalesce into one follow-up query.
        if app.users.loaded {
            apply_filter(app);
        } else {
            app.users.filter_pending = Some(0);
        }
    }
}

/// Called on every tick: sends a coalesced filter once the previous query answered (or after a
/// bounded wait, should that answer be slow).
pub fn debounce_filter(app: &mut App) {
    if let Some(ticks) = app.users.filter_pending {
        if app.users.loaded || ticks + 1 >= super::FILTER_MAX_WAIT_TICKS {
            apply_filter(app);
        } else {
            app.users.filter_pending = Some(ticks + 1);
        }
    }
}

/// Parses the filter bar and, when it changed, starts a new query.
pub fn apply_filter(app: &mut App) {
    app.users.filter_pending = None;
    match filter::parse(app.users.filter_input.value()) {
        Ok(parsed) => {
            app.users.filter_error = None;
            if parsed != app.users.filter {
                app.users.filter = parsed;
                app.users.restart();
                fetch_pages(app);
            }
        }
        Err(problem) => app.users.filter_error = Some(problem),
    }
}

/// Enter/esc in the filter bar.
pub fn filter_bar_command(app: &mut App, cmd: Cmd) {
    match cmd {
        Cmd::Open => {
            app.users.filter_editing = false;
            apply_filter(app);
        }
        Cmd::Back => {
            app.users.filter_editing = false;
            app.users.filter_input.clear();
            apply_filter(app);
        }
        Cmd::Quit => super::quit(app),
        _ => {}
    }
}

/// A click on the header sorts by that column; on a row selects it.
pub fn click(app: &mut App, x: u16, y: u16) {
    if !app.popups.is_empty() || app.screen != Screen::Users {
        return;
    }
    if y == table::HEADER_Y {
        if let Some(column) = table::column_at(app, x) {
            sort(app, column);
        }
    } else if y > table::HEADER_Y && u64::from(y - table::HEADER_Y) <= app.table_rows() {
        let index = app.users.scroll + u64::from(y - table::HEADER_Y - 1);
        if index < app.users.matching {
            let rows = app.table_rows();
            app.users.select(index, rows);
        }
    }
}

pub fn reply(app: &mut App, tag: Tag, result: Result<Value, ClientError>) {
    match tag {
        Tag::UsersPage { query, at } => {
            if query != app.users.query {
                return;
            }
            match decode::<UserList>(result) {
                Ok(list) => {
                    if let (Some(total), Some(matching)) = (list.total, list.matching) {
                        app.users.store_counts(total, matching);
                    }
                    let mut users = list.users;
                    let (mut start_cursor, mut end_cursor) = (list.start_cursor, list.end_cursor);
                    if at == RowsAt::Last {
                        // Asked in the reversed sort: turn it around.
                        users.reverse();
                        std::mem::swap(&mut start_cursor, &mut end_cursor);
                    }
                    let page = PageRows {
                        users,
                        start_cursor,
                        end_cursor,
                    };
                    app.users.store_page(at, page);
                    fetch_pages(app);
                }
                Err(err) => {
                    app.users.page_failed(at);
                    app.error(format!("users.list: {}", describe(&err)));
                }
            }
            if app.users.filter_pending.is_some() {
                apply_filter(app);
            }
        }
        Tag::UsersCount { query } => {
            if query != app.users.query {
                return;
            }
            match decode::<UserCounts>(result) {
                Ok(counts) => {
                    app.users.store_counts(counts.total, counts.matching);
                    if app.users.bottom_pending {
                        let rows = app.table_rows();
                        app.users.bottom(rows);
                    }
                    fetch_pages(app);
                }
                Err(err) => {
                    app.users.counting = false;
                    app.users.count_failed = true;
                    app.error(format!("users.count: {}", describe(&err)));
                }
            }
        }
        Tag::MarkAll { query } => {
            app.users.marking = false;
            match decode::<Vec<String>>(result) {
                Ok(ids) => {
                    let count = ids.len();
                    app.users.marks.extend(ids);
                    // Only "exactly this filter's users" when nothing else was marked before.
                    app.users.marks_filter = (query == app.users.query
                        && app.users.marks.len() == count)
                        .then(|| app.users.filter.clone());
                    app.info(format!("Marked {count} users."));
                }
                Err(err) => app.error(format!("mark all: {}", describe(&err))),
            }
        }
        Tag::Export => match result {
            Ok(value) => {
                let rows = value.get("rows").and_then(Value::as_u64).unwrap_or(0);
                let path = value.get("path").and_then(Value::as_str).unwrap_or("");
                app.info(format!("Exported {rows} users to {path}."));
            }
            Err(err) => app.error(format!("export: {}", describe(&err))),
        },
        _ => {}
    }
}

/// `:export FILE`: the current filter and sort, every page.
pub fn export(app: &mut App, path: &str) {
    if path.is_empty() {
        app.error("usage: :export FILE.csv");
        return;
    }
    let effect = Effect::Export {
        path: PathBuf::from(path),
        filter: app.users.filter.clone(),
        sort: app.users.sort,
        token: app.token(),
        epoch: app.epoch,
    };
    app.info(format!("Exporting to {path}…"));
    app.push_effect(effect);
}
