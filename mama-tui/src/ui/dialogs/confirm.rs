//! The question before a destructive action, in the warning colour: destructive actions happen
//! only from here.

use ratatui::layout::Rect;
use ratatui::Frame;

use super::shared::text_box;
use crate::popup::Confirm;
use crate::ui::theme::Theme;

pub fn render(confirm: &Confirm, frame: &mut Frame, area: Rect, theme: Theme) {
    text_box(frame, area, &confirm.title, &confirm.lines, theme.warn());
}
