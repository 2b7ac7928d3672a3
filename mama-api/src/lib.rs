//! mama's wire contract, shared by the daemon and every client (the TUI, scripts): the admin
//! JSON-RPC methods, the REST bodies and the one error envelope. Plain serde data; no I/O, no
//! database, no HTTP client, so a client that depends on it alone compiles none of those.
#![forbid(unsafe_code)]

pub mod action;
pub mod actions;
pub mod error;
pub mod rest;
pub mod rpc;
pub mod types;

pub use error::{ApiError, ErrorCode, FieldError};
