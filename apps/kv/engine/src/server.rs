//! Server and connection commands, as Redis 7.0 answers them: `HELLO`, `CLIENT`, `TIME`,
//! `RANDOMKEY` here; `COMMAND` in [`introspect`] (over the generated [`command_table`]),
//! `INFO` in [`info`], `CONFIG` in [`config`], `OBJECT` in [`object`], the `SCAN` family in
//! [`scan`].
//!
//! The state they report lives in [`Status`] (the registry of connected clients the app
//! keeps with [`Server::connect`] and [`Server::disconnect`], counters, the settable
//! configuration) and in [`Persistence`], which the app fills in.

mod command_table;
mod config;
mod info;
mod introspect;
mod object;
mod scan;

use crate::errors::SYNTAX;
use crate::keyspace::Entry;
use crate::{Action, Call, Client, Command, Server};
use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write;
use core::ops::Bound;
use resp::reply;

pub(crate) const COMMANDS: &[Command] = &[
    Command::read("hello", -1, hello),
    Command::read("client", -2, client),
    Command::read("command", -1, introspect::command),
    Command::read("info", -1, info::info),
    Command::read("config", -2, config::config),
    Command::read("time", 1, time),
    Command::read("object", -2, object::object),
    Command::read("scan", -2, scan::scan),
    Command::read("sscan", -3, scan::sscan),
    Command::read("hscan", -3, scan::hscan),
    Command::read("zscan", -3, scan::zscan),
    Command::read("randomkey", 1, randomkey),
    Command::read("save", 1, save),
    Command::read("bgsave", -1, bgsave),
    Command::read("lastsave", 1, lastsave),
];

type Run = fn(&mut Server, &mut Client, &mut Call<'_>) -> Action;

/// A subcommand of a container command (`CLIENT LIST`): its name (lower case), its arity
/// as Redis states it (the container's name counted), and what runs it.
pub(crate) struct Subcommand {
    pub name: &'static str,
    pub arity: i32,
    pub run: Run,
}

impl Subcommand {
    const fn new(name: &'static str, arity: i32, run: Run) -> Self {
        Self { name, arity, run }
    }
}

/// The container commands and their subcommands (what `COMMAND INFO` lists under each).
pub(crate) const CONTAINERS: &[(&str, &[Subcommand])] = &[
    ("client", CLIENT),
    ("command", introspect::SUBCOMMANDS),
    ("config", config::SUBCOMMANDS),
    ("object", object::SUBCOMMANDS),
];

/// Runs the subcommand named by `args[1]` with Redis's errors for an unknown one or a
/// wrong number of arguments.
fn dispatch(
    s: &mut Server,
    cl: &mut Client,
    c: &mut Call<'_>,
    container: &str,
    subs: &[Subcommand],
) -> Action {
    let lower = c.args[1].to_ascii_lowercase();
    let Some(sub) = subs.iter().find(|x| x.name.as_bytes() == lower) else {
        let shown = &c.args[1][..c.args[1].len().min(128)];
        c.error(&alloc::format!(
            "ERR unknown subcommand '{}'. Try {} HELP.",
            String::from_utf8_lossy(shown),
            String::from_utf8_lossy(&c.args[0]).to_uppercase()
        ));
        return Action::Continue;
    };
    let n = c.args.len() as i32;
    if (sub.arity > 0 && n != sub.arity) || n < -sub.arity {
        c.error(&alloc::format!(
            "ERR wrong number of arguments for '{container}|{}' command",
            sub.name
        ));
        return Action::Continue;
    }
    (sub.run)(s, cl, c)
}

/// Redis's `addReplyHelp`: a heading naming the command as typed, `lines`, and `HELP`.
fn help_reply(c: &mut Call<'_>, lines: &[&str]) {
    reply::array(c.out, lines.len() + 3);
    let name = String::from_utf8_lossy(&c.args[0]).to_uppercase();
    reply::simple(
        c.out,
        &alloc::format!("{name} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"),
    );
    for line in lines {
        reply::simple(c.out, line);
    }
    reply::simple(c.out, "HELP");
    reply::simple(c.out, "    Prints this help.");
}

/// How the app keeps the data, for `INFO persistence` and `CONFIG GET appendonly` and
/// friends (a failed write is [`Server::write_error`]). The default is memory only.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Persistence {
    pub durability: Durability,
    /// The disk holding the data (`CONFIG GET dir`), if any.
    pub disk: Option<String>,
}

