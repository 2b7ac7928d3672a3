//! Popups: a stack on top of the screen. The top one consumes every key, so a dialog can never
//! be edited "through" another one; destructive actions only happen from a [`Confirm`].

use std::collections::BTreeSet;
use std::path::PathBuf;

use mama_api::types::{
    AdminView, Info, LimitField, OrganizationView, Role, Scope, SetDefaultsParams, SetOp, UserView,
};
use mama_api::FieldError;

use crate::bulk_preview::BulkPreview;
use crate::csv::ParsedRow;
use crate::limit_form::LimitInputs;
use crate::text::{TextArea, TextInput};
use crate::undo::UndoDialog;

#[derive(Debug)]
pub enum Popup {
    /// The keys of the screen; `scroll`: the first row shown when they do not fit.
    Help {
        scroll: usize,
    },
    Palette(TextInput),
    /// Information to acknowledge (a token shown once, a summary, an error).
    Message {
        title: String,
        lines: Vec<String>,
    },
    Confirm(Confirm),
    Edit(Box<EditDialog>),
    Bulk(Box<BulkDialog>),
    Create(CreateDialog),
    Picker(Picker),
    Password(PasswordForm),
    /// A new account, or an account's role and scope.
    Account(AdminForm),
    /// A one-line question (new service name).
    Prompt(Prompt),
    /// An organization's default limits.
    OrgDefaults(Box<OrgDefaultsDialog>),
    /// What undoing an event would do; `y` does it.
    Undo(Box<UndoDialog>),
    /// What a bulk change would do, user by user; `y` applies it.
    BulkPreview(Box<BulkPreview>),
}

/// What a confirmed popup does.
#[derive(Debug, Clone)]
pub enum ConfirmAction {
    DeleteUsers(Vec<String>),
    RotateKeys(Vec<String>),
    DeleteAdmin(String),
    DeleteService(String),
    /// Switch a suspended user's key on again.
    ResumeUser {
        id: String,
        version: i64,
    },
    RevokeToken(String),
    /// Replace an organization's defaults (previewed with a dry run; these params are not one).
    SetOrgDefaults(SetDefaultsParams),
    /// Write the users export over an existing file.
    OverwriteExport(PathBuf),
    /// Bring users back from the trash.
    RestoreUsers(Vec<String>),
    /// Delete users in the trash, and their keys, for good.
    PurgeUsers(Vec<String>),
    /// Copy a revealed key to the operator's clipboard.
    CopyKey {
        id: String,
        key: RevealedKey,
    },
}

/// A key revealed to the operator: never printed by `Debug`, wiped from memory when dropped.
pub struct RevealedKey(String);

impl RevealedKey {
    pub fn new(key: String) -> RevealedKey {
        RevealedKey(key)
    }

    /// The OSC 52 sequence that sets the terminal's clipboard (`c`) to the key: the terminal
    /// on the operator's own machine acts on it, also over SSH; tmux passes it on (or keeps
    /// it as a paste buffer) with `set-clipboard on`.
    pub fn into_osc52(self) -> String {
        use base64::Engine as _;
        let encoded = base64::engine::general_purpose::STANDARD.encode(self.0.as_bytes());
        format!("\x1b]52;c;{encoded}\x07")
    }
}

impl std::fmt::Debug for RevealedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RevealedKey(…)")
    }
}

impl Clone for RevealedKey {
    fn clone(&self) -> RevealedKey {
        RevealedKey(self.0.clone())
    }
}

impl Drop for RevealedKey {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.0);
    }
}

/// A question answered with an explicit `y` (Enter never confirms), or — when [`Confirm::typed`]
/// is set — by typing a number.
#[derive(Debug)]
pub struct Confirm {
    pub title: String,
    pub lines: Vec<String>,
    pub action: ConfirmAction,
    /// The count to type instead of `y` (deleting many users at once).
    pub typed: Option<TypedCount>,
}

/// The number of users a confirm acts on, to be typed exactly: a `y` comes too easily for a
/// change of that size.
#[derive(Debug)]
pub struct TypedCount {
    pub expected: u64,
    pub input: TextInput,
    /// Why what was typed does not confirm.
    pub error: Option<String>,
}

