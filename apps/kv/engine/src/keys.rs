//! Commands on keys of any type, as Redis 7.0 answers them (`db.c`, `expire.c`).

use crate::{Action, Call, Client, Server};
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
                if ms { t } else { (t + 500) / 1000 }
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
