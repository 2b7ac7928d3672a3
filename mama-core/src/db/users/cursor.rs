//! Keyset pagination for `users.list`: a page starts right after (or before) a row, found by
//! its `(sort column, id)` through the sort column's index, so page 450 costs what page 1 does
//! (an offset of 90,000 reads 90,000 index entries before the first row it returns).
//!
//! A cursor is the row's sort value, its id and the sort column, as base64url JSON: opaque to
//! clients, and refused when it names another column than the request sorts by. It does not
//! name a direction, so a cursor read in the reversed order (the TUI's last page) works in
//! both.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::NaiveDateTime;
use diesel::dsl::sql;
use diesel::sql_types::{BigInt, Bool, Double, Text, Timestamp};
use serde::{Deserialize, Serialize};

use super::key_status::StoredKeyStatus;
use super::paging::sort_key;
use super::plan::Cond;
use super::rows::UserRow;
use crate::api::types::UserColumn;

/// The sort key of a row: its value in the sort column (none when sorting by id) and its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub column: UserColumn,
    pub value: SortValue,
    pub id: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum SortValue {
    /// Sorting by id: the id alone is the key.
    None,
    Text(String),
    Time(NaiveDateTime),
    Float(f64),
    Int(i64),
}

impl Eq for SortValue {}

/// Where a page starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Window {
    /// After skipping this many rows.
    Offset(u64),
    /// Right after this row.
    After(Cursor),
    /// Right before this row (the rows still come in sort order).
    Before(Cursor),
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CursorError {
    #[error("not a cursor from users.list")]
    Malformed,
    #[error("a cursor of a list sorted by another column")]
    OtherColumn,
}

#[derive(Serialize, Deserialize)]
struct Wire {
    c: UserColumn,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    v: Option<String>,
    id: String,
}

const TIME_FORMAT: &str = "%Y-%m-%dT%H:%M:%S%.f";

impl Cursor {
    /// The cursor of `row` in a list sorted by `column`.
    pub fn of(row: &UserRow, column: UserColumn) -> Cursor {
        let text = |s: &String| SortValue::Text(s.clone());
        let value = match column {
            UserColumn::Id => SortValue::None,
            UserColumn::Organization => text(&row.organization),
            UserColumn::Models => text(&row.models),
            UserColumn::Services => text(&row.services),
            UserColumn::KeyStatus => {
                SortValue::Text(StoredKeyStatus(row.key_status).as_str().into())
            }
            UserColumn::Info => text(&row.info),
            UserColumn::CreatedAt => SortValue::Time(row.created_at),
            UserColumn::UpdatedAt => SortValue::Time(row.updated_at),
            UserColumn::MaxBudget => {
                SortValue::Float(row.limits.max_budget.unwrap_or(sort_key::NO_BUDGET))
            }
            UserColumn::Spend => SortValue::Float(row.spend.unwrap_or(sort_key::NO_SPEND)),
            UserColumn::TpmLimit => {
                SortValue::Int(row.limits.tpm_limit.unwrap_or(sort_key::NO_LIMIT))
            }
            UserColumn::RpmLimit => {
                SortValue::Int(row.limits.rpm_limit.unwrap_or(sort_key::NO_LIMIT))
            }
            UserColumn::ExpiresAt => {
                SortValue::Time(row.limits.expires_at.unwrap_or_else(sort_key::never))
            }
            UserColumn::Status => SortValue::Int(sort_key::status_rank(row)),
            UserColumn::Spend30d => SortValue::Float(row.usage_spend_30d),
            UserColumn::Requests30d => SortValue::Int(row.usage_requests_30d),
            UserColumn::LastUsed => {
                SortValue::Time(row.last_used.unwrap_or_else(sort_key::never_used))
            }
        };
        Cursor {
            column,
            value,
            id: row.id.clone(),
        }
    }

