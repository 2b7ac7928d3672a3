//! Wire types shared by the daemon and the TUI: the admin JSON-RPC methods, the REST bodies and
//! the one error envelope. Everything here is plain serde data; no I/O.

pub mod error;
pub mod rest;
pub mod rpc;
pub mod types;

pub use error::{ApiError, ErrorCode, FieldError};
