//! Lists, hashes and sets, as Redis 7.0 answers them (`t_list.c`, `t_hash.c`, `t_set.c`):
//! the core commands of each (the rest of issue 10's list comes later).

use crate::errors::{SYNTAX, WRONG_TYPE};
use crate::keyspace::{Hash, List, Set, Value};
use crate::{Action, Call, Client, Server};
use alloc::vec::Vec;
use resp::reply;

/// Redis's text for a count that is not a non-negative integer.
pub const NOT_POSITIVE: &str = "ERR value is out of range, must be positive";

/// What a key holds, for a command that wants one type.
pub(crate) enum Slot {
    Missing,
    WrongType,
    Found,
}

pub(crate) fn slot(
    s: &mut Server,
    db: usize,
    key: &[u8],
    now: u64,
    is: fn(&Value) -> bool,
) -> Slot {
    match s.keyspace.get(db, key, now) {
        None => Slot::Missing,
        Some(e) if is(&e.value) => Slot::Found,
        Some(_) => Slot::WrongType,
    }
}

pub(crate) fn is_list(v: &Value) -> bool {
    matches!(v, Value::List(_))
}

pub(crate) fn is_hash(v: &Value) -> bool {
    matches!(v, Value::Hash(_))
}

pub(crate) fn is_set(v: &Value) -> bool {
    matches!(v, Value::Set(_))
}

/// The count was bad, and the error is replied.
pub struct Replied;

/// The optional count of `LPOP`-style commands (`args[2]`).
pub fn count_arg(c: &mut Call<'_>) -> Result<Option<usize>, Replied> {
    match c.args.get(2) {
        None => Ok(None),
        Some(a) => match resp::request::parse_i64(a) {
            Some(n) if n >= 0 => Ok(Some(n as usize)),
            _ => {
                c.error(NOT_POSITIVE);
                Err(Replied)
            }
        },
    }
}

/// The value at `key` for reading (the caller found it there).
fn value<'a>(s: &'a mut Server, db: usize, key: &[u8], now: u64) -> &'a Value {
    &s.keyspace.get(db, key, now).expect("looked up").value
}

fn list_ref<'a>(s: &'a mut Server, db: usize, key: &[u8], now: u64) -> &'a List {
    match value(s, db, key, now) {
        Value::List(l) => l,
        _ => unreachable!("type checked before"),
    }
}

pub(crate) fn list<'a>(s: &'a mut Server, db: usize, key: &[u8], now: u64) -> &'a mut List {
    s.keyspace.collection(
        db,
        key,
        now,
        || Value::List(List::default()),
        |v| match v {
            Value::List(x) => Some(x),
            _ => None,
        },
    )
}

fn push(
    s: &mut Server,
    cl: &mut Client,
    c: &mut Call<'_>,
    left: bool,
    only_existing: bool,
) -> Action {
    match slot(s, cl.db, &c.args[1], c.now_ms, is_list) {
        Slot::WrongType => return wrong_type(c),
        Slot::Missing if only_existing => {
            reply::integer(c.out, 0);
            return Action::Continue;
        }
        _ => {}
    }
    let l = list(s, cl.db, &c.args[1], c.now_ms);
    for e in &c.args[2..] {
        if left {
            l.push_front(e.clone());
        } else {
            l.push_back(e.clone());
        }
    }
    reply::integer(c.out, l.len() as i64);
    Action::Continue
}

fn wrong_type(c: &mut Call<'_>) -> Action {
    c.error(WRONG_TYPE);
    Action::Continue
}

pub fn lpush(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    push(s, cl, c, true, false)
}

pub fn rpush(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    push(s, cl, c, false, false)
}

pub fn lpushx(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    push(s, cl, c, true, true)
}

pub fn rpushx(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    push(s, cl, c, false, true)
}

