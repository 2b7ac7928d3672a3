//! The usage screen: two summary lines (what is shown, for which range, how fresh), the chart
//! of the measure over time, and the ranked table beside it (wide terminals) or under it.

use chrono::{DateTime, Utc};
use mama_api::types::{UsageCollection, UsageGroup, UsageMeasure, UsageReport, UsageRow};
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::usage_chart;
use crate::app::App;
use crate::text::{truncate, width};
use crate::ui::table::{Cell, Column, ListTable, Row, Rows};
use crate::ui::theme::Theme;
use crate::usage::filter::describe;
use crate::usage::{group_noun, measure_text, preset_text, row_name, share, thousands, usd};

/// From this width the chart and the table sit side by side.
const SIDE_BY_SIDE: u16 = 140;

fn columns(rank_by: UsageGroup) -> [Column; 7] {
    [
        Column::fit("#", 3, 5, 3),
        Column::fit(group_noun(rank_by), 8, 32, 1),
        Column::fit("spend", 7, 12, 2),
        Column::fit("requests", 8, 13, 2),
        Column::fit("failed", 6, 9, 0),
        Column::fit("tokens", 6, 9, 2),
        Column::fit("share", 15, 15, 4),
    ]
}

fn sort_column(measure: UsageMeasure) -> usize {
    match measure {
        UsageMeasure::Spend => 2,
        UsageMeasure::Tokens => 5,
        _ => 3,
    }
}

pub fn render(app: &App, frame: &mut Frame, area: Rect, theme: Theme) {
    if area.height < 3 {
        return;
    }
    let summary = Rect { height: 2, ..area };
    frame.render_widget(
        Paragraph::new(summary_lines(app, theme, area.width)),
        summary,
    );
    let rest = Rect {
        y: area.y + 2,
        height: area.height - 2,
        ..area
    };
    if area.width >= SIDE_BY_SIDE {
        let chart_width = area.width * 9 / 20;
        let chart = Rect {
            width: chart_width - 1,
            ..rest
        };
        let table = Rect {
            x: rest.x + chart_width + 1,
            width: rest.width - chart_width - 1,
            ..rest
        };
        usage_chart::render(app, frame, chart, theme);
        render_table(app, frame, table, theme);
    } else {
        let chart_height = (rest.height * 2 / 5).clamp(5, 12).min(rest.height);
        let chart = Rect {
            height: chart_height,
            ..rest
        };
        let table = Rect {
            y: rest.y + chart_height,
            height: rest.height - chart_height,
            ..rest
        };
        usage_chart::render(app, frame, chart, theme);
        render_table(app, frame, table, theme);
    }
}

/// `30d 2026-02-01 – 2026-03-02 · user 김철수            as of 09:55 UTC`, then
/// the totals.
fn summary_lines(app: &App, theme: Theme, total: u16) -> Vec<Line<'static>> {
    let u = &app.usage;
    let total = usize::from(total);
    let range = match u.table.as_ref().or(u.chart.as_ref()) {
        Some(r) => format!("{} {} – {}", preset_text(u.preset), r.from, r.to),
        None => preset_text(u.preset).to_string(),
    };
    let left = format!(" {range} · {}", describe(&u.filter));
    let (fresh, fresh_style) = match u.table.as_ref().or(u.chart.as_ref()) {
        Some(report) => freshness(&report.collection, app.now, theme),
        None => (String::new(), theme.dim()),
    };
    let room = total.saturating_sub(width(&fresh) + 2);
    let left = truncate(&left, room);
    let pad = total.saturating_sub(width(&left) + width(&fresh) + 1);
    let first = Line::from(vec![
        Span::styled(
            left,
            theme
                .header()
                .remove_modifier(ratatui::style::Modifier::UNDERLINED),
        ),
        Span::raw(" ".repeat(pad)),
        Span::styled(fresh, fresh_style),
    ]);
    let second = match (&u.error, u.table.as_ref()) {
        (Some(error), _) => Line::styled(
            format!(" {}", truncate(error, total.saturating_sub(1))),
            theme.error(),
        ),
        (None, Some(report)) => {
            let mut text = format!(" total {}", totals(report));
            if u.table_loading || u.chart_loading {
                text.push_str(" · loading…");
            }
            Line::raw(truncate(&text, total))
        }
        (None, None) => Line::styled(" loading…", theme.dim()),
    };
    vec![first, second]
}

/// `$123.45 · 4,567 requests (12 failed) · 1.2M tokens`, and what keys that are not mama's
/// used.
fn totals(report: &UsageReport) -> String {
    let t = &report.total;
    let mut text = format!(
        "{} · {} requests ({} failed) · {} tokens",
        usd(t.spend),
        thousands(t.requests()),
        thousands(t.failed_requests),
        crate::limits::compact(t.total_tokens)
    );
    if let Some(n) = &report.not_mamas {
        if n.requests() > 0 || n.spend > 0.0 {
            text.push_str(&format!(" · not mama's keys {}", usd(n.spend)));
        }
    }
    text
}

/// `as of 09:55 UTC (5m ago)`, `collecting… 12/90 days`, or why there is nothing yet.
pub fn freshness(
    c: &UsageCollection,
    now: DateTime<Utc>,
    theme: Theme,
) -> (String, ratatui::style::Style) {
    if let Some(progress) = c.backfill {
        return (
            format!("collecting… {}/{} days", progress.days_done, progress.days),
            theme.warn(),
        );
    }
    let Some(at) = c.as_of else {
        return ("not collected yet".into(), theme.warn());
    };
    let when = if at.date_naive() == now.date_naive() {
        at.format("%H:%M UTC").to_string()
    } else {
        at.format("%Y-%m-%d %H:%M UTC").to_string()
    };
    let minutes = (now - at).num_minutes();
    let age = match minutes {
        ..1 => String::new(),
        1..60 => format!(" ({minutes}m ago)"),
        _ => format!(" ({}h ago)", minutes / 60),
    };
    let text = format!("as of {when}{age}");
    match &c.last_error {
        Some(_) => (format!("{text} · last collection failed"), theme.error()),
        None => (text, theme.dim()),
    }
}

