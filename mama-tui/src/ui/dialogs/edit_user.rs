//! Editing one user: organization, models, services and info, with the key's state.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::shared::{boxed, error_line, label, line, set_line, text_area};
use crate::popup::{EditDialog, EditField};
use crate::ui::form::field_line;
use crate::ui::layout::centered;
use crate::ui::screens::users::key_state;
use crate::ui::theme::Theme;

pub fn render(d: &EditDialog, frame: &mut Frame, area: Rect, theme: Theme) {
    let rect = centered(area, 76, 18);
    let inner = boxed(
        frame,
        rect,
        &format!(" edit {} (version {}) ", d.user.id, d.user.version),
    );
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

    if let Some(err) = &d.user.key_error {
        key_spans.push(Span::styled(format!("  {err}"), theme.error()));
    }
    frame.render_widget(Paragraph::new(Line::from(key_spans)), line(inner, 3));
    frame.render_widget(
        Paragraph::new(Line::from(vec![
            label("info", d.focus == EditField::Info, theme),
            Span::styled("key=value, one per line", theme.dim()),
        ])),
        line(inner, 4),
    );
    let info_rect = Rect {
        x: inner.x + 3,
        y: inner.y + 5,
        width: inner.width.saturating_sub(4),
        height: inner.height.saturating_sub(7),
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
    let style_error = d.error.is_some() && !d.saving;
    let at = line(inner, inner.height.saturating_sub(1));
    match status {
        Some(text) if style_error => error_line(frame, at, Some(&text), "", theme),
        Some(text) => error_line(frame, at, None, &text, theme),
        None => error_line(
            frame,
            at,
            None,
            "ctrl-s saves · tab next field · esc cancels",
            theme,
        ),
    }
}
