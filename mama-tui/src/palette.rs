//! The `:` commands, declared once: their names, how the help lists them, and who may run them
//! (the [`Caller`] of the RPC method each ends up calling). The palette runs them, the `?` help
//! and the palette itself list only those the signed-in account may run, and a refused one
//! says why instead of calling the daemon.

use mama_api::rpc::method::{
    AuthChangePassword, AuthLogout, SyncReconcile, SyncRetryFailed, UsersCreate,
};
use mama_api::rpc::{Caller, Method};

use crate::app::App;

/// One `:` command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Command {
    /// Its names; the first is the one the palette runs by.
    pub names: &'static [&'static str],
    /// How the help lists it (`:export FILE`); empty: not listed (an alias of a key).
    pub shown: &'static str,
    pub caller: Caller,
}

const fn command(names: &'static [&'static str], shown: &'static str, caller: Caller) -> Command {
    Command {
        names,
        shown,
        caller,
    }
}

/// Every `:` command, in the order the help lists them.
pub const COMMANDS: &[Command] = &[
    command(&["users", "u"], ":users", Caller::Anyone),
    command(&["models", "m"], ":models", Caller::Anyone),
    command(&["admins", "a"], ":admins", Caller::Anyone),
    command(&["services", "s"], ":services", Caller::Anyone),
    command(&["events", "e"], ":events", Caller::Anyone),
    command(&["orgs", "organizations", "o"], ":orgs", Caller::Anyone),
    command(&["usage", "spend"], ":usage", Caller::Anyone),
    command(&["trash", "t"], ":trash", Caller::Anyone),
    command(
        &["passwd", "password"],
        ":passwd",
        AuthChangePassword::CALLER,
    ),
    command(&["export"], ":export FILE", Caller::Anyone),
    command(&["retry"], ":retry", SyncRetryFailed::CALLER),
    command(&["reconcile"], ":reconcile", SyncReconcile::CALLER),
    command(&["q", "quit", "exit"], ":q", Caller::Anyone),
    command(&["create"], "", UsersCreate::CALLER),
    command(&["logout"], "", AuthLogout::CALLER),
    command(&["help"], "", Caller::Anyone),
];

/// The command called `name` (with or without its `:`).
pub fn find(name: &str) -> Option<&'static Command> {
    let name = name.trim_start_matches(':');
    COMMANDS.iter().find(|c| c.names.contains(&name))
}

/// The listed commands `app`'s account may run, as the help writes them.
pub fn offered(app: &App) -> Vec<&'static str> {
    COMMANDS
        .iter()
        .filter(|c| !c.shown.is_empty() && app.may(c.caller))
        .map(|c| c.shown)
        .collect()
}

/// The `:` line of the help: `command (:users :models … :q)`.
pub fn help(app: &App) -> String {
    format!("command ({})", offered(app).join(" "))
}

/// What the palette suggests for what is typed so far: the offered commands that start with
/// it, while no argument is typed.
pub fn suggestions(app: &App, typed: &str) -> Vec<&'static str> {
    let typed = typed.trim_start().trim_start_matches(':');
    if typed.contains(' ') {
        return Vec::new();
    }
    COMMANDS
        .iter()
        .filter(|c| !c.shown.is_empty() && app.may(c.caller))
        .filter(|c| c.names.iter().any(|n| n.starts_with(typed)))
        .map(|c| c.shown)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique() {
        let mut names: Vec<&str> = COMMANDS
            .iter()
            .flat_map(|c| c.names.iter().copied())
            .collect();
        let all = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), all, "a command name is declared twice");
        assert_eq!(find(":reconcile").map(|c| c.names[0]), Some("reconcile"));
        assert_eq!(find("organizations").map(|c| c.names[0]), Some("orgs"));
        assert!(find("nope").is_none());
    }
}
