//! `CONFIG GET`, `CONFIG SET`, `CONFIG RESETSTAT` and `CONFIG HELP` over the parameters
//! clients and tools ask for, with Redis 7.0's defaults, aliases, validation and error
//! texts. Most are only kept and reported; the listpack thresholds shape what `OBJECT
//! ENCODING` reports, and the persistence ones come from [`Persistence`](super::Persistence)
//! and the port from [`Server::start`], none of which `CONFIG SET` changes.

use super::{Durability, Subcommand, dispatch, help_reply};
use crate::errors::SYNTAX;
use crate::{Action, Call, Client, Server};
use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;
use resp::reply;

/// How a parameter's value is read and checked.
#[derive(Clone, Copy)]
enum Kind {
    Bool,
    Int(i64, i64),
    /// Unsigned: the range is printed as such.
    Size(i64, i64),
    /// Bytes, with `kb`/`mb`/`gb` (and `k`/`m`/`g`) suffixes.
    Memory(i64, i64),
    Enum(&'static [&'static str]),
    /// Fixed when Redis starts, as here.
    Fixed,
    /// Settable in Redis, but here the app's: `CONFIG SET` only accepts the value it has.
    Owned,
}

struct Param {
    name: &'static str,
    alias: Option<&'static str>,
    default: &'static str,
    kind: Kind,
}

const fn p(name: &'static str, default: &'static str, kind: Kind) -> Param {
    Param {
        name,
        alias: None,
        default,
        kind,
    }
}

const fn aliased(
    name: &'static str,
    alias: &'static str,
    default: &'static str,
    kind: Kind,
) -> Param {
    Param {
        name,
        alias: Some(alias),
        default,
        kind,
    }
}

const INT: Kind = Kind::Int(0, i32::MAX as i64);
const SIZE: Kind = Kind::Size(0, i64::MAX);
const POLICIES: &[&str] = &[
    "volatile-lru",
    "volatile-lfu",
    "volatile-random",
    "volatile-ttl",
    "allkeys-lru",
    "allkeys-lfu",
    "allkeys-random",
    "noeviction",
];

/// The parameters, with Redis 7.0's defaults. `port`, `appendonly`, `appendfsync`, `dir`
/// and `save` are reported from the server's state instead.
const PARAMS: &[Param] = &[
    p("port", "6379", Kind::Owned),
    p("bind", "* -::*", Kind::Owned),
    p("databases", "16", Kind::Fixed),
    p("appendonly", "no", Kind::Owned),
    p("appendfsync", "everysec", Kind::Owned),
    p("dir", "/", Kind::Owned),
    p("save", "", Kind::Owned),
    p("daemonize", "no", Kind::Fixed),
    p("supervised", "no", Kind::Fixed),
    p("cluster-enabled", "no", Kind::Fixed),
    p("io-threads", "1", Kind::Fixed),
    p("requirepass", "", Kind::Owned),
    p("logfile", "", Kind::Owned),
    p("timeout", "0", INT),
    p("tcp-keepalive", "300", INT),
    p("hz", "10", INT),
    p("maxclients", "10000", Kind::Size(1, u32::MAX as i64)),
    p("maxmemory", "0", Kind::Memory(0, i64::MAX)),
    p("maxmemory-policy", "noeviction", Kind::Enum(POLICIES)),
    p("maxmemory-samples", "5", Kind::Int(1, i32::MAX as i64)),
    p(
        "loglevel",
        "notice",
        Kind::Enum(&["debug", "verbose", "notice", "warning"]),
    ),
    p("protected-mode", "yes", Kind::Bool),
    p("stop-writes-on-bgsave-error", "yes", Kind::Bool),
    p("activerehashing", "yes", Kind::Bool),
    p("lazyfree-lazy-eviction", "no", Kind::Bool),
    p("lazyfree-lazy-expire", "no", Kind::Bool),
    p("lazyfree-lazy-server-del", "no", Kind::Bool),
    p("lazyfree-lazy-user-del", "no", Kind::Bool),
    p("lazyfree-lazy-user-flush", "no", Kind::Bool),
    aliased("replica-read-only", "slave-read-only", "yes", Kind::Bool),
    aliased(
        "hash-max-listpack-entries",
        "hash-max-ziplist-entries",
        "512",
        SIZE,
    ),
    aliased(
        "hash-max-listpack-value",
        "hash-max-ziplist-value",
        "64",
        Kind::Memory(0, i64::MAX),
    ),
    aliased(
        "zset-max-listpack-entries",
        "zset-max-ziplist-entries",
        "128",
        SIZE,
    ),
    aliased(
        "zset-max-listpack-value",
        "zset-max-ziplist-value",
        "64",
        Kind::Memory(0, i64::MAX),
    ),
    p("set-max-intset-entries", "512", SIZE),
    aliased(
        "list-max-listpack-size",
        "list-max-ziplist-size",
        "-2",
        Kind::Int(i32::MIN as i64, i32::MAX as i64),
    ),
    p("list-compress-depth", "0", INT),
    p(
        "proto-max-bulk-len",
        "536870912",
        Kind::Memory(1024 * 1024, i64::MAX),
    ),
    p(
        "client-query-buffer-limit",
        "1073741824",
        Kind::Memory(1024 * 1024, i64::MAX),
    ),
    p("slowlog-log-slower-than", "10000", Kind::Int(-1, i64::MAX)),
    p("slowlog-max-len", "128", SIZE),
    p("lfu-log-factor", "10", INT),
    p("lfu-decay-time", "1", INT),
];

