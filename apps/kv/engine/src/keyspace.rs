//! The keyspace: databases of keys, each with a value and maybe an expiry time. Expired keys
//! are removed when they are looked at, so no reader ever sees one.
//!
//! Every change is tracked for persistence ([`crate::persist`]): the keyspace notes which
//! keys a command created, replaced, removed or changed, and the collections note which of
//! their elements changed. [`crate::persist::drain`] turns those notes into store records
//! after each command (or transaction) and clears them. So a collection's values can only
//! be changed through methods that keep the notes: they are read through `Deref`.

use crate::zset::ZSet;
use alloc::collections::{BTreeMap, BTreeSet, VecDeque};
use alloc::vec::Vec;
use core::ops::Deref;

/// A value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Str(Vec<u8>),
    List(List),
    Hash(Hash),
    Set(Set),
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

/// A list. Each element has a sequence number on disk: element `i` is `head + i`, so a push
/// or pop at either end writes or deletes one record. What changed since the last drain is
/// kept as the range that is certainly as on disk plus the elements set in place.
#[derive(Clone, Debug, Default)]
pub struct List {
    items: VecDeque<Vec<u8>>,
    /// Sequence number of `items[0]`.
    pub(crate) head: i64,
    /// Sequence numbers on disk at the last drain: `disk.0..disk.1`.
    pub(crate) disk: (i64, i64),
    /// Since the last drain, the highest head and the lowest end (pops reached them):
    /// elements outside them may differ from the disk's.
    pub(crate) front_ceiling: i64,
    pub(crate) back_floor: i64,
    /// Sequence numbers set in place since the last drain.
    pub(crate) touched: BTreeSet<i64>,
    /// Changed in the middle: written whole at the next drain.
    pub(crate) rewrite: bool,
}

impl PartialEq for List {
    fn eq(&self, other: &Self) -> bool {
        self.items == other.items
    }
}

impl Deref for List {
    type Target = VecDeque<Vec<u8>>;
    fn deref(&self) -> &Self::Target {
        &self.items
    }
}

impl FromIterator<Vec<u8>> for List {
    fn from_iter<I: IntoIterator<Item = Vec<u8>>>(iter: I) -> Self {
        List {
            items: iter.into_iter().collect(),
            rewrite: true,
            ..List::default()
        }
    }
}

impl List {
    /// An empty list whose first element will have sequence number `head`.
    pub(crate) fn starting_at(head: i64) -> Self {
        Self {
            head,
            ..Self::default()
        }
    }

    /// The sequence number after the last element.
    pub(crate) fn end(&self) -> i64 {
        self.head + self.items.len() as i64
    }

    pub fn push_front(&mut self, v: Vec<u8>) {
        self.items.push_front(v);
        self.head -= 1;
    }

    pub fn push_back(&mut self, v: Vec<u8>) {
        self.items.push_back(v);
    }

    pub fn pop_front(&mut self) -> Option<Vec<u8>> {
        let v = self.items.pop_front()?;
        self.head += 1;
        self.front_ceiling = self.front_ceiling.max(self.head);
        Some(v)
    }

    pub fn pop_back(&mut self) -> Option<Vec<u8>> {
        let v = self.items.pop_back()?;
        self.back_floor = self.back_floor.min(self.end());
        Some(v)
    }

    /// Sets element `i` (which exists).
    pub fn set(&mut self, i: usize, v: Vec<u8>) {
        self.items[i] = v;
        self.touched.insert(self.head + i as i64);
    }

    /// Changes the elements any way `f` likes: the list is written whole at the next drain
    /// (`LINSERT`, `LREM`: Redis's own cost for those is O(N) too).
    pub fn edit<R>(&mut self, f: impl FnOnce(&mut VecDeque<Vec<u8>>) -> R) -> R {
        self.rewrite = true;
        f(&mut self.items)
    }

    /// Clears the change notes: the disk now holds the list as it is.
    pub(crate) fn saved(&mut self) {
        self.disk = (self.head, self.end());
        self.front_ceiling = self.head;
        self.back_floor = self.end();
        self.touched.clear();
        self.rewrite = false;
    }
}

