//! The one table every list screen draws (users, models, admins, services, events). A screen
//! declares its [`Column`]s and turns one of its items into a [`Row`]; the table lays the
//! columns out by display width (Hangul is two cells per syllable, so columns line up whatever
//! the script), draws the header with the sort arrow, cuts every cell to its column, and shows
//! the selection, the marks, and what stands in while rows are missing.

use std::collections::BTreeSet;

use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::spans::{cut, pad};
use super::theme::Theme;
use crate::app::ListState;
use crate::text::width;

/// Terminal row of a table's header (the title line is above it).
pub const HEADER_Y: u16 = 1;
/// Cells before the first column: the mark (`● `) where rows can be marked, else an indent.
const LEAD: usize = 2;

/// How wide a column is drawn.
#[derive(Debug, Clone, Copy)]
pub enum Width {
    /// Always this many cells.
    Fixed(usize),
    /// As wide as its widest cell on screen (or its heading, with room for the sort arrow),
    /// within `min..=max`. When the table is too narrow, the columns with the lowest `yields`
    /// give up room first, the one furthest above its minimum first.
    Fit { min: usize, max: usize, yields: u8 },
}

/// A column: its heading and its width. The last column also gets whatever room the others
/// leave, so a table always spans its area.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    pub heading: &'static str,
    pub width: Width,
}

impl Column {
    pub const fn fixed(heading: &'static str, cells: usize) -> Self {
        Column {
            heading,
            width: Width::Fixed(cells),
        }
    }

    /// A last column that gets only the room the others leave.
    pub const fn rest(heading: &'static str) -> Self {
        Column::fixed(heading, 0)
    }

    pub const fn fit(heading: &'static str, min: usize, max: usize, yields: u8) -> Self {
        Column {
            heading,
            width: Width::Fit { min, max, yields },
        }
    }

    fn min(&self) -> usize {
        match self.width {
            Width::Fixed(cells) => cells,
            Width::Fit { min, .. } => min,
        }
    }

    fn yields(&self) -> Option<u8> {
        match self.width {
            Width::Fixed(_) => None,
            Width::Fit { yields, .. } => Some(yields),
        }
    }
}

/// One cell: text in pieces, each in its own style over the cell's style (a list whose items
/// are styled apart). The cell's style also fills the padding up to the column's width.
#[derive(Debug, Clone, Default)]
pub struct Cell {
    pieces: Vec<(String, Style)>,
    style: Style,
}

impl Cell {
    pub fn plain(text: impl Into<String>) -> Self {
        Cell::styled(text, Style::default())
    }

    pub fn styled(text: impl Into<String>, style: Style) -> Self {
        Cell {
            pieces: vec![(text.into(), Style::default())],
            style,
        }
    }

    /// Pieces each in their own style, drawn one after the other; the padding is unstyled.
    pub fn pieces(pieces: Vec<(String, Style)>) -> Self {
        Cell {
            pieces,
            style: Style::default(),
        }
    }

    fn width(&self) -> usize {
        self.pieces.iter().map(|(text, _)| width(text)).sum()
    }

    /// The pieces as spans, each piece's style over the cell's.
    fn styled_pieces(&self) -> Vec<Span<'static>> {
        self.pieces
            .iter()
            .map(|(text, style)| Span::styled(text.clone(), self.style.patch(*style)))
            .collect()
    }

    /// The cell exactly `cells` wide, as [`crate::text::fit`] makes text.
    fn fit(&self, cells: usize) -> Vec<Span<'static>> {
        pad(cut(self.styled_pieces(), cells), cells, self.style)
    }
}

/// One row as a screen reads it.
#[derive(Debug, Clone, Default)]
pub struct Row {
    /// One per column, in the columns' order.
    pub cells: Vec<Cell>,
    /// The style of the whole row (a revoked token is dim); the selection takes its place.
    pub style: Style,
    /// Drawn with a mark in front (in a table with marks).
    pub marked: bool,
}

impl Row {
    pub fn new(cells: Vec<Cell>) -> Self {
        Row {
            cells,
            ..Row::default()
        }
    }
}

/// What a table shows: the rows in view, each with its index in the whole list (`None` for a
/// row whose page has not arrived yet), which one is selected, and whether there is anything.
#[derive(Debug, Default)]
pub struct Rows {
    pub rows: Vec<(u64, Option<Row>)>,
    pub selected: u64,
    /// The list has arrived; until then the table says it is loading.
    pub loaded: bool,
    /// The list is empty; the table then says so in its own words.
    pub empty: bool,
}

