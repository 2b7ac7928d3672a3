//! Pieces of forms shared by the login screens and the dialogs: a labelled field and the three
//! password fields.

use ratatui::layout::{Position, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::theme::Theme;
use crate::popup::{PasswordForm, MIN_PASSWORD};
use crate::text::{fit, truncate, TextInput};

/// `label: value` with the value masked for passwords; places the cursor when focused.
pub fn field_line(
    frame: &mut Frame,
    at: Rect,
    label: &str,
    input: &TextInput,
    masked: bool,
    focused: bool,
    theme: Theme,
) {
    field_line_wide(frame, at, label, 12, input, masked, focused, theme);
}

/// [`field_line`] with a label column `label_cells` wide (a form with a long label).
#[allow(clippy::too_many_arguments)]
pub fn field_line_wide(
    frame: &mut Frame,
    at: Rect,
    label: &str,
    label_cells: usize,
    input: &TextInput,
    masked: bool,
    focused: bool,
    theme: Theme,
) {
    if at.is_empty() {
        return;
    }
    let label_text = fit(label, label_cells);
    let value = if masked {
        "•".repeat(input.value().chars().count())
    } else {
        input.value().to_string()
    };
    let room = usize::from(at.width).saturating_sub(label_cells + 1);
    let style = if focused {
        theme.focus()
    } else {
        Style::default()
    };
    let line = Line::from(vec![
        Span::styled(label_text, style),
        Span::raw(" "),
        Span::styled(
            truncate(&value, room),
            Style::default().add_modifier(Modifier::UNDERLINED),
        ),
    ]);
    frame.render_widget(Paragraph::new(line), at);
    if focused {
        let cells = if masked {
            input.cursor()
        } else {
            input.cursor_cells()
        };
        let x = at.x + (label_cells + 1 + cells.min(room)) as u16;
        frame.set_cursor_position(Position { x, y: at.y });
    }
}

/// Line `y` of a form drawn inside `area`, two cells in from each side; empty when the area is
/// too short to hold that line (a tiny terminal), so nothing is drawn outside it.
pub fn form_row(area: Rect, y: u16) -> Rect {
    let row = Rect {
        x: area.x.saturating_add(2),
        y: area.y.saturating_add(y),
        width: area.width.saturating_sub(4),
        height: 1,
    };
    if y < area.height {
        row
    } else {
        Rect { height: 0, ..row }
    }
}

/// The three password fields, shared by the forced screen and the popup.
pub fn password_fields(form: &PasswordForm, frame: &mut Frame, inner: Rect, theme: Theme) {
    field_line(
        frame,
        form_row(inner, 1),
        "current",
        &form.old,
        true,
        form.focus_index == 0,
        theme,
    );
    field_line(
        frame,
        form_row(inner, 2),
        "new",
        &form.new,
        true,
        form.focus_index == 1,
        theme,
    );
    field_line(
        frame,
        form_row(inner, 3),
        "repeat new",
        &form.confirm,
        true,
        form.focus_index == 2,
        theme,
    );
    let count = form.new.value().chars().count();
    let hint = format!("at least {MIN_PASSWORD} characters ({count} typed)");
    let hint_style = if count >= MIN_PASSWORD {
        theme.ok()
    } else {
        theme.dim()
    };
    frame.render_widget(
        Paragraph::new(Span::styled(hint, hint_style)),
        form_row(inner, 4),
    );
    let status = if form.busy {
        Span::styled("changing…", theme.dim())
    } else if let Some(error) = &form.error {
        Span::styled(error.clone(), theme.error())
    } else {
        Span::raw("")
    };
    frame.render_widget(Paragraph::new(status), form_row(inner, 6));
}
