//! The first screen: logging in.

use ratatui::layout::Rect;
use ratatui::text::Span;
use ratatui::widgets::{Block, Paragraph};
use ratatui::Frame;

use crate::app::App;
use crate::text::truncate;
use crate::ui::form::{field_line, form_row};
use crate::ui::layout::centered;
use crate::ui::theme::Theme;

pub fn render(app: &App, frame: &mut Frame, area: Rect, theme: Theme) {
    let body = Rect {
        height: area.height - 1,
        ..area
    };
    let rect = centered(body, 60, 10);
    let block = Block::bordered().title(" mama · log in ");
    let inner = block.inner(rect);
    frame.render_widget(block, rect);
    frame.render_widget(
        Paragraph::new(Span::styled(
            truncate(&app.server, usize::from(inner.width)),
            theme.dim(),
        )),
        form_row(inner, 0),
    );
    let form = &app.login;
    field_line(
        frame,
        form_row(inner, 2),
        "username",
        &form.username,
        false,
        form.focus == 0,
        theme,
    );
    field_line(
        frame,
        form_row(inner, 3),
        "password",
        &form.password,
        true,
        form.focus == 1,
        theme,
    );
    let status = if form.busy {
        Span::styled("logging in…", theme.dim())
    } else if let Some(message) = &form.message {
        Span::styled(message.clone(), theme.error())
    } else {
        Span::styled("tab switches fields, enter logs in", theme.dim())
    };
    frame.render_widget(Paragraph::new(status), form_row(inner, 5));
}
