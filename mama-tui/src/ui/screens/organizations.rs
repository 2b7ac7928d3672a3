//! The organizations screen: each organization, its users, and the default limits those users
//! inherit for every limit they do not set themselves.

use mama_api::types::{KeyLimits, OrganizationView};
use ratatui::layout::Rect;
use ratatui::text::Span;
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use crate::app::{organization_name, App};
use crate::limits::{budget_text, compact, NONE};
use crate::text::truncate;
use crate::ui::table::{Cell, Column, ListTable, Row, Rows};
use crate::ui::theme::Theme;

const COLUMNS: [Column; 7] = [
    Column::fit("organization", 8, 28, 1),
    Column::fit("users", 5, 8, 2),
    Column::fit("budget", 6, 14, 2),
    Column::fit("tpm", 5, 8, 2),
    Column::fit("rpm", 5, 8, 2),
    Column::fit("expires", 7, 16, 2),
    Column::fit("rotate", 6, 12, 3),
];

pub fn render(app: &App, frame: &mut Frame, area: Rect, theme: Theme) {
    let rows = Rows::list(&app.organizations, area, |o| row(o, theme));
    ListTable::new(
        &COLUMNS,
        "no organizations: users have none and no defaults are set",
    )
    .gap(1)
    .render(frame, area, theme, &rows);
}

fn row(o: &OrganizationView, theme: Theme) -> Row {
    let name = if o.name.is_empty() {
        Cell::styled(organization_name(&o.name), theme.dim())
    } else {
        Cell::plain(&o.name)
    };
    let d = &o.defaults;
    Row::new(vec![
        name,
        Cell::plain(o.users.to_string()),
        Cell::plain(budget_text(d)),
        Cell::plain(count_text(d.tpm_limit)),
        Cell::plain(count_text(d.rpm_limit)),
        Cell::plain(expires_text(d)),
        Cell::plain(d.rotation_every.map_or(NONE.to_string(), |e| e.to_string())),
    ])
}

fn count_text(n: Option<u64>) -> String {
    n.map_or(NONE.to_string(), compact)
}

fn expires_text(d: &KeyLimits) -> String {
    d.expires_at
        .map_or(NONE.to_string(), |at| at.format("%Y-%m-%d").to_string())
}

/// The line under the list: what the defaults mean and how to change them.
pub fn bar(frame: &mut Frame, area: Rect, theme: Theme) {
    let text = "defaults apply to each limit a user does not set itself · enter edits them";
    frame.render_widget(
        Paragraph::new(Span::styled(
            truncate(text, usize::from(area.width)),
            theme.dim(),
        )),
        area,
    );
}