fn pop(s: &mut Server, cl: &mut Client, c: &mut Call<'_>, left: bool, name: &str) -> Action {
    if c.args.len() > 3 {
        c.error(&alloc::format!(
            "ERR wrong number of arguments for '{name}' command"
        ));
        return Action::Continue;
    }
    let Ok(count) = count_arg(c) else {
        return Action::Continue;
    };
    match slot(s, cl.db, &c.args[1], c.now_ms, is_list) {
        Slot::Missing => {
            if count.is_some() {
                reply::null_array(c.out);
            } else {
                reply::null(c.out);
            }
            return Action::Continue;
        }
        Slot::WrongType => return wrong_type(c),
        Slot::Found => {}
    }
    let l = list(s, cl.db, &c.args[1], c.now_ms);
    match count {
        None => {
            let e = if left { l.pop_front() } else { l.pop_back() };
            let e = e.expect("lists in the keyspace are not empty");
            reply::bulk(c.out, &e);
        }
        Some(n) => {
            let n = n.min(l.len());
            reply::array(c.out, n);
            for _ in 0..n {
                let e = if left { l.pop_front() } else { l.pop_back() };
                reply::bulk(c.out, &e.expect("counted"));
            }
        }
    }
    s.keyspace.remove_if_empty(cl.db, &c.args[1]);
    Action::Continue
}

pub fn lpop(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    pop(s, cl, c, true, "lpop")
}

pub fn rpop(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    pop(s, cl, c, false, "rpop")
}

pub fn llen(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    match slot(s, cl.db, &c.args[1], c.now_ms, is_list) {
        Slot::Missing => reply::integer(c.out, 0),
        Slot::WrongType => return wrong_type(c),
        Slot::Found => {
            let n = list_ref(s, cl.db, &c.args[1], c.now_ms).len();
            reply::integer(c.out, n as i64);
        }
    }
    Action::Continue
}

/// `start..=end` of a sequence of `len` after Redis's index rules, or `None` when empty.
pub fn index_range(mut start: i64, mut end: i64, len: usize) -> Option<(usize, usize)> {
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

pub fn lrange(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    let Some(start) = c.int(2) else {
        return Action::Continue;
    };
    let Some(end) = c.int(3) else {
        return Action::Continue;
    };
    match slot(s, cl.db, &c.args[1], c.now_ms, is_list) {
        Slot::Missing => reply::array(c.out, 0),
        Slot::WrongType => return wrong_type(c),
        Slot::Found => {
            let l = list_ref(s, cl.db, &c.args[1], c.now_ms);
            match index_range(start, end, l.len()) {
                None => reply::array(c.out, 0),
                Some((a, b)) => {
                    reply::array(c.out, b - a + 1);
                    for e in l.range(a..=b) {
                        reply::bulk(c.out, e);
                    }
                }
            }
        }
    }
    Action::Continue
}

pub fn lindex(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    // The key is looked up before the index is read (Redis's order).
    match slot(s, cl.db, &c.args[1], c.now_ms, is_list) {
        Slot::Missing => reply::null(c.out),
        Slot::WrongType => return wrong_type(c),
        Slot::Found => {
            let Some(i) = c.int(2) else {
                return Action::Continue;
            };
            let l = list_ref(s, cl.db, &c.args[1], c.now_ms);
            let i = if i < 0 { i + l.len() as i64 } else { i };
            match usize::try_from(i).ok().and_then(|i| l.get(i)) {
                Some(e) => reply::bulk(c.out, e),
                None => reply::null(c.out),
            }
        }
    }
    Action::Continue
}

fn hash_ref<'a>(s: &'a mut Server, db: usize, key: &[u8], now: u64) -> &'a Hash {
    match value(s, db, key, now) {
        Value::Hash(h) => h,
        _ => unreachable!("type checked before"),
    }
}

pub(crate) fn hash<'a>(s: &'a mut Server, db: usize, key: &[u8], now: u64) -> &'a mut Hash {
    s.keyspace.collection(
        db,
        key,
        now,
        || Value::Hash(Hash::default()),
        |v| match v {
            Value::Hash(x) => Some(x),
            _ => None,
        },
    )
}

fn hset_generic(s: &mut Server, cl: &mut Client, c: &mut Call<'_>, name: &str) -> Action {
    if c.args.len() % 2 == 1 {
        c.error(&alloc::format!(
            "ERR wrong number of arguments for '{name}' command"
        ));
        return Action::Continue;
    }
    if let Slot::WrongType = slot(s, cl.db, &c.args[1], c.now_ms, is_hash) {
        return wrong_type(c);
    }
    let h = hash(s, cl.db, &c.args[1], c.now_ms);
    let mut added = 0;
    for pair in c.args[2..].chunks(2) {
        if h.set(&pair[0], pair[1].clone()) {
            added += 1;
        }
    }
    if name == "hmset" {
        c.ok();
    } else {
        reply::integer(c.out, added);
    }
    Action::Continue
}

