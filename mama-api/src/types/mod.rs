//! Params and results of the admin RPC methods. Params reject unknown fields, so a typo in a
//! client is an `invalid_params` error instead of a silently ignored option.

mod admins;
mod auth;
mod events;
mod limits;
mod organizations;
mod services;
mod sync;
mod trash;
mod undo;
mod usage;
mod users;

pub use admins::*;
pub use auth::*;
pub use events::*;
pub use limits::*;
pub use organizations::*;
pub use services::*;
pub use sync::*;
pub use trash::*;
pub use undo::*;
pub use usage::*;
pub use users::*;
