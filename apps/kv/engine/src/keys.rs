//! Commands on keys of any type, as Redis 7.0 answers them (`db.c`, `expire.c`).

use crate::errors::{DB_RANGE, NOT_INTEGER, SYNTAX};
use crate::{Action, Call, Client, DATABASES, Server};
use alloc::string::String;
use resp::reply;

pub fn del(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    let removed = c.args[1..]
        .iter()
        .filter(|k| s.keyspace.remove(cl.db, k, c.now_ms).is_some())
        .count();
    reply::integer(c.out, removed as i64);
    Action::Continue
}

pub fn exists(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    let n = c.args[1..]
        .iter()
        .filter(|k| s.keyspace.get(cl.db, k, c.now_ms).is_some())
        .count();
    reply::integer(c.out, n as i64);
    Action::Continue
}

pub fn type_of(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    let name = s
        .keyspace
        .get(cl.db, &c.args[1], c.now_ms)
        .map_or("none", |e| e.value.type_name());
    reply::simple(c.out, name);
    Action::Continue
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Base {
    /// Relative to now.
    Now,
    /// Absolute (Unix time).
    Epoch,
}

/// Redis's `expireGenericCommand`.
fn expire_generic(
    s: &mut Server,
    cl: &mut Client,
    c: &mut Call<'_>,
    base: Base,
    seconds: bool,
    name: &str,
) -> Action {
    let (mut nx, mut xx, mut gt, mut lt) = (false, false, false, false);
    for opt in &c.args[3..] {
        let lower = opt.to_ascii_lowercase();
        match lower.as_slice() {
            b"nx" => nx = true,
            b"xx" => xx = true,
            b"gt" => gt = true,
            b"lt" => lt = true,
            _ => {
                c.error(&alloc::format!(
                    "ERR Unsupported option {}",
                    String::from_utf8_lossy(opt)
                ));
                return Action::Continue;
            }
        }
    }
    if nx && (xx || gt || lt) {
        c.error("ERR NX and XX, GT or LT options at the same time are not compatible");
        return Action::Continue;
    }
    if gt && lt {
        c.error("ERR GT and LT options at the same time are not compatible");
        return Action::Continue;
    }
    let Some(mut when) = c.int(2) else {
        return Action::Continue;
    };
    let invalid = alloc::format!("ERR invalid expire time in '{name}' command");
    if seconds {
        if !(i64::MIN / 1000..=i64::MAX / 1000).contains(&when) {
            c.error(&invalid);
            return Action::Continue;
        }
        when *= 1000;
    }
    let basetime = if base == Base::Now {
        c.now_ms as i64
    } else {
        0
    };
    if when > i64::MAX - basetime {
        c.error(&invalid);
        return Action::Continue;
    }
    when += basetime;
    let now = c.now_ms;
    let Some(entry) = s.keyspace.get_mut(cl.db, &c.args[1], now) else {
        reply::integer(c.out, 0);
        return Action::Continue;
    };
    let current = entry.expires_at.map(|t| t as i64);
    let refused = (nx && current.is_some())
        || (xx && current.is_none())
        || (gt && current.is_none_or(|t| when <= t))
        || (lt && current.is_some_and(|t| when >= t));
    if refused {
        reply::integer(c.out, 0);
        return Action::Continue;
    }
    if when <= now as i64 {
        s.keyspace.remove(cl.db, &c.args[1], now);
    } else {
        entry.expires_at = Some(when as u64);
    }
    reply::integer(c.out, 1);
    Action::Continue
}

pub fn expire(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    expire_generic(s, cl, c, Base::Now, true, "expire")
}

pub fn pexpire(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    expire_generic(s, cl, c, Base::Now, false, "pexpire")
}

pub fn expireat(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    expire_generic(s, cl, c, Base::Epoch, true, "expireat")
}

pub fn pexpireat(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    expire_generic(s, cl, c, Base::Epoch, false, "pexpireat")
}

/// Redis's `ttlGenericCommand`: remaining (or absolute) time in seconds or milliseconds.
fn ttl_generic(
    s: &mut Server,
    cl: &mut Client,
    c: &mut Call<'_>,
    ms: bool,
    absolute: bool,
) -> Action {
    let now = c.now_ms;
    let n = match s.keyspace.get(cl.db, &c.args[1], now) {
        None => -2,
        Some(e) => match e.expires_at {
            None => -1,
            Some(t) => {
                let t = if absolute {
                    t as i64
                } else {
                    (t as i64 - now as i64).max(0)
                };
                if ms {
                    t
                } else {
                    ((i128::from(t) + 500) / 1000) as i64
                }
            }
        },
    };
    reply::integer(c.out, n);
    Action::Continue
}

pub fn ttl(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    ttl_generic(s, cl, c, false, false)
}

pub fn pttl(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    ttl_generic(s, cl, c, true, false)
}

pub fn expiretime(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    ttl_generic(s, cl, c, false, true)
}

pub fn pexpiretime(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    ttl_generic(s, cl, c, true, true)
}

pub fn persist(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    let removed = match s.keyspace.get_mut(cl.db, &c.args[1], c.now_ms) {
        Some(e) => e.expires_at.take().is_some(),
        None => false,
    };
    reply::integer(c.out, i64::from(removed));
    Action::Continue
}

pub fn keys(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    let pattern = &c.args[1];
    let all = pattern.as_slice() == b"*";
    let found = s
        .keyspace
        .keys(cl.db, c.now_ms, |k| all || crate::glob::matches(pattern, k));
    reply::array(c.out, found.len());
    for k in &found {
        reply::bulk(c.out, k);
    }
    Action::Continue
}

/// `RENAME` and `RENAMENX`.
fn rename_generic(s: &mut Server, cl: &mut Client, c: &mut Call<'_>, nx: bool) -> Action {
    let now = c.now_ms;
    let (from, to) = (&c.args[1], &c.args[2]);
    if s.keyspace.get(cl.db, from, now).is_none() {
        c.error("ERR no such key");
        return Action::Continue;
    }
    if from == to {
        if nx {
            reply::integer(c.out, 0);
        } else {
            c.ok();
        }
        return Action::Continue;
    }
    if nx && s.keyspace.get(cl.db, to, now).is_some() {
        reply::integer(c.out, 0);
        return Action::Continue;
    }
    let entry = s.keyspace.remove(cl.db, from, now).expect("looked up");
    s.keyspace.put_entry(cl.db, to, entry);
    if nx {
        reply::integer(c.out, 1);
    } else {
        c.ok();
    }
    Action::Continue
}

pub fn rename(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    rename_generic(s, cl, c, false)
}

pub fn renamenx(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    rename_generic(s, cl, c, true)
}

/// A database index argument as Redis reads one (`getIntFromObject`).
fn db_index(c: &mut Call<'_>, at: usize) -> Option<i64> {
    let n = resp::request::parse_i64(&c.args[at]).filter(|n| i32::try_from(*n).is_ok());
    if n.is_none() {
        c.error(NOT_INTEGER);
    }
    n
}

/// `COPY source destination [DB destination-db] [REPLACE]`.
pub fn copy(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    let mut db = cl.db;
    let mut replace = false;
    let mut j = 3;
    while j < c.args.len() {
        let opt = c.args[j].to_ascii_lowercase();
        if opt == b"replace" {
            replace = true;
        } else if opt == b"db" && j + 1 < c.args.len() {
            let Some(n) = db_index(c, j + 1) else {
                return Action::Continue;
            };
            if !(0..DATABASES as i64).contains(&n) {
                c.error(DB_RANGE);
                return Action::Continue;
            }
            db = n as usize;
            j += 1;
        } else {
            c.error(SYNTAX);
            return Action::Continue;
        }
        j += 1;
    }
    let now = c.now_ms;
    let (from, to) = (&c.args[1], &c.args[2]);
    if db == cl.db && from == to {
        c.error("ERR source and destination objects are the same");
        return Action::Continue;
    }
    let Some(entry) = s.keyspace.get(cl.db, from, now).cloned() else {
        reply::integer(c.out, 0);
        return Action::Continue;
    };
    if s.keyspace.get(db, to, now).is_some() && !replace {
        reply::integer(c.out, 0);
        return Action::Continue;
    }
    s.keyspace.put_entry(db, to, entry);
    reply::integer(c.out, 1);
    Action::Continue
}

/// `MOVE key db`.
pub fn move_key(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    let Some(n) = db_index(c, 2) else {
        return Action::Continue;
    };
    if !(0..DATABASES as i64).contains(&n) {
        c.error(DB_RANGE);
        return Action::Continue;
    }
    let db = n as usize;
    if db == cl.db {
        c.error("ERR source and destination objects are the same");
        return Action::Continue;
    }
    let now = c.now_ms;
    let key = &c.args[1];
    if s.keyspace.get(cl.db, key, now).is_none() || s.keyspace.get(db, key, now).is_some() {
        reply::integer(c.out, 0);
        return Action::Continue;
    }
    let entry = s.keyspace.remove(cl.db, key, now).expect("looked up");
    s.keyspace.put_entry(db, key, entry);
    reply::integer(c.out, 1);
    Action::Continue
}

/// `SWAPDB index1 index2`: both indexes are read before either is range-checked.
pub fn swapdb(s: &mut Server, _: &mut Client, c: &mut Call<'_>) -> Action {
    let parse = |a: &[u8]| resp::request::parse_i64(a).filter(|n| i32::try_from(*n).is_ok());
    let Some(a) = parse(&c.args[1]) else {
        c.error("ERR invalid first DB index");
        return Action::Continue;
    };
    let Some(b) = parse(&c.args[2]) else {
        c.error("ERR invalid second DB index");
        return Action::Continue;
    };
    let range = 0..DATABASES as i64;
    if !range.contains(&a) || !range.contains(&b) {
        c.error(DB_RANGE);
        return Action::Continue;
    }
    s.keyspace.swap(a as usize, b as usize);
    c.ok();
    Action::Continue
}
