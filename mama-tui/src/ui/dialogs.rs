//! Popups, drawn bottom to top so a picker sits over the dialog that opened it.

use ratatui::layout::{Position, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};
use ratatui::Frame;

use super::help;
use super::screens::{centered, field_line, password_fields};
use super::theme::Theme;
use crate::app::App;
use crate::popup::{
    op_name, BulkDialog, BulkField, CreateDialog, CreateField, EditDialog, EditField, Picker, Popup,
};
use crate::text::{count, fit, truncate, width, TextArea};

pub fn render(app: &App, frame: &mut Frame, area: Rect, theme: Theme) {
    for popup in &app.popups {
        match popup {
            Popup::Help => help::overlay(app, frame, area, theme),
            Popup::Palette(input) => {
                let rect = Rect {
                    x: area.x,
                    y: area.bottom().saturating_sub(4),
                    width: area.width,
                    height: 3,
                };
                let inner = boxed(frame, rect, " command ");
                let room = usize::from(inner.width).saturating_sub(2);
                frame.render_widget(
                    Paragraph::new(format!(":{}", truncate(input.value(), room))),
                    inner,
                );
                let x = inner.x + 1 + input.cursor_cells().min(room) as u16;
                frame.set_cursor_position(Position { x, y: inner.y });
            }
            Popup::Message { title, lines } => {
                text_box(frame, area, title, lines, Style::default())
            }
            Popup::Confirm(c) => text_box(frame, area, &c.title, &c.lines, theme.warn()),
            Popup::Edit(d) => edit_dialog(d, frame, area, theme),
            Popup::Bulk(d) => bulk_dialog(d, frame, area, theme),
            Popup::Create(d) => create_dialog(d, frame, area, theme),
            Popup::Picker(p) => picker(p, frame, area, theme),
            Popup::Password(form) => {
                let inner = boxed(frame, centered(area, 64, 10), " change my password ");
                password_fields(form, frame, inner, theme);
            }
            Popup::NewAdmin(form) => {
                let inner = boxed(frame, centered(area, 60, 9), " new admin ");
                field_line(
                    frame,
                    line(inner, 1),
                    "username",
                    &form.username,
                    false,
                    form.focus_index == 0,
                    theme,
                );
                field_line(
                    frame,
                    line(inner, 2),
                    "password",
                    &form.password,
                    true,
                    form.focus_index == 1,
                    theme,
                );
                let role_style = if form.focus_index == 2 {
                    theme.focus()
                } else {
                    Style::default()
                };
                frame.render_widget(
                    Paragraph::new(Line::from(vec![
                        Span::styled(fit("role", 13), role_style),
                        Span::raw(format!("◂ {} ▸", form.role.as_str())),
                    ])),
                    line(inner, 3),
                );
                error_line(
                    frame,
                    line(inner, 5),
                    form.error.as_deref(),
                    "they must change the password at first login",
                    theme,
                );
            }
            Popup::Prompt(prompt) => {
                let inner = boxed(frame, centered(area, 56, 6), &format!(" {} ", prompt.title));
                field_line(
                    frame,
                    line(inner, 1),
                    "name",
                    &prompt.input,
                    false,
                    true,
                    theme,
                );
                error_line(frame, line(inner, 2), prompt.error.as_deref(), "", theme);
            }
        }
    }
}

/// Clears `rect`, draws a bordered box and returns its inside.
fn boxed(frame: &mut Frame, rect: Rect, title: &str) -> Rect {
    let block = Block::bordered().title(title.to_string());
    let inner = block.inner(rect);
    super::clear_popup(frame, rect);
    frame.render_widget(block, rect);
    inner
}

fn line(inner: Rect, y: u16) -> Rect {
    Rect {
        x: inner.x + 1,
        y: inner.y + y,
        width: inner.width.saturating_sub(2),
        height: u16::from(y < inner.height),
    }
}

fn error_line(frame: &mut Frame, at: Rect, error: Option<&str>, otherwise: &str, theme: Theme) {
    let span = match error {
        Some(e) => Span::styled(e.to_string(), theme.error()),
        None => Span::styled(otherwise.to_string(), theme.dim()),
    };
    frame.render_widget(Paragraph::new(span), at);
}

fn text_box(frame: &mut Frame, area: Rect, title: &str, lines: &[String], style: Style) {
    let w = lines
        .iter()
        .map(|l| width(l))
        .max()
        .unwrap_or(0)
        .max(width(title) + 4) as u16
        + 4;
    let rect = centered(area, w.max(30), lines.len() as u16 + 2);
    let inner = boxed(frame, rect, &format!(" {title} "));
    let text: Vec<Line> = lines
        .iter()
        .map(|l| {
            Line::raw(format!(
                " {}",
                truncate(l, usize::from(inner.width).saturating_sub(1))
            ))
        })
        .collect();
    frame.render_widget(Paragraph::new(text).style(style), inner);
}

fn label(text: &str, focused: bool, theme: Theme) -> Span<'static> {
    Span::styled(
        fit(text, 13),
        if focused {
            theme.focus()
        } else {
            Style::default()
        },
    )
}

