//! What several dialogs do with their fields and with the popup stack.

use crate::app::App;
use crate::popup::Popup;

/// The next (or previous) of `all` after `current`, wrapping around: tab through fields,
/// ←/→ through choices.
pub fn cycle<T: Copy + PartialEq>(all: &[T], current: T, forward: bool) -> T {
    let i = all.iter().position(|f| *f == current).unwrap_or(0);
    let n = all.len();
    all[if forward {
        (i + 1) % n
    } else {
        (i + n - 1) % n
    }]
}

/// The topmost popup `pick` accepts, wherever it is on the stack: an answer belongs to the
/// dialog that asked, even when a picker or a message now sits on top of it.
pub fn find_popup<T>(app: &mut App, pick: impl Fn(&mut Popup) -> Option<&mut T>) -> Option<&mut T> {
    app.popups.iter_mut().rev().find_map(pick)
}
