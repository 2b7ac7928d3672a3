//! Login, forced password change, and the models, admins, services and events lists.

use ratatui::layout::{Position, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};
use ratatui::Frame;

use super::theme::Theme;
use crate::app::{App, ListState};
use crate::popup::{PasswordForm, MIN_PASSWORD};
use crate::text::{count, fit, truncate, TextInput};
use crate::update::service_rows;

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

/// `label: value` with the value masked for passwords; places the cursor when focused.
pub fn field_line(
    frame: &mut Frame,
    at: Rect,
    label: &str,
    input: &TextInput,
    masked: bool,
    focused: bool,
    theme: Theme,
) {
    let label_text = fit(label, 12);
    let value = if masked {
        "•".repeat(input.value().chars().count())
    } else {
        input.value().to_string()
    };
    let room = usize::from(at.width).saturating_sub(13);
    let style = if focused {
        theme.focus()
    } else {
        Style::default()
    };
    let line = Line::from(vec![
        Span::styled(label_text, style),
        Span::raw(" "),
        Span::styled(
            truncate(&value, room),
            Style::default().add_modifier(ratatui::style::Modifier::UNDERLINED),
        ),
    ]);
    frame.render_widget(Paragraph::new(line), at);
    if focused {
        let cells = if masked {
            input.cursor()
        } else {
            input.cursor_cells()
        };
        let x = at.x + 13 + cells.min(room) as u16;
        frame.set_cursor_position(Position { x, y: at.y });
    }
}

fn row(area: Rect, y: u16) -> Rect {
    Rect {
        x: area.x + 2,
        y: area.y + y,
        width: area.width.saturating_sub(4),
        height: 1,
    }
}

pub fn login(app: &App, frame: &mut Frame, area: Rect, theme: Theme) {
    let body = Rect {
        height: area.height - 1,
        ..area
    };
    let rect = centered(body, 60, 10);
    let block = Block::bordered().title(" mama · log in ");
    let inner = block.inner(rect);
    frame.render_widget(block, rect);
    frame.render_widget(
        Paragraph::new(Span::styled(
            truncate(&app.server, usize::from(inner.width)),
            theme.dim(),
        )),
        row(inner, 0),
    );
    let form = &app.login;
    field_line(
        frame,
        row(inner, 2),
        "username",
        &form.username,
        false,
        form.focus == 0,
        theme,
    );
    field_line(
        frame,
        row(inner, 3),
        "password",
        &form.password,
        true,
        form.focus == 1,
        theme,
    );
    let status = if form.busy {
        Span::styled("logging in…", theme.dim())
    } else if let Some(message) = &form.message {
        Span::styled(message.clone(), theme.error())
    } else {
        Span::styled("tab switches fields, enter logs in", theme.dim())
    };
    frame.render_widget(Paragraph::new(status), row(inner, 5));
}

/// The three password fields, shared by the forced screen and the popup.
pub fn password_fields(form: &PasswordForm, frame: &mut Frame, inner: Rect, theme: Theme) {
    field_line(
        frame,
        row(inner, 1),
        "current",
        &form.old,
        true,
        form.focus_index == 0,
        theme,
    );
    field_line(
        frame,
        row(inner, 2),
        "new",
        &form.new,
        true,
        form.focus_index == 1,
        theme,
    );
    field_line(
        frame,
        row(inner, 3),
        "repeat new",
        &form.confirm,
        true,
        form.focus_index == 2,
        theme,
    );
    let count = form.new.value().chars().count();
    let hint = format!("at least {MIN_PASSWORD} characters ({count} typed)");
    let hint_style = if count >= MIN_PASSWORD {
        theme.ok()
    } else {
        theme.dim()
    };
    frame.render_widget(
        Paragraph::new(Span::styled(hint, hint_style)),
        row(inner, 4),
    );
    let status = if form.busy {
        Span::styled("changing…", theme.dim())
    } else if let Some(error) = &form.error {
        Span::styled(error.clone(), theme.error())
    } else {
        Span::raw("")
    };
    frame.render_widget(Paragraph::new(status), row(inner, 6));
}

pub fn force_password(app: &App, frame: &mut Frame, area: Rect, theme: Theme) {
    let body = Rect {
        height: area.height - 1,
        ..area
    };
    let rect = centered(body, 64, 10);
    let who = app.session.as_ref().map_or("", |s| s.username.as_str());
    let block =
        Block::bordered().title(format!(" {who}: choose a new password before continuing "));
    let inner = block.inner(rect);
    frame.render_widget(block, rect);
    password_fields(&app.force_password, frame, inner, theme);
}

/// A list screen: a header and rows, the selected one reversed.
fn list<T>(
    frame: &mut Frame,
    area: Rect,
    theme: Theme,
    state: &ListState<T>,
    header: String,
    empty: &str,
    render: impl Fn(&T) -> Line<'static>,
) {
    let rows = usize::from(area.height.saturating_sub(1));
    let scroll = state.selected.saturating_sub(rows.saturating_sub(1));
    let mut lines = vec![Line::styled(header, theme.header())];
    if !state.loaded {
        lines.push(Line::styled("  loading…", theme.dim()));
    } else if state.items.is_empty() {
        lines.push(Line::styled(format!("  {empty}"), theme.dim()));
    }
    for (i, item) in state.items.iter().enumerate().skip(scroll).take(rows) {
        let mut line = render(item);
        if i == state.selected {
            line = line.style(theme.selected());
        }
        lines.push(line);
    }
    frame.render_widget(Paragraph::new(lines), area);
}

fn pad(total: u16, text: String) -> String {
    fit(&text, usize::from(total))
}

