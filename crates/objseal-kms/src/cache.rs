//! The opt-in, bounded cache of data keys and decrypted plaintexts.
//!
//! Semantics follow the AWS Encryption SDK's caching cryptographic materials manager:
//!
//! - `GenerateDataKey` results are reused for the same key, key version, encryption context and
//!   data-key length; `Decrypt` results for the same ciphertext blob and context.
//! - Every use counts, the one that created the entry included: an entry serves at most
//!   [`CacheLimits::max_uses`] calls and is evicted (wiped) by the call that used it up. With
//!   `max_uses` = 1 nothing is ever reused, so nothing is cached.
//! - An entry expires [`CacheLimits::max_age`] after it was created (age ≥ `max_age` is expired).
//! - The cache holds at most [`CacheLimits::max_entries`] entries and
//!   [`CacheLimits::max_bytes`] secret (plaintext) bytes in total; adding beyond either evicts the
//!   least recently used entries. An entry larger than `max_bytes` is not cached.
//! - Evicted and expired entries are wiped (their secret bytes are zeroized when dropped).
//!
//! The keystore checks the key's state before every lookup, so a disabled or deleted key is never
//! served from the cache, and it drops a key's entries whenever the key changes state or rotates.

use std::collections::HashMap;
use std::time::Duration;

use crate::{DataKey, Plaintext};

/// The bounds of the data-key cache. Caching is off unless a [`LocalKmsConfig`] carries these.
///
/// [`LocalKmsConfig`]: crate::keystore::LocalKmsConfig
///
/// ```
/// use std::time::Duration;
/// use objseal_kms::cache::CacheLimits;
/// let limits = CacheLimits { max_age: Duration::from_secs(60), ..CacheLimits::default() };
/// assert_eq!(limits.max_uses, 1000);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CacheLimits {
    /// How long an entry may be used after it was created.
    pub max_age: Duration,
    /// How many calls one entry may serve, the first included.
    pub max_uses: u64,
    /// Most secret bytes (data keys and decrypted plaintexts) held in total.
    pub max_bytes: usize,
    /// Most entries held.
    pub max_entries: usize,
}

impl Default for CacheLimits {
    /// Five minutes, 1000 uses, 1 MiB, 1000 entries.
    fn default() -> Self {
        Self {
            max_age: Duration::from_secs(300),
            max_uses: 1000,
            max_bytes: 1 << 20,
            max_entries: 1000,
        }
    }
}

/// Counters of the cache, for tests and monitoring.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Calls served from the cache.
    pub hits: u64,
    /// Lookups that found nothing usable.
    pub misses: u64,
    /// Entries removed before their natural end: by size or count limits, or invalidation.
    pub evictions: u64,
    /// Entries removed because they were used up or too old.
    pub expirations: u64,
    /// Entries held now.
    pub entries: usize,
    /// Secret bytes held now.
    pub bytes: usize,
}

/// What identifies a cached result.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum CacheKey {
    /// A `GenerateDataKey` result, for one caller: a data key handed to one principal is never
    /// handed to another (who might be allowed to generate data keys but not to decrypt the
    /// first one's).
    DataKey {
        principal: String,
        key_id: String,
        version: u32,
        context: [u8; 32],
        len: usize,
    },
    /// A `Decrypt` result.
    Decrypt {
        key_id: String,
        blob: [u8; 32],
        context: [u8; 32],
    },
}

impl CacheKey {
    fn key_id(&self) -> &str {
        match self {
            CacheKey::DataKey { key_id, .. } | CacheKey::Decrypt { key_id, .. } => key_id,
        }
    }
}

/// A cached result.
#[derive(Clone, Debug)]
pub(crate) enum Cached {
    DataKey(DataKey),
    Plaintext(Plaintext),
}

impl Cached {
    fn secret_len(&self) -> usize {
        match self {
            Cached::DataKey(d) => d.plaintext.len(),
            Cached::Plaintext(p) => p.plaintext.len(),
        }
    }
}

#[derive(Debug)]
struct Entry {
    value: Cached,
    created: Duration,
    uses: u64,
    last_used: u64,
}

/// The cache proper. Not thread-safe by itself: the keystore keeps it in a mutex.
#[derive(Debug)]
pub(crate) struct Cache {
    limits: CacheLimits,
    entries: HashMap<CacheKey, Entry>,
    bytes: usize,
    tick: u64,
    stats: CacheStats,
}

impl Cache {
    pub(crate) fn new(limits: CacheLimits) -> Self {
        Self {
            limits,
            entries: HashMap::new(),
            bytes: 0,
            tick: 0,
            stats: CacheStats::default(),
        }
    }

    /// A usable entry for `key` at `now`, counting this use.
    pub(crate) fn get(&mut self, key: &CacheKey, now: Duration) -> Option<Cached> {
        self.tick += 1;
        let tick = self.tick;
        let Some(entry) = self.entries.get_mut(key) else {
            self.stats.misses += 1;
            return None;
        };
        if now.saturating_sub(entry.created) >= self.limits.max_age
            || entry.uses >= self.limits.max_uses
        {
            self.remove(key);
            self.stats.expirations += 1;
            self.stats.misses += 1;
            return None;
        }
        entry.uses += 1;
        entry.last_used = tick;
        let value = entry.value.clone();
        if entry.uses >= self.limits.max_uses {
            self.remove(key);
            self.stats.expirations += 1;
        }
        self.stats.hits += 1;
        Some(value)
    }