pub fn hset(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    hset_generic(s, cl, c, "hset")
}

pub fn hmset(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    hset_generic(s, cl, c, "hmset")
}

/// Runs `f` on the hash at `args[1]` if there is one (`missing` replied otherwise).
fn with_hash(
    s: &mut Server,
    cl: &mut Client,
    c: &mut Call<'_>,
    missing: fn(&mut Vec<u8>),
    f: impl FnOnce(&Hash, &mut Call<'_>),
) -> Action {
    match slot(s, cl.db, &c.args[1], c.now_ms, is_hash) {
        Slot::Missing => missing(c.out),
        Slot::WrongType => return wrong_type(c),
        Slot::Found => f(hash_ref(s, cl.db, &c.args[1], c.now_ms), c),
    }
    Action::Continue
}

fn zero(out: &mut Vec<u8>) {
    reply::integer(out, 0);
}

fn empty_array(out: &mut Vec<u8>) {
    reply::array(out, 0);
}

pub fn hget(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    with_hash(s, cl, c, reply::null, |h, c| match h.get(&c.args[2]) {
        Some(v) => reply::bulk(c.out, v),
        None => reply::null(c.out),
    })
}

pub fn hdel(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    match slot(s, cl.db, &c.args[1], c.now_ms, is_hash) {
        Slot::Missing => zero(c.out),
        Slot::WrongType => return wrong_type(c),
        Slot::Found => {
            let h = hash(s, cl.db, &c.args[1], c.now_ms);
            let removed = c.args[2..].iter().filter(|f| h.remove(f).is_some()).count();
            reply::integer(c.out, removed as i64);
            s.keyspace.remove_if_empty(cl.db, &c.args[1]);
        }
    }
    Action::Continue
}

pub fn hlen(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    with_hash(s, cl, c, zero, |h, c| reply::integer(c.out, h.len() as i64))
}

pub fn hexists(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    with_hash(s, cl, c, zero, |h, c| {
        let found = h.iter().any(|(f, _)| *f == c.args[2]);
        reply::integer(c.out, i64::from(found));
    })
}

pub fn hgetall(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    with_hash(s, cl, c, empty_array, |h, c| {
        reply::array(c.out, h.len() * 2);
        for (f, v) in h.iter() {
            reply::bulk(c.out, f);
            reply::bulk(c.out, v);
        }
    })
}

pub(crate) fn set<'a>(s: &'a mut Server, db: usize, key: &[u8], now: u64) -> &'a mut Set {
    s.keyspace.collection(
        db,
        key,
        now,
        || Value::Set(Set::default()),
        |v| match v {
            Value::Set(x) => Some(x),
            _ => None,
        },
    )
}

pub fn sadd(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    if let Slot::WrongType = slot(s, cl.db, &c.args[1], c.now_ms, is_set) {
        return wrong_type(c);
    }
    let set = set(s, cl.db, &c.args[1], c.now_ms);
    let added = c.args[2..].iter().filter(|m| set.insert(m)).count();
    reply::integer(c.out, added as i64);
    Action::Continue
}