/// When an acknowledged write is on disk.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Durability {
    /// Never: memory only (`appendonly no`).
    #[default]
    None,
    /// Before it is acknowledged (`appendonly yes`, `appendfsync always`).
    Durable,
    /// Within about a second (`appendonly yes`, `appendfsync everysec`).
    EverySecond,
}

/// What the server reports about itself: connected clients, counters, configuration.
#[derive(Debug, Default)]
pub struct Status {
    clients: BTreeMap<u64, Connection>,
    /// Unix milliseconds the server started at (the first time it saw one).
    started_ms: Option<u64>,
    port: Option<u16>,
    connections_received: u64,
    commands_processed: u64,
    /// Calls per command (full names, `client|list`), for `INFO commandstats`.
    calls: BTreeMap<String, u64>,
    /// A buffer for the name of the command being counted.
    scratch: String,
    config: config::Config,
    /// The server's random id (`run_id`), made when first asked for.
    run_id: String,
    /// The most `INFO memory` has reported.
    peak_memory: u64,
    /// The `SCAN` family's cursors given out lately.
    cursors: scan::Cursors,
}

/// One connected client, as `CLIENT LIST` shows it.
#[derive(Clone, Debug)]
struct Connection {
    addr: String,
    connected_ms: u64,
    last_ms: u64,
    name: Option<Vec<u8>>,
    db: usize,
    /// The last command's full name (`client|list`), if any ran.
    command: Option<String>,
    /// Commands queued, when in `MULTI`.
    queued: Option<usize>,
}

impl Connection {
    fn new(addr: &str, now_ms: u64) -> Self {
        Self {
            addr: String::from(addr),
            connected_ms: now_ms,
            last_ms: now_ms,
            name: None,
            db: 0,
            command: None,
            queued: None,
        }
    }

    /// What `c` shows of `client` now.
    fn refresh(&mut self, client: &Client) {
        self.name.clone_from(&client.name);
        self.db = client.db;
        self.queued = client.multi.as_ref().map(Vec::len);
    }
}

impl Status {
    fn started(&mut self, now_ms: u64) -> u64 {
        *self.started_ms.get_or_insert(now_ms)
    }

    fn port(&self) -> u16 {
        self.port.unwrap_or(6379)
    }
}

/// The full name of the command `args` (`get`, `client|list`), lower case.
/// Written into `name` (cleared first; no allocation once it is long enough).
fn full_name_into(args: &[Vec<u8>], name: &mut String) {
    name.clear();
    for &b in &args[0] {
        name.push(char::from(b.to_ascii_lowercase()));
    }
    if let Some((_, subs)) = CONTAINERS.iter().find(|(n, _)| *n == name)
        && let Some(sub) = args.get(1).and_then(|a| {
            let lower = a.to_ascii_lowercase();
            subs.iter().find(|s| s.name.as_bytes() == lower)
        })
    {
        name.push('|');
        name.push_str(sub.name);
    }
}

impl Server {
    /// The server listens on `port` from `now_ms` (`INFO`'s uptime, `CONFIG GET port`).
    pub fn start(&mut self, port: u16, now_ms: u64) {
        self.status.port = Some(port);
        self.status.started_ms = Some(now_ms);
    }

    /// Client `id` connected from `addr` (`ip:port`) at `now_ms`.
    pub fn connect(&mut self, id: u64, addr: &str, now_ms: u64) {
        self.status.started(now_ms);
        self.status.connections_received += 1;
        self.status
            .clients
            .insert(id, Connection::new(addr, now_ms));
    }

    /// `proto-max-bulk-len`: the most bytes a bulk string may hold (and `LCS` its table).
    pub(crate) fn proto_max_bulk_len(&self) -> u64 {
        self.status.config.number("proto-max-bulk-len") as u64
    }

    /// Client `id` disconnected.
    /// Whether the command `name` is refused for memory: `maxmemory` is set, the memory
    /// in use ([`Server::memory_used`], which the app keeps) is over it, and Redis would
    /// refuse the command (it may grow the data).
    pub(crate) fn out_of_memory(&self, name: &str) -> bool {
        let max = self.status.config.number("maxmemory");
        max > 0 && self.memory_used > max as u64 && introspect::deny_oom(name)
    }

