//! Admin accounts: the list's answers, the form for a new account or for an account's role and
//! organization scope, and deleting one. Only a super admin is offered the changes; every
//! account may read the list.

use mama_api::rpc::method;
use mama_api::types::{describe_scope, CreateAdminParams, UpdateAdminParams};
use serde_json::Value;

use super::form::cycle;
use super::lists::load_admins;
use super::rpc::{answer, describe};
use crate::action::{Cmd, Tag};
use crate::app::App;
use crate::client::ClientError;
use crate::popup::{AdminField, AdminForm, Popup};
use crate::text::Edit;

/// `n`: the form for a new account.
pub fn open_new(app: &mut App) {
    app.popups.push(Popup::Account(AdminForm::default()));
}

/// `e`: the form for the selected account's role and scope, filled with what it has now.
pub fn open_edit(app: &mut App) {
    if let Some(admin) = app.admins.current() {
        let form = AdminForm::edit(admin);
        app.popups.push(Popup::Account(form));
    }
}

pub fn edit(form: &mut AdminForm, edit: &Edit) {
    match form.focus {
        AdminField::Username if !form.editing => form.username.apply(edit),
        AdminField::Password => form.password.apply(edit),
        AdminField::Organizations => form.organizations.apply(edit),
        AdminField::Username | AdminField::Role => false,
    };
}

pub fn command(app: &mut App, cmd: Cmd) {
    let Some(Popup::Account(form)) = app.popups.last_mut() else {
        return;
    };
    let fields = form.fields();
    match cmd {
        Cmd::Back => {
            app.popups.pop();
        }
        Cmd::NextField => form.focus = cycle(&fields, form.focus, true),
        Cmd::PrevField => form.focus = cycle(&fields, form.focus, false),
        Cmd::NextChoice | Cmd::Toggle => form.cycle_role(true),
        Cmd::PrevChoice => form.cycle_role(false),
        // Enter moves on like tab, and saves on the last field.
        Cmd::Open if fields.last() != Some(&form.focus) => {
            form.focus = cycle(&fields, form.focus, true)
        }
        Cmd::Open | Cmd::Save => save(app),
        _ => {}
    }
}

fn save(app: &mut App) {
    let Some(Popup::Account(form)) = app.popups.last_mut() else {
        return;
    };
    let username = form.username.value().trim().to_string();
    if username.is_empty() {
        form.error = Some("a username is needed".into());
        form.focus = AdminField::Username;
        return;
    }
    form.error = None;
    if form.editing {
        let params = UpdateAdminParams {
            username,
            role: form.role,
            organizations: form.scope(),
        };
        app.call::<method::AdminsUpdate>(&params, Tag::UpdateAdmin);
    } else {
        let params = CreateAdminParams {
            username,
            password: form.password.value().to_string(),
            role: form.role,
            organizations: form.scope(),
        };
        app.call::<method::AdminsCreate>(&params, Tag::CreateAdmin);
    }
}

/// A refused form keeps what was typed and says why; anything else goes to the status line.
fn form_error(app: &mut App, err: &ClientError) {
    match app.popups.last_mut() {
        Some(Popup::Account(form)) => form.error = Some(describe(err)),
        _ => app.error(describe(err)),
    }
}

pub fn reply(app: &mut App, tag: Tag, result: Result<Value, ClientError>) {
    match tag {
        Tag::Admins => match answer::<method::AdminsList>(result) {
            Ok(list) => app.admins.set(list.admins),
            Err(err) => {
                app.admins.loaded = true;
                app.error(format!("admins: {}", describe(&err)));
            }
        },
        Tag::CreateAdmin => match result {
            Ok(_) => {
                app.popups.retain(|p| !matches!(p, Popup::Account(_)));
                app.info("Account created; they must change the password at first login.");
                load_admins(app);
            }
            Err(err) => form_error(app, &err),
        },
        Tag::UpdateAdmin => match answer::<method::AdminsUpdate>(result) {
            Ok(admin) => {
                app.popups.retain(|p| !matches!(p, Popup::Account(_)));
                app.info(format!(
                    "{} is now {} · {}; their sessions ended.",
                    admin.username,
                    admin.role.as_str(),
                    describe_scope(&admin.organizations)
                ));
                load_admins(app);
            }
            Err(err) => form_error(app, &err),
        },
        Tag::DeleteAdmin => {
            match result {
                Ok(_) => app.info("Account deleted."),
                Err(err) => app.error(format!("delete account: {}", describe(&err))),
            }
            load_admins(app);
        }
        _ => {}
    }
}
