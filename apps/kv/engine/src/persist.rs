//! The keyspace on a key-value store (`libos::store` in the app, a map in the tests): how
//! keys and their elements become records, and how records become a keyspace again.
//!
//! Every write persists in proportion to its own size: a key's metadata is one record and
//! each element of a collection is a record of its own, so `LPUSH` writes one record for
//! the element and one for the list's metadata, never the list.
//!
//! ```text
//! metadata   [db id][key length: u32 BE][key]                     -> meta
//! element    [db id][key length: u32 BE][key][generation: u32 BE][element]
//!              list: sequence number as u64 BE (offset binary), value the element
//!              hash: field -> value;  set: member -> "";  zset: member -> score (f64 LE)
//!              long string: chunk number u32 BE -> up to CHUNK bytes
//! meta       [kind: u8][generation: u32 LE][has expiry: u8][expiry ms: u64 LE]?[rest]
//!              string: its bytes (or its length, u64 LE, when in chunks); list: head i64 LE
//! \xffkv:format -> "1";  \xffkv:dbs -> each database's id (FLUSHDB and SWAPDB rewrite it)
//! ```
//!
//! A key's records are made atomic across a crash by ordering, and by generations: a key
//! written whole gets a new generation, its elements go first, its metadata (naming the
//! generation) next, and the records of other generations are deleted after. Until the
//! metadata lands, the old value is what a restart finds; element records that no metadata
//! names are deleted at load. A key removed has its metadata deleted first. Changes in
//! place (a push, a field set) are one batch; when they would be too large for one, the
//! key is written whole instead. A flushed database gets a fresh id in one record.

use crate::DATABASES;
use crate::keyspace::{Dirty, Entry, Hash, Keyspace, List, Set, Value};
use crate::zset::ZSet;
use alloc::collections::BTreeMap;
use alloc::vec::Vec;

/// Strings up to this long live in their metadata record; longer ones are in chunks.
pub const INLINE: usize = 4096;
/// Bytes per chunk of a long string.
pub const CHUNK: usize = 8192;
/// Changes in place to one key larger than this (record bytes, each record counted with
/// [`RECORD_COST`]) write the key whole instead, so they stay one atomic batch.
pub const IN_PLACE_LIMIT: usize = 16 * 1024;
/// What a record costs besides its key and value, at most (the store's header is 16).
pub const RECORD_COST: usize = 32;

pub const FORMAT_KEY: &[u8] = b"\xffkv:format";
pub const FORMAT: &[u8] = b"1";
pub const DBS_KEY: &[u8] = b"\xffkv:dbs";

const KIND_STR: u8 = 0;
const KIND_STR_CHUNKED: u8 = 1;
const KIND_LIST: u8 = 2;
const KIND_HASH: u8 = 3;
const KIND_SET: u8 = 4;
const KIND_ZSET: u8 = 5;

/// A change to the store, in order.
#[derive(Clone, Debug, PartialEq)]
pub enum Op {
    Put {
        key: Vec<u8>,
        value: Vec<u8>,
    },
    Delete {
        key: Vec<u8>,
    },
    /// Delete every record whose key is longer than and starts with `prefix`, except
    /// elements of generation `keep`: see [`purges`].
    Purge {
        prefix: Vec<u8>,
        keep: Option<u32>,
    },
}

