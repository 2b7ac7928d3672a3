//! Login, the forced password change, changing one's own password and keeping the session
//! fresh.

use mama_api::rpc::method;
use mama_api::types::{ChangePasswordParams, LoginParams, Session};
use mama_api::ErrorCode;
use serde_json::Value;

use super::nav::{go_to, quit};
use super::rpc::{answer, describe};
use crate::action::{Cmd, Screen, Tag};
use crate::app::{App, SessionInfo};
use crate::client::ClientError;
use crate::popup::{PasswordForm, Popup};
use crate::text::Edit;

pub fn edit(app: &mut App, edit: &Edit) {
    match app.screen {
        Screen::Login => {
            let form = &mut app.login;
            let input = if form.focus == 0 {
                &mut form.username
            } else {
                &mut form.password
            };
            input.apply(edit);
        }
        Screen::ForcePassword => {
            app.force_password.input_mut().apply(edit);
        }
        _ => {}
    }
}

pub fn command(app: &mut App, cmd: Cmd) {
    match (app.screen, cmd) {
        (_, Cmd::Quit) => quit(app),
        (Screen::Login, Cmd::NextField | Cmd::PrevField) => {
            app.login.focus = 1 - app.login.focus.min(1)
        }
        (Screen::Login, Cmd::Open | Cmd::Save) => {
            if app.login.focus == 0 {
                app.login.focus = 1;
            } else {
                login(app);
            }
        }
        (Screen::ForcePassword, cmd) if password_form_command(&mut app.force_password, cmd) => {
            submit_password(app, false);
        }
        _ => {}
    }
}

/// Moves focus in a password form; returns true when the form should be submitted.
pub fn password_form_command(form: &mut PasswordForm, cmd: Cmd) -> bool {
    match cmd {
        Cmd::NextField => form.focus_index = (form.focus_index + 1) % 3,
        Cmd::PrevField => form.focus_index = (form.focus_index + 2) % 3,
        Cmd::Open if form.focus_index < 2 => form.focus_index += 1,
        Cmd::Open | Cmd::Save => return true,
        _ => {}
    }
    false
}

fn login(app: &mut App) {
    if app.login.busy {
        return;
    }
    let username = app.login.username.value().trim().to_string();
    if username.is_empty() || app.login.password.is_empty() {
        app.login.message = Some("Enter a username and a password.".into());
        return;
    }
    app.login.busy = true;
    app.login.message = None;
    let params = LoginParams {
        username,
        password: app.login.password.value().to_string(),
    };
    app.call::<method::AuthLogin>(&params, Tag::Login);
}

/// Sends `auth.change_password` from the forced screen or the popup (`popup == true`).
pub fn submit_password(app: &mut App, popup: bool) {
    let form = if popup {
        match app.popups.last_mut() {
            Some(Popup::Password(form)) => form,
            _ => return,
        }
    } else {
        &mut app.force_password
    };
    if form.busy {
        return;
    }
    if let Err(problem) = form.validate() {
        form.error = Some(problem);
        return;
    }
    form.busy = true;
    form.error = None;
    let params = ChangePasswordParams {
        old_password: form.old.value().to_string(),
        new_password: form.new.value().to_string(),
    };
    app.call::<method::AuthChangePassword>(&params, Tag::ChangePassword);
}

fn start_session(app: &mut App, session: Session) {
    app.session = Some(SessionInfo {
        token: session.token,
        username: session.username,
        role: session.role,
        organizations: session.organizations,
        expires_at: session.expires_at,
    });
    app.refreshing = false;
}

pub fn reply(app: &mut App, tag: Tag, result: Result<Value, ClientError>) {
    match tag {
        Tag::Login => {
            app.login.busy = false;
            match answer::<method::AuthLogin>(result) {
                Ok(session) => {
                    // The password is not needed any more; do not keep it in memory.
                    app.login.password.clear();
                    app.login.message = None;
                    let must_change = session.must_change_password;
                    start_session(app, session);
                    // The idle clock starts at the sign-in (refreshes do not restart it).
                    app.last_input = app.now;
                    if must_change {
                        app.screen = Screen::ForcePassword;
                        app.force_password = PasswordForm::default();
                    } else {
                        go_to(app, Screen::Users);
                    }
                }
                Err(err) => {
                    app.login.password.clear();
                    app.login.message = Some(match err.api().map(|e| e.code) {
                        Some(ErrorCode::LoginFailed) => "Wrong username or password.".to_string(),
                        _ => describe(&err),
                    });
                }
            }
        }
        Tag::Refresh => {
            app.refreshing = false;
            match answer::<method::AuthRefresh>(result) {
                Ok(session) => start_session(app, session),
                Err(err) => app.error(format!("session refresh failed: {}", describe(&err))),
            }
        }
        Tag::ChangePassword => {
            let forced = app.screen == Screen::ForcePassword;
            match answer::<method::AuthChangePassword>(result) {
                Ok(session) => {
                    start_session(app, session);
                    if forced {
                        app.force_password = PasswordForm::default();
                        go_to(app, Screen::Users);
                    } else {
                        app.popups.retain(|p| !matches!(p, Popup::Password(_)));
                    }
                    app.info("Password changed.");
                }
                Err(err) => {
                    let message = match err.api().map(|e| e.code) {
                        Some(ErrorCode::LoginFailed) | Some(ErrorCode::Unauthenticated) => {
                            "The current password is wrong.".to_string()
                        }
                        _ => describe(&err),
                    };
                    let form = if forced {
                        Some(&mut app.force_password)
                    } else {
                        app.popups.iter_mut().rev().find_map(|p| match p {
                            Popup::Password(form) => Some(form),
                            _ => None,
                        })
                    };
                    if let Some(form) = form {
                        form.busy = false;
                        form.error = Some(message);
                    }
                }
            }
        }
        _ => {}
    }
}
