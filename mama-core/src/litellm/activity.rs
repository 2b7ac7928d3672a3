//! `GET /user/daily/activity` as mama reads it: per UTC day, per key (by hash) and per model
//! group (the public model name the caller asked for, e.g. `mock-gpt`; a refused call shows under
//! the name it asked for). Everything else in LiteLLM's large answer is ignored.
//!
//! Paging is over LiteLLM's stored rows (user × day × key × model × provider × endpoint), not
//! over days: one (day, key, model group) can be split over several pages, so callers must sum
//! entries across pages ([`merge`]).

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;
use serde::Deserialize;

use crate::api::types::Usage;

/// The largest page LiteLLM serves.
pub const MAX_PAGE_SIZE: u32 = 1000;

/// One page of usage entries.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ActivityPage {
    pub entries: Vec<ActivityEntry>,
    /// 1-based; LiteLLM's `metadata.page`.
    pub page: u32,
    pub total_pages: u32,
    pub has_more: bool,
}

/// What one key used of one model group on one day (a part of it when split over pages).
#[derive(Debug, Clone, PartialEq)]
pub struct ActivityEntry {
    pub day: NaiveDate,
    /// SHA-256 hex of the key (LiteLLM's token).
    pub key_hash: String,
    /// The model group: the public name, as the key asked for it.
    pub model: String,
    pub usage: Usage,
}

/// The key of a merged entry: (day, key hash, model group).
pub type EntryKey = (NaiveDate, String, String);

