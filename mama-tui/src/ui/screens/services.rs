//! The services screen: each service, then its tokens.

use mama_api::types::ServiceView;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::Frame;

use crate::app::{service_rows, App};
use crate::ui::table::{Cell, Column, ListTable, Row, Rows};
use crate::ui::theme::Theme;

const COLUMNS: [Column; 3] = [
    Column::fixed("service / token", 34),
    Column::fixed("users", 8),
    Column::rest("created / revoked"),
];

pub fn render(app: &App, frame: &mut Frame, area: Rect, theme: Theme) {
    let services = &app.services;
    let rows = Rows::scrolled(
        &service_rows(&services.items),
        services.selected,
        services.loaded,
        area,
        |&(s, token)| row(&services.items[s], token, theme),
    );
    ListTable::new(&COLUMNS, "no services yet: n creates one").render(frame, area, theme, &rows);
}

/// A service, or one of its tokens under it (a revoked one dimmed).
fn row(service: &ServiceView, token: Option<usize>, theme: Theme) -> Row {
    let Some(token) = token.and_then(|t| service.tokens.get(t)) else {
        return Row::new(vec![
            Cell::plain(&service.name),
            Cell::plain(service.users.to_string()),
            Cell::plain(service.created_at.format("%Y-%m-%d %H:%M").to_string()),
        ]);
    };
    let (state, style) = match token.revoked_at {
        Some(at) => (
            format!("revoked {}", at.format("%Y-%m-%d %H:%M")),
            theme.dim(),
        ),
        None => (
            format!("issued {}", token.created_at.format("%Y-%m-%d %H:%M")),
            Style::default(),
        ),
    };
    Row {
        style,
        ..Row::new(vec![
            Cell::plain(format!("  └ {}", token.hint)),
            Cell::plain(""),
            Cell::plain(state),
        ])
    }
}
