#![forbid(unsafe_code)]

pub mod harness;

pub mod standin;

pub mod bench;
