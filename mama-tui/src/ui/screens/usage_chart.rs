//! The usage chart: one bar per day, week or month of the range (empty ones included), a
//! heading with the unit, the peak and the sum, the top and zero of the scale on the left, and
//! span labels under the bars. Bars are block characters, so the chart reads the same without
//! colour.

use chrono::NaiveDate;
use mama_api::types::{Usage, UsageGroup, UsageMeasure};
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Bar, BarChart, BarGroup, Paragraph};
use ratatui::Frame;

use crate::app::App;
use crate::text::{truncate, width};
use crate::ui::theme::Theme;
use crate::usage::buckets::{label, per};
use crate::usage::measure_text;

/// Widest bar drawn (one day of "today" should not fill the screen).
const MAX_BAR: u16 = 9;

/// The value a bar stands for, in whole units the bar chart takes (cents for USD).
fn bar_value(measure: UsageMeasure, value: f64) -> u64 {
    let scaled = match measure {
        UsageMeasure::Spend => value * 100.0,
        _ => value,
    };
    scaled.max(0.0).round() as u64
}

/// How `n` bars fit in `cells`: (bar width, gap, how many of the last bars are shown).
pub fn geometry(n: usize, cells: u16) -> (u16, u16, usize) {
    let cells = usize::from(cells);
    if n == 0 || cells == 0 {
        return (1, 0, 0);
    }
    if n > cells {
        return (1, 0, cells);
    }
    let gap = usize::from(2 * n <= cells + 1);
    let bar = ((cells + gap) / n).saturating_sub(gap).max(1);
    (bar.min(usize::from(MAX_BAR)) as u16, gap as u16, n)
}

pub fn render(app: &App, frame: &mut Frame, area: Rect, theme: Theme) {
    if area.height < 3 || area.width < 10 {
        return;
    }
    let u = &app.usage;
    let measure = u.measure;
    let Some(series) = u.chart_series() else {
        let text = match (&u.error, u.chart_loading) {
            (Some(e), _) => Span::styled(truncate(e, usize::from(area.width)), theme.error()),
            _ => Span::styled("  chart loading…", theme.dim()),
        };
        frame.render_widget(Paragraph::new(text), area);
        return;
    };
    let group = u
        .chart
        .as_ref()
        .and_then(|c| c.group.iter().copied().find(|g| g.is_time()));
    let group = group.unwrap_or(UsageGroup::Day);
    let values: Vec<f64> = series.iter().map(|(_, v)| v.measure(measure)).collect();
    let peak = values.iter().copied().fold(0.0, f64::max);
    let sum: f64 = values.iter().sum();
    let top_label = measure_text(measure, peak);
    let gutter = width(&top_label).max(1) as u16 + 1;
    let bars_width = area.width.saturating_sub(gutter);
    let (bar, gap, shown) = geometry(series.len(), bars_width);
    let skipped = series.len() - shown;
    let shown_series = &series[skipped..];

    // The heading: what is drawn, in which unit, and for what.
    let mut heading = format!(" {} {} ({})", measure.as_str(), per(group), measure.unit());
    if let Some(focus) = &u.focus {
        let name = if focus.key.is_empty() {
            "(none)"
        } else {
            &focus.key
        };
        heading = format!("{heading} · {} {name}", focus.group.as_str());
    }
    heading.push_str(&format!(
        " · peak {}{} · sum {}",
        top_label,
        peak_at(&series, &values, peak, group),
        measure_text(measure, sum)
    ));
    if skipped > 0 {
        heading.push_str(&format!(" · last {shown} of {} shown", series.len()));
    }
    if u.chart_loading {
        heading.push_str(" · loading…");
    }
    let heading_area = Rect { height: 1, ..area };
    frame.render_widget(
        Paragraph::new(Span::styled(
            truncate(&heading, usize::from(area.width)),
            Style::default().add_modifier(ratatui::style::Modifier::BOLD),
        )),
        heading_area,
    );

    let bars_area = Rect {
        x: area.x + gutter,
        y: area.y + 1,
        width: bars_width,
        height: area.height - 2,
    };
    let scale = Rect {
        x: area.x,
        width: gutter,
        ..bars_area
    };
    let mut scale_lines = vec![Line::from(format!("{top_label}┤"))];
    for _ in 2..bars_area.height {
        scale_lines.push(Line::from(format!(
            "{}│",
            " ".repeat(usize::from(gutter - 1))
        )));
    }
    if bars_area.height > 1 {
        scale_lines.push(Line::from(format!(
            "{}0┤",
            " ".repeat(usize::from(gutter - 2))
        )));
    }
    frame.render_widget(Paragraph::new(scale_lines).style(theme.dim()), scale);

    if peak <= 0.0 {
        let text = if u.chart_loading {
            "loading…"
        } else {
            "no usage in this range"
        };
        let y = bars_area.y + bars_area.height / 2;
        frame.render_widget(
            Paragraph::new(Span::styled(format!("  {text}"), theme.dim())),
            Rect {
                y,
                height: 1,
                ..bars_area
            },
        );
    } else {
        let bars: Vec<Bar> = shown_series
            .iter()
            .map(|(_, usage)| {
                let value = usage.measure(measure);
                let text = short_value(measure, value);
                let text = if value > 0.0 && width(&text) <= usize::from(bar) {
                    text
                } else {
                    String::new()
                };
                Bar::default()
                    .value(bar_value(measure, value))
                    .text_value(text)
            })
            .collect();
        let bar_style = if theme.color {
            Style::default().fg(Color::Cyan)
        } else {
            Style::default()
        };
        let chart = BarChart::default()
            .data(BarGroup::default().bars(&bars))
            .bar_width(bar)
            .bar_gap(gap)
            .bar_style(bar_style)
            .value_style(bar_style.add_modifier(ratatui::style::Modifier::REVERSED))
            .max(bar_value(measure, peak).max(1));
        frame.render_widget(chart, bars_area);
    }

    let labels_area = Rect {
        x: area.x,
        y: area.bottom() - 1,
        width: area.width,
        height: 1,
    };
    let line = axis_labels(shown_series, group, gutter, bar, gap, area.width);
    frame.render_widget(Paragraph::new(Span::styled(line, theme.dim())), labels_area);
}

