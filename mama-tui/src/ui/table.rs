//! The users table. Column widths are computed from the display width of the rows on screen
//! (Hangul is two cells per syllable), so columns line up whatever the script.

use mama_api::types::{KeyStatus, UserColumn, UserView};
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::theme::Theme;
use crate::app::App;
use crate::text::{fit, truncate, width};

/// Terminal row of the header (the title line is above it).
pub const HEADER_Y: u16 = 1;
/// Cells before the first column: the mark.
const MARK: usize = 2;

pub const COLUMNS: [UserColumn; 6] = [
    UserColumn::Id,
    UserColumn::Organization,
    UserColumn::Models,
    UserColumn::Services,
    UserColumn::KeyStatus,
    UserColumn::Info,
];

fn label(column: UserColumn) -> &'static str {
    match column {
        UserColumn::Id => "id",
        UserColumn::Organization => "organization",
        UserColumn::Models => "models",
        UserColumn::Services => "services",
        UserColumn::KeyStatus => "key",
        UserColumn::Info => "info",
        UserColumn::CreatedAt => "created",
        UserColumn::UpdatedAt => "updated",
    }
}

/// Narrowest and widest a column gets.
const MIN: [usize; 6] = [6, 6, 6, 6, 8, 4];
const MAX: [usize; 6] = [28, 20, 36, 24, 20, 60];

fn info_text(user: &UserView) -> String {
    user.info
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The key's state in a word: its sync status, except where that would mislead. A user with no
/// model holds a blocked key ("blocked", not "active"); a rotation waiting for LiteLLM says
/// "rotating"; a change LiteLLM keeps failing says "retrying" (the reason is in the edit dialog).
pub fn key_state(user: &UserView) -> &'static str {
    match user.key_status {
        KeyStatus::Active if user.key_blocked => "blocked",
        KeyStatus::Pending if user.rotating => "rotating",
        KeyStatus::Pending if user.key_error.is_some() => "retrying",
        status => status.as_str(),
    }
}

fn key_text(user: &UserView) -> String {
    match (&user.key_hint, user.key_status) {
        (_, KeyStatus::None) => "-".into(),
        // Status first: when the column is narrow the hint is what gets cut.
        (Some(hint), _) => format!("{} {hint}", key_state(user)),
        (None, _) => key_state(user).into(),
    }
}

fn natural(column: UserColumn, user: &UserView) -> usize {
    match column {
        UserColumn::Id => width(&user.id),
        UserColumn::Organization => width(&user.organization),
        UserColumn::Models => width(&user.models.join(",")),
        UserColumn::Services => width(&user.services.join(",")),
        UserColumn::KeyStatus => width(&key_text(user)),
        _ => width(&info_text(user)),
    }
}

/// Column widths for a table `total` cells wide holding `rows`: each column's widest cell
/// (bounded), shrunk from the widest columns first when they do not fit, slack to `info`.
pub fn widths<'a>(rows: impl Iterator<Item = &'a UserView>, total: usize) -> [usize; 6] {
    let mut w = [0usize; 6];
    for (i, column) in COLUMNS.iter().enumerate() {
        w[i] = width(label(*column)) + 2; // room for the sort arrow
    }
    for user in rows {
        for (i, column) in COLUMNS.iter().enumerate() {
            w[i] = w[i].max(natural(*column, user));
        }
    }
    for i in 0..6 {
        w[i] = w[i].clamp(MIN[i], MAX[i]);
    }
    let available = total.saturating_sub(MARK + COLUMNS.len() - 1);
    let mut sum: usize = w.iter().sum();
    // Give up room in order of what operators miss least: info first, then the widest of id,
    // organization, models and services, and the key status last.
    for phase in [&[5usize][..], &[0, 1, 2, 3], &[4]] {
        while sum > available {
            let Some(i) = phase
                .iter()
                .copied()
                .filter(|&i| w[i] > MIN[i])
                .max_by_key(|&i| w[i] - MIN[i])
            else {
                break;
            };
            w[i] -= 1;
            sum -= 1;
        }
    }
    if sum < available {
        w[5] += available - sum;
    }
    w
}

fn current_widths(app: &App) -> [usize; 6] {
    let viewport = app.table_rows();
    widths(
        app.users.visible(viewport).filter_map(|(_, u)| u),
        usize::from(app.width),
    )
}

/// The column under terminal column `x` (header clicks).
pub fn column_at(app: &App, x: u16) -> Option<UserColumn> {
    let w = current_widths(app);
    let mut start = MARK;
    for (i, column) in COLUMNS.iter().enumerate() {
        let end = start + w[i];
        if (start..=end).contains(&usize::from(x)) {
            return Some(*column);
        }
        start = end + 1;
    }
    None
}

