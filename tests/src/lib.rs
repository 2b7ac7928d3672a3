#![forbid(unsafe_code)]

pub mod standin;
