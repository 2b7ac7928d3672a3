//! `view(&App, &mut Frame)`: draws the model, never changes it.
//!
//! Main screens share one frame: a title line, the screen body, a filter/info line, the status
//! line and a hint bar generated from the keymap.

mod dialogs;
mod filter;
mod form;
pub mod help;
mod layout;
pub mod screens;
mod spans;
pub mod table;
pub mod theme;

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use mama_api::types::{describe_scope, Role, Scope};

use crate::action::Screen;
use crate::app::{App, Level, SessionInfo, SyncState};
use crate::text::{fit, truncate, width};
use theme::Theme;

const SPINNER: [&str; 10] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

pub fn view(app: &App, frame: &mut Frame) {
    let area = frame.area();
    let theme = Theme { color: app.color };
    if area.height < 6 || area.width < 20 {
        frame.render_widget(Paragraph::new("mama: terminal too small"), area);
        return;
    }
    match app.screen {
        Screen::Login => screens::login::render(app, frame, area, theme),
        Screen::ForcePassword => screens::force_password::render(app, frame, area, theme),
        screen => {
            let title = Rect { height: 1, ..area };
            let body = Rect {
                y: area.y + 1,
                height: area.height - 4,
                ..area
            };
            let bar = Rect {
                y: area.bottom() - 3,
                height: 1,
                ..area
            };
            let status = Rect {
                y: area.bottom() - 2,
                height: 1,
                ..area
            };
            frame.render_widget(title_line(app, theme, area.width), title);
            match screen {
                Screen::Users => {
                    screens::users::render(app, frame, body, theme);
                    filter::users_bar(app, frame, bar, theme);
                }
                Screen::Models => {
                    screens::models::render(app, frame, body, theme);
                    screens::models::bar(app, frame, bar, theme);
                }
                Screen::Admins => screens::admins::render(app, frame, body, theme),
                Screen::Services => screens::services::render(app, frame, body, theme),
                Screen::Events => {
                    screens::events::render(app, frame, body, theme);
                    filter::events_bar(app, frame, bar, theme);
                }
                Screen::Organizations => {
                    screens::organizations::render(app, frame, body, theme);
                    screens::organizations::bar(frame, bar, theme);
                }
                Screen::Usage => {
                    screens::usage::render(app, frame, body, theme);
                    filter::usage_bar(app, frame, bar, theme);
                }
                Screen::Trash => {
                    screens::trash::render(app, frame, body, theme);
                    filter::trash_bar(app, frame, bar, theme);
                }
                Screen::Login | Screen::ForcePassword => {}
            }
            frame.render_widget(status_line(app, theme, area.width), status);
        }
    }
    let hints = Rect {
        y: area.bottom() - 1,
        height: 1,
        ..area
    };
    frame.render_widget(help::hint_bar(app, theme, area.width), hints);
    dialogs::render(app, frame, area, theme);
}

fn spinner(app: &App) -> &'static str {
    if app.in_flight > 0 {
        SPINNER[(app.ticks % SPINNER.len() as u64) as usize]
    } else {
        " "
    }
}

fn title_line(app: &App, theme: Theme, total: u16) -> Paragraph<'static> {
    // What the screen says about itself, and the rows shown (the first to go when room is
    // short).
    let mut info = app.screen.title().to_string();
    let mut rows = String::new();
    if app.screen == Screen::Users {
        let u = &app.users;
        if u.counted {
            info.push_str(&format!("  total {} · matching {}", u.total, u.matching));
        } else if u.count_failed {
            info.push_str("  count failed");
        } else {
            info.push_str("  counting…");
        }
        info.push_str(&format!(" · marked {}", u.marks.len()));
        match u.marks_not_in_view() {
            Some(0) => {}
            Some(hidden) => info.push_str(&format!(" ({hidden} not in view)")),
            None => info.push_str(" (? not in view)"),
        }
        if let Some((first, last)) = u.shown_rows(app.table_rows()) {
            rows = format!(" · rows {first}–{last}");
        }
    }
    if app.screen == Screen::Trash && app.trash.list.loaded {
        let t = &app.trash;
        info.push_str(&format!(
            "  {} deleted · marked {}",
            t.matching,
            t.marks.len()
        ));
        if let Some((first, last)) = t.shown_rows() {
            rows = format!(" · rows {first}–{last}");
        }
    }
    let right = format!("{} ", spinner(app));
    let total = usize::from(total);
    let fits = |left: &str, tabs: Tabs| width(left) + tabs.width() + width(&right) <= total;
    let full = format!(" mama ▸ {info}{rows}");
    // The trash and then the usage tab go first when room is short, so the others keep their
    // place; then the tabs shrink to their numbers, and the name `mama` and the rows shown make
    // room for them. The tabs always show; the left side is cut last.
    let named = [Tabs::Named(8), Tabs::Named(7), Tabs::Named(6)]
        .into_iter()
        .filter(|tabs| tabs.shows(app.screen))
        .find(|tabs| fits(&full, *tabs))
        .map(|tabs| (full.clone(), tabs));
    let (left, tabs) = named.unwrap_or_else(|| {
        let shorter = [full.clone(), format!(" {info}{rows}"), format!(" {info}")];
        let left = shorter
            .iter()
            .find(|left| fits(left, Tabs::Numbers))
            .unwrap_or(&shorter[2]);
        (left.clone(), Tabs::Numbers)
    });
    let left = fit(&left, total.saturating_sub(tabs.width() + width(&right)));
    let mut spans = vec![Span::styled(left, theme.title())];
    spans.extend(tabs.spans(app.screen, theme));
    spans.push(Span::styled(right, theme.title()));
    Paragraph::new(Line::from(spans))
}

