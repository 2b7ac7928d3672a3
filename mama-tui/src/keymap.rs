//! Keys → actions. One table per screen drives the key handling, the `?` help and the hint bar,
//! so they cannot disagree. Handling returns an [`Action`] and touches nothing, so every binding
//! is unit tested without a terminal (the atuin `handle_key_input` pattern).
//!
//! Each binding also says who may use it: the [`Caller`] of the RPC method its command ends up
//! calling (`M::CALLER`, from the one method table the daemon checks too). The help and the hint
//! bar offer only what the signed-in account may do, and `update` refuses the rest.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use mama_api::rpc::method::{
    AdminsCreate, AdminsDelete, AdminsUpdate, AuthChangePassword, EventsUndo,
    OrganizationsSetDefaults, ServicesCreate, ServicesDelete, ServicesIssueToken, UsersBulkUpdate,
    UsersCreate, UsersDelete, UsersPurge, UsersRestore, UsersRevealKey, UsersRotateKeys,
    UsersUpdate,
};
use mama_api::rpc::{Caller, Method};
use mama_api::types::{TrashColumn, UsageMeasure, UserColumn};

use crate::action::{Action, Cmd, Screen};
use crate::app::App;
use crate::popup::{AdminField, BulkField, CreateField, EditField, Popup};
use crate::text::Edit;

/// One key binding as the help shows it.
#[derive(Debug, Clone, Copy)]
pub struct Binding {
    pub code: KeyCode,
    pub mods: KeyModifiers,
    pub cmd: Cmd,
    /// How the key is written in the help and hint bar.
    pub key: &'static str,
    pub help: &'static str,
    /// Short label for the bottom hint bar; empty: not shown there.
    pub hint: &'static str,
    /// Who may use it: the caller of the method the command calls (`Anyone` when it calls
    /// none, or only views).
    pub caller: Caller,
    /// What the binding still does for an account refused this caller, and its help then
    /// (Enter on a user edits it, or only shows it to a viewer).
    pub read_only: Option<(Caller, &'static str)>,
}

impl Binding {
    /// The binding for accounts that may call a method declared for `caller` only.
    const fn needs(self, caller: Caller) -> Binding {
        Binding { caller, ..self }
    }

    /// The binding does more (what `help` says) for accounts admitted by `caller`, and only
    /// what `read_only_help` says for the others.
    const fn reads_for_others(self, caller: Caller, read_only_help: &'static str) -> Binding {
        Binding {
            read_only: Some((caller, read_only_help)),
            ..self
        }
    }

    /// The help line as `app`'s account reads it.
    pub fn help_for(&self, app: &App) -> &'static str {
        match self.read_only {
            Some((caller, help)) if !app.may(caller) => help,
            _ => self.help,
        }
    }
}

const fn key(
    c: char,
    cmd: Cmd,
    key: &'static str,
    help: &'static str,
    hint: &'static str,
) -> Binding {
    Binding {
        code: KeyCode::Char(c),
        mods: KeyModifiers::NONE,
        cmd,
        key,
        help,
        hint,
        caller: Caller::Anyone,
        read_only: None,
    }
}

const fn ctrl(
    c: char,
    cmd: Cmd,
    key: &'static str,
    help: &'static str,
    hint: &'static str,
) -> Binding {
    Binding {
        code: KeyCode::Char(c),
        mods: KeyModifiers::CONTROL,
        cmd,
        key,
        help,
        hint,
        caller: Caller::Anyone,
        read_only: None,
    }
}

const fn special(code: KeyCode, cmd: Cmd, key: &'static str, help: &'static str) -> Binding {
    Binding {
        code,
        mods: KeyModifiers::NONE,
        cmd,
        key,
        help,
        hint: "",
        caller: Caller::Anyone,
        read_only: None,
    }
}

/// Moving around a list, shared by every list screen.
const NAVIGATION: &[Binding] = &[
    key('j', Cmd::Down, "j/↓", "next row", ""),
    special(KeyCode::Down, Cmd::Down, "↓", "next row"),
    key('k', Cmd::Up, "k/↑", "previous row", ""),
    special(KeyCode::Up, Cmd::Up, "↑", "previous row"),
    special(KeyCode::PageDown, Cmd::PageDown, "PgDn", "page down"),
    ctrl('f', Cmd::PageDown, "ctrl-f", "page down", ""),
    special(KeyCode::PageUp, Cmd::PageUp, "PgUp", "page up"),
    ctrl('b', Cmd::PageUp, "ctrl-b", "page up", ""),
    key('g', Cmd::Top, "g", "first row", ""),
    special(KeyCode::Home, Cmd::Top, "Home", "first row"),
    key('G', Cmd::Bottom, "G", "last row", ""),
    special(KeyCode::End, Cmd::Bottom, "End", "last row"),
];

/// Everywhere outside text fields.
pub const GLOBAL: &[Binding] = &[
    key('?', Cmd::Help, "?", "help", "help"),
    key(
        ':',
        Cmd::Palette,
        ":",
        // The help lists the commands the account may run (see `crate::palette`).
        "command",
        "cmd",
    ),
    key('1', Cmd::GoTo(Screen::Users), "1", "users screen", ""),
    key('2', Cmd::GoTo(Screen::Models), "2", "models screen", ""),
    key('3', Cmd::GoTo(Screen::Admins), "3", "admins screen", ""),
    key('4', Cmd::GoTo(Screen::Services), "4", "services screen", ""),
    key('5', Cmd::GoTo(Screen::Events), "5", "events screen", ""),
    key(
        '6',
        Cmd::GoTo(Screen::Organizations),
        "6",
        "organizations screen",
        "",
    ),
    key('7', Cmd::GoTo(Screen::Usage), "7", "usage screen", "usage"),
    key('8', Cmd::GoTo(Screen::Trash), "8", "trash screen", ""),
    key('P', Cmd::ChangePassword, "P", "change my password", "").needs(AuthChangePassword::CALLER),
    key('r', Cmd::Reload, "r", "reload", ""),
    key('!', Cmd::ShowMessage, "!", "the last message in full", ""),
    key('q', Cmd::Quit, "q", "quit", "quit"),
    ctrl('c', Cmd::Quit, "ctrl-c", "quit", ""),
];