/// The values `CONFIG SET` changed (by canonical name); the rest are at their defaults.
#[derive(Debug, Default)]
pub(super) struct Config {
    set: BTreeMap<&'static str, String>,
}

impl Config {
    fn value(&self, p: &Param) -> &str {
        self.set.get(p.name).map_or(p.default, String::as_str)
    }

    /// The numeric parameter `name` (a known one, always valid).
    pub(super) fn number(&self, name: &str) -> i64 {
        let p = param(name).expect("a known parameter");
        self.value(p).parse().unwrap_or(0)
    }

    pub(super) fn text(&self, name: &str) -> &str {
        self.value(param(name).expect("a known parameter"))
    }
}

fn param(name: &str) -> Option<&'static Param> {
    named(name).map(|(p, _)| p)
}

/// The parameter `name` names, and whether by its alias (Redis keeps an alias as a
/// parameter of its own, so `CONFIG SET` may set both names at once).
fn named(name: &str) -> Option<(&'static Param, bool)> {
    PARAMS.iter().find_map(|p| {
        if p.name.eq_ignore_ascii_case(name) {
            Some((p, false))
        } else {
            p.alias
                .is_some_and(|a| a.eq_ignore_ascii_case(name))
                .then_some((p, true))
        }
    })
}

/// A parameter's value now: most from the configuration, a few from the server's state.
fn current(s: &Server, p: &Param) -> String {
    let persistence = &s.persistence;
    match p.name {
        "port" => alloc::format!("{}", s.status.port()),
        "appendonly" => String::from(if persistence.durability == Durability::None {
            "no"
        } else {
            "yes"
        }),
        "appendfsync" => String::from(if persistence.durability == Durability::Durable {
            "always"
        } else {
            "everysec"
        }),
        "dir" => persistence
            .disk
            .clone()
            .unwrap_or_else(|| String::from("/")),
        _ => String::from(s.status.config.value(p)),
    }
}

pub(super) const SUBCOMMANDS: &[Subcommand] = &[
    Subcommand::new("get", -3, get),
    Subcommand::new("set", -4, set),
    Subcommand::new("resetstat", 2, resetstat),
    Subcommand::new("rewrite", 2, rewrite),
    Subcommand::new("help", 2, help),
];

pub(super) fn config(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    dispatch(s, cl, c, "config", SUBCOMMANDS)
}

/// `CONFIG GET parameter [parameter ...]`: exact names (or aliases) as given, and glob
/// patterns matched against every name, case-insensitively.
fn get(s: &mut Server, _: &mut Client, c: &mut Call<'_>) -> Action {
    let mut found: Vec<(String, &'static Param)> = Vec::new();
    for arg in &c.args[2..] {
        let text = String::from_utf8_lossy(arg);
        if !arg.iter().any(|b| matches!(b, b'[' | b'*' | b'?')) {
            if let Some(p) = param(&text)
                && !found.iter().any(|(n, _)| n.eq_ignore_ascii_case(&text))
            {
                found.push((text.into_owned(), p));
            }
            continue;
        }
        let pattern = arg.to_ascii_lowercase();
        for p in PARAMS {
            for name in core::iter::once(p.name).chain(p.alias) {
                if crate::glob::matches(&pattern, name.as_bytes())
                    && !found.iter().any(|(n, _)| n.eq_ignore_ascii_case(name))
                {
                    found.push((String::from(name), p));
                }
            }
        }
    }
    reply::array(c.out, 2 * found.len());
    for (name, p) in found {
        reply::bulk(c.out, name.as_bytes());
        reply::bulk(c.out, current(s, p).as_bytes());
    }
    Action::Continue
}

/// `CONFIG SET parameter value [parameter value ...]`: all or nothing.
fn set(s: &mut Server, _: &mut Client, c: &mut Call<'_>) -> Action {
    if c.args.len() % 2 == 1 {
        c.error(SYNTAX);
        return Action::Continue;
    }
    let pairs: Vec<(&[u8], &[u8])> = c.args[2..]
        .chunks(2)
        .map(|p| (p[0].as_slice(), p[1].as_slice()))
        .collect();
    let failed = |c: &mut Call<'_>, name: &str, why: &str| {
        c.error(&alloc::format!(
            "ERR CONFIG SET failed (possibly related to argument '{name}') - {why}"
        ));
        Action::Continue
    };
    // The names, in order: the first unknown, fixed or repeated one is the error.
    let mut params = Vec::with_capacity(pairs.len());
    let mut identities = Vec::with_capacity(pairs.len());
    for (name, value) in &pairs {
        let name = String::from_utf8_lossy(name);
        let Some((p, by_alias)) = named(&name) else {
            c.error(&alloc::format!(
                "ERR Unknown option or number of arguments for CONFIG SET - '{name}'"
            ));
            return Action::Continue;
        };
        let refused = match p.kind {
            Kind::Fixed => true,
            Kind::Owned => current(s, p).as_bytes() != *value,
            _ => false,
        };
        if refused {
            return failed(c, &name, "can't set immutable config");
        }
        // Redis keeps an alias as a parameter of its own: both names may be set at once.
        if identities.contains(&(p.name, by_alias)) {
            return failed(c, &name, "duplicate parameter");
        }
        params.push(p);
        identities.push((p.name, by_alias));
    }
    let mut values = Vec::with_capacity(params.len());
    for (p, (_, value)) in params.iter().zip(&pairs) {
        match normalize(p.kind, value) {
            Ok(v) => values.push(v),
            Err(why) => return failed(c, p.name, &why),
        }
    }
    for (p, v) in params.iter().zip(values) {
        if !matches!(p.kind, Kind::Fixed | Kind::Owned) {
            s.status.config.set.insert(p.name, v);
        }
    }
    c.ok();
    Action::Continue
}