pub fn models(app: &App, frame: &mut Frame, area: Rect, theme: Theme) {
    let total = area.width;
    let header = pad(
        total,
        format!(
            "  {}{}{}",
            fit("model", 36),
            fit("available", 11),
            fit("users", 8)
        ),
    );
    list(
        frame,
        area,
        theme,
        &app.models,
        header,
        "no models",
        move |m| {
            let (mark, style) = if m.available {
                ("yes", theme.ok())
            } else {
                ("NO", theme.unavailable())
            };
            Line::from(vec![
                Span::styled(
                    format!("  {}", fit(&m.name, 36)),
                    if m.available { Style::default() } else { style },
                ),
                Span::styled(fit(mark, 11), style),
                Span::raw(pad(total.saturating_sub(49), m.users.to_string())),
            ])
        },
    );
}

/// The line under the models list: who holds unavailable models, and how fresh the catalog is.
pub fn models_bar(app: &App, frame: &mut Frame, area: Rect, theme: Theme) {
    let text = app.model_list.as_ref().map_or(String::new(), |m| {
        let fetched = m.fetched_at.map_or("never".to_string(), |t| {
            t.format("%Y-%m-%d %H:%M").to_string()
        });
        let holders = m.users_with_unavailable;
        let verb = if holders == 1 { "holds" } else { "hold" };
        format!(
            "{} {verb} unavailable models (u shows them) · catalog read {fetched}",
            count(holders, "user")
        )
    });
    frame.render_widget(
        Paragraph::new(Span::styled(
            truncate(&text, usize::from(area.width)),
            theme.dim(),
        )),
        area,
    );
}

pub fn admins(app: &App, frame: &mut Frame, area: Rect, theme: Theme) {
    let total = area.width;
    let header = pad(
        total,
        format!(
            "  {}{}{}{}",
            fit("username", 24),
            fit("role", 8),
            fit("must change", 13),
            "created"
        ),
    );
    list(
        frame,
        area,
        theme,
        &app.admins,
        header,
        "no admins",
        move |a| {
            let created = a.created_at.format("%Y-%m-%d %H:%M").to_string();
            Line::raw(pad(
                total,
                format!(
                    "  {}{}{}{created}",
                    fit(&a.username, 24),
                    fit(a.role.as_str(), 8),
                    fit(if a.must_change_password { "yes" } else { "no" }, 13)
                ),
            ))
        },
    );
}

pub fn services(app: &App, frame: &mut Frame, area: Rect, theme: Theme) {
    let total = usize::from(area.width);
    let rows_all = service_rows(&app.services.items);
    let visible = usize::from(area.height.saturating_sub(1));
    let scroll = app
        .services
        .selected
        .saturating_sub(visible.saturating_sub(1));
    let mut lines = vec![Line::styled(
        fit(
            &format!(
                "  {}{}{}",
                fit("service / token", 34),
                fit("users", 8),
                "created / revoked"
            ),
            total,
        ),
        theme.header(),
    )];
    if !app.services.loaded {
        lines.push(Line::styled("  loading…", theme.dim()));
    } else if rows_all.is_empty() {
        lines.push(Line::styled(
            "  no services yet: n creates one",
            theme.dim(),
        ));
    }
    for (i, (s, token)) in rows_all.iter().enumerate().skip(scroll).take(visible) {
        let service = &app.services.items[*s];
        let mut line = match token.and_then(|t| service.tokens.get(t)) {
            None => Line::raw(fit(
                &format!(
                    "  {}{}{}",
                    fit(&service.name, 34),
                    fit(&service.users.to_string(), 8),
                    service.created_at.format("%Y-%m-%d %H:%M")
                ),
                total,
            )),
            Some(t) => {
                let (state, style) = match t.revoked_at {
                    Some(at) => (
                        format!("revoked {}", at.format("%Y-%m-%d %H:%M")),
                        theme.dim(),
                    ),
                    None => (
                        format!("issued {}", t.created_at.format("%Y-%m-%d %H:%M")),
                        Style::default(),
                    ),
                };
                Line::styled(
                    fit(
                        &format!("    └ {}{}{state}", fit(&t.hint, 30), fit("", 8)),
                        total,
                    ),
                    style,
                )
            }
        };
        if i == app.services.selected {
            line = line.style(theme.selected());
        }
        lines.push(line);
    }
    frame.render_widget(Paragraph::new(lines), area);
}

pub fn events(app: &App, frame: &mut Frame, area: Rect, theme: Theme) {
    let total = area.width;
    let header = pad(
        total,
        format!(
            "  {}{}{}{}{}",
            fit("time (UTC)", 20),
            fit("actor", 12),
            fit("action", 22),
            fit("result", 8),
            "users / detail"
        ),
    );
    list(
        frame,
        area,
        theme,
        &app.events.list,
        header,
        "no events",
        move |e| {
            let result_style = if e.result == "ok" {
                Style::default()
            } else {
                theme.error()
            };
            let result = e.error_code.clone().unwrap_or_else(|| e.result.clone());
            let targets = if e.user_ids.is_empty() {
                e.target_filter
                    .clone()
                    .or_else(|| e.detail.clone())
                    .unwrap_or_default()
            } else if e.target_count > e.user_ids.len() as i64 {
                format!("{} … ({})", e.user_ids.join(","), e.target_count)
            } else {
                e.user_ids.join(",")
            };
            let fixed = 2 + 20 + 12 + 22 + 8;
            Line::from(vec![
                Span::raw(format!(
                    "  {}",
                    fit(&e.at.format("%Y-%m-%d %H:%M:%S").to_string(), 20)
                )),
                Span::raw(fit(&e.actor, 12)),
                Span::raw(fit(&e.action, 22)),
                Span::styled(fit(&result, 8), result_style),
                Span::raw(fit(&targets, usize::from(total).saturating_sub(fixed))),
            ])
        },
    );
}
