//! The command engine of `apps/kv`: what a Redis 7.0 server does with a parsed command,
//! as plain Rust that builds and is tested on the host. The server app is a loop of socket
//! reads and writes around [`Server::execute`].
//!
//! - [`keyspace`]: 16 databases of keys with values and expiry times (lazy expiry on access).
//! - [`strings`]: `GET`, `SET` and its options, `INCR` and friends, ranges, `MGET`/`MSET`...
//! - [`keys`]: `DEL`, `EXISTS`, `TYPE`, the `EXPIRE` family, `TTL`, `KEYS` (glob), ...
//! - [`collections`]: the core list, hash and set commands; [`zsets`] (over [`zset`]): the
//!   core sorted-set commands.
//! - this module: the command table (arity, names), connection commands (`PING`, `ECHO`,
//!   `SELECT`, `QUIT`, ...) and the error texts shared by all.
//!
//! Replies and errors are byte for byte Redis's; the time is passed in (milliseconds since
//! the Unix epoch), so expiry is tested with a fake clock.

#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod collections;
pub mod glob;
pub mod keys;
pub mod keyspace;
pub mod strings;
pub mod zset;
pub mod zsets;

use alloc::string::String;
use alloc::vec::Vec;
use keyspace::Keyspace;
use resp::reply;

/// Redis's error texts used by more than one command.
pub mod errors {
    pub const WRONG_TYPE: &str =
        "WRONGTYPE Operation against a key holding the wrong kind of value";
    pub const NOT_INTEGER: &str = "ERR value is not an integer or out of range";
    pub const OVERFLOW: &str = "ERR increment or decrement would overflow";
    pub const SYNTAX: &str = "ERR syntax error";
    pub const DB_RANGE: &str = "ERR DB index is out of range";
}

/// Databases `SELECT` can choose from.
pub const DATABASES: usize = 16;

/// One connection's state.
#[derive(Clone, Debug, Default)]
pub struct Client {
    pub id: u64,
    pub db: usize,
    pub name: Option<Vec<u8>>,
    /// Commands queued since `MULTI`, if a transaction is open.
    pub multi: Option<Vec<Vec<Vec<u8>>>>,
    /// A command was refused while queueing: `EXEC` will abort.
    pub multi_dirty: bool,
}

/// What the connection does after a command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Continue,
    /// Send the reply, then close (`QUIT`).
    Close,
}

/// The server's data.
#[derive(Debug)]
pub struct Server {
    pub keyspace: Keyspace,
    /// State of the generator behind random picks (`SPOP`).
    random: u64,
}

impl Default for Server {
    fn default() -> Self {
        Self::new()
    }
}

/// A command's arguments (`args[0]` is its name) and where its reply goes.
pub struct Call<'a> {
    pub args: &'a [Vec<u8>],
    pub out: &'a mut Vec<u8>,
    /// Milliseconds since the Unix epoch.
    pub now_ms: u64,
}

impl Call<'_> {
    pub fn error(&mut self, message: &str) {
        reply::error(self.out, message);
    }

    pub fn ok(&mut self) {
        reply::simple(self.out, "OK");
    }

    /// Argument `i` parsed as Redis parses integers (`ERR value is not an integer` otherwise).
    pub fn int(&mut self, i: usize) -> Option<i64> {
        let v = resp::request::parse_i64(&self.args[i]);
        if v.is_none() {
            self.error(errors::NOT_INTEGER);
        }
        v
    }
}

