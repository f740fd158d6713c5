//! `ZUNIONSTORE`, `ZINTERSTORE` (`WEIGHTS`, `AGGREGATE SUM|MIN|MAX`, sets read as sorted
//! sets of score 1) and `ZREMRANGEBYRANK`/`BYSCORE`/`BYLEX` (Redis's `t_zset.c`).

use crate::collections::index_range;
use crate::errors::{SYNTAX, WRONG_TYPE};
use crate::keyspace::Value;
use crate::reads::{WrongType, is, wrong_type, zset_at};
use crate::strings::floats::parse_float;
use crate::zset::ZSet;
use crate::zset::ranges::{LexRange, NOT_FLOAT, NOT_LEX, ScoreRange, in_lex_range, in_score_range};
use crate::zsets::zset;
use crate::{Action, Call, Client, Server};
use alloc::collections::{BTreeMap, BTreeSet};
use alloc::vec::Vec;
use resp::reply;

/// One input of `ZUNIONSTORE`/`ZINTERSTORE`: a missing key is empty.
#[derive(Clone, Copy)]
enum Source<'a> {
    Missing,
    ZSet(&'a ZSet),
    Set(&'a BTreeSet<Vec<u8>>),
}

impl<'a> Source<'a> {
    fn len(&self) -> usize {
        match self {
            Self::Missing => 0,
            Self::ZSet(z) => z.len(),
            Self::Set(s) => s.len(),
        }
    }

    fn score(&self, member: &[u8]) -> Option<f64> {
        match self {
            Self::Missing => None,
            Self::ZSet(z) => z.score(member),
            Self::Set(s) => s.contains(member).then_some(1.0),
        }
    }

    fn members(self) -> Vec<(&'a [u8], f64)> {
        match self {
            Self::Missing => Vec::new(),
            Self::ZSet(z) => z.iter().collect(),
            Self::Set(s) => s.iter().map(|m| (m.as_slice(), 1.0)).collect(),
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Aggregate {
    Sum,
    Min,
    Max,
}

/// Redis's `zunionInterAggregate`: a sum that is NaN (`inf + -inf`) is 0; a NaN never
/// wins a comparison.
fn aggregate(target: &mut f64, value: f64, how: Aggregate) {
    match how {
        Aggregate::Sum => {
            *target += value;
            if target.is_nan() {
                *target = 0.0;
            }
        }
        Aggregate::Min => {
            if value < *target {
                *target = value;
            }
        }
        Aggregate::Max => {
            if value > *target {
                *target = value;
            }
        }
    }
}

pub fn zunionstore(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    store(s, cl, c, false, "zunionstore")
}

pub fn zinterstore(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    store(s, cl, c, true, "zinterstore")
}

/// Redis's `zunionInterDiffGenericCommand` with a destination: `numkeys`, then the keys'
/// types (before the options are read), then the options; the sources are taken from the
/// smallest up (which orders a sum's additions), and the result replaces the destination
/// (without an expiry) or removes it when empty.
fn store(s: &mut Server, cl: &mut Client, c: &mut Call<'_>, inter: bool, name: &str) -> Action {
    let (db, now) = (cl.db, c.now_ms);
    let Some(numkeys) = c.int(2) else {
        return Action::Continue;
    };
    if numkeys < 1 {
        c.error(&alloc::format!(
            "ERR at least 1 input key is needed for '{name}' command"
        ));
        return Action::Continue;
    }
    if numkeys > c.args.len() as i64 - 3 {
        c.error(SYNTAX);
        return Action::Continue;
    }
    let keys = 3..3 + numkeys as usize;
    for k in keys.clone() {
        if s.keyspace
            .get(db, &c.args[k], now)
            .is_some_and(|e| !matches!(e.value, Value::ZSet(_) | Value::Set(_)))
        {
            c.error(WRONG_TYPE);
            return Action::Continue;
        }
    }
    let mut weights = alloc::vec![1.0; keys.len()];
    let mut how = Aggregate::Sum;
    let mut j = keys.end;
    while j < c.args.len() {
        let remaining = c.args.len() - j;
        if remaining > keys.len() && is(&c.args[j], "weights") {
            for w in &mut weights {
                j += 1;
                let Some(v) = parse_float(&c.args[j]) else {
                    c.error("ERR weight value is not a float");
                    return Action::Continue;
                };
                *w = v;
            }
        } else if remaining >= 2 && is(&c.args[j], "aggregate") {
            j += 1;
            how = if is(&c.args[j], "sum") {
                Aggregate::Sum
            } else if is(&c.args[j], "min") {
                Aggregate::Min
            } else if is(&c.args[j], "max") {
                Aggregate::Max
            } else {
                c.error(SYNTAX);
                return Action::Continue;
            };
        } else {
            c.error(SYNTAX);
            return Action::Continue;
        }
        j += 1;
    }
    // Expired keys went with the type checks: the values are read in place, all at once.
    let ks: &Server = s;
    let mut sources: Vec<(Source<'_>, f64)> = keys
        .zip(weights)
        .map(|(k, w)| {
            let source = match ks.keyspace.dbs[db].get(c.args[k].as_slice()) {
                Some(e) => match &e.value {
                    Value::ZSet(z) => Source::ZSet(z),
                    Value::Set(set) => Source::Set(set),
                    _ => unreachable!("type checked before"),
                },
                None => Source::Missing,
            };
            (source, w)
        })
        .collect();
    // Stable, as glibc's qsort (a merge sort) is.
    sources.sort_by_key(|(source, _)| source.len());
    let result: BTreeMap<&[u8], f64> = if inter {
        intersect(&sources, how)
    } else {
        unite(&sources, how)
    };
    let mut z = ZSet::default();
    for (member, score) in result {
        z.insert(member, score);
    }
    let n = z.len();
    let destination = &c.args[1];
    if n == 0 {
        s.keyspace.remove(db, destination, now);
    } else {
        s.keyspace.set(db, destination, Value::ZSet(z), None);
    }
    reply::integer(c.out, n as i64);
    Action::Continue
}

/// The members of the first (smallest) source found in every other, their scores weighed
/// and aggregated in source order. A weighed score that is NaN (`0 × inf`) is 0 for the
/// first source only, as in Redis.
fn intersect<'a>(sources: &[(Source<'a>, f64)], how: Aggregate) -> BTreeMap<&'a [u8], f64> {
    let mut out = BTreeMap::new();
    let (first, first_weight) = sources[0];
    'members: for (member, score) in first.members() {
        let mut total = first_weight * score;
        if total.is_nan() {
            total = 0.0;
        }
        for (source, weight) in &sources[1..] {
            let Some(v) = source.score(member) else {
                continue 'members;
            };
            aggregate(&mut total, v * weight, how);
        }
        out.insert(member, total);
    }
    out
}