impl TypedCount {
    pub fn new(expected: u64) -> Self {
        TypedCount {
            expected,
            input: TextInput::default(),
            error: None,
        }
    }

    /// Whether the typed text is the count; otherwise says why not.
    pub fn check(&mut self) -> bool {
        let typed = self.input.value().trim();
        if typed == self.expected.to_string() {
            return true;
        }
        self.error = Some(if typed.is_empty() {
            format!("type {} to confirm", self.expected)
        } else {
            format!(
                "{typed} is not the number of users: type {} to confirm",
                self.expected
            )
        });
        false
    }
}

/// Which field of the edit dialog has focus.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EditField {
    Organization,
    Models,
    Services,
    Limit(LimitField),
    Info,
}

impl EditField {
    pub const ALL: [EditField; 10] = [
        EditField::Organization,
        EditField::Models,
        EditField::Services,
        EditField::Limit(LimitField::MaxBudget),
        EditField::Limit(LimitField::BudgetPeriod),
        EditField::Limit(LimitField::TpmLimit),
        EditField::Limit(LimitField::RpmLimit),
        EditField::Limit(LimitField::ExpiresAt),
        EditField::Limit(LimitField::RotationEvery),
        EditField::Info,
    ];
}

#[derive(Debug)]
pub struct EditDialog {
    pub user: UserView,
    pub organization: TextInput,
    pub models: BTreeSet<String>,
    pub services: BTreeSet<String>,
    pub info: TextArea,
    /// Budget, rate limits, expiry and rotation: blank is no limit, `inherit` the
    /// organization's default.
    pub limits: LimitInputs,
    pub focus: EditField,
    pub error: Option<String>,
    /// The daemon answered `conflict`: the user changed meanwhile. `r` reloads.
    pub conflict: Option<i64>,
    pub saving: bool,
    /// Why the account may not change the user (a viewer): the dialog only shows it.
    pub read_only: Option<&'static str>,
    /// The daemon never sends this account a key (a viewer): the dialog says so beside the
    /// hint, so a missing key is not mistaken for none.
    pub key_hidden: bool,
}

impl EditDialog {
    pub fn new(user: UserView) -> Self {
        let info = user
            .info
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("\n");
        EditDialog {
            organization: TextInput::new(user.organization.clone()),
            models: user.models.iter().cloned().collect(),
            services: user.services.iter().cloned().collect(),
            info: TextArea::new(&info),
            limits: LimitInputs::of_user(&user),
            focus: EditField::Organization,
            error: None,
            conflict: None,
            saving: false,
            read_only: None,
            key_hidden: false,
            user,
        }
    }

    /// The dialog as an account that may not change users (`read_only`: why) or never sees
    /// keys (`key_hidden`) has it.
    pub fn for_account(self, read_only: Option<&'static str>, key_hidden: bool) -> Self {
        EditDialog {
            read_only,
            key_hidden,
            ..self
        }
    }
}

/// The default limits of one organization, edited: a value, or blank for no default (there is
/// nothing to inherit from). Saving previews the change with a dry run first.
#[derive(Debug)]
pub struct OrgDefaultsDialog {
    pub organization: OrganizationView,
    pub limits: LimitInputs,
    pub focus: LimitField,
    pub error: Option<String>,
    /// The preview was asked and has not answered.
    pub busy: bool,
}

impl OrgDefaultsDialog {
    pub fn new(organization: OrganizationView) -> Self {
        OrgDefaultsDialog {
            limits: LimitInputs::of_limits(&organization.defaults),
            organization,
            focus: LimitField::MaxBudget,
            error: None,
            busy: false,
        }
    }
}

/// Parses `key=value` lines; blank lines are skipped.
pub fn parse_info(text: &str) -> Result<Info, String> {
    let mut info = Info::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let (k, v) = line
            .split_once('=')
            .ok_or_else(|| format!("info line {}: expected key=value", n + 1))?;
        let k = k.trim();
        if k.is_empty() {
            return Err(format!("info line {}: empty key", n + 1));
        }
        info.insert(k.to_string(), v.trim().to_string());
    }
    Ok(info)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BulkField {
    ModelsOp,
    Models,
    ServicesOp,
    Services,
    /// Whether the organization changes (unchanged / set to).
    OrganizationOp,
    Organization,
    /// `key=value` lines set on every user (other keys are kept).
    InfoSet,
    /// Keys removed from every user, comma-separated.
    InfoUnset,
    /// A limit set on every user (blank: unchanged).
    Limit(LimitField),
    /// Days added to every expiry.
    ExtendExpiry,
    /// Unchanged / suspend / resume.
    SuspendOp,
    SuspendReason,
}

