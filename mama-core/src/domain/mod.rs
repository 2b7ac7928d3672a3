//! Pure domain rules: what a valid user id, model set or info map is. No I/O here, so every rule
//! is unit-tested directly and applied identically by the RPC and the REST API.

pub mod access;
pub mod limits;
pub mod sets;
pub mod validate;

pub use access::KeyAccess;
pub use sets::NameSet;
