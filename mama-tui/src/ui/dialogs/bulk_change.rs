//! A change to every marked user at once: set operations on models and services, the
//! organization, info keys to set or remove.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::shared::{boxed, error_line, label, line, set_line, text_area};
use crate::popup::{op_name, BulkDialog, BulkField};
use crate::text::count;
use crate::ui::form::field_line;
use crate::ui::layout::centered;
use crate::ui::theme::Theme;

pub fn render(d: &BulkDialog, frame: &mut Frame, area: Rect, theme: Theme) {
    let rect = centered(area, 72, 14);
    let inner = boxed(
        frame,
        rect,
        &format!(" bulk edit {} ", count(d.targets, "marked user")),
    );
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
