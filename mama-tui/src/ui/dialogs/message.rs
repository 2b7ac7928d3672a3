//! Information to acknowledge: a token shown once, a summary, an event's details.

use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::Frame;

use super::shared::text_box;

pub fn render(title: &str, lines: &[String], frame: &mut Frame, area: Rect) {
    text_box(frame, area, title, lines, Style::default());
}