/// Sums entries by (day, key hash, model group), as pages must be merged.
pub fn merge(into: &mut HashMap<EntryKey, Usage>, entries: Vec<ActivityEntry>) {
    for e in entries {
        into.entry((e.day, e.key_hash, e.model))
            .or_default()
            .add(&e.usage);
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct RawActivity {
    #[serde(default)]
    results: Vec<RawDay>,
    #[serde(default)]
    metadata: RawMetadata,
}

#[derive(Debug, Default, Deserialize)]
struct RawMetadata {
    #[serde(default)]
    page: Option<u32>,
    #[serde(default)]
    total_pages: Option<u32>,
    #[serde(default)]
    has_more: Option<bool>,
}

#[derive(Debug, Deserialize)]
struct RawDay {
    date: NaiveDate,
    #[serde(default)]
    breakdown: RawBreakdown,
}

#[derive(Debug, Default, Deserialize)]
struct RawBreakdown {
    #[serde(default)]
    model_groups: BTreeMap<String, RawGroup>,
}

#[derive(Debug, Deserialize)]
struct RawGroup {
    #[serde(default)]
    api_key_breakdown: BTreeMap<String, RawKeyEntry>,
}

#[derive(Debug, Deserialize)]
struct RawKeyEntry {
    #[serde(default)]
    metrics: RawMetrics,
}

/// Counts as LiteLLM sends them; floats are accepted (its schema allows them) and rounded.
#[derive(Debug, Default, Deserialize)]
struct RawMetrics {
    #[serde(default)]
    spend: f64,
    #[serde(default)]
    prompt_tokens: f64,
    #[serde(default)]
    completion_tokens: f64,
    #[serde(default)]
    total_tokens: f64,
    #[serde(default)]
    successful_requests: f64,
    #[serde(default)]
    failed_requests: f64,
}

fn count(n: f64) -> u64 {
    if n.is_finite() && n > 0.0 {
        n.round() as u64
    } else {
        0
    }
}

impl RawActivity {
    /// The page's entries; `asked_page` stands in when LiteLLM omits its metadata.
    pub(crate) fn into_page(self, asked_page: u32) -> ActivityPage {
        let mut entries = Vec::new();
        for day in self.results {
            for (model, group) in day.breakdown.model_groups {
                for (key_hash, entry) in group.api_key_breakdown {
                    let m = entry.metrics;
                    entries.push(ActivityEntry {
                        day: day.date,
                        key_hash,
                        model: model.clone(),
                        usage: Usage {
                            spend: if m.spend.is_finite() { m.spend } else { 0.0 },
                            successful_requests: count(m.successful_requests),
                            failed_requests: count(m.failed_requests),
                            prompt_tokens: count(m.prompt_tokens),
                            completion_tokens: count(m.completion_tokens),
                            total_tokens: count(m.total_tokens),
                        },
                    });
                }
            }
        }
        let page = self.metadata.page.unwrap_or(asked_page);
        let total_pages = self.metadata.total_pages.unwrap_or(page);
        ActivityPage {
            entries,
            page,
            total_pages,
            has_more: self.metadata.has_more.unwrap_or(page < total_pages),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Trimmed from `captures-usage/062`: three calls to mock-gpt and one refused call to gpt-4o
    /// by one key; `models` (deployment names) must not be counted again.
    const CAPTURE_062: &str = r#"{"results":[{"date":"2026-11-21",
      "metrics":{"spend":4.05e-05,"successful_requests":3,"failed_requests":1},
      "breakdown":{"mcp_servers":{},
        "models":{"openai/gpt-4o-mini":{"metrics":{"spend":4.05e-05},"api_key_breakdown":{"7e52":{"metrics":{"spend":4.05e-05,"successful_requests":3}}}}},
        "model_groups":{
          "mock-gpt":{"metrics":{},"metadata":{},"api_key_breakdown":{"7e52":{"metrics":{"spend":4.05e-05,"prompt_tokens":30,"completion_tokens":60,"total_tokens":90,"successful_requests":3,"failed_requests":0,"api_requests":3},"metadata":{"key_alias":"usage-probe/u1","key_exists":true}}}},
          "gpt-4o":{"metrics":{},"metadata":{},"api_key_breakdown":{"7e52":{"metrics":{"spend":0.0,"prompt_tokens":0,"completion_tokens":0,"total_tokens":0,"successful_requests":0,"failed_requests":1,"api_requests":1},"metadata":{}}}}},
        "providers":{},"endpoints":{},"api_keys":{},"entities":{}}}],
      "metadata":{"total_spend":4.05e-05,"page":1,"total_pages":1,"has_more":false}}"#;

    #[test]
    fn model_groups_give_day_key_and_public_model_with_failures() {
        let raw: RawActivity = serde_json::from_str(CAPTURE_062).unwrap();
        let page = raw.into_page(1);
        assert_eq!((page.page, page.total_pages, page.has_more), (1, 1, false));
        assert_eq!(page.entries.len(), 2);
        let day = NaiveDate::from_ymd_opt(2026, 11, 21).unwrap();
        let failed = page.entries.iter().find(|e| e.model == "gpt-4o").unwrap();
        assert_eq!((failed.day, failed.key_hash.as_str()), (day, "7e52"));
        assert_eq!(failed.usage.failed_requests, 1);
        assert_eq!(failed.usage.successful_requests, 0);
        let ok = page.entries.iter().find(|e| e.model == "mock-gpt").unwrap();
        assert_eq!(ok.usage.successful_requests, 3);
        assert_eq!(
            (
                ok.usage.prompt_tokens,
                ok.usage.completion_tokens,
                ok.usage.total_tokens
            ),
            (30, 60, 90)
        );
        assert!((ok.usage.spend - 4.05e-05).abs() < 1e-12);
    }

    #[test]
    fn the_same_day_key_and_model_on_two_pages_is_summed() {
        let day = NaiveDate::from_ymd_opt(2026, 11, 21).unwrap();
        let part = |n: u64| ActivityEntry {
            day,
            key_hash: "h".into(),
            model: "mock-gpt".into(),
            usage: Usage {
                successful_requests: n,
                total_tokens: 30 * n,
                ..Usage::default()
            },
        };
        let mut merged = HashMap::new();
        merge(&mut merged, vec![part(1)]);
        merge(&mut merged, vec![part(2)]);
        let sum = merged[&(day, "h".to_string(), "mock-gpt".to_string())];
        assert_eq!((sum.successful_requests, sum.total_tokens), (3, 90));
    }

    #[test]
    fn missing_metadata_and_empty_results_end_the_paging() {
        let raw: RawActivity = serde_json::from_str(r#"{"results":[]}"#).unwrap();
        let page = raw.into_page(3);
        assert_eq!((page.page, page.total_pages, page.has_more), (3, 3, false));
    }
}
