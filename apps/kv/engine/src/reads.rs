//! Commands that read collections without changing them, as Redis 7.0 answers them:
//! `LPOS`, `SMISMEMBER`, `SRANDMEMBER`, set algebra (`SINTER`, `SUNION`, `SDIFF`,
//! `SINTERCARD`), `HRANDFIELD` here; the `ZRANGE` family, `ZCOUNT`, `ZLEXCOUNT`, `ZRANK`
//! and `ZMSCORE` in [`zranges`]; `LCS` in [`lcs`].
//!
//! Values are only read, through [`Keyspace::get`](crate::keyspace::Keyspace::get), with
//! the typed lookups of this module ([`list_at`], [`set_at`], ...).

mod lcs;
mod zranges;

use crate::errors::{NOT_INTEGER, SYNTAX, WRONG_TYPE};
use crate::keyspace::Value;
use crate::zset::ZSet;
use crate::{Action, Call, Client, Command, Server};
use alloc::collections::{BTreeSet, VecDeque};
use alloc::vec::Vec;
use resp::reply;

pub(crate) const COMMANDS: &[Command] = &[
    Command::read("lpos", -3, lpos),
    Command::read("smismember", -3, smismember),
    Command::read("srandmember", -2, srandmember),
    Command::read("sinter", -2, sinter),
    Command::read("sunion", -2, sunion),
    Command::read("sdiff", -2, sdiff),
    Command::read("sintercard", -3, sintercard),
    Command::read("hrandfield", -2, hrandfield),
    Command::read("zrange", -4, zranges::zrange),
    Command::read("zrangebyscore", -4, zranges::zrangebyscore),
    Command::read("zrevrangebyscore", -4, zranges::zrevrangebyscore),
    Command::read("zrangebylex", -4, zranges::zrangebylex),
    Command::read("zrevrangebylex", -4, zranges::zrevrangebylex),
    Command::read("zrevrange", -4, zranges::zrevrange),
    Command::read("zcount", 4, zranges::zcount),
    Command::read("zlexcount", 4, zranges::zlexcount),
    Command::read("zrank", 3, zranges::zrank),
    Command::read("zrevrank", 3, zranges::zrevrank),
    Command::read("zmscore", -3, zranges::zmscore),
    Command::read("lcs", -3, lcs::lcs),
];

/// The key holds a value of another type than the command wants.
pub(crate) struct WrongType;

/// A typed lookup: `Ok(None)` for a missing key, `Err(WrongType)` for another type.
pub(crate) type Lookup<'a, T> = Result<Option<&'a T>, WrongType>;

fn typed<'a, T: ?Sized>(
    s: &'a mut Server,
    db: usize,
    key: &[u8],
    now: u64,
    pick: fn(&Value) -> Option<&T>,
) -> Result<Option<&'a T>, WrongType> {
    match s.keyspace.get(db, key, now) {
        None => Ok(None),
        Some(e) => pick(&e.value).map(Some).ok_or(WrongType),
    }
}

pub(crate) fn list_at<'a>(
    s: &'a mut Server,
    db: usize,
    key: &[u8],
    now: u64,
) -> Lookup<'a, VecDeque<Vec<u8>>> {
    typed(s, db, key, now, |v| match v {
        Value::List(l) => Some(l),
        _ => None,
    })
}

fn set_of(v: &Value) -> Option<&BTreeSet<Vec<u8>>> {
    match v {
        Value::Set(x) => Some(x),
        _ => None,
    }
}

pub(crate) fn set_at<'a>(
    s: &'a mut Server,
    db: usize,
    key: &[u8],
    now: u64,
) -> Lookup<'a, BTreeSet<Vec<u8>>> {
    typed(s, db, key, now, set_of)
}

pub(crate) fn hash_at<'a>(
    s: &'a mut Server,
    db: usize,
    key: &[u8],
    now: u64,
) -> Lookup<'a, [(Vec<u8>, Vec<u8>)]> {
    typed(s, db, key, now, |v| match v {
        Value::Hash(h) => Some(h),
        _ => None,
    })
}

pub(crate) fn zset_at<'a>(s: &'a mut Server, db: usize, key: &[u8], now: u64) -> Lookup<'a, ZSet> {
    typed(s, db, key, now, |v| match v {
        Value::ZSet(z) => Some(z),
        _ => None,
    })
}

/// Replies `WRONGTYPE` and ends the command.
pub(crate) fn wrong_type(c: &mut Call<'_>) -> Action {
    c.error(WRONG_TYPE);
    Action::Continue
}

