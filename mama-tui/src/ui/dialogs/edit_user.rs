//! Editing one user: organization, models, services, limits and info, with the key's state,
//! the user's status, spend and use in the last 30 days. A viewer reads the same dialog: it
//! says so in its title and its last line, and that the key is hidden from viewers.

use chrono::{DateTime, Utc};
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use mama_api::types::LimitField;

use super::shared::{boxed, error_line, halves, label, line, set_line, short_field, text_area};
use crate::limits::{self, field_hint, field_label, field_value, INHERIT};
use crate::popup::{EditDialog, EditField};
use crate::ui::form::field_line;
use crate::ui::layout::centered;
use crate::ui::screens::users::key_state;
use crate::ui::theme::Theme;

pub fn render(d: &EditDialog, frame: &mut Frame, area: Rect, theme: Theme, now: DateTime<Utc>) {
    let rect = centered(area, 76, 22);
    let title = match d.read_only {
        Some(_) => format!(" {} (version {}) · read only ", d.user.id, d.user.version),
        None => format!(" edit {} (version {}) ", d.user.id, d.user.version),
    };
    let inner = boxed(frame, rect, &title);
    let room = usize::from(inner.width);
    let org_focus = d.focus == EditField::Organization;
    let org = Rect {
        x: inner.x + 1,
        ..line(inner, 0)
    };
    field_line(
        frame,
        org,
        "organization",
        &d.organization,
        false,
        org_focus,
        theme,
    );
    frame.render_widget(
        Paragraph::new(set_line(
            "models",
            &d.models,
            &d.user.unavailable_models,
            d.focus == EditField::Models,
            room,
            theme,
        )),
        line(inner, 1),
    );
    frame.render_widget(
        Paragraph::new(set_line(
            "services",
            &d.services,
            &[],
            d.focus == EditField::Services,
            room,
            theme,
        )),
        line(inner, 2),
    );
    let state = match key_state(&d.user) {
        "blocked" => "blocked: no models, opens nothing",
        state => state,
    };
    let key = match &d.user.key_hint {
        Some(hint) => format!("{hint} ({state})"),
        None => state.to_string(),
    };
    let mut key_spans = vec![label("key", false, theme), Span::raw(key)];
    if d.key_hidden {
        key_spans.push(Span::styled(" · key hidden (viewer)", theme.dim()));
    }
    if let Some(err) = &d.user.key_error {
        key_spans.push(Span::styled(format!("  {err}"), theme.error()));
    }
    frame.render_widget(Paragraph::new(Line::from(key_spans)), line(inner, 3));
    frame.render_widget(Paragraph::new(status_line(d, theme)), line(inner, 4));
    frame.render_widget(Paragraph::new(usage_line(d, theme, now)), line(inner, 5));
    let pairs = [
        (LimitField::MaxBudget, LimitField::BudgetPeriod),
        (LimitField::TpmLimit, LimitField::RpmLimit),
        (LimitField::ExpiresAt, LimitField::RotationEvery),
    ];
    for (i, (left, right)) in pairs.into_iter().enumerate() {
        let (l, r) = halves(line(inner, 6 + i as u16));
        limit_field(d, frame, l, left, theme);
        limit_field(d, frame, r, right, theme);
    }
    let hint = match d.focus {
        EditField::Limit(field) => format!("{} · blank: no limit · {INHERIT}", field_hint(field)),
        _ => format!("limits: blank is no limit · {INHERIT}: organization's default"),
    };
    frame.render_widget(
        Paragraph::new(Span::styled(hint, theme.dim())),
        Rect {
            x: inner.x + 14,
            width: inner.width.saturating_sub(15),
            ..line(inner, 9)
        },
    );
    frame.render_widget(
        Paragraph::new(Line::from(vec![
            label("info", d.focus == EditField::Info, theme),
            Span::styled("key=value, one per line", theme.dim()),
        ])),
        line(inner, 10),
    );
    let info_rect = Rect {
        x: inner.x + 3,
        y: inner.y + 11,
        width: inner.width.saturating_sub(4),
        height: inner.height.saturating_sub(13),
    };
    text_area(
        frame,
        info_rect,
        &d.info,
        d.focus == EditField::Info,
        theme,
        &[],
    );
    let status = if d.saving {
        Some("saving…".to_string())
    } else {
        d.error.clone()
    };
    let otherwise = match d.read_only {
        Some(_) => "read only · tab next field · ctrl-r reloads · esc closes",
        None => "ctrl-s saves · tab next field · esc cancels",
    };
    let style_error = d.error.is_some() && !d.saving;
    let at = line(inner, inner.height.saturating_sub(1));
    match status {
        Some(text) if style_error => error_line(frame, at, Some(&text), "", theme),
        Some(text) => error_line(frame, at, None, &text, theme),
        None => error_line(frame, at, None, otherwise, theme),
    }
}

/// The user's status in words, with the suspension or the spend behind it.
fn status_line(d: &EditDialog, theme: Theme) -> Line<'static> {
    let user = &d.user;
    let style = if limits::refuses_calls(user.status) {
        theme.error()
    } else {
        ratatui::style::Style::default()
    };
    let mut spans = vec![
        label("status", false, theme),
        Span::styled(limits::status_text(user.status), style),
    ];
    if let Some(suspension) = limits::suspension_line(user) {
        spans.push(Span::raw(format!(" {suspension}")));
    } else if let Some(spend) = user.spend {
        let of = match user.limits.max_budget {
            Some(_) => format!(" of {}", limits::budget_text(&user.limits)),
            None => String::new(),
        };
        let read = user
            .spend_read_at
            .map(|at| format!(" (read {})", at.format("%m-%d %H:%M")))
            .unwrap_or_default();
        spans.push(Span::raw(format!(" · spent ${spend:.2}{of}{read}")));
    }
    Line::from(spans)
}

/// Spend and requests in the last 30 days and the last day used (over every key the user held).
fn usage_line(d: &EditDialog, theme: Theme, now: DateTime<Utc>) -> Line<'static> {
    let user = &d.user;
    let text = if user.last_used.is_none() && user.requests_30d == 0 && user.spend_30d <= 0.0 {
        "never used".to_string()
    } else {
        format!(
            "{} · {} requests in 30 days · last used {}",
            limits::money(user.spend_30d),
            limits::compact(user.requests_30d),
            limits::last_used_text(user.last_used, now.date_naive()),
        )
    };
    Line::from(vec![label("usage", false, theme), Span::raw(text)])
}

/// One limit: its text, and where an inherited value comes from.
fn limit_field(d: &EditDialog, frame: &mut Frame, at: Rect, field: LimitField, theme: Theme) {
    let input = d.limits.input(field);
    let note = if input.value().trim() == INHERIT {
        if d.user.inherited.contains(&field) && !d.limits.changed(field) {
            let value = field_value(&d.user.limits, field);
            Some(format!(
                "(org: {})",
                if value.is_empty() { "none" } else { &value }
            ))
        } else {
            Some("(org default)".to_string())
        }
    } else if input.value().trim().is_empty() {
        Some("(no limit)".to_string())
    } else {
        None
    };
    short_field(
        frame,
        at,
        field_label(field),
        input,
        d.focus == EditField::Limit(field),
        note.as_deref(),
        theme,
    );
}
