//! Choosing models or services for the dialog beneath: a search, and a checklist in which a
//! name that is not (or no longer) served shows as unavailable.

use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::Line;
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::shared::{boxed, line};
use crate::popup::{Picker, PickerTarget};
use crate::text::fit;
use crate::ui::form::field_line;
use crate::ui::layout::centered;
use crate::ui::theme::Theme;

pub fn render(p: &Picker, frame: &mut Frame, area: Rect, theme: Theme) {
    let rect = centered(area, 50, area.height.saturating_sub(2));
    let title = match p.target {
        PickerTarget::Models => " pick models ",
        PickerTarget::Services => " pick services ",
    };
    let inner = boxed(frame, rect, title);
    field_line(
        frame,
        line(inner, 0),
        "search",
        &p.query,
        false,
        true,
        theme,
    );
    let visible = p.visible();
    let rows = usize::from(inner.height.saturating_sub(2));
    let scroll = p.cursor.saturating_sub(rows.saturating_sub(1));
    let mut lines = Vec::new();
    for (i, (name, available)) in visible.iter().enumerate().skip(scroll).take(rows) {
        let check = if p.chosen.contains(name) {
            "[x] "
        } else {
            "[ ] "
        };
        let mut text = format!("{check}{name}");
        if !available {
            text.push_str(" (unavailable)");
        }
        let mut style = if *available {
            Style::default()
        } else {
            theme.unavailable()
        };
        if i == p.cursor {
            style = style.patch(theme.selected());
        }
        lines.push(Line::styled(
            fit(&text, usize::from(inner.width).saturating_sub(2)),
            style,
        ));
    }
    if visible.is_empty() && !p.query.is_empty() {
        let key = if p.toggled { "space" } else { "space or enter" };
        lines.push(Line::styled(
            format!("{key} adds \"{}\"", p.query.value()),
            theme.dim(),
        ));
    }
    let list = Rect {
        x: inner.x + 1,
        y: inner.y + 2,
        width: inner.width.saturating_sub(2),
        height: inner.height.saturating_sub(2),
    };
    frame.render_widget(Paragraph::new(lines), list);
}
