//! `users.key_status` as stored: a [`KeyStatus`] under its wire name (`none`, `pending`,
//! `active`, `failed`). This is the one conversion between the column and the type: rows read
//! and write the column through [`StoredKeyStatus`], and queries compare against it, so no code
//! above the storage holds the status as text.

use diesel::backend::Backend;
use diesel::deserialize::{self, FromSql, Queryable};
use diesel::expression::AsExpression;
use diesel::sql_types::Text;

use crate::api::types::KeyStatus;

/// A key status on its way into or out of `users.key_status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredKeyStatus(pub KeyStatus);

impl StoredKeyStatus {
    /// The column's text.
    pub fn as_str(self) -> &'static str {
        self.0.as_str()
    }

    /// The status the column's text stands for. Text mama never writes reads as `failed`: a
    /// key in a state mama cannot account for shows as needing attention, not as fine.
    fn from_text(text: &str) -> Self {
        StoredKeyStatus(KeyStatus::parse(text).unwrap_or(KeyStatus::Failed))
    }
}

impl From<KeyStatus> for StoredKeyStatus {
    fn from(status: KeyStatus) -> Self {
        StoredKeyStatus(status)
    }
}

impl From<StoredKeyStatus> for KeyStatus {
    fn from(stored: StoredKeyStatus) -> Self {
        stored.0
    }
}

impl AsExpression<Text> for StoredKeyStatus {
    type Expression = <&'static str as AsExpression<Text>>::Expression;

    fn as_expression(self) -> Self::Expression {
        AsExpression::<Text>::as_expression(self.as_str())
    }
}

impl AsExpression<Text> for &StoredKeyStatus {
    type Expression = <&'static str as AsExpression<Text>>::Expression;

    fn as_expression(self) -> Self::Expression {
        AsExpression::<Text>::as_expression(self.as_str())
    }
}

impl<DB: Backend> Queryable<Text, DB> for StoredKeyStatus
where
    String: FromSql<Text, DB>,
{
    type Row = String;

    fn build(text: String) -> deserialize::Result<Self> {
        Ok(StoredKeyStatus::from_text(&text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_reads_back_as_written() {
        for status in [
            KeyStatus::None,
            KeyStatus::Pending,
            KeyStatus::Active,
            KeyStatus::Failed,
        ] {
            let text = StoredKeyStatus(status).as_str();
            assert_eq!(StoredKeyStatus::from_text(text).0, status);
        }
    }

    #[test]
    fn text_mama_never_writes_reads_as_failed() {
        assert_eq!(StoredKeyStatus::from_text("revoked").0, KeyStatus::Failed);
    }
}
