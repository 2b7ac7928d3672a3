//! The admins screen: every account, its role and the organizations it is limited to. Any
//! account reads it; only a super admin is offered changes.

use mama_api::types::{describe_scope, AdminView};
use ratatui::layout::Rect;
use ratatui::Frame;

use crate::app::App;
use crate::ui::table::{Cell, Column, ListTable, Row, Rows};
use crate::ui::theme::Theme;

const COLUMNS: [Column; 5] = [
    Column::fit("username", 10, 24, 1),
    Column::fixed("role", 8),
    Column::fixed("must change", 13),
    Column::fixed("created", 18),
    Column::rest("organizations"),
];

pub fn render(app: &App, frame: &mut Frame, area: Rect, theme: Theme) {
    let rows = Rows::list(&app.admins, area, |a| row(a, theme));
    ListTable::new(&COLUMNS, "no admins").render(frame, area, theme, &rows);
}

fn row(a: &AdminView, theme: Theme) -> Row {
    // A super admin is never limited; an admin or viewer without a scope sees everything.
    let scope = describe_scope(&a.organizations);
    let scope = if a.organizations.is_none() {
        Cell::styled(scope, theme.dim())
    } else {
        Cell::plain(scope)
    };
    Row::new(vec![
        Cell::plain(&a.username),
        Cell::plain(a.role.as_str()),
        Cell::plain(if a.must_change_password { "yes" } else { "no" }),
        Cell::plain(a.created_at.format("%Y-%m-%d %H:%M").to_string()),
        scope,
    ])
}
