//! What the preview and the summary of a bulk change say: the daemon's counts added up over a
//! batch, the parts of the request, and the first users' changes field by field.

use chrono::{DateTime, Utc};
use mama_api::types::{BulkUpdateParams, BulkUpdateResult};
use serde_json::Value;

use crate::limits::{moment, money};
use crate::text::{count, fit};

/// Adds up the answers of a batch of bulk calls.
pub fn sum_bulk(results: Vec<BulkUpdateResult>) -> Option<BulkUpdateResult> {
    let mut iter = results.into_iter();
    let mut total = iter.next()?;
    for r in iter {
        total.matched += r.matched;
        total.changed += r.changed;
        total.left_without_models += r.left_without_models;
        total.limits_changed += r.limits_changed;
        total.suspended += r.suspended;
        total.resumed += r.resumed;
        total.samples.extend(r.samples);
        for (into, from) in [
            (&mut total.models_added, r.models_added),
            (&mut total.models_removed, r.models_removed),
            (&mut total.services_added, r.services_added),
            (&mut total.services_removed, r.services_removed),
        ] {
            for v in from {
                if !into.contains(&v) {
                    into.push(v);
                }
            }
        }
    }
    Some(total)
}

/// What the summary of an applied change says: [`request_lines`], then the first users'
/// changes (the preview lists them all itself, scrolled).
pub fn summary_lines(r: &BulkUpdateResult, change: Option<&BulkUpdateParams>) -> Vec<String> {
    let mut lines = request_lines(r, change);
    lines.extend(sample_lines(r));
    lines
}

/// The daemon's counts and set differences, then the organization and info parts of the
/// request (the daemon applies those to every changed user).
pub fn request_lines(r: &BulkUpdateResult, change: Option<&BulkUpdateParams>) -> Vec<String> {
    let mut lines = vec![format!(
        "{} selected, {} will change.",
        count(r.matched, "user"),
        r.changed
    )];
    for (label, list) in [
        ("models added", &r.models_added),
        ("models removed", &r.models_removed),
        ("services added", &r.services_added),
        ("services removed", &r.services_removed),
    ] {
        if !list.is_empty() {
            lines.push(format!("{label}: {}", list.join(", ")));
        }
    }
    for (n, what) in [
        (r.limits_changed, "limits change"),
        (r.suspended, "get suspended (keys switched off)"),
        (r.resumed, "get resumed"),
    ] {
        if n > 0 {
            lines.push(format!("{}: {what}", count(n, "user")));
        }
    }
    if r.left_without_models > 0 {
        lines.push(format!(
            "{} left with no model: keys blocked in LiteLLM until a model is added.",
            count(r.left_without_models, "user")
        ));
    }
    let Some(change) = change else { return lines };
    match change.organization.as_deref() {
        Some("") => lines.push("organization: cleared".into()),
        Some(org) => lines.push(format!("organization set to: {org}")),
        None => {}
    }
    if let Some(info) = change.info_set.as_ref().filter(|i| !i.is_empty()) {
        let pairs: Vec<String> = info.iter().map(|(k, v)| format!("{k}={v}")).collect();
        lines.push(format!("info set: {}", pairs.join(", ")));
    }
    if let Some(keys) = change.info_unset.as_ref().filter(|k| !k.is_empty()) {
        lines.push(format!("info removed: {}", keys.join(", ")));
    }
    if change.drop_unavailable_models && r.models_removed.is_empty() {
        lines.push("no unavailable models to drop".into());
    }
    if let Some(limits) = limits_line(change) {
        lines.push(limits);
    }
    if let Some(days) = change.extend_expiry_days {
        lines.push(format!(
            "expiry extended by {days} days (never-expiring users stay so)"
        ));
    }
    if let Some(suspend) = &change.suspend {
        lines.push(format!("suspend, reason: {}", suspend.reason));
    }
    if change.resume {
        lines.push("resume suspended users".into());
    }
    lines
}

/// The limits a change sets, as `limits: max_budget → 0, tpm_limit → none`.
fn limits_line(change: &BulkUpdateParams) -> Option<String> {
    let Ok(Value::Object(fields)) = serde_json::to_value(&change.limits) else {
        return None;
    };
    if fields.is_empty() {
        return None;
    }
    let parts: Vec<String> = fields
        .iter()
        .map(|(name, value)| {
            let value = match (name.as_str(), value) {
                (_, Value::Null) => "none".to_string(),
                ("max_budget", Value::Number(usd)) => money(usd.as_f64().unwrap_or_default()),
                ("expires_at", Value::String(at)) => DateTime::parse_from_rfc3339(at)
                    .map(|at| moment(at.with_timezone(&Utc)))
                    .unwrap_or_else(|_| at.clone()),
                (_, Value::String(s)) => s.clone(),
                (_, other) => other.to_string(),
            };
            format!("{name} → {value}")
        })
        .collect();
    Some(format!("limits: {}", parts.join(", ")))
}

/// Sample lines of the preview: what changes for the first users, field by field.
const SAMPLE_LINES: usize = 8;

/// The daemon's samples (before → after per user), the first few lines of them.
fn sample_lines(r: &BulkUpdateResult) -> Vec<String> {
    let all: Vec<String> = r
        .samples
        .iter()
        .flat_map(|sample| {
            sample.changes.iter().enumerate().map(move |(i, c)| {
                let who = if i == 0 { sample.id.as_str() } else { "" };
                format!("  {} {}: {} → {}", fit(who, 12), c.field, c.before, c.after)
            })
        })
        .collect();
    if all.is_empty() {
        return all;
    }
    let mut lines = vec!["For example:".to_string()];
    let more = all.len().saturating_sub(SAMPLE_LINES);
    lines.extend(all.into_iter().take(SAMPLE_LINES));
    if more > 0 {
        lines.push(format!("  … {more} more"));
    }
    lines
}
