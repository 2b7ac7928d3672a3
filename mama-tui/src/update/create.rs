//! Creating many users at once: typed or pasted rows, or a CSV file, with per-row errors.

use std::path::PathBuf;

use mama_api::rpc::method;
use mama_api::types::{CreateUsersParams, NewUser};
use serde_json::Value;

use super::form::find_popup;
use super::rpc::{answer, describe};
use super::users::refresh_table;
use crate::action::{Cmd, Tag};
use crate::app::App;
use crate::client::ClientError;
use crate::csv;
use crate::effect::Effect;
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

/// Parses the rows; returns the users and the text line each came from.
pub fn parse_rows(text: &str) -> Result<(Vec<NewUser>, Vec<usize>), (usize, String)> {
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
        let info = parse_info(&field(4).replace(';', "\n")).map_err(|e| (n, e))?;
        users.push(NewUser {
            id: field(0).to_string(),
            organization: field(1).to_string(),
            models: set(2),
            services: set(3),
            info,
            ..NewUser::default()
        });
        lines.push(n);
    }
    Ok((users, lines))
}

fn submit_create(app: &mut App) {
    let Some(Popup::Create(d)) = app.popups.last_mut() else {
        return;
    };
    if d.busy {
        return;
    }
    d.row_errors.clear();
    d.error = None;
    match parse_rows(&d.rows.text()) {
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