/// ` on 03-02` for the span with the peak (the first, when several tie), or nothing.
fn peak_at(series: &[(NaiveDate, Usage)], values: &[f64], peak: f64, group: UsageGroup) -> String {
    if peak <= 0.0 {
        return String::new();
    }
    values
        .iter()
        .position(|v| *v == peak)
        .and_then(|i| series.get(i))
        .map_or(String::new(), |(start, _)| {
            format!(" on {}", label(*start, group))
        })
}

/// A value short enough for the inside of a bar: `12.3`, `4k`.
fn short_value(measure: UsageMeasure, value: f64) -> String {
    match measure {
        UsageMeasure::Spend if value >= 100.0 => format!("{value:.0}"),
        UsageMeasure::Spend => format!("{value:.1}"),
        _ => crate::limits::compact(value.max(0.0).round() as u64),
    }
}

/// Span labels under the bars, each starting under its bar, as many as fit without touching.
pub fn axis_labels(
    series: &[(NaiveDate, Usage)],
    group: UsageGroup,
    gutter: u16,
    bar: u16,
    gap: u16,
    total: u16,
) -> String {
    let total = usize::from(total);
    let mut line = " ".repeat(usize::from(gutter));
    let mut next_free = usize::from(gutter);
    for (i, (start, _)) in series.iter().enumerate() {
        let x = usize::from(gutter) + i * usize::from(bar + gap);
        let text = label(*start, group);
        let w = width(&text);
        if x < next_free || x + w > total {
            continue;
        }
        line.push_str(&" ".repeat(x - width(&line)));
        line.push_str(&text);
        next_free = x + w + 1;
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn bars_fill_the_width_and_overflow_shows_the_latest() {
        assert_eq!(geometry(30, 73), (1, 1, 30));
        assert_eq!(geometry(5, 73), (9, 1, 5), "capped");
        assert_eq!(geometry(13, 73), (4, 1, 13));
        assert_eq!(geometry(90, 73), (1, 0, 73));
        assert_eq!(geometry(0, 73), (1, 0, 0));
    }

    #[test]
    fn labels_sit_under_their_bars_without_touching() {
        let series: Vec<(NaiveDate, Usage)> =
            ["2026-03-01", "2026-03-02", "2026-03-03", "2026-03-04"]
                .iter()
                .map(|d| (day(d), Usage::default()))
                .collect();
        // Bars 2 wide with a gap: x = 3, 6, 9, 12; a 5-cell label skips the next bar.
        let line = axis_labels(&series, UsageGroup::Day, 3, 2, 1, 40);
        assert_eq!(line, "   03-01 03-03");
        let line = axis_labels(&series, UsageGroup::Day, 3, 6, 1, 40);
        assert_eq!(line, "   03-01  03-02  03-03  03-04");
        // What would run past the edge is left out.
        let line = axis_labels(&series, UsageGroup::Day, 3, 6, 1, 20);
        assert_eq!(line, "   03-01  03-02");
    }

    #[test]
    fn usd_is_charted_in_cents() {
        assert_eq!(bar_value(UsageMeasure::Spend, 12.345), 1235);
        assert_eq!(bar_value(UsageMeasure::Requests, 7.0), 7);
        assert_eq!(short_value(UsageMeasure::Spend, 4.21), "4.2");
        assert_eq!(short_value(UsageMeasure::Tokens, 12_000.0), "12k");
    }
}
