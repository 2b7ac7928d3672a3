//! Creating many users at once: typed or pasted rows, or a CSV file, with per-row errors.
//!
//! A row is `id,organization,models;…,services;…,info k=v;…,budget,period,tpm,rpm,expires,
//! rotate_every`; everything after the id may be left out. A limit column takes what the edit
//! dialog takes: blank (or `inherit`) follows the organization's default, `none` is no limit
//! even where the organization has one.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use mama_api::rpc::method;
use mama_api::types::{CreateUsersParams, LimitField, LimitsChange, NewUser};
use serde_json::Value;

use super::form::find_popup;
use super::rpc::{answer, describe};
use super::users::refresh_table;
use crate::action::{Cmd, Tag};
use crate::app::App;
use crate::client::ClientError;
use crate::csv;
use crate::effect::Effect;
use crate::limits::{parse_field, set_field, Typed};
use crate::popup::{parse_info, CreateDialog, CreateField, Popup};
use crate::text::{count, Edit, TextArea};

pub fn edit(d: &mut CreateDialog, edit: &Edit) {
    match d.focus {
        CreateField::Rows => d.rows.apply(edit),
        CreateField::CsvPath => d.csv_path.apply(edit),
    };
}

pub fn command(app: &mut App, cmd: Cmd) {
    let Some(Popup::Create(d)) = app.popups.last_mut() else {
        return;
    };
    match cmd {
        Cmd::Back => {
            app.popups.pop();
        }
        Cmd::NextField | Cmd::PrevField => {
            d.focus = if d.focus == CreateField::Rows {
                CreateField::CsvPath
            } else {
                CreateField::Rows
            };
        }
        Cmd::Open if d.focus == CreateField::CsvPath => {
            let path = d.csv_path.value().trim().to_string();
            if path.is_empty() {
                d.error = Some("type the path of a CSV file".into());
                return;
            }
            d.busy = true;
            let epoch = app.epoch;
            app.push_effect(Effect::ReadFile {
                path: PathBuf::from(path),
                epoch,
            });
        }
        Cmd::Open | Cmd::Save => submit_create(app),
        _ => {}
    }
}

/// Columns before the limits: id, organization, models, services, info.
const LIMITS_FROM: usize = 5;
/// Every column a row may have.
const COLUMNS: usize = LIMITS_FROM + LimitField::ALL.len();

/// The limit columns of a row (`fields[LIMITS_FROM..]`, in [`LimitField::ALL`] order): blank and
/// `inherit` leave the field to the organization, anything else is the user's own.
fn row_limits(fields: &[&str], now: DateTime<Utc>) -> Result<LimitsChange, String> {
    let mut change = LimitsChange::default();
    for (field, text) in LimitField::ALL.into_iter().zip(fields) {
        if text.is_empty() {
            continue;
        }
        match parse_field(field, text, now)? {
            Typed::Inherit => {}
            typed => set_field(&mut change, field, typed),
        }
    }
    Ok(change)
}

/// Parses the rows; returns the users and the text line each came from. `now` is what `+30d`
/// in an expires column counts from.
pub fn parse_rows(
    text: &str,
    now: DateTime<Utc>,
) -> Result<(Vec<NewUser>, Vec<usize>), (usize, String)> {
    let mut users = Vec::new();
    let mut lines = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        let fields = csv::parse_line(line);
        if users.is_empty()
            && fields
                .first()
                .is_some_and(|f| f.trim().eq_ignore_ascii_case("id"))
        {
            continue; // a header row
        }
        let field = |i: usize| fields.get(i).map_or("", |f| f.trim());
        let set = |i: usize| -> Vec<String> {
            field(i)
                .split(';')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect()
        };
        if field(0).is_empty() {
            return Err((n, "the id is empty".into()));
        }
        if fields.len() > COLUMNS {
            return Err((
                n,
                format!(
                    "{} columns; at most {COLUMNS} (…,info,budget,period,tpm,rpm,expires,rotate)",
                    fields.len()
                ),
            ));
        }
        let info = parse_info(&field(4).replace(';', "\n")).map_err(|e| (n, e))?;
        let limit_texts: Vec<&str> = (LIMITS_FROM..COLUMNS).map(field).collect();
        let limits = row_limits(&limit_texts, now).map_err(|e| (n, e))?;
        users.push(NewUser {
            id: field(0).to_string(),
            organization: field(1).to_string(),
            models: set(2),
            services: set(3),
            info,
            limits,
        });
        lines.push(n);
    }
    Ok((users, lines))
}

