//! Creating many users at once: typed or pasted rows, or a CSV file, with per-row errors.
//!
//! Rows are CSV as [`crate::csv`] reads them: with a header, any of the export's columns in any
//! order; without one, `id,organization,models;…,services;…,info k=v;…,budget,period,tpm,rpm,
//! expires,rotate`, everything after the id optional. A limit column takes what the edit dialog
//! takes: blank (or `inherit`) follows the organization's default, `none` is no limit even where
//! the organization has one.
//!
//! Two ways to create: ctrl-s creates every row or none (the default: nothing is created until
//! every row is valid); ctrl-v creates the valid rows and writes the rejected ones, each with
//! its reason, to a file that imports again once fixed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use mama_api::rpc::method;
use mama_api::types::{CreateUsersParams, NewUser};
use serde_json::Value;

use super::form::find_popup;
use super::rpc::{answer, describe};
use super::users::refresh_table;
use crate::action::{Cmd, Tag};
use crate::app::App;
use crate::client::ClientError;
use crate::csv::{self, ParsedRow};
use crate::effect::Effect;
use crate::popup::{CreateDialog, CreateField, PartialCreate, Popup};
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
            let typed = d.csv_path.value().trim();
            if typed.is_empty() {
                d.error = Some("type the path of a CSV file".into());
                return;
            }
            let path = csv::expand_home(typed, std::env::var_os("HOME").as_deref());
            d.busy = true;
            d.loaded_from = Some(path.clone());
            let epoch = app.epoch;
            app.push_effect(Effect::ReadFile { path, epoch });
        }
        Cmd::Open | Cmd::Save => submit_all(app),
        Cmd::SaveValid => submit_valid(app),
        _ => {}
    }
}

/// Parses the rows; returns the users and the text line each came from, or the first bad row's
/// line and problem. `now` is what `+30d` in an expires column counts from.
pub fn parse_rows(
    text: &str,
    now: DateTime<Utc>,
) -> Result<(Vec<NewUser>, Vec<usize>), (usize, String)> {
    let parsed = csv::parse_users(text, now).map_err(|e| (e.line, e.message))?;
    if let Some((line, problem)) = parsed.first_error() {
        return Err((line, problem.to_string()));
    }
    Ok(parsed
        .rows
        .into_iter()
        .filter_map(|r| r.user.ok().map(|u| (u, r.line)))
        .unzip())
}

/// The rows of the dialog, or why there are none (set on the dialog).
fn parse_dialog(d: &mut CreateDialog, now: DateTime<Utc>) -> Option<csv::ParsedRows> {
    d.row_errors.clear();
    d.error = None;
    match csv::parse_users(&d.rows.text(), now) {
        Ok(parsed) if parsed.rows.is_empty() => {
            d.error = Some("no rows: one user per line".into());
            None
        }
        Ok(parsed) => Some(parsed),
        Err(e) => {
            d.row_errors = vec![(e.line, "bad header".into())];
            d.error = Some(e.message);
            None
        }
    }
}

/// ctrl-s: every row or none. A bad row stops everything before the daemon is asked.
fn submit_all(app: &mut App) {
    let now = app.now;
    let Some(Popup::Create(d)) = app.popups.last_mut() else {
        return;
    };
    if d.busy {
        return;
    }
    let Some(parsed) = parse_dialog(d, now) else {
        return;
    };
    let refused: Vec<(usize, String)> = parsed
        .rows
        .iter()
        .filter_map(|r| r.user.as_ref().err().map(|e| (r.line, e.clone())))
        .collect();
    if !refused.is_empty() {
        d.error = Some(nothing_created(refused.len()));
        d.row_errors = refused;
        return;
    }
    let (users, lines): (Vec<NewUser>, Vec<usize>) = parsed
        .rows
        .into_iter()
        .filter_map(|r| r.user.ok().map(|u| (u, r.line)))
        .unzip();
    d.busy = true;
    d.submitted_lines = lines;
    app.call::<method::UsersCreate>(&CreateUsersParams { users }, Tag::CreateUsers);
}

