//! The keyspace: databases of keys, each with a value and maybe an expiry time. Expired keys
//! are removed when they are looked at, so no reader ever sees one.

use crate::zset::ZSet;
use alloc::collections::{BTreeMap, BTreeSet, VecDeque};
use alloc::vec::Vec;

/// A value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Str(Vec<u8>),
    List(VecDeque<Vec<u8>>),
    /// Fields in insertion order (as Redis keeps small hashes).
    Hash(Vec<(Vec<u8>, Vec<u8>)>),
    Set(BTreeSet<Vec<u8>>),
    ZSet(ZSet),
}

impl Value {
    /// The name `TYPE` answers.
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::Str(_) => "string",
            Self::List(_) => "list",
            Self::Hash(_) => "hash",
            Self::Set(_) => "set",
            Self::ZSet(_) => "zset",
        }
    }

    /// Whether a collection has no elements left (its key is then removed, as Redis does).
    pub fn is_empty_collection(&self) -> bool {
        match self {
            Self::Str(_) => false,
            Self::List(l) => l.is_empty(),
            Self::Hash(h) => h.is_empty(),
            Self::Set(s) => s.is_empty(),
            Self::ZSet(z) => z.is_empty(),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub value: Value,
    /// Milliseconds since the Unix epoch.
    pub expires_at: Option<u64>,
}

#[derive(Debug)]
pub struct Keyspace {
    dbs: Vec<BTreeMap<Vec<u8>, Entry>>,
}

impl Keyspace {
    pub fn new(databases: usize) -> Self {
        Self {
            dbs: (0..databases).map(|_| BTreeMap::new()).collect(),
        }
    }

    /// Removes `key` from `db` if it has expired by `now`.
    fn expire_if_due(&mut self, db: usize, key: &[u8], now: u64) {
        let map = &mut self.dbs[db];
        if map
            .get(key)
            .is_some_and(|e| e.expires_at.is_some_and(|t| t <= now))
        {
            map.remove(key);
        }
    }

    pub fn get(&mut self, db: usize, key: &[u8], now: u64) -> Option<&Entry> {
        self.expire_if_due(db, key, now);
        self.dbs[db].get(key)
    }

    pub fn get_mut(&mut self, db: usize, key: &[u8], now: u64) -> Option<&mut Entry> {
        self.expire_if_due(db, key, now);
        self.dbs[db].get_mut(key)
    }

    /// Sets `key` to `value` with `expires_at`; returns the old entry.
    pub fn set(&mut self, db: usize, key: &[u8], value: Value, expires_at: Option<u64>) {
        self.dbs[db].insert(key.to_vec(), Entry { value, expires_at });
    }

    /// `key`'s entry, made with `make()` if it has none.
    pub fn get_or_insert(
        &mut self,
        db: usize,
        key: &[u8],
        now: u64,
        make: impl FnOnce() -> Value,
    ) -> &mut Entry {
        self.expire_if_due(db, key, now);
        self.dbs[db].entry(key.to_vec()).or_insert_with(|| Entry {
            value: make(),
            expires_at: None,
        })
    }

    /// The collection at `key`, made with `make()` if there is none; `get` picks it out of
    /// the value. The caller checked the key's type first: another type is a bug.
    pub fn collection<T>(
        &mut self,
        db: usize,
        key: &[u8],
        now: u64,
        make: fn() -> Value,
        get: fn(&mut Value) -> Option<&mut T>,
    ) -> &mut T {
        get(&mut self.get_or_insert(db, key, now, make).value).expect("type checked before")
    }

    /// Removes `key` if its collection is empty.
    pub fn remove_if_empty(&mut self, db: usize, key: &[u8]) {
        if self.dbs[db]
            .get(key)
            .is_some_and(|e| e.value.is_empty_collection())
        {
            self.dbs[db].remove(key);
        }
    }

    pub fn remove(&mut self, db: usize, key: &[u8], now: u64) -> Option<Entry> {
        self.expire_if_due(db, key, now);
        self.dbs[db].remove(key)
    }

    /// Live keys in `db` (expired ones are dropped first).
    pub fn len(&mut self, db: usize, now: u64) -> usize {
        self.dbs[db].retain(|_, e| e.expires_at.is_none_or(|t| t > now));
        self.dbs[db].len()
    }

    /// Swaps two databases' contents.
    pub fn swap(&mut self, a: usize, b: usize) {
        self.dbs.swap(a, b);
    }

    /// Puts `entry` at `key` in `db` (its value and expiry as they are).
    pub fn put_entry(&mut self, db: usize, key: &[u8], entry: Entry) {
        self.dbs[db].insert(key.to_vec(), entry);
    }

    /// Empties `db`, or every database.
    pub fn flush(&mut self, db: Option<usize>) {
        match db {
            Some(db) => self.dbs[db].clear(),
            None => self.dbs.iter_mut().for_each(BTreeMap::clear),
        }
    }

    /// Live keys of `db` that `keep` accepts, in key order.
    pub fn keys(
        &mut self,
        db: usize,
        now: u64,
        mut keep: impl FnMut(&[u8]) -> bool,
    ) -> Vec<Vec<u8>> {
        self.dbs[db].retain(|_, e| e.expires_at.is_none_or(|t| t > now));
        self.dbs[db].keys().filter(|k| keep(k)).cloned().collect()
    }
}
