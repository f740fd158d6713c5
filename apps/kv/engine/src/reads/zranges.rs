//! Sorted-set reads, as Redis 7.0 answers them (`t_zset.c`): `ZRANGE` (by rank, `BYSCORE`,
//! `BYLEX`, `REV`, `LIMIT`, `WITHSCORES`) and its older forms, `ZCOUNT`, `ZLEXCOUNT`,
//! `ZRANK`, `ZREVRANK`, `ZMSCORE`.
//!
//! Score bounds are read as C's `strtod` reads them (`(` for open, `inf`, hex, leading
//! spaces); lex bounds are `[x`, `(x`, `-` and `+`. Ranges are walked as Redis walks a
//! listpack-encoded set, which also settles what a lex range means when scores differ.

use super::{WrongType, is, wrong_type, zset_at};
use crate::errors::SYNTAX;
use crate::{Action, Call, Client, Server};
use alloc::vec::Vec;
use core::cmp::Ordering;
use resp::reply;

const NOT_FLOAT: &str = "ERR min or max is not a float";
const NOT_LEX: &str = "ERR min or max not valid string range item";

/// What a range is over (`Auto`: not fixed by the command, options may choose).
#[derive(Clone, Copy, PartialEq, Eq)]
enum By {
    Auto,
    Rank,
    Score,
    Lex,
}

/// `None`: not fixed by the command (`REV` may choose).
type Reverse = Option<bool>;

pub fn zrange(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    zrange_generic(s, cl, c, By::Auto, None)
}

pub fn zrangebyscore(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    zrange_generic(s, cl, c, By::Score, Some(false))
}

pub fn zrevrangebyscore(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    zrange_generic(s, cl, c, By::Score, Some(true))
}

pub fn zrangebylex(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    zrange_generic(s, cl, c, By::Lex, Some(false))
}

pub fn zrevrangebylex(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    zrange_generic(s, cl, c, By::Lex, Some(true))
}

pub fn zrevrange(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    zrange_generic(s, cl, c, By::Rank, Some(true))
}

/// A parsed range of either kind.
enum Range {
    Rank(i64, i64),
    Score(ScoreRange),
    Lex(LexRange),
}