pub const USERS: &[Binding] = &[
    key(
        '/',
        Cmd::Filter,
        "/",
        "filter: text org:X model:X service:X info:KEY status:suspended key:failed expires:<30d spend:>10 budget:none|set unavailable",
        "filter",
    ),
    key(' ', Cmd::ToggleMark, "space", "mark / unmark", "mark"),
    key(
        'a',
        Cmd::MarkAll,
        "a",
        "mark all matching the filter",
        "mark all",
    ),
    key('A', Cmd::ClearMarks, "A", "clear marks", ""),
    special(
        KeyCode::Esc,
        Cmd::Back,
        "esc",
        "clear marks, then the filter",
    ),
    special(KeyCode::Enter, Cmd::Open, "enter", "edit user")
        .reads_for_others(UsersUpdate::CALLER, "user details"),
    key('u', Cmd::OpenUsage, "u", "usage of the user", "usage"),
    key('b', Cmd::BulkEdit, "b", "bulk edit marked", "bulk").needs(UsersBulkUpdate::CALLER),
    key('c', Cmd::CreateUsers, "c", "create users", "create").needs(UsersCreate::CALLER),
    ctrl('d', Cmd::DeleteMarked, "ctrl-d", "delete marked", "delete").needs(UsersDelete::CALLER),
    key('R', Cmd::RotateMarked, "R", "rotate keys of marked", "").needs(UsersRotateKeys::CALLER),
    key(
        'x',
        Cmd::DropUnavailable,
        "x",
        "drop unavailable models from marked",
        "",
    )
    .needs(UsersBulkUpdate::CALLER),
    key('p', Cmd::SuspendResume, "p", "suspend or resume user", "").needs(UsersUpdate::CALLER),
    key('y', Cmd::RevealKey, "y", "reveal the key (y copies)", "")
        .needs(UsersRevealKey::CALLER),
    key(
        'I',
        Cmd::Sort(UserColumn::Id),
        "I",
        "sort by id (again: reverse)",
        "",
    ),
    key(
        'O',
        Cmd::Sort(UserColumn::Organization),
        "O",
        "sort by organization",
        "",
    ),
    key(
        'M',
        Cmd::Sort(UserColumn::Models),
        "M",
        "sort by models",
        "",
    ),
    key(
        'S',
        Cmd::Sort(UserColumn::Services),
        "S",
        "sort by services",
        "",
    ),
    key(
        'K',
        Cmd::Sort(UserColumn::KeyStatus),
        "K",
        "sort by key status",
        "",
    ),
    key('N', Cmd::Sort(UserColumn::Info), "N", "sort by info", ""),
    key(
        'U',
        Cmd::Sort(UserColumn::UpdatedAt),
        "U",
        "sort by last update",
        "",
    ),
    key(
        'B',
        Cmd::Sort(UserColumn::MaxBudget),
        "B",
        "sort by budget (none last)",
        "",
    ),
    key(
        '$',
        Cmd::Sort(UserColumn::Spend),
        "$",
        "sort by spend (unread first)",
        "",
    ),
    key(
        'W',
        Cmd::Sort(UserColumn::Spend30d),
        "W",
        "sort by spend in the last 30 days",
        "",
    ),
    key(
        'Q',
        Cmd::Sort(UserColumn::Requests30d),
        "Q",
        "sort by requests in the last 30 days",
        "",
    ),
    key(
        'Y',
        Cmd::Sort(UserColumn::LastUsed),
        "Y",
        "sort by last use (never first)",
        "",
    ),
    key(
        'L',
        Cmd::Sort(UserColumn::RpmLimit),
        "L",
        "sort by rate limit (rpm)",
        "",
    ),
    key(
        'E',
        Cmd::Sort(UserColumn::ExpiresAt),
        "E",
        "sort by expiry (never last)",
        "",
    ),
    key(
        'T',
        Cmd::Sort(UserColumn::Status),
        "T",
        "sort by status (suspended first)",
        "",
    ),
];

pub const MODELS: &[Binding] = &[
    key(
        'u',
        Cmd::ShowUnavailableUsers,
        "u",
        "users holding unavailable models",
        "users w/ unavailable",
    ),
    key(
        'x',
        Cmd::DropUnavailable,
        "x",
        "drop unavailable models from marked users",
        "drop unavailable",
    )
    .needs(UsersBulkUpdate::CALLER),
];

pub const ADMINS: &[Binding] = &[
    key('n', Cmd::New, "n", "new account", "new").needs(AdminsCreate::CALLER),
    key('e', Cmd::Open, "e", "edit role and organizations", "edit").needs(AdminsUpdate::CALLER),
    ctrl('d', Cmd::Remove, "ctrl-d", "delete account", "delete").needs(AdminsDelete::CALLER),
];

pub const SERVICES: &[Binding] = &[
    key('n', Cmd::New, "n", "new service", "new").needs(ServicesCreate::CALLER),
    key(
        't',
        Cmd::IssueToken,
        "t",
        "issue a token (shown once)",
        "token",
    )
    .needs(ServicesIssueToken::CALLER),
    // Deleting a service and revoking a token are declared for the same caller (a test checks).
    ctrl(
        'd',
        Cmd::Remove,
        "ctrl-d",
        "delete service / revoke token",
        "delete/revoke",
    )
    .needs(ServicesDelete::CALLER),
];

