//! The line above the status line: the filter bar while typing, else the active filter and sort.

use mama_api::types::{TrashColumn, UserColumn};
use ratatui::layout::{Position, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::theme::Theme;
use crate::app::App;
use crate::event_filter;
use crate::text::{truncate, width, TextInput};

/// What a filter bar shows.
struct Bar<'a> {
    input: &'a TextInput,
    editing: bool,
    error: Option<&'a str>,
    /// Shown when no filter is typed.
    idle: String,
    /// Shown after an applied filter (what it resolved to).
    active: Option<String>,
}

fn bar(frame: &mut Frame, area: Rect, theme: Theme, bar: Bar) {
    let Bar {
        input,
        editing,
        error,
        idle,
        active,
    } = bar;
    let total = usize::from(area.width);
    // The problem is what the operator needs to read: it gets its room first, and the typed
    // text scrolls to keep the cursor visible in what is left.
    let problem = error.map(|e| truncate(e, total.saturating_sub(3)));
    let room = total.saturating_sub(1 + problem.as_ref().map_or(1, |p| width(p) + 2));
    let mut spans = Vec::new();
    let mut cursor = 0;
    if editing || !input.is_empty() {
        let (shown, at) = around_cursor(input, room);
        cursor = at;
        spans.push(Span::styled("/", theme.key()));
        spans.push(Span::raw(shown));
        if let (false, None, Some(active)) = (editing, error, active) {
            spans.push(Span::styled(format!("  · {active}"), theme.dim()));
        }
    } else {
        spans.push(Span::styled(idle, theme.dim()));
    }
    if let Some(problem) = problem {
        spans.push(Span::raw("  "));
        spans.push(Span::styled(problem, theme.error()));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
    if editing {
        let x = area.x + 1 + cursor.min(total.saturating_sub(2)) as u16;
        frame.set_cursor_position(Position { x, y: area.y });
    }
}

/// The part of `input` that fits in `room` cells with the cursor inside it (a leading `…` when
/// the start is cut), and the cursor's cell in it.
fn around_cursor(input: &TextInput, room: usize) -> (String, usize) {
    let value = input.value();
    let cursor = input.cursor_cells();
    if width(value) <= room {
        return (value.to_string(), cursor);
    }
    // Too little room to be useful: the problem beside it names the value anyway.
    if room < 8 {
        return (String::new(), 0);
    }
    // Cut from the left until the cursor (and the `…`) fit, then cut the right to the room.
    let mut skipped = 0;
    let mut chars = value.chars();
    while cursor.saturating_sub(skipped) + 1 > room - 1 {
        match chars.next() {
            Some(c) => skipped += unicode_width::UnicodeWidthChar::width(c).unwrap_or(0),
            None => break,
        }
    }
    let rest: String = chars.collect();
    if skipped == 0 {
        return (truncate(value, room), cursor);
    }
    (
        format!("…{}", truncate(&rest, room - 1)),
        cursor.saturating_sub(skipped) + 1,
    )
}

/// The sort column as the bar names it (the limits column sorts by rpm).
fn sort_name(column: UserColumn) -> &'static str {
    match column {
        UserColumn::Id => "id",
        UserColumn::Organization => "organization",
        UserColumn::Models => "models",
        UserColumn::Services => "services",
        UserColumn::KeyStatus => "key",
        UserColumn::Info => "info",
        UserColumn::CreatedAt => "created",
        UserColumn::UpdatedAt => "updated",
        UserColumn::MaxBudget => "budget",
        UserColumn::Spend => "spend",
        UserColumn::TpmLimit => "tpm",
        UserColumn::RpmLimit => "rpm",
        UserColumn::ExpiresAt => "expires",
        UserColumn::Spend30d => "spend 30d",
        UserColumn::Requests30d => "requests 30d",
        UserColumn::LastUsed => "last used",
        UserColumn::Status => "status",
    }
}

pub fn users_bar(app: &App, frame: &mut Frame, area: Rect, theme: Theme) {
    let u = &app.users;
    let sort = format!(
        "sort {} {}",
        sort_name(u.sort.column),
        if u.sort.descending { "▼" } else { "▲" }
    );
    let idle = if u.marking {
        format!("marking… · {sort}")
    } else {
        format!("/ to filter · {sort}")
    };
    bar(
        frame,
        area,
        theme,
        Bar {
            input: &u.filter_input,
            editing: u.filter_editing,
            error: u.filter_error.as_deref(),
            idle,
            active: None,
        },
    );
}

/// The events bar: the filter as typed, then the time range it resolved to (ages are shown as
/// the times they meant) and the count, so `since:15m` is never ambiguous.
pub fn events_bar(app: &App, frame: &mut Frame, area: Rect, theme: Theme) {
    let e = &app.events;
    let count = if e.offset == 0 {
        format!("{} events", e.matching)
    } else {
        format!("{} events · page from {}", e.matching, e.offset + 1)
    };
    let idle = format!("/ to filter (changes since:15m until:2026-11-22T01:00 …) · {count}");
    let active = match event_filter::window(&e.filter) {
        Some(window) => format!("{window} · {count}"),
        None => count,
    };
    bar(
        frame,
        area,
        theme,
        Bar {
            input: &e.filter_input,
            editing: e.filter_editing,
            error: e.filter_error.as_deref(),
            idle,
            active: Some(active),
        },
    );
}

/// The usage bar: the filter as typed and what it resolved to, or how to filter and export.
pub fn usage_bar(app: &App, frame: &mut Frame, area: Rect, theme: Theme) {
    let u = &app.usage;
    let idle =
        "/ to filter (org: model: user:) · enter charts a row · :export FILE.csv".to_string();
    bar(
        frame,
        area,
        theme,
        Bar {
            input: &u.filter_input,
            editing: u.filter_editing,
            error: u.filter_error.as_deref(),
            idle,
            active: Some(crate::usage::filter::describe(&u.filter)),
        },
    );
}

/// The trash bar: the filter as typed, the sort and how many match.
pub fn trash_bar(app: &App, frame: &mut Frame, area: Rect, theme: Theme) {
    let t = &app.trash;
    let sort = format!(
        "sort {} {}",
        match t.column {
            TrashColumn::Id => "id",
            TrashColumn::Organization => "organization",
            TrashColumn::DeletedAt => "deleted",
            TrashColumn::PurgeAfter => "purge time",
        },
        if t.descending { "▼" } else { "▲" }
    );
    let matching = format!("{} in the trash", t.matching);
    bar(
        frame,
        area,
        theme,
        Bar {
            input: &t.filter_input,
            editing: t.filter_editing,
            error: None,
            idle: format!("/ to filter (id, organization) · {sort} · {matching}"),
            active: Some(format!("{} matching · {sort}", t.matching)),
        },
    );
}
