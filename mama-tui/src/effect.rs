//! Side effects `update` asks for. The runtime performs each one in a spawned task and feeds the
//! outcome back as an [`Action::Reply`](crate::action::Action), so `update` stays pure and the
//! UI never waits on the network or the disk.

use std::path::PathBuf;

use mama_api::types::{UsageMeasure, UsageQueryParams, UserFilter, UserSort};
use serde::Serialize;
use serde_json::Value;

use crate::action::Tag;

#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// One RPC call.
    Call {
        method: &'static str,
        params: Value,
        tag: Tag,
        token: Option<String>,
        epoch: u64,
    },
    /// The same method called once per params, in order, stopping at the first error; the
    /// reply's value is the array of results. Used to split very large id lists under the
    /// daemon's body limit.
    Batch {
        method: &'static str,
        params: Vec<Value>,
        tag: Tag,
        token: Option<String>,
        epoch: u64,
    },
    /// Every id matching `filter` (mark all): `users.list_ids`, or paging through `users.list`
    /// on a daemon without it.
    CollectIds {
        filter: UserFilter,
        sort: UserSort,
        tag: Tag,
        token: Option<String>,
        epoch: u64,
    },
    /// Page through `users.list` and write the rows to a CSV file. Without `overwrite`, an
    /// existing file is left alone and the reply says `{"exists": path}`.
    Export {
        path: PathBuf,
        filter: UserFilter,
        sort: UserSort,
        overwrite: bool,
        token: Option<String>,
        epoch: u64,
    },
    /// Ask `usage.query` for up to its most rows and write them to a CSV file, with each row's
    /// share of `measure`.
    ExportUsage {
        path: PathBuf,
        params: UsageQueryParams,
        measure: UsageMeasure,
        token: Option<String>,
        epoch: u64,
    },
    /// Write `contents` to a new local file (never over an existing one); the reply's value
    /// is `{"path": …}`.
    WriteNewFile {
        path: PathBuf,
        contents: Vec<u8>,
        tag: Tag,
        epoch: u64,
    },
    /// Read a local file (CSV import); the reply's value is its text.
    ReadFile {
        path: PathBuf,
        epoch: u64,
    },
    /// Write an OSC 52 clipboard sequence to the terminal (between two frames).
    Clipboard {
        text: String,
    },
    Quit,
}

/// Params as the JSON an effect carries. The params types cannot fail to serialize; `Null` is
/// only a type-level fallback.
pub fn to_params<T: Serialize>(params: &T) -> Value {
    serde_json::to_value(params).unwrap_or(Value::Null)
}