pub const EVENTS: &[Binding] = &[
    key(
        '/',
        Cmd::Filter,
        "/",
        "filter: changes|views actor:X action:X user:ID result:ok|error since:15m until:2026-11-22T01:00",
        "filter",
    ),
    special(KeyCode::Enter, Cmd::Open, "enter", "event details"),
    key(
        'u',
        Cmd::Undo,
        "u",
        "undo the change (shows what it does first)",
        "undo",
    )
    .needs(EventsUndo::CALLER),
    special(KeyCode::Esc, Cmd::Back, "esc", "clear the filter"),
];

pub const ORGANIZATIONS: &[Binding] = &[
    special(
        KeyCode::Enter,
        Cmd::Open,
        "enter",
        "edit the default limits",
    )
    .needs(OrganizationsSetDefaults::CALLER),
    key(
        'e',
        Cmd::Open,
        "e",
        "edit the default limits",
        "edit defaults",
    )
    .needs(OrganizationsSetDefaults::CALLER),
];

pub const USAGE: &[Binding] = &[
    key(
        '/',
        Cmd::Filter,
        "/",
        "filter: org:X model:X user:ID and words (id, organization)",
        "filter",
    ),
    key(
        'm',
        Cmd::UsageMeasure,
        "m",
        "measure: spend, requests, tokens",
        "measure",
    ),
    key(
        'd',
        Cmd::UsageRange(false),
        "d",
        "range: today 7d 30d 90d this/last month",
        "range",
    ),
    key('D', Cmd::UsageRange(true), "D", "previous range", ""),
    key(
        'b',
        Cmd::UsageBuckets,
        "b",
        "chart buckets: daily, weekly, monthly",
        "buckets",
    ),
    key(
        't',
        Cmd::UsageRanks,
        "t",
        "table ranks: users, organizations, models",
        "table",
    ),
    special(
        KeyCode::Enter,
        Cmd::Open,
        "enter",
        "chart the selected row alone",
    ),
    key(
        'c',
        Cmd::Open,
        "c",
        "chart the selected row alone",
        "chart row",
    ),
    special(
        KeyCode::Esc,
        Cmd::Back,
        "esc",
        "chart everything, then clear the filter",
    ),
    key(
        '$',
        Cmd::UsageSort(UsageMeasure::Spend),
        "$",
        "rank by spend (again: reverse)",
        "",
    ),
    key(
        'R',
        Cmd::UsageSort(UsageMeasure::Requests),
        "R",
        "rank by requests (again: reverse)",
        "",
    ),
    key(
        'T',
        Cmd::UsageSort(UsageMeasure::Tokens),
        "T",
        "rank by tokens (again: reverse)",
        "",
    ),
];

/// The trash screen. `r` restores here (ctrl-r reloads) and `P` sorts by the purge time: the
/// screen's own keys win over the global ones they share.
pub const TRASH: &[Binding] = &[
    key(
        '/',
        Cmd::Filter,
        "/",
        "filter: text in the id or organization",
        "filter",
    ),
    key(' ', Cmd::ToggleMark, "space", "mark / unmark", "mark"),
    key('a', Cmd::MarkAll, "a", "mark all on the page", "mark all"),
    key('A', Cmd::ClearMarks, "A", "clear marks", ""),
    special(
        KeyCode::Esc,
        Cmd::Back,
        "esc",
        "clear marks, then the filter",
    ),
    special(KeyCode::Enter, Cmd::Open, "enter", "details of the user"),
    key(
        'r',
        Cmd::Restore,
        "r",
        "restore marked (same keys, unblocked)",
        "restore",
    )
    .needs(UsersRestore::CALLER),
    ctrl(
        'd',
        Cmd::Purge,
        "ctrl-d",
        "purge marked for good (keys deleted)",
        "purge",
    )
    .needs(UsersPurge::CALLER),
    ctrl('r', Cmd::Reload, "ctrl-r", "reload", ""),
    key(
        'I',
        Cmd::TrashSort(TrashColumn::Id),
        "I",
        "sort by id (again: reverse)",
        "",
    ),
    key(
        'O',
        Cmd::TrashSort(TrashColumn::Organization),
        "O",
        "sort by organization",
        "",
    ),
    key(
        'D',
        Cmd::TrashSort(TrashColumn::DeletedAt),
        "D",
        "sort by deletion (newest first)",
        "",
    ),
    key(
        'P',
        Cmd::TrashSort(TrashColumn::PurgeAfter),
        "P",
        "sort by purge time (soonest first)",
        "",
    ),
];

/// The bindings of a screen, screen-specific first; a shared key the screen binds itself is
/// the screen's (the trash's `r` restores, it does not reload).
pub fn bindings(screen: Screen) -> Vec<&'static Binding> {
    let own: &[Binding] = match screen {
        Screen::Users => USERS,
        Screen::Models => MODELS,
        Screen::Admins => ADMINS,
        Screen::Services => SERVICES,
        Screen::Events => EVENTS,
        Screen::Organizations => ORGANIZATIONS,
        Screen::Usage => USAGE,
        Screen::Trash => TRASH,
        Screen::Login | Screen::ForcePassword => return Vec::new(),
    };
    let shared = NAVIGATION
        .iter()
        .chain(GLOBAL)
        .filter(|b| !own.iter().any(|o| (o.code, o.mods) == (b.code, b.mods)));
    own.iter().chain(shared).collect()
}

/// The bindings of a screen that `app`'s account may use: what the help and the hint bar offer.
pub fn offered(app: &App, screen: Screen) -> Vec<&'static Binding> {
    bindings(screen)
        .into_iter()
        .filter(|b| app.may(b.caller))
        .collect()
}

/// Who may run `cmd` on `screen`: the caller of its binding there (a command means one thing
/// per screen, whichever key runs it). `Anyone` for a command the screen does not bind.
pub fn caller(screen: Screen, cmd: Cmd) -> Caller {
    bindings(screen)
        .into_iter()
        .find(|b| b.cmd == cmd)
        .map_or(Caller::Anyone, |b| b.caller)
}

