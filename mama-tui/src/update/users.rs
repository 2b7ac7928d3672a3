//! The users table: the pages the daemon sends, moving, sorting, filtering and marking, and the
//! answers to changes of the marked users. What the keys of the users screen do is in
//! `screens`.

use std::path::PathBuf;

use mama_api::rpc::method;
use mama_api::types::{
    BulkUpdateParams, CountUsersParams, ListUsersParams, Page, PageCursor, UserColumn,
};
use serde_json::Value;

use super::rpc::{answer, answers, decode, describe, is_missing_method, ID_CHUNK};
use crate::action::{Screen, Tag};
use crate::app::App;
use crate::client::ClientError;
use crate::csv;
use crate::effect::Effect;
use crate::filter;
use crate::popup::{Confirm, ConfirmAction, Popup};
use crate::text::{count, Edit};
use crate::trash::TrashKept;
use crate::ui::screens::users::column_at;
use crate::ui::table::HEADER_Y;
use crate::users::{PageAsk, PageRequest, PageRows, RowsAt, PAGE};

/// Ticks (50 ms) a typed filter waits for the previous query's answer before it is sent anyway.
const FILTER_MAX_WAIT_TICKS: u8 = 40;

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
    ask_marks_in_view(app);
}

/// Asks for the ids of the current query when the marks it hides cannot be told from the rows
/// loaded (see `UsersState::marks_not_in_view`): once per query, after its first page and its
/// count, never while a typed filter waits to be sent.
fn ask_marks_in_view(app: &mut App) {
    let u = &app.users;
    if !u.counted
        || !u.loaded
        || u.filter_pending.is_some()
        || u.marks_outside_asked == Some(u.query)
        || u.marks_not_in_view().is_some()
    {
        return;
    }
    let query = u.query;
    app.users.marks_outside_asked = Some(query);
    let effect = Effect::CollectIds {
        filter: app.users.filter.clone(),
        sort: app.users.sort,
        tag: Tag::MarksInView { query },
        token: app.token(),
        epoch: app.epoch,
    };
    app.push_effect(effect);
}

/// Shows fresh rows after a change, keeping the position.
pub fn refresh_table(app: &mut App) {
    app.users.invalidate();
    fetch_pages(app);
}

pub fn move_by(app: &mut App, delta: i64) {
    let rows = app.table_rows();
    app.users.move_by(delta, rows);
    fetch_pages(app);
}

/// Rows of the selection (marks, or the current row when nothing is marked).
pub fn selection(app: &App) -> Vec<String> {
    if app.users.marks.is_empty() {
        app.users
            .selected_user()
            .map(|u| vec![u.id.clone()])
            .unwrap_or_default()
    } else {
        app.users.marks.iter().cloned().collect()
    }
}

/// For a confirm acting on the marks: how many of them the filter hides, unless none.
pub fn hidden_marks_line(app: &App) -> Option<String> {
    let u = &app.users;
    match u.marks_not_in_view() {
        Some(0) => None,
        Some(hidden) => Some(format!(
            "{}: {hidden} filtered out of view, included.",
            u.marks_label()
        )),
        None => Some(format!("{}: some may be filtered out.", u.marks_label())),
    }
}

/// Bulk params selecting the marked users, always one call (so one transaction and one event):
/// the filter when the marks are exactly a large filter's result (the daemon selects the same
/// users without the ids travelling), else every marked id.
pub fn bulk_targets(app: &App) -> Vec<BulkUpdateParams> {
    if let Some(filter) = &app.users.marks_filter {
        if app.users.marks.len() > ID_CHUNK {
            return vec![BulkUpdateParams {
                filter: Some(filter.clone()),
                ..Default::default()
            }];
        }
    }
    vec![BulkUpdateParams {
        ids: Some(app.users.marks.iter().cloned().collect()),
        ..Default::default()
    }]
}

