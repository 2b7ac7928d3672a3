//! Time on the usage chart: which span (day, ISO week, month) a day falls in, every span of a
//! range in order (the daemon omits spans without usage; the chart shows them as empty bars so
//! gaps are seen), and how a span is labelled.

use chrono::{Datelike, Days, NaiveDate};
use mama_api::types::{Usage, UsageGroup, UsageReport};

/// The first day of the span of `group` that `day` falls in: the day itself, the Monday of
/// its ISO week, or the first of its month. Groups that are not time are the day itself.
pub fn span_start(day: NaiveDate, group: UsageGroup) -> NaiveDate {
    match group {
        UsageGroup::Week => day - Days::new(u64::from(day.weekday().num_days_from_monday())),
        UsageGroup::Month => day.with_day(1).unwrap_or(day),
        _ => day,
    }
}

/// The first day of the span after the one starting at `start`.
fn next_span(start: NaiveDate, group: UsageGroup) -> Option<NaiveDate> {
    match group {
        UsageGroup::Week => start.checked_add_days(Days::new(7)),
        UsageGroup::Month => start.checked_add_months(chrono::Months::new(1)),
        _ => start.succ_opt(),
    }
}

/// The first days of every span of `group` that `from..=to` touches, in order.
pub fn spans(from: NaiveDate, to: NaiveDate, group: UsageGroup) -> Vec<NaiveDate> {
    let mut out = Vec::new();
    let mut at = span_start(from, group);
    while at <= to {
        out.push(at);
        match next_span(at, group) {
            Some(next) => at = next,
            None => break,
        }
    }
    out
}

/// Usage per span over the report's whole range, empty spans included. `time` is the position
/// of the time key in each row's keys; `only` keeps the rows whose other key (position
/// `1 - time`) is exactly that value (the chart narrowed to one user, organization or model).
pub fn series(
    report: &UsageReport,
    group: UsageGroup,
    time: usize,
    only: Option<&str>,
) -> Vec<(NaiveDate, Usage)> {
    let mut series: Vec<(NaiveDate, Usage)> = spans(report.from, report.to, group)
        .into_iter()
        .map(|start| (start, Usage::default()))
        .collect();
    for row in &report.rows {
        if let Some(only) = only {
            if row.keys.get(1 - time.min(1)).map(String::as_str) != Some(only) {
                continue;
            }
        }
        let Some(day) = row
            .keys
            .get(time)
            .and_then(|k| NaiveDate::parse_from_str(k, "%Y-%m-%d").ok())
        else {
            continue;
        };
        let start = span_start(day, group);
        if let Ok(i) = series.binary_search_by_key(&start, |(s, _)| *s) {
            series[i].1.add(&row.usage);
        }
    }
    series
}

/// A span's label under its bar: `03-02` for a day, `W10` for an ISO week, `2026-03` for a
/// month.
pub fn label(start: NaiveDate, group: UsageGroup) -> String {
    match group {
        UsageGroup::Week => format!("W{:02}", start.iso_week().week()),
        UsageGroup::Month => start.format("%Y-%m").to_string(),
        _ => start.format("%m-%d").to_string(),
    }
}

