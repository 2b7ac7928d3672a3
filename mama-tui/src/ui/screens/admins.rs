//! The admins screen (super admins only).

use mama_api::types::AdminView;
use ratatui::layout::Rect;
use ratatui::Frame;

use crate::app::App;
use crate::ui::table::{Cell, Column, ListTable, Row, Rows};
use crate::ui::theme::Theme;

const COLUMNS: [Column; 4] = [
    Column::fixed("username", 24),
    Column::fixed("role", 8),
    Column::fixed("must change", 13),
    Column::rest("created"),
];

pub fn render(app: &App, frame: &mut Frame, area: Rect, theme: Theme) {
    let rows = Rows::list(&app.admins, area, row);
    ListTable::new(&COLUMNS, "no admins").render(frame, area, theme, &rows);
}

fn row(a: &AdminView) -> Row {
    Row::new(vec![
        Cell::plain(&a.username),
        Cell::plain(a.role.as_str()),
        Cell::plain(if a.must_change_password { "yes" } else { "no" }),
        Cell::plain(a.created_at.format("%Y-%m-%d %H:%M").to_string()),
    ])
}