    pub fn disconnect(&mut self, id: u64) {
        self.status.clients.remove(&id);
        self.forget_watches(id);
    }

    /// `client` ran the command `args` at `now_ms`: counted for `INFO`, and shown by
    /// `CLIENT LIST` with its name, database and idle time as they are after it. Called
    /// once per command executed (not for one refused or queued in `MULTI`).
    pub fn note_command(&mut self, client: &Client, args: &[Vec<u8>], now_ms: u64) {
        if args.is_empty() {
            return;
        }
        self.status.started(now_ms);
        self.status.commands_processed += 1;
        // No allocation per command once the names are known (this runs for every one).
        let mut name = core::mem::take(&mut self.status.scratch);
        full_name_into(args, &mut name);
        if let Some(c) = self.status.clients.get_mut(&client.id) {
            c.refresh(client);
            c.last_ms = now_ms;
            match &mut c.command {
                Some(last) => last.clone_from(&name),
                None => c.command = Some(name.clone()),
            }
        }
        match self.status.calls.get_mut(name.as_str()) {
            Some(n) => *n += 1,
            None => {
                self.status.calls.insert(name.clone(), 1);
            }
        }
        self.status.scratch = name;
    }

    /// The connections as `CLIENT LIST` shows them: the registry, with `caller` (running
    /// `command` now) as it is at this moment, listed even if the app never registered it.
    fn connections(
        &mut self,
        caller: &Client,
        command: &str,
        now_ms: u64,
    ) -> Vec<(u64, Connection)> {
        let mut all: Vec<(u64, Connection)> = self
            .status
            .clients
            .iter()
            .map(|(id, c)| (*id, c.clone()))
            .collect();
        let me = match all.iter_mut().find(|(id, _)| *id == caller.id) {
            Some((_, c)) => c,
            None => {
                all.push((caller.id, Connection::new("127.0.0.1:0", now_ms)));
                all.sort_by_key(|(id, _)| *id);
                let at = all.iter().position(|(id, _)| *id == caller.id);
                &mut all[at.expect("just added")].1
            }
        };
        me.refresh(caller);
        me.last_ms = now_ms;
        me.command = Some(String::from(command));
        all
    }
}

/// One line of `CLIENT LIST` (Redis's `catClientInfoString`, with the memory figures this
/// server does not keep as 0).
fn client_line(out: &mut String, id: u64, c: &Connection, port: u16, now_ms: u64) {
    let name = c
        .name
        .as_deref()
        .map(String::from_utf8_lossy)
        .unwrap_or_default();
    let age = now_ms.saturating_sub(c.connected_ms) / 1000;
    let idle = now_ms.saturating_sub(c.last_ms) / 1000;
    let (flags, multi) = match c.queued {
        Some(n) => ("x", n as i64),
        None => ("N", -1),
    };
    let _ = writeln!(
        out,
        "id={id} addr={} laddr=0.0.0.0:{port} fd=-1 name={name} age={age} idle={idle} \
         flags={flags} db={} sub=0 psub=0 ssub=0 multi={multi} qbuf=0 qbuf-free=0 \
         argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 omem=0 tot-mem=0 events=r cmd={} \
         user=default redir=-1 resp=2",
        c.addr,
        c.db,
        c.command.as_deref().unwrap_or("NULL"),
    );
}

/// Redis's `clientSetName` check: a name is printable ASCII without spaces (or empty,
/// which removes it).
fn valid_name(name: &[u8]) -> bool {
    name.iter().all(|b| (b'!'..=b'~').contains(b))
}

const BAD_NAME: &str = "ERR Client names cannot contain spaces, newlines or special characters.";

fn set_name(s: &mut Server, cl: &mut Client, name: &[u8]) {
    cl.name = (!name.is_empty()).then(|| name.to_vec());
    if let Some(c) = s.status.clients.get_mut(&cl.id) {
        c.name.clone_from(&cl.name);
    }
}

