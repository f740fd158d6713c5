//! `OBJECT ENCODING`, `FREQ`, `IDLETIME`, `REFCOUNT` and `HELP`. The encoding is the one
//! Redis 7.0 would pick for the value as it is now, with the thresholds `CONFIG` holds
//! (Redis never converts back, so a hash that once outgrew its listpack still says
//! `hashtable` there; and strings grown by `APPEND` or `SETRANGE` say `raw` there).
//! Access times and frequencies are not tracked: `IDLETIME` and `FREQ` answer 0.

use super::config::Config;
use super::{Subcommand, dispatch, help_reply};
use crate::keyspace::Value;
use crate::{Action, Call, Client, Server};
use resp::reply;

pub(super) const SUBCOMMANDS: &[Subcommand] = &[
    Subcommand::new("encoding", 3, encoding),
    Subcommand::new("freq", 3, freq),
    Subcommand::new("idletime", 3, idletime),
    Subcommand::new("refcount", 3, refcount),
    Subcommand::new("help", 2, help),
];

pub(super) fn object(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    dispatch(s, cl, c, "object", SUBCOMMANDS)
}

/// A string Redis keeps as a number: one that reads back as the same `i64`.
fn is_int(v: &[u8]) -> bool {
    v.len() <= 20 && resp::request::parse_i64(v).is_some()
}

/// A threshold from the configuration, as a length.
fn limit(config: &Config, name: &str) -> usize {
    usize::try_from(config.number(name)).unwrap_or(0)
}

/// Whether Redis keeps a hash of these fields and values as a listpack.
pub(super) fn hash_is_listpack<'a>(
    len: usize,
    mut pairs: impl Iterator<Item = (&'a [u8], &'a [u8])>,
    config: &Config,
) -> bool {
    let value = limit(config, "hash-max-listpack-value");
    len <= limit(config, "hash-max-listpack-entries")
        && pairs.all(|(f, v)| f.len() <= value && v.len() <= value)
}

/// Whether Redis keeps a set of these members as an intset.
pub(super) fn set_is_intset<'a>(
    len: usize,
    mut members: impl Iterator<Item = &'a [u8]>,
    config: &Config,
) -> bool {
    len <= limit(config, "set-max-intset-entries") && members.all(is_int)
}

/// Whether Redis keeps a sorted set of these members as a listpack.
pub(super) fn zset_is_listpack<'a>(
    len: usize,
    mut members: impl Iterator<Item = &'a [u8]>,
    config: &Config,
) -> bool {
    let value = limit(config, "zset-max-listpack-value");
    len <= limit(config, "zset-max-listpack-entries") && members.all(|m| m.len() <= value)
}

/// The encoding Redis 7.0 gives `v` (with `config`'s thresholds), ignoring history.
fn encoding_of(v: &Value, config: &Config) -> &'static str {
    match v {
        Value::Str(s) if is_int(s) => "int",
        Value::Str(s) if s.len() <= 44 => "embstr",
        Value::Str(_) => "raw",
        Value::List(_) => "quicklist",
        Value::Hash(h) => {
            let pairs = h.iter().map(|(f, v)| (f.as_slice(), v.as_slice()));
            if hash_is_listpack(h.len(), pairs, config) {
                "listpack"
            } else {
                "hashtable"
            }
        }
        Value::Set(set) => {
            if set_is_intset(set.len(), set.iter().map(|m| m.as_slice()), config) {
                "intset"
            } else {
                "hashtable"
            }
        }
        Value::ZSet(z) => {
            let members = z.range(0, z.len().saturating_sub(1)).map(|(m, _)| m);
            if zset_is_listpack(z.len(), members, config) {
                "listpack"
            } else {
                "skiplist"
            }
        }
    }
}

/// Runs `f` on the value at `args[2]`, or replies nil.
fn with_value(
    s: &mut Server,
    cl: &Client,
    c: &mut Call<'_>,
    f: impl FnOnce(&Value, &Config, &mut Call<'_>),
) -> Action {
    let Some(entry) = s.keyspace.get(cl.db, &c.args[2], c.now_ms) else {
        reply::null(c.out);
        return Action::Continue;
    };
    f(&entry.value, &s.status.config, c);
    Action::Continue
}

fn encoding(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    with_value(s, cl, c, |v, config, c| {
        reply::bulk(c.out, encoding_of(v, config).as_bytes());
    })
}

fn lfu(config: &Config) -> bool {
    config.text("maxmemory-policy").ends_with("-lfu")
}

fn freq(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    with_value(s, cl, c, |_, config, c| {
        if lfu(config) {
            reply::integer(c.out, 0);
        } else {
            c.error(
                "ERR An LFU maxmemory policy is not selected, access frequency not tracked. \
                 Please note that when switching between policies at runtime LRU and LFU data \
                 will take some time to adjust.",
            );
        }
    })
}

fn idletime(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    with_value(s, cl, c, |_, config, c| {
        if lfu(config) {
            c.error(
                "ERR An LFU maxmemory policy is selected, idle time not tracked. Please note \
                 that when switching between policies at runtime LRU and LFU data will take \
                 some time to adjust.",
            );
        } else {
            reply::integer(c.out, 0);
        }
    })
}

/// Redis shares the objects of the integers 0 to 9999 (unless an LRU or LFU `maxmemory`
/// policy needs each key's own); everything else has one reference.
fn refcount(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    with_value(s, cl, c, |v, config, c| {
        let own_objects = config.number("maxmemory") != 0
            && (config.text("maxmemory-policy").ends_with("-lru") || lfu(config));
        let shared = match v {
            Value::Str(s) => {
                !own_objects
                    && is_int(s)
                    && resp::request::parse_i64(s).is_some_and(|n| (0..10_000).contains(&n))
            }
            _ => false,
        };
        reply::integer(c.out, if shared { i64::from(i32::MAX) } else { 1 });
    })
}

fn help(_: &mut Server, _: &mut Client, c: &mut Call<'_>) -> Action {
    help_reply(
        c,
        &[
            "ENCODING <key>",
            "    Return the kind of internal representation used in order to store the value",
            "    associated with a <key>.",
            "FREQ <key>",
            "    Return the access frequency index of the <key>. The returned integer is",
            "    proportional to the logarithm of the recent access frequency of the key.",
            "IDLETIME <key>",
            "    Return the idle time of the <key>, that is the approximated number of",
            "    seconds elapsed since the last access to the key.",
            "REFCOUNT <key>",
            "    Return the number of references of the value associated with the specified",
            "    <key>.",
        ],
    );
    Action::Continue
}
