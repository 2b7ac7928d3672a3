//! The append-only event log. Events are written in batches (one transaction for many) and never
//! updated or deleted by mama.

use std::borrow::Cow;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{Binary, Nullable, Text};
use diesel::sqlite::SqliteConnection;

use super::schema::{event_users, events};
use super::{Backend, DbConn, DbError};

mod retention;
use crate::api::actions;
use crate::api::types::{EventFilter, EventKind};
pub use retention::{prune_batch, PRUNE_BATCH};

/// How many affected user ids an event shows.
pub const LISTED_USER_IDS: usize = 100;

/// Events naming at most this many users keep all their ids in the row itself (one insert, which
/// keeps audited REST lookups cheap). Larger ones (bulk changes) keep every user packed in the
/// row on SQLite; on PostgreSQL they list every user in `event_users` and the first
/// [`LISTED_USER_IDS`] in the row.
pub const INLINE_USER_IDS: usize = 1000;

/// On SQLite, a `user_ids` list longer than this (in bytes of JSON) is stored lz4-compressed in
/// `user_ids_packed` (see the migration `events_packed_ids`). A lookup of 100 ids is about 2 KB
/// of JSON and ~700 bytes packed, and its event is most of what an audited lookup writes;
/// shorter lists stay readable in `user_ids`.
pub const PACK_ABOVE: usize = 256;

/// Largest unpacked list accepted when reading, so that a corrupt size header cannot make a
/// reader allocate gigabytes: a change naming every one of a million users of 128-character ids
/// fits.
const MAX_UNPACKED: usize = 512 << 20;

diesel::define_sql_function! {
    /// Whether a packed id list holds the id whose JSON string form is `id_json` (SQLite only;
    /// registered on every connection by [`register_sqlite_functions`]).
    fn mama_packed_ids_contain(packed: Nullable<Binary>, id_json: Text) -> Bool;
}

diesel::define_sql_function! {
    /// SQLite's position of `needle` in `haystack` (1-based, 0 when absent; case-sensitive,
    /// unlike SQLite's LIKE).
    fn instr(haystack: Text, needle: Text) -> Integer;
}

diesel::define_sql_function! {
    /// PostgreSQL's `instr`.
    fn strpos(haystack: Text, needle: Text) -> Integer;
}

/// Registers the SQL functions the event queries use on a new SQLite connection.
pub fn register_sqlite_functions(conn: &mut SqliteConnection) -> QueryResult<()> {
    mama_packed_ids_contain_utils::register_impl(
        conn,
        |packed: Option<Vec<u8>>, id_json: String| {
            packed
                .and_then(|p| unpack(&p).ok())
                .is_some_and(|list| list.contains(&id_json))
        },
    )
}

/// Compresses an id list (its JSON) for `user_ids_packed`: the uncompressed size, then an lz4
/// block.
pub fn pack(json: &str) -> Vec<u8> {
    lz4_flex::block::compress_prepend_size(json.as_bytes())
}

/// The JSON id list `pack` was given.
pub fn unpack(packed: &[u8]) -> Result<String, DbError> {
    let corrupt = |what: &str| DbError::Corrupt(format!("packed event user ids: {what}"));
    let (size, _) =
        lz4_flex::block::uncompressed_size(packed).map_err(|e| corrupt(&e.to_string()))?;
    if size > MAX_UNPACKED {
        return Err(corrupt("too large"));
    }
    let bytes =
        lz4_flex::block::decompress_size_prepended(packed).map_err(|e| corrupt(&e.to_string()))?;
    String::from_utf8(bytes).map_err(|_| corrupt("not UTF-8"))
}

/// The JSON string form of `id` as an id list holds it (valid ids need no escaping).
fn json_string(id: &str) -> String {
    serde_json::to_string(id).unwrap_or_default()
}

/// Escapes LIKE wildcards; patterns use `\` as the escape character.
fn like_escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// `None` is written as NULL (not as "use the default"), so an insert is the same statement
/// whatever is missing: prepared once on SQLite, and copyable on PostgreSQL.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = events)]
#[diesel(treat_none_as_default_value = false)]
pub struct EventRow {
    pub id: String,
    pub at: NaiveDateTime,
    pub actor_kind: String,
    pub actor: String,
    pub channel: String,
    pub action: String,
    pub user_ids: String,
    pub target_count: i64,
    pub target_filter: Option<String>,
    pub result: String,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub client: Option<String>,
    pub request_id: Option<String>,
    pub duration_ms: Option<i64>,
    pub detail: Option<String>,
    /// The id list, compressed, when it is long (SQLite only; then `user_ids` is empty).
    pub user_ids_packed: Option<Vec<u8>>,
}

