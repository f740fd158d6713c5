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

pub mod blocking;
pub mod collections;
pub mod glob;
pub mod keys;
pub mod keyspace;
pub mod persist;
pub mod reads;
pub mod server;
pub mod strings;
pub mod writes;
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
    /// `EXEC` is running this client's queue (blocking commands then do not block).
    pub in_exec: bool,
    /// Keys this client watches (`WATCH`), by database.
    pub watching: Vec<(usize, Vec<u8>)>,
}

/// What the connection does after a command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Continue,
    /// Send the reply, then close (`QUIT`).
    Close,
    /// A blocking command found nothing to take and replied nothing: run it again once
    /// another client wrote, or answer [`blocking::timed_out`] at `deadline_ms` (Unix ms;
    /// `None`: never).
    Block {
        deadline_ms: Option<u64>,
    },
}

/// The server's data.
#[derive(Debug)]
pub struct Server {
    pub keyspace: Keyspace,
    /// State of the generator behind random picks (`SPOP`).
    random: u64,
    /// Whether changes are persisted: each command's store ops are then appended to
    /// `changes` (see [`persist`]), which the app takes and applies.
    pub persistent: bool,
    pub changes: Vec<persist::Op>,
    /// Set when persisting failed: write commands are refused with this error (Redis's
    /// `MISCONF`) and reads go on.
    pub write_error: Option<String>,
    /// How the app keeps the data (`INFO persistence`, `CONFIG GET appendonly`).
    pub persistence: server::Persistence,
    /// Connected clients, counters and settable configuration (`CLIENT`, `INFO`, `CONFIG`).
    pub(crate) status: server::Status,
    /// Watched keys (`WATCH`): (database, key) to the ids of the clients watching.
    watched: alloc::collections::BTreeMap<(usize, Vec<u8>), alloc::collections::BTreeSet<u64>>,
    /// Clients whose watched keys changed: their `EXEC` fails.
    dirty_cas: alloc::collections::BTreeSet<u64>,
    /// Write commands run so far (a blocked client waits for this to change).
    pub writes: u64,
    /// Bytes of memory in use, for `maxmemory` (the app sets it from its heap).
    pub memory_used: u64,
    /// Every command by name.
    index: alloc::collections::BTreeMap<&'static [u8], &'static Command>,
    /// `SAVE`/`BGSAVE` ran: the app makes everything durable before replying.
    pub sync_requested: bool,
    /// When the data was last known to be all on disk (Unix ms): the load at start, or
    /// the last `SAVE`.
    pub last_save_ms: Option<u64>,
    /// Saves done (`INFO`'s `rdb_saves`).
    pub saves: u64,
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

/// A command: its name (lower case), its arity as Redis states it (`n`: exactly `n`
/// arguments, name included; `-n`: at least `n`), whether it may change the keyspace, and
/// what runs it. Each module has a table of its own; [`command`] looks in all of them.
#[derive(Debug)]
pub(crate) struct Command {
    pub name: &'static str,
    pub arity: i32,
    /// May change the keyspace: refused when persistence failed or memory is full.
    pub write: bool,
    pub run: fn(&mut Server, &mut Client, &mut Call<'_>) -> Action,
}

type Run = fn(&mut Server, &mut Client, &mut Call<'_>) -> Action;

impl Command {
    pub(crate) const fn read(name: &'static str, arity: i32, run: Run) -> Self {
        Self {
            name,
            arity,
            write: false,
            run,
        }
    }

    pub(crate) const fn write(name: &'static str, arity: i32, run: Run) -> Self {
        Self {
            name,
            arity,
            write: true,
            run,
        }
    }
}

/// Every command table.
const TABLES: &[&[Command]] = &[
    COMMANDS,
    server::COMMANDS,
    reads::COMMANDS,
    blocking::COMMANDS,
    writes::COMMANDS,
];

/// The command named `lower` (lower case), if there is one.
pub(crate) fn command(lower: &[u8]) -> Option<&'static Command> {
    TABLES
        .iter()
        .flat_map(|t| t.iter())
        .find(|c| c.name.as_bytes() == lower)
}

/// Every command, in table order.
pub(crate) fn commands() -> impl Iterator<Item = &'static Command> {
    TABLES.iter().flat_map(|t| t.iter())
}

const COMMANDS: &[Command] = &[
    Command::read("multi", 1, multi),
    Command::read("exec", 1, exec),
    Command::read("discard", 1, discard),
    Command::read("watch", -2, watch),
    Command::read("unwatch", 1, unwatch),
    Command::read("ping", -1, ping),
    Command::read("echo", 2, echo),
    Command::read("quit", -1, quit),
    Command::read("select", 2, select),
    Command::read("dbsize", 1, dbsize),
    Command::write("flushdb", -1, flushdb),
    Command::write("flushall", -1, flushall),
    Command::read("get", 2, strings::get),
    Command::write("set", -3, strings::set),
    Command::write("setnx", 3, strings::setnx),
    Command::write("setex", 4, strings::setex),
    Command::write("psetex", 4, strings::psetex),
    Command::write("getset", 3, strings::getset),
    Command::write("getdel", 2, strings::getdel),
    Command::read("mget", -2, strings::mget),
    Command::write("mset", -3, strings::mset),
    Command::write("msetnx", -3, strings::msetnx),
    Command::write("incr", 2, strings::incr),
    Command::write("decr", 2, strings::decr),
    Command::write("incrby", 3, strings::incrby),
    Command::write("decrby", 3, strings::decrby),
    Command::write("append", 3, strings::append),
    Command::read("strlen", 2, strings::strlen),
    Command::read("getrange", 4, strings::getrange),
    Command::write("setrange", 4, strings::setrange),
    Command::write("del", -2, keys::del),
    Command::write("unlink", -2, keys::del),
    Command::read("exists", -2, keys::exists),
    Command::read("type", 2, keys::type_of),
    Command::write("expire", -3, keys::expire),
    Command::write("pexpire", -3, keys::pexpire),
    Command::write("expireat", -3, keys::expireat),
    Command::write("pexpireat", -3, keys::pexpireat),
    Command::read("ttl", 2, keys::ttl),
    Command::read("pttl", 2, keys::pttl),
    Command::read("expiretime", 2, keys::expiretime),
    Command::read("pexpiretime", 2, keys::pexpiretime),
    Command::write("persist", 2, keys::persist),
    Command::write("rename", 3, keys::rename),
    Command::write("renamenx", 3, keys::renamenx),
    Command::write("copy", -3, keys::copy),
    Command::write("move", 3, keys::move_key),
    Command::write("swapdb", 3, keys::swapdb),
    Command::read("keys", 2, keys::keys),
    Command::write("lpush", -3, collections::lpush),
    Command::write("rpush", -3, collections::rpush),
    Command::write("lpushx", -3, collections::lpushx),
    Command::write("rpushx", -3, collections::rpushx),
    Command::write("lpop", -2, collections::lpop),
    Command::write("rpop", -2, collections::rpop),
    Command::read("llen", 2, collections::llen),
    Command::read("lrange", 4, collections::lrange),
    Command::read("lindex", 3, collections::lindex),
    Command::write("lset", 4, collections::lset),
    Command::write("lrem", 4, collections::lrem),
    Command::write("ltrim", 4, collections::ltrim),
    Command::write("linsert", 5, collections::linsert),
    Command::write("hsetnx", 4, collections::hsetnx),
    Command::read("hmget", -3, collections::hmget),
    Command::write("hincrby", 4, collections::hincrby),
    Command::read("hkeys", 2, collections::hkeys),
    Command::read("hvals", 2, collections::hvals),
    Command::read("hstrlen", 3, collections::hstrlen),
    Command::write("hset", -4, collections::hset),
    Command::write("hmset", -4, collections::hmset),
    Command::read("hget", 3, collections::hget),
    Command::write("hdel", -3, collections::hdel),
    Command::read("hlen", 2, collections::hlen),
    Command::read("hexists", 3, collections::hexists),
    Command::read("hgetall", 2, collections::hgetall),
    Command::write("sadd", -3, collections::sadd),
    Command::write("srem", -3, collections::srem),
    Command::read("scard", 2, collections::scard),
    Command::read("sismember", 3, collections::sismember),
    Command::read("smembers", 2, collections::smembers),
    Command::write("spop", -2, collections::spop),
    Command::write("zadd", -4, zsets::zadd),
    Command::write("zincrby", 4, zsets::zincrby),
    Command::read("zcard", 2, zsets::zcard),
    Command::read("zscore", 3, zsets::zscore),
    Command::write("zrem", -3, zsets::zrem),
    Command::write("zpopmin", -2, zsets::zpopmin),
    Command::write("zpopmax", -2, zsets::zpopmax),
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
        s.unwatch(client);
        c.error("EXECABORT Transaction discarded because of previous errors.");
        return Action::Continue;
    }
    let aborted = s.dirty_cas.contains(&client.id);
    s.unwatch(client);
    if aborted {
        // A watched key changed since WATCH.
        reply::null_array(c.out);
        return Action::Continue;
    }
    reply::array(c.out, queue.len());
    let mut action = Action::Continue;
    client.in_exec = true;
    for args in &queue {
        if s.execute_one(client, args, c.now_ms, c.out) == Action::Close {
            action = Action::Close;
        }
    }
    client.in_exec = false;
    action
}

