//! String commands, as Redis 7.0 answers them (`t_string.c`); [`floats`]: floats as C
//! reads them, [`long_double`]: the extended precision of `INCRBYFLOAT`.

pub(crate) mod floats;
pub(crate) mod long_double;

use crate::errors::{NOT_INTEGER, OVERFLOW, SYNTAX, WRONG_TYPE};
use crate::keyspace::{Entry, Value};
use crate::{Action, Call, Client, Server};
use alloc::string::String;
use alloc::vec::Vec;
use resp::reply;

/// The longest string a value may grow to (`proto-max-bulk-len`).
pub const MAX_STRING: u64 = 512 * 1024 * 1024;

const TOO_BIG: &str = "ERR string exceeds maximum allowed size (proto-max-bulk-len)";

/// `key`'s string, `Ok(None)` if it has no value, `Err` if it holds another type.
fn string<'a>(
    s: &'a mut Server,
    db: usize,
    key: &[u8],
    now: u64,
) -> Result<Option<&'a Vec<u8>>, ()> {
    match s.keyspace.get(db, key, now) {
        None => Ok(None),
        Some(Entry {
            value: Value::Str(v),
            ..
        }) => Ok(Some(v)),
        Some(_) => Err(()),
    }
}

pub fn get(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    match string(s, cl.db, &c.args[1], c.now_ms) {
        Ok(Some(v)) => reply::bulk(c.out, v),
        Ok(None) => reply::null(c.out),
        Err(()) => c.error(WRONG_TYPE),
    }
    Action::Continue
}

