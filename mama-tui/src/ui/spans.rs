//! Styled text cut and padded to a number of terminal cells, as [`crate::text::fit`] does for
//! plain text: tables cut cells and lines whose pieces have styles of their own.

use ratatui::style::Style;
use ratatui::text::Span;
use unicode_width::UnicodeWidthChar;

use crate::text::width;

/// Spans cut to at most `max` cells the way [`crate::text::truncate`] cuts text: when they do
/// not fit, what fits of them is kept and `…` takes the last cell, in the style of the span it
/// cut.
pub fn cut(spans: Vec<Span<'static>>, max: usize) -> Vec<Span<'static>> {
    if spans_width(&spans) <= max {
        return spans;
    }
    let mut kept = Vec::new();
    if max == 0 {
        return kept;
    }
    let mut used = 0;
    let mut last_style = Style::default();
    for span in spans {
        last_style = span.style;
        let mut text = String::new();
        for c in span.content.chars() {
            let w = UnicodeWidthChar::width(c).unwrap_or(0);
            if used + w > max - 1 {
                text.push('…');
                kept.push(Span::styled(text, span.style));
                return kept;
            }
            text.push(c);
            used += w;
        }
        kept.push(Span::styled(text, span.style));
    }
    kept.push(Span::styled("…", last_style));
    kept
}

/// Spans padded with blanks in `style` to `cells` cells.
pub fn pad(mut spans: Vec<Span<'static>>, cells: usize, style: Style) -> Vec<Span<'static>> {
    let used = spans_width(&spans);
    if used < cells {
        spans.push(Span::styled(" ".repeat(cells - used), style));
    }
    spans
}

fn spans_width(spans: &[Span]) -> usize {
    spans.iter().map(|s| width(&s.content)).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cutting_ends_in_an_ellipsis_in_the_style_of_the_piece_cut() {
        let red = Style::default().fg(ratatui::style::Color::Red);
        let spans = cut(vec![Span::raw("ab"), Span::styled(",cd", red)], 4);
        let text: String = spans.iter().map(|s| s.content.to_string()).collect();
        assert_eq!(text, "ab,…");
        assert_eq!(spans.last().map(|s| s.style), Some(red));
        // A piece ending right at the edge still shows that more follows.
        let spans = cut(vec![Span::raw("abcd"), Span::styled(",e", red)], 4);
        let text: String = spans.iter().map(|s| s.content.to_string()).collect();
        assert_eq!(text, "abc…");
    }
}