/// Redis's `getRangeLongFromObjectOrReply`: `arg` as an integer within `min..=max`, or the
/// error replied (`message` for both failures if given, as Redis does).
pub(crate) fn long_in(
    c: &mut Call<'_>,
    arg: usize,
    min: i64,
    max: i64,
    message: Option<&str>,
) -> Option<i64> {
    match resp::request::parse_i64(&c.args[arg]) {
        Some(v) if (min..=max).contains(&v) => Some(v),
        parsed => {
            match (message, parsed) {
                (Some(m), _) => c.error(m),
                (None, None) => c.error(NOT_INTEGER),
                (None, Some(_)) => c.error(&alloc::format!(
                    "ERR value is out of range, value must between {min} and {max}"
                )),
            }
            None
        }
    }
}

/// `arg` as a count that must not be negative (`getPositiveLongFromObjectOrReply`).
pub(crate) fn non_negative(c: &mut Call<'_>, arg: usize, message: &str) -> Option<i64> {
    long_in(c, arg, 0, i64::MAX, Some(message))
}

pub(crate) fn is(arg: &[u8], word: &str) -> bool {
    arg.eq_ignore_ascii_case(word.as_bytes())
}

/// `LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len]`.
fn lpos(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    let (mut rank, mut count, mut maxlen) = (1i64, None, 0i64);
    let mut j = 3;
    while j < c.args.len() {
        let more = j + 1 < c.args.len();
        let opt = &c.args[j];
        if is(opt, "rank") && more {
            j += 1;
            let Some(r) = c.int(j) else {
                return Action::Continue;
            };
            if r == 0 {
                c.error(
                    "ERR RANK can't be zero: use 1 to start from the first match, 2 from the \
                     second ... or use negative to start from the end of the list",
                );
                return Action::Continue;
            }
            rank = r;
        } else if is(opt, "count") && more {
            j += 1;
            let Some(n) = non_negative(c, j, "ERR COUNT can't be negative") else {
                return Action::Continue;
            };
            count = Some(n);
        } else if is(opt, "maxlen") && more {
            j += 1;
            let Some(n) = non_negative(c, j, "ERR MAXLEN can't be negative") else {
                return Action::Continue;
            };
            maxlen = n;
        } else {
            c.error(SYNTAX);
            return Action::Continue;
        }
        j += 1;
    }
    // A negative rank searches from the tail (Redis negates it as a C long: i64::MIN stays
    // negative, and then every match is past the rank).
    let from_tail = rank < 0;
    if from_tail {
        rank = rank.wrapping_neg();
    }
    let list = match list_at(s, cl.db, &c.args[1], c.now_ms) {
        Err(WrongType) => return wrong_type(c),
        Ok(None) => {
            match count {
                Some(_) => reply::array(c.out, 0),
                None => reply::null(c.out),
            }
            return Action::Continue;
        }
        Ok(Some(l)) => l,
    };
    let len = list.len() as i64;
    let element = &c.args[2];
    let (mut matches, mut found, mut positions) = (0i64, None, Vec::new());
    let (mut forward, mut backward) = (list.iter(), list.iter().rev());
    let walk: &mut dyn Iterator<Item = &Vec<u8>> = if from_tail {
        &mut backward
    } else {
        &mut forward
    };
    let mut index = 0i64;
    while maxlen == 0 || index < maxlen {
        let Some(e) = walk.next() else { break };
        if e == element {
            matches += 1;
            let at = if from_tail { len - index - 1 } else { index };
            if matches >= rank {
                match count {
                    Some(n) => {
                        positions.push(at);
                        if n != 0 && matches.wrapping_sub(rank).wrapping_add(1) >= n {
                            break;
                        }
                    }
                    None => {
                        found = Some(at);
                        break;
                    }
                }
            }
        }
        index += 1;
    }
    if count.is_some() {
        reply::array(c.out, positions.len());
        for p in positions {
            reply::integer(c.out, p);
        }
    } else {
        match found {
            Some(at) => reply::integer(c.out, at),
            None => reply::null(c.out),
        }
    }
    Action::Continue
}

/// `SMISMEMBER key member [member ...]`: a missing key is an empty set.
fn smismember(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    let set = match set_at(s, cl.db, &c.args[1], c.now_ms) {
        Err(WrongType) => return wrong_type(c),
        Ok(set) => set,
    };
    reply::array(c.out, c.args.len() - 2);
    for m in &c.args[2..] {
        let found = set.is_some_and(|set| set.contains(m.as_slice()));
        reply::integer(c.out, i64::from(found));
    }
    Action::Continue
}

