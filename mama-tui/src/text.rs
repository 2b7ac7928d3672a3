//! Text fields and display-width helpers.
//!
//! Operators type Hangul ids and organizations, so everything here counts terminal cells with
//! `unicode-width`, never bytes or chars: a column that is "10 wide" holds five Hangul syllables.

use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// Terminal cells `s` occupies.
pub fn width(s: &str) -> usize {
    UnicodeWidthStr::width(s)
}

/// `s` cut to at most `max` cells, ending in `…` when something was cut. A wide character that
/// would straddle the limit is dropped rather than split, so columns stay aligned.
pub fn truncate(s: &str, max: usize) -> String {
    if width(s) <= max {
        return s.to_string();
    }
    if max == 0 {
        return String::new();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in s.chars() {
        let w = UnicodeWidthChar::width(c).unwrap_or(0);
        if used + w > max - 1 {
            break;
        }
        out.push(c);
        used += w;
    }
    out.push('…');
    out
}

/// `n` and its noun, singular or plural ("1 user", "3 users"): status lines are read in a hurry,
/// and "user(s)" makes the reader stop. For nouns that take an "s" (user, key, event).
pub fn count(n: u64, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// `s` truncated and padded with spaces to exactly `cells` cells.
pub fn fit(s: &str, cells: usize) -> String {
    let mut out = truncate(s, cells);
    let w = width(&out);
    out.extend(std::iter::repeat_n(' ', cells.saturating_sub(w)));
    out
}

/// `s` broken into lines of at most `cells` cells: at spaces where it can, inside a word only
/// when the word is wider than a line (a wide character moves whole to the next line, never
/// split). Lines after the first start with `indent`, so a wrapped entry reads as one.
pub fn wrap(s: &str, cells: usize, indent: &str) -> Vec<String> {
    let indent_cells = width(indent);
    let cells = cells.max(indent_cells + 2);
    let mut lines = Vec::new();
    let mut line = String::new();
    // Cells used on `line`, and where its text starts (after the indent on later lines).
    let (mut used, mut start) = (0, 0);
    for word in s.split(' ').filter(|w| !w.is_empty()) {
        let w = width(word);
        let gap = usize::from(used > start);
        if used + gap + w <= cells {
            if gap == 1 {
                line.push(' ');
            }
            line.push_str(word);
            used += gap + w;
            continue;
        }
        if used > start {
            lines.push(std::mem::replace(&mut line, indent.to_string()));
            (used, start) = (indent_cells, indent_cells);
            if used + w <= cells {
                line.push_str(word);
                used += w;
                continue;
            }
        }
        for c in word.chars() {
            let cw = UnicodeWidthChar::width(c).unwrap_or(0);
            if used + cw > cells {
                lines.push(std::mem::replace(&mut line, indent.to_string()));
                (used, start) = (indent_cells, indent_cells);
            }
            line.push(c);
            used += cw;
        }
    }
    if used > start || lines.is_empty() {
        lines.push(line);
    }
    lines
}

/// One edit to a text field. Key handling produces these so it can be unit tested without a
/// terminal; the focused field applies them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Edit {
    Insert(char),
    /// A bracketed paste; newlines are kept only by multi-line areas.
    Paste(String),
    Backspace,
    Delete,
    Left,
    Right,
    Home,
    End,
    /// ctrl-u: clear to the start of the line.
    ClearLine,
    /// ctrl-w: delete the word before the cursor.
    DeleteWord,
    Newline,
    Up,
    Down,
}

/// A one-line text field. The cursor is a char index, so editing Hangul never splits a
/// character.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TextInput {
    value: String,
    cursor: usize,
}

impl TextInput {
    pub fn new(value: impl Into<String>) -> Self {
        let value = value.into();
        let cursor = value.chars().count();
        TextInput { value, cursor }
    }

    pub fn value(&self) -> &str {
        &self.value
    }

    pub fn is_empty(&self) -> bool {
        self.value.is_empty()
    }

    pub fn set(&mut self, value: impl Into<String>) {
        *self = TextInput::new(value);
    }

    pub fn clear(&mut self) {
        *self = TextInput::default();
    }

    /// Characters before the cursor (a masked field shows one dot per character).
    pub fn cursor(&self) -> usize {
        self.cursor
    }

    /// Cells before the cursor, to place the terminal cursor.
    pub fn cursor_cells(&self) -> usize {
        width(&self.value.chars().take(self.cursor).collect::<String>())
    }

    fn byte_at(&self, char_idx: usize) -> usize {
        self.value
            .char_indices()
            .nth(char_idx)
            .map_or(self.value.len(), |(i, _)| i)
    }

    /// Applies an edit; returns whether the value changed.
    pub fn apply(&mut self, edit: &Edit) -> bool {
        let len = self.value.chars().count();
        match edit {
            Edit::Insert(c) => {
                let at = self.byte_at(self.cursor);
                self.value.insert(at, *c);
                self.cursor += 1;
                true
            }
            Edit::Paste(text) => {
                let clean: String = text.chars().filter(|c| !c.is_control()).collect();
                let at = self.byte_at(self.cursor);
                self.value.insert_str(at, &clean);
                self.cursor += clean.chars().count();
                !clean.is_empty()
            }
            Edit::Backspace if self.cursor > 0 => {
                let at = self.byte_at(self.cursor - 1);
                self.value.remove(at);
                self.cursor -= 1;
                true
            }
            Edit::Delete if self.cursor < len => {
                let at = self.byte_at(self.cursor);
                self.value.remove(at);
                true
            }
            Edit::Left => {
                self.cursor = self.cursor.saturating_sub(1);
                false
            }
            Edit::Right => {
                self.cursor = (self.cursor + 1).min(len);
                false
            }
            Edit::Home => {
                self.cursor = 0;
                false
            }
            Edit::End => {
                self.cursor = len;
                false
            }
            Edit::ClearLine if self.cursor > 0 => {
                let at = self.byte_at(self.cursor);
                self.value.replace_range(..at, "");
                self.cursor = 0;
                true
            }
            Edit::DeleteWord if self.cursor > 0 => {
                let chars: Vec<char> = self.value.chars().collect();
                let mut start = self.cursor;
                while start > 0 && chars[start - 1] == ' ' {
                    start -= 1;
                }
                while start > 0 && chars[start - 1] != ' ' {
                    start -= 1;
                }
                let (from, to) = (self.byte_at(start), self.byte_at(self.cursor));
                self.value.replace_range(from..to, "");
                self.cursor = start;
                true
            }
            _ => false,
        }
    }
}