fn render_table(app: &App, frame: &mut Frame, area: Rect, theme: Theme) {
    let u = &app.usage;
    let report = u.table.as_ref();
    let rest = report.and_then(|r| r.rest.as_ref().map(|rest| (r, rest)));
    let table_area = Rect {
        height: area.height.saturating_sub(u16::from(rest.is_some())),
        ..area
    };
    let measure = u.measure;
    let grand = report.map_or(0.0, |r| r.total.measure(measure));
    let focus_key = u
        .focus
        .as_ref()
        .filter(|f| f.group == u.rank_by)
        .map(|f| f.key.as_str());
    let rows = Rows::scrolled(u.rows(), u.selected, report.is_some(), table_area, |row| {
        table_row(row, measure, grand, focus_key, theme)
    });
    let rank = rows.rows.first().map_or(0, |(i, _)| *i);
    let rows = Rows {
        rows: rows
            .rows
            .into_iter()
            .enumerate()
            .map(|(n, (i, row))| {
                let row = row.map(|mut row| {
                    if let Some(cell) = row.cells.first_mut() {
                        *cell = Cell::plain(format!("{}", rank + n as u64 + 1));
                    }
                    row
                });
                (i, row)
            })
            .collect(),
        ..rows
    };
    let columns = columns(u.rank_by);
    let empty = if u.error.is_some() && report.is_none() {
        "no answer (see above)"
    } else {
        "no usage in this range"
    };
    ListTable::new(&columns, empty)
        .gap(1)
        .marks()
        .sorted(Some(sort_column(measure)), !u.ascending)
        .render(frame, table_area, theme, &rows);
    if let Some((report, rest)) = rest {
        let more = report.row_count.saturating_sub(report.rows.len() as u64);
        let text = format!(
            "  … {} more: {} · {} requests · {} tokens",
            thousands(more),
            usd(rest.spend),
            thousands(rest.requests()),
            crate::limits::compact(rest.total_tokens)
        );
        frame.render_widget(
            Paragraph::new(Span::styled(
                truncate(&text, usize::from(area.width)),
                theme.dim(),
            )),
            Rect {
                y: area.bottom() - 1,
                height: 1,
                ..area
            },
        );
    }
}

fn table_row(
    row: &UsageRow,
    measure: UsageMeasure,
    grand: f64,
    focus: Option<&str>,
    theme: Theme,
) -> Row {
    let u = &row.usage;
    let name = if row.deleted {
        Cell::styled(format!("{} (deleted)", row_name(row)), theme.dim())
    } else if row.keys.first().is_some_and(|k| k.is_empty()) {
        Cell::styled(row_name(row), theme.dim())
    } else {
        Cell::plain(row_name(row))
    };
    let failed = if u.failed_requests > 0 {
        Cell::styled(thousands(u.failed_requests), theme.warn())
    } else {
        Cell::plain("0")
    };
    let pct = share(u.measure(measure), grand);
    let mut r = Row::new(vec![
        Cell::default(),
        name,
        Cell::plain(usd(u.spend)),
        Cell::plain(thousands(u.requests())),
        failed,
        Cell::plain(measure_text(UsageMeasure::Tokens, u.total_tokens as f64)),
        Cell::plain(format!("{pct:>5.1}% {}", share_bar(pct, 8))),
    ]);
    r.marked = focus.is_some_and(|f| row.keys.first().map(String::as_str) == Some(f));
    r
}

/// `pct` as a bar of `cells` cells in eighths (`███▍`).
pub fn share_bar(pct: f64, cells: usize) -> String {
    const EIGHTHS: [&str; 8] = ["", "▏", "▎", "▍", "▌", "▋", "▊", "▉"];
    let eighths = ((pct.clamp(0.0, 100.0) / 100.0) * (cells * 8) as f64).round() as usize;
    let mut bar = "█".repeat(eighths / 8);
    bar.push_str(EIGHTHS[eighths % 8]);
    bar
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use mama_api::types::BackfillProgress;

    #[test]
    fn share_bars_are_eighths() {
        assert_eq!(share_bar(100.0, 10), "██████████");
        assert_eq!(share_bar(50.0, 10), "█████");
        assert_eq!(share_bar(4.0, 10), "▍");
        assert_eq!(share_bar(0.0, 10), "");
    }

    #[test]
    fn freshness_says_as_of_or_collecting() {
        let theme = Theme { color: false };
        let now = Utc.with_ymd_and_hms(2026, 3, 2, 10, 0, 0).unwrap();
        let mut c = UsageCollection {
            as_of: Some(Utc.with_ymd_and_hms(2026, 3, 2, 9, 55, 0).unwrap()),
            ..Default::default()
        };
        assert_eq!(freshness(&c, now, theme).0, "as of 09:55 UTC (5m ago)");
        c.as_of = Some(Utc.with_ymd_and_hms(2026, 3, 1, 7, 0, 0).unwrap());
        assert_eq!(
            freshness(&c, now, theme).0,
            "as of 2026-03-01 07:00 UTC (27h ago)"
        );
        c.backfill = Some(BackfillProgress {
            days_done: 12,
            days: 90,
        });
        assert_eq!(freshness(&c, now, theme).0, "collecting… 12/90 days");
        assert_eq!(
            freshness(&UsageCollection::default(), now, theme).0,
            "not collected yet"
        );
    }
}