    pub fn encode(&self) -> String {
        let v = match &self.value {
            SortValue::None => None,
            SortValue::Text(s) => Some(s.clone()),
            SortValue::Time(t) => Some(t.format(TIME_FORMAT).to_string()),
            // Shortest text that reads back as the same number.
            SortValue::Float(f) => Some(format!("{f:?}")),
            SortValue::Int(n) => Some(n.to_string()),
        };
        let wire = Wire {
            c: self.column,
            v,
            id: self.id.clone(),
        };
        // A struct of strings always serializes.
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&wire).unwrap_or_default())
    }

    /// Reads a cursor for a list sorted by `column`.
    pub fn decode(cursor: &str, column: UserColumn) -> Result<Cursor, CursorError> {
        let bytes = URL_SAFE_NO_PAD
            .decode(cursor)
            .map_err(|_| CursorError::Malformed)?;
        let wire: Wire = serde_json::from_slice(&bytes).map_err(|_| CursorError::Malformed)?;
        if wire.c != column {
            return Err(CursorError::OtherColumn);
        }
        let value = match (column, wire.v) {
            (UserColumn::Id, None) => SortValue::None,
            (
                UserColumn::CreatedAt
                | UserColumn::UpdatedAt
                | UserColumn::ExpiresAt
                | UserColumn::LastUsed,
                Some(v),
            ) => SortValue::Time(
                NaiveDateTime::parse_from_str(&v, TIME_FORMAT)
                    .map_err(|_| CursorError::Malformed)?,
            ),
            (UserColumn::MaxBudget | UserColumn::Spend | UserColumn::Spend30d, Some(v)) => {
                SortValue::Float(
                    v.parse::<f64>()
                        .ok()
                        .filter(|f| f.is_finite())
                        .ok_or(CursorError::Malformed)?,
                )
            }
            (
                UserColumn::TpmLimit
                | UserColumn::RpmLimit
                | UserColumn::Status
                | UserColumn::Requests30d,
                Some(v),
            ) => SortValue::Int(v.parse().map_err(|_| CursorError::Malformed)?),
            (UserColumn::Id, _) | (_, None) => return Err(CursorError::Malformed),
            (
                UserColumn::Organization
                | UserColumn::Models
                | UserColumn::Services
                | UserColumn::KeyStatus
                | UserColumn::Info,
                Some(v),
            ) => SortValue::Text(v),
        };
        Ok(Cursor {
            column,
            value,
            id: wire.id,
        })
    }

    /// Rows strictly past this one in the order `(column, id)` ascending (`forward`) or
    /// descending: a row-value comparison each backend answers from the `(column, id)` index.
    pub fn past<'a>(&self, forward: bool) -> Cond<'a> {
        let op = if forward { " > " } else { " < " };
        let key = match self.column {
            UserColumn::Id => {
                return Box::new(
                    sql::<Bool>("users.id")
                        .sql(op)
                        .bind::<Text, _>(self.id.clone()),
                )
            }
            UserColumn::Organization => "(users.organization, users.id)",
            UserColumn::Models => "(users.models, users.id)",
            UserColumn::Services => "(users.services, users.id)",
            UserColumn::KeyStatus => "(users.key_status, users.id)",
            UserColumn::Info => "(users.info, users.id)",
            UserColumn::CreatedAt => "(users.created_at, users.id)",
            UserColumn::UpdatedAt => "(users.updated_at, users.id)",
            UserColumn::MaxBudget => return self.past_expression(sort_key::MAX_BUDGET, forward),
            UserColumn::Spend => return self.past_expression(sort_key::SPEND, forward),
            UserColumn::TpmLimit => return self.past_expression(sort_key::TPM_LIMIT, forward),
            UserColumn::RpmLimit => return self.past_expression(sort_key::RPM_LIMIT, forward),
            UserColumn::ExpiresAt => return self.past_expression(sort_key::EXPIRES_AT, forward),
            UserColumn::Status => return self.past_expression(sort_key::STATUS, forward),
            UserColumn::Spend30d => "(users.usage_spend_30d, users.id)",
            UserColumn::Requests30d => "(users.usage_requests_30d, users.id)",
            UserColumn::LastUsed => return self.past_expression(sort_key::LAST_USED, forward),
        };
        let id = self.id.clone();
        let head = sql::<Bool>(key).sql(op).sql("(");
        match &self.value {
            SortValue::Time(t) => Box::new(
                head.bind::<Timestamp, _>(*t)
                    .sql(", ")
                    .bind::<Text, _>(id)
                    .sql(")"),
            ),
            SortValue::Text(s) => Box::new(
                head.bind::<Text, _>(s.clone())
                    .sql(", ")
                    .bind::<Text, _>(id)
                    .sql(")"),
            ),
            SortValue::Float(f) => Box::new(
                head.bind::<Double, _>(*f)
                    .sql(", ")
                    .bind::<Text, _>(id)
                    .sql(")"),
            ),
            SortValue::Int(n) => Box::new(
                head.bind::<BigInt, _>(*n)
                    .sql(", ")
                    .bind::<Text, _>(id)
                    .sql(")"),
            ),
            // A cursor of another column never gets here (`decode` checks the column).
            SortValue::None => Box::new(
                head.bind::<Text, _>(String::new())
                    .sql(", ")
                    .bind::<Text, _>(id)
                    .sql(")"),
            ),
        }
    }
}

