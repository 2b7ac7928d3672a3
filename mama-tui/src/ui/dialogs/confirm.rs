//! The question before a destructive action, in the warning colour: destructive actions happen
//! only from here. A large one has a field for its count under the question.

use ratatui::layout::Rect;
use ratatui::Frame;

use super::shared::{error_line, line, text_box};
use crate::popup::Confirm;
use crate::ui::form::field_line;
use crate::ui::theme::Theme;

pub fn render(confirm: &Confirm, frame: &mut Frame, area: Rect, theme: Theme) {
    let Some(typed) = &confirm.typed else {
        text_box(frame, area, &confirm.title, &confirm.lines, theme.warn());
        return;
    };
    // Room for the field and for what is wrong with it (drawn over in their own styles).
    let mut lines = confirm.lines.clone();
    lines.extend([String::new(), typed.error.clone().unwrap_or_default()]);
    let inner = text_box(frame, area, &confirm.title, &lines, theme.warn());
    let at = confirm.lines.len() as u16;
    field_line(
        frame,
        line(inner, at),
        "count",
        &typed.input,
        false,
        true,
        theme,
    );
    error_line(
        frame,
        line(inner, at + 1),
        typed.error.as_deref(),
        "",
        theme,
    );
}
