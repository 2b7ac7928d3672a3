//! Where a box goes on screen, and clearing under a popup.

use ratatui::layout::Rect;
use ratatui::widgets::Clear;
use ratatui::Frame;

use crate::text::width;

/// A centred box of at most `w`×`h` cells.
pub fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    }
}

/// Clears `rect` for a popup drawn over the screen. A wide character (Hangul, CJK) in the cell
/// just left of it reaches one cell into the popup, and ratatui then never draws that cell: the
/// popup's left border would go missing on that row. Such a character is blanked instead.
pub fn clear_popup(frame: &mut Frame, rect: Rect) {
    frame.render_widget(Clear, rect);
    let Some(left) = rect.x.checked_sub(1) else {
        return;
    };
    let buffer = frame.buffer_mut();
    for y in rect.top()..rect.bottom() {
        if let Some(cell) = buffer.cell_mut((left, y)) {
            if width(cell.symbol()) > 1 {
                cell.set_symbol(" ");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use ratatui::backend::TestBackend;
    use ratatui::text::Line;
    use ratatui::widgets::{Block, Paragraph};
    use ratatui::Terminal;

    use super::*;

    /// What a terminal shows in the column of a popup's left edge after one frame: a row of
    /// Hangul (two cells per syllable) under a bordered popup starting at `popup_x`.
    fn left_edge_over_hangul(popup_x: u16) -> Vec<String> {
        let mut terminal = Terminal::new(TestBackend::new(20, 3)).unwrap();
        terminal
            .draw(|frame| {
                let hangul = vec![Line::from("연구소연구소연구소연구소"); 3];
                frame.render_widget(Paragraph::new(hangul), frame.area());
                let popup = Rect::new(popup_x, 0, 8, 3);
                clear_popup(frame, popup);
                frame.render_widget(Block::bordered(), popup);
            })
            .unwrap();
        let shown = terminal.backend().buffer();
        (0..3)
            .map(|y| shown.cell((popup_x, y)).unwrap().symbol().to_string())
            .collect()
    }

    #[test]
    fn a_popup_keeps_its_left_border_over_wide_characters() {
        // At x = 5 the syllable in cells 4–5 would cover the border's cell.
        for x in [4, 5] {
            assert_eq!(
                left_edge_over_hangul(x),
                ["┌", "│", "└"],
                "popup at x = {x}"
            );
        }
    }
}