/// Runs `f` on the set at `args[1]` if there is one (`missing` replied otherwise), for
/// reading.
fn with_set_ref(
    s: &mut Server,
    cl: &mut Client,
    c: &mut Call<'_>,
    missing: fn(&mut Vec<u8>),
    f: impl FnOnce(&Set, &mut Call<'_>),
) -> Action {
    match slot(s, cl.db, &c.args[1], c.now_ms, is_set) {
        Slot::Missing => missing(c.out),
        Slot::WrongType => return wrong_type(c),
        Slot::Found => match value(s, cl.db, &c.args[1], c.now_ms) {
            Value::Set(set) => f(set, c),
            _ => unreachable!("type checked before"),
        },
    }
    Action::Continue
}

/// Runs `f` on the set at `args[1]` if there is one (`missing` replied otherwise).
fn with_set(
    s: &mut Server,
    cl: &mut Client,
    c: &mut Call<'_>,
    missing: fn(&mut Vec<u8>),
    f: impl FnOnce(&mut Set, &mut Call<'_>, &mut u64),
) -> Action {
    match slot(s, cl.db, &c.args[1], c.now_ms, is_set) {
        Slot::Missing => missing(c.out),
        Slot::WrongType => return wrong_type(c),
        Slot::Found => {
            let mut seed = s.next_random();
            let set = set(s, cl.db, &c.args[1], c.now_ms);
            f(set, c, &mut seed);
            s.keyspace.remove_if_empty(cl.db, &c.args[1]);
        }
    }
    Action::Continue
}

pub fn srem(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    with_set(s, cl, c, zero, |set, c, _| {
        let removed = c.args[2..].iter().filter(|m| set.remove(m)).count();
        reply::integer(c.out, removed as i64);
    })
}

pub fn scard(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    with_set_ref(s, cl, c, zero, |set, c| {
        reply::integer(c.out, set.len() as i64)
    })
}

pub fn sismember(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    with_set_ref(s, cl, c, zero, |set, c| {
        reply::integer(c.out, i64::from(set.contains(c.args[2].as_slice())));
    })
}

pub fn smembers(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    with_set_ref(s, cl, c, empty_array, |set, c| {
        reply::array(c.out, set.len());
        for m in set.iter() {
            reply::bulk(c.out, m);
        }
    })
}

pub fn spop(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    if c.args.len() > 3 {
        c.error(SYNTAX);
        return Action::Continue;
    }
    let Ok(count) = count_arg(c) else {
        return Action::Continue;
    };
    let missing: fn(&mut Vec<u8>) = if count.is_some() {
        empty_array
    } else {
        reply::null
    };
    with_set(s, cl, c, missing, |set, c, seed| {
        let mut pick = |set: &mut Set| {
            *seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            let at = (*seed >> 33) as usize % set.len();
            let m = set.iter().nth(at).expect("in range").clone();
            set.remove(&m);
            m
        };
        match count {
            None => {
                let m = pick(set);
                reply::bulk(c.out, &m);
            }
            Some(n) => {
                let n = n.min(set.len());
                reply::array(c.out, n);
                for _ in 0..n {
                    let m = pick(set);
                    reply::bulk(c.out, &m);
                }
            }
        }
    })
}

pub fn lset(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    // The key is looked up before the index is read (Redis's order).
    match slot(s, cl.db, &c.args[1], c.now_ms, is_list) {
        Slot::Missing => c.error("ERR no such key"),
        Slot::WrongType => return wrong_type(c),
        Slot::Found => {
            let Some(i) = c.int(2) else {
                return Action::Continue;
            };
            let l = list(s, cl.db, &c.args[1], c.now_ms);
            let i = if i < 0 { i + l.len() as i64 } else { i };
            match usize::try_from(i).ok().filter(|&i| i < l.len()) {
                Some(i) => {
                    l.set(i, c.args[3].clone());
                    c.ok();
                }
                None => c.error("ERR index out of range"),
            }
        }
    }
    Action::Continue
}

pub fn lrem(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    let Some(count) = c.int(2) else {
        return Action::Continue;
    };
    match slot(s, cl.db, &c.args[1], c.now_ms, is_list) {
        Slot::Missing => reply::integer(c.out, 0),
        Slot::WrongType => return wrong_type(c),
        Slot::Found => {
            let l = list(s, cl.db, &c.args[1], c.now_ms);
            let target = &c.args[3];
            let limit = if count == 0 {
                usize::MAX
            } else {
                count.unsigned_abs() as usize
            };
            let mut removed = 0;
            l.edit(|l| {
                if count >= 0 {
                    let mut i = 0;
                    while i < l.len() && removed < limit {
                        if l[i] == *target {
                            l.remove(i);
                            removed += 1;
                        } else {
                            i += 1;
                        }
                    }
                } else {
                    let mut i = l.len();
                    while i > 0 && removed < limit {
                        i -= 1;
                        if l[i] == *target {
                            l.remove(i);
                            removed += 1;
                        }
                    }
                }
            });
            reply::integer(c.out, removed as i64);
            s.keyspace.remove_if_empty(cl.db, &c.args[1]);
        }
    }
    Action::Continue
}

pub fn ltrim(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    let Some(start) = c.int(2) else {
        return Action::Continue;
    };
    let Some(end) = c.int(3) else {
        return Action::Continue;
    };
    match slot(s, cl.db, &c.args[1], c.now_ms, is_list) {
        Slot::Missing => c.ok(),
        Slot::WrongType => return wrong_type(c),
        Slot::Found => {
            let l = list(s, cl.db, &c.args[1], c.now_ms);
            // Pops from both ends: each removed element is one record deleted.
            let (a, b) = index_range(start, end, l.len()).unwrap_or((l.len(), l.len()));
            while l.len() > b + 1 {
                l.pop_back();
            }
            for _ in 0..a.min(l.len()) {
                l.pop_front();
            }
            s.keyspace.remove_if_empty(cl.db, &c.args[1]);
            c.ok();
        }
    }
    Action::Continue
}

pub fn linsert(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    let after = if c.args[2].eq_ignore_ascii_case(b"after") {
        true
    } else if c.args[2].eq_ignore_ascii_case(b"before") {
        false
    } else {
        c.error(SYNTAX);
        return Action::Continue;
    };
    match slot(s, cl.db, &c.args[1], c.now_ms, is_list) {
        Slot::Missing => reply::integer(c.out, 0),
        Slot::WrongType => return wrong_type(c),
        Slot::Found => {
            let l = list(s, cl.db, &c.args[1], c.now_ms);
            match l.iter().position(|e| *e == c.args[3]) {
                None => reply::integer(c.out, -1),
                Some(at) => {
                    l.edit(|l| l.insert(if after { at + 1 } else { at }, c.args[4].clone()));
                    reply::integer(c.out, l.len() as i64);
                }
            }
        }
    }
    Action::Continue
}

pub fn hsetnx(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    if let Slot::WrongType = slot(s, cl.db, &c.args[1], c.now_ms, is_hash) {
        return wrong_type(c);
    }
    let h = hash(s, cl.db, &c.args[1], c.now_ms);
    let exists = h.get(&c.args[2]).is_some();
    if !exists {
        h.set(&c.args[2], c.args[3].clone());
    }
    reply::integer(c.out, i64::from(!exists));
    Action::Continue
}

pub fn hmget(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    let nils = |out: &mut Vec<u8>, n: usize| {
        reply::array(out, n);
        for _ in 0..n {
            reply::null(out);
        }
    };
    match slot(s, cl.db, &c.args[1], c.now_ms, is_hash) {
        Slot::Missing => nils(c.out, c.args.len() - 2),
        Slot::WrongType => return wrong_type(c),
        Slot::Found => {
            let h = hash_ref(s, cl.db, &c.args[1], c.now_ms);
            reply::array(c.out, c.args.len() - 2);
            for field in &c.args[2..] {
                match h.get(field) {
                    Some(v) => reply::bulk(c.out, v),
                    None => reply::null(c.out),
                }
            }
        }
    }
    Action::Continue
}

pub fn hincrby(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    let Some(by) = c.int(3) else {
        return Action::Continue;
    };
    if let Slot::WrongType = slot(s, cl.db, &c.args[1], c.now_ms, is_hash) {
        return wrong_type(c);
    }
    let h = hash(s, cl.db, &c.args[1], c.now_ms);
    let current = match h.get(&c.args[2]) {
        None => 0,
        Some(v) => match (v.len() <= 20)
            .then(|| resp::request::parse_i64(v))
            .flatten()
        {
            Some(n) => n,
            None => {
                c.error("ERR hash value is not an integer");
                s.keyspace.remove_if_empty(cl.db, &c.args[1]);
                return Action::Continue;
            }
        },
    };
    let Some(next) = current.checked_add(by) else {
        c.error(crate::errors::OVERFLOW);
        s.keyspace.remove_if_empty(cl.db, &c.args[1]);
        return Action::Continue;
    };
    h.set(&c.args[2], alloc::format!("{next}").into_bytes());
    reply::integer(c.out, next);
    Action::Continue
}

fn hash_column(s: &mut Server, cl: &mut Client, c: &mut Call<'_>, values: bool) -> Action {
    with_hash(s, cl, c, empty_array, |h, c| {
        reply::array(c.out, h.len());
        for (f, v) in h.iter() {
            reply::bulk(c.out, if values { v } else { f });
        }
    })
}

pub fn hkeys(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    hash_column(s, cl, c, false)
}

pub fn hvals(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    hash_column(s, cl, c, true)
}

pub fn hstrlen(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    with_hash(s, cl, c, zero, |h, c| {
        let n = h
            .iter()
            .find(|(f, _)| *f == c.args[2])
            .map_or(0, |(_, v)| v.len());
        reply::integer(c.out, n as i64);
    })
}
