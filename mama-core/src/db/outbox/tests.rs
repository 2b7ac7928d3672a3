//! Coalescing: what the queue holds after repeated changes, on SQLite.

use super::*;
use crate::db::{Db, Location};

fn db() -> (tempfile::TempDir, Db) {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(&Location::Sqlite(dir.path().join("mama.db")), 2).unwrap();
    crate::db::migrate::run(&mut db.conn().unwrap()).unwrap();
    (dir, db)
}

/// The user's queued operations in order, as `kind` or `kind:key`.
fn queued(db: &Db, user: &str) -> Vec<String> {
    let user = user.to_string();
    db.write_blocking(|c| {
        outbox::table
            .filter(outbox::user_id.eq(user))
            .order_by(outbox::id.asc())
            .select((outbox::kind, outbox::key_hash))
            .load::<(String, Option<String>)>(c)
            .map_err(DbError::from)
    })
    .unwrap()
    .into_iter()
    .map(|(kind, key)| key.map_or(kind.clone(), |k| format!("{kind}:{k}")))
    .collect()
}

fn enqueue_now(db: &Db, ops: &[NewOp]) {
    let ops = ops.to_vec();
    db.write_blocking(|c| enqueue(c, &ops, super::super::now()))
        .unwrap();
}

#[test]
fn repeated_changes_of_a_user_wait_as_one_sync() {
    let (_dir, db) = db();
    let users: Vec<NewOp> = ["a", "b"].iter().map(|u| NewOp::sync(u)).collect();
    for _ in 0..5 {
        enqueue_now(&db, &users);
    }
    // Twice in one batch is once too.
    enqueue_now(&db, &[NewOp::sync("a"), NewOp::sync("a")]);
    assert_eq!(queued(&db, "a"), ["sync"]);
    assert_eq!(queued(&db, "b"), ["sync"]);
}

#[test]
fn a_sync_after_a_block_keeps_its_place() {
    // Trashed then restored: the key must end unblocked, so the second sync runs after the
    // block; trashed again, the key is blocked again after it.
    let (_dir, db) = db();
    enqueue_now(&db, &[NewOp::sync("a")]);
    enqueue_now(&db, &[NewOp::block("a", "h1")]);
    enqueue_now(&db, &[NewOp::block("a", "h1")]);
    enqueue_now(&db, &[NewOp::sync("a")]);
    enqueue_now(&db, &[NewOp::sync("a")]);
    enqueue_now(&db, &[NewOp::block("a", "h1")]);
    assert_eq!(queued(&db, "a"), ["sync", "block:h1", "sync", "block:h1"]);
}

#[test]
fn a_key_deleted_now_keeps_its_place_and_one_deleted_later_does_not() {
    let (_dir, db) = db();
    // Rotated twice before LiteLLM took the first: the dropped key goes before the new
    // one is created under the same alias.
    enqueue_now(&db, &[NewOp::delete("a", "k1"), NewOp::sync("a")]);
    enqueue_now(&db, &[NewOp::sync("a")]);
    enqueue_now(&db, &[NewOp::delete("a", "k2"), NewOp::sync("a")]);
    enqueue_now(&db, &[NewOp::sync("a")]);
    assert_eq!(queued(&db, "a"), ["delete:k1", "sync", "delete:k2", "sync"]);
    // A retired key's deletion at the end of its grace holds nothing up.
    let now = super::super::now();
    let later = now + chrono::Duration::hours(1);
    db.write_blocking(|c| enqueue_at(c, &[NewOp::delete("b", "old")], now, later))
        .unwrap();
    enqueue_now(&db, &[NewOp::sync("b")]);
    db.write_blocking(|c| enqueue_at(c, &[NewOp::delete("b", "older")], now, later))
        .unwrap();
    enqueue_now(&db, &[NewOp::sync("b")]);
    assert_eq!(queued(&db, "b"), ["delete:old", "sync", "delete:older"]);
}

#[test]
fn an_operation_a_worker_holds_is_not_merged_into() {
    let (_dir, db) = db();
    enqueue_now(&db, &[NewOp::sync("a")]);
    let now = super::super::now();
    let jobs = db
        .write_blocking(|c| claim(c, "w1", 10, now, now + chrono::Duration::seconds(60)))
        .unwrap();
    assert_eq!(jobs.len(), 1);
    // The worker may have read the user before this change: it gets its own sync.
    enqueue_now(&db, &[NewOp::sync("a")]);
    enqueue_now(&db, &[NewOp::sync("a")]);
    assert_eq!(queued(&db, "a"), ["sync", "sync"]);
    let ids = jobs[0].ids.clone();
    db.write_blocking(|c| finish(c, "w1", &ids)).unwrap();
    assert_eq!(queued(&db, "a"), ["sync"]);
}

#[test]
fn a_deleted_user_leaves_only_the_key_deletions() {
    let (_dir, db) = db();
    enqueue_now(&db, &[NewOp::sync("a"), NewOp::sync("b")]);
    db.write_blocking(|c| forget_syncs_of(c, &["a".to_string()]))
        .unwrap();
    enqueue_now(&db, &[NewOp::delete("a", "h1")]);
    assert_eq!(queued(&db, "a"), ["delete:h1"]);
    assert_eq!(queued(&db, "b"), ["sync"]);
}
#[test]
fn the_migration_drops_repeats_queued_before_coalescing() {
    use diesel::connection::SimpleConnection;
    let (_dir, db) = db();
    let now = super::super::now();
    // As enqueued before: every change its own row.
    let rows = [
        ("a", KIND_SYNC, None),
        ("a", KIND_SYNC, None),
        ("a", KIND_DELETE, Some("old")),
        ("a", KIND_SYNC, None),
        ("a", KIND_BLOCK, Some("h1")),
        ("a", KIND_BLOCK, Some("h1")),
        ("a", KIND_SYNC, None),
        ("a", KIND_SYNC, None),
        ("b", KIND_SYNC, None),
        ("b", KIND_SYNC, None),
    ];
    db.write_blocking(|c| {
        for (user, kind, key) in rows {
            diesel::insert_into(outbox::table)
                .values((
                    outbox::user_id.eq(user),
                    outbox::kind.eq(kind),
                    outbox::key_hash.eq(key),
                    outbox::created_at.eq(now),
                    outbox::available_at.eq(now),
                    outbox::attempts.eq(0),
                ))
                .execute(c)?;
        }
        // A worker holds b's first sync: the one after it stays.
        let first: i64 = outbox::table
            .filter(outbox::user_id.eq("b"))
            .select(outbox::id)
            .order_by(outbox::id.asc())
            .first(c)?;
        diesel::update(outbox::table.filter(outbox::id.eq(first)))
            .set(outbox::claimed_by.eq("w1"))
            .execute(c)?;
        Ok::<_, DbError>(())
    })
    .unwrap();
    let sql =
        include_str!("../../../../migrations/sqlite/2026-12-10-000001_outbox_coalesce/up.sql");
    db.write_blocking(|c| match c {
        DbConn::Sqlite(c) => c.batch_execute(sql).map_err(DbError::from),
        DbConn::Pg(_) => unreachable!("a SQLite test"),
    })
    .unwrap();
    assert_eq!(queued(&db, "a"), ["sync", "delete:old", "block:h1", "sync"]);
    assert_eq!(queued(&db, "b"), ["sync", "sync"]);
}
