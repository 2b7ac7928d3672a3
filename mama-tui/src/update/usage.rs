//! The usage screen: its keys, its two queries (the ranked table, and the chart by time), their
//! answers, opening one user's usage from the users table, and `:export` of the ranked table.
//! Every query goes out as an effect; the screen keeps showing the last answer, marked as
//! loading, until the new one arrives.

use std::path::PathBuf;

use chrono::{DateTime, Duration, Utc};
use mama_api::rpc::method;
use mama_api::types::UsageGroup;
use serde_json::Value;

use super::rpc::{answer, describe, is_missing_method};
use crate::action::{Cmd, Screen, Tag};
use crate::app::App;
use crate::client::ClientError;
use crate::effect::Effect;
use crate::text::Edit;
use crate::usage::{self, filter, Focus, BUCKETS, EXPORT_TOP, MEASURES, RANKS, TABLE_TOP};

/// While the first backfill runs, the screen asks again this often to show its progress.
const BACKFILL_POLL_SECS: i64 = 10;

/// Asks for the table and the chart.
pub fn load(app: &mut App) {
    load_table(app);
    load_chart(app);
}

fn load_table(app: &mut App) {
    let u = &mut app.usage;
    u.table_query += 1;
    u.table_loading = true;
    let tag = Tag::UsageTable {
        query: u.table_query,
    };
    let params = u.table_params(TABLE_TOP);
    app.call::<method::UsageQuery>(&params, tag);
    app.usage.asked_at = Some(app.now);
}

fn load_chart(app: &mut App) {
    let u = &mut app.usage;
    u.chart_query += 1;
    u.chart_loading = true;
    let tag = Tag::UsageChart {
        query: u.chart_query,
    };
    let params = u.chart_params();
    app.call::<method::UsageQuery>(&params, tag);
}

/// Users screen `u`: the selected user's usage, by model.
pub fn open_for_user(app: &mut App) {
    let Some(id) = app.users.selected_user().map(|u| u.id.clone()) else {
        return;
    };
    let u = &mut app.usage;
    u.filter_input.set(format!("user:{id}"));
    u.filter_editing = false;
    u.filter_error = None;
    u.filter = mama_api::types::UsageFilter {
        user_ids: vec![id],
        ..Default::default()
    };
    u.focus = None;
    u.rank_by = UsageGroup::Model;
    u.table = None;
    u.chart = None;
    u.selected = 0;
    app.screen = Screen::Usage;
    load(app);
}

/// Keys on the usage screen.
pub fn command(app: &mut App, cmd: Cmd) {
    let page = i64::from(app.height.saturating_sub(12)).max(1);
    let u = &mut app.usage;
    match cmd {
        Cmd::Down => u.move_by(1),
        Cmd::Up => u.move_by(-1),
        Cmd::PageDown => u.move_by(page),
        Cmd::PageUp => u.move_by(-page),
        Cmd::Top => u.move_by(i64::MIN / 2),
        Cmd::Bottom => u.move_by(i64::MAX / 2),
        Cmd::Reload => load(app),
        Cmd::Filter => u.filter_editing = true,
        Cmd::UsageMeasure => {
            u.measure = usage::cycle(&MEASURES, u.measure, false);
            u.ascending = false;
            load_table(app);
        }
        Cmd::UsageSort(measure) => {
            if u.measure == measure {
                u.ascending = !u.ascending;
            } else {
                u.measure = measure;
                u.ascending = false;
            }
            load_table(app);
        }
        Cmd::UsageBuckets => {
            u.buckets = usage::cycle(&BUCKETS, u.buckets, false);
            load_chart(app);
        }
        Cmd::UsageRanks => {
            u.rank_by = usage::cycle(&RANKS, u.rank_by, false);
            u.table = None;
            u.selected = 0;
            if u.focus.take().is_some() {
                load_chart(app);
            }
            load_table(app);
        }
        Cmd::UsageRange(back) => {
            u.preset = usage::cycle(&mama_api::types::UsagePreset::ALL, u.preset, back);
            load(app);
        }
        Cmd::Open => {
            let Some(row) = u.selected_row() else { return };
            let focus = Focus {
                group: u.rank_by,
                key: row.keys.first().cloned().unwrap_or_default(),
            };
            u.focus = if u.focus.as_ref() == Some(&focus) {
                None
            } else {
                Some(focus)
            };
            load_chart(app);
        }
        Cmd::Back => {
            if u.focus.take().is_some() {
                load_chart(app);
            } else if !u.filter_input.is_empty() {
                u.filter_input.clear();
                apply_filter(app);
            }
        }
        _ => {}
    }
}

