//! Sorted-set commands, as Redis 7.0 answers them (`t_zset.c`): the core ones (the rest of
//! issue 10's list comes later).

use crate::collections::{Slot, count_arg, slot};
use crate::errors::{SYNTAX, WRONG_TYPE};
use crate::keyspace::Value;
use crate::strings::floats::parse_float;
use crate::zset::ZSet;
use crate::{Action, Call, Client, Server};
use alloc::vec::Vec;
use resp::reply;

const NOT_FLOAT: &str = "ERR value is not a valid float";
const NAN: &str = "ERR resulting score is not a number (NaN)";

pub(crate) fn is_zset(v: &Value) -> bool {
    matches!(v, Value::ZSet(_))
}

pub(crate) fn zset<'a>(s: &'a mut Server, db: usize, key: &[u8], now: u64) -> &'a mut ZSet {
    s.keyspace.collection(
        db,
        key,
        now,
        || Value::ZSet(ZSet::default()),
        |v| match v {
            Value::ZSet(z) => Some(z),
            _ => None,
        },
    )
}

/// `ZADD key [NX|XX] [GT|LT] [CH] [INCR] score member [score member ...]` (and `ZINCRBY`).
fn zadd_generic(s: &mut Server, cl: &mut Client, c: &mut Call<'_>, incr_only: bool) -> Action {
    let (mut nx, mut xx, mut gt, mut lt, mut ch, mut incr) =
        (false, false, false, false, false, incr_only);
    let mut at = 2;
    if !incr_only {
        while at < c.args.len() {
            match c.args[at].to_ascii_lowercase().as_slice() {
                b"nx" => nx = true,
                b"xx" => xx = true,
                b"gt" => gt = true,
                b"lt" => lt = true,
                b"ch" => ch = true,
                b"incr" => incr = true,
                _ => break,
            }
            at += 1;
        }
    }
    let elements = c.args.len() - at;
    if elements % 2 == 1 || elements == 0 {
        c.error(SYNTAX);
        return Action::Continue;
    }
    let elements = elements / 2;
    if xx && nx {
        c.error("ERR XX and NX options at the same time are not compatible");
        return Action::Continue;
    }
    if (nx && (gt || lt)) || (gt && lt) {
        c.error("ERR GT, LT, and/or NX options at the same time are not compatible");
        return Action::Continue;
    }
    if incr && elements > 1 {
        c.error("ERR INCR option supports a single increment-element pair");
        return Action::Continue;
    }
    let mut scores = Vec::with_capacity(elements);
    for j in 0..elements {
        match parse_float(&c.args[at + 2 * j]) {
            Some(f) => scores.push(f),
            None => {
                c.error(NOT_FLOAT);
                return Action::Continue;
            }
        }
    }
    let missing = match slot(s, cl.db, &c.args[1], c.now_ms, is_zset) {
        Slot::WrongType => {
            c.error(WRONG_TYPE);
            return Action::Continue;
        }
        Slot::Missing => true,
        Slot::Found => false,
    };
    if missing && xx {
        if incr {
            reply::null(c.out);
        } else {
            reply::integer(c.out, 0);
        }
        return Action::Continue;
    }
    let z = zset(s, cl.db, &c.args[1], c.now_ms);
    let (mut added, mut updated) = (0, 0);
    let mut last = None;
    for (j, &score) in scores.iter().enumerate() {
        let member = &c.args[at + 2 * j + 1];
        match z.score(member) {
            Some(current) => {
                if nx {
                    continue;
                }
                let new = if incr { current + score } else { score };
                if new.is_nan() {
                    c.error(NAN);
                    s.keyspace.remove_if_empty(cl.db, &c.args[1]);
                    return Action::Continue;
                }
                if (lt && new >= current) || (gt && new <= current) {
                    continue;
                }
                if new != current {
                    z.insert(member, new);
                    updated += 1;
                }
                last = Some(new);
            }
            None => {
                if xx {
                    continue;
                }
                z.insert(member, score);
                added += 1;
                last = Some(score);
            }
        }
    }
    s.keyspace.remove_if_empty(cl.db, &c.args[1]);
    if incr {
        match last {
            Some(f) => reply::double(c.out, f),
            None => reply::null(c.out),
        }
    } else {
        reply::integer(c.out, if ch { added + updated } else { added });
    }
    Action::Continue
}

pub fn zadd(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    zadd_generic(s, cl, c, false)
}

pub fn zincrby(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    zadd_generic(s, cl, c, true)
}

/// Runs `f` on the sorted set at `args[1]` if there is one (`missing` replied otherwise).
fn with_zset(
    s: &mut Server,
    cl: &mut Client,
    c: &mut Call<'_>,
    missing: fn(&mut Vec<u8>),
    f: impl FnOnce(&mut ZSet, &mut Call<'_>),
) -> Action {
    match slot(s, cl.db, &c.args[1], c.now_ms, is_zset) {
        Slot::Missing => missing(c.out),
        Slot::WrongType => c.error(WRONG_TYPE),
        Slot::Found => {
            let z = zset(s, cl.db, &c.args[1], c.now_ms);
            f(z, c);
            s.keyspace.remove_if_empty(cl.db, &c.args[1]);
        }
    }
    Action::Continue
}

/// Runs `f` on the sorted set at `args[1]` for reading (`missing` replied if none).
fn with_zset_ref(
    s: &mut Server,
    cl: &mut Client,
    c: &mut Call<'_>,
    missing: fn(&mut Vec<u8>),
    f: impl FnOnce(&ZSet, &mut Call<'_>),
) -> Action {
    match s
        .keyspace
        .get(cl.db, &c.args[1], c.now_ms)
        .map(|e| &e.value)
    {
        None => missing(c.out),
        Some(Value::ZSet(z)) => f(z, c),
        Some(_) => c.error(WRONG_TYPE),
    }
    Action::Continue
}

pub fn zcard(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    with_zset_ref(
        s,
        cl,
        c,
        |o| reply::integer(o, 0),
        |z, c| reply::integer(c.out, z.len() as i64),
    )
}

pub fn zscore(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    with_zset_ref(s, cl, c, reply::null, |z, c| match z.score(&c.args[2]) {
        Some(f) => reply::double(c.out, f),
        None => reply::null(c.out),
    })
}

pub fn zrem(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    with_zset(
        s,
        cl,
        c,
        |o| reply::integer(o, 0),
        |z, c| {
            let removed = c.args[2..].iter().filter(|m| z.remove(m).is_some()).count();
            reply::integer(c.out, removed as i64);
        },
    )
}

fn zpop(s: &mut Server, cl: &mut Client, c: &mut Call<'_>, highest: bool) -> Action {
    if c.args.len() > 3 {
        c.error(SYNTAX);
        return Action::Continue;
    }
    let Ok(count) = count_arg(c) else {
        return Action::Continue;
    };
    with_zset(
        s,
        cl,
        c,
        |o| reply::array(o, 0),
        |z, c| {
            let n = count.unwrap_or(1).min(z.len());
            reply::array(c.out, 2 * n);
            for _ in 0..n {
                let (member, score) = z.pop(highest).expect("counted");
                reply::bulk(c.out, &member);
                reply::double(c.out, score);
            }
        },
    )
}

pub fn zpopmin(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    zpop(s, cl, c, false)
}

pub fn zpopmax(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    zpop(s, cl, c, true)
}