/// `name`'s arity as Redis states it: `n` exactly `n` arguments (name included), `-n` at
/// least `n`.
struct Command {
    name: &'static str,
    arity: i32,
    run: fn(&mut Server, &mut Client, &mut Call<'_>) -> Action,
}

const COMMANDS: &[Command] = &[
    Command {
        name: "multi",
        arity: 1,
        run: multi,
    },
    Command {
        name: "exec",
        arity: 1,
        run: exec,
    },
    Command {
        name: "discard",
        arity: 1,
        run: discard,
    },
    Command {
        name: "ping",
        arity: -1,
        run: ping,
    },
    Command {
        name: "echo",
        arity: 2,
        run: echo,
    },
    Command {
        name: "quit",
        arity: -1,
        run: quit,
    },
    Command {
        name: "select",
        arity: 2,
        run: select,
    },
    Command {
        name: "dbsize",
        arity: 1,
        run: dbsize,
    },
    Command {
        name: "flushdb",
        arity: -1,
        run: flushdb,
    },
    Command {
        name: "flushall",
        arity: -1,
        run: flushall,
    },
    Command {
        name: "get",
        arity: 2,
        run: strings::get,
    },
    Command {
        name: "set",
        arity: -3,
        run: strings::set,
    },
    Command {
        name: "setnx",
        arity: 3,
        run: strings::setnx,
    },
    Command {
        name: "setex",
        arity: 4,
        run: strings::setex,
    },
    Command {
        name: "psetex",
        arity: 4,
        run: strings::psetex,
    },
    Command {
        name: "getset",
        arity: 3,
        run: strings::getset,
    },
    Command {
        name: "getdel",
        arity: 2,
        run: strings::getdel,
    },
    Command {
        name: "mget",
        arity: -2,
        run: strings::mget,
    },
    Command {
        name: "mset",
        arity: -3,
        run: strings::mset,
    },
    Command {
        name: "msetnx",
        arity: -3,
        run: strings::msetnx,
    },
    Command {
        name: "incr",
        arity: 2,
        run: strings::incr,
    },
    Command {
        name: "decr",
        arity: 2,
        run: strings::decr,
    },
    Command {
        name: "incrby",
        arity: 3,
        run: strings::incrby,
    },
    Command {
        name: "decrby",
        arity: 3,
        run: strings::decrby,
    },
    Command {
        name: "append",
        arity: 3,
        run: strings::append,
    },
    Command {
        name: "strlen",
        arity: 2,
        run: strings::strlen,
    },
    Command {
        name: "getrange",
        arity: 4,
        run: strings::getrange,
    },
    Command {
        name: "setrange",
        arity: 4,
        run: strings::setrange,
    },
    Command {
        name: "del",
        arity: -2,
        run: keys::del,
    },
    Command {
        name: "unlink",
        arity: -2,
        run: keys::del,
    },
    Command {
        name: "exists",
        arity: -2,
        run: keys::exists,
    },
    Command {
        name: "type",
        arity: 2,
        run: keys::type_of,
    },
    Command {
        name: "expire",
        arity: -3,
        run: keys::expire,
    },
    Command {
        name: "pexpire",
        arity: -3,
        run: keys::pexpire,
    },
    Command {
        name: "expireat",
        arity: -3,
        run: keys::expireat,
    },
    Command {
        name: "pexpireat",
        arity: -3,
        run: keys::pexpireat,
    },
    Command {
        name: "ttl",
        arity: 2,
        run: keys::ttl,
    },
    Command {
        name: "pttl",
        arity: 2,
        run: keys::pttl,
    },
    Command {
        name: "expiretime",
        arity: 2,
        run: keys::expiretime,
    },
    Command {
        name: "pexpiretime",
        arity: 2,
        run: keys::pexpiretime,
    },
    Command {
        name: "persist",
        arity: 2,
        run: keys::persist,
    },
    Command {
        name: "rename",
        arity: 3,
        run: keys::rename,
    },
    Command {
        name: "renamenx",
        arity: 3,
        run: keys::renamenx,
    },
    Command {
        name: "copy",
        arity: -3,
        run: keys::copy,
    },
    Command {
        name: "move",
        arity: 3,
        run: keys::move_key,
    },
    Command {
        name: "swapdb",
        arity: 3,
        run: keys::swapdb,
    },
    Command {
        name: "keys",
        arity: 2,
        run: keys::keys,
    },
    Command {
        name: "lpush",
        arity: -3,
        run: collections::lpush,
    },
    Command {
        name: "rpush",
        arity: -3,
        run: collections::rpush,
    },
    Command {
        name: "lpushx",
        arity: -3,
        run: collections::lpushx,
    },
    Command {
        name: "rpushx",
        arity: -3,
        run: collections::rpushx,
    },
    Command {
        name: "lpop",
        arity: -2,
        run: collections::lpop,
    },
    Command {
        name: "rpop",
        arity: -2,
        run: collections::rpop,
    },
    Command {
        name: "llen",
        arity: 2,
        run: collections::llen,
    },
    Command {
        name: "lrange",
        arity: 4,
        run: collections::lrange,
    },
    Command {
        name: "lindex",
        arity: 3,
        run: collections::lindex,
    },
    Command {
        name: "lset",
        arity: 4,
        run: collections::lset,
    },
    Command {
        name: "lrem",
        arity: 4,
        run: collections::lrem,
    },
    Command {
        name: "ltrim",
        arity: 4,
        run: collections::ltrim,
    },
    Command {
        name: "linsert",
        arity: 5,
        run: collections::linsert,
    },
    Command {
        name: "hsetnx",
        arity: 4,
        run: collections::hsetnx,
    },
    Command {
        name: "hmget",
        arity: -3,
        run: collections::hmget,
    },
    Command {
        name: "hincrby",
        arity: 4,
        run: collections::hincrby,
    },
    Command {
        name: "hkeys",
        arity: 2,
        run: collections::hkeys,
    },
    Command {
        name: "hvals",
        arity: 2,
        run: collections::hvals,
    },
    Command {
        name: "hstrlen",
        arity: 3,
        run: collections::hstrlen,
    },
    Command {
        name: "hset",
        arity: -4,
        run: collections::hset,
    },
    Command {
        name: "hmset",
        arity: -4,
        run: collections::hmset,
    },
    Command {
        name: "hget",
        arity: 3,
        run: collections::hget,
    },
    Command {
        name: "hdel",
        arity: -3,
        run: collections::hdel,
    },
    Command {
        name: "hlen",
        arity: 2,
        run: collections::hlen,
    },
    Command {
        name: "hexists",
        arity: 3,
        run: collections::hexists,
    },
    Command {
        name: "hgetall",
        arity: 2,
        run: collections::hgetall,
    },
    Command {
        name: "sadd",
        arity: -3,
        run: collections::sadd,
    },
    Command {
        name: "srem",
        arity: -3,
        run: collections::srem,
    },
    Command {
        name: "scard",
        arity: 2,
        run: collections::scard,
    },
    Command {
        name: "sismember",
        arity: 3,
        run: collections::sismember,
    },
    Command {
        name: "smembers",
        arity: 2,
        run: collections::smembers,
    },
    Command {
        name: "spop",
        arity: -2,
        run: collections::spop,
    },
    Command {
        name: "zadd",
        arity: -4,
        run: zsets::zadd,
    },
    Command {
        name: "zincrby",
        arity: 4,
        run: zsets::zincrby,
    },
    Command {
        name: "zcard",
        arity: 2,
        run: zsets::zcard,
    },
    Command {
        name: "zscore",
        arity: 3,
        run: zsets::zscore,
    },
    Command {
        name: "zrem",
        arity: -3,
        run: zsets::zrem,
    },
    Command {
        name: "zpopmin",
        arity: -2,
        run: zsets::zpopmin,
    },
    Command {
        name: "zpopmax",
        arity: -2,
        run: zsets::zpopmax,
    },
];

fn echo(_: &mut Server, _: &mut Client, c: &mut Call<'_>) -> Action {
    reply::bulk(c.out, &c.args[1]);
    Action::Continue
}

fn quit(_: &mut Server, _: &mut Client, c: &mut Call<'_>) -> Action {
    c.ok();
    Action::Close
}

fn dbsize(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    reply::integer(c.out, s.keyspace.len(cl.db, c.now_ms) as i64);
    Action::Continue
}

/// `FLUSHDB`/`FLUSHALL [ASYNC|SYNC]`.
fn flush(s: &mut Server, db: Option<usize>, c: &mut Call<'_>) -> Action {
    let mode_ok = match c.args.len() {
        1 => true,
        2 => c.args[1].eq_ignore_ascii_case(b"async") || c.args[1].eq_ignore_ascii_case(b"sync"),
        _ => false,
    };
    if mode_ok {
        s.keyspace.flush(db);
        c.ok();
    } else {
        c.error(errors::SYNTAX);
    }
    Action::Continue
}

fn flushdb(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    flush(s, Some(cl.db), c)
}

fn flushall(s: &mut Server, _: &mut Client, c: &mut Call<'_>) -> Action {
    flush(s, None, c)
}

fn multi(_: &mut Server, client: &mut Client, c: &mut Call<'_>) -> Action {
    if client.multi.is_some() {
        c.error("ERR MULTI calls can not be nested");
    } else {
        client.multi = Some(Vec::new());
        client.multi_dirty = false;
        c.ok();
    }
    Action::Continue
}

fn exec(s: &mut Server, client: &mut Client, c: &mut Call<'_>) -> Action {
    let Some(queue) = client.multi.take() else {
        c.error("ERR EXEC without MULTI");
        return Action::Continue;
    };
    if core::mem::take(&mut client.multi_dirty) {
        c.error("EXECABORT Transaction discarded because of previous errors.");
        return Action::Continue;
    }
    reply::array(c.out, queue.len());
    let mut action = Action::Continue;
    for args in &queue {
        if s.execute(client, args, c.now_ms, c.out) == Action::Close {
            action = Action::Close;
        }
    }
    action
}

fn discard(_: &mut Server, client: &mut Client, c: &mut Call<'_>) -> Action {
    if client.multi.take().is_none() {
        c.error("ERR DISCARD without MULTI");
    } else {
        client.multi_dirty = false;
        c.ok();
    }
    Action::Continue
}

fn ping(_: &mut Server, _: &mut Client, c: &mut Call<'_>) -> Action {
    match c.args.len() {
        1 => reply::simple(c.out, "PONG"),
        2 => reply::bulk(c.out, &c.args[1]),
        _ => c.error("ERR wrong number of arguments for 'ping' command"),
    }
    Action::Continue
}

fn select(_: &mut Server, client: &mut Client, c: &mut Call<'_>) -> Action {
    let Some(db) = c.int(1) else {
        return Action::Continue;
    };
    if !(0..DATABASES as i64).contains(&db) {
        c.error(errors::DB_RANGE);
    } else {
        client.db = db as usize;
        c.ok();
    }
    Action::Continue
}

impl Server {
    pub fn new() -> Self {
        Self {
            keyspace: Keyspace::new(DATABASES),
            random: 0x853c_49e6_748f_ea9b,
        }
    }

