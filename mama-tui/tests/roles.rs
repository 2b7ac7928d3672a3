//! Roles and organization scopes: what a viewer, a scoped admin and an admin are offered (hint
//! bar, `?` help, `:` palette), that a command they may not run sends nothing and says why, a
//! viewer reading a user with its key hidden, and the account form of the admins screen.

mod common;

use common::*;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use mama_api::rpc::Caller;
use mama_api::types::Role;
use mama_tui::action::{Cmd, Screen, Tag};
use mama_tui::app::{App, Level};
use mama_tui::effect::Effect;
use mama_tui::keymap::{self, handle_key, Context};
use mama_tui::palette;
use mama_tui::popup::Popup;
use mama_tui::update::update;
use serde_json::json;

const SCREENS: [Screen; 8] = [
    Screen::Users,
    Screen::Models,
    Screen::Admins,
    Screen::Services,
    Screen::Events,
    Screen::Organizations,
    Screen::Usage,
    Screen::Trash,
];

/// The daemon's reasons, from the same declaration it refuses by.
fn reason(caller: Caller, role: Role, scoped: bool) -> &'static str {
    match caller.admits(role, scoped) {
        Err(reason) => reason,
        Ok(()) => panic!("{caller:?} admits {role:?}"),
    }
}

fn viewer_app() -> App {
    users_app_as(
        session_as("alice", "viewer", Some(&["sales", "영업부"])),
        80,
        24,
        sample_users(),
        5,
    )
}

fn scoped_admin_app() -> App {
    users_app_as(
        session_as("bob", "admin", Some(&["Sales"])),
        80,
        24,
        sample_users(),
        5,
    )
}

fn admin_app() -> App {
    users_app_as(
        session_as("carol", "admin", None),
        80,
        24,
        sample_users(),
        5,
    )
}

/// A key (or palette line) sent to the app.
type Press = fn(&mut App) -> Vec<Effect>;

/// A key pressed as the terminal would send it: through the keymap, then `update`.
fn press(app: &mut App, code: KeyCode, mods: KeyModifiers) -> Vec<Effect> {
    let action = handle_key(Context::of(app), KeyEvent::new(code, mods));
    update(app, action)
}

fn key(app: &mut App, c: char) -> Vec<Effect> {
    press(app, KeyCode::Char(c), KeyModifiers::NONE)
}

fn ctrl(app: &mut App, c: char) -> Vec<Effect> {
    press(app, KeyCode::Char(c), KeyModifiers::CONTROL)
}

/// `:line` typed into the palette and run.
fn run(app: &mut App, line: &str) -> Vec<Effect> {
    key(app, ':');
    typed(app, line);
    press(app, KeyCode::Enter, KeyModifiers::NONE)
}

fn hint_bar(app: &App) -> String {
    screen(app).lines().last().unwrap_or_default().to_string()
}

fn status_line(app: &App) -> String {
    let text = screen(app);
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len() - 2].to_string()
}

/// The `?` help of the current screen, as drawn (then closed again).
fn help(app: &mut App) -> String {
    cmd(app, Cmd::Help);
    let text = screen(app);
    cmd(app, Cmd::Back);
    text
}

fn refused_with(app: &App, reason: &str) {
    assert_eq!(
        app.message,
        Some((Level::Error, reason.to_string())),
        "the status line says why"
    );
}

/// Offered on some screen to an account that may change things, never to a viewer.
const CHANGE_HINTS: [&str; 10] = [
    "bulk",
    "create",
    "delete",
    "new",
    "token",
    "edit",
    "revoke",
    "drop unavailable",
    "restore",
    "purge",
];
/// (`delete ` with its space: the trash's table has a "deleted" column.)
const CHANGE_HELP: [&str; 14] = [
    "bulk edit",
    "create users",
    "delete ",
    "rotate keys",
    "suspend or resume",
    "drop unavailable",
    "new service",
    "new account",
    "issue a token",
    "edit the default limits",
    "edit role",
    "edit user",
    "restore marked",
    "purge marked",
];