impl EventRow {
    /// The affected users as a JSON array, unpacked if need be.
    pub fn user_ids_json(&self) -> Result<Cow<'_, str>, DbError> {
        match &self.user_ids_packed {
            Some(packed) => unpack(packed).map(Cow::Owned),
            None => Ok(Cow::Borrowed(&self.user_ids)),
        }
    }

    fn should_pack(&self) -> bool {
        self.user_ids_packed.is_none() && self.user_ids.len() > PACK_ABOVE
    }

    /// This row with a long id list moved into `user_ids_packed`.
    fn packed(&self) -> EventRow {
        EventRow {
            user_ids_packed: Some(pack(&self.user_ids)),
            user_ids: String::new(),
            ..self.clone()
        }
    }
}

/// An event, with every affected user when they are more than the row holds.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub row: EventRow,
    /// Empty unless the event names more than [`INLINE_USER_IDS`] users.
    pub linked_user_ids: Vec<String>,
}

impl NewEvent {
    /// Stores a long id list the way `backend` keeps it (compressed on SQLite). [`insert`] does
    /// this anyway; doing it first, on the thread that made the event, keeps that work out of a
    /// batch's transaction.
    pub fn prepare_for(&mut self, backend: Backend) {
        if backend == Backend::Sqlite && self.row.should_pack() {
            self.row.user_ids_packed = Some(pack(&self.row.user_ids));
            self.row.user_ids = String::new();
        }
    }
}

/// Writes events and their user links. Call inside a transaction.
pub fn insert(conn: &mut DbConn, batch: &[NewEvent]) -> Result<(), DbError> {
    match conn {
        DbConn::Sqlite(c) => insert_sqlite(c, batch),
        DbConn::Pg(c) => insert_pg(c, batch),
    }
}

/// SQLite runs in-process: one row per statement, prepared once per connection and reused, is
/// cheaper than parsing a multi-row insert anew for every batch size. Long id lists are packed,
/// and an event naming more users than the row lists keeps all of them packed in the row (a
/// change of 10,000 users: ~70 KB) rather than as 10,000 rows in `event_users` and its index.
fn insert_sqlite(c: &mut SqliteConnection, batch: &[NewEvent]) -> Result<(), DbError> {
    for event in batch {
        let packed;
        let row = if !event.linked_user_ids.is_empty() {
            let all = serde_json::to_string(&event.linked_user_ids)
                .map_err(|e| DbError::Corrupt(format!("event user ids: {e}")))?;
            packed = EventRow {
                user_ids_packed: Some(pack(&all)),
                user_ids: String::new(),
                ..event.row.clone()
            };
            &packed
        } else if event.row.should_pack() {
            packed = event.row.packed();
            &packed
        } else {
            &event.row
        };
        diesel::insert_into(events::table).values(row).execute(c)?;
    }
    Ok(())
}

/// PostgreSQL: one COPY per batch, which PostgreSQL neither parses nor plans per row count the
/// way it does a multi-row INSERT; every user of a large change gets a row in `event_users`.
fn insert_pg(c: &mut diesel::pg::PgConnection, batch: &[NewEvent]) -> Result<(), DbError> {
    let rows: Vec<&EventRow> = batch.iter().map(|e| &e.row).collect();
    diesel::copy_from(events::table)
        .from_insertable(rows)
        .execute(c)?;
    let links: Vec<(&str, &str)> = batch
        .iter()
        .filter(|e| !e.linked_user_ids.is_empty())
        .flat_map(|e| {
            let mut ids: Vec<&str> = e.linked_user_ids.iter().map(String::as_str).collect();
            ids.sort_unstable();
            ids.dedup();
            ids.into_iter().map(move |u| (e.row.id.as_str(), u))
        })
        .collect();
    for chunk in links.chunks(super::rows_per_insert(2)) {
        let values: Vec<_> = chunk
            .iter()
            .map(|(e, u)| (event_users::event_id.eq(*e), event_users::user_id.eq(*u)))
            .collect();
        diesel::insert_into(event_users::table)
            .values(&values)
            .execute(c)?;
    }
    Ok(())
}

