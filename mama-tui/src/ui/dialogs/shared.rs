//! What several dialogs draw: the box, its lines, labels, sets of names, multi-line text and
//! the status line at the bottom.

use std::collections::BTreeSet;

use ratatui::layout::{Position, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};
use ratatui::Frame;

use crate::text::{fit, truncate, width, TextArea};
use crate::ui::layout::{centered, clear_popup};
use crate::ui::theme::Theme;

/// Clears `rect`, draws a bordered box and returns its inside.
pub fn boxed(frame: &mut Frame, rect: Rect, title: &str) -> Rect {
    let block = Block::bordered().title(title.to_string());
    let inner = block.inner(rect);
    clear_popup(frame, rect);
    frame.render_widget(block, rect);
    inner
}

/// Line `y` of a box's inside, one cell in from each side; nothing when the box is too short.
pub fn line(inner: Rect, y: u16) -> Rect {
    Rect {
        x: inner.x + 1,
        y: inner.y + y,
        width: inner.width.saturating_sub(2),
        height: u16::from(y < inner.height),
    }
}

/// The error, else `otherwise` dimmed.
pub fn error_line(frame: &mut Frame, at: Rect, error: Option<&str>, otherwise: &str, theme: Theme) {
    let span = match error {
        Some(e) => Span::styled(e.to_string(), theme.error()),
        None => Span::styled(otherwise.to_string(), theme.dim()),
    };
    frame.render_widget(Paragraph::new(span), at);
}

/// Lines of text in a box sized to them (messages and confirms), at most as wide as the screen:
/// a longer line wraps, keeping its indent. Returns the box's inside.
pub fn text_box(
    frame: &mut Frame,
    area: Rect,
    title: &str,
    lines: &[String],
    style: Style,
) -> Rect {
    let widest = lines
        .iter()
        .map(|l| width(l))
        .max()
        .unwrap_or(0)
        .max(width(title) + 4) as u16
        + 4;
    let w = widest.max(30).min(area.width.saturating_sub(2));
    // A cell of margin on each side, and the borders.
    let cells = usize::from(w.saturating_sub(4));
    let wrapped: Vec<String> = lines
        .iter()
        .flat_map(|l| {
            if width(l) <= cells {
                vec![l.clone()]
            } else {
                let indent: String = l.chars().take_while(|c| *c == ' ').collect();
                crate::text::wrap(l, cells, &indent)
                    .into_iter()
                    .enumerate()
                    .map(|(i, line)| {
                        if i == 0 {
                            format!("{indent}{line}")
                        } else {
                            line
                        }
                    })
                    .collect()
            }
        })
        .collect();
    let rect = centered(area, w, wrapped.len() as u16 + 2);
    let inner = boxed(frame, rect, &format!(" {title} "));
    let text: Vec<Line> = wrapped
        .iter()
        .map(|l| {
            Line::raw(format!(
                " {}",
                truncate(l, usize::from(inner.width).saturating_sub(1))
            ))
        })
        .collect();
    frame.render_widget(Paragraph::new(text).style(style), inner);
    inner
}

/// A field's label, highlighted when the field has focus.
pub fn label(text: &str, focused: bool, theme: Theme) -> Span<'static> {
    Span::styled(
        fit(text, 13),
        if focused {
            theme.focus()
        } else {
            Style::default()
        },
    )
}

/// A set as a line, with `red` names styled as unavailable.
pub fn set_line(
    name: &str,
    values: &BTreeSet<String>,
    red: &[String],
    focused: bool,
    room: usize,
    theme: Theme,
) -> Line<'static> {
    let mut spans = vec![label(name, focused, theme)];
    if values.is_empty() {
        spans.push(Span::styled("(none)", theme.dim()));
    }
    let mut used = 0;
    for (i, v) in values.iter().enumerate() {
        let text = if i == 0 { v.clone() } else { format!(", {v}") };
        if used + width(&text) > room.saturating_sub(14) {
            spans.push(Span::raw(" …"));
            break;
        }
        used += width(&text);
        let style = if red.contains(v) {
            theme.unavailable()
        } else {
            Style::default()
        };
        spans.push(Span::styled(text, style));
    }
    if focused {
        spans.push(Span::styled("  [enter: pick]", theme.dim()));
    }
    Line::from(spans)
}

/// Multi-line text scrolled to its cursor, with `notes` (line, problem) beside their lines.
pub fn text_area(
    frame: &mut Frame,
    at: Rect,
    area: &TextArea,
    focused: bool,
    theme: Theme,
    notes: &[(usize, String)],
) {
    let rows = usize::from(at.height);
    let scroll = area.row().saturating_sub(rows.saturating_sub(1));
    let mut lines = Vec::new();
    for (n, text) in area.lines().enumerate().skip(scroll).take(rows) {
        let mut spans = vec![Span::raw(truncate(text, usize::from(at.width)))];
        if let Some((_, note)) = notes.iter().find(|(line, _)| *line == n) {
            spans.push(Span::styled(format!("  ← {note}"), theme.error()));
        }
        lines.push(Line::from(spans));
    }
    frame.render_widget(Paragraph::new(lines), at);
    if focused {
        let x = at.x
            + area
                .cursor_cells()
                .min(usize::from(at.width).saturating_sub(1)) as u16;
        let y = at.y + (area.row() - scroll) as u16;
        frame.set_cursor_position(Position { x, y });
    }
}

/// A short labelled field (half a dialog line): the value underlined, then `note` dimmed (where
/// an inherited value comes from); places the cursor when focused.
pub fn short_field(
    frame: &mut Frame,
    at: Rect,
    name: &str,
    input: &crate::text::TextInput,
    focused: bool,
    note: Option<&str>,
    theme: Theme,
) {
    if at.is_empty() {
        return;
    }
    let room = usize::from(at.width).saturating_sub(13);
    let value = truncate(input.value(), room);
    let used = width(&value);
    let mut spans = vec![
        label(name, focused, theme),
        Span::styled(
            value,
            Style::default().add_modifier(ratatui::style::Modifier::UNDERLINED),
        ),
    ];
    if let Some(note) = note {
        spans.push(Span::styled(
            truncate(&format!(" {note}"), room.saturating_sub(used)),
            theme.dim(),
        ));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), at);
    if focused {
        let x = at.x + 13 + input.cursor_cells().min(room) as u16;
        frame.set_cursor_position(Position { x, y: at.y });
    }
}

/// The left and right halves of a dialog line.
pub fn halves(at: Rect) -> (Rect, Rect) {
    let left = at.width / 2;
    (
        Rect { width: left, ..at },
        Rect {
            x: at.x + left + 1,
            width: at.width.saturating_sub(left + 1),
            ..at
        },
    )
}
