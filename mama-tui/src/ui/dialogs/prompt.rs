//! A one-line question (a new service's name).

use ratatui::layout::Rect;
use ratatui::Frame;

use super::shared::{boxed, error_line, line};
use crate::popup::Prompt;
use crate::ui::form::field_line;
use crate::ui::layout::centered;
use crate::ui::theme::Theme;

pub fn render(prompt: &Prompt, frame: &mut Frame, area: Rect, theme: Theme) {
    let inner = boxed(frame, centered(area, 56, 6), &format!(" {} ", prompt.title));
    field_line(
        frame,
        line(inner, 1),
        prompt.label,
        &prompt.input,
        false,
        true,
        theme,
    );
    error_line(frame, line(inner, 2), prompt.error.as_deref(), "", theme);
}
