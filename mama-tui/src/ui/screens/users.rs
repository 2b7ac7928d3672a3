//! The users screen: the users table over the sparse pages of the daemon's list.

use mama_api::types::{KeyStatus, UserColumn, UserView};
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::Frame;

use crate::app::App;
use crate::ui::table::{self, Cell, Column, ListTable, Row, Rows};
use crate::ui::theme::Theme;

/// The columns. On a narrow terminal they give up room in the order of what operators miss
/// least: info first, then the widest of id, organization, models and services, and the key
/// status last.
const COLUMNS: [Column; 6] = [
    Column::fit("id", 6, 28, 1),
    Column::fit("organization", 6, 20, 1),
    Column::fit("models", 6, 36, 1),
    Column::fit("services", 6, 24, 1),
    Column::fit("key", 8, 20, 2),
    Column::fit("info", 4, 60, 0),
];

/// What each column sorts by (a header click or shift+letter).
const SORT_KEYS: [UserColumn; 6] = [
    UserColumn::Id,
    UserColumn::Organization,
    UserColumn::Models,
    UserColumn::Services,
    UserColumn::KeyStatus,
    UserColumn::Info,
];

pub fn render(app: &App, frame: &mut Frame, area: Rect, theme: Theme) {
    let rows = rows(app, table::body_rows(area), theme);
    users_table(app).render(frame, area, theme, &rows);
}

/// The column under terminal column `x` (header clicks).
pub fn column_at(app: &App, x: u16) -> Option<UserColumn> {
    let table = users_table(app);
    let rows = rows(app, app.table_rows(), Theme { color: app.color });
    let widths = table.widths(&rows, usize::from(app.width));
    table
        .column_at(&widths, usize::from(x))
        .and_then(|i| SORT_KEYS.get(i).copied())
}

fn users_table(app: &App) -> ListTable<'static> {
    let users = &app.users;
    let empty = if users.filter.is_empty() {
        "No users yet. Press c to create some."
    } else {
        "No user matches the filter."
    };
    let sorted = SORT_KEYS.iter().position(|k| *k == users.sort.column);
    ListTable::new(&COLUMNS, empty)
        .gap(1)
        .marks()
        .sorted(sorted, users.sort.descending)
}

fn rows(app: &App, viewport: u64, theme: Theme) -> Rows {
    let users = &app.users;
    Rows {
        rows: users
            .visible(viewport)
            .map(|(index, user)| (index, user.map(|u| row(app, u, theme))))
            .collect(),
        selected: users.selected,
        loaded: users.loaded,
        empty: users.matching == 0,
    }
}

fn row(app: &App, user: &UserView, theme: Theme) -> Row {
    let marked = app.users.marks.contains(&user.id);
    let models = user
        .models
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let sep = if i == 0 { "" } else { "," };
            if user.unavailable_models.contains(m) {
                // Without colour the mark is a `!`.
                let bang = if theme.color { "" } else { "!" };
                (format!("{sep}{m}{bang}"), theme.unavailable())
            } else {
                (format!("{sep}{m}"), Style::default())
            }
        })
        .collect();
    let id_style = if marked {
        theme.marked()
    } else {
        Style::default()
    };
    Row {
        cells: vec![
            Cell::styled(&user.id, id_style),
            Cell::plain(&user.organization),
            Cell::pieces(models),
            Cell::plain(user.services.join(",")),
            Cell::styled(key_text(user), key_style(user, theme)),
            Cell::plain(info_text(user)),
        ],
        marked,
        ..Row::default()
    }
}

fn info_text(user: &UserView) -> String {
    user.info
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The key's state in a word: its sync status, except where that would mislead. A user with no
/// model holds a blocked key ("blocked", not "active"); a rotation waiting for LiteLLM says
/// "rotating"; a change LiteLLM keeps failing says "retrying" (the reason is in the edit dialog).
pub fn key_state(user: &UserView) -> &'static str {
    match user.key_status {
        KeyStatus::Active if user.key_blocked => "blocked",
        KeyStatus::Pending if user.rotating => "rotating",
        KeyStatus::Pending if user.key_error.is_some() => "retrying",
        status => status.as_str(),
    }
}

fn key_text(user: &UserView) -> String {
    match (&user.key_hint, user.key_status) {
        (_, KeyStatus::None) => "-".into(),
        // Status first: when the column is narrow the hint is what gets cut.
        (Some(hint), _) => format!("{} {hint}", key_state(user)),
        (None, _) => key_state(user).into(),
    }
}

fn key_style(user: &UserView, theme: Theme) -> Style {
    match user.key_status {
        KeyStatus::Active if user.key_blocked => theme.warn(),
        KeyStatus::Active => theme.ok(),
        KeyStatus::Pending => theme.warn(),
        KeyStatus::Failed => theme.error(),
        KeyStatus::None => theme.dim(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widths_fill_the_terminal_and_respect_minimums() {
        let table = ListTable::new(&COLUMNS, "").gap(1);
        let w = table.widths(&Rows::default(), 80);
        // The mark and a gap between each two columns take the rest.
        assert_eq!(w.iter().sum::<usize>(), 80 - 2 - 5);
        let w = table.widths(&Rows::default(), 30);
        assert!(w.iter().zip([6, 6, 6, 6, 8, 4]).all(|(w, min)| *w >= min));
    }

    #[test]
    fn the_key_column_never_calls_a_closed_or_struggling_key_active() {
        let mut user = crate::users::tests::user("kim");
        user.key_hint = Some("sk-...a1b2".into());
        user.key_status = KeyStatus::Active;
        assert_eq!(key_text(&user), "active sk-...a1b2");
        user.key_blocked = true;
        assert_eq!(key_text(&user), "blocked sk-...a1b2");
        user.key_blocked = false;
        user.key_status = KeyStatus::Pending;
        user.rotating = true;
        assert_eq!(key_state(&user), "rotating");
        user.rotating = false;
        user.key_error = Some("LiteLLM failed with status 503; retrying (attempt 3)".into());
        assert_eq!(key_state(&user), "retrying");
        user.key_status = KeyStatus::Failed;
        assert_eq!(key_state(&user), "failed");
    }
}
