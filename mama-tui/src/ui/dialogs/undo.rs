//! The undo preview: what undoing an event would do — the counts, each user `id: now → after`
//! and the conflicts, scrolled — in the warning colour of a confirm, since `y` changes users.

use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::shared::{boxed, line};
use crate::text::truncate;
use crate::ui::layout::centered;
use crate::ui::theme::Theme;
use crate::undo::{popup_size, Tone, UndoDialog, UndoLine, FOOTER_ROWS, SUMMARY_ROWS};

pub fn render(d: &UndoDialog, frame: &mut Frame, area: Rect, theme: Theme) {
    let (w, h) = popup_size(area.width, area.height);
    let rect = centered(area, w, h);
    let title = truncate(&d.title(), usize::from(w.saturating_sub(4)));
    let inner = boxed(frame, rect, &format!(" {title} "));
    let cells = usize::from(inner.width.saturating_sub(2));
    let style = |tone: Tone| match tone {
        Tone::Plain => Style::default(),
        Tone::Dim => theme.dim(),
        Tone::Warn => theme.warn(),
    };
    let draw = |frame: &mut Frame, y: u16, l: &UndoLine| {
        let text = Span::styled(truncate(&l.text, cells), style(l.tone));
        frame.render_widget(Paragraph::new(Line::from(text)), line(inner, y));
    };
    for (y, l) in d.summary().iter().enumerate() {
        draw(frame, y as u16, l);
    }
    let rows = inner.height.saturating_sub(SUMMARY_ROWS + FOOTER_ROWS);
    let list = d.list(cells);
    let scroll = d.scroll.min(list.len().saturating_sub(usize::from(rows)));
    for (y, l) in list.iter().skip(scroll).take(usize::from(rows)).enumerate() {
        draw(frame, SUMMARY_ROWS + y as u16, l);
    }
    let footer = UndoLine {
        text: d.footer(list.len(), usize::from(rows)),
        tone: Tone::Dim,
    };
    draw(frame, inner.height.saturating_sub(1), &footer);
}
