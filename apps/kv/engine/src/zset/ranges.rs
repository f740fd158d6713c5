//! Score and lex ranges of sorted sets as Redis 7.0 reads and walks them (`t_zset.c`):
//! [`ScoreRange`] (`zslParseRange`), [`LexRange`] (`zslParseLexRange`) and [`walk`], the
//! walk of a listpack-encoded set. The range commands (`ZRANGE` and friends in
//! `reads::zranges`, `ZREMRANGEBYSCORE`/`BYLEX` in `writes::zsets`) share them.
//!
//! Score bounds are read as C's `strtod` reads them (`(` for open, `inf`, hex, leading
//! spaces); lex bounds are `[x`, `(x`, `-` and `+`. Ranges are walked as Redis walks a
//! listpack-encoded set, which also settles what a lex range means when scores differ.

use super::ZSet;
use crate::strings::floats::strtod;
use alloc::vec::Vec;
use core::cmp::Ordering;

/// `ZRANGEBYSCORE`'s (and its kin's) error for a bad score bound.
pub(crate) const NOT_FLOAT: &str = "ERR min or max is not a float";
/// The error for a bad lex bound.
pub(crate) const NOT_LEX: &str = "ERR min or max not valid string range item";

/// The members of `z` whose scores are in `r`, in order, with their scores.
pub(crate) fn in_score_range<'a>(z: &'a ZSet, r: &ScoreRange) -> Vec<(&'a [u8], f64)> {
    pick(z, |items| {
        walk(
            items,
            0,
            -1,
            false,
            |&(_, s)| r.gte_min(s),
            |&(_, s)| r.lte_max(s),
            true,
        )
    })
}

/// The members of `z` in the lex range `r`, in order, with their scores.
pub(crate) fn in_lex_range<'a>(z: &'a ZSet, r: &LexRange) -> Vec<(&'a [u8], f64)> {
    pick(z, |items| {
        let may_hold = r.may_hold(items[0].0, items[items.len() - 1].0);
        walk(
            items,
            0,
            -1,
            false,
            |(m, _)| r.gte_min(m),
            |(m, _)| r.lte_max(m),
            may_hold,
        )
    })
}

