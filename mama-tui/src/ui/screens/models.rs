//! The models screen: what LiteLLM serves, and who holds models it no longer does.

use mama_api::types::ModelView;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::Span;
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use crate::app::App;
use crate::text::{count, truncate};
use crate::ui::table::{Cell, Column, ListTable, Row, Rows};
use crate::ui::theme::Theme;

const COLUMNS: [Column; 3] = [
    Column::fixed("model", 36),
    Column::fixed("available", 11),
    Column::rest("users"),
];

pub fn render(app: &App, frame: &mut Frame, area: Rect, theme: Theme) {
    let rows = Rows::list(&app.models, area, |m| row(m, theme));
    ListTable::new(&COLUMNS, "no models").render(frame, area, theme, &rows);
}

fn row(m: &ModelView, theme: Theme) -> Row {
    let (mark, style, name_style) = match m.available {
        Some(true) => ("yes", theme.ok(), Style::default()),
        Some(false) => ("NO", theme.unavailable(), theme.unavailable()),
        None => ("unknown", theme.dim(), Style::default()),
    };
    Row::new(vec![
        Cell::styled(&m.name, name_style),
        Cell::styled(mark, style),
        Cell::plain(m.users.to_string()),
    ])
}

/// The line under the models list: who holds unavailable models, and how fresh the catalog is.
pub fn bar(app: &App, frame: &mut Frame, area: Rect, theme: Theme) {
    let text = app.model_list.as_ref().map_or(String::new(), |m| {
        if m.fetched_at.is_none() {
            return "LiteLLM's catalog was never read: availability unknown".to_string();
        }
        let fetched = m.fetched_at.map_or("never".to_string(), |t| {
            t.format("%Y-%m-%d %H:%M").to_string()
        });
        let holders = m.users_with_unavailable;
        let verb = if holders == 1 { "holds" } else { "hold" };
        format!(
            "{} {verb} unavailable models (u shows them) · catalog read {fetched}",
            count(holders, "user")
        )
    });
    frame.render_widget(
        Paragraph::new(Span::styled(
            truncate(&text, usize::from(area.width)),
            theme.dim(),
        )),
        area,
    );
}