#[test]
fn a_viewer_is_offered_no_change_in_the_hint_bar_the_help_or_the_palette() {
    let mut app = viewer_app();
    for screen in SCREENS {
        for b in keymap::offered(&app, screen) {
            assert!(
                matches!(b.caller, Caller::Anyone | Caller::Pending | Caller::Viewer),
                "{screen:?}: {} ({}) is offered to a viewer",
                b.key,
                b.help
            );
        }
        cmd(&mut app, Cmd::GoTo(screen));
        let hints = hint_bar(&app);
        for word in CHANGE_HINTS {
            assert!(!hints.contains(word), "{screen:?}: {word:?} in {hints:?}");
        }
        let help = help(&mut app);
        for words in CHANGE_HELP {
            assert!(!help.contains(words), "{screen:?}: {words:?} in\n{help}");
        }
    }
    // What a viewer may do is still there: Enter shows a user, the usage, the export.
    cmd(&mut app, Cmd::GoTo(Screen::Users));
    let help = help(&mut app);
    assert!(help.contains("enter   user details"), "{help}");
    assert!(hint_bar(&app).contains("u usage"), "{}", hint_bar(&app));
    let commands = palette::help(&app);
    assert!(commands.contains(":export FILE") && commands.contains(":usage"));
    assert!(
        !commands.contains(":retry") && !commands.contains(":reconcile"),
        "{commands}"
    );
    assert!(palette::suggestions(&app, "re").is_empty());
    // The palette suggests only what may run.
    key(&mut app, ':');
    typed(&mut app, "re");
    let text = screen(&app);
    assert!(
        !text.contains(":retry") && !text.contains(":reconcile"),
        "{text}"
    );
}

#[test]
fn a_scoped_admin_is_not_offered_services_reconcile_or_retry() {
    let mut app = scoped_admin_app();
    // Users of its organizations it changes like any admin.
    let hints = hint_bar(&app);
    assert!(
        hints.contains("b bulk") && hints.contains("c create"),
        "{hints}"
    );
    cmd(&mut app, Cmd::GoTo(Screen::Services));
    let hints = hint_bar(&app);
    for word in ["new", "token", "delete/revoke"] {
        assert!(!hints.contains(word), "{word:?} in {hints:?}");
    }
    let help = help(&mut app);
    for words in ["new service", "issue a token", "delete service"] {
        assert!(!help.contains(words), "{words:?} in\n{help}");
    }
    let commands = palette::help(&app);
    assert!(
        !commands.contains(":retry") && !commands.contains(":reconcile"),
        "{commands}"
    );
    assert!(palette::suggestions(&app, "re").is_empty());

    // An admin without a scope is offered all three; the accounts only a super admin.
    let mut app = admin_app();
    cmd(&mut app, Cmd::GoTo(Screen::Services));
    let hints = hint_bar(&app);
    assert!(
        hints.contains("n new") && hints.contains("t token"),
        "{hints}"
    );
    assert_eq!(
        palette::suggestions(&app, "re"),
        vec![":retry", ":reconcile"]
    );
    cmd(&mut app, Cmd::GoTo(Screen::Admins));
    let hints = hint_bar(&app);
    for word in ["n new", "e edit", "delete"] {
        assert!(!hints.contains(word), "{word:?} in {hints:?}");
    }
}

#[test]
fn a_viewer_pressing_a_change_key_sends_nothing_and_is_told_why() {
    let viewer = reason(Caller::Admin, Role::Viewer, true);
    assert_eq!(viewer, "a viewer may read but not change anything");
    let mut app = viewer_app();
    // Marking is reading; what would act on the marks is refused.
    key(&mut app, ' ');
    assert_eq!(app.users.marks.len(), 1);
    let presses: [(&str, Press); 9] = [
        ("c", |app| key(app, 'c')),
        ("b", |app| key(app, 'b')),
        ("R", |app| key(app, 'R')),
        ("x", |app| key(app, 'x')),
        ("p", |app| key(app, 'p')),
        ("ctrl-d", |app| ctrl(app, 'd')),
        (":create", |app| run(app, "create")),
        (":retry", |app| run(app, "retry")),
        (":reconcile", |app| run(app, "reconcile")),
    ];
    for (name, press) in presses {
        app.message = None;
        let effects = press(&mut app);
        assert!(
            methods(&effects).is_empty(),
            "{name}: {:?}",
            methods(&effects)
        );
        assert!(app.popups.is_empty(), "{name}: {:?}", app.popups);
        refused_with(&app, viewer);
    }
    cmd(&mut app, Cmd::GoTo(Screen::Organizations));
    reply(&mut app, Tag::Organizations, organizations());
    let presses: [Press; 2] = [
        |app| press(app, KeyCode::Enter, KeyModifiers::NONE),
        |app| key(app, 'e'),
    ];
    for press in presses {
        app.message = None;
        let effects = press(&mut app);
        assert!(effects.is_empty() && app.popups.is_empty());
        refused_with(&app, viewer);
    }
}

