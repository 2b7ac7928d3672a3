//! The events screen's `/` filter language: `actor:NAME`, `action:NAME` (or a prefix ending in
//! `.`), `user:ID`, `result:ok|error`, `kind:change|view`, and a time range `since:T` /
//! `until:T`. A bare word is an action (`users` means every `users.*` action), except `changes`
//! and `views`, which are the two kinds (no action family has those names).
//!
//! `T` is a UTC time (`2026-11-22T01:00`, with optional seconds, fractions and `Z` or an offset),
//! a UTC date (`2026-11-22`, midnight), an age (`15m`, `1h`, `2d`, `30s`, `1w`: that long before
//! now) or `now`. UTC because the events table shows UTC; an age is resolved when the filter is
//! applied (and again on reload), so `since:15m` means the last 15 minutes at that moment.
//! `since` is inclusive and `until` exclusive, as in `events.list`.

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, Timelike, Utc};
use mama_api::types::{EventFilter, EventKind};

/// What a bad time value is told, so the operator learns the accepted forms at once (short
/// enough to fit an 80-column filter bar with the value).
const TIME_FORMS: &str = "use 2026-11-22T01:00, 2026-11-22, 15m, 1h or 2d";

/// Parses the filter bar at `now`. Every problem is an error (never a silently wider filter).
pub fn parse(text: &str, now: DateTime<Utc>) -> Result<EventFilter, String> {
    let mut filter = EventFilter::default();
    for term in text.split_whitespace() {
        let Some((key, value)) = term.split_once(':') else {
            match term.to_ascii_lowercase().as_str() {
                "changes" => filter.kind = Some(EventKind::Change),
                "views" => filter.kind = Some(EventKind::View),
                _ => filter.action = Some(action(term)),
            }
            continue;
        };
        let key = key.to_ascii_lowercase();
        if value.is_empty() {
            return Err(format!("`{key}:` needs a value"));
        }
        match key.as_str() {
            "actor" => filter.actor = Some(value.to_string()),
            "action" => filter.action = Some(value.to_string()),
            "user" | "user_id" => filter.user_id = Some(value.to_string()),
            "result" => match value.to_ascii_lowercase().as_str() {
                r @ ("ok" | "error") => filter.result = Some(r.to_string()),
                _ => return Err(format!("result:{value}: use result:ok or result:error")),
            },
            "kind" => {
                filter.kind = Some(match value.to_ascii_lowercase().as_str() {
                    "change" | "changes" => EventKind::Change,
                    "view" | "views" => EventKind::View,
                    _ => return Err(format!("kind:{value}: use kind:change or kind:view")),
                })
            }
            "since" | "from" => filter.since = Some(time(&key, value, now)?),
            "until" | "to" => filter.until = Some(time(&key, value, now)?),
            other => {
                return Err(format!(
                    "unknown term `{other}:` (actor: action: user: result: kind: since: until:)"
                ))
            }
        }
    }
    if let (Some(since), Some(until)) = (filter.since, filter.until) {
        if since >= until {
            return Err(format!(
                "since: ({}) must be before until: ({})",
                short(since),
                short(until)
            ));
        }
    }
    Ok(filter)
}

/// A bare word: an exact action when it names one (`users.create`), else a family (`users`).
fn action(word: &str) -> String {
    if word.contains('.') {
        word.to_string()
    } else {
        format!("{word}.")
    }
}

/// One time value of `since:` / `until:`.
pub fn time(key: &str, value: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    let bad = || format!("{key}:{value}: not a time; {TIME_FORMS}");
    if value.eq_ignore_ascii_case("now") {
        return Ok(now);
    }
    if let Some(age) = age(value) {
        let age = age.ok_or_else(|| format!("{key}:{value} is too far back"))?;
        return now.checked_sub_signed(age).ok_or_else(bad);
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(value) {
        return Ok(t.with_timezone(&Utc));
    }
    let naive = value.trim_end_matches(['Z', 'z']);
    for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(naive, format) {
            return Ok(t.and_utc());
        }
    }
    if let Ok(day) = NaiveDate::parse_from_str(naive, "%Y-%m-%d") {
        return Ok(day.and_hms_opt(0, 0, 0).ok_or_else(bad)?.and_utc());
    }
    Err(bad())
}

/// `15m`, `1h`, `2d`: `None` when `value` is not an age at all, `Some(None)` when it is one that
/// does not fit.
fn age(value: &str) -> Option<Option<Duration>> {
    let unit = value.chars().last()?;
    let digits = &value[..value.len() - unit.len_utf8()];
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let seconds_per = match unit.to_ascii_lowercase() {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        'w' => 7 * 86_400,
        _ => return None,
    };
    let n: i64 = match digits.parse() {
        Ok(n) => n,
        Err(_) => return Some(None),
    };
    Some(n.checked_mul(seconds_per).and_then(Duration::try_seconds))
}

fn short(t: DateTime<Utc>) -> String {
    if t.second() == 0 && t.nanosecond() == 0 {
        t.format("%Y-%m-%d %H:%M").to_string()
    } else {
        t.format("%Y-%m-%d %H:%M:%S").to_string()
    }
}

