//! The `:` command line, along the bottom.

use ratatui::layout::{Position, Rect};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::shared::boxed;
use crate::text::{truncate, TextInput};

pub fn render(input: &TextInput, frame: &mut Frame, area: Rect) {
    let rect = Rect {
        x: area.x,
        y: area.bottom().saturating_sub(4),
        width: area.width,
        height: 3,
    };
    let inner = boxed(frame, rect, " command ");
    let room = usize::from(inner.width).saturating_sub(2);
    frame.render_widget(
        Paragraph::new(format!(":{}", truncate(input.value(), room))),
        inner,
    );
    let x = inner.x + 1 + input.cursor_cells().min(room) as u16;
    frame.set_cursor_position(Position { x, y: inner.y });
}
