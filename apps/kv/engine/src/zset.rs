//! A sorted set: members with scores, ordered by (score, member) as Redis orders them;
//! [`ranges`]: the score and lex ranges the range commands read and walk.

pub(crate) mod ranges;

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::vec::Vec;
use core::cmp::Ordering;

/// A score with a total order (scores are never NaN: commands refuse NaN).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Score(pub f64);

impl Eq for Score {}

impl PartialOrd for Score {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Score {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0)
    }
}

#[derive(Clone, Debug, Default)]
pub struct ZSet {
    scores: BTreeMap<Vec<u8>, Score>,
    order: BTreeSet<(Score, Vec<u8>)>,
    /// Members added, rescored or removed since the last drain (see `crate::persist`).
    pub(crate) touched: BTreeSet<Vec<u8>>,
}

impl PartialEq for ZSet {
    fn eq(&self, other: &Self) -> bool {
        self.scores == other.scores
    }
}

impl ZSet {
    pub fn len(&self) -> usize {
        self.scores.len()
    }

    pub fn is_empty(&self) -> bool {
        self.scores.is_empty()
    }

    pub fn score(&self, member: &[u8]) -> Option<f64> {
        self.scores.get(member).map(|s| s.0)
    }

    /// Sets `member`'s score (`-0` is taken as `0`); returns the old one.
    pub fn insert(&mut self, member: &[u8], score: f64) -> Option<f64> {
        // -0 is 0 (Redis keeps small sets in listpacks, where it becomes the integer 0).
        let score = score + 0.0;
        self.touched.insert(member.to_vec());
        let old = self.scores.insert(member.to_vec(), Score(score));
        if let Some(old) = old {
            self.order.remove(&(old, member.to_vec()));
        }
        self.order.insert((Score(score), member.to_vec()));
        old.map(|s| s.0)
    }

    pub fn remove(&mut self, member: &[u8]) -> Option<f64> {
        let old = self.scores.remove(member)?;
        self.touched.insert(member.to_vec());
        self.order.remove(&(old, member.to_vec()));
        Some(old.0)
    }

    /// Removes and returns the lowest (or highest) member.
    pub fn pop(&mut self, highest: bool) -> Option<(Vec<u8>, f64)> {
        let (score, member) = if highest {
            self.order.pop_last()?
        } else {
            self.order.pop_first()?
        };
        self.scores.remove(&member);
        self.touched.insert(member.clone());
        Some((member, score.0))
    }

    /// Every member with its score, in member order.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], f64)> {
        self.scores.iter().map(|(m, s)| (m.as_slice(), s.0))
    }

    /// Members in order, from rank `start` to `end` inclusive.
    pub fn range(&self, start: usize, end: usize) -> impl Iterator<Item = (&[u8], f64)> {
        self.order
            .iter()
            .skip(start)
            .take(end + 1 - start)
            .map(|(s, m)| (m.as_slice(), s.0))
    }
}