/// The resolved time range for the filter bar (`None` without one), e.g.
/// `2026-11-22 01:00 → 02:00 UTC`.
pub fn window(filter: &EventFilter) -> Option<String> {
    match (filter.since, filter.until) {
        (None, None) => None,
        (Some(since), None) => Some(format!("since {} UTC", short(since))),
        (None, Some(until)) => Some(format!("before {} UTC", short(until))),
        (Some(since), Some(until)) => {
            let end = short(until);
            let same_day = since.date_naive() == until.date_naive();
            let end = if same_day {
                end.split_once(' ')
                    .map_or(end.clone(), |(_, t)| t.to_string())
            } else {
                end
            };
            Some(format!("{} → {end} UTC", short(since)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 22, 10, 30, 0)
            .single()
            .unwrap_or_default()
    }

    fn utc(d: u32, h: u32, m: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, d, h, m, s)
            .single()
            .unwrap_or_default()
    }

    #[test]
    fn terms_and_bare_words() {
        let f = parse("actor:admin result:error users user:김철수", now()).unwrap();
        assert_eq!(f.actor.as_deref(), Some("admin"));
        assert_eq!(f.result.as_deref(), Some("error"));
        assert_eq!(f.action.as_deref(), Some("users."));
        assert_eq!(f.user_id.as_deref(), Some("김철수"));
        let f = parse("users.create", now()).unwrap();
        assert_eq!(f.action.as_deref(), Some("users.create"));
        assert!(parse("", now()).unwrap().since.is_none());
    }

    #[test]
    fn kinds_by_term_or_word() {
        let f = parse("changes actor:admin", now()).unwrap();
        assert_eq!(f.kind, Some(EventKind::Change));
        assert_eq!(f.action, None, "`changes` is not an action family");
        assert_eq!(parse("Views", now()).unwrap().kind, Some(EventKind::View));
        assert_eq!(
            parse("kind:change users", now()).unwrap().kind,
            Some(EventKind::Change)
        );
        assert_eq!(
            parse("kind:view", now()).unwrap().kind,
            Some(EventKind::View)
        );
        assert_eq!(
            parse("kind:edits", now()).unwrap_err(),
            "kind:edits: use kind:change or kind:view"
        );
    }

    #[test]
    fn absolute_times_are_utc() {
        let f = parse("since:2026-11-22T01:00 until:2026-11-22T02:00:30Z", now()).unwrap();
        assert_eq!(f.since, Some(utc(22, 1, 0, 0)));
        assert_eq!(f.until, Some(utc(22, 2, 0, 30)));
        let f = parse("since:2026-11-21", now()).unwrap();
        assert_eq!(f.since, Some(utc(21, 0, 0, 0)));
        let f = parse("since:2026-11-22T03:00:00+02:00", now()).unwrap();
        assert_eq!(f.since, Some(utc(22, 1, 0, 0)));
        let f = parse("since:2026-11-22T01:00:00.250", now()).unwrap();
        assert_eq!(
            f.since.map(|t| t.timestamp_subsec_millis()),
            Some(250),
            "fractions are kept"
        );
    }

    #[test]
    fn ages_count_back_from_now() {
        let f = parse("since:15m", now()).unwrap();
        assert_eq!(f.since, Some(utc(22, 10, 15, 0)));
        let f = parse("since:2d until:1h", now()).unwrap();
        assert_eq!(f.since, Some(utc(20, 10, 30, 0)));
        assert_eq!(f.until, Some(utc(22, 9, 30, 0)));
        let f = parse("since:1w until:now", now()).unwrap();
        assert_eq!(f.since, Some(utc(15, 10, 30, 0)));
        assert_eq!(f.until, Some(now()));
    }

    #[test]
    fn bad_values_say_what_is_accepted() {
        let e = parse("since:yesterday", now()).unwrap_err();
        assert_eq!(
            e,
            "since:yesterday: not a time; use 2026-11-22T01:00, 2026-11-22, 15m, 1h or 2d"
        );
        assert!(parse("until:2026-13-01", now()).is_err());
        assert!(parse("since:5x", now()).is_err());
        assert!(parse("since:99999999999999999999d", now())
            .unwrap_err()
            .contains("too far back"));
        assert!(parse("since:", now())
            .unwrap_err()
            .contains("needs a value"));
        assert!(parse("result:maybe", now())
            .unwrap_err()
            .contains("result:ok"));
        assert!(parse("when:1h", now()).unwrap_err().contains("since:"));
        let e = parse("since:1h until:2h", now()).unwrap_err();
        assert!(e.contains("must be before"), "{e}");
    }

    #[test]
    fn window_is_shown_compactly() {
        let f = parse("since:2026-11-22T01:00 until:2026-11-22T02:00", now()).unwrap();
        assert_eq!(window(&f).as_deref(), Some("2026-11-22 01:00 → 02:00 UTC"));
        let f = parse("since:15m", now()).unwrap();
        assert_eq!(window(&f).as_deref(), Some("since 2026-11-22 10:15 UTC"));
        let f = parse("until:2026-11-21", now()).unwrap();
        assert_eq!(window(&f).as_deref(), Some("before 2026-11-21 00:00 UTC"));
        assert_eq!(window(&parse("actor:x", now()).unwrap()), None);
    }
}
