//! Sorted-set reads, as Redis 7.0 answers them (`t_zset.c`): `ZRANGE` (by rank, `BYSCORE`,
//! `BYLEX`, `REV`, `LIMIT`, `WITHSCORES`) and its older forms, `ZCOUNT`, `ZLEXCOUNT`,
//! `ZRANK`, `ZREVRANK`, `ZMSCORE`.
//!
//! The ranges are read and walked by [`crate::zset::ranges`], shared with the commands that
//! remove ranges.

use super::{WrongType, is, wrong_type, zset_at};
use crate::collections::index_range;
use crate::errors::SYNTAX;
use crate::zset::ranges::{
    LexRange, NOT_FLOAT, NOT_LEX, ScoreRange, in_lex_range, in_score_range, walk,
};
use crate::{Action, Call, Client, Server};
use alloc::vec::Vec;
use resp::reply;

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
            let Some((first, last)) = index_range(*start, *end, z.len()) else {
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

/// `ZCOUNT key min max`.
pub fn zcount(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    let Some(r) = ScoreRange::parse(&c.args[2], &c.args[3]) else {
        c.error(NOT_FLOAT);
        return Action::Continue;
    };
    let n = match zset_at(s, cl.db, &c.args[1], c.now_ms) {
        Err(WrongType) => return wrong_type(c),
        Ok(None) => 0,
        Ok(Some(z)) => in_score_range(z, &r).len(),
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
        Ok(Some(z)) => in_lex_range(z, &r).len(),
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
