//! Popups, one file each, drawn bottom to top so a picker sits over the dialog that opened it.
//! The `?` overlay is drawn by `help`, which makes the hint bar from the same keymap.

mod bulk_change;
mod bulk_preview;
mod confirm;
mod create_users;
mod edit_user;
mod message;
mod new_admin;
mod org_defaults;
mod palette;
mod password;
mod picker;
mod prompt;
mod shared;
mod undo;

use ratatui::layout::Rect;
use ratatui::Frame;

use super::help;
use super::theme::Theme;
use crate::app::App;
use crate::popup::Popup;

pub fn render(app: &App, frame: &mut Frame, area: Rect, theme: Theme) {
    for popup in &app.popups {
        match popup {
            Popup::Help { scroll } => help::overlay(app, *scroll, frame, area, theme),
            Popup::Palette(input) => palette::render(app, input, frame, area, theme),
            Popup::Message { title, lines } => message::render(title, lines, frame, area),
            Popup::Confirm(c) => confirm::render(c, frame, area, theme),
            Popup::Edit(d) => edit_user::render(d, frame, area, theme, app.now),
            Popup::Bulk(d) => bulk_change::render(d, &app.users, frame, area, theme),
            Popup::Create(d) => create_users::render(d, frame, area, theme),
            Popup::Picker(p) => picker::render(p, frame, area, theme),
            Popup::Password(form) => password::render(form, frame, area, theme),
            Popup::Account(form) => new_admin::render(form, frame, area, theme),
            Popup::Prompt(prompt) => prompt::render(prompt, frame, area, theme),
            Popup::OrgDefaults(d) => org_defaults::render(d, frame, area, theme),
            Popup::Undo(d) => undo::render(d, frame, area, theme),
            Popup::BulkPreview(p) => bulk_preview::render(p, frame, area, theme),
        }
    }
}
