//! The preview of a bulk change, in the warning colour of a confirm since `y` changes users:
//! the counts, then each user that changes with its fields before → after, scrolled.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::shared::{boxed, line};
use crate::bulk_preview::BulkPreview;
use crate::ui::layout::centered;
use crate::ui::theme::Theme;

pub fn render(p: &BulkPreview, frame: &mut Frame, area: Rect, theme: Theme) {
    let (w, h) = p.size(area.width, area.height);
    let rect = centered(area, w, h);
    let inner = boxed(frame, rect, " Preview of the bulk change ");
    let (cells, rows) = p.list_size(area.width, area.height);
    let lines = p.lines(cells);
    let scroll = p.scroll.min(lines.len().saturating_sub(rows));
    for (y, text) in lines.iter().skip(scroll).take(rows).enumerate() {
        frame.render_widget(
            Paragraph::new(Line::from(Span::styled(text.clone(), theme.warn()))),
            line(inner, y as u16),
        );
    }
    let footer = p.footer(lines.len(), rows);
    frame.render_widget(
        Paragraph::new(Line::from(Span::styled(footer, theme.dim()))),
        line(inner, inner.height.saturating_sub(1)),
    );
}