#[test]
fn a_scoped_admin_or_an_admin_is_refused_what_is_not_theirs() {
    let mut app = scoped_admin_app();
    let scoped = reason(Caller::GlobalAdmin, Role::Admin, true);
    for line in ["reconcile", "retry"] {
        app.message = None;
        let effects = run(&mut app, line);
        assert!(methods(&effects).is_empty(), "{line}");
        refused_with(&app, scoped);
    }
    cmd(&mut app, Cmd::GoTo(Screen::Services));
    reply(
        &mut app,
        Tag::Services,
        json!({"services": [{"name": "chat", "created_at": "2026-03-01T08:00:00Z", "users": 3,
            "tokens": []}]}),
    );
    for c in ['n', 't'] {
        app.message = None;
        let effects = key(&mut app, c);
        assert!(effects.is_empty() && app.popups.is_empty(), "{effects:?}");
        refused_with(&app, scoped);
    }
    app.message = None;
    assert!(ctrl(&mut app, 'd').is_empty() && app.popups.is_empty());
    refused_with(&app, scoped);

    let mut app = admin_app();
    cmd(&mut app, Cmd::GoTo(Screen::Admins));
    reply(&mut app, Tag::Admins, admins());
    let only_super = reason(Caller::Super, Role::Admin, false);
    for c in ['n', 'e'] {
        app.message = None;
        let effects = key(&mut app, c);
        assert!(effects.is_empty() && app.popups.is_empty(), "{effects:?}");
        refused_with(&app, only_super);
    }
    app.message = None;
    assert!(ctrl(&mut app, 'd').is_empty() && app.popups.is_empty());
    refused_with(&app, only_super);
    // What an admin may do still happens.
    cmd(&mut app, Cmd::GoTo(Screen::Users));
    key(&mut app, 'c');
    assert!(matches!(app.popups.last(), Some(Popup::Create(_))));
}

#[test]
fn every_command_a_super_admin_runs_is_wired_up() {
    for command in palette::COMMANDS {
        let mut app = users_app(80, 24, sample_users(), 5);
        run(&mut app, command.names[0]);
        let message = app.message.map(|(_, m)| m).unwrap_or_default();
        assert!(
            !message.contains("not wired up") && !message.contains("unknown command"),
            ":{} → {message}",
            command.names[0]
        );
    }
}