pub fn sort(app: &mut App, column: UserColumn) {
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

pub fn clear_marks(app: &mut App) {
    app.users.marks.clear();
    app.users.marks_filter = None;
}

pub fn mark_all(app: &mut App) {
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
        if app.users.loaded || ticks + 1 >= FILTER_MAX_WAIT_TICKS {
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

/// A click on the header sorts by that column; on a row selects it.
pub fn click(app: &mut App, x: u16, y: u16) {
    if !app.popups.is_empty() || app.screen != Screen::Users {
        return;
    }
    if y == HEADER_Y {
        if let Some(column) = column_at(app, x) {
            sort(app, column);
        }
    } else if y > HEADER_Y && u64::from(y - HEADER_Y) <= app.table_rows() {
        let index = app.users.scroll + u64::from(y - HEADER_Y - 1);
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
            match answer::<method::UsersList>(result) {
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
            match answer::<method::UsersCount>(result) {
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
        Tag::MarksInView { query } => match decode::<Vec<String>>(result) {
            Ok(ids) => app.users.store_ids_in_view(query, &ids),
            Err(err) => app.error(format!("marks not in view: {}", describe(&err))),
        },
        Tag::Export => match result {
            Ok(value) if value.get("exists").is_some() => {
                let path = value.get("exists").and_then(Value::as_str).unwrap_or("");
                app.message = None;
                app.popups.push(Popup::Confirm(Confirm {
                    title: "Overwrite the file?".into(),
                    lines: vec![
                        format!("{path} exists."),
                        String::new(),
                        "y: overwrite it with the export   n/esc: keep it".into(),
                    ],
                    action: ConfirmAction::OverwriteExport(PathBuf::from(path)),
                    typed: None,
                }));
            }
            Ok(value) => {
                let rows = value.get("rows").and_then(Value::as_u64).unwrap_or(0);
                let path = value.get("path").and_then(Value::as_str).unwrap_or("");
                app.info(format!("Exported {rows} users to {path}."));
            }
            Err(err) => app.error(format!("export: {}", describe(&err))),
        },
        Tag::DeleteUsers => match answers::<method::UsersDelete>(result) {
            Ok(parts) => {
                let deleted: u64 = parts.iter().map(|p| p.deleted).sum();
                app.users.marks.clear();
                app.users.marks_filter = None;
                // The answer is what says whether the daemon keeps a trash.
                match parts.iter().find_map(|p| p.purge_after) {
                    Some(until) => {
                        app.trash_kept = TrashKept::from_span(app.now, until);
                        app.info(format!(
                            "Moved {} to the trash until {} UTC — restore with 8.",
                            count(deleted, "user"),
                            until.format("%Y-%m-%d %H:%M")
                        ));
                    }
                    None => {
                        app.trash_kept = TrashKept::None;
                        app.info(format!(
                            "Deleted {}. For good: the daemon keeps no trash.",
                            count(deleted, "user")
                        ));
                    }
                }
                refresh_table(app);
            }
            Err(err) => app.error(format!("delete: {}", describe(&err))),
        },
        Tag::RotateKeys => match answers::<method::UsersRotateKeys>(result) {
            Ok(parts) => {
                let rotated: u64 = parts.iter().map(|p| p.rotated).sum();
                app.info(format!(
                    "Rotated {}; LiteLLM sync follows.",
                    count(rotated, "key")
                ));
                app.watching_sync = true;
                app.last_sync_poll = None;
                refresh_table(app);
            }
            Err(err) if is_missing_method(&err) => {
                app.error("This daemon cannot rotate keys yet (users.rotate_keys).")
            }
            Err(err) => app.error(format!("rotate: {}", describe(&err))),
        },
        _ => {}
    }
}

/// `:export FILE`: the current filter and sort, every page, in the columns the create-users
/// dialog imports. A leading `~` is the home directory; an existing file is only replaced after
/// a confirm.
pub fn export(app: &mut App, path: &str) {
    if path.is_empty() {
        app.error("usage: :export FILE.csv");
        return;
    }
    let path = csv::expand_home(path, std::env::var_os("HOME").as_deref());
    export_to(app, path, false);
}

/// Exports to `path`; without `overwrite`, an existing file makes the answer ask first.
pub fn export_to(app: &mut App, path: PathBuf, overwrite: bool) {
    app.info(format!("Exporting to {}…", path.display()));
    let effect = Effect::Export {
        path,
        filter: app.users.filter.clone(),
        sort: app.users.sort,
        overwrite,
        token: app.token(),
        epoch: app.epoch,
    };
    app.push_effect(effect);
}