impl BulkField {
    pub const ALL: [BulkField; 17] = [
        BulkField::ModelsOp,
        BulkField::Models,
        BulkField::ServicesOp,
        BulkField::Services,
        BulkField::OrganizationOp,
        BulkField::Organization,
        BulkField::InfoSet,
        BulkField::InfoUnset,
        BulkField::Limit(LimitField::MaxBudget),
        BulkField::Limit(LimitField::BudgetPeriod),
        BulkField::Limit(LimitField::TpmLimit),
        BulkField::Limit(LimitField::RpmLimit),
        BulkField::Limit(LimitField::ExpiresAt),
        BulkField::Limit(LimitField::RotationEvery),
        BulkField::ExtendExpiry,
        BulkField::SuspendOp,
        BulkField::SuspendReason,
    ];
}

/// Whether a bulk change switches the keys off or on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BulkSuspension {
    #[default]
    Unchanged,
    Suspend,
    Resume,
}

impl BulkSuspension {
    pub fn cycle(self) -> Self {
        match self {
            BulkSuspension::Unchanged => BulkSuspension::Suspend,
            BulkSuspension::Suspend => BulkSuspension::Resume,
            BulkSuspension::Resume => BulkSuspension::Unchanged,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            BulkSuspension::Unchanged => "unchanged",
            BulkSuspension::Suspend => "suspend",
            BulkSuspension::Resume => "resume",
        }
    }
}

/// Bulk edit of the marked users: a set operation (or none) for models and for services, a new
/// organization (or none), info keys to set and to remove. Everything maps onto one
/// `users.bulk_update`, previewed with `dry_run` first.
#[derive(Debug)]
pub struct BulkDialog {
    pub targets: u64,
    pub models_op: Option<SetOp>,
    pub models: BTreeSet<String>,
    pub services_op: Option<SetOp>,
    pub services: BTreeSet<String>,
    /// Set the organization of every marked user to `organization` (empty clears it).
    pub set_organization: bool,
    pub organization: TextInput,
    pub info_set: TextArea,
    pub info_unset: TextInput,
    pub limits: LimitInputs,
    pub extend_expiry: TextInput,
    pub suspension: BulkSuspension,
    pub reason: TextInput,
    pub focus: BulkField,
    pub error: Option<String>,
    pub busy: bool,
}

impl BulkDialog {
    pub fn new(targets: u64) -> Self {
        BulkDialog {
            targets,
            models_op: Some(SetOp::Add),
            models: BTreeSet::new(),
            services_op: None,
            services: BTreeSet::new(),
            set_organization: false,
            organization: TextInput::default(),
            info_set: TextArea::default(),
            info_unset: TextInput::default(),
            limits: LimitInputs::default(),
            extend_expiry: TextInput::default(),
            suspension: BulkSuspension::Unchanged,
            reason: TextInput::default(),
            focus: BulkField::ModelsOp,
            error: None,
            busy: false,
        }
    }
}

/// The names of a comma-separated list (info keys, organizations), trimmed, without blanks or
/// repeats.
pub fn parse_keys(text: &str) -> Vec<String> {
    let mut keys: Vec<String> = Vec::new();
    for key in text.split(',').map(str::trim).filter(|k| !k.is_empty()) {
        if !keys.iter().any(|k| k == key) {
            keys.push(key.to_string());
        }
    }
    keys
}

/// Cycles none → replace → add → remove → none.
pub fn cycle_op(op: Option<SetOp>, forward: bool) -> Option<SetOp> {
    const ORDER: [Option<SetOp>; 4] = [
        None,
        Some(SetOp::Replace),
        Some(SetOp::Add),
        Some(SetOp::Remove),
    ];
    let i = ORDER.iter().position(|o| *o == op).unwrap_or(0);
    let next = if forward { (i + 1) % 4 } else { (i + 3) % 4 };
    ORDER[next]
}