    /// A pseudo-random number (splitmix64).
    pub fn next_random(&mut self) -> u64 {
        self.random = self.random.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.random;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Runs the command `args` (`args[0]` is its name, any case) for `client`, appending
    /// its reply to `out`.
    pub fn execute(
        &mut self,
        client: &mut Client,
        args: &[Vec<u8>],
        now_ms: u64,
        out: &mut Vec<u8>,
    ) -> Action {
        let Some(name) = args.first() else {
            return Action::Continue;
        };
        let lower: Vec<u8> = name.to_ascii_lowercase();
        let Some(command) = COMMANDS.iter().find(|c| c.name.as_bytes() == lower) else {
            reply::error(out, &unknown_command(args));
            client.multi_dirty |= client.multi.is_some();
            return Action::Continue;
        };
        let n = args.len() as i32;
        if (command.arity > 0 && n != command.arity) || n < -command.arity {
            let message =
                alloc::format!("wrong number of arguments for '{}' command", command.name);
            if command.name == "exec" {
                // Redis aborts the transaction on a refused EXEC, even with none open.
                client.multi = None;
                client.multi_dirty = false;
                reply::error(
                    out,
                    &alloc::format!("EXECABORT Transaction discarded because of: {message}"),
                );
            } else {
                reply::error(out, &alloc::format!("ERR {message}"));
                client.multi_dirty |= client.multi.is_some();
            }
            return Action::Continue;
        }
        if let Some(queue) = &mut client.multi
            && !matches!(
                command.name,
                "exec" | "discard" | "multi" | "watch" | "quit"
            )
        {
            queue.push(args.to_vec());
            reply::simple(out, "QUEUED");
            return Action::Continue;
        }
        let mut call = Call { args, out, now_ms };
        (command.run)(self, client, &mut call)
    }
}

/// Redis's reply to an unknown command: its name and the start of its arguments, each
/// quoted, at most about 128 bytes of them.
fn unknown_command(args: &[Vec<u8>]) -> String {
    let mut listed = String::new();
    for a in &args[1..] {
        if listed.len() >= 128 {
            break;
        }
        let room = 128 - listed.len();
        let shown = &a[..a.len().min(room)];
        listed.push('\'');
        listed.push_str(&String::from_utf8_lossy(shown));
        listed.push_str("' ");
    }
    let name = &args[0][..args[0].len().min(128)];
    alloc::format!(
        "ERR unknown command '{}', with args beginning with: {}",
        String::from_utf8_lossy(name),
        listed
    )
}

#[cfg(test)]
mod tests;