/// Redis's `zrangeGenericCommand`: options, then their conflicts, then the range, then the
/// key.
fn zrange_generic(
    s: &mut Server,
    cl: &mut Client,
    c: &mut Call<'_>,
    mut by: By,
    mut reverse: Reverse,
) -> Action {
    let (mut with_scores, mut offset, mut limit) = (false, 0i64, -1i64);
    let mut j = 4;
    while j < c.args.len() {
        let left = c.args.len() - j - 1;
        let opt = &c.args[j];
        if is(opt, "withscores") {
            with_scores = true;
        } else if is(opt, "limit") && left >= 2 {
            let Some(o) = c.int(j + 1) else {
                return Action::Continue;
            };
            let Some(l) = c.int(j + 2) else {
                return Action::Continue;
            };
            (offset, limit) = (o, l);
            j += 2;
        } else if reverse.is_none() && is(opt, "rev") {
            reverse = Some(true);
        } else if by == By::Auto && is(opt, "bylex") {
            by = By::Lex;
        } else if by == By::Auto && is(opt, "byscore") {
            by = By::Score;
        } else {
            c.error(SYNTAX);
            return Action::Continue;
        }
        j += 1;
    }
    let reverse = reverse.unwrap_or(false);
    if by == By::Auto {
        by = By::Rank;
    }
    if limit != -1 && by == By::Rank {
        c.error(
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or \
             BYLEX",
        );
        return Action::Continue;
    }
    if with_scores && by == By::Lex {
        c.error("ERR syntax error, WITHSCORES not supported in combination with BYLEX");
        return Action::Continue;
    }
    // Reversed score and lex ranges are given as max, min.
    let (lo, hi) = if reverse && by != By::Rank {
        (3, 2)
    } else {
        (2, 3)
    };
    let range = match by {
        By::Score => match ScoreRange::parse(&c.args[lo], &c.args[hi]) {
            Some(r) => Range::Score(r),
            None => {
                c.error(NOT_FLOAT);
                return Action::Continue;
            }
        },
        By::Lex => match LexRange::parse(&c.args[lo], &c.args[hi]) {
            Some(r) => Range::Lex(r),
            None => {
                c.error(NOT_LEX);
                return Action::Continue;
            }
        },
        _ => {
            let Some(start) = c.int(lo) else {
                return Action::Continue;
            };
            let Some(end) = c.int(hi) else {
                return Action::Continue;
            };
            Range::Rank(start, end)
        }
    };
    let z = match zset_at(s, cl.db, &c.args[1], c.now_ms) {
        Err(WrongType) => return wrong_type(c),
        Ok(None) => {
            reply::array(c.out, 0);
            return Action::Continue;
        }
        Ok(Some(z)) => z,
    };
    let (items, picked): (Vec<(&[u8], f64)>, Vec<usize>) = match &range {
        Range::Rank(start, end) => {
            // Only the ranks asked for are read.
            let Some((first, last)) = rank_span(z.len(), *start, *end) else {
                reply::array(c.out, 0);
                return Action::Continue;
            };
            let (first, last) = if reverse {
                (z.len() - 1 - last, z.len() - 1 - first)
            } else {
                (first, last)
            };
            let items: Vec<(&[u8], f64)> = z.range(first, last).collect();
            let mut picked: Vec<usize> = (0..items.len()).collect();
            if reverse {
                picked.reverse();
            }
            (items, picked)
        }
        Range::Score(r) => {
            let items: Vec<(&[u8], f64)> = z.range(0, z.len() - 1).collect();
            let picked = walk(
                &items,
                offset,
                limit,
                reverse,
                |&(_, score)| r.gte_min(score),
                |&(_, score)| r.lte_max(score),
                true,
            );
            (items, picked)
        }
        Range::Lex(r) => {
            let items: Vec<(&[u8], f64)> = z.range(0, z.len() - 1).collect();
            let may_hold = r.may_hold(items[0].0, items[items.len() - 1].0);
            let picked = walk(
                &items,
                offset,
                limit,
                reverse,
                |(m, _)| r.gte_min(m),
                |(m, _)| r.lte_max(m),
                may_hold,
            );
            (items, picked)
        }
    };
    reply::array(c.out, picked.len() * if with_scores { 2 } else { 1 });
    for i in picked {
        let (member, score) = items[i];
        reply::bulk(c.out, member);
        if with_scores {
            score_reply(c.out, score);
        }
    }
    Action::Continue
}

/// Ranks `start..=end` of `len` items (negative counting from the end) as Redis clamps
/// them, or `None` for none.
fn rank_span(len: usize, mut start: i64, mut end: i64) -> Option<(usize, usize)> {
    let len = len as i64;
    if start < 0 {
        start += len;
    }
    if end < 0 {
        end += len;
    }
    start = start.max(0);
    if start > end || start >= len {
        return None;
    }
    Some((start as usize, end.min(len - 1) as usize))
}

/// Whether an item passes a bound.
type Test<'a, T> = &'a dyn Fn(&T) -> bool;

