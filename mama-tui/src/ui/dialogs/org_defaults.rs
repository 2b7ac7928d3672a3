//! An organization's default limits: six fields, each a value or blank for no default.

use mama_api::types::LimitField;
use ratatui::layout::Rect;
use ratatui::text::Span;
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::shared::{boxed, error_line, halves, line, short_field};
use crate::app::organization_name;
use crate::limits::{field_hint, field_label};
use crate::popup::OrgDefaultsDialog;
use crate::text::count;
use crate::ui::layout::centered;
use crate::ui::theme::Theme;

pub fn render(d: &OrgDefaultsDialog, frame: &mut Frame, area: Rect, theme: Theme) {
    let rect = centered(area, 66, 11);
    let name = organization_name(&d.organization.name);
    let inner = boxed(frame, rect, &format!(" defaults of {name} "));
    let users = count(d.organization.users, "user");
    frame.render_widget(
        Paragraph::new(Span::styled(
            format!("{users}; each inherits what it does not set itself"),
            theme.dim(),
        )),
        line(inner, 0),
    );
    let pairs = [
        (LimitField::MaxBudget, LimitField::BudgetPeriod),
        (LimitField::TpmLimit, LimitField::RpmLimit),
        (LimitField::ExpiresAt, LimitField::RotationEvery),
    ];
    for (i, (left, right)) in pairs.into_iter().enumerate() {
        let (l, r) = halves(line(inner, 2 + i as u16));
        limit_field(d, frame, l, left, theme);
        limit_field(d, frame, r, right, theme);
    }
    frame.render_widget(
        Paragraph::new(Span::styled(
            format!("{} · blank: no default", field_hint(d.focus)),
            theme.dim(),
        )),
        line(inner, 6),
    );
    let at = line(inner, inner.height.saturating_sub(1));
    if d.busy {
        error_line(frame, at, None, "counting the users it changes…", theme);
    } else {
        error_line(
            frame,
            at,
            d.error.as_deref(),
            "ctrl-s previews · tab next field · esc cancels",
            theme,
        );
    }
}

fn limit_field(
    d: &OrgDefaultsDialog,
    frame: &mut Frame,
    at: Rect,
    field: LimitField,
    theme: Theme,
) {
    let input = d.limits.input(field);
    let note = input.value().trim().is_empty().then_some("(none)");
    short_field(
        frame,
        at,
        field_label(field),
        input,
        d.focus == field,
        note,
        theme,
    );
}
