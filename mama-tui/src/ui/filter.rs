//! The line above the status line: the filter bar while typing, else the active filter and sort.

use ratatui::layout::{Position, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::theme::Theme;
use crate::app::App;
use crate::text::{truncate, TextInput};

fn bar(
    frame: &mut Frame,
    area: Rect,
    theme: Theme,
    input: &TextInput,
    editing: bool,
    error: Option<&str>,
    idle: String,
) {
    let mut spans = Vec::new();
    if editing || !input.is_empty() {
        spans.push(Span::styled("/", theme.key()));
        spans.push(Span::raw(truncate(
            input.value(),
            usize::from(area.width).saturating_sub(4),
        )));
    } else {
        spans.push(Span::styled(idle, theme.dim()));
    }
    if let Some(problem) = error {
        spans.push(Span::raw("  "));
        spans.push(Span::styled(problem.to_string(), theme.error()));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
    if editing {
        let x = area.x
            + 1
            + input
                .cursor_cells()
                .min(usize::from(area.width).saturating_sub(2)) as u16;
        frame.set_cursor_position(Position { x, y: area.y });
    }
}

pub fn users_bar(app: &App, frame: &mut Frame, area: Rect, theme: Theme) {
    let u = &app.users;
    let sort = format!(
        "sort {} {}",
        format!("{:?}", u.sort.column).to_lowercase(),
        if u.sort.descending { "▼" } else { "▲" }
    );
    let idle = if u.marking {
        format!("marking… · {sort}")
    } else {
        format!("/ to filter · {sort}")
    };
    bar(
        frame,
        area,
        theme,
        &u.filter_input,
        u.filter_editing,
        u.filter_error.as_deref(),
        idle,
    );
}

pub fn events_bar(app: &App, frame: &mut Frame, area: Rect, theme: Theme) {
    let e = &app.events;
    let idle = format!(
        "/ to filter · {} events · page from {}",
        e.matching,
        e.offset + 1
    );
    bar(
        frame,
        area,
        theme,
        &e.filter_input,
        e.filter_editing,
        e.filter_error.as_deref(),
        idle,
    );
}
