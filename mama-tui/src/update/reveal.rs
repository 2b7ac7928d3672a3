//! Revealing one user's key: `K` on a row asks the daemon for it (`users.reveal_key`, recorded
//! as its own event), shows it in a popup, and `y` copies it to the clipboard of the operator's
//! own machine with an OSC 52 sequence, which travels over SSH to the terminal there. The list
//! and the edit dialog only ever hold the hint; the key leaves memory when the popup closes.

use mama_api::rpc::method;
use mama_api::types::{KeyStatus, RevealKeyParams};
use serde_json::Value;

use super::rpc::{answer, describe};
use crate::action::Tag;
use crate::app::App;
use crate::client::ClientError;
use crate::effect::Effect;
use crate::popup::{Confirm, ConfirmAction, Popup, RevealedKey};

/// `K`: ask for the selected user's key.
pub fn ask(app: &mut App) {
    let Some(id) = app.users.selected_user().map(|u| u.id.clone()) else {
        app.error("No user selected.");
        return;
    };
    app.info(format!("Asking the daemon for {id}'s key…"));
    app.call::<method::UsersRevealKey>(&RevealKeyParams { id }, Tag::RevealKey);
}

pub fn reply(app: &mut App, result: Result<Value, ClientError>) {
    match answer::<method::UsersRevealKey>(result) {
        Ok(found) => match found.key {
            Some(key) => {
                app.message = None;
                let mut lines = vec![format!("  {key}"), String::new()];
                if found.key_status != KeyStatus::Active {
                    // A key LiteLLM does not hold yet (or failed to take) opens nothing.
                    lines.push(format!(
                        "Not working yet: the key is {} in LiteLLM.",
                        found.key_status.as_str()
                    ));
                }
                lines.push("This reveal is recorded in the event log.".into());
                lines.push("y: copy to my clipboard (OSC 52)   n/esc: close".into());
                app.popups.push(Popup::Confirm(Confirm {
                    title: format!("{}'s key", found.id),
                    lines,
                    action: ConfirmAction::CopyKey {
                        id: found.id,
                        key: RevealedKey::new(key),
                    },
                    typed: None,
                }));
            }
            None => app.error(format!(
                "{} has no key yet (key {}).",
                found.id,
                found.key_status.as_str()
            )),
        },
        Err(err) => app.error(format!("reveal key: {}", describe(&err))),
    }
}

/// `y` on the revealed key: hand it to the terminal's clipboard.
pub fn copy(app: &mut App, id: String, key: RevealedKey) {
    app.push_effect(Effect::Clipboard {
        text: key.into_osc52(),
    });
    app.info(format!(
        "Copied {id}'s key to your clipboard (OSC 52; the terminal must allow it)."
    ));
}
