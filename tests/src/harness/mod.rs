//! Test harness: a real `mama-daemon` process on a real database (SQLite file, or a fresh
//! PostgreSQL database when `MAMA_TEST_DATABASE=postgres`), reached over its real Unix socket and
//! TCP ports.

pub mod daemon;
pub mod database;
pub mod rpc;
pub mod sync;
pub mod tmux;

pub use daemon::Daemon;
pub use database::TestDatabase;
pub use rpc::{RpcClient, RpcReply};
