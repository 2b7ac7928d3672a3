//! An in-process cache of the rows service lookups read, for SQLite only.
//!
//! Why: in WAL mode every commit (and audited requests commit events all the time) makes each
//! reader connection drop its page cache, so every lookup would re-read its ~200 pages from the
//! file. One daemon owns a SQLite file, and every change goes through its write transactions, so
//! a generation counter bumped after each of them tells exactly when cached rows may be stale.
//! The cache holds rows as stored (keys still encrypted). PostgreSQL, possibly shared by several
//! daemons, is never cached.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::db::users::LookupRow;
use crate::db::Db;

/// Most rows kept; past it the cache starts over (bounded memory, no eviction bookkeeping).
const MAX_ROWS: usize = 250_000;

#[derive(Default)]
struct Inner {
    generation: u64,
    rows: HashMap<String, Arc<LookupRow>>,
}

#[derive(Clone, Default)]
pub struct LookupCache {
    inner: Arc<Mutex<Inner>>,
}

impl LookupCache {
    /// The cached rows among `ids` as of `generation`, and the ids still to read.
    pub fn get(&self, generation: u64, ids: &[String]) -> (Vec<Arc<LookupRow>>, Vec<String>) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if inner.generation != generation {
            inner.rows.clear();
            inner.generation = generation;
        }
        let mut hits = Vec::with_capacity(ids.len());
        let mut misses = Vec::new();
        for id in ids {
            match inner.rows.get(id) {
                Some(row) => hits.push(row.clone()),
                None => misses.push(id.clone()),
            }
        }
        (hits, misses)
    }

    /// Keeps rows read at `generation`, unless a write has committed since (then they may be
    /// stale and are only used for this one answer).
    pub fn put(&self, db: &Db, generation: u64, rows: &[Arc<LookupRow>]) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if inner.generation != generation || db.write_generation() != generation {
            return;
        }
        if inner.rows.len() + rows.len() > MAX_ROWS {
            inner.rows.clear();
        }
        for row in rows {
            inner.rows.insert(row.id.clone(), row.clone());
        }
    }
}