/// "per day", "per week", "per month".
pub fn per(group: UsageGroup) -> &'static str {
    match group {
        UsageGroup::Week => "per week",
        UsageGroup::Month => "per month",
        _ => "per day",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mama_api::types::{UsageCollection, UsageRow};

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn a_day_falls_in_its_iso_week_and_month() {
        // 2026-03-04 is a Wednesday; its week starts on Monday the 2nd.
        assert_eq!(
            span_start(day("2026-03-04"), UsageGroup::Week),
            day("2026-03-02")
        );
        assert_eq!(
            span_start(day("2026-03-02"), UsageGroup::Week),
            day("2026-03-02")
        );
        // A Sunday belongs to the week that began six days before, across a month.
        assert_eq!(
            span_start(day("2026-03-01"), UsageGroup::Week),
            day("2026-02-23")
        );
        assert_eq!(
            span_start(day("2026-03-31"), UsageGroup::Month),
            day("2026-03-01")
        );
        assert_eq!(
            span_start(day("2026-03-31"), UsageGroup::Day),
            day("2026-03-31")
        );
    }

    #[test]
    fn spans_cover_the_range_including_partial_ends() {
        let days = spans(day("2026-02-27"), day("2026-03-02"), UsageGroup::Day);
        assert_eq!(days.len(), 4, "28 days in February 2026");
        let weeks = spans(day("2026-02-04"), day("2026-03-04"), UsageGroup::Week);
        assert_eq!(weeks.first(), Some(&day("2026-02-02")));
        assert_eq!(weeks.last(), Some(&day("2026-03-02")));
        assert_eq!(weeks.len(), 5);
        let months = spans(day("2025-12-03"), day("2026-03-02"), UsageGroup::Month);
        assert_eq!(
            months,
            vec![
                day("2025-12-01"),
                day("2026-01-01"),
                day("2026-02-01"),
                day("2026-03-01")
            ]
        );
    }

    #[test]
    fn labels_read_as_the_span() {
        assert_eq!(label(day("2026-03-02"), UsageGroup::Day), "03-02");
        assert_eq!(label(day("2026-03-02"), UsageGroup::Week), "W10");
        assert_eq!(label(day("2025-12-29"), UsageGroup::Week), "W01");
        assert_eq!(label(day("2026-03-01"), UsageGroup::Month), "2026-03");
        assert_eq!(per(UsageGroup::Week), "per week");
    }

    fn usage(spend: f64, requests: u64) -> Usage {
        Usage {
            spend,
            successful_requests: requests,
            ..Usage::default()
        }
    }

    fn row(keys: &[&str], spend: f64) -> UsageRow {
        UsageRow {
            keys: keys.iter().map(|k| k.to_string()).collect(),
            deleted: false,
            usage: usage(spend, 1),
        }
    }

    fn report(rows: Vec<UsageRow>) -> UsageReport {
        UsageReport {
            from: day("2026-02-26"),
            to: day("2026-03-04"),
            group: vec![UsageGroup::Day],
            rows,
            rest: None,
            row_count: 0,
            total: Usage::default(),
            not_mamas: None,
            collection: UsageCollection::default(),
        }
    }

    #[test]
    fn missing_days_are_empty_bars_and_days_sum_into_weeks() {
        let r = report(vec![row(&["2026-02-26"], 1.0), row(&["2026-03-03"], 2.5)]);
        let days = series(&r, UsageGroup::Day, 0, None);
        assert_eq!(days.len(), 7);
        assert_eq!(days[0].1.spend, 1.0);
        assert_eq!(days[1].1, Usage::default());
        assert_eq!(days[5].1.spend, 2.5);
        let weeks = series(&r, UsageGroup::Week, 0, None);
        assert_eq!(weeks.len(), 2);
        assert_eq!((weeks[0].0, weeks[0].1.spend), (day("2026-02-23"), 1.0));
        assert_eq!((weeks[1].0, weeks[1].1.spend), (day("2026-03-02"), 2.5));
        assert_eq!(weeks[1].1.requests(), 1);
    }

    #[test]
    fn a_narrowed_series_keeps_only_the_exact_key() {
        // Organization × day, asked with an organization substring: "연구소 본부" also matched.
        let r = report(vec![
            row(&["연구소", "2026-03-01"], 1.0),
            row(&["연구소 본부", "2026-03-01"], 7.0),
            row(&["연구소", "2026-03-02"], 2.0),
        ]);
        let days = series(&r, UsageGroup::Day, 1, Some("연구소"));
        let total: f64 = days.iter().map(|(_, u)| u.spend).sum();
        assert_eq!(total, 3.0);
    }
}