/// What kind of field has focus in a form or dialog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Text,
    /// Multi-line: Enter inserts a newline, ↑/↓ move between lines.
    Area,
    /// ←/→ change the value.
    Choice,
    /// Enter or space opens something (a picker).
    Button,
}

/// Where keys go right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Context {
    Screen(Screen),
    FilterBar,
    Form(Field),
    Picker,
    Confirm,
    /// The undo preview: scrolling, `f` for force, and a confirm's `y` / `n`.
    Undo,
    /// The bulk change preview: scrolling, and a confirm's `y` / `n`.
    Preview,
    /// Help and messages: any closing key.
    Dismiss,
}

impl Context {
    pub fn of(app: &App) -> Context {
        if let Some(popup) = app.popups.last() {
            return match popup {
                Popup::Help { .. } | Popup::Message { .. } => Context::Dismiss,
                // The count is typed, so the keys go to a text field.
                Popup::Confirm(c) if c.typed.is_some() => Context::Form(Field::Text),
                Popup::Confirm(_) => Context::Confirm,
                Popup::Picker(_) => Context::Picker,
                Popup::Palette(_) | Popup::Prompt(_) | Popup::Password(_) => {
                    Context::Form(Field::Text)
                }
                Popup::Account(form) => Context::Form(if form.focus == AdminField::Role {
                    Field::Choice
                } else {
                    Field::Text
                }),
                Popup::Edit(d) => Context::Form(match d.focus {
                    EditField::Organization | EditField::Limit(_) => Field::Text,
                    EditField::Models | EditField::Services => Field::Button,
                    EditField::Info => Field::Area,
                }),
                Popup::Bulk(d) => Context::Form(match d.focus {
                    BulkField::ModelsOp
                    | BulkField::ServicesOp
                    | BulkField::OrganizationOp
                    | BulkField::SuspendOp => Field::Choice,
                    BulkField::Models | BulkField::Services => Field::Button,
                    BulkField::Organization
                    | BulkField::InfoUnset
                    | BulkField::Limit(_)
                    | BulkField::ExtendExpiry
                    | BulkField::SuspendReason => Field::Text,
                    BulkField::InfoSet => Field::Area,
                }),
                Popup::Create(d) => Context::Form(match d.focus {
                    CreateField::Rows => Field::Area,
                    CreateField::CsvPath => Field::Text,
                }),
                Popup::OrgDefaults(_) => Context::Form(Field::Text),
                Popup::Undo(_) => Context::Undo,
                Popup::BulkPreview(_) => Context::Preview,
            };
        }
        match app.screen {
            Screen::Login | Screen::ForcePassword => Context::Form(Field::Text),
            Screen::Users if app.users.filter_editing => Context::FilterBar,
            Screen::Events if app.events.filter_editing => Context::FilterBar,
            Screen::Usage if app.usage.filter_editing => Context::FilterBar,
            Screen::Trash if app.trash.filter_editing => Context::FilterBar,
            screen => Context::Screen(screen),
        }
    }
}

/// Translates one key press.
pub fn handle_key(context: Context, key: KeyEvent) -> Action {
    if key.kind == KeyEventKind::Release {
        return Action::None;
    }
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    if ctrl && key.code == KeyCode::Char('c') {
        return Action::Cmd(Cmd::Quit);
    }
    match context {
        Context::Screen(screen) => lookup(&bindings(screen), key),
        Context::FilterBar => match key.code {
            KeyCode::Enter => Action::Cmd(Cmd::Open),
            KeyCode::Esc => Action::Cmd(Cmd::Back),
            KeyCode::Down | KeyCode::Up => Action::Cmd(Cmd::Open),
            _ => text_edit(key, false),
        },
        Context::Form(field) => form_key(field, key),
        Context::Picker => match key.code {
            KeyCode::Up => Action::Cmd(Cmd::Up),
            KeyCode::Down => Action::Cmd(Cmd::Down),
            KeyCode::Char('p') if ctrl => Action::Cmd(Cmd::Up),
            KeyCode::Char('n') if ctrl => Action::Cmd(Cmd::Down),
            KeyCode::Char(' ') => Action::Cmd(Cmd::Toggle),
            KeyCode::Enter => Action::Cmd(Cmd::Open),
            KeyCode::Esc => Action::Cmd(Cmd::Back),
            _ => text_edit(key, false),
        },
        // Only an explicit `y` confirms: Enter, pressed out of habit, must not delete anything.
        Context::Confirm => match key.code {
            KeyCode::Char('y') | KeyCode::Char('Y') => Action::Cmd(Cmd::Yes),
            KeyCode::Char('n') | KeyCode::Char('N') | KeyCode::Esc | KeyCode::Char('q') => {
                Action::Cmd(Cmd::No)
            }
            _ => Action::None,
        },
        // Like a confirm, only `y` applies; the list scrolls as a screen does.
        Context::Undo | Context::Preview => {
            scroll_key(key, ctrl).unwrap_or_else(|| match key.code {
                KeyCode::Char('y') | KeyCode::Char('Y') => Action::Cmd(Cmd::Yes),
                KeyCode::Char('n') | KeyCode::Char('N') | KeyCode::Esc | KeyCode::Char('q') => {
                    Action::Cmd(Cmd::No)
                }
                KeyCode::Char('f') | KeyCode::Char('F') if context == Context::Undo => {
                    Action::Cmd(Cmd::Toggle)
                }
                _ => Action::None,
            })
        }
        // A help taller than the screen scrolls as a list does.
        Context::Dismiss => scroll_key(key, ctrl).unwrap_or(match key.code {
            KeyCode::Esc
            | KeyCode::Enter
            | KeyCode::Char('q')
            | KeyCode::Char('?')
            | KeyCode::Char(' ') => Action::Cmd(Cmd::Back),
            _ => Action::None,
        }),
    }
}