/// A hash: fields in insertion order (as Redis keeps small hashes).
#[derive(Clone, Debug, Default)]
pub struct Hash {
    fields: Vec<(Vec<u8>, Vec<u8>)>,
    /// Fields set or removed since the last drain.
    pub(crate) touched: BTreeSet<Vec<u8>>,
}

impl PartialEq for Hash {
    fn eq(&self, other: &Self) -> bool {
        self.fields == other.fields
    }
}

impl Deref for Hash {
    type Target = [(Vec<u8>, Vec<u8>)];
    fn deref(&self) -> &Self::Target {
        &self.fields
    }
}

impl Hash {
    pub fn get(&self, field: &[u8]) -> Option<&Vec<u8>> {
        self.fields.iter().find(|(f, _)| f == field).map(|(_, v)| v)
    }

    /// Sets `field`; true if it is new.
    pub fn set(&mut self, field: &[u8], value: Vec<u8>) -> bool {
        self.touched.insert(field.to_vec());
        match self.fields.iter_mut().find(|(f, _)| f == field) {
            Some((_, v)) => {
                *v = value;
                false
            }
            None => {
                self.fields.push((field.to_vec(), value));
                true
            }
        }
    }

    /// Adds a field known to be new (loading from disk), unnoted.
    pub(crate) fn push_loaded(&mut self, field: &[u8], value: Vec<u8>) {
        self.fields.push((field.to_vec(), value));
    }

    /// Removes `field`; its value if it had one.
    pub fn remove(&mut self, field: &[u8]) -> Option<Vec<u8>> {
        let at = self.fields.iter().position(|(f, _)| f == field)?;
        self.touched.insert(field.to_vec());
        Some(self.fields.remove(at).1)
    }
}

/// A set.
#[derive(Clone, Debug, Default)]
pub struct Set {
    members: BTreeSet<Vec<u8>>,
    /// Members added or removed since the last drain.
    pub(crate) touched: BTreeSet<Vec<u8>>,
}

impl PartialEq for Set {
    fn eq(&self, other: &Self) -> bool {
        self.members == other.members
    }
}

impl Deref for Set {
    type Target = BTreeSet<Vec<u8>>;
    fn deref(&self) -> &Self::Target {
        &self.members
    }
}

impl FromIterator<Vec<u8>> for Set {
    fn from_iter<I: IntoIterator<Item = Vec<u8>>>(iter: I) -> Self {
        let members: BTreeSet<Vec<u8>> = iter.into_iter().collect();
        Set {
            touched: members.clone(),
            members,
        }
    }
}

impl Set {
    /// Adds `m`; true if it is new.
    pub fn insert(&mut self, m: &[u8]) -> bool {
        let added = self.members.insert(m.to_vec());
        if added {
            self.touched.insert(m.to_vec());
        }
        added
    }

    /// Removes `m`; true if it was there.
    pub fn remove(&mut self, m: &[u8]) -> bool {
        let removed = self.members.remove(m);
        if removed {
            self.touched.insert(m.to_vec());
        }
        removed
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub value: Value,
    /// Milliseconds since the Unix epoch.
    pub expires_at: Option<u64>,
    /// Generation of the key's element records on disk (see [`crate::persist`]): a key
    /// written whole gets a new one, so its old records can never be mistaken for its own.
    pub(crate) generation: u32,
}

impl Entry {
    pub fn new(value: Value, expires_at: Option<u64>) -> Self {
        Self {
            value,
            expires_at,
            generation: 0,
        }
    }
}

/// What happened to a key since the last drain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Dirty {
    /// It was there before and is still the same value, changed in place.
    Modified,
    /// It was not there before.
    Created,
    /// A value that was there before was removed; generations up to `generation` may have
    /// records on disk.
    Replaced { generation: u32 },
}

/// Keys changed since the last drain: by disk id, then key (looked up without copying
/// the key: this runs for every write).
#[derive(Debug, Default)]
pub(crate) struct DirtyKeys(BTreeMap<u8, BTreeMap<Vec<u8>, Dirty>>);

impl DirtyKeys {
    pub(crate) fn get(&self, id: u8, key: &[u8]) -> Option<Dirty> {
        self.0.get(&id)?.get(key).copied()
    }

