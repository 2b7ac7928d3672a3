//! What can happen to the app: an operator's command, an edit in a text field, a tick, a mouse
//! click, or the answer to an RPC call. `update` is the only place that reacts to them.

use chrono::{DateTime, Utc};
use mama_api::types::{TrashColumn, UsageMeasure, UserColumn};
use serde_json::Value;

use crate::client::ClientError;
use crate::text::Edit;
use crate::users::RowsAt;

/// Top-level screens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Screen {
    Login,
    /// The bootstrap admin (or a reset one) must set a new password before anything else.
    ForcePassword,
    Users,
    Models,
    Admins,
    Services,
    Events,
    /// Organizations and the default limits their users inherit.
    Organizations,
    /// Usage and spend over time, ranked by user, organization or model.
    Usage,
    /// Deleted users waiting to be restored or purged.
    Trash,
}

impl Screen {
    pub fn title(self) -> &'static str {
        match self {
            Screen::Login => "Login",
            Screen::ForcePassword => "Change password",
            Screen::Users => "Users",
            Screen::Models => "Models",
            Screen::Admins => "Admins",
            Screen::Services => "Services",
            Screen::Events => "Events",
            Screen::Organizations => "Organizations",
            Screen::Usage => "Usage",
            Screen::Trash => "Trash",
        }
    }
}

/// A command bound to a key in the keymap (and listed in the help and hint bar).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmd {
    Quit,
    Up,
    Down,
    PageUp,
    PageDown,
    Top,
    Bottom,
    Sort(UserColumn),
    ToggleMark,
    MarkAll,
    ClearMarks,
    Filter,
    Palette,
    Help,
    /// Enter: open / choose / submit the focused thing.
    Open,
    /// Esc: close the top popup, leave the filter bar, clear marks.
    Back,
    NextField,
    PrevField,
    /// ctrl-s: save the dialog whatever field has focus.
    Save,
    /// ctrl-v in the create-users dialog: create the valid rows, set the rejected ones aside.
    SaveValid,
    BulkEdit,
    CreateUsers,
    DeleteMarked,
    RotateMarked,
    ChangePassword,
    Reload,
    GoTo(Screen),
    DropUnavailable,
    /// Suspend the selected user (asking why), or resume it when it is suspended.
    SuspendResume,
    /// Show the selected user's full key (its own event), to copy with OSC 52.
    RevealKey,
    /// Show the users holding unavailable models (models screen).
    ShowUnavailableUsers,
    New,
    Remove,
    IssueToken,
    Yes,
    No,
    /// ←/→ on a choice field (set operation, role).
    PrevChoice,
    NextChoice,
    /// Space in a picker or on a choice.
    Toggle,
    /// Users screen: the selected user's usage.
    OpenUsage,
    /// Usage screen: the next measure (spend, requests, tokens).
    UsageMeasure,
    /// Usage screen: the chart's next time bucket (day, week, month).
    UsageBuckets,
    /// Usage screen: what the table ranks next (users, organizations, models).
    UsageRanks,
    /// Usage screen: the next range preset (`true`: the previous one).
    UsageRange(bool),
    /// Usage screen: rank by this measure (again: reverse).
    UsageSort(UsageMeasure),
    /// Trash screen: sort by this column (again: reverse).
    TrashSort(TrashColumn),
    /// Trash screen: bring the marked users (or the selected one) back.
    Restore,
    /// Trash screen: delete the marked users (or the selected one) for good.
    Purge,
    /// Events screen: undo the selected change, previewed first.
    Undo,
    /// The status line's message in full, in a popup (it is cut at the screen's edge).
    ShowMessage,
}

/// What an RPC answer is for, so `update` knows where it goes. Query numbers let late answers
/// for an old filter or sort be dropped.
#[derive(Debug, Clone, PartialEq)]
pub enum Tag {
    Login,
    Refresh,
    Logout,
    ChangePassword,
    UsersPage {
        query: u64,
        at: RowsAt,
    },
    UsersCount {
        query: u64,
    },
    MarkAll {
        query: u64,
    },
    /// The ids matching a query, to tell how many marks it hides.
    MarksInView {
        query: u64,
    },
    EditLoad,
    UpdateUser,
    SuspendUser,
    ResumeUser,
    CreateUsers,
    DeleteUsers,
    RotateKeys,
    /// One user's full key (`users.reveal_key`).
    RevealKey,
    BulkPreview,
    BulkApply,
    Models,
    Catalog,
    ServiceNames,
    Admins,
    CreateAdmin,
    UpdateAdmin,
    DeleteAdmin,
    Services,
    CreateService,
    DeleteService,
    IssueToken,
    RevokeToken,
    Events {
        query: u64,
    },
    Organizations,
    /// The dry run of new organization defaults: how many users would change.
    OrgDefaultsPreview,
    OrgDefaultsApply,
    SyncStatus,
    /// Users whose key failed to sync, after a watched change drained.
    SyncFailures,
    Reconcile,
    RetryFailed,
    /// The usage screen's ranked table.
    UsageTable {
        query: u64,
    },
    /// The usage screen's chart.
    UsageChart {
        query: u64,
    },
    UsageExport,
    /// A page of the trash.
    Trash {
        query: u64,
    },
    RestoreUsers,
    PurgeUsers,
    /// The dry run of undoing `event_id` (with `force` or not): an answer for a preview the
    /// popup no longer waits for (`f` pressed again, closed) is dropped.
    UndoPreview {
        event_id: String,
        force: bool,
    },
    UndoApply,
    Export,
    ImportFile,
    /// `users.create` of a "create the valid rows" run.
    CreateValid,
    /// The rejected rows of a "create the valid rows" run written to a file.
    RejectedWritten {
        created: u64,
        rejected: usize,
    },
    /// An intermediate report of a long job (mark all, export); not an answer.
    Progress,
}

/// The outcome of an effect run in the background. `epoch` is the session it was started in:
/// answers from a session that has ended are dropped so no data outlives a logout.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub epoch: u64,
    pub tag: Tag,
    pub result: Result<Value, ClientError>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Cmd(Cmd),
    Edit(Edit),
    /// Left click at a terminal cell.
    Click {
        x: u16,
        y: u16,
    },
    /// Mouse wheel: rows to move (negative = up).
    Scroll(i32),
    Tick(DateTime<Utc>),
    Resize(u16, u16),
    Reply(Reply),
    None,
}
