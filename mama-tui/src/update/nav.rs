//! Moving between screens, and quitting.

use super::{lists, organizations, trash, usage, users};
use crate::action::Screen;
use crate::app::App;
use crate::effect::Effect;

pub fn quit(app: &mut App) {
    app.quit = true;
    app.push_effect(Effect::Quit);
}

/// Switches screens and loads what the new one shows.
pub fn go_to(app: &mut App, screen: Screen) {
    if app.session.is_none() {
        return;
    }
    app.screen = screen;
    match screen {
        Screen::Users => users::fetch_pages(app),
        Screen::Models => lists::load_models(app),
        Screen::Admins => lists::load_admins(app),
        Screen::Services => lists::load_services(app),
        Screen::Events => lists::apply_events_filter(app),
        Screen::Organizations => organizations::load(app),
        Screen::Usage => usage::load(app),
        Screen::Trash => trash::load(app),
        Screen::Login | Screen::ForcePassword => {}
    }
}