/// Items joined by `sep`, each with its style, cut to `cells` and padded.
fn fit_spans(items: Vec<(String, Style)>, sep: &str, cells: usize) -> Vec<Span<'static>> {
    let mut spans = Vec::new();
    let mut used = 0;
    for (i, (text, style)) in items.into_iter().enumerate() {
        let piece = if i == 0 { text } else { format!("{sep}{text}") };
        let w = width(&piece);
        if used + w > cells {
            let cut = truncate(&piece, cells - used);
            used += width(&cut);
            spans.push(Span::styled(cut, style));
            break;
        }
        used += w;
        spans.push(Span::styled(piece, style));
    }
    spans.push(Span::raw(" ".repeat(cells - used)));
    spans
}

fn key_style(user: &UserView, theme: Theme) -> Style {
    match user.key_status {
        KeyStatus::Active if user.key_blocked => theme.warn(),
        KeyStatus::Active => theme.ok(),
        KeyStatus::Pending => theme.warn(),
        KeyStatus::Failed => theme.error(),
        KeyStatus::None => theme.dim(),
    }
}

fn row_line(app: &App, user: &UserView, w: &[usize; 6], theme: Theme) -> Line<'static> {
    let marked = app.users.marks.contains(&user.id);
    let mut spans = vec![if marked {
        Span::styled("● ", theme.marked())
    } else {
        Span::raw("  ")
    }];
    let plain = if marked {
        theme.marked()
    } else {
        Style::default()
    };
    spans.push(Span::styled(fit(&user.id, w[0]), plain));
    spans.push(Span::raw(" "));
    spans.push(Span::raw(fit(&user.organization, w[1])));
    spans.push(Span::raw(" "));
    let models = user
        .models
        .iter()
        .map(|m| {
            if user.unavailable_models.contains(m) {
                let text = if theme.color {
                    m.clone()
                } else {
                    format!("{m}!")
                };
                (text, theme.unavailable())
            } else {
                (m.clone(), Style::default())
            }
        })
        .collect();
    spans.extend(fit_spans(models, ",", w[2]));
    spans.push(Span::raw(" "));
    spans.push(Span::raw(fit(&user.services.join(","), w[3])));
    spans.push(Span::raw(" "));
    spans.push(Span::styled(
        fit(&key_text(user), w[4]),
        key_style(user, theme),
    ));
    spans.push(Span::raw(" "));
    spans.push(Span::raw(fit(&info_text(user), w[5])));
    Line::from(spans)
}

fn header_line(app: &App, w: &[usize; 6], theme: Theme) -> Line<'static> {
    let mut spans = vec![Span::raw("  ")];
    for (i, column) in COLUMNS.iter().enumerate() {
        let mut text = label(*column).to_string();
        if app.users.sort.column == *column {
            text.push_str(if app.users.sort.descending {
                " ▼"
            } else {
                " ▲"
            });
        }
        spans.push(Span::styled(fit(&text, w[i]), theme.header()));
        if i + 1 < COLUMNS.len() {
            spans.push(Span::raw(" "));
        }
    }
    Line::from(spans)
}

pub fn render(app: &App, frame: &mut Frame, area: Rect, theme: Theme) {
    let viewport = u64::from(area.height.saturating_sub(1));
    let w = widths(
        app.users.visible(viewport).filter_map(|(_, u)| u),
        usize::from(area.width),
    );
    let mut lines = vec![header_line(app, &w, theme)];
    let users = &app.users;
    if !users.loaded {
        lines.push(Line::styled("  loading…", theme.dim()));
    } else if users.matching == 0 {
        let text = if users.filter.is_empty() {
            "  No users yet. Press c to create some."
        } else {
            "  No user matches the filter."
        };
        lines.push(Line::styled(text, theme.dim()));
    }
    for (index, user) in users.visible(viewport) {
        let mut line = match user {
            Some(user) => row_line(app, user, &w, theme),
            None => Line::styled("  …", theme.dim()),
        };
        if index == users.selected {
            line = line.style(theme.selected());
        }
        lines.push(line);
    }
    frame.render_widget(Paragraph::new(lines), area);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widths_fill_the_terminal_and_respect_minimums() {
        let w = widths(std::iter::empty(), 80);
        assert_eq!(w.iter().sum::<usize>(), 80 - MARK - 5);
        let w = widths(std::iter::empty(), 30);
        assert!(w.iter().zip(MIN).all(|(w, min)| *w >= min));
    }

    #[test]
    fn the_key_column_never_calls_a_closed_or_struggling_key_active() {
        let mut user = crate::users::tests::user("kim");
        user.key_hint = Some("sk-...a1b2".into());
        user.key_status = KeyStatus::Active;
        assert_eq!(key_text(&user), "active sk-...a1b2");
        user.key_blocked = true;
        assert_eq!(key_text(&user), "blocked sk-...a1b2");
        user.key_blocked = false;
        user.key_status = KeyStatus::Pending;
        user.rotating = true;
        assert_eq!(key_state(&user), "rotating");
        user.rotating = false;
        user.key_error = Some("LiteLLM failed with status 503; retrying (attempt 3)".into());
        assert_eq!(key_state(&user), "retrying");
        user.key_status = KeyStatus::Failed;
        assert_eq!(key_state(&user), "failed");
    }
}