#[test]
fn a_viewer_reads_a_user_with_the_key_hidden_and_cannot_save() {
    let mut app = viewer_app();
    let effects = press(&mut app, KeyCode::Enter, KeyModifiers::NONE);
    assert!(
        methods(&effects).is_empty(),
        "no pickers are loaded to read: {:?}",
        methods(&effects)
    );
    let Some(Popup::Edit(d)) = app.popups.last() else {
        panic!("the user's details: {:?}", app.popups)
    };
    assert!(d.read_only.is_some() && d.key_hidden);
    let text = screen(&app);
    assert!(
        text.contains("sk-...0333 (active) · key hidden (viewer)"),
        "{text}"
    );
    assert!(text.contains("read only"), "{text}");
    assert!(
        hint_bar(&app).contains("esc close") && !hint_bar(&app).contains("save"),
        "{}",
        hint_bar(&app)
    );
    insta::assert_snapshot!("viewer_reads_a_user", text);

    // Typing changes nothing, saving sends nothing and says why.
    typed(&mut app, "x");
    let effects = ctrl(&mut app, 's');
    assert!(effects.is_empty(), "{effects:?}");
    let Some(Popup::Edit(d)) = app.popups.last() else {
        panic!("still open")
    };
    assert_eq!(d.organization.value(), "연구소");
    assert_eq!(
        d.error.as_deref(),
        Some(reason(Caller::Admin, Role::Viewer, true))
    );

    // Reloading (users.get, which never answers a viewer the key) keeps it read only.
    let effects = ctrl(&mut app, 'r');
    assert_eq!(methods(&effects), vec!["users.get"]);
    let mut kim = sample_users().remove(0);
    kim.key = None;
    reply(
        &mut app,
        Tag::EditLoad,
        json!({"users": [kim], "missing": []}),
    );
    let Some(Popup::Edit(d)) = app.popups.last() else {
        panic!("still open")
    };
    assert!(d.read_only.is_some() && d.key_hidden);
}

#[test]
fn users_screen_of_a_viewer_80x24() {
    let mut app = viewer_app();
    let text = screen(&app);
    assert!(text.contains("alice (viewer · sales, 영업부)"), "{text}");
    // Pressing c: the reason, still with the role beside it.
    key(&mut app, 'c');
    // At 80 columns with a busy sync queue, the reason keeps its room: the queue and then
    // the name and organizations give way, the role stays.
    let status = status_line(&app);
    assert!(
        status.contains(" viewer │")
            && status.contains("a viewer may read but not change anything"),
        "{status}"
    );
    insta::assert_snapshot!("users_screen_of_a_viewer", screen(&app));
}

#[test]
fn the_account_says_role_and_scope_within_its_room() {
    use mama_tui::text::width;
    use mama_tui::ui::account_text;
    let scope = Some(vec![
        "sales".to_string(),
        "영업부".to_string(),
        "연구소 본부".to_string(),
    ]);
    assert_eq!(
        account_text("alice", Role::Viewer, &scope, 80),
        "alice (viewer · sales, 영업부, 연구소 본부)"
    );
    let cut = account_text("alice", Role::Viewer, &scope, 27);
    assert!(width(&cut) <= 27, "{cut}");
    assert!(
        cut.starts_with("alice (viewer · sales, ") && cut.ends_with("…)"),
        "{cut}"
    );
    assert_eq!(
        account_text("bob", Role::Admin, &None, 80),
        "bob (admin · every organization)"
    );
    assert_eq!(account_text("root", Role::Super, &None, 5), "root (super)");
}

fn admins() -> serde_json::Value {
    json!({"admins": [
        {"username": "admin", "role": "super", "must_change_password": false,
         "created_at": "2026-03-01T08:00:00Z", "password_changed_at": "2026-03-01T08:05:00Z"},
        {"username": "운영자", "role": "admin", "must_change_password": false,
         "organizations": ["Sales", "영업부"],
         "created_at": "2026-03-02T09:00:00Z", "password_changed_at": "2026-03-02T09:00:00Z"},
        {"username": "alice", "role": "viewer", "must_change_password": true,
         "organizations": ["연구소", "연구소 본부", "Research", "Sales", "Ops", "Marketing"],
         "created_at": "2026-03-02T09:10:00Z", "password_changed_at": "2026-03-02T09:10:00Z"},
    ]})
}

#[test]
fn admins_screen_of_a_viewer_shows_scopes_and_offers_nothing() {
    let mut app = viewer_app();
    let effects = cmd(&mut app, Cmd::GoTo(Screen::Admins));
    assert_eq!(
        methods(&effects),
        vec!["admins.list"],
        "any account reads it"
    );
    reply(&mut app, Tag::Admins, admins());
    let text = screen(&app);
    assert!(text.contains("Sales, 영업부"), "{text}");
    insta::assert_snapshot!("admins_screen_of_a_viewer", text);
}