/// `HELLO [protover [AUTH username password] [SETNAME clientname]]`: RESP2 only.
fn hello(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    let mut next = 1;
    if c.args.len() >= 2 {
        let Some(version) = resp::request::parse_i64(&c.args[1]) else {
            c.error("ERR Protocol version is not an integer or out of range");
            return Action::Continue;
        };
        // Redis speaks 2 and 3; this server only RESP2.
        if version != 2 {
            c.error("NOPROTO unsupported protocol version");
            return Action::Continue;
        }
        next = 2;
    }
    let mut j = next;
    while j < c.args.len() {
        let more = c.args.len() - 1 - j;
        let opt = &c.args[j];
        if opt.eq_ignore_ascii_case(b"auth") && more >= 2 {
            // The only user is `default`, with no password: any password is accepted.
            if c.args[j + 1] != b"default" {
                c.error("WRONGPASS invalid username-password pair or user is disabled.");
                return Action::Continue;
            }
            j += 2;
        } else if opt.eq_ignore_ascii_case(b"setname") && more >= 1 {
            if !valid_name(&c.args[j + 1]) {
                c.error(BAD_NAME);
                return Action::Continue;
            }
            set_name(s, cl, &c.args[j + 1]);
            j += 1;
        } else {
            c.error(&alloc::format!(
                "ERR Syntax error in HELLO option '{}'",
                String::from_utf8_lossy(opt)
            ));
            return Action::Continue;
        }
        j += 1;
    }
    reply::array(c.out, 14);
    for (k, v) in [("server", "redis"), ("version", info::REDIS_VERSION)] {
        reply::bulk(c.out, k.as_bytes());
        reply::bulk(c.out, v.as_bytes());
    }
    reply::bulk(c.out, b"proto");
    reply::integer(c.out, 2);
    reply::bulk(c.out, b"id");
    reply::integer(c.out, cl.id as i64);
    for (k, v) in [("mode", "standalone"), ("role", "master")] {
        reply::bulk(c.out, k.as_bytes());
        reply::bulk(c.out, v.as_bytes());
    }
    reply::bulk(c.out, b"modules");
    reply::array(c.out, 0);
    Action::Continue
}

const CLIENT: &[Subcommand] = &[
    Subcommand::new("id", 2, client_id),
    Subcommand::new("getname", 2, client_getname),
    Subcommand::new("setname", 3, client_setname),
    Subcommand::new("list", -2, client_list),
    Subcommand::new("info", 2, client_info),
    Subcommand::new("help", 2, client_help),
];

fn client(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    dispatch(s, cl, c, "client", CLIENT)
}

fn client_id(_: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    reply::integer(c.out, cl.id as i64);
    Action::Continue
}

fn client_getname(_: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    match &cl.name {
        Some(name) => reply::bulk(c.out, name),
        None => reply::null(c.out),
    }
    Action::Continue
}

fn client_setname(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    if valid_name(&c.args[2]) {
        set_name(s, cl, &c.args[2]);
        c.ok();
    } else {
        c.error(BAD_NAME);
    }
    Action::Continue
}

/// `CLIENT LIST [TYPE normal|master|replica|pubsub] [ID id [id ...]]`.
fn client_list(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    let mut ids: Option<Vec<i64>> = None;
    let mut normal = true;
    if c.args.len() == 4 && c.args[2].eq_ignore_ascii_case(b"type") {
        match c.args[3].to_ascii_lowercase().as_slice() {
            b"normal" => {}
            b"master" | b"replica" | b"slave" | b"pubsub" => normal = false,
            _ => {
                c.error(&alloc::format!(
                    "ERR Unknown client type '{}'",
                    String::from_utf8_lossy(&c.args[3])
                ));
                return Action::Continue;
            }
        }
    } else if c.args.len() > 3 && c.args[2].eq_ignore_ascii_case(b"id") {
        let mut wanted = Vec::new();
        for a in &c.args[3..] {
            match resp::request::parse_i64(a) {
                Some(id) => wanted.push(id),
                None => {
                    c.error("ERR Invalid client ID");
                    return Action::Continue;
                }
            }
        }
        ids = Some(wanted);
    } else if c.args.len() != 2 {
        c.error(SYNTAX);
        return Action::Continue;
    }
    let all = s.connections(cl, "client|list", c.now_ms);
    let port = s.status.port();
    let mut text = String::new();
    match ids {
        Some(ids) => {
            for id in ids {
                if let Some((id, conn)) = all.iter().find(|(x, _)| *x as i64 == id) {
                    client_line(&mut text, *id, conn, port, c.now_ms);
                }
            }
        }
        None if normal => {
            for (id, conn) in &all {
                client_line(&mut text, *id, conn, port, c.now_ms);
            }
        }
        None => {}
    }
    reply::bulk(c.out, text.as_bytes());
    Action::Continue
}

