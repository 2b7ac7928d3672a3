//! The first screen: logging in.

use ratatui::layout::Rect;
use ratatui::text::Span;
use ratatui::widgets::{Block, Paragraph};
use ratatui::Frame;

use crate::app::App;
use crate::text::wrap;
use crate::ui::form::{field_line, form_row};
use crate::ui::layout::centered;
use crate::ui::theme::Theme;

pub fn render(app: &App, frame: &mut Frame, area: Rect, theme: Theme) {
    let body = Rect {
        height: area.height - 1,
        ..area
    };
    // The box's text is 4 cells narrower than the box; a long server or error wraps, and the
    // box grows to hold it.
    let cells = usize::from(body.width.min(60).saturating_sub(6));
    let form = &app.login;
    let server = wrap(&app.server, cells, "");
    let (status, style) = if form.busy {
        (vec!["logging in…".to_string()], theme.dim())
    } else if let Some(message) = &form.message {
        (wrap(message, cells, ""), theme.error())
    } else {
        (
            vec!["tab switches fields, enter logs in".to_string()],
            theme.dim(),
        )
    };
    let top = server.len() as u16 - 1;
    let height = 10 + top + (status.len() as u16).saturating_sub(3);
    let rect = centered(body, 60, height);
    let block = Block::bordered().title(" mama · log in ");
    let inner = block.inner(rect);
    frame.render_widget(block, rect);
    for (y, line) in server.into_iter().enumerate() {
        frame.render_widget(
            Paragraph::new(Span::styled(line, theme.dim())),
            form_row(inner, y as u16),
        );
    }
    field_line(
        frame,
        form_row(inner, top + 2),
        "username",
        &form.username,
        false,
        form.focus == 0,
        theme,
    );
    field_line(
        frame,
        form_row(inner, top + 3),
        "password",
        &form.password,
        true,
        form.focus == 1,
        theme,
    );
    for (y, line) in status.into_iter().enumerate() {
        frame.render_widget(
            Paragraph::new(Span::styled(line, style)),
            form_row(inner, top + 5 + y as u16),
        );
    }
}