    pub(crate) fn insert(&mut self, id: u8, key: Vec<u8>, what: Dirty) {
        self.0.entry(id).or_default().insert(key, what);
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.values().all(BTreeMap::is_empty)
    }

    /// Every (disk id, key) noted.
    pub(crate) fn keys(&self) -> impl Iterator<Item = (u8, &[u8])> {
        self.0
            .iter()
            .flat_map(|(id, m)| m.keys().map(move |k| (*id, k.as_slice())))
    }

    /// Every noted key with what happened to it, taking them.
    pub(crate) fn into_entries(self) -> impl Iterator<Item = ((u8, Vec<u8>), Dirty)> {
        self.0
            .into_iter()
            .flat_map(|(id, m)| m.into_iter().map(move |(k, d)| ((id, k), d)))
    }

    /// Forgets every key of disk id `id`.
    pub(crate) fn drop_id(&mut self, id: u8) {
        self.0.remove(&id);
    }

    fn has_id(&self, id: u8) -> bool {
        self.0.get(&id).is_some_and(|m| !m.is_empty())
    }

    /// Notes `what` for `key`, combined with what was noted before.
    fn note(&mut self, id: u8, key: &[u8], what: Dirty) {
        let m = self.0.entry(id).or_default();
        match m.get_mut(key) {
            None => {
                m.insert(key.to_vec(), what);
            }
            Some(d) => match (*d, what) {
                (_, Dirty::Modified) => {}
                // Created and removed again in one window: nothing was on disk.
                (Dirty::Created, Dirty::Replaced { .. }) => {
                    m.remove(key);
                }
                (Dirty::Replaced { .. }, Dirty::Created) => {}
                (_, w) => *d = w,
            },
        }
    }
}

#[derive(Debug)]
pub struct Keyspace {
    pub(crate) dbs: Vec<BTreeMap<Vec<u8>, Entry>>,
    /// Each database's id on disk (`SWAPDB` swaps two, `FLUSHDB` gives one a fresh id).
    pub(crate) disk_ids: Vec<u8>,
    /// Keys changed since the last drain, by (disk id, key).
    pub(crate) dirty: DirtyKeys,
    /// Disk ids whose records are to be deleted (flushed databases).
    pub(crate) dropped: Vec<u8>,
    /// The map of databases to disk ids changed.
    pub(crate) ids_changed: bool,
    /// Databases flushed or swapped by the last command (for `WATCH`).
    pub(crate) flushed: Vec<usize>,
}

impl Keyspace {
    pub fn new(databases: usize) -> Self {
        Self {
            dbs: (0..databases).map(|_| BTreeMap::new()).collect(),
            disk_ids: (0..databases as u8).collect(),
            dirty: DirtyKeys::default(),
            dropped: Vec::new(),
            ids_changed: false,
            flushed: Vec::new(),
        }
    }

    fn note(&mut self, db: usize, key: &[u8], what: Dirty) {
        self.dirty.note(self.disk_ids[db], key, what);
    }

    /// Removes `key` from `db` and notes it; the removed entry.
    fn take(&mut self, db: usize, key: &[u8]) -> Option<Entry> {
        let e = self.dbs[db].remove(key)?;
        self.note(
            db,
            key,
            Dirty::Replaced {
                generation: e.generation,
            },
        );
        Some(e)
    }

    /// Inserts `entry` at `key`, noting it; its generation follows any value that was
    /// there (or removed since the last drain).
    fn insert(&mut self, db: usize, key: &[u8], mut entry: Entry) -> &mut Entry {
        let id = self.disk_ids[db];
        let old = self.dbs[db].get(key).map(|e| e.generation);
        if let Some(generation) = old {
            self.note(db, key, Dirty::Replaced { generation });
        }
        match self.dirty.get(id, key) {
            Some(Dirty::Replaced { generation }) => entry.generation = generation.wrapping_add(1),
            _ => self.note(db, key, Dirty::Created),
        }
        if old.is_some() {
            // Replaced in place: no copy of the key, no rebalancing.
            let slot = self.dbs[db].get_mut(key).expect("there");
            *slot = entry;
            slot
        } else {
            self.dbs[db].entry(key.to_vec()).or_insert(entry)
        }
    }