fn client_info(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    let all = s.connections(cl, "client|info", c.now_ms);
    let mut text = String::new();
    if let Some((id, conn)) = all.iter().find(|(id, _)| *id == cl.id) {
        client_line(&mut text, *id, conn, s.status.port(), c.now_ms);
    }
    reply::bulk(c.out, text.as_bytes());
    Action::Continue
}

fn client_help(_: &mut Server, _: &mut Client, c: &mut Call<'_>) -> Action {
    help_reply(
        c,
        &[
            "GETNAME",
            "    Return the name of the current connection.",
            "ID",
            "    Return the ID of the current connection.",
            "INFO",
            "    Return information about the current client connection.",
            "LIST [options ...]",
            "    Return information about client connections. Options:",
            "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
            "      Return clients of specified type.",
            "SETNAME <name>",
            "    Assign the name <name> to the current connection.",
        ],
    );
    Action::Continue
}

/// `TIME`: the clock the commands run on, as seconds and microseconds.
fn time(_: &mut Server, _: &mut Client, c: &mut Call<'_>) -> Action {
    reply::array(c.out, 2);
    reply::bulk(c.out, alloc::format!("{}", c.now_ms / 1000).as_bytes());
    reply::bulk(
        c.out,
        alloc::format!("{}", (c.now_ms % 1000) * 1000).as_bytes(),
    );
    Action::Continue
}

/// The live keys of `db` from `from` on, in order, with their entries: a read-only view
/// (expired keys are skipped here; removing them is the keyspace's, on access). One call
/// costs a lookup plus the keys taken, where `Keyspace::keys` visits every key.
pub(crate) fn live_keys<'a>(
    s: &'a Server,
    db: usize,
    from: &[u8],
    now: u64,
) -> impl Iterator<Item = (&'a [u8], &'a Entry)> {
    s.keyspace.dbs[db]
        .range::<[u8], _>((Bound::Included(from), Bound::Unbounded))
        .filter(move |(_, e)| e.expires_at.is_none_or(|t| t > now))
        .map(|(k, e)| (k.as_slice(), e))
}

/// `RANDOMKEY`: a live key of the database, or nil.
fn randomkey(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    let n = live_keys(s, cl.db, b"", c.now_ms).count();
    if n == 0 {
        reply::null(c.out);
        return Action::Continue;
    }
    let pick = (s.next_random() % n as u64) as usize;
    match live_keys(s, cl.db, b"", c.now_ms).nth(pick) {
        Some((k, _)) => reply::bulk(c.out, k),
        None => reply::null(c.out),
    }
    Action::Continue
}

#[cfg(test)]
#[path = "tests_server.rs"]
mod tests;

/// `SAVE` and `BGSAVE`: with persistence every acknowledged write is on disk already; a
/// save makes what is still in flight (everysec) durable too, before the reply.
fn save_now(s: &mut Server, c: &mut Call<'_>) -> bool {
    if s.persistence.durability == Durability::None {
        c.error("ERR kv runs without a disk: start it with one (--disk) to save");
        return false;
    }
    if let Some(e) = &s.write_error {
        let e = e.clone();
        c.error(&e);
        return false;
    }
    s.sync_requested = true;
    s.last_save_ms = Some(c.now_ms);
    s.saves += 1;
    true
}

fn save(s: &mut Server, _: &mut Client, c: &mut Call<'_>) -> Action {
    if save_now(s, c) {
        c.ok();
    }
    Action::Continue
}

/// `BGSAVE [SCHEDULE]`.
fn bgsave(s: &mut Server, _: &mut Client, c: &mut Call<'_>) -> Action {
    if c.args.len() > 2 || (c.args.len() == 2 && !c.args[1].eq_ignore_ascii_case(b"schedule")) {
        c.error(SYNTAX);
        return Action::Continue;
    }
    if save_now(s, c) {
        reply::simple(c.out, "Background saving started");
    }
    Action::Continue
}

fn lastsave(s: &mut Server, _: &mut Client, c: &mut Call<'_>) -> Action {
    let at = s.last_save_ms.or(s.status.started_ms).unwrap_or(c.now_ms);
    reply::integer(c.out, (at / 1000) as i64);
    Action::Continue
}
