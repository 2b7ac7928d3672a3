//! An account: a new one (username, first password, role, organizations), or an existing
//! one's role and organizations.

use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use mama_api::types::Role;

use super::shared::{boxed, error_line, line};
use crate::popup::{AdminField, AdminForm, NO_ORGANIZATION};
use crate::text::fit;
use crate::ui::form::field_line_wide;
use crate::ui::layout::centered;
use crate::ui::theme::Theme;

/// Cells of the label column ("organizations" and a space).
const LABEL: usize = 14;

pub fn render(form: &AdminForm, frame: &mut Frame, area: Rect, theme: Theme) {
    let title = if form.editing {
        format!(" role and organizations of {} ", form.username.value())
    } else {
        " new account ".to_string()
    };
    let inner = boxed(frame, centered(area, 72, 10), &title);
    let field = |frame: &mut Frame, y, name, input, masked, at_field| {
        field_line_wide(
            frame,
            line(inner, y),
            name,
            LABEL - 1,
            input,
            masked,
            form.focus == at_field,
            theme,
        )
    };
    if form.editing {
        let spans = vec![
            label("username", false, theme),
            Span::raw(form.username.value().to_string()),
        ];
        frame.render_widget(Paragraph::new(Line::from(spans)), line(inner, 1));
    } else {
        field(
            frame,
            1,
            "username",
            &form.username,
            false,
            AdminField::Username,
        );
        field(
            frame,
            2,
            "password",
            &form.password,
            true,
            AdminField::Password,
        );
    }
    frame.render_widget(
        Paragraph::new(Line::from(vec![
            label("role", form.focus == AdminField::Role, theme),
            Span::raw(format!("◂ {} ▸", form.role.as_str())),
            Span::styled(format!("  {}", role_note(form.role)), theme.dim()),
        ])),
        line(inner, 3),
    );
    if form.scoped_role() {
        field(
            frame,
            4,
            "organizations",
            &form.organizations,
            false,
            AdminField::Organizations,
        );
        let hint = format!("comma-separated · empty: every organization · {NO_ORGANIZATION}: none");
        frame.render_widget(
            Paragraph::new(Span::styled(hint, theme.dim())),
            Rect {
                x: inner.x + 1 + LABEL as u16,
                width: inner.width.saturating_sub(2 + LABEL as u16),
                ..line(inner, 5)
            },
        );
    } else {
        frame.render_widget(
            Paragraph::new(Line::from(vec![
                label("organizations", false, theme),
                Span::styled("every one: a super admin is never limited", theme.dim()),
            ])),
            line(inner, 4),
        );
    }
    let otherwise = if form.editing {
        "ctrl-s saves; their sessions end at once"
    } else {
        "they must change the password at first login"
    };
    error_line(
        frame,
        line(inner, 7),
        form.error.as_deref(),
        otherwise,
        theme,
    );
}

fn label(text: &str, focused: bool, theme: Theme) -> Span<'static> {
    let style = if focused {
        theme.focus()
    } else {
        Style::default()
    };
    Span::styled(fit(text, LABEL), style)
}

/// What the chosen role may do, in a few words.
fn role_note(role: Role) -> &'static str {
    match role {
        Role::Super => "everything, and the accounts",
        Role::Admin => "changes users, services, orgs",
        Role::Viewer => "reads all but keys, changes nothing",
    }
}