fn nothing_created(refused: usize) -> String {
    format!(
        "{} refused, nothing created · ctrl-v creates the valid rows",
        count(refused as u64, "row")
    )
}

/// ctrl-v: the rows that parse are sent; those the daemon refuses are set aside and the rest
/// sent again (see [`PartialCreate`]).
fn submit_valid(app: &mut App) {
    let now = app.now;
    let Some(Popup::Create(d)) = app.popups.last_mut() else {
        return;
    };
    if d.busy {
        return;
    }
    let Some(parsed) = parse_dialog(d, now) else {
        return;
    };
    let (sending, rejected) = parsed.rows.into_iter().partition(|r| r.user.is_ok());
    d.partial = Some(PartialCreate {
        header: parsed.header,
        sending,
        rejected,
    });
    send_valid(app);
}

/// Sends the rows of the run still standing, or ends it when none is left.
fn send_valid(app: &mut App) {
    let Some(d) = find_popup(app, create_dialog) else {
        return;
    };
    let Some(run) = &d.partial else {
        return;
    };
    let users: Vec<NewUser> = run
        .sending
        .iter()
        .filter_map(|r| r.user.as_ref().ok().cloned())
        .collect();
    if users.is_empty() {
        d.row_errors = run
            .rejected
            .iter()
            .map(|r| (r.line, r.user.as_ref().err().cloned().unwrap_or_default()))
            .collect();
        d.error = Some("no valid row: nothing created".into());
        d.partial = None;
        return;
    }
    d.submitted_lines = run.sending.iter().map(|r| r.line).collect();
    d.busy = true;
    app.call::<method::UsersCreate>(&CreateUsersParams { users }, Tag::CreateValid);
}

fn create_dialog(popup: &mut Popup) -> Option<&mut CreateDialog> {
    match popup {
        Popup::Create(d) => Some(d),
        _ => None,
    }
}

/// Where the rejected rows go: next to the file the rows came from, else in the working
/// directory; a new name each time, so nothing is overwritten.
pub fn rejected_path(loaded_from: Option<&Path>, now: DateTime<Utc>) -> PathBuf {
    let stamp = now.format("%Y%m%d-%H%M%S");
    let path = match loaded_from {
        Some(source) => {
            let stem = source
                .file_stem()
                .map_or("users".into(), |s| s.to_string_lossy());
            source.with_file_name(format!("{stem}-rejected-{stamp}.csv"))
        }
        None => PathBuf::from(format!("mama-rejected-{stamp}.csv")),
    };
    std::path::absolute(&path).unwrap_or(path)
}

/// Sets aside the rows a refusal names (indices into the rows sent), with its messages as
/// their reasons. Returns how many were set aside.
fn set_aside(run: &mut PartialCreate, fields: &[mama_api::FieldError]) -> usize {
    let mut reasons: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    for f in fields {
        if let Some(row) = f.row.filter(|&r| r < run.sending.len()) {
            let field = f.field.rsplit('.').next().unwrap_or(&f.field);
            reasons
                .entry(row)
                .or_default()
                .push(format!("{field}: {}", f.message));
        }
    }
    for (row, reasons) in reasons.iter().rev() {
        let mut refused: ParsedRow = run.sending.remove(*row);
        refused.user = Err(reasons.join("; "));
        run.rejected.push(refused);
    }
    run.rejected.sort_by_key(|r| r.line);
    reasons.len()
}