/// How a `SET` sets.
#[derive(Clone, Copy, Debug, Default)]
struct SetFlags {
    nx: bool,
    xx: bool,
    get: bool,
    keepttl: bool,
    /// `EX`, `PX`, `EXAT` or `PXAT`, and the index of its argument.
    expire: Option<(Unit, usize)>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Unit {
    Ex,
    Px,
    ExAt,
    PxAt,
}

/// The expiry option `opt` names, if any.
pub(crate) fn unit_of(opt: &[u8]) -> Option<Unit> {
    [
        ("ex", Unit::Ex),
        ("px", Unit::Px),
        ("exat", Unit::ExAt),
        ("pxat", Unit::PxAt),
    ]
    .into_iter()
    .find(|(name, _)| eq(opt, name))
    .map(|(_, u)| u)
}

fn eq(a: &[u8], b: &str) -> bool {
    a.eq_ignore_ascii_case(b.as_bytes())
}

/// Parses `SET`'s options from `args[3..]` (Redis's `parseExtendedStringArgumentsOrReply`).
fn set_flags(args: &[Vec<u8>]) -> Option<SetFlags> {
    let mut f = SetFlags::default();
    let mut j = 3;
    while j < args.len() {
        let opt = &args[j];
        let has_next = j + 1 < args.len();
        if eq(opt, "nx") && !f.xx {
            f.nx = true;
        } else if eq(opt, "xx") && !f.nx {
            f.xx = true;
        } else if eq(opt, "get") {
            f.get = true;
        } else if eq(opt, "keepttl") && f.expire.is_none() {
            f.keepttl = true;
        } else if let Some(unit) =
            unit_of(opt).filter(|&u| !f.keepttl && has_next && f.expire.is_none_or(|(p, _)| p == u))
        {
            f.expire = Some((unit, j + 1));
            j += 1;
        } else {
            return None;
        }
        j += 1;
    }
    Some(f)
}

/// The absolute expiry time for `value` in `unit` (Redis's `getExpireMillisecondsOrReply`):
/// `Err` with the reply to give.
pub(crate) fn expire_at(value: &[u8], unit: Unit, now: u64, command: &str) -> Result<u64, String> {
    let invalid = || alloc::format!("ERR invalid expire time in '{command}' command");
    let n = resp::request::parse_i64(value).ok_or_else(|| String::from(NOT_INTEGER))?;
    let seconds = matches!(unit, Unit::Ex | Unit::ExAt);
    if n <= 0 || (seconds && n > i64::MAX / 1000) {
        return Err(invalid());
    }
    let mut ms = if seconds { n * 1000 } else { n };
    if matches!(unit, Unit::Ex | Unit::Px) {
        ms = ms.checked_add(now as i64).ok_or_else(invalid)?;
    }
    if ms <= 0 {
        return Err(invalid());
    }
    Ok(ms as u64)
}

/// Redis's `setGenericCommand`.
fn set_generic(
    s: &mut Server,
    db: usize,
    c: &mut Call<'_>,
    key_at: usize,
    value_at: usize,
    flags: SetFlags,
    expires: Option<u64>,
) {
    let now = c.now_ms;
    let key = &c.args[key_at];
    if flags.get {
        match string(s, db, key, now) {
            Ok(Some(v)) => reply::bulk(c.out, v),
            Ok(None) => reply::null(c.out),
            Err(()) => return c.error(WRONG_TYPE),
        }
    }
    let old = s.keyspace.get(db, key, now).map(|e| e.expires_at);
    if (flags.nx && old.is_some()) || (flags.xx && old.is_none()) {
        if !flags.get {
            reply::null(c.out);
        }
        return;
    }
    let ttl = match expires {
        Some(t) => Some(t),
        None if flags.keepttl => old.flatten(),
        None => None,
    };
    s.keyspace
        .set(db, key, Value::Str(c.args[value_at].clone()), ttl);
    if !flags.get {
        c.ok();
    }
}

pub fn set(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    let Some(flags) = set_flags(c.args) else {
        c.error(SYNTAX);
        return Action::Continue;
    };
    let expires = match flags.expire {
        None => None,
        Some((unit, at)) => match expire_at(&c.args[at], unit, c.now_ms, "set") {
            Ok(t) => Some(t),
            Err(e) => {
                c.error(&e);
                return Action::Continue;
            }
        },
    };
    set_generic(s, cl.db, c, 1, 2, flags, expires);
    Action::Continue
}

pub fn setnx(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    let exists = s.keyspace.get(cl.db, &c.args[1], c.now_ms).is_some();
    if !exists {
        s.keyspace
            .set(cl.db, &c.args[1], Value::Str(c.args[2].clone()), None);
    }
    reply::integer(c.out, i64::from(!exists));
    Action::Continue
}

fn setex_generic(
    s: &mut Server,
    cl: &mut Client,
    c: &mut Call<'_>,
    unit: Unit,
    name: &str,
) -> Action {
    match expire_at(&c.args[2], unit, c.now_ms, name) {
        Ok(t) => set_generic(s, cl.db, c, 1, 3, SetFlags::default(), Some(t)),
        Err(e) => c.error(&e),
    }
    Action::Continue
}

pub fn setex(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    setex_generic(s, cl, c, Unit::Ex, "setex")
}

pub fn psetex(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    setex_generic(s, cl, c, Unit::Px, "psetex")
}

pub fn getset(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    let flags = SetFlags {
        get: true,
        ..SetFlags::default()
    };
    set_generic(s, cl.db, c, 1, 2, flags, None);
    Action::Continue
}

pub fn getdel(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    match string(s, cl.db, &c.args[1], c.now_ms) {
        Ok(Some(v)) => {
            reply::bulk(c.out, v);
            s.keyspace.remove(cl.db, &c.args[1], c.now_ms);
        }
        Ok(None) => reply::null(c.out),
        Err(()) => c.error(WRONG_TYPE),
    }
    Action::Continue
}

pub fn mget(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    reply::array(c.out, c.args.len() - 1);
    for key in &c.args[1..] {
        match string(s, cl.db, key, c.now_ms) {
            Ok(Some(v)) => reply::bulk(c.out, v),
            _ => reply::null(c.out),
        }
    }
    Action::Continue
}

fn mset_generic(s: &mut Server, cl: &mut Client, c: &mut Call<'_>, nx: bool) -> Action {
    let name = if nx { "msetnx" } else { "mset" };
    if c.args.len().is_multiple_of(2) {
        c.error(&alloc::format!(
            "ERR wrong number of arguments for '{name}' command"
        ));
        return Action::Continue;
    }
    if nx
        && c.args[1..]
            .iter()
            .step_by(2)
            .any(|k| s.keyspace.get(cl.db, k, c.now_ms).is_some())
    {
        reply::integer(c.out, 0);
        return Action::Continue;
    }
    for pair in c.args[1..].chunks(2) {
        s.keyspace
            .set(cl.db, &pair[0], Value::Str(pair[1].clone()), None);
    }
    if nx {
        reply::integer(c.out, 1);
    } else {
        c.ok();
    }
    Action::Continue
}

pub fn mset(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    mset_generic(s, cl, c, false)
}

pub fn msetnx(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    mset_generic(s, cl, c, true)
}

/// A stored string as an integer, as `getLongLongFromObject` reads it.
fn stored_int(v: &[u8]) -> Option<i64> {
    if v.len() > 20 {
        return None;
    }
    resp::request::parse_i64(v)
}

fn incr_by(s: &mut Server, cl: &mut Client, c: &mut Call<'_>, by: i64) -> Action {
    let now = c.now_ms;
    let key = &c.args[1];
    let (current, ttl) = match s.keyspace.get(cl.db, key, now) {
        None => (0, None),
        Some(Entry {
            value: Value::Str(v),
            expires_at,
            ..
        }) => match stored_int(v) {
            Some(n) => (n, *expires_at),
            None => {
                c.error(NOT_INTEGER);
                return Action::Continue;
            }
        },
        Some(_) => {
            c.error(WRONG_TYPE);
            return Action::Continue;
        }
    };
    let Some(next) = current.checked_add(by) else {
        c.error(OVERFLOW);
        return Action::Continue;
    };
    s.keyspace.set(
        cl.db,
        key,
        Value::Str(alloc::format!("{next}").into_bytes()),
        ttl,
    );
    reply::integer(c.out, next);
    Action::Continue
}

pub fn incr(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    incr_by(s, cl, c, 1)
}

pub fn decr(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    incr_by(s, cl, c, -1)
}

pub fn incrby(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    match c.int(2) {
        Some(by) => incr_by(s, cl, c, by),
        None => Action::Continue,
    }
}

pub fn decrby(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    match c.int(2) {
        Some(i64::MIN) => {
            c.error("ERR decrement would overflow");
            Action::Continue
        }
        Some(by) => incr_by(s, cl, c, -by),
        None => Action::Continue,
    }
}

pub fn append(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    let now = c.now_ms;
    let key = &c.args[1];
    let add = &c.args[2];
    match s.keyspace.get_mut(cl.db, key, now) {
        None => {
            s.keyspace.set(cl.db, key, Value::Str(add.clone()), None);
            reply::integer(c.out, add.len() as i64);
        }
        Some(Entry {
            value: Value::Str(v),
            ..
        }) => {
            if (v.len() + add.len()) as u64 > MAX_STRING {
                c.error(TOO_BIG);
            } else {
                v.extend_from_slice(add);
                reply::integer(c.out, v.len() as i64);
            }
        }
        Some(_) => c.error(WRONG_TYPE),
    }
    Action::Continue
}

pub fn strlen(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    match string(s, cl.db, &c.args[1], c.now_ms) {
        Ok(v) => reply::integer(c.out, v.map_or(0, Vec::len) as i64),
        Err(()) => c.error(WRONG_TYPE),
    }
    Action::Continue
}

pub fn getrange(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    let Some(mut start) = c.int(2) else {
        return Action::Continue;
    };
    let Some(mut end) = c.int(3) else {
        return Action::Continue;
    };
    let v = match string(s, cl.db, &c.args[1], c.now_ms) {
        Ok(Some(v)) => v,
        Ok(None) => {
            reply::bulk(c.out, b"");
            return Action::Continue;
        }
        Err(()) => {
            c.error(WRONG_TYPE);
            return Action::Continue;
        }
    };
    let len = v.len() as i64;
    if start < 0 && end < 0 && start > end {
        reply::bulk(c.out, b"");
        return Action::Continue;
    }
    if start < 0 {
        start += len;
    }
    if end < 0 {
        end += len;
    }
    start = start.max(0);
    end = end.max(0);
    if end >= len {
        end = len - 1;
    }
    if start > end || len == 0 {
        reply::bulk(c.out, b"");
    } else {
        reply::bulk(c.out, &v[start as usize..=end as usize]);
    }
    Action::Continue
}

pub fn setrange(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    let Some(offset) = c.int(2) else {
        return Action::Continue;
    };
    let now = c.now_ms;
    let key = &c.args[1];
    let add = &c.args[3];
    if offset < 0 {
        c.error("ERR offset is out of range");
        return Action::Continue;
    }
    let current = match s.keyspace.get_mut(cl.db, key, now) {
        None => None,
        Some(Entry {
            value: Value::Str(v),
            ..
        }) => Some(v),
        Some(_) => {
            c.error(WRONG_TYPE);
            return Action::Continue;
        }
    };
    let existing = current.as_ref().map_or(0, |v| v.len());
    if add.is_empty() {
        reply::integer(c.out, existing as i64);
        return Action::Continue;
    }
    if offset as u64 + add.len() as u64 > MAX_STRING {
        c.error(TOO_BIG);
        return Action::Continue;
    }
    let end = offset as usize + add.len();
    let v = match current {
        Some(v) => v,
        None => {
            s.keyspace.set(cl.db, key, Value::Str(Vec::new()), None);
            match s.keyspace.get_mut(cl.db, key, now) {
                Some(Entry {
                    value: Value::Str(v),
                    ..
                }) => v,
                _ => unreachable!("just set"),
            }
        }
    };
    if v.len() < end {
        v.resize(end, 0);
    }
    v[offset as usize..end].copy_from_slice(add);
    reply::integer(c.out, v.len() as i64);
    Action::Continue
}
