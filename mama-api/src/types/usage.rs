//! Usage and spend as mama collected it from LiteLLM (`usage.query`, `usage.refresh`): per UTC
//! day × user × model, attributed through the hash of every key mama ever minted for a user.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// What was used: the sums of LiteLLM's daily metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Usage {
    /// USD.
    pub spend: f64,
    pub successful_requests: u64,
    /// Calls LiteLLM refused or failed (a model the key may not use, a budget, a rate limit).
    pub failed_requests: u64,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub total_tokens: u64,
}

impl Usage {
    /// Every request, successful or not.
    pub fn requests(&self) -> u64 {
        self.successful_requests + self.failed_requests
    }

    /// Adds `other` to these sums.
    pub fn add(&mut self, other: &Usage) {
        self.spend += other.spend;
        self.successful_requests += other.successful_requests;
        self.failed_requests += other.failed_requests;
        self.prompt_tokens += other.prompt_tokens;
        self.completion_tokens += other.completion_tokens;
        self.total_tokens += other.total_tokens;
    }

    /// The value of one measure, as a number to sort and chart by.
    pub fn measure(&self, measure: UsageMeasure) -> f64 {
        match measure {
            UsageMeasure::Spend => self.spend,
            UsageMeasure::Requests => self.requests() as f64,
            UsageMeasure::SuccessfulRequests => self.successful_requests as f64,
            UsageMeasure::FailedRequests => self.failed_requests as f64,
            UsageMeasure::Tokens => self.total_tokens as f64,
        }
    }
}

/// A measure to sort, rank and chart by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UsageMeasure {
    /// USD.
    #[default]
    Spend,
    /// Successful and failed requests.
    Requests,
    SuccessfulRequests,
    FailedRequests,
    /// Total tokens.
    Tokens,
}

impl UsageMeasure {
    pub const ALL: [UsageMeasure; 5] = [
        UsageMeasure::Spend,
        UsageMeasure::Requests,
        UsageMeasure::SuccessfulRequests,
        UsageMeasure::FailedRequests,
        UsageMeasure::Tokens,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            UsageMeasure::Spend => "spend",
            UsageMeasure::Requests => "requests",
            UsageMeasure::SuccessfulRequests => "successful_requests",
            UsageMeasure::FailedRequests => "failed_requests",
            UsageMeasure::Tokens => "tokens",
        }
    }

    /// The unit people read next to a value.
    pub fn unit(self) -> &'static str {
        match self {
            UsageMeasure::Spend => "USD",
            UsageMeasure::Tokens => "tokens",
            _ => "requests",
        }
    }
}

/// What a row of a usage report stands for. Two may be combined, e.g. organization × week.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UsageGroup {
    User,
    /// The user's organization on the day of use.
    Organization,
    /// The model as the key asked for it (LiteLLM's model group, e.g. `mock-gpt`).
    Model,
    /// A UTC day, `2026-12-07`.
    Day,
    /// An ISO week, by its Monday: `2026-11-30`.
    Week,
    /// A calendar month, by its first day: `2026-12-01`.
    Month,
}

impl UsageGroup {
    pub fn as_str(self) -> &'static str {
        match self {
            UsageGroup::User => "user",
            UsageGroup::Organization => "organization",
            UsageGroup::Model => "model",
            UsageGroup::Day => "day",
            UsageGroup::Week => "week",
            UsageGroup::Month => "month",
        }
    }

    /// Whether this group is a span of time (its key is the span's first day).
    pub fn is_time(self) -> bool {
        matches!(self, UsageGroup::Day | UsageGroup::Week | UsageGroup::Month)
    }
}

/// A range of whole UTC days, both ends included: a preset relative to today, or dates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum UsageRange {
    Preset(UsagePreset),
    Days { from: NaiveDate, to: NaiveDate },
}

impl Default for UsageRange {
    fn default() -> Self {
        UsageRange::Preset(UsagePreset::Last30Days)
    }
}