pub fn op_name(op: Option<SetOp>) -> &'static str {
    match op {
        None => "unchanged",
        Some(SetOp::Replace) => "replace with",
        Some(SetOp::Add) => "add",
        Some(SetOp::Remove) => "remove",
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CreateField {
    Rows,
    CsvPath,
}

/// Create many users: rows `id,organization,models(;-separated),services(;-separated)`, then
/// optionally info (`k=v;…`) and the six limits, typed or pasted, or loaded from a CSV file.
#[derive(Debug)]
pub struct CreateDialog {
    pub rows: TextArea,
    pub csv_path: TextInput,
    pub focus: CreateField,
    /// Problems per row (0-based row index of the parsed rows) shown next to the row.
    pub row_errors: Vec<(usize, String)>,
    /// Text line of each submitted row, to place the daemon's per-row errors.
    pub submitted_lines: Vec<usize>,
    pub error: Option<String>,
    pub busy: bool,
    /// The CSV file the rows were loaded from: a rejected-rows file is written next to it.
    pub loaded_from: Option<PathBuf>,
    /// A "create the valid rows" run (ctrl-v) while it goes on.
    pub partial: Option<PartialCreate>,
}

impl Default for CreateDialog {
    fn default() -> Self {
        CreateDialog {
            rows: TextArea::default(),
            csv_path: TextInput::default(),
            focus: CreateField::Rows,
            row_errors: Vec::new(),
            submitted_lines: Vec::new(),
            error: None,
            busy: false,
            loaded_from: None,
            partial: None,
        }
    }
}

/// "Create the valid rows": the rows of the `users.create` call in flight and those set aside
/// with their reasons. Each refusal names its rows; they are set aside and the rest sent again,
/// until the daemon creates the rest or no row is left.
#[derive(Debug, Default)]
pub struct PartialCreate {
    /// The header of the rows (for the rejected-rows file).
    pub header: Vec<String>,
    /// The rows of the call in flight, in the order sent (each with its user).
    pub sending: Vec<ParsedRow>,
    /// The rows set aside, each with its reason as the error.
    pub rejected: Vec<ParsedRow>,
}

impl CreateDialog {
    /// Attaches the daemon's per-row errors to the rows they name.
    pub fn set_field_errors(&mut self, fields: &[FieldError]) {
        self.row_errors = fields
            .iter()
            .map(|f| {
                let row = f.row.unwrap_or(0);
                let line = self.submitted_lines.get(row).copied().unwrap_or(row);
                (
                    line,
                    format!(
                        "{}: {}",
                        f.field.rsplit('.').next().unwrap_or(&f.field),
                        f.message
                    ),
                )
            })
            .collect();
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PickerTarget {
    Models,
    Services,
}

/// A checklist over the model catalog or the service names. Typing narrows the list; a name
/// that is not listed can still be chosen with space (or Enter) on the typed text.
#[derive(Debug)]
pub struct Picker {
    pub target: PickerTarget,
    /// (name, available)
    pub options: Vec<(String, bool)>,
    pub chosen: BTreeSet<String>,
    pub query: TextInput,
    pub cursor: usize,
    /// Whether space has checked or unchecked anything since the picker opened: until then,
    /// Enter on a typed search checks its highlighted match (or the typed name) before closing.
    pub toggled: bool,
    /// Whether the list of what exists is known (LiteLLM's catalog for models, the services
    /// for services); if not, a typed name cannot be called unavailable.
    pub catalog_known: bool,
}

impl Picker {
    pub fn visible(&self) -> Vec<&(String, bool)> {
        let q = self.query.value().to_lowercase();
        self.options
            .iter()
            .filter(|(name, _)| q.is_empty() || name.to_lowercase().contains(&q))
            .collect()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordField {
    Old,
    New,
    Confirm,
}

#[derive(Debug, Default)]
pub struct PasswordForm {
    pub old: TextInput,
    pub new: TextInput,
    pub confirm: TextInput,
    pub focus_index: usize,
    pub error: Option<String>,
    pub busy: bool,
}

/// The daemon's minimum; checked here too so the operator learns it before a round trip.
pub const MIN_PASSWORD: usize = 12;

impl PasswordForm {
    pub fn focus(&self) -> PasswordField {
        [
            PasswordField::Old,
            PasswordField::New,
            PasswordField::Confirm,
        ][self.focus_index % 3]
    }

    pub fn input_mut(&mut self) -> &mut TextInput {
        match self.focus() {
            PasswordField::Old => &mut self.old,
            PasswordField::New => &mut self.new,
            PasswordField::Confirm => &mut self.confirm,
        }
    }

    /// Local checks before asking the daemon.
    pub fn validate(&self) -> Result<(), String> {
        if self.old.is_empty() {
            return Err("enter your current password".into());
        }
        if self.new.value().chars().count() < MIN_PASSWORD {
            return Err(format!(
                "the new password needs at least {MIN_PASSWORD} characters"
            ));
        }
        if self.new.value() != self.confirm.value() {
            return Err("the two new passwords differ".into());
        }
        Ok(())
    }
}

/// A field of the account form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminField {
    Username,
    Password,
    Role,
    Organizations,
}

/// An account, new (`admins.create`) or existing (`admins.update`: its role and organization
/// scope only).
#[derive(Debug)]
pub struct AdminForm {
    /// Fixed when editing an existing account.
    pub username: TextInput,
    pub password: TextInput,
    pub role: Role,
    /// Comma-separated organizations the account is limited to; empty: every organization,
    /// `-`: none. A super admin is never limited, so it is ignored for one.
    pub organizations: TextInput,
    pub focus: AdminField,
    /// Editing an existing account rather than creating one.
    pub editing: bool,
    pub error: Option<String>,
}

impl Default for AdminForm {
    fn default() -> Self {
        AdminForm {
            username: TextInput::default(),
            password: TextInput::default(),
            role: Role::Admin,
            organizations: TextInput::default(),
            focus: AdminField::Username,
            editing: false,
            error: None,
        }
    }
}

/// Typed for a scope of no organization at all (an empty field is every organization).
pub const NO_ORGANIZATION: &str = "-";

impl AdminForm {
    /// The form for changing `admin`'s role and scope, filled with what it has now.
    pub fn edit(admin: &AdminView) -> Self {
        let organizations = match &admin.organizations {
            None => String::new(),
            Some(list) if list.is_empty() => NO_ORGANIZATION.to_string(),
            Some(list) => list.join(", "),
        };
        AdminForm {
            username: TextInput::new(admin.username.clone()),
            role: admin.role,
            organizations: TextInput::new(organizations),
            focus: AdminField::Role,
            editing: true,
            ..AdminForm::default()
        }
    }

    /// The fields focus moves through: the username and password only for a new account, the
    /// organizations only for a role that can be limited.
    pub fn fields(&self) -> Vec<AdminField> {
        let mut fields = Vec::new();
        if !self.editing {
            fields.extend([AdminField::Username, AdminField::Password]);
        }
        fields.push(AdminField::Role);
        if self.scoped_role() {
            fields.push(AdminField::Organizations);
        }
        fields
    }

    /// Whether the chosen role can be limited to organizations (a super admin never is).
    pub fn scoped_role(&self) -> bool {
        self.role != Role::Super
    }

    /// Super → viewer → admin → super (`forward`), or back.
    pub fn cycle_role(&mut self, forward: bool) {
        const ORDER: [Role; 3] = [Role::Super, Role::Viewer, Role::Admin];
        let i = ORDER.iter().position(|r| *r == self.role).unwrap_or(0);
        self.role = ORDER[if forward { (i + 1) % 3 } else { (i + 2) % 3 }];
    }

    /// The scope the form asks for: `None` (every organization) for a super admin or an empty
    /// field.
    pub fn scope(&self) -> Scope {
        if !self.scoped_role() {
            return None;
        }
        let text = self.organizations.value().trim();
        if text == NO_ORGANIZATION {
            return Some(Vec::new());
        }
        let names = parse_keys(text);
        (!names.is_empty()).then_some(names)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PromptPurpose {
    NewService,
    /// The reason for suspending one user.
    SuspendUser {
        id: String,
        version: i64,
    },
}

#[derive(Debug)]
pub struct Prompt {
    pub title: String,
    /// The field's label (`name`, `reason`).
    pub label: &'static str,
    pub input: TextInput,
    pub purpose: PromptPurpose,
    pub error: Option<String>,
}
