//! The users screen: the users table over the sparse pages of the daemon's list.

use mama_api::types::{KeyStatus, LimitField, UserColumn, UserStatus, UserView};
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::Frame;

use crate::app::App;
use crate::limits;
use crate::ui::table::{self, Cell, Column, ListTable, Row, Rows};
use crate::ui::theme::Theme;

/// The columns the users table can show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum UsersColumn {
    Id,
    Organization,
    Models,
    Services,
    Status,
    Key,
    Budget,
    Spend,
    Spend30d,
    Requests30d,
    LastUsed,
    Limits,
    Expires,
    Info,
}

/// One column: how it is drawn, what it sorts by (`None`: the daemon cannot sort by it; the
/// limits column sorts by requests per minute), and from which terminal width on it is shown at
/// all. On a narrow terminal the columns operators miss least are left out (the key's hint, rate
/// limits, the 30-day numbers, last use, info, services), and those shown give up room in the
/// order of their `yields`: info first, then the widest of id, organization, models and
/// services, then the spend and usage columns and budget, then status and expiry, the key last.
struct Spec {
    column: UsersColumn,
    def: Column,
    sort: Option<UserColumn>,
    from_width: u16,
}

const SPECS: [Spec; 14] = [
    spec(
        UsersColumn::Id,
        Column::fit("id", 6, 28, 1),
        Some(UserColumn::Id),
        0,
    ),
    spec(
        UsersColumn::Organization,
        Column::fit("organization", 6, 20, 1),
        Some(UserColumn::Organization),
        0,
    ),
    spec(
        UsersColumn::Models,
        Column::fit("models", 6, 36, 1),
        Some(UserColumn::Models),
        0,
    ),
    spec(
        UsersColumn::Services,
        Column::fit("services", 6, 24, 1),
        Some(UserColumn::Services),
        100,
    ),
    spec(
        UsersColumn::Status,
        Column::fit("status", 9, 13, 3),
        Some(UserColumn::Status),
        0,
    ),
    spec(
        UsersColumn::Key,
        Column::fit("key", 8, 20, 4),
        Some(UserColumn::KeyStatus),
        140,
    ),
    spec(
        UsersColumn::Budget,
        Column::fit("budget", 6, 12, 2),
        Some(UserColumn::MaxBudget),
        0,
    ),
    spec(
        UsersColumn::Spend,
        Column::fit("spend", 5, 12, 2),
        Some(UserColumn::Spend),
        0,
    ),
    spec(
        UsersColumn::Spend30d,
        Column::fit("30d $", 5, 9, 2),
        Some(UserColumn::Spend30d),
        100,
    ),
    spec(
        UsersColumn::Requests30d,
        Column::fit("30d req", 4, 9, 2),
        Some(UserColumn::Requests30d),
        180,
    ),
    spec(
        UsersColumn::LastUsed,
        Column::fit("used", 6, 10, 2),
        Some(UserColumn::LastUsed),
        120,
    ),
    spec(
        UsersColumn::Limits,
        Column::fit("limits", 6, 20, 2),
        Some(UserColumn::RpmLimit),
        130,
    ),
    spec(
        UsersColumn::Expires,
        Column::fit("expires", 7, 11, 3),
        Some(UserColumn::ExpiresAt),
        0,
    ),
    spec(
        UsersColumn::Info,
        Column::fit("info", 4, 60, 0),
        Some(UserColumn::Info),
        120,
    ),
];

const fn spec(column: UsersColumn, def: Column, sort: Option<UserColumn>, from_width: u16) -> Spec {
    Spec {
        column,
        def,
        sort,
        from_width,
    }
}

/// From this terminal width on, spend comes with a gauge of the budget.
const GAUGE_FROM_WIDTH: u16 = 120;

/// The columns shown on a terminal `width` cells wide.
fn shown(width: u16) -> Vec<&'static Spec> {
    SPECS.iter().filter(|s| width >= s.from_width).collect()
}

pub fn render(app: &App, frame: &mut Frame, area: Rect, theme: Theme) {
    let specs = shown(area.width);
    let defs: Vec<Column> = specs.iter().map(|s| s.def).collect();
    let rows = rows(app, &specs, area.width, table::body_rows(area), theme);
    users_table(app, &specs, &defs).render(frame, area, theme, &rows);
}

/// The column under terminal column `x` (header clicks); `None` for a column the daemon
/// cannot sort by.
pub fn column_at(app: &App, x: u16) -> Option<UserColumn> {
    let specs = shown(app.width);
    let defs: Vec<Column> = specs.iter().map(|s| s.def).collect();
    let table = users_table(app, &specs, &defs);
    let rows = rows(
        app,
        &specs,
        app.width,
        app.table_rows(),
        Theme { color: app.color },
    );
    let widths = table.widths(&rows, usize::from(app.width));
    table
        .column_at(&widths, usize::from(x))
        .and_then(|i| specs.get(i).and_then(|s| s.sort))
}

fn users_table<'a>(app: &App, specs: &[&Spec], defs: &'a [Column]) -> ListTable<'a> {
    let users = &app.users;
    let empty = if users.filter.is_empty() {
        "No users yet. Press c to create some."
    } else {
        "No user matches the filter."
    };
    let sorted = specs.iter().position(|s| s.sort == Some(users.sort.column));
    ListTable::new(defs, empty)
        .gap(1)
        .marks()
        .sorted(sorted, users.sort.descending)
}