/// Every member of any source, its weighed scores (NaN taken as 0) aggregated in source
/// order.
fn unite<'a>(sources: &[(Source<'a>, f64)], how: Aggregate) -> BTreeMap<&'a [u8], f64> {
    let mut out: BTreeMap<&[u8], f64> = BTreeMap::new();
    for (source, weight) in sources {
        for (member, score) in source.members() {
            let mut v = weight * score;
            if v.is_nan() {
                v = 0.0;
            }
            match out.get_mut(member) {
                Some(total) => aggregate(total, v, how),
                None => {
                    out.insert(member, v);
                }
            }
        }
    }
    out
}

/// Redis's `zremrangeGenericCommand` after the range is read: a missing key is 0, another
/// type `WRONGTYPE`; `pick` chooses the members to remove from the sorted set found, and
/// the reply is how many were removed.
fn remove_range(
    s: &mut Server,
    cl: &mut Client,
    c: &mut Call<'_>,
    pick: impl FnOnce(&ZSet) -> Vec<Vec<u8>>,
) -> Action {
    let (db, now) = (cl.db, c.now_ms);
    let doomed = match zset_at(s, db, &c.args[1], now) {
        Err(WrongType) => return wrong_type(c),
        Ok(None) => Vec::new(),
        Ok(Some(z)) => pick(z),
    };
    if !doomed.is_empty() {
        let z = zset(s, db, &c.args[1], now);
        for m in &doomed {
            z.remove(m);
        }
        s.keyspace.remove_if_empty(db, &c.args[1]);
    }
    reply::integer(c.out, doomed.len() as i64);
    Action::Continue
}

fn owned<'a>(members: impl Iterator<Item = (&'a [u8], f64)>) -> Vec<Vec<u8>> {
    members.map(|(m, _)| m.to_vec()).collect()
}

/// `ZREMRANGEBYRANK key start stop`.
pub fn zremrangebyrank(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    let Some(start) = c.int(2) else {
        return Action::Continue;
    };
    let Some(stop) = c.int(3) else {
        return Action::Continue;
    };
    remove_range(s, cl, c, |z| match index_range(start, stop, z.len()) {
        None => Vec::new(),
        Some((first, last)) => owned(z.range(first, last)),
    })
}

/// `ZREMRANGEBYSCORE key min max`.
pub fn zremrangebyscore(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    let Some(r) = ScoreRange::parse(&c.args[2], &c.args[3]) else {
        c.error(NOT_FLOAT);
        return Action::Continue;
    };
    remove_range(s, cl, c, |z| owned(in_score_range(z, &r).into_iter()))
}

/// `ZREMRANGEBYLEX key min max`.
pub fn zremrangebylex(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    let Some(r) = LexRange::parse(&c.args[2], &c.args[3]) else {
        c.error(NOT_LEX);
        return Action::Continue;
    };
    remove_range(s, cl, c, |z| owned(in_lex_range(z, &r).into_iter()))
}
