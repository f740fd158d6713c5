//! `INCRBYFLOAT` and `HINCRBYFLOAT` (Redis's `t_string.c`, `t_hash.c`), which add in C's
//! `long double` ([`LongDouble`]) and store the sum as `%.17Lf` without trailing zeros; and
//! `GETEX` (`EX`, `PX`, `EXAT`, `PXAT`, `PERSIST`), which reads a string and sets or drops
//! its expiry.

use crate::collections::{Slot, hash, is_hash, slot};
use crate::errors::{SYNTAX, WRONG_TYPE};
use crate::keyspace::{Entry, Value};
use crate::reads::{hash_at, is, wrong_type};
use crate::strings::long_double::LongDouble;
use crate::strings::{Unit, expire_at, unit_of};
use crate::{Action, Call, Client, Server};
use alloc::string::String;
use resp::reply;

const NOT_FLOAT: &str = "ERR value is not a valid float";
const NOT_FINITE: &str = "ERR increment would produce NaN or Infinity";

/// `INCRBYFLOAT key increment`: the key's type, then its value, then the increment are
/// checked; the sum keeps the key's expiry.
pub fn incrbyfloat(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    let (db, now) = (cl.db, c.now_ms);
    let (current, expires_at) = match s.keyspace.get(db, &c.args[1], now) {
        None => (LongDouble::ZERO, None),
        Some(Entry {
            value: Value::Str(v),
            expires_at,
            ..
        }) => match LongDouble::parse(v) {
            Some(x) => (x, *expires_at),
            None => {
                c.error(NOT_FLOAT);
                return Action::Continue;
            }
        },
        Some(_) => return wrong_type(c),
    };
    let Some(by) = LongDouble::parse(&c.args[2]) else {
        c.error(NOT_FLOAT);
        return Action::Continue;
    };
    let Some(text) = sum_text(current, by) else {
        c.error(NOT_FINITE);
        return Action::Continue;
    };
    reply::bulk(c.out, text.as_bytes());
    s.keyspace
        .set(db, &c.args[1], Value::Str(text.into_bytes()), expires_at);
    Action::Continue
}

/// `a + b` as Redis stores it, or `None` if it is not finite.
fn sum_text(a: LongDouble, b: LongDouble) -> Option<String> {
    let sum = a.add(b);
    sum.is_finite().then(|| sum.human())
}

/// `HINCRBYFLOAT key field increment`: the increment is read (and must be finite) before
/// the key is looked up.
pub fn hincrbyfloat(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    let (db, now) = (cl.db, c.now_ms);
    let Some(by) = LongDouble::parse(&c.args[3]) else {
        c.error(NOT_FLOAT);
        return Action::Continue;
    };
    if !by.is_finite() {
        c.error("ERR value is NaN or Infinity");
        return Action::Continue;
    }
    let current = match slot(s, db, &c.args[1], now, is_hash) {
        Slot::WrongType => return wrong_type(c),
        Slot::Missing => None,
        Slot::Found => hash_at(s, db, &c.args[1], now)
            .ok()
            .flatten()
            .and_then(|h| h.iter().find(|(f, _)| *f == c.args[2]))
            .map(|(_, v)| LongDouble::parse(v)),
    };
    let current = match current {
        None => LongDouble::ZERO,
        Some(Some(x)) => x,
        Some(None) => {
            c.error("ERR hash value is not a float");
            return Action::Continue;
        }
    };
    let Some(text) = sum_text(current, by) else {
        c.error(NOT_FINITE);
        return Action::Continue;
    };
    reply::bulk(c.out, text.as_bytes());
    hash(s, db, &c.args[1], now).set(&c.args[2], text.into_bytes());
    Action::Continue
}

/// What `GETEX` does to the expiry.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Expiry {
    Keep,
    Persist,
    /// `EX`, `PX`, `EXAT` or `PXAT`, and the index of its argument.
    Set(Unit, usize),
}

/// `GETEX key [EX seconds|PX milliseconds|EXAT unix-time|PXAT unix-time-ms|PERSIST]`:
/// options (Redis's `parseExtendedStringArgumentsOrReply`), then the key (nil if missing,
/// before the time is read), its type, and the time; an absolute time already past
/// removes the key after its value is replied.
pub fn getex(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    let (db, now) = (cl.db, c.now_ms);
    let mut expiry = Expiry::Keep;
    let mut j = 2;
    while j < c.args.len() {
        let opt = &c.args[j];
        let has_next = j + 1 < c.args.len();
        if is(opt, "persist") && matches!(expiry, Expiry::Keep | Expiry::Persist) {
            expiry = Expiry::Persist;
        } else if let Some(unit) = unit_of(opt).filter(|&u| {
            // The same unit again is allowed (the last one counts), as in Redis.
            has_next && (expiry == Expiry::Keep || matches!(expiry, Expiry::Set(p, _) if p == u))
        }) {
            expiry = Expiry::Set(unit, j + 1);
            j += 1;
        } else {
            c.error(SYNTAX);
            return Action::Continue;
        }
        j += 1;
    }
    let old_expiry = match s.keyspace.get(db, &c.args[1], now) {
        None => {
            reply::null(c.out);
            return Action::Continue;
        }
        Some(Entry {
            value: Value::Str(_),
            expires_at,
            ..
        }) => *expires_at,
        Some(_) => {
            c.error(WRONG_TYPE);
            return Action::Continue;
        }
    };
    let at = match expiry {
        Expiry::Set(unit, arg) => match expire_at(&c.args[arg], unit, now, "getex") {
            Ok(t) => Some((unit, t)),
            Err(e) => {
                c.error(&e);
                return Action::Continue;
            }
        },
        _ => None,
    };
    if let Some(Entry {
        value: Value::Str(v),
        ..
    }) = s.keyspace.get(db, &c.args[1], now)
    {
        reply::bulk(c.out, v);
    }
    match (expiry, at) {
        (_, Some((Unit::ExAt | Unit::PxAt, t))) if t <= now => {
            s.keyspace.remove(db, &c.args[1], now);
        }
        (_, Some((_, t))) => set_expiry(s, db, &c.args[1], now, Some(t)),
        (Expiry::Persist, _) if old_expiry.is_some() => {
            set_expiry(s, db, &c.args[1], now, None);
        }
        _ => {}
    }
    Action::Continue
}

fn set_expiry(s: &mut Server, db: usize, key: &[u8], now: u64, at: Option<u64>) {
    if let Some(e) = s.keyspace.get_mut(db, key, now) {
        e.expires_at = at;
    }
}