#[test]
fn a_super_admin_changes_an_accounts_role_and_scope() {
    let mut app = users_app(80, 24, sample_users(), 5);
    cmd(&mut app, Cmd::GoTo(Screen::Admins));
    reply(&mut app, Tag::Admins, admins());
    cmd(&mut app, Cmd::Down);
    key(&mut app, 'e');
    let Some(Popup::Account(form)) = app.popups.last() else {
        panic!("the account form: {:?}", app.popups)
    };
    assert!(form.editing);
    assert_eq!(form.username.value(), "운영자");
    assert_eq!(form.role, Role::Admin);
    assert_eq!(form.organizations.value(), "Sales, 영업부");
    insta::assert_snapshot!("edit_account_dialog", screen(&app));

    // ← from admin is viewer (→ cycles super → viewer → admin); then one more organization.
    press(&mut app, KeyCode::Left, KeyModifiers::NONE);
    press(&mut app, KeyCode::Tab, KeyModifiers::NONE);
    typed(&mut app, ", 연구소");
    let effects = ctrl(&mut app, 's');
    let Some(Effect::Call { method, params, .. }) = effects.first() else {
        panic!("{effects:?}")
    };
    assert_eq!(
        (*method, params),
        (
            "admins.update",
            &json!({"username": "운영자", "role": "viewer",
                    "organizations": ["Sales", "영업부", "연구소"]})
        )
    );
    let effects = reply(
        &mut app,
        Tag::UpdateAdmin,
        json!({"username": "운영자", "role": "viewer", "organizations": ["Sales", "영업부", "연구소"],
               "must_change_password": false, "created_at": "2026-03-02T09:00:00Z",
               "password_changed_at": "2026-03-02T09:00:00Z"}),
    );
    assert!(app.popups.is_empty());
    assert_eq!(
        methods(&effects),
        vec!["admins.list"],
        "the list is reloaded"
    );
    assert_eq!(
        app.message,
        Some((
            Level::Info,
            "운영자 is now viewer · Sales, 영업부, 연구소; their sessions ended.".into()
        ))
    );
}

#[test]
fn a_new_account_cycles_its_role_and_takes_organizations_unless_super() {
    let mut app = users_app(80, 24, sample_users(), 5);
    cmd(&mut app, Cmd::GoTo(Screen::Admins));
    key(&mut app, 'n');
    typed(&mut app, "dana");
    press(&mut app, KeyCode::Tab, KeyModifiers::NONE);
    typed(&mut app, "a-long-password");
    press(&mut app, KeyCode::Tab, KeyModifiers::NONE);
    let role = |app: &App| match app.popups.last() {
        Some(Popup::Account(form)) => form.role,
        other => panic!("{other:?}"),
    };
    let mut seen = Vec::new();
    for _ in 0..3 {
        press(&mut app, KeyCode::Right, KeyModifiers::NONE);
        seen.push(role(&app));
    }
    assert_eq!(seen, vec![Role::Super, Role::Viewer, Role::Admin]);
    // A super admin has no organizations field: tab wraps to the username.
    press(&mut app, KeyCode::Right, KeyModifiers::NONE);
    press(&mut app, KeyCode::Tab, KeyModifiers::NONE);
    let Some(Popup::Account(form)) = app.popups.last() else {
        panic!()
    };
    assert_eq!(form.focus, mama_tui::popup::AdminField::Username);
    // A viewer limited to two organizations.
    press(&mut app, KeyCode::BackTab, KeyModifiers::NONE);
    press(&mut app, KeyCode::Right, KeyModifiers::NONE);
    press(&mut app, KeyCode::Tab, KeyModifiers::NONE);
    typed(&mut app, " Sales ,영업부,, Sales");
    insta::assert_snapshot!("new_account_dialog", screen(&app));
    let effects = press(&mut app, KeyCode::Enter, KeyModifiers::NONE);
    let Some(Effect::Call { method, params, .. }) = effects.first() else {
        panic!("{effects:?}")
    };
    assert_eq!(
        (*method, params),
        (
            "admins.create",
            &json!({"username": "dana", "password": "a-long-password", "role": "viewer",
                    "organizations": ["Sales", "영업부"]})
        )
    );
}
