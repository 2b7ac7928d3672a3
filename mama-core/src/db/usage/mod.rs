//! Usage as collected from LiteLLM: the key hashes mama minted, the daily rows per user and
//! model, and the collector's progress.

pub mod query;
pub mod ranked;
pub mod rollup;
pub mod store;
