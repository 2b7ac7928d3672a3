//! The forced password change: the bootstrap admin (or a reset one) sets a new password before
//! anything else.

use ratatui::layout::Rect;
use ratatui::widgets::Block;
use ratatui::Frame;

use crate::app::App;
use crate::ui::form::password_fields;
use crate::ui::layout::centered;
use crate::ui::theme::Theme;

pub fn render(app: &App, frame: &mut Frame, area: Rect, theme: Theme) {
    let body = Rect {
        height: area.height - 1,
        ..area
    };
    let rect = centered(body, 64, 10);
    let who = app.session.as_ref().map_or("", |s| s.username.as_str());
    let block =
        Block::bordered().title(format!(" {who}: choose a new password before continuing "));
    let inner = block.inner(rect);
    frame.render_widget(block, rect);
    password_fields(&app.force_password, frame, inner, theme);
}
