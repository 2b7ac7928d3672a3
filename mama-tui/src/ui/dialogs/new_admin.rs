//! A new admin: username, first password and role.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::shared::{boxed, error_line, label, line};
use crate::popup::AdminForm;
use crate::ui::form::field_line;
use crate::ui::layout::centered;
use crate::ui::theme::Theme;

pub fn render(form: &AdminForm, frame: &mut Frame, area: Rect, theme: Theme) {
    let inner = boxed(frame, centered(area, 60, 9), " new admin ");
    field_line(
        frame,
        line(inner, 1),
        "username",
        &form.username,
        false,
        form.focus_index == 0,
        theme,
    );
    field_line(
        frame,
        line(inner, 2),
        "password",
        &form.password,
        true,
        form.focus_index == 1,
        theme,
    );
    frame.render_widget(
        Paragraph::new(Line::from(vec![
            label("role", form.focus_index == 2, theme),
            Span::raw(format!("◂ {} ▸", form.role.as_str())),
        ])),
        line(inner, 3),
    );
    error_line(
        frame,
        line(inner, 5),
        form.error.as_deref(),
        "they must change the password at first login",
        theme,
    );
}
