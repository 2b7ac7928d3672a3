//! The `:` command line, along the bottom, with the commands the account may run that start
//! with what is typed (dimmed after the cursor).

use ratatui::layout::{Position, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::shared::boxed;
use crate::app::App;
use crate::palette;
use crate::text::{truncate, width, TextInput};
use crate::ui::theme::Theme;

pub fn render(app: &App, input: &TextInput, frame: &mut Frame, area: Rect, theme: Theme) {
    let rect = Rect {
        x: area.x,
        y: area.bottom().saturating_sub(4),
        width: area.width,
        height: 3,
    };
    let inner = boxed(frame, rect, " command ");
    let room = usize::from(inner.width).saturating_sub(2);
    let typed = format!(":{}", truncate(input.value(), room));
    let left = room.saturating_sub(width(&typed) + 2);
    let suggestions = palette::suggestions(app, input.value()).join(" ");
    let mut spans = vec![Span::raw(typed)];
    if !suggestions.is_empty() && left > 1 {
        spans.push(Span::styled(
            format!("  {}", truncate(&suggestions, left)),
            theme.dim(),
        ));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), inner);
    let x = inner.x + 1 + input.cursor_cells().min(room) as u16;
    frame.set_cursor_position(Position { x, y: inner.y });
}