impl Rows {
    /// The rows of `items` that fit under the header of a table drawn in `area`, scrolled so
    /// the selected one shows.
    pub fn scrolled<T>(
        items: &[T],
        selected: usize,
        loaded: bool,
        area: Rect,
        row: impl Fn(&T) -> Row,
    ) -> Self {
        let height = usize::from(area.height.saturating_sub(1));
        let scroll = selected.saturating_sub(height.saturating_sub(1));
        let rows = items
            .iter()
            .enumerate()
            .skip(scroll)
            .take(height)
            .map(|(index, item)| (index as u64, Some(row(item))))
            .collect();
        Rows {
            rows,
            selected: selected as u64,
            loaded,
            empty: items.is_empty(),
        }
    }

    /// The rows of a list screen.
    pub fn list<T>(state: &ListState<T>, area: Rect, row: impl Fn(&T) -> Row) -> Self {
        Rows::scrolled(&state.items, state.selected, state.loaded, area, row)
    }

    fn shown(&self) -> impl Iterator<Item = &Row> {
        self.rows.iter().filter_map(|(_, row)| row.as_ref())
    }
}

/// Rows that fit under the header of a table drawn in `area`.
pub fn body_rows(area: Rect) -> u64 {
    u64::from(area.height.saturating_sub(1))
}

/// A list screen's table: its columns and how they sit.
#[derive(Debug, Clone, Copy)]
pub struct ListTable<'a> {
    columns: &'a [Column],
    /// Said (dimmed) when the list is empty.
    empty: &'a str,
    /// Blank cells between two columns.
    gap: usize,
    /// Rows can be marked: the lead shows `●` in front of a marked row. Without marks the lead
    /// is an indent that belongs to the first cell (and takes its style).
    marks: bool,
    /// The column the rows are sorted by, and whether they go down.
    sort: Option<(usize, bool)>,
}

impl<'a> ListTable<'a> {
    pub fn new(columns: &'a [Column], empty: &'a str) -> Self {
        ListTable {
            columns,
            empty,
            gap: 0,
            marks: false,
            sort: None,
        }
    }

    pub fn gap(self, cells: usize) -> Self {
        ListTable { gap: cells, ..self }
    }

    pub fn marks(self) -> Self {
        ListTable {
            marks: true,
            ..self
        }
    }

    /// Sorted by the column at `index` (its heading then ends in ▲, or ▼ when `descending`).
    pub fn sorted(self, index: Option<usize>, descending: bool) -> Self {
        ListTable {
            sort: index.map(|i| (i, descending)),
            ..self
        }
    }

    /// Column widths for `rows` in a table `total` cells wide: fixed ones as declared, the
    /// others as wide as what they hold, bounded; when that does not fit, room is given up in
    /// the columns' `yields` order, and room left over goes to the last column.
    pub fn widths(&self, rows: &Rows, total: usize) -> Vec<usize> {
        let mut w: Vec<usize> = self
            .columns
            .iter()
            .enumerate()
            .map(|(i, column)| match column.width {
                Width::Fixed(cells) => cells,
                Width::Fit { min, max, .. } => {
                    let widest = rows
                        .shown()
                        .filter_map(|row| row.cells.get(i))
                        .map(Cell::width)
                        .max()
                        .unwrap_or(0);
                    (width(column.heading) + 2).max(widest).clamp(min, max)
                }
            })
            .collect();
        let gaps = self.gap * self.columns.len().saturating_sub(1);
        let available = total.saturating_sub(LEAD + gaps);
        let mut sum: usize = w.iter().sum();
        let ranks: BTreeSet<u8> = self.columns.iter().filter_map(Column::yields).collect();
        for rank in ranks {
            let yielding: Vec<usize> = (0..self.columns.len())
                .filter(|&i| self.columns[i].yields() == Some(rank))
                .collect();
            while sum > available {
                let Some(i) = yielding
                    .iter()
                    .copied()
                    .filter(|&i| w[i] > self.columns[i].min())
                    .max_by_key(|&i| w[i] - self.columns[i].min())
                else {
                    break;
                };
                w[i] -= 1;
                sum -= 1;
            }
        }
        if let Some(last) = w.last_mut() {
            *last += available.saturating_sub(sum);
        }
        w
    }

    /// The column under terminal column `x` of a table drawn with `widths` (a column owns the
    /// gap after it).
    pub fn column_at(&self, widths: &[usize], x: usize) -> Option<usize> {
        let mut start = LEAD;
        for (i, w) in widths.iter().enumerate() {
            let end = start + w + self.gap;
            if (start..end).contains(&x) {
                return Some(i);
            }
            start = end;
        }
        None
    }

