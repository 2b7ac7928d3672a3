//! The usage screen's model: what the operator chose (measure, time buckets, what the table
//! ranks, the range, the filter, the row the chart is narrowed to), the two reports that answer
//! it (the ranked table and the chart), and the pure helpers the screen and the export share.

pub mod buckets;
pub mod filter;

use mama_api::types::{
    Usage, UsageFilter, UsageGroup, UsageMeasure, UsagePreset, UsageQueryParams, UsageRange,
    UsageReport, UsageRow,
};

use crate::csv;
use crate::limits::compact;
use crate::text::TextInput;

/// The measures the screen toggles through (the request split is in the table).
pub const MEASURES: [UsageMeasure; 3] = [
    UsageMeasure::Spend,
    UsageMeasure::Requests,
    UsageMeasure::Tokens,
];
/// The chart's time buckets.
pub const BUCKETS: [UsageGroup; 3] = [UsageGroup::Day, UsageGroup::Week, UsageGroup::Month];
/// What the table can rank.
pub const RANKS: [UsageGroup; 3] = [
    UsageGroup::User,
    UsageGroup::Organization,
    UsageGroup::Model,
];
/// Rows the table asks for; the rest comes summed in one line.
pub const TABLE_TOP: u32 = 1000;
/// Rows an export asks for (the most `usage.query` answers).
pub const EXPORT_TOP: u32 = 10_000;

/// The chart narrowed to one row of the table: a user, an organization or a model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Focus {
    pub group: UsageGroup,
    pub key: String,
}

#[derive(Debug)]
pub struct UsageState {
    pub measure: UsageMeasure,
    /// Smallest first (the table's sort reversed).
    pub ascending: bool,
    pub buckets: UsageGroup,
    pub rank_by: UsageGroup,
    pub preset: UsagePreset,
    pub filter_input: TextInput,
    pub filter_editing: bool,
    pub filter: UsageFilter,
    pub filter_error: Option<String>,
    pub focus: Option<Focus>,
    /// The ranked table's report, once answered.
    pub table: Option<UsageReport>,
    /// The chart's report, once answered.
    pub chart: Option<UsageReport>,
    pub selected: usize,
    /// Numbers of the last queries asked; older answers are dropped.
    pub table_query: u64,
    pub chart_query: u64,
    pub table_loading: bool,
    pub chart_loading: bool,
    /// Why the last query failed (the screen says it where the data would be).
    pub error: Option<String>,
    /// When the table was last asked for (the backfill's progress is asked for again).
    pub asked_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl Default for UsageState {
    fn default() -> Self {
        UsageState {
            measure: UsageMeasure::Spend,
            ascending: false,
            buckets: UsageGroup::Day,
            rank_by: UsageGroup::User,
            preset: UsagePreset::Last30Days,
            filter_input: TextInput::default(),
            filter_editing: false,
            filter: UsageFilter::default(),
            filter_error: None,
            focus: None,
            table: None,
            chart: None,
            selected: 0,
            table_query: 0,
            chart_query: 0,
            table_loading: false,
            chart_loading: false,
            error: None,
            asked_at: None,
        }
    }
}

impl UsageState {
    /// The params of the ranked table's query.
    pub fn table_params(&self, top: u32) -> UsageQueryParams {
        UsageQueryParams {
            range: UsageRange::Preset(self.preset),
            group: vec![self.rank_by],
            filter: self.filter.clone(),
            sort: self.measure,
            ascending: self.ascending,
            top: Some(top),
        }
    }

    /// The params of the chart's query: by time alone, or, narrowed to a row, by the row's
    /// group × time with the filter narrowed as far as it can be (organizations match as a
    /// substring, so the exact one is picked out of the answer by [`Self::chart_series`]).
    pub fn chart_params(&self) -> UsageQueryParams {
        let mut filter = self.filter.clone();
        let group = match &self.focus {
            None => vec![self.buckets],
            Some(focus) => {
                match focus.group {
                    UsageGroup::User => filter.user_ids = vec![focus.key.clone()],
                    UsageGroup::Model => filter.model = Some(focus.key.clone()),
                    // The users without one are picked out of the answer instead.
                    UsageGroup::Organization if !focus.key.is_empty() => {
                        filter.organization = Some(focus.key.clone())
                    }
                    _ => {}
                }
                vec![focus.group, self.buckets]
            }
        };
        UsageQueryParams {
            range: UsageRange::Preset(self.preset),
            group,
            filter,
            sort: self.measure,
            ascending: false,
            top: Some(EXPORT_TOP),
        }
    }