/// Redis's walk of a listpack for a score or lex range: the first item (the last one if
/// `reverse`) past the near bound must be within the far one; then `offset` items are
/// skipped unchecked (a negative offset skips them all) and up to `limit` (negative: no
/// limit) taken while within the far bound. `may_hold` is the quick check that the range
/// can hold anything at all.
fn walk<T>(
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

/// `ZCOUNT key min max`.
pub fn zcount(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    let Some(r) = ScoreRange::parse(&c.args[2], &c.args[3]) else {
        c.error(NOT_FLOAT);
        return Action::Continue;
    };
    let n = match zset_at(s, cl.db, &c.args[1], c.now_ms) {
        Err(WrongType) => return wrong_type(c),
        Ok(None) => 0,
        Ok(Some(z)) => {
            let items: Vec<(&[u8], f64)> = z.range(0, z.len() - 1).collect();
            let in_range = |&(_, score): &(&[u8], f64)| r.gte_min(score);
            let below_max = |&(_, score): &(&[u8], f64)| r.lte_max(score);
            walk(&items, 0, -1, false, in_range, below_max, true).len()
        }
    };
    reply::integer(c.out, n as i64);
    Action::Continue
}

/// `ZLEXCOUNT key min max`.
pub fn zlexcount(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    let Some(r) = LexRange::parse(&c.args[2], &c.args[3]) else {
        c.error(NOT_LEX);
        return Action::Continue;
    };
    let n = match zset_at(s, cl.db, &c.args[1], c.now_ms) {
        Err(WrongType) => return wrong_type(c),
        Ok(None) => 0,
        Ok(Some(z)) => {
            let members: Vec<&[u8]> = z.range(0, z.len() - 1).map(|(m, _)| m).collect();
            let may_hold = r.may_hold(members[0], members[members.len() - 1]);
            let gte = |m: &&[u8]| r.gte_min(m);
            let lte = |m: &&[u8]| r.lte_max(m);
            walk(&members, 0, -1, false, gte, lte, may_hold).len()
        }
    };
    reply::integer(c.out, n as i64);
    Action::Continue
}

fn zrank_generic(s: &mut Server, cl: &mut Client, c: &mut Call<'_>, reverse: bool) -> Action {
    let z = match zset_at(s, cl.db, &c.args[1], c.now_ms) {
        Err(WrongType) => return wrong_type(c),
        Ok(None) => {
            reply::null(c.out);
            return Action::Continue;
        }
        Ok(Some(z)) => z,
    };
    let member = c.args[2].as_slice();
    let rank = z
        .score(member)
        .and_then(|_| z.range(0, z.len() - 1).position(|(m, _)| m == member));
    match rank {
        Some(r) => reply::integer(c.out, (if reverse { z.len() - 1 - r } else { r }) as i64),
        None => reply::null(c.out),
    }
    Action::Continue
}

pub fn zrank(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    zrank_generic(s, cl, c, false)
}

pub fn zrevrank(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    zrank_generic(s, cl, c, true)
}

/// `ZMSCORE key member [member ...]`: a missing key is an empty set.
pub fn zmscore(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    let z = match zset_at(s, cl.db, &c.args[1], c.now_ms) {
        Err(WrongType) => return wrong_type(c),
        Ok(z) => z,
    };
    reply::array(c.out, c.args.len() - 2);
    for m in &c.args[2..] {
        match z.and_then(|z| z.score(m)) {
            Some(score) => score_reply(c.out, score),
            None => reply::null(c.out),
        }
    }
    Action::Continue
}

/// A score as Redis replies it from a listpack-encoded set, where scores that are whole
/// numbers are stored as integers: `-0` comes back as `0`.
fn score_reply(out: &mut Vec<u8>, score: f64) {
    reply::double(out, score + 0.0);
}

/// A score interval; `minex`/`maxex`: the bound is open.
struct ScoreRange {
    min: f64,
    max: f64,
    minex: bool,
    maxex: bool,
}

impl ScoreRange {
    /// Redis's `zslParseRange`.
    fn parse(min: &[u8], max: &[u8]) -> Option<Self> {
        let (min, minex) = score_bound(min)?;
        let (max, maxex) = score_bound(max)?;
        Some(Self {
            min,
            max,
            minex,
            maxex,
        })
    }

    fn gte_min(&self, v: f64) -> bool {
        if self.minex {
            v > self.min
        } else {
            v >= self.min
        }
    }

    fn lte_max(&self, v: f64) -> bool {
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

/// C's `strtod`: the value of the longest prefix of `s` that reads as a number, and how
/// many bytes that took (0, value 0, when none does). Leading spaces, a sign, decimal or
/// hex (`0x1.8p3`) digits, `inf`, `infinity` and `nan` are read.
pub(crate) fn strtod(s: &[u8]) -> (f64, usize) {
    let mut i = s
        .iter()
        .position(|b| !matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r'))
        .unwrap_or(s.len());
    let signed_at = i;
    let negative = match s.get(i) {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let sign = if negative { -1.0 } else { 1.0 };
    let rest = &s[i..];
    let starts =
        |word: &[u8]| rest.len() >= word.len() && rest[..word.len()].eq_ignore_ascii_case(word);
    if starts(b"infinity") {
        return (sign * f64::INFINITY, i + 8);
    }
    if starts(b"inf") {
        return (sign * f64::INFINITY, i + 3);
    }
    if starts(b"nan") {
        let mut end = i + 3;
        if s.get(end) == Some(&b'(')
            && let Some(close) = s[end..].iter().position(|&b| b == b')')
            && s[end + 1..end + close]
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || *b == b'_')
        {
            end += close + 1;
        }
        return (f64::NAN, end);
    }
    if rest.len() >= 2 && rest[0] == b'0' && rest[1] | 0x20 == b'x' {
        return match hex_float(&rest[2..]) {
            Some((v, used)) => (sign * v, i + 2 + used),
            None => (sign * 0.0, i + 1),
        };
    }
    let digits = |from: usize| s[from..].iter().take_while(|b| b.is_ascii_digit()).count();
    let mut end = i + digits(i);
    let mut mantissa = end - i;
    if s.get(end) == Some(&b'.') {
        let fraction = digits(end + 1);
        mantissa += fraction;
        end += 1 + fraction;
    }
    if mantissa == 0 {
        return (0.0, 0);
    }
    if matches!(s.get(end), Some(b'e' | b'E')) {
        let mut e = end + 1;
        if matches!(s.get(e), Some(b'+' | b'-')) {
            e += 1;
        }
        let exponent = digits(e);
        if exponent > 0 {
            end = e + exponent;
        }
    }
    let text = core::str::from_utf8(&s[signed_at..end]).unwrap_or("0");
    (text.parse().unwrap_or(0.0), end)
}

/// The hex digits (with a `.` and a `p` exponent) after `0x`: the value and bytes used, or
/// `None` without a digit.
fn hex_float(s: &[u8]) -> Option<(f64, usize)> {
    let (mut value, mut scale, mut seen, mut fraction) = (0.0f64, 0i32, false, false);
    let mut i = 0;
    while i < s.len() {
        let b = s[i];
        if let Some(d) = (b as char).to_digit(16) {
            value = value * 16.0 + f64::from(d);
            if fraction {
                scale -= 4;
            }
            seen = true;
        } else if b == b'.' && !fraction {
            fraction = true;
        } else {
            break;
        }
        i += 1;
    }
    if !seen {
        return None;
    }
    if matches!(s.get(i), Some(b'p' | b'P')) {
        let mut e = i + 1;
        let negative = s.get(e) == Some(&b'-');
        if matches!(s.get(e), Some(b'+' | b'-')) {
            e += 1;
        }
        let n = s[e..].iter().take_while(|b| b.is_ascii_digit()).count();
        if n > 0 {
            let exp: i32 = s[e..e + n].iter().fold(0i32, |a, &d| {
                a.saturating_mul(10).saturating_add(i32::from(d - b'0'))
            });
            scale = scale.saturating_add(if negative { -exp } else { exp });
            i = e + n;
        }
    }
    Some((scaled(value, scale), i))
}

/// `value` times two to the `scale` (no `powi` without `std`).
fn scaled(mut value: f64, mut scale: i32) -> f64 {
    let pow2 = |k: i32| f64::from_bits(((k + 1023) as u64) << 52);
    while scale > 1000 {
        value *= pow2(1000);
        scale -= 1000;
    }
    while scale < -1000 {
        value *= pow2(-1000);
        scale += 1000;
    }
    value * pow2(scale)
}

/// A lex bound: `-` and `+` are below and above every string.
enum LexBound {
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

struct LexRange {
    min: LexBound,
    max: LexBound,
    minex: bool,
    maxex: bool,
}

impl LexRange {
    /// Redis's `zslParseLexRange`.
    fn parse(min: &[u8], max: &[u8]) -> Option<Self> {
        let (min, minex) = lex_bound(min)?;
        let (max, maxex) = lex_bound(max)?;
        Some(Self {
            min,
            max,
            minex,
            maxex,
        })
    }

    fn gte_min(&self, member: &[u8]) -> bool {
        let o = cmp_member(member, &self.min);
        if self.minex { o.is_gt() } else { o.is_ge() }
    }

    fn lte_max(&self, member: &[u8]) -> bool {
        let o = cmp_member(member, &self.max);
        if self.maxex { o.is_lt() } else { o.is_le() }
    }

    /// Redis's `zzlIsInLexRange`: the range is not empty, the last member is not below it
    /// and the first not above it.
    fn may_hold(&self, first: &[u8], last: &[u8]) -> bool {
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
