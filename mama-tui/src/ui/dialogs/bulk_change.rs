//! A change to every marked user at once: set operations on models and services, the
//! organization, info keys to set or remove, limits, expiry and suspension.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use mama_api::types::LimitField;

use super::shared::{boxed, error_line, halves, label, line, set_line, short_field, text_area};
use crate::limits::{field_hint, field_label, CLEAR_WORD, INHERIT};
use crate::popup::{op_name, BulkDialog, BulkField, BulkSuspension};
use crate::ui::form::field_line;
use crate::ui::layout::centered;
use crate::ui::theme::Theme;
use crate::users::UsersState;

/// `users` names the marks in the title, with how many the filter hides (the change reaches
/// those too).
pub fn render(d: &BulkDialog, users: &UsersState, frame: &mut Frame, area: Rect, theme: Theme) {
    let rect = centered(area, 72, 20);
    let inner = boxed(frame, rect, &format!(" bulk edit {} ", users.marks_label()));
    let room = usize::from(inner.width);
    let choice = |name: &str, op: &str, focused| {
        Line::from(vec![
            label(name, focused, theme),
            Span::raw(format!("◂ {op} ▸")),
        ])
    };
    let sets = [
        (
            "models",
            d.models_op,
            &d.models,
            BulkField::ModelsOp,
            BulkField::Models,
        ),
        (
            "services",
            d.services_op,
            &d.services,
            BulkField::ServicesOp,
            BulkField::Services,
        ),
    ];
    for (i, (name, op, values, op_field, values_field)) in sets.into_iter().enumerate() {
        let y = 2 * i as u16;
        frame.render_widget(
            Paragraph::new(choice(name, op_name(op), d.focus == op_field)),
            line(inner, y),
        );
        frame.render_widget(
            Paragraph::new(set_line(
                "  values",
                values,
                &[],
                d.focus == values_field,
                room,
                theme,
            )),
            line(inner, y + 1),
        );
    }
    let mut org = choice(
        "organization",
        if d.set_organization {
            "set to"
        } else {
            "unchanged"
        },
        d.focus == BulkField::OrganizationOp,
    );
    if d.set_organization && d.organization.is_empty() {
        org.spans
            .push(Span::styled("  (empty: clears it)", theme.dim()));
    }
    frame.render_widget(Paragraph::new(org), line(inner, 4));
    field_line(
        frame,
        line(inner, 5),
        "  new value",
        &d.organization,
        false,
        d.focus == BulkField::Organization,
        theme,
    );
    frame.render_widget(
        Paragraph::new(Line::from(vec![
            label("info set", d.focus == BulkField::InfoSet, theme),
            Span::styled("key=value, one per line; other keys are kept", theme.dim()),
        ])),
        line(inner, 6),
    );
    let info_rect = Rect {
        x: inner.x + 3,
        y: inner.y + 7,
        width: inner.width.saturating_sub(4),
        height: 2.min(inner.height.saturating_sub(7)),
    };
    text_area(
        frame,
        info_rect,
        &d.info_set,
        d.focus == BulkField::InfoSet,
        theme,
        &[],
    );
    let unset_focus = d.focus == BulkField::InfoUnset;
    if d.info_unset.is_empty() && !unset_focus {
        frame.render_widget(
            Paragraph::new(Line::from(vec![
                label("info remove", false, theme),
                Span::styled("keys, comma-separated", theme.dim()),
            ])),
            line(inner, 9),
        );
    } else {
        field_line(
            frame,
            line(inner, 9),
            "info remove",
            &d.info_unset,
            false,
            unset_focus,
            theme,
        );
    }
    limits(d, frame, inner, theme);
    if let Some(hidden) = users.marks_not_in_view().filter(|n| *n > 0) {
        let warning = format!(
            "{hidden} of them not in view (filtered out): the change applies to all {}",
            d.targets
        );
        frame.render_widget(
            Paragraph::new(Span::styled(warning, theme.warn())),
            line(inner, inner.height.saturating_sub(2)),
        );
    }
    let at = line(inner, inner.height.saturating_sub(1));
    if d.busy {
        error_line(frame, at, None, "computing the preview…", theme);
    } else {
        error_line(
            frame,
            at,
            d.error.as_deref(),
            "ctrl-s previews the change · ←→ change operation · tab next",
            theme,
        );
    }
}

/// Lines 10 to 15: the limits (blank: unchanged), the expiry extension and the suspension.
fn limits(d: &BulkDialog, frame: &mut Frame, inner: Rect, theme: Theme) {
    let pairs = [
        (LimitField::MaxBudget, LimitField::BudgetPeriod),
        (LimitField::TpmLimit, LimitField::RpmLimit),
        (LimitField::ExpiresAt, LimitField::RotationEvery),
    ];
    for (i, (left, right)) in pairs.into_iter().enumerate() {
        let (l, r) = halves(line(inner, 10 + i as u16));
        for (at, field) in [(l, left), (r, right)] {
            short_field(
                frame,
                at,
                field_label(field),
                d.limits.input(field),
                d.focus == BulkField::Limit(field),
                None,
                theme,
            );
        }
    }
    let (l, _) = halves(line(inner, 13));
    short_field(
        frame,
        l,
        "extend by",
        &d.extend_expiry,
        d.focus == BulkField::ExtendExpiry,
        (!d.extend_expiry.is_empty()).then_some("days"),
        theme,
    );
    let (l, r) = halves(line(inner, 14));
    let mut choice = Line::from(vec![
        label("suspension", d.focus == BulkField::SuspendOp, theme),
        Span::raw(format!("◂ {} ▸", d.suspension.name())),
    ]);
    if d.suspension == BulkSuspension::Resume {
        choice
            .spans
            .push(Span::styled(" suspended ones", theme.dim()));
    }
    frame.render_widget(Paragraph::new(choice), l);
    short_field(
        frame,
        r,
        "reason",
        &d.reason,
        d.focus == BulkField::SuspendReason,
        None,
        theme,
    );
    let hint = match d.focus {
        BulkField::Limit(field) => {
            format!("{} · {CLEAR_WORD}: no limit · {INHERIT}", field_hint(field))
        }
        BulkField::ExtendExpiry => {
            "days added to each expiry (never-expiring users stay so)".into()
        }
        _ => format!("blank: unchanged · {CLEAR_WORD}: no limit · {INHERIT}: org default"),
    };
    frame.render_widget(
        Paragraph::new(Span::styled(hint, theme.dim())),
        Rect {
            x: inner.x + 14,
            width: inner.width.saturating_sub(15),
            ..line(inner, 15)
        },
    );
}
