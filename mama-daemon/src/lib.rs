//! The daemon as a library: what `main` runs, and what the API tests drive in-process.
//!
//! `main` parses the command line and calls into [`serve`], [`commands`] and
//! [`encryption_key`]. The tests build an [`AppState`] over a temporary database and send
//! requests through [`admin_router`] and [`rest_router`] with `tower::ServiceExt::oneshot`, so
//! every error path of the wire contract is checked without a socket. A handler reads its caller
//! from the `ConnectInfo<Peer>` extension, which the listeners insert for each connection; a test
//! inserts it into its request.
#![forbid(unsafe_code)]

pub mod access_log;
pub mod check_litellm;
pub mod commands;
pub mod config;
pub mod database;
pub mod encryption_key;
pub mod error;
mod listen;
pub mod metrics;
mod notify;
mod retention;
mod rotation;
pub mod routes;
pub mod serve;
pub mod state;
mod trash;
mod usage;
mod worker;

pub use routes::{admin_router, rest_router, Peer};
pub use state::AppState;