/// A multi-line text area (info lines, pasted user rows).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextArea {
    lines: Vec<TextInput>,
    row: usize,
}

impl Default for TextArea {
    fn default() -> Self {
        TextArea {
            lines: vec![TextInput::default()],
            row: 0,
        }
    }
}

impl TextArea {
    pub fn new(text: &str) -> Self {
        let mut lines: Vec<TextInput> = text.lines().map(TextInput::new).collect();
        if lines.is_empty() {
            lines.push(TextInput::default());
        }
        let row = lines.len() - 1;
        TextArea { lines, row }
    }

    pub fn lines(&self) -> impl Iterator<Item = &str> {
        self.lines.iter().map(TextInput::value)
    }

    pub fn text(&self) -> String {
        self.lines().collect::<Vec<_>>().join("\n")
    }

    pub fn row(&self) -> usize {
        self.row
    }

    pub fn cursor_cells(&self) -> usize {
        self.lines.get(self.row).map_or(0, TextInput::cursor_cells)
    }

    pub fn apply(&mut self, edit: &Edit) -> bool {
        match edit {
            Edit::Newline => {
                let current = &mut self.lines[self.row];
                let at = current.byte_at(current.cursor);
                let rest = current.value.split_off(at);
                self.lines.insert(
                    self.row + 1,
                    TextInput {
                        value: rest,
                        cursor: 0,
                    },
                );
                self.row += 1;
                true
            }
            Edit::Paste(text) => {
                // `\r\n`, `\n` and a lone `\r` (what many terminals paste) each end a line.
                let text = text.replace("\r\n", "\n").replace('\r', "\n");
                let mut changed = false;
                for (i, part) in text.split('\n').enumerate() {
                    if i > 0 {
                        changed |= self.apply(&Edit::Newline);
                    }
                    changed |= self.lines[self.row].apply(&Edit::Paste(part.to_string()));
                }
                changed
            }
            Edit::Up => {
                self.move_row(self.row.saturating_sub(1));
                false
            }
            Edit::Down => {
                self.move_row((self.row + 1).min(self.lines.len() - 1));
                false
            }
            Edit::Backspace if self.lines[self.row].cursor == 0 && self.row > 0 => {
                let removed = self.lines.remove(self.row);
                self.row -= 1;
                let prev = &mut self.lines[self.row];
                prev.cursor = prev.value.chars().count();
                prev.value.push_str(&removed.value);
                true
            }
            other => self.lines[self.row].apply(other),
        }
    }

    fn move_row(&mut self, row: usize) {
        let col = self.lines[self.row].cursor;
        self.row = row;
        let line = &mut self.lines[row];
        line.cursor = col.min(line.value.chars().count());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hangul_is_two_cells_wide() {
        assert_eq!(width("김철수"), 6);
        assert_eq!(fit("김철수", 8), "김철수  ");
        // A wide char never straddles the limit.
        assert_eq!(truncate("김철수연구소", 6), "김철…");
        assert_eq!(width(&fit("김철수연구소", 5)), 5);
    }

    #[test]
    fn wrapping_counts_cells_and_keeps_hangul_whole() {
        assert_eq!(
            wrap("김철수: models: gpt-4o → models: none", 16, "  "),
            vec!["김철수: models:", "  gpt-4o →", "  models: none"]
        );
        // A word wider than a line is cut, a wide character never split across the edge.
        let lines = wrap("연구소연구소연구소", 7, "  ");
        assert_eq!(lines, vec!["연구소", "  연구", "  소연", "  구소"]);
        assert!(lines.iter().all(|l| width(l) <= 7));
        assert_eq!(wrap("", 10, "  "), vec![""]);
    }

    #[test]
    fn counts_read_as_english() {
        assert_eq!(count(0, "user"), "0 users");
        assert_eq!(count(1, "user"), "1 user");
        assert_eq!(count(2, "key"), "2 keys");
        assert_eq!(count(1, "marked user"), "1 marked user");
        assert_eq!(count(10_000, "selected user"), "10000 selected users");
    }

    #[test]
    fn editing_hangul_keeps_whole_characters() {
        let mut input = TextInput::new("연구소");
        input.apply(&Edit::Backspace);
        assert_eq!(input.value(), "연구");
        input.apply(&Edit::Left);
        input.apply(&Edit::Insert('x'));
        assert_eq!(input.value(), "연x구");
        assert_eq!(input.cursor_cells(), 3);
        input.apply(&Edit::DeleteWord);
        assert_eq!(input.value(), "구");
    }

    #[test]
    fn text_area_splits_pasted_lines() {
        let mut area = TextArea::default();
        area.apply(&Edit::Paste("a=1\r\nb=2".into()));
        assert_eq!(area.text(), "a=1\nb=2");
        area.apply(&Edit::Home);
        area.apply(&Edit::Backspace);
        assert_eq!(area.text(), "a=1b=2");
    }
}