/// `value` checked against `kind` and written as `CONFIG GET` shows it, or why not.
fn normalize(kind: Kind, value: &[u8]) -> Result<String, String> {
    let text = String::from_utf8_lossy(value);
    let range = |v: i64, min: i64, max: i64, unsigned: bool| {
        if unsigned && v < 0 {
            // Redis compares as unsigned: a negative number is above the range.
            return Err(alloc::format!(
                "argument must be between {min} and {max} inclusive"
            ));
        }
        if (min..=max).contains(&v) {
            Ok(alloc::format!("{v}"))
        } else {
            Err(alloc::format!(
                "argument must be between {min} and {max} inclusive"
            ))
        }
    };
    match kind {
        Kind::Fixed | Kind::Owned => Ok(text.into_owned()),
        Kind::Bool => match text.to_ascii_lowercase().as_str() {
            v @ ("yes" | "no") => Ok(String::from(v)),
            _ => Err(String::from("argument must be 'yes' or 'no'")),
        },
        Kind::Int(min, max) | Kind::Size(min, max) => match resp::request::parse_i64(value) {
            Some(v) => range(v, min, max, matches!(kind, Kind::Size(..))),
            None => Err(String::from("argument couldn't be parsed into an integer")),
        },
        Kind::Memory(min, max) => match memory(&text) {
            Some(v) => range(v, min, max, true),
            None => Err(String::from("argument must be a memory value")),
        },
        Kind::Enum(names) => {
            let lower = text.to_ascii_lowercase();
            match names.iter().find(|n| **n == lower) {
                Some(n) => Ok(String::from(*n)),
                None => Err(alloc::format!(
                    "argument(s) must be one of the following: {}",
                    names.join(", ")
                )),
            }
        }
    }
}

/// Redis's `memtoull`: digits and an optional unit (`b`, `k`, `kb`, `m`, `mb`, `g`, `gb`).
fn memory(text: &str) -> Option<i64> {
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    let unit: i64 = match text[digits..].to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" => 1000,
        "kb" => 1024,
        "m" => 1000 * 1000,
        "mb" => 1024 * 1024,
        "g" => 1000 * 1000 * 1000,
        "gb" => 1024 * 1024 * 1024,
        _ => return None,
    };
    if digits == 0 {
        // C's strtoull reads nothing as 0.
        return Some(0);
    }
    let n: i64 = text[..digits].parse().ok()?;
    n.checked_mul(unit)
}

/// `CONFIG RESETSTAT`: the counters `INFO` shows start again.
fn resetstat(s: &mut Server, _: &mut Client, c: &mut Call<'_>) -> Action {
    s.status.commands_processed = 0;
    s.status.connections_received = 0;
    s.status.calls.clear();
    c.ok();
    Action::Continue
}

/// `CONFIG REWRITE`: there is no configuration file to write.
fn rewrite(_: &mut Server, _: &mut Client, c: &mut Call<'_>) -> Action {
    c.error("ERR The server is running without a config file");
    Action::Continue
}

fn help(_: &mut Server, _: &mut Client, c: &mut Call<'_>) -> Action {
    help_reply(
        c,
        &[
            "GET <pattern>",
            "    Return parameters matching the glob-like <pattern> and their values.",
            "SET <directive> <value>",
            "    Set the configuration <directive> to <value>.",
            "RESETSTAT",
            "    Reset statistics reported by the INFO command.",
            "REWRITE",
            "    Rewrite the configuration file.",
        ],
    );
    Action::Continue
}