/// The keys that scroll a popup's list (undo and bulk previews, help), as a screen's list
/// scrolls; `None` for every other key.
fn scroll_key(key: KeyEvent, ctrl: bool) -> Option<Action> {
    let cmd = match key.code {
        KeyCode::Char('f') if ctrl => Cmd::PageDown,
        KeyCode::Char('b') if ctrl => Cmd::PageUp,
        KeyCode::Char('j') | KeyCode::Down => Cmd::Down,
        KeyCode::Char('k') | KeyCode::Up => Cmd::Up,
        KeyCode::PageDown => Cmd::PageDown,
        KeyCode::PageUp => Cmd::PageUp,
        KeyCode::Char('g') | KeyCode::Home => Cmd::Top,
        KeyCode::Char('G') | KeyCode::End => Cmd::Bottom,
        _ => return None,
    };
    Some(Action::Cmd(cmd))
}

fn lookup(bindings: &[&Binding], key: KeyEvent) -> Action {
    // Terminals report shift+i as 'I' with or without SHIFT; compare chars without it.
    let mods = match key.code {
        KeyCode::Char(_) => key.modifiers - KeyModifiers::SHIFT,
        _ => key.modifiers,
    };
    bindings
        .iter()
        .find(|b| b.code == key.code && b.mods == mods)
        .map_or(Action::None, |b| Action::Cmd(b.cmd))
}

fn form_key(field: Field, key: KeyEvent) -> Action {
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    match key.code {
        KeyCode::Esc => Action::Cmd(Cmd::Back),
        KeyCode::Tab => Action::Cmd(Cmd::NextField),
        KeyCode::BackTab => Action::Cmd(Cmd::PrevField),
        KeyCode::Char('s') if ctrl => Action::Cmd(Cmd::Save),
        KeyCode::Char('r') if ctrl => Action::Cmd(Cmd::Reload),
        KeyCode::Char('v') if ctrl => Action::Cmd(Cmd::SaveValid),
        KeyCode::Enter if field == Field::Area => Action::Edit(Edit::Newline),
        // A line feed sent without bracketed paste arrives as ctrl-j in raw mode.
        KeyCode::Char('j') if ctrl && field == Field::Area => Action::Edit(Edit::Newline),
        KeyCode::Enter => Action::Cmd(Cmd::Open),
        KeyCode::Up if field == Field::Area => Action::Edit(Edit::Up),
        KeyCode::Down if field == Field::Area => Action::Edit(Edit::Down),
        KeyCode::Up => Action::Cmd(Cmd::PrevField),
        KeyCode::Down => Action::Cmd(Cmd::NextField),
        KeyCode::Left if field == Field::Choice => Action::Cmd(Cmd::PrevChoice),
        KeyCode::Right if field == Field::Choice => Action::Cmd(Cmd::NextChoice),
        KeyCode::Char(' ') if matches!(field, Field::Choice | Field::Button) => {
            Action::Cmd(Cmd::Toggle)
        }
        _ if matches!(field, Field::Choice | Field::Button) => Action::None,
        _ => text_edit(key, field == Field::Area),
    }
}