    pub fn render(&self, frame: &mut Frame, area: Rect, theme: Theme, rows: &Rows) {
        let total = usize::from(area.width);
        let widths = self.widths(rows, total);
        let mut lines = vec![self.header(&widths, theme, total)];
        if !rows.loaded {
            lines.push(Line::styled("  loading…", theme.dim()));
        } else if rows.empty {
            lines.push(Line::styled(format!("  {}", self.empty), theme.dim()));
        }
        for (index, row) in &rows.rows {
            let mut line = match row {
                Some(row) => {
                    let spans = self.spans(&row.cells, &widths, row.marked, theme, total);
                    Line::from(spans).style(row.style)
                }
                None => Line::styled("  …", theme.dim()),
            };
            if *index == rows.selected {
                line = line.style(theme.selected());
            }
            lines.push(line);
        }
        frame.render_widget(Paragraph::new(lines), area);
    }

    fn header(&self, widths: &[usize], theme: Theme, total: usize) -> Line<'static> {
        let cells: Vec<Cell> = self
            .columns
            .iter()
            .enumerate()
            .map(|(i, column)| {
                let arrow = match self.sort {
                    Some((sorted, descending)) if sorted == i => {
                        if descending {
                            " ▼"
                        } else {
                            " ▲"
                        }
                    }
                    _ => "",
                };
                Cell::styled(format!("{}{arrow}", column.heading), theme.header())
            })
            .collect();
        Line::from(self.spans(&cells, widths, false, theme, total))
    }

    /// A line of cells after the lead (the mark in a table with marks, else an indent in the
    /// first cell's style), `gap` blank cells apart, each cut to its column but the last, which
    /// runs to the edge of the table: the line is cut there like a cell is cut at the edge of
    /// its column, so what does not fit ends in `…`.
    fn spans(
        &self,
        cells: &[Cell],
        widths: &[usize],
        marked: bool,
        theme: Theme,
        total: usize,
    ) -> Vec<Span<'static>> {
        let lead = match (self.marks, marked) {
            (true, true) => Span::styled("● ", theme.marked()),
            (true, false) => Span::raw("  "),
            (false, _) => {
                let style = cells.first().map_or_else(Style::default, |c| c.style);
                Span::styled("  ", style)
            }
        };
        let mut spans = vec![lead];
        let last = cells.len().saturating_sub(1);
        for (i, cell) in cells.iter().enumerate() {
            if i > 0 && self.gap > 0 {
                spans.push(Span::raw(" ".repeat(self.gap)));
            }
            if i < last {
                spans.extend(cell.fit(widths.get(i).copied().unwrap_or(0)));
            } else {
                spans.extend(cell.styled_pieces());
            }
        }
        let style = cells.last().map_or_else(Style::default, |c| c.style);
        pad(cut(spans, total), total, style)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIT: [Column; 3] = [
        Column::fit("name", 6, 20, 1),
        Column::fit("kind", 4, 8, 2),
        Column::fit("notes", 4, 30, 0),
    ];

    fn rows_of(texts: &[[&str; 3]]) -> Rows {
        Rows {
            rows: texts
                .iter()
                .enumerate()
                .map(|(i, t)| {
                    (
                        i as u64,
                        Some(Row::new(t.iter().map(|s| Cell::plain(*s)).collect())),
                    )
                })
                .collect(),
            loaded: true,
            ..Rows::default()
        }
    }

    #[test]
    fn widths_fill_the_table_and_respect_minimums() {
        let table = ListTable::new(&FIT, "none").gap(1);
        let w = table.widths(&Rows::default(), 80);
        assert_eq!(w.iter().sum::<usize>(), 80 - LEAD - 2);
        let w = table.widths(&Rows::default(), 10);
        assert!(w.iter().zip(FIT).all(|(w, c)| *w >= c.min()));
    }

    #[test]
    fn the_lowest_yields_give_up_room_first_and_the_last_column_takes_the_rest() {
        let table = ListTable::new(&FIT, "none").gap(1);
        let rows = rows_of(&[["a".repeat(20).as_str(), "kindkind", "n".repeat(30).as_str()]]);
        // Everything at its widest: 20 + 8 + 30 and the gaps.
        assert_eq!(table.widths(&rows, 2 + 58 + 2), vec![20, 8, 30]);
        // Short of 30 cells: the notes give up 26 (to their minimum), then the name 4.
        assert_eq!(table.widths(&rows, 2 + 28 + 2), vec![16, 8, 4]);
        // Wider than needed: the notes take the rest.
        assert_eq!(table.widths(&rows, 100), vec![20, 8, 68]);
    }

    #[test]
    fn a_header_click_finds_the_column_and_the_gap_after_it() {
        let table = ListTable::new(&FIT, "none").gap(1);
        let widths = [6, 4, 10];
        assert_eq!(table.column_at(&widths, 1), None);
        assert_eq!(table.column_at(&widths, 2), Some(0));
        assert_eq!(table.column_at(&widths, 8), Some(0));
        assert_eq!(table.column_at(&widths, 9), Some(1));
        assert_eq!(table.column_at(&widths, 24), Some(2));
        assert_eq!(table.column_at(&widths, 25), None);
    }
}
