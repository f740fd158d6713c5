//! The key index: every live key and where its latest record is, ordered by key (so scans
//! come out sorted and a prefix is a range), with its memory counted against a limit.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use core::ops::Bound;

/// Where a key's latest record is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Loc {
    /// LSN of the record.
    pub lsn: u64,
    /// The record's length (header, key and value).
    pub len: u32,
}

/// Memory one entry is counted as besides its key: the location, the key's allocation
/// header and the B-tree's share of node space (measured: about 40-60 bytes).
pub const ENTRY_OVERHEAD: u64 = 64;

/// The index, with a memory limit.
#[derive(Debug)]
pub struct Index {
    map: BTreeMap<Vec<u8>, Loc>,
    bytes: u64,
    limit: u64,
}

impl Index {
    pub fn new(limit: u64) -> Self {
        Self {
            map: BTreeMap::new(),
            bytes: 0,
            limit,
        }
    }

    pub fn cost(key: &[u8]) -> u64 {
        key.len() as u64 + ENTRY_OVERHEAD
    }

    pub fn get(&self, key: &[u8]) -> Option<Loc> {
        self.map.get(key).copied()
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Memory counted now.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// Whether `extra` more bytes of entries fit under the limit.
    pub fn fits(&self, extra: u64) -> bool {
        self.bytes.saturating_add(extra) <= self.limit
    }

    /// Sets `key`'s location; returns the old one. The caller checked [`fits`](Self::fits).
    pub fn insert(&mut self, key: &[u8], loc: Loc) -> Option<Loc> {
        match self.map.get_mut(key) {
            Some(l) => Some(core::mem::replace(l, loc)),
            None => {
                self.bytes += Self::cost(key);
                self.map.insert(key.to_vec(), loc);
                None
            }
        }
    }

    pub fn remove(&mut self, key: &[u8]) -> Option<Loc> {
        let old = self.map.remove(key);
        if old.is_some() {
            self.bytes -= Self::cost(key);
        }
        old
    }

    /// Frees up to `n` entries (the store is closing); true while entries remain. Freeing a
    /// large index at once can take long enough to starve other tasks.
    pub fn release(&mut self, n: usize) -> bool {
        for _ in 0..n {
            let Some((key, _)) = self.map.pop_first() else {
                break;
            };
            self.bytes -= Self::cost(&key);
        }
        !self.map.is_empty()
    }

    /// Up to `limit` keys that start with `prefix` and sort after `after` (all from the
    /// start of the prefix when `None`), in order, with their locations.
    pub fn scan(&self, prefix: &[u8], after: Option<&[u8]>, limit: usize) -> Vec<(Vec<u8>, Loc)> {
        let start = match after {
            Some(a) if a >= prefix => Bound::Excluded(a),
            _ => Bound::Included(prefix),
        };
        self.map
            .range::<[u8], _>((start, Bound::Unbounded))
            .take_while(|(k, _)| k.starts_with(prefix))
            .take(limit)
            .map(|(k, l)| (k.clone(), *l))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_memory_and_scans_prefixes_in_order() {
        let mut ix = Index::new(1000);
        let loc = |lsn| Loc { lsn, len: 20 };
        for (i, k) in [&b"b2"[..], b"a", b"b1", b"b10", b"c"].iter().enumerate() {
            assert!(ix.fits(Index::cost(k)));
            ix.insert(k, loc(i as u64));
        }
        assert_eq!(ix.bytes(), 5 * ENTRY_OVERHEAD + 9);
        assert_eq!(ix.insert(b"a", loc(9)), Some(loc(1)));
        assert_eq!(ix.bytes(), 5 * ENTRY_OVERHEAD + 9);
        let keys = |v: Vec<(Vec<u8>, Loc)>| v.into_iter().map(|(k, _)| k).collect::<Vec<_>>();
        assert_eq!(keys(ix.scan(b"b", None, 10)), [&b"b1"[..], b"b10", b"b2"]);
        assert_eq!(keys(ix.scan(b"b", Some(b"b10"), 10)), [&b"b2"[..]]);
        assert_eq!(keys(ix.scan(b"b", Some(b"a"), 2)), [&b"b1"[..], b"b10"]);
        assert_eq!(keys(ix.scan(b"", None, 100)).len(), 5);
        assert_eq!(ix.remove(b"b1"), Some(loc(2)));
        assert_eq!(ix.remove(b"b1"), None);
        assert_eq!(ix.bytes(), 4 * ENTRY_OVERHEAD + 7);
        assert!(!ix.fits(1000));
    }
}