/// A generator of indexes for random picks, seeded from the server's.
struct Picker(u64);

impl Picker {
    /// An index below `n` (`n > 0`).
    fn below(&mut self, n: usize) -> usize {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n as u64) as usize
    }

    /// `count` distinct indexes below `n` (`count < n`), in random order.
    fn distinct(&mut self, n: usize, count: usize) -> Vec<usize> {
        let mut all: Vec<usize> = (0..n).collect();
        for i in 0..count {
            let j = i + self.below(n - i);
            all.swap(i, j);
        }
        all.truncate(count);
        all
    }
}

fn picker(s: &mut Server) -> Picker {
    Picker(s.next_random() | 1)
}

/// `SRANDMEMBER key [count]`: a negative count may repeat members.
fn srandmember(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    if c.args.len() > 3 {
        c.error(SYNTAX);
        return Action::Continue;
    }
    let count = if c.args.len() == 3 {
        let Some(n) = long_in(c, 2, -i64::MAX, i64::MAX, None) else {
            return Action::Continue;
        };
        Some(n)
    } else {
        None
    };
    let mut pick = picker(s);
    let set = match set_at(s, cl.db, &c.args[1], c.now_ms) {
        Err(WrongType) => return wrong_type(c),
        Ok(None) => {
            match count {
                Some(_) => reply::array(c.out, 0),
                None => reply::null(c.out),
            }
            return Action::Continue;
        }
        Ok(Some(set)) => set,
    };
    let members: Vec<&Vec<u8>> = set.iter().collect();
    random_replies(c, &members, count, &mut pick, 1, |out, m| {
        reply::bulk(out, m)
    });
    Action::Continue
}

/// The random picks of `SRANDMEMBER` and `HRANDFIELD` from `items` (not empty): one
/// without a count, else an array of up to `count` distinct ones, or of `-count` with
/// repeats; `emit` replies one item, which makes `per_item` replies.
fn random_replies<T>(
    c: &mut Call<'_>,
    items: &[T],
    count: Option<i64>,
    pick: &mut Picker,
    per_item: usize,
    emit: impl Fn(&mut Vec<u8>, &T),
) {
    let Some(count) = count else {
        emit(c.out, &items[pick.below(items.len())]);
        return;
    };
    if count < 0 {
        let n = count.unsigned_abs() as usize;
        reply::array(c.out, n * per_item);
        for _ in 0..n {
            emit(c.out, &items[pick.below(items.len())]);
        }
    } else if count as usize >= items.len() {
        reply::array(c.out, items.len() * per_item);
        for item in items {
            emit(c.out, item);
        }
    } else {
        reply::array(c.out, count as usize * per_item);
        for i in pick.distinct(items.len(), count as usize) {
            emit(c.out, &items[i]);
        }
    }
}

/// `HRANDFIELD key [count [WITHVALUES]]`.
fn hrandfield(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    let mut count = None;
    let mut with_values = false;
    if c.args.len() >= 3 {
        let Some(n) = long_in(c, 2, -i64::MAX, i64::MAX, None) else {
            return Action::Continue;
        };
        if c.args.len() > 4 || (c.args.len() == 4 && !is(&c.args[3], "withvalues")) {
            c.error(SYNTAX);
            return Action::Continue;
        }
        if c.args.len() == 4 {
            with_values = true;
            if !(-i64::MAX / 2..=i64::MAX / 2).contains(&n) {
                c.error("ERR value is out of range");
                return Action::Continue;
            }
        }
        count = Some(n);
    }
    let mut pick = picker(s);
    let hash = match hash_at(s, cl.db, &c.args[1], c.now_ms) {
        Err(WrongType) => return wrong_type(c),
        Ok(None) => {
            match count {
                Some(_) => reply::array(c.out, 0),
                None => reply::null(c.out),
            }
            return Action::Continue;
        }
        Ok(Some(h)) => h,
    };
    let fields: Vec<&(Vec<u8>, Vec<u8>)> = hash.iter().collect();
    let per_item = if with_values { 2 } else { 1 };
    random_replies(c, &fields, count, &mut pick, per_item, |out, (f, v)| {
        reply::bulk(out, f);
        if with_values {
            reply::bulk(out, v);
        }
    });
    Action::Continue
}