/// `WATCH key [key ...]`.
fn watch(s: &mut Server, client: &mut Client, c: &mut Call<'_>) -> Action {
    if client.multi.is_some() {
        c.error("ERR WATCH inside MULTI is not allowed");
        return Action::Continue;
    }
    for key in &c.args[1..] {
        let k = (client.db, key.clone());
        if !client.watching.contains(&k) {
            s.watched.entry(k.clone()).or_default().insert(client.id);
            client.watching.push(k);
        }
    }
    c.ok();
    Action::Continue
}

/// `UNWATCH`.
fn unwatch(s: &mut Server, client: &mut Client, c: &mut Call<'_>) -> Action {
    s.unwatch(client);
    c.ok();
    Action::Continue
}

fn discard(s: &mut Server, client: &mut Client, c: &mut Call<'_>) -> Action {
    if client.multi.take().is_none() {
        c.error("ERR DISCARD without MULTI");
    } else {
        client.multi_dirty = false;
        s.unwatch(client);
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
            persistent: false,
            changes: Vec::new(),
            write_error: None,
            persistence: server::Persistence::default(),
            status: server::Status::default(),
            watched: alloc::collections::BTreeMap::new(),
            dirty_cas: alloc::collections::BTreeSet::new(),
            writes: 0,
            memory_used: 0,
            index: commands().map(|c| (c.name.as_bytes(), c)).collect(),
            sync_requested: false,
            last_save_ms: None,
            saves: 0,
        }
    }

    /// Forgets `client`'s watched keys (after `EXEC`, `DISCARD`, `UNWATCH`).
    pub fn unwatch(&mut self, client: &mut Client) {
        for k in client.watching.drain(..) {
            if let Some(ids) = self.watched.get_mut(&k) {
                ids.remove(&client.id);
                if ids.is_empty() {
                    self.watched.remove(&k);
                }
            }
        }
        self.dirty_cas.remove(&client.id);
    }

    /// Forgets every watch of the client `id` (it disconnected).
    pub fn forget_watches(&mut self, id: u64) {
        self.watched.retain(|_, ids| {
            ids.remove(&id);
            !ids.is_empty()
        });
        self.dirty_cas.remove(&id);
    }

    /// Marks the clients watching a key the last command changed (or a database it
    /// flushed or swapped): their `EXEC` will fail.
    fn touch_watched(&mut self) {
        let ks = &self.keyspace;
        for (id, key) in ks.dirty.keys() {
            let Some(db) = ks.disk_ids.iter().position(|&i| i == id) else {
                continue;
            };
            if let Some(ids) = self.watched.get(&(db, key.to_vec())) {
                self.dirty_cas.extend(ids.iter().copied());
            }
        }
        for &db in &ks.flushed {
            for ((_, _), ids) in self.watched.range((db, Vec::new())..(db + 1, Vec::new())) {
                self.dirty_cas.extend(ids.iter().copied());
            }
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
    /// its reply to `out`, and its changes to [`changes`](Self::changes) when persistent.
    pub fn execute(
        &mut self,
        client: &mut Client,
        args: &[Vec<u8>],
        now_ms: u64,
        out: &mut Vec<u8>,
    ) -> Action {
        let action = self.execute_one(client, args, now_ms, out);
        if !matches!(action, Action::Block { .. }) {
            // (Queued commands too: CLIENT LIST shows them as the last command.)
            self.note_command(client, args, now_ms);
        }
        if self.keyspace.changed() {
            self.writes += 1;
            if !self.watched.is_empty() {
                self.touch_watched();
            }
        }
        self.keyspace.flushed.clear();
        let changes = self.persistent.then_some(&mut self.changes);
        persist::drain(&mut self.keyspace, changes);
        action
    }

    /// [`execute`](Self::execute) without taking the changes (`EXEC` takes its commands'
    /// changes once, so a transaction is one batch).
    fn execute_one(
        &mut self,
        client: &mut Client,
        args: &[Vec<u8>],
        now_ms: u64,
        out: &mut Vec<u8>,
    ) -> Action {
        let Some(name) = args.first() else {
            return Action::Continue;
        };
        // Lower case without allocating (every command name is short).
        let mut buf = [0u8; 32];
        let heap;
        let lower: &[u8] = if name.len() <= buf.len() {
            for (d, s) in buf.iter_mut().zip(name) {
                *d = s.to_ascii_lowercase();
            }
            &buf[..name.len()]
        } else {
            heap = name.to_ascii_lowercase();
            &heap
        };
        let Some(command) = self.index.get(lower).copied() else {
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
        if command.write && self.out_of_memory(command.name) {
            reply::error(
                out,
                "OOM command not allowed when used memory > 'maxmemory'.",
            );
            client.multi_dirty |= client.multi.is_some();
            return Action::Continue;
        }
        if command.write
            && let Some(e) = &self.write_error
        {
            reply::error(out, e);
            client.multi_dirty |= client.multi.is_some();
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