impl UsageRange {
    /// The first and last day of the range, with `today` the current UTC day.
    pub fn days(self, today: NaiveDate) -> (NaiveDate, NaiveDate) {
        use chrono::Datelike;
        let first_of = |d: NaiveDate| d.with_day(1).unwrap_or(d);
        match self {
            UsageRange::Days { from, to } => (from, to),
            UsageRange::Preset(preset) => match preset {
                UsagePreset::Today => (today, today),
                UsagePreset::Last7Days => (today - chrono::Days::new(6), today),
                UsagePreset::Last30Days => (today - chrono::Days::new(29), today),
                UsagePreset::Last90Days => (today - chrono::Days::new(89), today),
                UsagePreset::ThisMonth => (first_of(today), today),
                UsagePreset::LastMonth => {
                    let this = first_of(today);
                    let last_day = this.pred_opt().unwrap_or(this);
                    (first_of(last_day), last_day)
                }
            },
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum UsagePreset {
    #[serde(rename = "today")]
    Today,
    /// Today and the 6 days before.
    #[serde(rename = "7d")]
    Last7Days,
    #[serde(rename = "30d")]
    Last30Days,
    #[serde(rename = "90d")]
    Last90Days,
    #[serde(rename = "this_month")]
    ThisMonth,
    #[serde(rename = "last_month")]
    LastMonth,
}

impl UsagePreset {
    pub const ALL: [UsagePreset; 6] = [
        UsagePreset::Today,
        UsagePreset::Last7Days,
        UsagePreset::Last30Days,
        UsagePreset::Last90Days,
        UsagePreset::ThisMonth,
        UsagePreset::LastMonth,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            UsagePreset::Today => "today",
            UsagePreset::Last7Days => "7d",
            UsagePreset::Last30Days => "30d",
            UsagePreset::Last90Days => "90d",
            UsagePreset::ThisMonth => "this_month",
            UsagePreset::LastMonth => "last_month",
        }
    }
}

/// Which usage a report counts. All given terms must match; none given counts everything
/// mama attributed to a user (usage of keys that are not mama's is reported apart).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsageFilter {
    /// Only these users (also deleted ones, whose history is kept).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub user_ids: Vec<String>,
    /// Case-insensitive substring of the user id or the organization (as `/` in the TUI).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Case-insensitive substring of the organization (`org:`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization: Option<String>,
    /// Exactly this model (`model:`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Set by the daemon, never by a caller: the organizations the signed-in account is
    /// limited to (see [`Scope`](super::Scope)).
    #[serde(skip)]
    pub scope: super::Scope,
}

/// Params of `usage.query`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsageQueryParams {
    /// Default: the last 30 days.
    #[serde(default)]
    pub range: UsageRange,
    /// At most two groupings; none answers only the totals.
    #[serde(default)]
    pub group: Vec<UsageGroup>,
    #[serde(default)]
    pub filter: UsageFilter,
    /// The measure rows are ranked by (default spend, largest first). Rows grouped by time
    /// alone come in time order instead.
    #[serde(default)]
    pub sort: UsageMeasure,
    /// Smallest first.
    #[serde(default)]
    pub ascending: bool,
    /// At most this many rows (1..=10000, default 1000); the rest are summed in `rest`.
    #[serde(default)]
    pub top: Option<u32>,
}

/// One row of a usage report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UsageRow {
    /// The row's value of each grouping, in the order asked: a user id, an organization, a
    /// model, or the first day of a time span (`2026-12-07`).
    pub keys: Vec<String>,
    /// Grouped by user: the user no longer exists (its history is kept).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deleted: bool,
    pub usage: Usage,
}

/// How far the collector has come.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UsageCollection {
    /// When the last complete collection ended; none before the first.
    pub as_of: Option<DateTime<Utc>>,
    /// While the first backfill runs: the days read so far, of how many.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backfill: Option<BackfillProgress>,
    /// The last collection failed (LiteLLM down, say) and will be tried again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackfillProgress {
    pub days_done: u32,
    pub days: u32,
}

/// Result of `usage.query`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UsageReport {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub group: Vec<UsageGroup>,
    pub rows: Vec<UsageRow>,
    /// Rows beyond `top`, summed; none when every row is shown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rest: Option<Usage>,
    /// How many rows there were before `top` cut them.
    pub row_count: u64,
    /// Everything the filter matched in the range.
    pub total: Usage,
    /// Usage in the range by keys in LiteLLM that mama never minted (not in `total`); only
    /// without a filter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_mamas: Option<Usage>,
    pub collection: UsageCollection,
}

/// Result of `usage.refresh`: what one collection read and stored.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UsageRefreshed {
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    /// LiteLLM pages read.
    pub pages: u32,
    /// Day × user × model rows stored.
    pub rows: u64,
    /// Day × key × model entries of keys mama never minted.
    pub not_mamas_rows: u64,
    pub collection: UsageCollection,
}