impl Op {
    /// Bytes this op puts in the store (a purge's deletes are counted when resolved).
    pub fn len(&self) -> usize {
        match self {
            Self::Put { key, value } => key.len() + value.len(),
            Self::Delete { key } => key.len(),
            Self::Purge { .. } => 0,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Whether the purge `(prefix, keep)` deletes the record `key`.
pub fn purges(prefix: &[u8], keep: Option<u32>, key: &[u8]) -> bool {
    if key.len() <= prefix.len() || !key.starts_with(prefix) {
        return false;
    }
    match keep {
        None => true,
        Some(g) => key.get(prefix.len()..prefix.len() + 4) != Some(&g.to_be_bytes()[..]),
    }
}

/// The metadata record's key of `key` in the database with disk id `id`.
pub fn meta_key(id: u8, key: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(5 + key.len());
    k.push(id);
    k.extend_from_slice(&(key.len() as u32).to_be_bytes());
    k.extend_from_slice(key);
    k
}

fn element_key(meta: &[u8], generation: u32, element: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(meta.len() + 4 + element.len());
    k.extend_from_slice(meta);
    k.extend_from_slice(&generation.to_be_bytes());
    k.extend_from_slice(element);
    k
}

fn seq_bytes(seq: i64) -> [u8; 8] {
    ((seq as u64) ^ (1 << 63)).to_be_bytes()
}

fn encode_meta(e: &Entry, kind: u8, rest: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(14 + rest.len());
    v.push(kind);
    v.extend_from_slice(&e.generation.to_le_bytes());
    match e.expires_at {
        Some(t) => {
            v.push(1);
            v.extend_from_slice(&t.to_le_bytes());
        }
        None => v.push(0),
    }
    v.extend_from_slice(rest);
    v
}

/// Turns the keyspace's change notes into store ops appended to `out` (in the order they
/// must be applied), and clears the notes. With `out` `None` (no persistence) it only
/// clears them.
pub fn drain(ks: &mut Keyspace, out: Option<&mut Vec<Op>>) {
    let dirty = core::mem::take(&mut ks.dirty);
    let dropped = core::mem::take(&mut ks.dropped);
    let ids_changed = core::mem::replace(&mut ks.ids_changed, false);
    let Some(out) = out else {
        for ((id, key), _) in dirty.into_entries() {
            if let Some(e) = entry(ks, id, &key) {
                clear_notes(&mut e.value);
            }
        }
        return;
    };
    if ids_changed {
        out.push(Op::Put {
            key: DBS_KEY.to_vec(),
            value: ks.disk_ids.clone(),
        });
    }
    for id in dropped {
        out.push(Op::Purge {
            prefix: alloc::vec![id],
            keep: None,
        });
    }
    for ((id, key), what) in dirty.into_entries() {
        let meta = meta_key(id, &key);
        match (entry(ks, id, &key), what) {
            (None, _) => {
                out.push(Op::Delete { key: meta.clone() });
                out.push(Op::Purge {
                    prefix: meta,
                    keep: None,
                });
            }
            (Some(e), Dirty::Created) => write_whole(e, &meta, false, out),
            (Some(e), Dirty::Replaced { .. }) => write_whole(e, &meta, true, out),
            (Some(e), Dirty::Modified) => write_changes(e, &meta, out),
        }
    }
}

fn entry<'a>(ks: &'a mut Keyspace, id: u8, key: &[u8]) -> Option<&'a mut Entry> {
    let db = ks.disk_ids.iter().position(|&i| i == id)?;
    ks.dbs[db].get_mut(key)
}

fn clear_notes(v: &mut Value) {
    match v {
        Value::Str(_) => {}
        Value::List(l) => l.saved(),
        Value::Hash(h) => h.touched.clear(),
        Value::Set(s) => s.touched.clear(),
        Value::ZSet(z) => z.touched.clear(),
    }
}

/// Writes `e` whole under a new generation (its elements, then its metadata), then has
/// the other generations' records deleted when `purge`.
fn write_whole(e: &mut Entry, meta: &[u8], purge: bool, out: &mut Vec<Op>) {
    let g = e.generation;
    let put = |out: &mut Vec<Op>, element: &[u8], value: Vec<u8>| {
        out.push(Op::Put {
            key: element_key(meta, g, element),
            value,
        })
    };
    let (kind, rest): (u8, Vec<u8>) = match &e.value {
        Value::Str(s) if s.len() <= INLINE => (KIND_STR, s.clone()),
        Value::Str(s) => {
            for (i, chunk) in s.chunks(CHUNK).enumerate() {
                put(out, &(i as u32).to_be_bytes(), chunk.to_vec());
            }
            (KIND_STR_CHUNKED, (s.len() as u64).to_le_bytes().to_vec())
        }
        Value::List(l) => {
            for (i, v) in l.iter().enumerate() {
                put(out, &seq_bytes(l.head + i as i64), v.clone());
            }
            (KIND_LIST, l.head.to_le_bytes().to_vec())
        }
        Value::Hash(h) => {
            for (f, v) in h.iter() {
                put(out, f, v.clone());
            }
            (KIND_HASH, Vec::new())
        }
        Value::Set(s) => {
            for m in s.iter() {
                put(out, m, Vec::new());
            }
            (KIND_SET, Vec::new())
        }
        Value::ZSet(z) => {
            for (m, score) in z.iter() {
                put(out, m, score.to_le_bytes().to_vec());
            }
            (KIND_ZSET, Vec::new())
        }
    };
    out.push(Op::Put {
        key: meta.to_vec(),
        value: encode_meta(e, kind, &rest),
    });
    if purge {
        out.push(Op::Purge {
            prefix: meta.to_vec(),
            keep: Some(g),
        });
    }
    clear_notes(&mut e.value);
}

/// Writes what changed in `e` since the last drain, or `e` whole (new generation) if that
/// would be too large for one batch.
fn write_changes(e: &mut Entry, meta: &[u8], out: &mut Vec<Op>) {
    let g = e.generation;
    let mut ops = Vec::new();
    let put = |ops: &mut Vec<Op>, element: &[u8], value: Vec<u8>| {
        ops.push(Op::Put {
            key: element_key(meta, g, element),
            value,
        })
    };
    let del = |ops: &mut Vec<Op>, element: &[u8]| {
        ops.push(Op::Delete {
            key: element_key(meta, g, element),
        })
    };
    let whole = match &e.value {
        // Strings only grow in place: a long one is rewritten under a new generation.
        Value::Str(s) => s.len() > INLINE,
        Value::List(l) if l.rewrite => true,
        Value::List(l) => {
            let (lo, hi) = l.disk;
            let (head, end) = (l.head, l.end());
            let clean = (
                lo.max(l.front_ceiling).max(head),
                hi.min(l.back_floor).min(end),
            );
            let changed = (end - head) - (clean.1 - clean.0).max(0);
            let gone = (hi - lo) - (hi.min(end) - lo.max(head)).max(0);
            if (changed + gone) as usize > IN_PLACE_LIMIT / RECORD_COST {
                true
            } else {
                // Only the ends and the elements set in place: O(change), not O(list).
                let clean = if clean.0 < clean.1 { clean } else { (end, end) };
                let new = (head..clean.0.min(end)).chain(clean.1.max(head)..end);
                let set_in_place = l.touched.range(clean.0..clean.1).copied();
                for seq in new.chain(set_in_place) {
                    put(&mut ops, &seq_bytes(seq), l[(seq - head) as usize].clone());
                }
                for seq in (lo..hi.min(head)).chain(lo.max(end)..hi) {
                    del(&mut ops, &seq_bytes(seq));
                }
                false
            }
        }
        Value::Hash(h) => {
            for f in &h.touched {
                match h.get(f) {
                    Some(v) => put(&mut ops, f, v.clone()),
                    None => del(&mut ops, f),
                }
            }
            false
        }
        Value::Set(s) => {
            for m in &s.touched {
                if s.contains(m) {
                    put(&mut ops, m, Vec::new());
                } else {
                    del(&mut ops, m);
                }
            }
            false
        }
        Value::ZSet(z) => {
            for m in &z.touched {
                match z.score(m) {
                    Some(score) => put(&mut ops, m, score.to_le_bytes().to_vec()),
                    None => del(&mut ops, m),
                }
            }
            false
        }
    };
    let size: usize = ops.iter().map(|o| o.len() + RECORD_COST).sum();
    if whole || size > IN_PLACE_LIMIT {
        if !matches!(&e.value, Value::Str(s) if s.len() <= INLINE) {
            e.generation = e.generation.wrapping_add(1);
        }
        write_whole(e, meta, true, out);
        return;
    }
    out.append(&mut ops);
    let (kind, rest) = match &e.value {
        Value::Str(s) => (KIND_STR, s.clone()),
        Value::List(l) => (KIND_LIST, l.head.to_le_bytes().to_vec()),
        Value::Hash(_) => (KIND_HASH, Vec::new()),
        Value::Set(_) => (KIND_SET, Vec::new()),
        Value::ZSet(_) => (KIND_ZSET, Vec::new()),
    };
    out.push(Op::Put {
        key: meta.to_vec(),
        value: encode_meta(e, kind, &rest),
    });
    clear_notes(&mut e.value);
}

/// The records of one key (or one database, or the map of databases) start with this.
pub fn owner(key: &[u8]) -> &[u8] {
    if key.first() == Some(&0xff) || key.len() < 5 {
        return key;
    }
    let klen = u32::from_be_bytes(key[1..5].try_into().expect("4 bytes")) as usize;
    &key[..(5 + klen).min(key.len())]
}

/// Splits `ops` (purges resolved into deletes) into batches of about `max` bytes each,
/// to be applied in order, each atomically. A key's changes in place stay in one batch
/// (they are at most [`IN_PLACE_LIMIT`]); a key written whole may be split anywhere (see
/// the module's notes). Record overheads are counted as `per_op` bytes each (at most
/// [`RECORD_COST`]).
pub fn split(ops: &[Op], max: usize, per_op: usize) -> Vec<core::ops::Range<usize>> {
    let key = |op: &Op| -> Vec<u8> {
        match op {
            Op::Put { key, .. } | Op::Delete { key } => owner(key).to_vec(),
            Op::Purge { prefix, .. } => prefix.clone(),
        }
    };
    let mut out = Vec::new();
    let (mut start, mut bytes, mut run) = (0, 0, 0);
    for (i, op) in ops.iter().enumerate() {
        let len = op.len() + per_op;
        let same = i > 0 && key(&ops[i - 1]) == key(op);
        if !same {
            run = 0;
        }
        // Longer than any change in place (and its metadata record): a whole write.
        let whole = run > IN_PLACE_LIMIT + INLINE + 64;
        if i > start && bytes + len > max && (!same || whole) {
            out.push(start..i);
            start = i;
            bytes = 0;
        }
        bytes += len;
        run += len;
    }
    if start < ops.len() {
        out.push(start..ops.len());
    }
    out
}

/// What is wrong with a store's records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LoadError {
    /// A record no version of kv writes: the store belongs to another app.
    Foreign { key: Vec<u8> },
    /// A record that kv writes, malformed.
    Malformed { key: Vec<u8> },
    /// A newer (or unknown) format.
    Format { version: Vec<u8> },
}