pub fn reply(app: &mut App, tag: Tag, result: Result<Value, ClientError>) {
    match tag {
        Tag::CreateUsers => {
            let Some(d) = find_popup(app, create_dialog) else {
                return;
            };
            d.busy = false;
            match answer::<method::UsersCreate>(result) {
                Ok(created) => created_users(app, created.created),
                Err(ClientError::Api(api)) => {
                    d.set_field_errors(&api.fields);
                    d.error = Some(if api.fields.iter().any(|f| f.row.is_some()) {
                        let rows: std::collections::BTreeSet<_> =
                            api.fields.iter().filter_map(|f| f.row).collect();
                        format!("{} · {}", nothing_created(rows.len()), api.message)
                    } else {
                        api.message
                    });
                }
                Err(err) => d.error = Some(describe(&err)),
            }
        }
        Tag::CreateValid => {
            let now = app.now;
            let Some(d) = find_popup(app, create_dialog) else {
                return;
            };
            d.busy = false;
            match answer::<method::UsersCreate>(result) {
                Ok(created) => {
                    let run = d.partial.take().unwrap_or_default();
                    let rejected_to = rejected_path(d.loaded_from.as_deref(), now);
                    created_users(app, created.created);
                    write_rejected(app, run, rejected_to, created.created);
                }
                Err(ClientError::Api(api)) => {
                    let Some(run) = &mut d.partial else {
                        return;
                    };
                    if set_aside(run, &api.fields) == 0 {
                        // Not about rows (a session, a permission): nothing was created.
                        d.partial = None;
                        d.set_field_errors(&api.fields);
                        d.error = Some(api.message);
                        return;
                    }
                    send_valid(app);
                }
                Err(err) => {
                    d.partial = None;
                    d.error = Some(describe(&err));
                }
            }
        }
        Tag::RejectedWritten { created, rejected } => match result {
            Ok(value) => {
                let path = value.get("path").and_then(Value::as_str).unwrap_or("");
                app.info(format!(
                    "Created {}; {} not, with the reasons in {path} (fix, then import it).",
                    count(created, "user"),
                    count(rejected as u64, "row")
                ));
            }
            Err(err) => app.error(format!(
                "Created {}, but the {} rejected could not be written: {}",
                count(created, "user"),
                count(rejected as u64, "row"),
                describe(&err)
            )),
        },
        Tag::ImportFile => {
            let Some(d) = find_popup(app, create_dialog) else {
                return;
            };
            d.busy = false;
            match result {
                Ok(Value::String(text)) => {
                    d.rows = TextArea::new(&csv::unify_line_ends(&text));
                    d.focus = CreateField::Rows;
                    d.error = None;
                    d.row_errors.clear();
                }
                Ok(_) => {
                    d.loaded_from = None;
                    d.error = Some("could not read the file".into());
                }
                Err(err) => {
                    d.loaded_from = None;
                    d.error = Some(describe(&err));
                }
            }
        }
        _ => {}
    }
}

/// Closes the dialog after a creation and watches the new keys being minted.
fn created_users(app: &mut App, created: u64) {
    app.popups.retain(|p| !matches!(p, Popup::Create(_)));
    app.info(format!("Created {}.", count(created, "user")));
    // Their keys are minted in LiteLLM next; the rows turn active when done.
    app.watching_sync = true;
    app.last_sync_poll = None;
    refresh_table(app);
}

/// Writes the rows a "create the valid rows" run set aside, if any.
fn write_rejected(app: &mut App, run: PartialCreate, path: PathBuf, created: u64) {
    if run.rejected.is_empty() {
        return;
    }
    let rows: Vec<(Vec<String>, String)> = run
        .rejected
        .into_iter()
        .map(|r| (r.fields, r.user.err().unwrap_or_default()))
        .collect();
    match csv::rejected_csv(&run.header, &rows) {
        Ok(contents) => {
            app.info(format!(
                "Created {}; writing the {} rejected to {}…",
                count(created, "user"),
                count(rows.len() as u64, "row"),
                path.display()
            ));
            let epoch = app.epoch;
            app.push_effect(Effect::WriteNewFile {
                path,
                contents,
                tag: Tag::RejectedWritten {
                    created,
                    rejected: rows.len(),
                },
                epoch,
            });
        }
        Err(err) => app.error(format!(
            "Created {}, but the rejected rows could not be written: {err}",
            count(created, "user")
        )),
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