fn submit_create(app: &mut App) {
    let now = app.now;
    let Some(Popup::Create(d)) = app.popups.last_mut() else {
        return;
    };
    if d.busy {
        return;
    }
    d.row_errors.clear();
    d.error = None;
    match parse_rows(&d.rows.text(), now) {
        Ok((users, _)) if users.is_empty() => d.error = Some("no rows: one user per line".into()),
        Ok((users, lines)) => {
            d.busy = true;
            d.submitted_lines = lines;
            app.call::<method::UsersCreate>(&CreateUsersParams { users }, Tag::CreateUsers);
        }
        Err((line, problem)) => d.row_errors = vec![(line, problem)],
    }
}

fn create_dialog(popup: &mut Popup) -> Option<&mut CreateDialog> {
    match popup {
        Popup::Create(d) => Some(d),
        _ => None,
    }
}

pub fn reply(app: &mut App, tag: Tag, result: Result<Value, ClientError>) {
    match tag {
        Tag::CreateUsers => {
            let Some(d) = find_popup(app, create_dialog) else {
                return;
            };
            d.busy = false;
            match answer::<method::UsersCreate>(result) {
                Ok(created) => {
                    app.popups.retain(|p| !matches!(p, Popup::Create(_)));
                    app.info(format!("Created {}.", count(created.created, "user")));
                    // Their keys are minted in LiteLLM next; the rows turn active when done.
                    app.watching_sync = true;
                    app.last_sync_poll = None;
                    refresh_table(app);
                }
                Err(ClientError::Api(api)) => {
                    d.set_field_errors(&api.fields);
                    d.error = Some(api.message);
                }
                Err(err) => d.error = Some(describe(&err)),
            }
        }
        Tag::ImportFile => {
            let Some(d) = find_popup(app, create_dialog) else {
                return;
            };
            d.busy = false;
            match result {
                Ok(Value::String(text)) => {
                    d.rows = TextArea::new(&text);
                    d.focus = CreateField::Rows;
                    d.error = None;
                    d.row_errors.clear();
                }
                Ok(_) => d.error = Some("could not read the file".into()),
                Err(err) => d.error = Some(describe(&err)),
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use mama_api::types::{BudgetPeriod, Days, Setting};

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 2, 10, 0, 0).unwrap()
    }

    #[test]
    fn limit_columns_are_optional_and_blank_follows_the_organization() {
        let text = "\
            id,organization,models,services,info,budget,period,tpm,rpm,expires,rotate\n\
            kim,연구소,gpt-4o,chat,team=검색,10,30d,10k,none,2026-06-30,90d\n\
            lee,Sales,,,,,,inherit,60\n\
            park,Ops";
        let (users, lines) = parse_rows(text, now()).unwrap();
        assert_eq!(lines, vec![1, 2, 3]);
        let kim = &users[0].limits;
        assert_eq!(kim.max_budget, Setting::Set(10.0));
        assert_eq!(kim.budget_period, Setting::Set(BudgetPeriod::Month));
        assert_eq!(kim.tpm_limit, Setting::Set(10_000));
        assert_eq!(
            kim.rpm_limit,
            Setting::Clear,
            "none: no limit, whatever the org says"
        );
        assert_eq!(
            kim.expires_at,
            Setting::Set(Utc.with_ymd_and_hms(2026, 6, 30, 0, 0, 0).unwrap())
        );
        assert_eq!(kim.rotation_every, Setting::Set(Days(90)));
        assert_eq!(users[0].info.get("team").map(String::as_str), Some("검색"));
        let lee = &users[1].limits;
        assert_eq!(lee.tpm_limit, Setting::Keep, "inherit is the default");
        assert_eq!(lee.rpm_limit, Setting::Set(60));
        assert_eq!(lee.max_budget, Setting::Keep);
        assert!(users[2].limits.is_empty());
    }

    #[test]
    fn a_bad_limit_or_too_many_columns_names_the_row() {
        let (line, problem) = parse_rows("kim,,,,,ten", now()).unwrap_err();
        assert_eq!(line, 0);
        assert!(problem.starts_with("budget:"), "{problem}");
        let (line, problem) = parse_rows("ok\nlee,,,,,,,,,+30d,90d,extra", now()).unwrap_err();
        assert_eq!(line, 1);
        assert!(problem.contains("at most 11"), "{problem}");
        let (_, problem) = parse_rows("kim,,,,,,2d", now()).unwrap_err();
        assert!(problem.contains("1d, 7d or 30d"), "{problem}");
    }
}
