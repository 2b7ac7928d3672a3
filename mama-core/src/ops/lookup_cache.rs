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
//! is its memory misses. The map holds a 64-bit keyed hash of each key and the value itself
//! inline (no pointer to chase to compare hashes), and a value keeps its key and its answers in
//! one block, so a hit costs about one miss. Callers read values in place under a read lock
//! ([`GenerationCache::with`]) instead of taking shared handles: no reference counts to touch,
//! and the cache alone owns (and wipes) what it holds. The value's own key is checked on a hit,
//! so a hash collision is a miss, never another user's answer.

use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher, RandomState};
use std::sync::{Arc, RwLock};

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

type Entries<V> = HashMap<u64, V, BuildHasherDefault<PassThrough>>;

struct Inner<V> {
    generation: u64,
    entries: Entries<V>,
}

/// Values found by their key, valid for one data generation.
pub struct GenerationCache<V> {
    /// Random per process, so nobody can choose keys that collide.
    hasher: RandomState,
    inner: Arc<RwLock<Inner<V>>>,
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
            inner: Arc::new(RwLock::new(Inner {
                generation: 0,
                entries: HashMap::default(),
            })),
        }
    }
}

/// The cache as of one generation, read in place (see [`GenerationCache::with`]).
pub struct View<'a, V> {
    hasher: &'a RandomState,
    /// `None`: the caller's generation is older than the cache's; nothing is current for it.
    entries: Option<&'a Entries<V>>,
}

impl<'a, V: Keyed> View<'a, V> {
    /// The cached value for each of `keys` (aligned with them). In passes (hash all, probe
    /// all, check all) rather than key by key: each pass's memory misses are independent of
    /// one another, so the CPU overlaps them instead of waiting for each in turn.
    pub fn get_all(&self, keys: &[&str]) -> Vec<Option<&'a V>> {
        let Some(entries) = self.entries else {
            return vec![None; keys.len()];
        };
        let slots: Vec<u64> = keys.iter().map(|k| self.hasher.hash_one(k)).collect();
        let probed: Vec<Option<&'a V>> = slots.iter().map(|slot| entries.get(slot)).collect();
        probed
            .into_iter()
            .zip(keys)
            .map(|(value, key)| value.filter(|v| v.key() == *key))
            .collect()
    }

    /// The cached value for `key`, if current.
    pub fn get(&self, key: &str) -> Option<&'a V> {
        self.entries?
            .get(&self.hasher.hash_one(key))
            .filter(|v| v.key() == key)
    }
}

impl<V: Keyed> GenerationCache<V> {
    fn slot(&self, key: &str) -> u64 {
        self.hasher.hash_one(key)
    }

    /// Runs `f` on the cache as of `generation`, under a read lock (keep `f` short: writers
    /// wait for it). A newer generation than the cache's empties the cache first; an older one
    /// sees nothing.
    pub fn with<R>(&self, generation: u64, f: impl FnOnce(View<'_, V>) -> R) -> R {
        {
            let inner = self.inner.read().unwrap_or_else(|p| p.into_inner());
            if inner.generation >= generation {
                let entries = (inner.generation == generation).then_some(&inner.entries);
                return f(View {
                    hasher: &self.hasher,
                    entries,
                });
            }
        }
        {
            let mut inner = self.inner.write().unwrap_or_else(|p| p.into_inner());
            if inner.generation < generation {
                inner.entries.clear();
                inner.generation = generation;
            }
        }
        let inner = self.inner.read().unwrap_or_else(|p| p.into_inner());
        let entries = (inner.generation == generation).then_some(&inner.entries);
        f(View {
            hasher: &self.hasher,
            entries,
        })
    }

    /// Keeps values read at `generation`, unless a write has committed since (`current`, read
    /// after the values, differs: then they may be stale and only serve the one request that
    /// read them).
    pub fn put_many(&self, generation: u64, current: u64, values: impl IntoIterator<Item = V>) {
        if current != generation {
            return;
        }
        let values: Vec<(u64, V)> = values
            .into_iter()
            .map(|v| (self.slot(v.key()), v))
            .collect();
        let mut inner = self.inner.write().unwrap_or_else(|p| p.into_inner());
        if inner.generation > generation {
            return;
        }
        if inner.generation < generation {
            inner.entries.clear();
            inner.generation = generation;
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

    fn entry(key: &str, n: u32) -> Entry {
        Entry(key.into(), n)
    }

    fn get(cache: &GenerationCache<Entry>, generation: u64, key: &str) -> Option<u32> {
        cache.with(generation, |view| view.get(key).map(|e| e.1))
    }

    #[test]
    fn hits_only_within_the_generation_it_was_read_at() {
        let cache = GenerationCache::default();
        cache.put_many(1, 1, [entry("a", 1), entry("b", 2)]);
        assert_eq!(get(&cache, 1, "b"), Some(2));
        assert_eq!(get(&cache, 1, "x"), None);
        assert_eq!(get(&cache, 1, "a"), Some(1));
        assert_eq!(get(&cache, 2, "a"), None, "a write clears it");
        assert_eq!(get(&cache, 1, "b"), None, "an older reader sees nothing");
    }

    #[test]
    fn values_read_across_a_write_are_not_kept() {
        let cache = GenerationCache::default();
        cache.put_many(3, 4, [entry("a", 1)]);
        assert_eq!(get(&cache, 3, "a"), None);
        assert_eq!(get(&cache, 4, "a"), None);
        // Nor values read before a newer reader moved the cache on.
        get(&cache, 6, "a");
        cache.put_many(5, 5, [entry("a", 1)]);
        assert_eq!(get(&cache, 5, "a"), None);
        assert_eq!(get(&cache, 6, "a"), None);
    }

    #[test]
    fn a_slot_holding_another_key_is_a_miss() {
        let cache = GenerationCache::default();
        cache.put_many(0, 0, []);
        // As if "a" and "b" had the same hash: the slot of "b" holds the answer for "a".
        let slot_of_b = cache.slot("b");
        cache
            .inner
            .write()
            .unwrap()
            .entries
            .insert(slot_of_b, entry("a", 1));
        assert_eq!(get(&cache, 0, "b"), None);
    }
}
