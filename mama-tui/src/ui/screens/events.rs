//! The events screen: the audit log, newest first, a page at a time.

use mama_api::types::EventView;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::Frame;

use crate::app::App;
use crate::ui::table::{Cell, Column, ListTable, Row, Rows};
use crate::ui::theme::Theme;

/// The result (with the error's code and message) is as wide as it needs when there is room;
/// at 80 columns the users give up room first, down to a few names.
const COLUMNS: [Column; 5] = [
    Column::fixed("time (UTC)", 20),
    Column::fixed("actor", 12),
    Column::fixed("action", 22),
    Column::fit("result", 8, 60, 1),
    Column::fit("users / detail", 10, usize::MAX, 0),
];

pub fn render(app: &App, frame: &mut Frame, area: Rect, theme: Theme) {
    let rows = Rows::list(&app.events.list, area, |e| row(e, theme));
    ListTable::new(&COLUMNS, "no events").render(frame, area, theme, &rows);
}

fn row(e: &EventView, theme: Theme) -> Row {
    let result_style = if e.result == "ok" {
        Style::default()
    } else {
        theme.error()
    };
    let result = match (&e.error_code, &e.error_message) {
        (Some(code), Some(message)) if !message.is_empty() && message != code => {
            format!("{code}: {message}")
        }
        (Some(code), _) => code.clone(),
        (None, _) => e.result.clone(),
    };
    // The users acted on, else the filter that chose them, else what the event says.
    let targets = if e.user_ids.is_empty() {
        e.target_filter
            .clone()
            .or_else(|| e.detail.clone())
            .unwrap_or_default()
    } else if e.target_count > e.user_ids.len() as i64 {
        format!("{} … ({})", e.user_ids.join(","), e.target_count)
    } else {
        e.user_ids.join(",")
    };
    Row::new(vec![
        Cell::plain(e.at.format("%Y-%m-%d %H:%M:%S").to_string()),
        Cell::plain(&e.actor),
        Cell::plain(&e.action),
        Cell::styled(result, result_style),
        Cell::plain(targets),
    ])
}
