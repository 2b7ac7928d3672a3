//! In-process caches for service lookups.
//!
//! Why: a lookup would otherwise read its 100 rows (on SQLite in WAL mode every commit, and
//! audited requests commit events all the time, makes each reader connection drop its page
//! cache, so those are ~200 cold pages), then decode, decrypt and re-encode users it answered a
//! moment ago. Entries are valid for one *generation*: on SQLite the daemon's own write counter
//! (one daemon owns the file, every change goes through its write transactions), on PostgreSQL
//! the shared `data_version` row that every daemon bumps inside each write transaction (one
//! tiny query per lookup instead of reading and decrypting the rows).
//!
//! The entries hold each user's answer already rendered as JSON, the decrypted key included.
//! That is no weaker than decrypting per request: the key-encryption key lives in this same
//! process memory, so whoever can read the cache can read the key that opens every row. Keys are
//! still encrypted at rest, cached keys are wiped when dropped, and the cache never outlives a
//! write.
//!
//! Layout: with 100,000 users the cache is far larger than the CPU's caches, so a lookup's cost
//! is its memory misses. The map holds a 64-bit keyed hash of each key inline (no pointer to
//! chase to compare keys) and each value is one block of memory; the value's own key is checked
//! on a hit, so a hash collision is a miss, never another user's answer.

use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher, RandomState};
use std::sync::{Arc, Mutex};

/// Most entries kept; past it the cache starts over (bounded memory, no eviction bookkeeping).
const MAX_ENTRIES: usize = 250_000;

/// What a cached value is the answer for.
pub trait Keyed {
    fn key(&self) -> &str;
}

/// The map's keys are already keyed hashes: hashing them again would only cost time.
#[derive(Default)]
struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u64` is used; fold anything else in so it stays a hash.
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

struct Inner<V> {
    generation: u64,
    entries: HashMap<u64, Arc<V>, BuildHasherDefault<PassThrough>>,
}

/// Values found by their key, valid for one data generation.
pub struct GenerationCache<V> {
    /// Random per process, so nobody can choose keys that collide.
    hasher: RandomState,
    inner: Arc<Mutex<Inner<V>>>,
}

impl<V> Clone for GenerationCache<V> {
    fn clone(&self) -> Self {
        GenerationCache {
            hasher: self.hasher.clone(),
            inner: self.inner.clone(),
        }
    }
}

impl<V> Default for GenerationCache<V> {
    fn default() -> Self {
        GenerationCache {
            hasher: RandomState::new(),
            inner: Arc::new(Mutex::new(Inner {
                generation: 0,
                entries: HashMap::default(),
            })),
        }
    }
}

impl<V: Keyed> GenerationCache<V> {
    fn slot(&self, key: &str) -> u64 {
        self.hasher.hash_one(key)
    }

    /// The cached value of each of `keys` as of `generation` (`None` where it is not cached),
    /// in the order of `keys`.
    pub fn get_many(&self, generation: u64, keys: &[&str]) -> Vec<Option<Arc<V>>> {
        let slots: Vec<u64> = keys.iter().map(|k| self.slot(k)).collect();
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if inner.generation != generation {
            inner.entries.clear();
            inner.generation = generation;
        }
        keys.iter()
            .zip(slots)
            .map(|(key, slot)| {
                inner
                    .entries
                    .get(&slot)
                    .filter(|v| v.key() == *key)
                    .cloned()
            })
            .collect()
    }

    /// Keeps values read at `generation`, unless a write has committed since (`current`, read
    /// after the values, differs: then they may be stale and only serve the one request that
    /// read them).
    pub fn put_many(
        &self,
        generation: u64,
        current: u64,
        values: impl IntoIterator<Item = Arc<V>>,
    ) {
        let values: Vec<(u64, Arc<V>)> = values
            .into_iter()
            .map(|v| (self.slot(v.key()), v))
            .collect();
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if inner.generation != generation || current != generation {
            return;
        }
        for (slot, value) in values {
            if inner.entries.len() >= MAX_ENTRIES {
                inner.entries.clear();
            }
            inner.entries.insert(slot, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Entry(String, u32);
    impl Keyed for Entry {
        fn key(&self) -> &str {
            &self.0
        }
    }

    fn entry(key: &str, n: u32) -> Arc<Entry> {
        Arc::new(Entry(key.into(), n))
    }

    #[test]
    fn hits_only_within_the_generation_it_was_read_at() {
        let cache = GenerationCache::default();
        // As a lookup does: a read (here of nothing) at generation 1, then what it fetched.
        cache.get_many(1, &[]);
        cache.put_many(1, 1, [entry("a", 1), entry("b", 2)]);
        let got = cache.get_many(1, &["b", "x", "a"]);
        assert_eq!(got[0].as_ref().map(|e| e.1), Some(2));
        assert!(got[1].is_none());
        assert_eq!(got[2].as_ref().map(|e| e.1), Some(1));
        assert!(cache.get_many(2, &["a"])[0].is_none(), "a write clears it");
    }

    #[test]
    fn values_read_across_a_write_are_not_kept() {
        let cache = GenerationCache::default();
        cache.get_many(3, &[]);
        cache.put_many(3, 4, [entry("a", 1)]);
        assert!(cache.get_many(3, &["a"])[0].is_none());
    }

    #[test]
    fn a_slot_holding_another_key_is_a_miss() {
        let cache = GenerationCache::default();
        cache.get_many(0, &[]);
        // As if "a" and "b" had the same hash: the slot of "b" holds the answer for "a".
        let slot_of_b = cache.slot("b");
        cache
            .inner
            .lock()
            .unwrap()
            .entries
            .insert(slot_of_b, entry("a", 1));
        assert!(cache.get_many(0, &["b"])[0].is_none());
    }
}
