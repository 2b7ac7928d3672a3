//! Typing and keys go to the dialog on top: edit, bulk edit, create, an organization's
//! defaults, an account, or the picker one of them opened. Each dialog's own file says what
//! they do there.

use super::{admins, bulk, create, edit_user, organizations, picker};
use crate::action::Cmd;
use crate::app::App;
use crate::popup::Popup;
use crate::text::Edit;

pub fn edit(app: &mut App, edit: &Edit) {
    match app.popups.last_mut() {
        Some(Popup::Edit(d)) => edit_user::edit(d, edit),
        Some(Popup::Create(d)) => create::edit(d, edit),
        Some(Popup::Bulk(d)) => bulk::edit(d, edit),
        Some(Popup::Picker(p)) => picker::edit(p, edit),
        Some(Popup::OrgDefaults(d)) => organizations::edit(d, edit),
        Some(Popup::Account(form)) => admins::edit(form, edit),
        _ => {}
    }
}

pub fn command(app: &mut App, cmd: Cmd) {
    match app.popups.last() {
        Some(Popup::Edit(_)) => edit_user::command(app, cmd),
        Some(Popup::Bulk(_)) => bulk::command(app, cmd),
        Some(Popup::Create(_)) => create::command(app, cmd),
        Some(Popup::Picker(_)) => picker::command(app, cmd),
        Some(Popup::OrgDefaults(_)) => organizations::command(app, cmd),
        Some(Popup::Account(_)) => admins::command(app, cmd),
        _ => {}
    }
}