/// The items of `z` (in order) at the indexes `choose` picks from them all.
fn pick<'a>(
    z: &'a ZSet,
    choose: impl FnOnce(&[(&'a [u8], f64)]) -> Vec<usize>,
) -> Vec<(&'a [u8], f64)> {
    if z.is_empty() {
        return Vec::new();
    }
    let items: Vec<(&[u8], f64)> = z.range(0, z.len() - 1).collect();
    choose(&items).into_iter().map(|i| items[i]).collect()
}

/// Whether an item passes a bound.
type Test<'a, T> = &'a dyn Fn(&T) -> bool;

/// Redis's walk of a listpack for a score or lex range: the first item (the last one if
/// `reverse`) past the near bound must be within the far one; then `offset` items are
/// skipped unchecked (a negative offset skips them all) and up to `limit` (negative: no
/// limit) taken while within the far bound. `may_hold` is the quick check that the range
/// can hold anything at all.
pub(crate) fn walk<T>(
    items: &[T],
    offset: i64,
    limit: i64,
    reverse: bool,
    gte_min: impl Fn(&T) -> bool,
    lte_max: impl Fn(&T) -> bool,
    may_hold: bool,
) -> Vec<usize> {
    let (near, far): (Test<'_, T>, Test<'_, T>) = if reverse {
        (&lte_max, &gte_min)
    } else {
        (&gte_min, &lte_max)
    };
    let start = if !may_hold {
        None
    } else if reverse {
        items.iter().rposition(near)
    } else {
        items.iter().position(near)
    };
    let Some(start) = start.filter(|&i| far(&items[i])) else {
        return Vec::new();
    };
    if offset < 0 {
        return Vec::new();
    }
    let mut at = if reverse {
        start.checked_sub(offset.try_into().unwrap_or(usize::MAX))
    } else {
        usize::try_from(offset)
            .ok()
            .and_then(|o| start.checked_add(o))
    };
    let mut picked = Vec::new();
    let mut left = limit;
    while let Some(i) = at.filter(|&i| i < items.len()) {
        if left == 0 || !far(&items[i]) {
            break;
        }
        left -= 1;
        picked.push(i);
        at = if reverse {
            i.checked_sub(1)
        } else {
            Some(i + 1)
        };
    }
    picked
}

/// A score interval; `minex`/`maxex`: the bound is open.
pub(crate) struct ScoreRange {
    min: f64,
    max: f64,
    minex: bool,
    maxex: bool,
}

impl ScoreRange {
    /// Redis's `zslParseRange`.
    pub(crate) fn parse(min: &[u8], max: &[u8]) -> Option<Self> {
        let (min, minex) = score_bound(min)?;
        let (max, maxex) = score_bound(max)?;
        Some(Self {
            min,
            max,
            minex,
            maxex,
        })
    }

    pub(crate) fn gte_min(&self, v: f64) -> bool {
        if self.minex {
            v > self.min
        } else {
            v >= self.min
        }
    }

    pub(crate) fn lte_max(&self, v: f64) -> bool {
        if self.maxex {
            v < self.max
        } else {
            v <= self.max
        }
    }
}

/// One score bound: `(` makes it open; the rest must be all `strtod` reads (up to a NUL, as
/// C sees the string), and not NaN.
fn score_bound(arg: &[u8]) -> Option<(f64, bool)> {
    let (open, body) = match arg.split_first() {
        Some((b'(', rest)) => (true, rest),
        _ => (false, arg),
    };
    let body = &body[..body.iter().position(|&b| b == 0).unwrap_or(body.len())];
    let (v, used) = strtod(body);
    (used == body.len() && !v.is_nan()).then_some((v, open))
}

/// A lex bound: `-` and `+` are below and above every string.
pub(crate) enum LexBound {
    Min,
    Max,
    Value(Vec<u8>),
}

/// Redis's `sdscmplex`: `a` against `b`, with the infinite bounds.
fn cmp_lex(a: &LexBound, b: &LexBound) -> Ordering {
    match (a, b) {
        (LexBound::Min, LexBound::Min) | (LexBound::Max, LexBound::Max) => Ordering::Equal,
        (LexBound::Min, _) | (_, LexBound::Max) => Ordering::Less,
        (LexBound::Max, _) | (_, LexBound::Min) => Ordering::Greater,
        (LexBound::Value(x), LexBound::Value(y)) => x.cmp(y),
    }
}

/// `member` against a bound.
fn cmp_member(member: &[u8], bound: &LexBound) -> Ordering {
    match bound {
        LexBound::Min => Ordering::Greater,
        LexBound::Max => Ordering::Less,
        LexBound::Value(v) => member.cmp(v),
    }
}

pub(crate) struct LexRange {
    min: LexBound,
    max: LexBound,
    minex: bool,
    maxex: bool,
}

impl LexRange {
    /// Redis's `zslParseLexRange`.
    pub(crate) fn parse(min: &[u8], max: &[u8]) -> Option<Self> {
        let (min, minex) = lex_bound(min)?;
        let (max, maxex) = lex_bound(max)?;
        Some(Self {
            min,
            max,
            minex,
            maxex,
        })
    }

    pub(crate) fn gte_min(&self, member: &[u8]) -> bool {
        let o = cmp_member(member, &self.min);
        if self.minex { o.is_gt() } else { o.is_ge() }
    }

    pub(crate) fn lte_max(&self, member: &[u8]) -> bool {
        let o = cmp_member(member, &self.max);
        if self.maxex { o.is_lt() } else { o.is_le() }
    }

    /// Redis's `zzlIsInLexRange`: the range is not empty, the last member is not below it
    /// and the first not above it.
    pub(crate) fn may_hold(&self, first: &[u8], last: &[u8]) -> bool {
        let o = cmp_lex(&self.min, &self.max);
        !(o.is_gt() || (o.is_eq() && (self.minex || self.maxex)))
            && self.gte_min(last)
            && self.lte_max(first)
    }
}

/// One lex bound (`zslParseLexRangeItem`): `-` and `+` alone (as C strings), or `(` / `[`
/// and the string.
fn lex_bound(arg: &[u8]) -> Option<(LexBound, bool)> {
    let alone = arg.len() == 1 || arg.get(1) == Some(&0);
    match arg.first()? {
        b'+' if alone => Some((LexBound::Max, true)),
        b'-' if alone => Some((LexBound::Min, true)),
        b'(' => Some((LexBound::Value(arg[1..].to_vec()), true)),
        b'[' => Some((LexBound::Value(arg[1..].to_vec()), false)),
        _ => None,
    }
}
