//! mama-tui: the operator's terminal UI over the daemon's admin RPC.
//!
//! Elm architecture: [`app::App`] is the model, [`action::Action`] what happens,
//! [`update::update`] the only place that changes the model (returning [`effect::Effect`]s the
//! [`runtime`] performs in background tasks), and [`ui::view`] draws it.
#![forbid(unsafe_code)]

pub mod action;
pub mod app;
pub mod bulk_preview;
pub mod caller;
pub mod cli;
pub mod client;
pub mod csv;
pub mod effect;
pub mod event_filter;
pub mod filter;
pub mod keymap;
pub mod limit_form;
pub mod limits;
pub mod palette;
pub mod popup;
pub mod runtime;
pub mod terminal;
pub mod text;
pub mod trash;
pub mod ui;
pub mod undo;
pub mod update;
pub mod usage;
pub mod users;
