//! Idle logout: a TUI left open and unattended ends its session after `--idle-logout-minutes`
//! without a key press (the token would otherwise be refreshed forever), and only then.

mod common;

use chrono::Duration;
use common::{at, users_app};
use mama_tui::action::{Action, Cmd, Screen};
use mama_tui::update::update;

#[test]
fn a_session_ends_after_the_idle_minutes_without_input() {
    let mut app = users_app(80, 24, common::sample_users(), 3);
    assert_eq!(app.idle_logout_minutes, 30, "the default");
    let signed_in = at(10, 0);

    // 29 minutes without a key: still signed in.
    let effects = update(&mut app, Action::Tick(signed_in + Duration::minutes(29)));
    assert!(app.session.is_some());
    assert!(!common::methods(&effects).contains(&"auth.logout"));

    // A key pressed at 10:29 restarts the clock: at 10:58 (29 minutes later) still signed in.
    update(&mut app, Action::Cmd(Cmd::Down));
    update(&mut app, Action::Tick(signed_in + Duration::minutes(58)));
    assert!(app.session.is_some(), "input restarts the idle clock");

    // 30 minutes after the last key: signed out, on the daemon too, and told why.
    let effects = update(&mut app, Action::Tick(signed_in + Duration::minutes(59)));
    assert!(app.session.is_none(), "signed out after 30 idle minutes");
    assert_eq!(app.screen, Screen::Login);
    assert!(common::methods(&effects).contains(&"auth.logout"));
    let screen = common::screen(&app);
    assert!(
        screen.contains("Signed out after 30 minutes without input"),
        "{screen}"
    );
}

#[test]
fn zero_idle_minutes_never_signs_out() {
    let mut app = users_app(80, 24, common::sample_users(), 3);
    app.idle_logout_minutes = 0;
    update(&mut app, Action::Tick(at(10, 0) + Duration::hours(20)));
    assert!(app.session.is_some());
}
