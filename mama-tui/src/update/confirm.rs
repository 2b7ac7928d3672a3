//! Asking before acting on many users (delete, restore, purge): the count and some ids, then
//! either an explicit `y` or — above the TUI's threshold — the count typed out.

use crate::app::App;
use crate::popup::{Confirm, ConfirmAction, Popup, TypedCount};
use crate::text::count;

/// A short list of ids for a confirm popup.
pub fn id_preview(ids: &[String], max: usize) -> Vec<String> {
    let mut lines: Vec<String> = ids.iter().take(max).map(|id| format!("  {id}")).collect();
    if ids.len() > max {
        lines.push(format!("  … and {} more", ids.len() - max));
    }
    lines
}

/// Pushes a confirm of `lines` for `action` on `n` users. Up to the threshold `y` confirms
/// (Enter never does); above it the count must be typed, and `y` is not enough.
pub fn ask_for_users(
    app: &mut App,
    title: &str,
    mut lines: Vec<String>,
    action: ConfirmAction,
    n: u64,
    verb: &str,
) {
    lines.push(String::new());
    let typed = if n > app.confirm_typed_above {
        lines.push(format!(
            "That is {}: type {n} and press enter to {verb}",
            count(n, "user")
        ));
        lines.push("(y is not enough); esc: no".into());
        Some(TypedCount::new(n))
    } else {
        lines.push(format!("y: {verb}   n/esc: no"));
        None
    };
    app.popups.push(Popup::Confirm(Confirm {
        title: title.into(),
        lines,
        action,
        typed,
    }));
}