/// The screens' tabs on the title line, in number order.
const TABS: [(Screen, &str); 8] = [
    (Screen::Users, "users"),
    (Screen::Models, "models"),
    (Screen::Admins, "admins"),
    (Screen::Services, "services"),
    (Screen::Events, "events"),
    (Screen::Organizations, "orgs"),
    (Screen::Usage, "usage"),
    (Screen::Trash, "trash"),
];

/// How the tabs are written: the first `n` with their names, or all eight by number only.
#[derive(Clone, Copy)]
enum Tabs {
    Named(usize),
    Numbers,
}

impl Tabs {
    fn tabs(self) -> impl Iterator<Item = (Screen, String)> {
        let (n, named) = match self {
            Tabs::Named(n) => (n, true),
            Tabs::Numbers => (TABS.len(), false),
        };
        TABS.into_iter()
            .take(n)
            .enumerate()
            .map(move |(i, (screen, name))| {
                let text = if named {
                    format!("{} {name}", i + 1)
                } else {
                    (i + 1).to_string()
                };
                (screen, text)
            })
    }

    /// Whether the current screen's tab is among them.
    fn shows(self, screen: Screen) -> bool {
        self.tabs().any(|(s, _)| s == screen)
    }

    /// Cells taken, with a space before each tab and after the last.
    fn width(self) -> usize {
        self.tabs().map(|(_, t)| width(&t) + 1).sum::<usize>() + 1
    }

    fn spans(self, current: Screen, theme: Theme) -> Vec<Span<'static>> {
        let mut spans = Vec::new();
        for (screen, text) in self.tabs() {
            spans.push(Span::styled(" ", theme.title()));
            let style = if screen == current {
                theme.current_tab()
            } else {
                theme.title()
            };
            spans.push(Span::styled(text, style));
        }
        spans.push(Span::styled(" ", theme.title()));
        spans
    }
}

/// LiteLLM's health and the sync queue; `compact`: the health and the failures only. Without a
/// LiteLLM the line says so, and how many keys wait for one (as pending) takes the queue's place.
fn litellm_span(app: &App, theme: Theme, compact: bool) -> Vec<Span<'static>> {
    match &app.sync {
        SyncState::Unknown => vec![Span::styled("LiteLLM: …", theme.dim())],
        SyncState::NotAvailable => vec![Span::styled("LiteLLM: n/a", theme.dim())],
        SyncState::Known(s) if !s.configured => {
            let mut text = "LiteLLM: not configured".to_string();
            if !compact {
                text.push_str(&match s.users_pending {
                    0 => " · keys wait as pending".to_string(),
                    1 => " · 1 key waits as pending".to_string(),
                    n => format!(" · {n} keys wait as pending"),
                });
            }
            vec![Span::styled(text, theme.dim())]
        }
        SyncState::Known(s) => {
            let health = match s.litellm_reachable {
                Some(true) => Span::styled("LiteLLM: ok", theme.ok()),
                Some(false) => Span::styled("LiteLLM: down", theme.error()),
                None => Span::styled("LiteLLM: ?", theme.dim()),
            };
            let mut spans = vec![health];
            if !compact {
                let mut queue = format!(" queue {}", s.queue_depth);
                if s.users_pending > 0 {
                    queue.push_str(&format!(" · {} pending", s.users_pending));
                }
                spans.push(Span::raw(queue));
            }
            if s.users_failed > 0 {
                spans.push(Span::styled(
                    format!(" · {} failed", s.users_failed),
                    theme.error(),
                ));
            }
            spans
        }
    }
}