/// One page of events, newest first, with the matching count.
pub fn list(
    conn: &mut DbConn,
    filter: &EventFilter,
    offset: u64,
    limit: u32,
) -> Result<(Vec<EventRow>, u64), DbError> {
    let sqlite = matches!(conn, DbConn::Sqlite(_));
    let build = || {
        let mut q = events::table.into_boxed();
        if let Some(actor) = &filter.actor {
            q = q.filter(events::actor.eq(actor.clone()));
        }
        if let Some(action) = &filter.action {
            if action.ends_with('.') {
                let escaped = like_escape(action);
                q = q.filter(events::action.like(format!("{escaped}%")).escape('\\'));
            } else {
                q = q.filter(events::action.eq(action.clone()));
            }
        }
        if let Some(user) = &filter.user_id {
            let linked = event_users::table
                .filter(event_users::user_id.eq(user.clone()))
                .select(event_users::event_id);
            // Inline ids are a JSON array of strings: the id in quotes is one whole element.
            // Ids are case-sensitive (SQLite's LIKE is not, so no LIKE here).
            let needle = json_string(user);
            q = if sqlite {
                let inline = instr(events::user_ids, needle.clone()).gt(0);
                let packed = mama_packed_ids_contain(events::user_ids_packed, needle);
                q.filter(events::id.eq_any(linked).or(inline).or(packed))
            } else {
                let inline = strpos(events::user_ids, needle).gt(0);
                q.filter(events::id.eq_any(linked).or(inline))
            };
        }
        if let Some(result) = &filter.result {
            q = q.filter(events::result.eq(result.clone()));
        }
        if let Some(since) = filter.since {
            q = q.filter(events::at.ge(since.naive_utc()));
        }
        if let Some(until) = filter.until {
            q = q.filter(events::at.lt(until.naive_utc()));
        }
        match filter.kind {
            Some(EventKind::View) => q = q.filter(events::action.eq_any(actions::view_names())),
            Some(EventKind::Change) => q = q.filter(events::action.ne_all(actions::view_names())),
            None => {}
        }
        q
    };
    let matching: i64 = build().count().get_result(conn)?;
    let rows = build()
        .order_by(events::id.desc())
        .limit(i64::from(limit))
        .offset(i64::try_from(offset).unwrap_or(i64::MAX))
        .select(EventRow::as_select())
        .load(conn)?;
    Ok((rows, matching as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids_json(n: usize) -> String {
        let ids: Vec<String> = (0..n).map(|i| format!("user-{i:06}")).collect();
        serde_json::to_string(&ids).unwrap()
    }

    #[test]
    fn packed_lists_unpack_to_what_was_packed_and_are_smaller() {
        let json = ids_json(100);
        let packed = pack(&json);
        assert!(
            packed.len() * 2 < json.len(),
            "{} of {}",
            packed.len(),
            json.len()
        );
        assert_eq!(unpack(&packed).unwrap(), json);
    }

    #[test]
    fn unreadable_packed_lists_are_errors_not_allocations() {
        assert!(unpack(b"").is_err());
        assert!(unpack(b"\x05\x00\x00\x00garbage").is_err());
        // A size header claiming 4 GiB is refused before anything is allocated.
        assert!(unpack(b"\xff\xff\xff\xff\x00").is_err());
    }

    #[test]
    fn the_sql_function_finds_exact_ids_only() {
        use diesel::Connection;
        let mut conn = SqliteConnection::establish(":memory:").unwrap();
        register_sqlite_functions(&mut conn).unwrap();
        let packed = pack(r#"["alice","bob","김철수"]"#);
        let contains = |conn: &mut SqliteConnection, packed: Option<Vec<u8>>, id: &str| {
            diesel::select(mama_packed_ids_contain(packed, json_string(id)))
                .get_result::<bool>(conn)
                .unwrap()
        };
        assert!(contains(&mut conn, Some(packed.clone()), "bob"));
        assert!(contains(&mut conn, Some(packed.clone()), "김철수"));
        for other in ["bo", "ob", "Bob", "alice,bob", ""] {
            assert!(
                !contains(&mut conn, Some(packed.clone()), other),
                "{other:?}"
            );
        }
        assert!(!contains(&mut conn, None, "bob"));
        assert!(!contains(&mut conn, Some(b"not lz4".to_vec()), "bob"));
    }

    #[test]
    fn only_long_lists_on_sqlite_are_packed() {
        let event = |json: String| NewEvent {
            row: EventRow {
                id: "e".into(),
                at: chrono::DateTime::UNIX_EPOCH.naive_utc(),
                actor_kind: "service".into(),
                actor: "s".into(),
                channel: "rest".into(),
                action: "rest.lookup".into(),
                user_ids: json,
                target_count: 0,
                target_filter: None,
                result: "ok".into(),
                error_code: None,
                error_message: None,
                client: None,
                request_id: None,
                duration_ms: None,
                detail: None,
                user_ids_packed: None,
            },
            linked_user_ids: Vec::new(),
        };
        let long = ids_json(100);
        let mut on_sqlite = event(long.clone());
        on_sqlite.prepare_for(Backend::Sqlite);
        assert!(on_sqlite.row.user_ids.is_empty());
        assert_eq!(on_sqlite.row.user_ids_json().unwrap(), long);
        // Preparing twice changes nothing.
        on_sqlite.prepare_for(Backend::Sqlite);
        assert_eq!(on_sqlite.row.user_ids_json().unwrap(), long);

        let mut on_postgres = event(long.clone());
        on_postgres.prepare_for(Backend::Postgres);
        assert_eq!(on_postgres.row.user_ids, long);
        assert!(on_postgres.row.user_ids_packed.is_none());

        let mut short = event(ids_json(3));
        short.prepare_for(Backend::Sqlite);
        assert_eq!(short.row.user_ids, ids_json(3));
        assert!(short.row.user_ids_packed.is_none());
    }
}