/// A keyspace rebuilt from records.
#[derive(Debug)]
pub struct Loaded {
    pub keyspace: Keyspace,
    pub keys: usize,
    /// Keys whose expiry time had passed (their records are in `stale`).
    pub expired: usize,
    /// Records no key owns (left by a crash between a key's batches) and the records of
    /// expired keys: the caller deletes them.
    pub stale: Vec<Vec<u8>>,
    /// The store had no records yet (the caller writes [`FORMAT_KEY`]).
    pub fresh: bool,
}

/// A key's value being assembled from its records.
struct Building {
    db: usize,
    key: Vec<u8>,
    meta_key: Vec<u8>,
    entry: Entry,
    /// A long string's length.
    str_len: usize,
    /// The next list sequence number expected (a gap means a bug or damage).
    next_seq: i64,
    gap: bool,
    /// Expired: its records are stale as they come.
    expired: bool,
    /// A long string's chunk keys (stale with it if it turns out damaged).
    chunks: Vec<Vec<u8>>,
}

/// Rebuilds the keyspace from every record, in key order. Keys that expired by `now` are
/// left out (and their records listed in [`Loaded::stale`]).
pub fn load(
    records: impl IntoIterator<Item = (Vec<u8>, Vec<u8>)>,
    now: u64,
) -> Result<Loaded, LoadError> {
    let mut ks = Keyspace::new(DATABASES);
    let mut loaded_ids: Option<Vec<u8>> = None;
    let mut stale = Vec::new();
    let (mut keys, mut expired) = (0usize, 0usize);
    let mut fresh = true;
    let mut current: Option<Building> = None;
    let mut finish = |b: Option<Building>, ks: &mut Keyspace, stale: &mut Vec<Vec<u8>>| {
        let Some(mut b) = b else { return };
        if b.expired {
            expired += 1;
            stale.push(b.meta_key);
            return;
        }
        if let Value::Str(s) = &b.entry.value
            && s.len() != b.str_len
        {
            // Missing chunks: a damaged value is not served.
            stale.push(b.meta_key);
            stale.append(&mut b.chunks);
            return;
        }
        if let Value::List(l) = &mut b.entry.value {
            l.saved();
            if b.gap {
                l.rewrite = true;
                ks.dirty
                    .insert(ks.disk_ids[b.db], b.key.clone(), Dirty::Modified);
            }
        }
        if b.entry.value.is_empty_collection() {
            stale.push(b.meta_key);
            return;
        }
        keys += 1;
        ks.dbs[b.db].insert(b.key, b.entry);
    };
    // Records sort by key: the format and database map (0xff) come last, so the ids are
    // read first in a pass of their own below.
    let mut all: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    for (k, v) in records {
        fresh = false;
        if k.first() == Some(&0xff) {
            if k == FORMAT_KEY {
                if v != FORMAT {
                    return Err(LoadError::Format { version: v });
                }
            } else if k == DBS_KEY {
                if v.len() != DATABASES || v.contains(&0xff) {
                    return Err(LoadError::Malformed { key: k });
                }
                loaded_ids = Some(v);
            } else {
                return Err(LoadError::Foreign { key: k });
            }
        } else {
            all.push((k, v));
        }
    }
    if let Some(ids) = loaded_ids {
        ks.disk_ids = ids;
    }
    for (k, v) in all {
        if k.len() < 5 {
            return Err(LoadError::Foreign { key: k });
        }
        let Some(db) = ks.disk_ids.iter().position(|&i| i == k[0]) else {
            // A flushed database's records, not yet all deleted.
            stale.push(k);
            continue;
        };
        let klen = u32::from_be_bytes(k[1..5].try_into().expect("4 bytes")) as usize;
        if k.len() < 5 + klen {
            return Err(LoadError::Foreign { key: k });
        }
        if k.len() == 5 + klen {
            finish(current.take(), &mut ks, &mut stale);
            let mut b = decode_meta(db, k, &v)?;
            b.expired = b.entry.expires_at.is_some_and(|t| t <= now);
            current = Some(b);
            continue;
        }
        // An element: it belongs to the current key if that key is its prefix and the
        // generations agree.
        let owner = current.as_mut().filter(|b| {
            k.starts_with(&b.meta_key)
                && k[5 + klen..5 + klen + 4.min(k.len() - 5 - klen)]
                    == b.entry.generation.to_be_bytes()[..]
        });
        let Some(b) = owner.filter(|b| !b.expired) else {
            stale.push(k);
            continue;
        };
        let element = &k[5 + klen + 4..];
        let malformed = || LoadError::Malformed { key: k.clone() };
        match &mut b.entry.value {
            Value::Str(s) => {
                let i = u32::from_be_bytes(element.try_into().map_err(|_| malformed())?);
                if i as usize * CHUNK != s.len() {
                    stale.push(k);
                    continue;
                }
                s.extend_from_slice(&v);
                b.chunks.push(k);
            }
            Value::List(l) => {
                let raw = u64::from_be_bytes(element.try_into().map_err(|_| malformed())?);
                let seq = (raw ^ (1 << 63)) as i64;
                if l.is_empty() {
                    l.head = seq;
                } else if seq != b.next_seq {
                    b.gap = true;
                }
                b.next_seq = seq + 1;
                l.push_back(v);
            }
            Value::Hash(h) => h.push_loaded(element, v),
            Value::Set(s) => {
                s.insert(element);
            }
            Value::ZSet(z) => {
                let bits: [u8; 8] = v.as_slice().try_into().map_err(|_| malformed())?;
                z.insert(element, f64::from_le_bytes(bits));
            }
        }
    }
    finish(current.take(), &mut ks, &mut stale);
    for db in &mut ks.dbs {
        for e in db.values_mut() {
            clear_notes(&mut e.value);
        }
    }
    Ok(Loaded {
        keyspace: ks,
        keys,
        expired,
        stale,
        fresh,
    })
}