    /// The chart's bars: usage per bucket over the range, empty buckets included.
    pub fn chart_series(&self) -> Option<Vec<(chrono::NaiveDate, Usage)>> {
        let report = self.chart.as_ref()?;
        let time = report.group.iter().position(|g| g.is_time())?;
        let only = match &self.focus {
            Some(focus) if report.group.len() == 2 => Some(focus.key.as_str()),
            _ => None,
        };
        let group = report.group[time];
        Some(buckets::series(report, group, time, only))
    }

    pub fn rows(&self) -> &[UsageRow] {
        self.table.as_ref().map_or(&[], |t| t.rows.as_slice())
    }

    pub fn selected_row(&self) -> Option<&UsageRow> {
        self.rows().get(self.selected)
    }

    pub fn move_by(&mut self, delta: i64) {
        let max = self.rows().len().saturating_sub(1) as i64;
        self.selected = (self.selected as i64 + delta).clamp(0, max.max(0)) as usize;
    }
}

/// The next item of `all` after `current` (or before it when `back`), wrapping.
pub fn cycle<T: PartialEq + Copy>(all: &[T], current: T, back: bool) -> T {
    let i = all.iter().position(|x| *x == current).unwrap_or(0);
    let n = all.len().max(1);
    let next = if back { (i + n - 1) % n } else { (i + 1) % n };
    all.get(next).copied().unwrap_or(current)
}

/// A preset as people say it: `today`, `7d`, `this month`.
pub fn preset_text(preset: UsagePreset) -> &'static str {
    match preset {
        UsagePreset::ThisMonth => "this month",
        UsagePreset::LastMonth => "last month",
        other => other.as_str(),
    }
}

/// What the table ranks, as a column heading.
pub fn group_noun(group: UsageGroup) -> &'static str {
    match group {
        UsageGroup::Organization => "organization",
        other => other.as_str(),
    }
}

/// One value of a measure with its unit's usual form: `$12.34`, `1,234`, `1.2M`.
pub fn measure_text(measure: UsageMeasure, value: f64) -> String {
    match measure {
        UsageMeasure::Spend => usd(value),
        UsageMeasure::Tokens => compact(value.max(0.0).round() as u64),
        _ => thousands(value.max(0.0).round() as u64),
    }
}

/// USD with cents; a little above zero reads `<$0.01`, not `$0.00`.
pub fn usd(value: f64) -> String {
    if value > 0.0 && value < 0.005 {
        "<$0.01".into()
    } else {
        format!("${value:.2}")
    }
}

/// `1234567` as `1,234,567`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `part` of `total` in percent (0 when there is no total).
pub fn share(part: f64, total: f64) -> f64 {
    if total > 0.0 {
        part / total * 100.0
    } else {
        0.0
    }
}

/// The name of a table row: its key, `(none)` for the users without an organization.
pub fn row_name(row: &UsageRow) -> &str {
    match row.keys.first().map(String::as_str) {
        Some("") | None => "(none)",
        Some(key) => key,
    }
}