/// What follows a message cut on the status line: `!` opens it in full.
const MORE: &str = " ! more";

/// Cells of the organizations kept when they are cut; with less room only the name and role
/// show.
const SCOPE_KEPT: usize = 8;

/// Server, account, LiteLLM and the last message. A message takes the server's place, so errors
/// stay readable at 80 columns: when it does not fit, the sync queue is left out first, then
/// the account's organizations are cut, then its name; its role always shows.
fn status_line(app: &App, theme: Theme, total: u16) -> Paragraph<'static> {
    let total = usize::from(total);
    let cells = |spans: &[Span]| spans.iter().map(|s| width(&s.content)).sum::<usize>();
    // The separators: " ", " │ " and " │ ".
    let fixed = 7;
    let (litellm, who) = match (&app.message, &app.session) {
        (_, None) => (litellm_span(app, theme, false), String::new()),
        // The server is the least of it: the account takes what LiteLLM leaves.
        (None, Some(s)) => {
            let litellm = litellm_span(app, theme, false);
            let room = total.saturating_sub(fixed + cells(&litellm));
            let who = account_in(s, room, true).unwrap_or_else(|| s.role.as_str().into());
            (litellm, who)
        }
        (Some((_, text)), Some(s)) => {
            let room =
                |litellm: &[Span]| total.saturating_sub(fixed + cells(litellm) + width(text));
            let full = litellm_span(app, theme, false);
            match account_in(s, room(&full), false) {
                Some(who) => (full, who),
                None => {
                    // When the message is cut whatever gives way, the name stays.
                    let compact = litellm_span(app, theme, true);
                    let who =
                        account_in(s, room(&compact), true).unwrap_or_else(|| name_and_role(s));
                    (compact, who)
                }
            }
        }
    };
    let mut spans = vec![Span::raw(" "), Span::raw(who), Span::raw(" │ ")];
    spans.extend(litellm);
    spans.push(Span::raw(" │ "));
    let room = total.saturating_sub(cells(&spans));
    match &app.message {
        Some((level, text)) => {
            let style = if *level == Level::Error {
                theme.error()
            } else {
                theme.ok()
            };
            // Cut, it says which key shows the rest.
            if width(text) > room && room > 2 * MORE.len() {
                spans.push(Span::styled(truncate(text, room - MORE.len()), style));
                spans.push(Span::styled(" !", theme.key()));
                spans.push(Span::raw(" more"));
            } else {
                spans.push(Span::styled(truncate(text, room), style));
            }
        }
        None => spans.push(Span::styled(truncate(&app.server, room), theme.dim())),
    }
    Paragraph::new(Line::from(spans))
}

/// The account in at most `room` cells: whole, else with its organizations cut (keeping at
/// least [`SCOPE_KEPT`] cells of them), else — when `shorter` — its name and role, else its
/// role. `None` when none of those fits.
fn account_in(s: &SessionInfo, room: usize, shorter: bool) -> Option<String> {
    let text = |max| account_text(&s.username, s.role, &s.organizations, max);
    let whole = text(usize::MAX);
    if width(&whole) <= room {
        return Some(whole);
    }
    if s.role != Role::Super && room >= width(&text(0)) - 1 + SCOPE_KEPT {
        return Some(text(room));
    }
    if !shorter {
        return None;
    }
    let short = name_and_role(s);
    if width(&short) <= room {
        return Some(short);
    }
    let role = s.role.as_str();
    (width(role) <= room).then(|| role.to_string())
}

fn name_and_role(s: &SessionInfo) -> String {
    format!("{} ({})", truncate(&s.username, 16), s.role.as_str())
}

/// Who is signed in, in at most `max` cells where it can: `alice (viewer · sales, 영업부)`,
/// `bob (admin · every organization)`, `root (super)` (a super admin is never limited). The
/// organizations are cut with `…` first; the name and the role always show.
pub fn account_text(username: &str, role: Role, scope: &Scope, max: usize) -> String {
    let name = truncate(username, 16);
    if role == Role::Super {
        return format!("{name} (super)");
    }
    let role = role.as_str();
    let frame = width(&name) + width(role) + 6;
    let scope = describe_scope(scope);
    let scope = truncate(&scope, max.saturating_sub(frame).max(1));
    format!("{name} ({role} · {scope})")
}
