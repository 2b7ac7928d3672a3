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

pub fn overlay(app: &App, frame: &mut Frame, area: Rect, theme: Theme) {
    let screen = if matches!(app.screen, Screen::Login | Screen::ForcePassword) {
        Screen::Users
    } else {
        app.screen
    };
    let bindings = entries(app, unique(keymap::offered(app, screen)));
    let inner_width = usize::from(area.width.saturating_sub(4));
    let columns = if inner_width >= 70 { 2 } else { 1 };
    let col_width = inner_width / columns;
    let per_col = bindings.len().div_ceil(columns);
    let height = (per_col as u16 + 2).min(area.height);
    let rect = Rect {
        x: area.x + 1,
        y: area.y + (area.height - height) / 2,
        width: area.width.saturating_sub(2),
        height,
    };
    let mut lines = Vec::new();
    for row in 0..per_col {
        let mut spans = Vec::new();
        for col in 0..columns {
            if let Some((key, help)) = bindings.get(col * per_col + row) {
                spans.push(Span::styled(fit(key, 8), theme.key()));
                spans.push(Span::raw(fit(help, col_width.saturating_sub(9))));
                spans.push(Span::raw(" "));
            }
        }
        lines.push(Line::from(spans));
    }
    let title = format!(" {} keys · esc closes ", screen.title());
    clear_popup(frame, rect);
    frame.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(title)),
        rect,
    );
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
        Context::Picker => vec![
            ("↑↓", "move"),
            ("space", "toggle"),
            ("type", "search/new"),
            ("enter", "done"),
            ("esc", "cancel"),
        ],
        Context::Confirm => vec![("y", "yes"), ("n/esc", "no")],
        Context::Undo => vec![
            ("y", "undo"),
            ("f", "force on/off"),
            ("j/k PgUp/PgDn", "scroll"),
            ("n/esc", "cancel"),
        ],
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