fn text_edit(key: KeyEvent, multiline: bool) -> Action {
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    let alt = key.modifiers.contains(KeyModifiers::ALT);
    let edit = match key.code {
        KeyCode::Char('u') if ctrl => Edit::ClearLine,
        KeyCode::Char('w') if ctrl => Edit::DeleteWord,
        KeyCode::Char('a') if ctrl => Edit::Home,
        KeyCode::Char('e') if ctrl => Edit::End,
        KeyCode::Char(_) if ctrl || alt => return Action::None,
        KeyCode::Char(c) => Edit::Insert(c),
        KeyCode::Backspace => Edit::Backspace,
        KeyCode::Delete => Edit::Delete,
        KeyCode::Left => Edit::Left,
        KeyCode::Right => Edit::Right,
        KeyCode::Home => Edit::Home,
        KeyCode::End => Edit::End,
        KeyCode::Enter if multiline => Edit::Newline,
        _ => return Action::None,
    };
    Action::Edit(edit)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn press(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    fn with(code: KeyCode, mods: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, mods)
    }

    fn users(key: KeyEvent) -> Action {
        handle_key(Context::Screen(Screen::Users), key)
    }

    #[test]
    fn users_table_navigation_and_marks() {
        assert_eq!(users(press(KeyCode::Char('j'))), Action::Cmd(Cmd::Down));
        assert_eq!(users(press(KeyCode::Down)), Action::Cmd(Cmd::Down));
        assert_eq!(users(press(KeyCode::Char('k'))), Action::Cmd(Cmd::Up));
        assert_eq!(users(press(KeyCode::PageDown)), Action::Cmd(Cmd::PageDown));
        assert_eq!(users(press(KeyCode::Char('g'))), Action::Cmd(Cmd::Top));
        assert_eq!(users(press(KeyCode::Char('G'))), Action::Cmd(Cmd::Bottom));
        assert_eq!(
            users(press(KeyCode::Char(' '))),
            Action::Cmd(Cmd::ToggleMark)
        );
        assert_eq!(users(press(KeyCode::Char('a'))), Action::Cmd(Cmd::MarkAll));
        assert_eq!(
            users(press(KeyCode::Char('A'))),
            Action::Cmd(Cmd::ClearMarks)
        );
        assert_eq!(users(press(KeyCode::Esc)), Action::Cmd(Cmd::Back));
        assert_eq!(users(press(KeyCode::Enter)), Action::Cmd(Cmd::Open));
        assert_eq!(
            users(with(KeyCode::Char('d'), KeyModifiers::CONTROL)),
            Action::Cmd(Cmd::DeleteMarked)
        );
        assert_eq!(users(press(KeyCode::Char('/'))), Action::Cmd(Cmd::Filter));
        assert_eq!(users(press(KeyCode::Char('?'))), Action::Cmd(Cmd::Help));
        assert_eq!(users(press(KeyCode::Char(':'))), Action::Cmd(Cmd::Palette));
        assert_eq!(users(press(KeyCode::Char('z'))), Action::None);
    }

    #[test]
    fn shift_letters_sort_with_or_without_the_shift_flag() {
        assert_eq!(
            users(with(KeyCode::Char('O'), KeyModifiers::SHIFT)),
            Action::Cmd(Cmd::Sort(UserColumn::Organization))
        );
        assert_eq!(
            users(press(KeyCode::Char('I'))),
            Action::Cmd(Cmd::Sort(UserColumn::Id))
        );
        assert_eq!(
            users(press(KeyCode::Char('K'))),
            Action::Cmd(Cmd::Sort(UserColumn::KeyStatus))
        );
    }

    #[test]
    fn the_limit_columns_sort_by_their_own_keys() {
        for (c, column) in [
            ('B', UserColumn::MaxBudget),
            ('$', UserColumn::Spend),
            ('L', UserColumn::RpmLimit),
            ('E', UserColumn::ExpiresAt),
            ('T', UserColumn::Status),
            ('W', UserColumn::Spend30d),
            ('Q', UserColumn::Requests30d),
            ('Y', UserColumn::LastUsed),
        ] {
            assert_eq!(
                users(with(KeyCode::Char(c), KeyModifiers::SHIFT)),
                Action::Cmd(Cmd::Sort(column)),
                "{c}"
            );
        }
    }

    #[test]
    fn no_key_is_bound_twice_on_a_screen() {
        for screen in [
            Screen::Users,
            Screen::Models,
            Screen::Admins,
            Screen::Services,
            Screen::Events,
            Screen::Organizations,
            Screen::Usage,
            Screen::Trash,
        ] {
            let all = bindings(screen);
            for (i, b) in all.iter().enumerate() {
                assert!(
                    all[..i]
                        .iter()
                        .all(|o| (o.code, o.mods) != (b.code, b.mods)),
                    "{screen:?}: {} is bound twice",
                    b.key
                );
            }
        }
        // The new sort letters leave their lower-case keys alone: q still quits.
        assert_eq!(users(press(KeyCode::Char('q'))), Action::Cmd(Cmd::Quit));
        assert_eq!(users(press(KeyCode::Char('w'))), Action::None);
        // `y` reveals the key, not the sort of `Y`.
        assert_eq!(
            users(press(KeyCode::Char('y'))),
            Action::Cmd(Cmd::RevealKey)
        );
    }

    #[test]
    fn organizations_screen_keys() {
        let orgs = Context::Screen(Screen::Organizations);
        let key = |code| handle_key(orgs, press(code));
        assert_eq!(key(KeyCode::Enter), Action::Cmd(Cmd::Open));
        assert_eq!(key(KeyCode::Char('e')), Action::Cmd(Cmd::Open));
        assert_eq!(key(KeyCode::Char('j')), Action::Cmd(Cmd::Down));
        assert_eq!(
            users(press(KeyCode::Char('6'))),
            Action::Cmd(Cmd::GoTo(Screen::Organizations))
        );
    }

    #[test]
    fn usage_screen_keys() {
        let usage = Context::Screen(Screen::Usage);
        let key = |c| handle_key(usage, press(KeyCode::Char(c)));
        assert_eq!(key('m'), Action::Cmd(Cmd::UsageMeasure));
        assert_eq!(key('d'), Action::Cmd(Cmd::UsageRange(false)));
        assert_eq!(key('D'), Action::Cmd(Cmd::UsageRange(true)));
        assert_eq!(key('b'), Action::Cmd(Cmd::UsageBuckets));
        assert_eq!(key('t'), Action::Cmd(Cmd::UsageRanks));
        assert_eq!(key('/'), Action::Cmd(Cmd::Filter));
        assert_eq!(key('$'), Action::Cmd(Cmd::UsageSort(UsageMeasure::Spend)));
        assert_eq!(
            handle_key(usage, press(KeyCode::Enter)),
            Action::Cmd(Cmd::Open)
        );
        assert_eq!(key('j'), Action::Cmd(Cmd::Down));
        // 7 opens it from anywhere; u opens the selected user's usage from the users table.
        assert_eq!(
            users(press(KeyCode::Char('7'))),
            Action::Cmd(Cmd::GoTo(Screen::Usage))
        );
        assert_eq!(
            users(press(KeyCode::Char('u'))),
            Action::Cmd(Cmd::OpenUsage)
        );
        assert_eq!(
            users(press(KeyCode::Char('U'))),
            Action::Cmd(Cmd::Sort(UserColumn::UpdatedAt))
        );
    }

    #[test]
    fn text_fields_take_letters_that_are_commands_elsewhere() {
        let form = Context::Form(Field::Text);
        assert_eq!(
            handle_key(form, press(KeyCode::Char('q'))),
            Action::Edit(Edit::Insert('q'))
        );
        assert_eq!(
            handle_key(form, press(KeyCode::Char('김'))),
            Action::Edit(Edit::Insert('김'))
        );
        assert_eq!(
            handle_key(form, press(KeyCode::Tab)),
            Action::Cmd(Cmd::NextField)
        );
        assert_eq!(
            handle_key(form, press(KeyCode::Enter)),
            Action::Cmd(Cmd::Open)
        );
        assert_eq!(
            handle_key(form, with(KeyCode::Char('s'), KeyModifiers::CONTROL)),
            Action::Cmd(Cmd::Save)
        );
        assert_eq!(
            handle_key(form, with(KeyCode::Char('c'), KeyModifiers::CONTROL)),
            Action::Cmd(Cmd::Quit)
        );
        let area = Context::Form(Field::Area);
        assert_eq!(
            handle_key(area, press(KeyCode::Enter)),
            Action::Edit(Edit::Newline)
        );
        assert_eq!(handle_key(area, press(KeyCode::Up)), Action::Edit(Edit::Up));
        let choice = Context::Form(Field::Choice);
        assert_eq!(
            handle_key(choice, press(KeyCode::Right)),
            Action::Cmd(Cmd::NextChoice)
        );
        assert_eq!(handle_key(choice, press(KeyCode::Char('x'))), Action::None);
        assert_eq!(
            handle_key(Context::FilterBar, press(KeyCode::Char('j'))),
            Action::Edit(Edit::Insert('j'))
        );
        assert_eq!(
            handle_key(Context::FilterBar, press(KeyCode::Esc)),
            Action::Cmd(Cmd::Back)
        );
    }

    #[test]
    fn confirm_needs_an_explicit_yes() {
        assert_eq!(
            handle_key(Context::Confirm, press(KeyCode::Char('y'))),
            Action::Cmd(Cmd::Yes)
        );
        assert_eq!(
            handle_key(Context::Confirm, press(KeyCode::Esc)),
            Action::Cmd(Cmd::No)
        );
        assert_eq!(
            handle_key(Context::Confirm, press(KeyCode::Char(' '))),
            Action::None
        );
        // Enter, pressed out of habit, confirms nothing.
        assert_eq!(
            handle_key(Context::Confirm, press(KeyCode::Enter)),
            Action::None
        );
        assert_eq!(
            handle_key(Context::Picker, press(KeyCode::Char(' '))),
            Action::Cmd(Cmd::Toggle)
        );
    }

    #[test]
    fn events_screen_keys() {
        let events = Context::Screen(Screen::Events);
        let key = |code| handle_key(events, press(code));
        assert_eq!(key(KeyCode::Enter), Action::Cmd(Cmd::Open));
        assert_eq!(key(KeyCode::Char('/')), Action::Cmd(Cmd::Filter));
        assert_eq!(key(KeyCode::Esc), Action::Cmd(Cmd::Back));
        assert_eq!(key(KeyCode::PageDown), Action::Cmd(Cmd::PageDown));
        // In the filter bar the time range is typed like any text.
        for c in "since:15m".chars() {
            assert_eq!(
                handle_key(Context::FilterBar, press(KeyCode::Char(c))),
                Action::Edit(Edit::Insert(c))
            );
        }
    }

    #[test]
    fn the_undo_preview_scrolls_forces_and_needs_an_explicit_yes() {
        let events = Context::Screen(Screen::Events);
        assert_eq!(
            handle_key(events, press(KeyCode::Char('u'))),
            Action::Cmd(Cmd::Undo)
        );
        assert_eq!(caller(Screen::Events, Cmd::Undo), EventsUndo::CALLER);
        let key = |code| handle_key(Context::Undo, press(code));
        assert_eq!(key(KeyCode::Char('y')), Action::Cmd(Cmd::Yes));
        assert_eq!(key(KeyCode::Char('n')), Action::Cmd(Cmd::No));
        assert_eq!(key(KeyCode::Esc), Action::Cmd(Cmd::No));
        assert_eq!(key(KeyCode::Char('f')), Action::Cmd(Cmd::Toggle));
        assert_eq!(key(KeyCode::Char('j')), Action::Cmd(Cmd::Down));
        assert_eq!(key(KeyCode::Char('k')), Action::Cmd(Cmd::Up));
        assert_eq!(key(KeyCode::PageDown), Action::Cmd(Cmd::PageDown));
        assert_eq!(key(KeyCode::PageUp), Action::Cmd(Cmd::PageUp));
        assert_eq!(
            handle_key(
                Context::Undo,
                with(KeyCode::Char('f'), KeyModifiers::CONTROL)
            ),
            Action::Cmd(Cmd::PageDown)
        );
        // Enter, pressed out of habit, undoes nothing.
        assert_eq!(key(KeyCode::Enter), Action::None);
    }

    #[test]
    fn bulk_dialog_fields_take_the_keys_of_their_kind() {
        use crate::popup::BulkDialog;
        let mut app = App::new("test".into(), false, 80, 24);
        let cases = [
            (BulkField::ModelsOp, Field::Choice),
            (BulkField::Models, Field::Button),
            (BulkField::OrganizationOp, Field::Choice),
            (BulkField::Organization, Field::Text),
            (BulkField::InfoSet, Field::Area),
            (BulkField::InfoUnset, Field::Text),
        ];
        for (focus, kind) in cases {
            let mut dialog = BulkDialog::new(2);
            dialog.focus = focus;
            app.popups = vec![Popup::Bulk(Box::new(dialog))];
            assert_eq!(Context::of(&app), Context::Form(kind), "{focus:?}");
        }
        // Typing an organization: `q` and space are text there, not quit or toggle.
        let org = Context::Form(Field::Text);
        assert_eq!(
            handle_key(org, press(KeyCode::Char(' '))),
            Action::Edit(Edit::Insert(' '))
        );
        let area = Context::Form(Field::Area);
        assert_eq!(
            handle_key(area, press(KeyCode::Char('='))),
            Action::Edit(Edit::Insert('='))
        );
    }

    #[test]
    fn a_command_needs_the_caller_of_the_method_it_calls() {
        use mama_api::rpc::method::{ServicesRevokeToken, SyncStatus};
        assert_eq!(caller(Screen::Users, Cmd::CreateUsers), Caller::Admin);
        assert_eq!(caller(Screen::Users, Cmd::BulkEdit), Caller::Admin);
        assert_eq!(caller(Screen::Services, Cmd::New), Caller::GlobalAdmin);
        assert_eq!(caller(Screen::Admins, Cmd::New), Caller::Super);
        assert_eq!(caller(Screen::Admins, Cmd::Open), Caller::Super);
        assert_eq!(caller(Screen::Organizations, Cmd::Open), Caller::Admin);
        // Reading a user, moving, sorting and the usage need nothing.
        assert_eq!(caller(Screen::Users, Cmd::Open), Caller::Anyone);
        assert_eq!(caller(Screen::Users, Cmd::Down), Caller::Anyone);
        assert_eq!(caller(Screen::Usage, Cmd::Open), Caller::Anyone);
        assert_eq!(SyncStatus::CALLER, Caller::Viewer);
        // ctrl-d on the services screen deletes a service or revokes a token: one caller.
        assert_eq!(ServicesDelete::CALLER, ServicesRevokeToken::CALLER);
        // A command means one thing per screen: every key that runs it needs the same.
        for screen in [
            Screen::Users,
            Screen::Models,
            Screen::Admins,
            Screen::Services,
            Screen::Events,
            Screen::Organizations,
            Screen::Usage,
            Screen::Trash,
        ] {
            for b in bindings(screen) {
                assert_eq!(b.caller, caller(screen, b.cmd), "{screen:?} {}", b.key);
            }
        }
    }

    #[test]
    fn trash_screen_keys() {
        let trash = Context::Screen(Screen::Trash);
        let key = |c| handle_key(trash, press(KeyCode::Char(c)));
        assert_eq!(key('r'), Action::Cmd(Cmd::Restore));
        assert_eq!(
            handle_key(trash, with(KeyCode::Char('d'), KeyModifiers::CONTROL)),
            Action::Cmd(Cmd::Purge)
        );
        assert_eq!(
            handle_key(trash, with(KeyCode::Char('r'), KeyModifiers::CONTROL)),
            Action::Cmd(Cmd::Reload)
        );
        for (c, column) in [
            ('I', TrashColumn::Id),
            ('O', TrashColumn::Organization),
            ('D', TrashColumn::DeletedAt),
            ('P', TrashColumn::PurgeAfter),
        ] {
            assert_eq!(key(c), Action::Cmd(Cmd::TrashSort(column)), "{c}");
        }
        assert_eq!(key(' '), Action::Cmd(Cmd::ToggleMark));
        assert_eq!(key('a'), Action::Cmd(Cmd::MarkAll));
        assert_eq!(key('A'), Action::Cmd(Cmd::ClearMarks));
        assert_eq!(key('/'), Action::Cmd(Cmd::Filter));
        assert_eq!(key('q'), Action::Cmd(Cmd::Quit));
        // 8 opens it from anywhere; elsewhere r still reloads and P changes the password.
        assert_eq!(
            users(press(KeyCode::Char('8'))),
            Action::Cmd(Cmd::GoTo(Screen::Trash))
        );
        assert_eq!(users(press(KeyCode::Char('r'))), Action::Cmd(Cmd::Reload));
        assert_eq!(
            users(press(KeyCode::Char('P'))),
            Action::Cmd(Cmd::ChangePassword)
        );
        // Restoring and purging need what the daemon asks of their methods.
        assert_eq!(caller(Screen::Trash, Cmd::Restore), UsersRestore::CALLER);
        assert_eq!(caller(Screen::Trash, Cmd::Purge), UsersPurge::CALLER);
        assert_eq!(caller(Screen::Trash, Cmd::MarkAll), Caller::Anyone);
    }

    #[test]
    fn a_typed_confirm_takes_the_keys_of_a_text_field() {
        use crate::popup::{Confirm, ConfirmAction, TypedCount};
        let mut app = App::new("test".into(), false, 80, 24);
        app.popups = vec![Popup::Confirm(Confirm {
            title: "Delete users".into(),
            lines: Vec::new(),
            action: ConfirmAction::DeleteUsers(Vec::new()),
            typed: Some(TypedCount::new(150)),
        })];
        let context = Context::of(&app);
        assert_eq!(context, Context::Form(Field::Text));
        // `y` is typed like any text (and refused there); Enter submits what was typed.
        assert_eq!(
            handle_key(context, press(KeyCode::Char('y'))),
            Action::Edit(Edit::Insert('y'))
        );
        assert_eq!(
            handle_key(context, press(KeyCode::Enter)),
            Action::Cmd(Cmd::Open)
        );
    }

    #[test]
    fn admins_screen_keys() {
        let admins = Context::Screen(Screen::Admins);
        let key = |code| handle_key(admins, press(code));
        assert_eq!(key(KeyCode::Char('n')), Action::Cmd(Cmd::New));
        assert_eq!(key(KeyCode::Char('e')), Action::Cmd(Cmd::Open));
        assert_eq!(
            handle_key(admins, with(KeyCode::Char('d'), KeyModifiers::CONTROL)),
            Action::Cmd(Cmd::Remove)
        );
    }

    #[test]
    fn the_help_scrolls_and_closes() {
        let help = |code| handle_key(Context::Dismiss, press(code));
        assert_eq!(help(KeyCode::Char('j')), Action::Cmd(Cmd::Down));
        assert_eq!(help(KeyCode::Down), Action::Cmd(Cmd::Down));
        assert_eq!(help(KeyCode::Char('k')), Action::Cmd(Cmd::Up));
        assert_eq!(help(KeyCode::Up), Action::Cmd(Cmd::Up));
        assert_eq!(help(KeyCode::PageDown), Action::Cmd(Cmd::PageDown));
        assert_eq!(help(KeyCode::PageUp), Action::Cmd(Cmd::PageUp));
        assert_eq!(help(KeyCode::Char('g')), Action::Cmd(Cmd::Top));
        assert_eq!(help(KeyCode::Char('G')), Action::Cmd(Cmd::Bottom));
        for close in [KeyCode::Esc, KeyCode::Enter, KeyCode::Char('?')] {
            assert_eq!(help(close), Action::Cmd(Cmd::Back));
        }
    }

    #[test]
    fn key_releases_are_ignored() {
        let mut key = press(KeyCode::Char('j'));
        key.kind = KeyEventKind::Release;
        assert_eq!(users(key), Action::None);
    }
}
