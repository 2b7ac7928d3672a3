//! The type of an event's action, below both the method table and the registry of actions, so
//! that each can name it without importing the other.

use crate::types::EventKind;

/// What an event records: a name (`users.create`, `rest.lookup`) and whether it only read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Action {
    name: &'static str,
    kind: EventKind,
}

impl Action {
    pub const fn new(name: &'static str, kind: EventKind) -> Action {
        Action { name, kind }
    }

    pub const fn name(self) -> &'static str {
        self.name
    }

    pub const fn kind(self) -> EventKind {
        self.kind
    }
}
