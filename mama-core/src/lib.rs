//! mama's core: domain types, storage, auth, encryption at rest, the LiteLLM client, the use
//! cases (each owning its transaction and its event) and the wire types shared by the daemon and
//! the TUI. The binaries stay thin: they parse, call one use case here, and render.
#![forbid(unsafe_code)]

/// The wire contract lives in its own crate so clients need nothing else; re-exported so the
/// core's use cases name it as before.
pub use mama_api as api;

pub mod auth;
pub mod crypto;
pub mod db;
pub mod domain;
pub mod litellm;
pub mod ops;
pub mod secret;
pub mod sync;
pub mod usage;
