//! Creating many users at once: typed or pasted rows, or a CSV file, with per-row errors.

use ratatui::layout::Rect;
use ratatui::text::Span;
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::shared::{boxed, error_line, line, text_area};
use crate::popup::{CreateDialog, CreateField};
use crate::ui::form::field_line;
use crate::ui::layout::centered;
use crate::ui::theme::Theme;

pub fn render(d: &CreateDialog, frame: &mut Frame, area: Rect, theme: Theme) {
    let rect = centered(
        area,
        area.width.saturating_sub(4).max(40),
        area.height.saturating_sub(4).max(10),
    );
    let inner = boxed(frame, rect, " create users ");
    frame.render_widget(
        Paragraph::new(Span::styled(
            "one per line: id,organization,models;…,services;…  (paste works)",
            theme.dim(),
        )),
        line(inner, 0),
    );
    frame.render_widget(
        Paragraph::new(Span::styled(
            "optional: info,budget,period,tpm,rpm,expires,rotate (blank: org default)",
            theme.dim(),
        )),
        line(inner, 1),
    );
    let rows_rect = Rect {
        x: inner.x + 1,
        y: inner.y + 2,
        width: inner.width.saturating_sub(2),
        height: inner.height.saturating_sub(5),
    };
    text_area(
        frame,
        rows_rect,
        &d.rows,
        d.focus == CreateField::Rows,
        theme,
        &d.row_errors,
    );
    let path_at = line(inner, inner.height.saturating_sub(2));
    field_line(
        frame,
        path_at,
        "or CSV file",
        &d.csv_path,
        false,
        d.focus == CreateField::CsvPath,
        theme,
    );
    let at = line(inner, inner.height.saturating_sub(1));
    if d.busy {
        error_line(frame, at, None, "working…", theme);
    } else {
        error_line(
            frame,
            at,
            d.error.as_deref(),
            "ctrl-s: all rows or none · ctrl-v: the valid rows, rejected ones to a file · tab: CSV path",
            theme,
        );
    }
}