pub(crate) type Members = BTreeSet<Vec<u8>>;

/// The sets at `args[keys]`, each checked for its type before any is used (Redis's order):
/// `None` in place of a missing key, or `Err` with `WRONGTYPE` replied. The checks go
/// through `get` (which drops expired keys); the sets are then read in place, all at once.
pub(crate) fn sets_of<'a>(
    s: &'a mut Server,
    db: usize,
    c: &mut Call<'_>,
    keys: core::ops::Range<usize>,
) -> Result<Vec<Option<&'a Members>>, ()> {
    for k in keys.clone() {
        if set_at(s, db, &c.args[k], c.now_ms).is_err() {
            c.error(WRONG_TYPE);
            return Err(());
        }
    }
    let s: &'a Server = s;
    Ok(keys
        .map(|k| {
            s.keyspace.dbs[db]
                .get(c.args[k].as_slice())
                .and_then(|e| set_of(&e.value))
        })
        .collect())
}

/// The members in every one of `sets` (none if one is missing), in order.
pub(crate) fn intersection<'a>(sets: &[Option<&'a Members>]) -> impl Iterator<Item = &'a Vec<u8>> {
    let mut sets = sets
        .iter()
        .copied()
        .collect::<Option<Vec<&Members>>>()
        .unwrap_or_default();
    sets.sort_by_key(|set| set.len());
    let others = sets.split_off(sets.len().min(1));
    sets.into_iter()
        .flat_map(|smallest| smallest.iter())
        .filter(move |m| others.iter().all(|o| o.contains(*m)))
}

fn reply_members<'a>(out: &mut Vec<u8>, members: impl ExactSizeIterator<Item = &'a Vec<u8>>) {
    reply::array(out, members.len());
    for m in members {
        reply::bulk(out, m);
    }
}

fn sinter(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    if let Ok(sets) = sets_of(s, cl.db, c, 1..c.args.len()) {
        let common: Vec<&Vec<u8>> = intersection(&sets).collect();
        reply_members(c.out, common.into_iter());
    }
    Action::Continue
}

/// The members in any of `sets`, in order.
pub(crate) fn union<'a>(sets: &[Option<&'a Members>]) -> BTreeSet<&'a Vec<u8>> {
    sets.iter().flatten().flat_map(|set| set.iter()).collect()
}

/// The members of the first of `sets` in none of the others, in order.
pub(crate) fn difference<'a>(sets: &[Option<&'a Members>]) -> Vec<&'a Vec<u8>> {
    let others: Vec<&Members> = sets[1..].iter().flatten().copied().collect();
    sets[0]
        .map(|first| {
            first
                .iter()
                .filter(|m| !others.iter().any(|o| o.contains(*m)))
                .collect()
        })
        .unwrap_or_default()
}

fn sunion(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    if let Ok(sets) = sets_of(s, cl.db, c, 1..c.args.len()) {
        reply_members(c.out, union(&sets).into_iter());
    }
    Action::Continue
}

fn sdiff(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    if let Ok(sets) = sets_of(s, cl.db, c, 1..c.args.len()) {
        reply_members(c.out, difference(&sets).into_iter());
    }
    Action::Continue
}

/// `SINTERCARD numkeys key [key ...] [LIMIT limit]`.
fn sintercard(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    let Some(numkeys) = long_in(
        c,
        1,
        1,
        i64::MAX,
        Some("ERR numkeys should be greater than 0"),
    ) else {
        return Action::Continue;
    };
    if numkeys > c.args.len() as i64 - 2 {
        c.error("ERR Number of keys can't be greater than number of args");
        return Action::Continue;
    }
    let keys_end = 2 + numkeys as usize;
    let mut limit = 0;
    let mut j = keys_end;
    while j < c.args.len() {
        if is(&c.args[j], "limit") && j + 1 < c.args.len() {
            j += 1;
            let Some(n) = non_negative(c, j, "ERR LIMIT can't be negative") else {
                return Action::Continue;
            };
            limit = n as usize;
        } else {
            c.error(SYNTAX);
            return Action::Continue;
        }
        j += 1;
    }
    if let Ok(sets) = sets_of(s, cl.db, c, 2..keys_end) {
        let limit = if limit > 0 { limit } else { usize::MAX };
        reply::integer(c.out, intersection(&sets).take(limit).count() as i64);
    }
    Action::Continue
}

#[cfg(test)]
#[path = "tests_reads.rs"]
pub(crate) mod tests;