    /// Whether anything changed since the last drain.
    pub(crate) fn changed(&self) -> bool {
        !self.dirty.is_empty() || !self.flushed.is_empty() || self.ids_changed
    }

    /// Removes `key` from `db` if it has expired by `now`.
    fn expire_if_due(&mut self, db: usize, key: &[u8], now: u64) {
        if self.dbs[db]
            .get(key)
            .is_some_and(|e| e.expires_at.is_some_and(|t| t <= now))
        {
            self.take(db, key);
        }
    }

    pub fn get(&mut self, db: usize, key: &[u8], now: u64) -> Option<&Entry> {
        self.expire_if_due(db, key, now);
        self.dbs[db].get(key)
    }

    /// `key`'s entry to change in place (noted as changed).
    pub fn get_mut(&mut self, db: usize, key: &[u8], now: u64) -> Option<&mut Entry> {
        self.expire_if_due(db, key, now);
        if self.dbs[db].contains_key(key) {
            self.note(db, key, Dirty::Modified);
        }
        self.dbs[db].get_mut(key)
    }

    /// Sets `key` to `value` with `expires_at`.
    pub fn set(&mut self, db: usize, key: &[u8], value: Value, expires_at: Option<u64>) {
        self.insert(db, key, Entry::new(value, expires_at));
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
        if self.dbs[db].contains_key(key) {
            self.note(db, key, Dirty::Modified);
            self.dbs[db].get_mut(key).expect("just checked")
        } else {
            self.insert(db, key, Entry::new(make(), None))
        }
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
            self.take(db, key);
        }
    }

    pub fn remove(&mut self, db: usize, key: &[u8], now: u64) -> Option<Entry> {
        self.expire_if_due(db, key, now);
        self.take(db, key)
    }

    /// Removes every expired key of `db`.
    fn purge_expired(&mut self, db: usize, now: u64) {
        let expired: Vec<Vec<u8>> = self.dbs[db]
            .iter()
            .filter(|(_, e)| e.expires_at.is_some_and(|t| t <= now))
            .map(|(k, _)| k.clone())
            .collect();
        for k in expired {
            self.take(db, &k);
        }
    }

    /// Live keys in `db` (expired ones are dropped first).
    pub fn len(&mut self, db: usize, now: u64) -> usize {
        self.purge_expired(db, now);
        self.dbs[db].len()
    }

    /// Swaps two databases' contents.
    pub fn swap(&mut self, a: usize, b: usize) {
        self.dbs.swap(a, b);
        self.disk_ids.swap(a, b);
        self.ids_changed = true;
        self.flushed.extend([a, b]);
    }

    /// Puts `entry` at `key` in `db` (its value and expiry as they are; on disk it is
    /// written whole).
    pub fn put_entry(&mut self, db: usize, key: &[u8], entry: Entry) {
        self.insert(db, key, entry);
    }

    /// Empties `db`, or every database. On disk the database gets a fresh id (one record)
    /// and the old id's records are deleted after it.
    pub fn flush(&mut self, db: Option<usize>) {
        let dbs = match db {
            Some(db) => db..db + 1,
            None => 0..self.dbs.len(),
        };
        for db in dbs {
            if self.dbs[db].is_empty() && !self.dirty.has_id(self.disk_ids[db]) {
                continue;
            }
            self.dbs[db].clear();
            self.flushed.push(db);
            let old = self.disk_ids[db];
            self.dirty.drop_id(old);
            self.dropped.push(old);
            let fresh = (0..=u8::MAX - 1)
                .find(|i| !self.disk_ids.contains(i) && !self.dropped.contains(i))
                .expect("fewer than 255 ids in use");
            self.disk_ids[db] = fresh;
            self.ids_changed = true;
        }
    }

    /// Live keys of `db` that `keep` accepts, in key order.
    pub fn keys(
        &mut self,
        db: usize,
        now: u64,
        mut keep: impl FnMut(&[u8]) -> bool,
    ) -> Vec<Vec<u8>> {
        self.purge_expired(db, now);
        self.dbs[db].keys().filter(|k| keep(k)).cloned().collect()
    }
}