/// A set as a line, with `red` names styled as unavailable.
fn set_line(
    name: &str,
    values: &std::collections::BTreeSet<String>,
    red: &[String],
    focused: bool,
    room: usize,
    theme: Theme,
) -> Line<'static> {
    let mut spans = vec![label(name, focused, theme)];
    if values.is_empty() {
        spans.push(Span::styled("(none)", theme.dim()));
    }
    let mut used = 0;
    for (i, v) in values.iter().enumerate() {
        let text = if i == 0 { v.clone() } else { format!(", {v}") };
        if used + width(&text) > room.saturating_sub(14) {
            spans.push(Span::raw(" …"));
            break;
        }
        used += width(&text);
        let style = if red.contains(v) {
            theme.unavailable()
        } else {
            Style::default()
        };
        spans.push(Span::styled(text, style));
    }
    if focused {
        spans.push(Span::styled("  [enter: pick]", theme.dim()));
    }
    Line::from(spans)
}

fn text_area(
    frame: &mut Frame,
    at: Rect,
    area: &TextArea,
    focused: bool,
    theme: Theme,
    notes: &[(usize, String)],
) {
    let rows = usize::from(at.height);
    let scroll = area.row().saturating_sub(rows.saturating_sub(1));
    let mut lines = Vec::new();
    for (n, text) in area.lines().enumerate().skip(scroll).take(rows) {
        let mut spans = vec![Span::raw(truncate(text, usize::from(at.width)))];
        if let Some((_, note)) = notes.iter().find(|(line, _)| *line == n) {
            spans.push(Span::styled(format!("  ← {note}"), theme.error()));
        }
        lines.push(Line::from(spans));
    }
    frame.render_widget(Paragraph::new(lines), at);
    if focused {
        let x = at.x
            + area
                .cursor_cells()
                .min(usize::from(at.width).saturating_sub(1)) as u16;
        let y = at.y + (area.row() - scroll) as u16;
        frame.set_cursor_position(Position { x, y });
    }
}

fn edit_dialog(d: &EditDialog, frame: &mut Frame, area: Rect, theme: Theme) {
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
    let state = match super::table::key_state(&d.user) {
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

fn bulk_dialog(d: &BulkDialog, frame: &mut Frame, area: Rect, theme: Theme) {
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

fn create_dialog(d: &CreateDialog, frame: &mut Frame, area: Rect, theme: Theme) {
    let rect = centered(
        area,
        area.width.saturating_sub(4).max(40),
        area.height.saturating_sub(4).max(10),
    );
    let inner = boxed(frame, rect, " create users ");
    frame.render_widget(
        Paragraph::new(Span::styled(
            "one per line: id,organization,models;…,services;…  (paste works)",
            theme.dim(),
        )),
        line(inner, 0),
    );
    let rows_rect = Rect {
        x: inner.x + 1,
        y: inner.y + 1,
        width: inner.width.saturating_sub(2),
        height: inner.height.saturating_sub(4),
    };
    text_area(
        frame,
        rows_rect,
        &d.rows,
        d.focus == CreateField::Rows,
        theme,
        &d.row_errors,
    );
    let path_at = line(inner, inner.height.saturating_sub(2));
    field_line(
        frame,
        path_at,
        "or CSV file",
        &d.csv_path,
        false,
        d.focus == CreateField::CsvPath,
        theme,
    );
    let at = line(inner, inner.height.saturating_sub(1));
    if d.busy {
        error_line(frame, at, None, "working…", theme);
    } else {
        error_line(
            frame,
            at,
            d.error.as_deref(),
            "ctrl-s creates all rows (all or nothing) · tab: CSV path, enter loads it",
            theme,
        );
    }
}

fn picker(p: &Picker, frame: &mut Frame, area: Rect, theme: Theme) {
    let rect = centered(area, 50, area.height.saturating_sub(2));
    let title = match p.target {
        crate::popup::PickerTarget::Models => " pick models ",
        crate::popup::PickerTarget::Services => " pick services ",
    };
    let inner = boxed(frame, rect, title);
    field_line(
        frame,
        line(inner, 0),
        "search",
        &p.query,
        false,
        true,
        theme,
    );
    let visible = p.visible();
    let rows = usize::from(inner.height.saturating_sub(2));
    let scroll = p.cursor.saturating_sub(rows.saturating_sub(1));
    let mut lines = Vec::new();
    for (i, (name, available)) in visible.iter().enumerate().skip(scroll).take(rows) {
        let check = if p.chosen.contains(name) {
            "[x] "
        } else {
            "[ ] "
        };
        let mut text = format!("{check}{name}");
        if !available {
            text.push_str(" (unavailable)");
        }
        let mut style = if *available {
            Style::default()
        } else {
            theme.unavailable()
        };
        if i == p.cursor {
            style = style.patch(theme.selected());
        }
        lines.push(Line::styled(
            fit(&text, usize::from(inner.width).saturating_sub(2)),
            style,
        ));
    }
    if visible.is_empty() && !p.query.is_empty() {
        lines.push(Line::styled(
            format!("enter adds \"{}\"", p.query.value()),
            theme.dim(),
        ));
    }
    let list = Rect {
        x: inner.x + 1,
        y: inner.y + 2,
        width: inner.width.saturating_sub(2),
        height: inner.height.saturating_sub(2),
    };
    frame.render_widget(Paragraph::new(lines), list);
}
