//! The `?` overlay and the bottom hint bar, both generated from the keymap tables: only the
//! keys the signed-in account may use are offered.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};
use ratatui::Frame;

use super::layout::clear_popup;
use super::theme::Theme;
use crate::action::{Cmd, Screen};
use crate::app::App;
use crate::filter;
use crate::keymap::{self, Binding, Context, Field};
use crate::palette;
use crate::popup::Popup;
use crate::text::{fit, width};

/// One binding per command (the first, e.g. `j/↓` rather than `↓`).
fn unique(bindings: Vec<&'static Binding>) -> Vec<&'static Binding> {
    let mut seen: Vec<Cmd> = Vec::new();
    bindings
        .into_iter()
        .filter(|b| {
            if seen.contains(&b.cmd) {
                false
            } else {
                seen.push(b.cmd);
                true
            }
        })
        .collect()
}

/// The help's lines, key and what it does: one per command, except the screen switches, which
/// share one line (`1–7  users models …`) so that every users-screen key fits on 80×24.
fn entries(app: &App, bindings: Vec<&'static Binding>) -> Vec<(String, String)> {
    let screens: Vec<&Binding> = bindings
        .iter()
        .copied()
        .filter(|b| matches!(b.cmd, Cmd::GoTo(_)))
        .collect();
    let mut lines = Vec::new();
    for b in bindings {
        match (b.cmd, screens.as_slice()) {
            (Cmd::GoTo(_), [first, .., last]) => {
                if std::ptr::eq(b, *first) {
                    let names: Vec<&str> = screens
                        .iter()
                        .map(|s| s.help.strip_suffix(" screen").unwrap_or(s.help))
                        .collect();
                    lines.push((format!("{}–{}", first.key, last.key), names.join(" ")));
                }
            }
            (Cmd::Palette, _) => lines.push((b.key.to_string(), palette::help(app))),
            _ => lines.push((b.key.to_string(), b.help_for(app).to_string())),
        }
    }
    lines
}

/// The screen whose keys the help lists (the users screen's before logging in).
fn help_screen(app: &App) -> Screen {
    if matches!(app.screen, Screen::Login | Screen::ForcePassword) {
        Screen::Users
    } else {
        app.screen
    }
}

/// Cells of a key before its help.
const KEY_CELLS: usize = 8;

/// One row of the help: per column, a key (empty on a wrapped entry's later lines) and text.
type HelpRow = Vec<(String, String)>;

/// The help's rows for an `area`: two columns from 70 inner cells on, else one; an entry longer
/// than its column wraps onto the next rows, so nothing is cut.
fn help_rows(app: &App, area: Rect) -> Vec<HelpRow> {
    let entries = entries(app, unique(keymap::offered(app, help_screen(app))));
    let inner_width = usize::from(area.width.saturating_sub(4));
    let columns = if inner_width >= 70 { 2 } else { 1 };
    let col_width = inner_width / columns;
    let text_cells = col_width.saturating_sub(KEY_CELLS + 1).max(8);
    let wrapped: Vec<Vec<(String, String)>> = entries
        .iter()
        .map(|(key, help)| {
            crate::text::wrap(help, text_cells, "")
                .into_iter()
                .enumerate()
                .map(|(i, text)| (if i == 0 { key.clone() } else { String::new() }, text))
                .collect()
        })
        .collect();
    // The first column takes entries until it holds half of the lines; the second the rest.
    let total: usize = wrapped.iter().map(Vec::len).sum();
    let half = total.div_ceil(columns);
    let mut cols: Vec<Vec<(String, String)>> = vec![Vec::new(); columns];
    let mut col = 0;
    for entry in wrapped {
        if col + 1 < columns && !cols[col].is_empty() && cols[col].len() + entry.len() > half {
            col += 1;
        }
        cols[col].extend(entry);
    }
    let height = cols.iter().map(Vec::len).max().unwrap_or(0);
    (0..height)
        .map(|row| {
            cols.iter()
                .map(|c| c.get(row).cloned().unwrap_or_default())
                .collect()
        })
        .collect()
}

/// The help's box in `area` for `rows` rows: as tall as they need, at most the screen less the
/// hint bar (which says how to scroll).
fn help_rect(area: Rect, rows: usize) -> Rect {
    let room = area.height.saturating_sub(1);
    let height = (rows as u16).saturating_add(2).min(room);
    Rect {
        x: area.x + 1,
        y: area.y + (room - height) / 2,
        width: area.width.saturating_sub(2),
        height,
    }
}

/// The largest scroll of the help at the app's size, and the rows of a page.
pub fn scroll_range(app: &App) -> (usize, usize) {
    let area = Rect::new(0, 0, app.width, app.height);
    let rows = help_rows(app, area);
    let shown = usize::from(help_rect(area, rows.len()).height.saturating_sub(2)).max(1);
    (rows.len().saturating_sub(shown), shown)
}

pub fn overlay(app: &App, scroll: usize, frame: &mut Frame, area: Rect, theme: Theme) {
    let rows = help_rows(app, area);
    let rect = help_rect(area, rows.len());
    let shown = usize::from(rect.height.saturating_sub(2));
    let scroll = scroll.min(rows.len().saturating_sub(shown));
    let inner_width = usize::from(area.width.saturating_sub(4));
    let columns = rows.first().map_or(1, Vec::len).max(1);
    let col_width = inner_width / columns;
    let lines: Vec<Line> = rows
        .iter()
        .skip(scroll)
        .take(shown)
        .map(|row| {
            let mut spans = Vec::new();
            for (key, help) in row {
                spans.push(Span::styled(fit(key, KEY_CELLS), theme.key()));
                spans.push(Span::raw(fit(
                    help,
                    col_width.saturating_sub(KEY_CELLS + 1),
                )));
                spans.push(Span::raw(" "));
            }
            Line::from(spans)
        })
        .collect();
    let title = format!(" {} keys · esc closes ", help_screen(app).title());
    let mut block = Block::bordered().title(title);
    if rows.len() > shown {
        let last = scroll + shown;
        let mut position = format!(" {}–{last} of {} ", scroll + 1, rows.len());
        if last < rows.len() {
            position = format!(" ↓ more ·{position}");
        }
        block = block.title_bottom(Line::from(position).right_aligned());
    }
    clear_popup(frame, rect);
    frame.render_widget(Paragraph::new(lines).block(block), rect);
}

/// Hints for the current context: popups and forms have fixed ones, screens the keymap's.
fn hints(app: &App) -> Vec<(&'static str, &'static str)> {
    match Context::of(app) {
        Context::Screen(screen) => {
            // `?` and `:` first so help is always visible, quit last.
            let all = keymap::offered(app, screen);
            let (first, rest): (Vec<&Binding>, Vec<&Binding>) = all
                .into_iter()
                .filter(|b| !b.hint.is_empty())
                .partition(|b| matches!(b.cmd, Cmd::Help | Cmd::Palette));
            first
                .into_iter()
                .chain(rest)
                .map(|b| (b.key, b.hint))
                .collect()
        }
        Context::FilterBar if app.screen == Screen::Events => vec![
            ("enter", "apply"),
            ("esc", "clear"),
            ("actor: action: user: result: since: until:", ""),
        ],
        Context::FilterBar if app.screen == Screen::Trash => vec![
            ("enter", "apply"),
            ("esc", "clear"),
            ("text in the id or organization", ""),
        ],
        Context::FilterBar if app.screen == Screen::Usage => vec![
            ("enter", "apply"),
            ("esc", "clear"),
            (crate::usage::filter::TERMS, ""),
        ],
        // The filter applies as it is typed; the terms matter more than enter at 80 columns.
        Context::FilterBar => vec![("esc", "clear"), (filter::TERMS, ""), ("enter", "done")],
        // Enter keeps the checks; only before any toggle does it check the highlighted match.
        Context::Picker => vec![
            ("space", "toggle"),
            ("enter", "done (if none toggled: check match)"),
            ("esc", "cancel"),
            ("↑↓", "move"),
            ("type", "search/new"),
        ],
        Context::Confirm => vec![("y", "yes"), ("n/esc", "no")],
        Context::Preview => vec![
            ("y", "apply"),
            ("j/k PgUp/PgDn", "scroll"),
            ("n/esc", "cancel"),
        ],
        Context::Undo => vec![
            ("y", "undo"),
            ("f", "force on/off"),
            ("j/k PgUp/PgDn", "scroll"),
            ("n/esc", "cancel"),
        ],
        Context::Dismiss
            if matches!(app.popups.last(), Some(Popup::Help { .. })) && scroll_range(app).0 > 0 =>
        {
            vec![("esc/enter", "close"), ("j/k PgUp/PgDn g/G", "scroll")]
        }
        Context::Dismiss => vec![("esc/enter", "close")],
        // The count of a large delete, typed out.
        Context::Form(_) if matches!(app.popups.last(), Some(Popup::Confirm(_))) => {
            vec![("type", "the count"), ("enter", "confirm"), ("esc", "no")]
        }
        // A user's details as a viewer reads them: nothing to save.
        Context::Form(_) if reading_a_user(app) => {
            vec![
                ("tab", "next field"),
                ("ctrl-r", "reload"),
                ("esc", "close"),
            ]
        }
        Context::Form(field) => {
            let mut h = vec![("tab", "next field")];
            match field {
                Field::Choice => h.push(("←→", "change")),
                Field::Button => h.push(("enter", "pick")),
                Field::Area => h.push(("enter", "new line")),
                Field::Text => h.push(("enter", "ok")),
            }
            if matches!(app.screen, Screen::Login | Screen::ForcePassword) && app.popups.is_empty()
            {
                h.push(("ctrl-c", "quit"));
            } else {
                h.push(("ctrl-s", "save"));
                if matches!(app.popups.last(), Some(Popup::Create(_))) {
                    h.push(("ctrl-v", "valid rows"));
                }
                h.push(("esc", "cancel"));
            }
            h
        }
    }
}

/// The popup on top is a user's details the account may only read.
fn reading_a_user(app: &App) -> bool {
    matches!(app.popups.last(), Some(Popup::Edit(d)) if d.read_only.is_some())
}

pub fn hint_bar(app: &App, theme: Theme, total: u16) -> Paragraph<'static> {
    let total = usize::from(total);
    let mut spans = Vec::new();
    let mut used = 0;
    for (key, what) in hints(app) {
        let w = width(key) + 1 + width(what) + 2;
        if used + w > total {
            break;
        }
        used += w;
        spans.push(Span::styled(key.to_string(), theme.key()));
        spans.push(Span::raw(format!(" {what}  ")));
    }
    Paragraph::new(Line::from(spans))
}
