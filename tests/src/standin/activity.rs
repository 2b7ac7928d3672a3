//! `GET /user/daily/activity` as LiteLLM 1.103.7 answers it (`shared/litellm/captures-usage/`
//! 062, 069, 070, 135), over usage a test records ([`super::StandIn::record_usage`]): one stored
//! row per record, paged over rows (not days: one day × key × model can be split over pages),
//! days without rows left out, 400 without both dates. Only the parts mama reads are filled:
//! `model_groups` with their `api_key_breakdown`; the other breakdowns are empty.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::NaiveDate;
use serde_json::{json, Map, Value};

use super::routes::{authorize, Access, Shared};
use super::state::State as Memory;

/// What one key used of one model on one day, as a test tells the stand-in.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StandInUsage {
    pub spend: f64,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub successful_requests: u64,
    pub failed_requests: u64,
}

impl StandInUsage {
    /// `n` successful mock-gpt calls as the real proxy prices them (10 + 20 tokens, 1.35e-05).
    pub fn calls(n: u64) -> Self {
        StandInUsage {
            spend: 1.35e-05 * n as f64,
            prompt_tokens: 10 * n,
            completion_tokens: 20 * n,
            successful_requests: n,
            failed_requests: 0,
        }
    }

    fn add(&mut self, other: &StandInUsage) {
        self.spend += other.spend;
        self.prompt_tokens += other.prompt_tokens;
        self.completion_tokens += other.completion_tokens;
        self.successful_requests += other.successful_requests;
        self.failed_requests += other.failed_requests;
    }

    fn metrics(&self) -> Value {
        json!({
            "spend": self.spend,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
            "successful_requests": self.successful_requests,
            "failed_requests": self.failed_requests,
            "api_requests": self.successful_requests + self.failed_requests,
            "cache_read_input_tokens": 0,
            "cache_creation_input_tokens": 0,
        })
    }
}

/// One stored row (LiteLLM's daily user spend table).
#[derive(Debug, Clone, PartialEq)]
pub struct UsageRow {
    pub day: NaiveDate,
    pub key_hash: String,
    pub model: String,
    pub usage: StandInUsage,
}

fn bad_request(message: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"detail": {"error": message}})),
    )
        .into_response()
}

fn number(q: &HashMap<String, String>, name: &str, default: u64) -> Option<u64> {
    match q.get(name) {
        None => Some(default),
        Some(raw) => raw.parse().ok().filter(|n| *n >= 1),
    }
}

pub async fn daily_activity(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if let Err(refused) = authorize(&shared, &headers, "/user/daily/activity", Access::Master) {
        return *refused;
    }
    let date = |name: &str| q.get(name).and_then(|d| d.parse::<NaiveDate>().ok());
    let (Some(start), Some(end)) = (date("start_date"), date("end_date")) else {
        return bad_request("Please provide start_date and end_date");
    };
    let (Some(page), Some(size)) = (number(&q, "page", 1), number(&q, "page_size", 50)) else {
        return bad_request("page and page_size must be positive integers");
    };
    let size = size.min(1000);
    let memory = shared.memory();
    let mut rows: Vec<&UsageRow> = memory
        .usage
        .iter()
        .filter(|r| r.day >= start && r.day <= end)
        .collect();
    rows.sort_by_key(|r| std::cmp::Reverse(r.day));
    let total_pages = (rows.len() as u64).div_ceil(size);
    let skip = usize::try_from((page - 1) * size).unwrap_or(usize::MAX);
    let shown: Vec<&UsageRow> = rows.into_iter().skip(skip).take(size as usize).collect();
    Json(page_body(&memory, &shown, page, total_pages)).into_response()
}

/// The page's rows grouped by day, newest first, as LiteLLM shapes them.
fn page_body(memory: &Memory, rows: &[&UsageRow], page: u64, total_pages: u64) -> Value {
    let mut days: BTreeMap<NaiveDate, BTreeMap<&str, BTreeMap<&str, StandInUsage>>> =
        BTreeMap::new();
    let mut total = StandInUsage::default();
    for row in rows {
        total.add(&row.usage);
        days.entry(row.day)
            .or_default()
            .entry(row.model.as_str())
            .or_default()
            .entry(row.key_hash.as_str())
            .or_default()
            .add(&row.usage);
    }
    let results: Vec<Value> = days
        .into_iter()
        .rev()
        .map(|(day, models)| {
            let mut day_total = StandInUsage::default();
            let mut groups = Map::new();
            for (model, keys) in models {
                let mut group_total = StandInUsage::default();
                let mut by_key = Map::new();
                for (hash, usage) in keys {
                    group_total.add(&usage);
                    by_key.insert(
                        hash.to_string(),
                        json!({"metrics": usage.metrics(), "metadata": key_metadata(memory, hash)}),
                    );
                }
                day_total.add(&group_total);
                groups.insert(
                    model.to_string(),
                    json!({"metrics": group_total.metrics(), "metadata": {}, "api_key_breakdown": by_key}),
                );
            }
            json!({
                "date": day.to_string(),
                "metrics": day_total.metrics(),
                "breakdown": {
                    "mcp_servers": {}, "models": {}, "model_groups": groups, "providers": {},
                    "endpoints": {}, "api_keys": {}, "entities": {},
                },
            })
        })
        .collect();
    json!({
        "results": results,
        "metadata": {
            "total_spend": total.spend,
            "total_prompt_tokens": total.prompt_tokens,
            "total_completion_tokens": total.completion_tokens,
            "total_tokens": total.prompt_tokens + total.completion_tokens,
            "total_api_requests": total.successful_requests + total.failed_requests,
            "total_successful_requests": total.successful_requests,
            "total_failed_requests": total.failed_requests,
            "page": page,
            "total_pages": total_pages,
            "has_more": page < total_pages,
        },
    })
}

/// `key_exists` is false once the key is deleted; history stays (capture 135).
fn key_metadata(memory: &Memory, hash: &str) -> Value {
    let (key, exists) = match (memory.keys.get(hash), memory.deleted.get(hash)) {
        (Some(k), _) => (Some(k), true),
        (None, Some(k)) => (Some(k), false),
        (None, None) => (None, false),
    };
    json!({
        "key_alias": key.and_then(|k| k.key_alias.clone()),
        "team_id": key.and_then(|k| k.team_id.clone()),
        "user_id": key.and_then(|k| k.user_id.clone()),
        "user_email": null,
        "key_exists": exists,
    })
}