fn decode_meta(db: usize, k: Vec<u8>, v: &[u8]) -> Result<Building, LoadError> {
    let malformed = || LoadError::Malformed { key: k.clone() };
    if v.len() < 6 {
        return Err(malformed());
    }
    let kind = v[0];
    let generation = u32::from_le_bytes(v[1..5].try_into().expect("4 bytes"));
    let (expires_at, rest) = match v[5] {
        0 => (None, &v[6..]),
        1 if v.len() >= 14 => (
            Some(u64::from_le_bytes(v[6..14].try_into().expect("8 bytes"))),
            &v[14..],
        ),
        _ => return Err(malformed()),
    };
    let mut str_len = 0;
    let value = match kind {
        KIND_STR => {
            str_len = rest.len();
            Value::Str(rest.to_vec())
        }
        KIND_STR_CHUNKED => {
            let bytes: [u8; 8] = rest.try_into().map_err(|_| malformed())?;
            str_len = u64::from_le_bytes(bytes) as usize;
            Value::Str(Vec::new())
        }
        KIND_LIST => {
            let bytes: [u8; 8] = rest.try_into().map_err(|_| malformed())?;
            Value::List(List::starting_at(i64::from_le_bytes(bytes)))
        }
        KIND_HASH => Value::Hash(Hash::default()),
        KIND_SET => Value::Set(Set::default()),
        KIND_ZSET => Value::ZSet(ZSet::default()),
        _ => return Err(malformed()),
    };
    let key = k[5..].to_vec();
    Ok(Building {
        db,
        key,
        meta_key: k,
        entry: Entry {
            value,
            expires_at,
            generation,
        },
        str_len,
        next_seq: 0,
        gap: false,
        expired: false,
        chunks: Vec::new(),
    })
}

/// Applies `ops` to `map` as the app applies them to its store (the tests' store).
pub fn apply(map: &mut BTreeMap<Vec<u8>, Vec<u8>>, ops: &[Op]) {
    for op in ops {
        match op {
            Op::Put { key, value } => {
                map.insert(key.clone(), value.clone());
            }
            Op::Delete { key } => {
                map.remove(key);
            }
            Op::Purge { prefix, keep } => {
                let doomed: Vec<Vec<u8>> = map
                    .range(prefix.clone()..)
                    .take_while(|(k, _)| k.starts_with(prefix))
                    .filter(|(k, _)| purges(prefix, *keep, k))
                    .map(|(k, _)| k.clone())
                    .collect();
                for k in doomed {
                    map.remove(&k);
                }
            }
        }
    }
}

#[cfg(test)]
#[path = "tests_persist.rs"]
mod tests;