    /// Adds a fresh result (its first use already counted), evicting as the limits require.
    pub(crate) fn put(&mut self, key: CacheKey, value: Cached, now: Duration) {
        let len = value.secret_len();
        if self.limits.max_uses <= 1
            || self.limits.max_entries == 0
            || len > self.limits.max_bytes
            || self.limits.max_age.is_zero()
        {
            return;
        }
        self.remove(&key);
        self.purge_expired(now);
        self.tick += 1;
        self.bytes += len;
        self.entries.insert(
            key,
            Entry {
                value,
                created: now,
                uses: 1,
                last_used: self.tick,
            },
        );
        while self.entries.len() > self.limits.max_entries || self.bytes > self.limits.max_bytes {
            let Some(oldest) = self
                .entries
                .iter()
                .min_by_key(|(_, e)| e.last_used)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            self.remove(&oldest);
            self.stats.evictions += 1;
        }
    }

    /// Drops (wipes) every entry of one key.
    pub(crate) fn invalidate_key(&mut self, key_id: &str) {
        let doomed: Vec<CacheKey> = self
            .entries
            .keys()
            .filter(|k| k.key_id() == key_id)
            .cloned()
            .collect();
        for k in doomed {
            self.remove(&k);
            self.stats.evictions += 1;
        }
    }

    /// Drops (wipes) the entries of every key for which `keep` says false.
    pub(crate) fn retain_keys(&mut self, keep: impl Fn(&str) -> bool) {
        let doomed: Vec<CacheKey> = self
            .entries
            .keys()
            .filter(|k| !keep(k.key_id()))
            .cloned()
            .collect();
        for k in doomed {
            self.remove(&k);
            self.stats.evictions += 1;
        }
    }

    /// Drops (wipes) everything.
    pub(crate) fn clear(&mut self) {
        self.stats.evictions += self.entries.len() as u64;
        self.entries.clear();
        self.bytes = 0;
    }

    pub(crate) fn stats(&self) -> CacheStats {
        CacheStats {
            entries: self.entries.len(),
            bytes: self.bytes,
            ..self.stats
        }
    }

    fn purge_expired(&mut self, now: Duration) {
        let max_age = self.limits.max_age;
        let doomed: Vec<CacheKey> = self
            .entries
            .iter()
            .filter(|(_, e)| now.saturating_sub(e.created) >= max_age)
            .map(|(k, _)| k.clone())
            .collect();
        for k in doomed {
            self.remove(&k);
            self.stats.expirations += 1;
        }
    }

    fn remove(&mut self, key: &CacheKey) {
        if let Some(entry) = self.entries.remove(key) {
            self.bytes -= entry.value.secret_len();
            // Dropping the entry wipes its secret bytes.
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Ciphertext, SecretBytes};

    fn dk(n: usize) -> Cached {
        Cached::DataKey(DataKey {
            plaintext: SecretBytes::from(vec![1u8; n]),
            wrapped: Ciphertext {
                ciphertext_blob: vec![2u8; 3],
                key_arn: "arn".into(),
                key_version: 1,
            },
        })
    }

    fn key(id: &str, n: usize) -> CacheKey {
        CacheKey::DataKey {
            principal: "local".into(),
            key_id: id.into(),
            version: 1,
            context: [0; 32],
            len: n,
        }
    }

    #[test]
    fn uses_age_bytes_entries() {
        let t = Duration::from_secs(100);
        let mut c = Cache::new(CacheLimits {
            max_age: Duration::from_secs(10),
            max_uses: 3,
            max_bytes: 64,
            max_entries: 2,
        });
        c.put(key("a", 32), dk(32), t);
        assert!(c.get(&key("a", 32), t).is_some()); // use 2
        assert!(c.get(&key("a", 32), t).is_some()); // use 3: used up
        assert!(c.get(&key("a", 32), t).is_none());
        assert_eq!(c.stats().entries, 0);

        c.put(key("a", 32), dk(32), t);
        assert!(c.get(&key("a", 32), t + Duration::from_secs(9)).is_some());
        assert!(c.get(&key("a", 32), t + Duration::from_secs(10)).is_none());

        c.put(key("a", 32), dk(32), t);
        c.put(key("b", 32), dk(32), t);
        assert_eq!(c.stats().bytes, 64);
        c.put(key("c", 16), dk(16), t); // over 64 bytes and 2 entries: "a" goes (least recent)
        assert!(c.get(&key("a", 32), t).is_none());
        assert!(c.get(&key("b", 32), t).is_some());
        c.put(key("d", 100), dk(100), t); // larger than max_bytes: not cached
        assert!(c.get(&key("d", 100), t).is_none());
        c.invalidate_key("b");
        assert!(c.get(&key("b", 32), t).is_none());
        c.clear();
        assert_eq!(c.stats().bytes, 0);
    }
}
