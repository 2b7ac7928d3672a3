//! Usage and spend from LiteLLM's `/user/daily/activity`, attributed to mama's users through the
//! hash of every key mama minted.

pub mod collect;
mod plan;