fn rows(app: &App, specs: &[&Spec], width: u16, viewport: u64, theme: Theme) -> Rows {
    let users = &app.users;
    Rows {
        rows: users
            .visible(viewport)
            .map(|(index, user)| (index, user.map(|u| row(app, u, specs, width, theme))))
            .collect(),
        selected: users.selected,
        loaded: users.loaded,
        empty: users.matching == 0,
    }
}

fn row(app: &App, user: &UserView, specs: &[&Spec], width: u16, theme: Theme) -> Row {
    let marked = app.users.marks.contains(&user.id);
    let cells = specs
        .iter()
        .map(|s| cell(app, user, s.column, width, marked, theme))
        .collect();
    Row {
        cells,
        marked,
        // A key that refuses every call is dimmed (its status says why, in words).
        style: if limits::refuses_calls(user.status) {
            theme.dim()
        } else {
            Style::default()
        },
    }
}

fn cell(
    app: &App,
    user: &UserView,
    column: UsersColumn,
    width: u16,
    marked: bool,
    theme: Theme,
) -> Cell {
    // An inherited value is drawn dim (the edit dialog says where it comes from).
    let own = |field: LimitField| {
        if user.inherited.contains(&field) {
            theme.dim()
        } else {
            Style::default()
        }
    };
    match column {
        UsersColumn::Id => Cell::styled(
            &user.id,
            if marked {
                theme.marked()
            } else {
                Style::default()
            },
        ),
        UsersColumn::Organization => Cell::plain(&user.organization),
        UsersColumn::Models => models_cell(user, theme),
        UsersColumn::Services => Cell::plain(user.services.join(",")),
        UsersColumn::Status => {
            Cell::styled(limits::status_text(user.status), status_style(user, theme))
        }
        UsersColumn::Key => Cell::styled(key_text(user), key_style(user, theme)),
        UsersColumn::Budget => Cell::styled(
            limits::budget_text(&user.limits),
            own(LimitField::MaxBudget),
        ),
        UsersColumn::Spend => {
            let text = limits::spend_text(
                user.spend,
                user.limits.max_budget,
                width >= GAUGE_FROM_WIDTH,
            );
            let style = match (user.spend, user.limits.max_budget) {
                (Some(spend), Some(budget)) if spend >= budget => theme.error(),
                (Some(spend), Some(budget)) if spend >= budget * 0.8 => theme.warn(),
                _ => Style::default(),
            };
            Cell::styled(text, style)
        }
        // Nothing in 30 days, or never used, is drawn dim; the text says it without colour.
        UsersColumn::Spend30d => Cell::styled(
            format!("{:.2}", user.spend_30d),
            dim_if(user.spend_30d <= 0.0, theme),
        ),
        UsersColumn::Requests30d => Cell::styled(
            limits::compact(user.requests_30d),
            dim_if(user.requests_30d == 0, theme),
        ),
        UsersColumn::LastUsed => Cell::styled(
            limits::last_used_text(user.last_used, app.now.date_naive()),
            dim_if(user.last_used.is_none(), theme),
        ),
        UsersColumn::Limits => Cell::plain(limits::rate_text(&user.limits)),
        UsersColumn::Expires => {
            let text = limits::expiry_text(user.limits.expires_at, app.now);
            let style = if user.limits.expires_at.is_some_and(|at| at <= app.now) {
                theme.error()
            } else {
                own(LimitField::ExpiresAt)
            };
            Cell::styled(text, style)
        }
        UsersColumn::Info => Cell::plain(info_text(user)),
    }
}

fn dim_if(dim: bool, theme: Theme) -> Style {
    if dim {
        theme.dim()
    } else {
        Style::default()
    }
}

fn models_cell(user: &UserView, theme: Theme) -> Cell {
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
    Cell::pieces(models)
}

fn status_style(user: &UserView, theme: Theme) -> Style {
    match user.status {
        UserStatus::Suspended | UserStatus::Expired | UserStatus::OverBudget => theme.error(),
        UserStatus::Failed => theme.error(),
        UserStatus::Pending => theme.warn(),
        UserStatus::Active if user.key_blocked => theme.warn(),
        UserStatus::Active => theme.ok(),
        UserStatus::None => theme.dim(),
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
        for total in [80u16, 160] {
            let defs: Vec<Column> = shown(total).iter().map(|s| s.def).collect();
            let table = ListTable::new(&defs, "").gap(1);
            let w = table.widths(&Rows::default(), usize::from(total));
            // The mark and a gap between each two columns take the rest.
            assert_eq!(
                w.iter().sum::<usize>(),
                usize::from(total) - 2 - (defs.len() - 1)
            );
        }
        let defs: Vec<Column> = shown(80).iter().map(|s| s.def).collect();
        let w = ListTable::new(&defs, "")
            .gap(1)
            .widths(&Rows::default(), 30);
        assert!(w
            .iter()
            .zip([6, 6, 6, 9, 6, 5, 7])
            .all(|(w, min)| *w >= min));
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