/// The report as CSV: one line per row (and one for the rows beyond `top`), every measure, and
/// the share of `measure`.
pub fn csv_text(report: &UsageReport, measure: UsageMeasure) -> String {
    let group = report.group.first().map_or("group", |g| group_noun(*g));
    let mut out = csv::write_row(&[
        group,
        "deleted",
        "from",
        "to",
        "spend_usd",
        "requests",
        "successful_requests",
        "failed_requests",
        "prompt_tokens",
        "completion_tokens",
        "total_tokens",
        &format!("share_of_{}_percent", measure.as_str()),
    ]);
    out.push('\n');
    let total = report.total.measure(measure);
    let from = report.from.to_string();
    let to = report.to.to_string();
    let mut line = |name: &str, deleted: bool, u: &Usage| {
        out.push_str(&csv::write_row(&[
            name.to_string(),
            deleted.to_string(),
            from.clone(),
            to.clone(),
            format!("{:.6}", u.spend),
            u.requests().to_string(),
            u.successful_requests.to_string(),
            u.failed_requests.to_string(),
            u.prompt_tokens.to_string(),
            u.completion_tokens.to_string(),
            u.total_tokens.to_string(),
            format!("{:.2}", share(u.measure(measure), total)),
        ]));
        out.push('\n');
    };
    for row in &report.rows {
        line(
            row.keys.first().map_or("", String::as_str),
            row.deleted,
            &row.usage,
        );
    }
    if let Some(rest) = &report.rest {
        line("(rest)", false, rest);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use mama_api::types::UsageCollection;

    #[test]
    fn numbers_read_in_their_units() {
        assert_eq!(measure_text(UsageMeasure::Spend, 12.345), "$12.35");
        assert_eq!(measure_text(UsageMeasure::Spend, 0.001), "<$0.01");
        assert_eq!(measure_text(UsageMeasure::Spend, 0.0), "$0.00");
        assert_eq!(
            measure_text(UsageMeasure::Requests, 1_234_567.0),
            "1,234,567"
        );
        assert_eq!(measure_text(UsageMeasure::Requests, 999.0), "999");
        assert_eq!(measure_text(UsageMeasure::Tokens, 1_250_000.0), "1.2M");
        assert_eq!(share(1.0, 4.0), 25.0);
        assert_eq!(share(1.0, 0.0), 0.0);
    }

    #[test]
    fn toggles_wrap_both_ways() {
        assert_eq!(
            cycle(&MEASURES, UsageMeasure::Tokens, false),
            UsageMeasure::Spend
        );
        assert_eq!(
            cycle(&UsagePreset::ALL, UsagePreset::Today, true),
            UsagePreset::LastMonth
        );
        assert_eq!(cycle(&BUCKETS, UsageGroup::Day, false), UsageGroup::Week);
    }

    #[test]
    fn a_narrowed_chart_asks_for_the_row_by_time() {
        let mut state = UsageState {
            focus: Some(Focus {
                group: UsageGroup::Organization,
                key: "연구소".into(),
            }),
            buckets: UsageGroup::Week,
            ..UsageState::default()
        };
        let params = state.chart_params();
        assert_eq!(params.group, [UsageGroup::Organization, UsageGroup::Week]);
        assert_eq!(params.filter.organization.as_deref(), Some("연구소"));
        state.focus = Some(Focus {
            group: UsageGroup::User,
            key: "김철수".into(),
        });
        assert_eq!(state.chart_params().filter.user_ids, ["김철수"]);
        state.focus = None;
        assert_eq!(state.chart_params().group, [UsageGroup::Week]);
        let table = state.table_params(TABLE_TOP);
        assert_eq!(table.group, [UsageGroup::User]);
        assert_eq!(table.top, Some(TABLE_TOP));
    }

    #[test]
    fn csv_has_every_measure_and_the_rest() {
        let day = |s| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let usage = Usage {
            spend: 3.0,
            successful_requests: 9,
            failed_requests: 1,
            prompt_tokens: 100,
            completion_tokens: 50,
            total_tokens: 150,
        };
        let report = UsageReport {
            from: day("2026-02-01"),
            to: day("2026-03-02"),
            group: vec![UsageGroup::Organization],
            rows: vec![UsageRow {
                keys: vec!["연구소, 본사".into()],
                deleted: false,
                usage,
            }],
            rest: Some(usage),
            row_count: 2,
            total: Usage {
                spend: 6.0,
                ..usage
            },
            not_mamas: None,
            collection: UsageCollection::default(),
        };
        let text = csv_text(&report, UsageMeasure::Spend);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "organization,deleted,from,to,spend_usd,requests,successful_requests,failed_requests,prompt_tokens,completion_tokens,total_tokens,share_of_spend_percent");
        assert_eq!(
            lines[1],
            "\"연구소, 본사\",false,2026-02-01,2026-03-02,3.000000,10,9,1,100,50,150,50.00"
        );
        assert!(lines[2].starts_with("(rest),"), "{text}");
    }
}