/// Typing in the filter bar.
pub fn edit_filter(app: &mut App, edit: &Edit) {
    if app.usage.filter_editing {
        app.usage.filter_input.apply(edit);
    }
}

/// Applies the typed filter; one that does not parse is named under the bar instead.
pub fn apply_filter(app: &mut App) {
    let u = &mut app.usage;
    match filter::parse(u.filter_input.value()) {
        Ok(parsed) => {
            u.filter_error = None;
            if parsed != u.filter || u.table.is_none() {
                u.filter = parsed;
                u.focus = None;
                u.selected = 0;
                load(app);
            }
        }
        Err(problem) => u.filter_error = Some(problem),
    }
}

/// `:export FILE` on the usage screen: the ranked table as it is chosen, up to the most rows
/// one query answers, with every measure.
pub fn export(app: &mut App, path: &str) {
    if path.is_empty() {
        app.error("usage: :export FILE.csv");
        return;
    }
    let effect = Effect::ExportUsage {
        path: PathBuf::from(path),
        params: app.usage.table_params(EXPORT_TOP),
        measure: app.usage.measure,
        token: app.token(),
        epoch: app.epoch,
    };
    app.push_effect(effect);
    app.info(format!("Exporting usage to {path}…"));
}

/// While the first backfill runs, asks again now and then so its progress moves.
pub fn tick(app: &mut App, now: DateTime<Utc>) {
    let u = &app.usage;
    if app.screen != Screen::Usage || u.table_loading || u.chart_loading || !app.popups.is_empty() {
        return;
    }
    let collecting = u
        .table
        .as_ref()
        .is_some_and(|t| t.collection.backfill.is_some());
    let due = u
        .asked_at
        .is_none_or(|at| now - at >= Duration::seconds(BACKFILL_POLL_SECS));
    if collecting && due {
        load(app);
    }
}

fn failed(app: &mut App, err: &ClientError) {
    app.usage.error = Some(if is_missing_method(err) {
        "This daemon has no usage yet (usage.query).".into()
    } else {
        format!("usage: {}", describe(err))
    });
}

pub fn reply(app: &mut App, tag: Tag, result: Result<Value, ClientError>) {
    match tag {
        Tag::UsageTable { query } if query == app.usage.table_query => {
            app.usage.table_loading = false;
            match answer::<method::UsageQuery>(result) {
                Ok(report) => {
                    let u = &mut app.usage;
                    // The selection stays on the same row when the ranking changes.
                    let was = u.selected_row().map(|r| r.keys.clone());
                    u.selected = was
                        .and_then(|keys| report.rows.iter().position(|r| r.keys == keys))
                        .unwrap_or(0);
                    u.table = Some(report);
                    u.move_by(0);
                    u.error = None;
                }
                Err(err) => failed(app, &err),
            }
        }
        Tag::UsageChart { query } if query == app.usage.chart_query => {
            app.usage.chart_loading = false;
            match answer::<method::UsageQuery>(result) {
                Ok(report) => app.usage.chart = Some(report),
                Err(err) => failed(app, &err),
            }
        }
        Tag::UsageExport => match result {
            Ok(v) => {
                let rows = v.get("rows").and_then(Value::as_u64).unwrap_or(0);
                let path = v.get("path").and_then(Value::as_str).unwrap_or("");
                app.info(format!("Exported {rows} usage rows to {path}."));
            }
            Err(err) => app.error(format!("export: {}", describe(&err))),
        },
        _ => {}
    }
}