impl Cursor {
    /// [`Cursor::past`] for a sort key that is an expression: SQLite seeks an expression index
    /// with a range on the expression, not with a row-value comparison, so the pair is spelled
    /// out: `key >= v AND (key > v OR id > i)` (mirrored backwards).
    fn past_expression<'a>(&self, key: &'static str, forward: bool) -> Cond<'a> {
        let (or_equal, strictly) = if forward {
            (" >= ", " > ")
        } else {
            (" <= ", " < ")
        };
        let id = self.id.clone();
        macro_rules! spelled_out {
            ($ty:ty, $v:expr) => {
                Box::new(
                    sql::<Bool>("(")
                        .sql(key)
                        .sql(or_equal)
                        .bind::<$ty, _>($v)
                        .sql(" AND (")
                        .sql(key)
                        .sql(strictly)
                        .bind::<$ty, _>($v)
                        .sql(" OR users.id")
                        .sql(strictly)
                        .bind::<Text, _>(id)
                        .sql("))"),
                )
            };
        }
        match &self.value {
            SortValue::Float(f) => spelled_out!(Double, *f),
            SortValue::Int(n) => spelled_out!(BigInt, *n),
            SortValue::Time(t) => spelled_out!(Timestamp, *t),
            // `decode` gives these columns only the values above.
            SortValue::Text(s) => spelled_out!(Text, s.clone()),
            SortValue::None => spelled_out!(Text, String::new()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_name_their_column() {
        let time =
            NaiveDateTime::parse_from_str("2026-11-22T05:01:02.123456", TIME_FORMAT).expect("time");
        for cursor in [
            Cursor {
                column: UserColumn::Id,
                value: SortValue::None,
                id: "김철수".into(),
            },
            Cursor {
                column: UserColumn::Organization,
                value: SortValue::Text("R&D \"Alpha\"".into()),
                id: "u1".into(),
            },
            Cursor {
                column: UserColumn::UpdatedAt,
                value: SortValue::Time(time),
                id: "u2".into(),
            },
            Cursor {
                column: UserColumn::MaxBudget,
                value: SortValue::Float(0.1 + 0.2),
                id: "u3".into(),
            },
            Cursor {
                column: UserColumn::Spend,
                value: SortValue::Float(sort_key::NO_SPEND),
                id: "u4".into(),
            },
            Cursor {
                column: UserColumn::RpmLimit,
                value: SortValue::Int(sort_key::NO_LIMIT),
                id: "u5".into(),
            },
            Cursor {
                column: UserColumn::ExpiresAt,
                value: SortValue::Time(sort_key::never()),
                id: "u6".into(),
            },
        ] {
            let column = cursor.column;
            assert_eq!(Cursor::decode(&cursor.encode(), column), Ok(cursor));
        }
        let org = Cursor {
            column: UserColumn::Organization,
            value: SortValue::Text("x".into()),
            id: "u".into(),
        };
        assert_eq!(
            Cursor::decode(&org.encode(), UserColumn::Models),
            Err(CursorError::OtherColumn)
        );
        assert_eq!(
            Cursor::decode("not a cursor", UserColumn::Id),
            Err(CursorError::Malformed)
        );
    }
}
