//! Changing one's own password (the same fields as the forced screen).

use ratatui::layout::Rect;
use ratatui::Frame;

use super::shared::boxed;
use crate::popup::PasswordForm;
use crate::ui::form::password_fields;
use crate::ui::layout::centered;
use crate::ui::theme::Theme;

pub fn render(form: &PasswordForm, frame: &mut Frame, area: Rect, theme: Theme) {
    let inner = boxed(frame, centered(area, 64, 10), " change my password ");
    password_fields(form, frame, inner, theme);
}
