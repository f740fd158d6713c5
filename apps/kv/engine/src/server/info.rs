//! `INFO [section ...]`: Redis 7.0's sections and their layout, with the values this server
//! knows (uptime, clients, commands, the keyspace, persistence as the app set it up).
//! Figures it does not keep (CPU time, hit counts, latencies) are left out rather than
//! made up; `used_memory` is an estimate from the data's size.

use super::{Durability, live_keys};
use crate::keyspace::Value;
use crate::{Action, Call, Client, DATABASES, Server};
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write;
use resp::reply;

/// The Redis version this server answers as.
pub(crate) const REDIS_VERSION: &str = "7.0.15";

/// Sections in `INFO`'s order: name, and whether `INFO` alone shows it.
const SECTIONS: &[(&str, bool)] = &[
    ("server", true),
    ("clients", true),
    ("memory", true),
    ("persistence", true),
    ("stats", true),
    ("replication", true),
    ("cpu", true),
    ("modules", true),
    ("commandstats", false),
    ("errorstats", true),
    ("latencystats", false),
    ("cluster", true),
    ("keyspace", true),
];

pub(super) fn info(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    let mut wanted: Vec<String> = Vec::new();
    let mut all = false;
    for arg in &c.args[1..] {
        let name = String::from_utf8_lossy(arg).to_lowercase();
        match name.as_str() {
            "default" => wanted.extend(
                SECTIONS
                    .iter()
                    .filter(|(_, d)| *d)
                    .map(|(n, _)| String::from(*n)),
            ),
            "all" | "everything" => all = true,
            "module_list" => wanted.push(String::from("modules")),
            _ => wanted.push(name),
        }
    }
    let show = |name: &str| {
        if c.args.len() == 1 {
            SECTIONS.iter().any(|(n, d)| *n == name && *d)
        } else {
            all || wanted.iter().any(|w| w == name)
        }
    };
    let chosen: Vec<&str> = SECTIONS
        .iter()
        .map(|(n, _)| *n)
        .filter(|n| show(n))
        .collect();
    let mut text = String::new();
    for (i, name) in chosen.into_iter().enumerate() {
        if i > 0 {
            text.push_str("\r\n");
        }
        section(s, cl, c.now_ms, name, &mut text);
    }
    reply::bulk(c.out, text.as_bytes());
    Action::Continue
}

/// `bytes` as Redis's `bytesToHuman` writes it (`1.18M`).
fn human(bytes: u64) -> String {
    let units = [
        ("K", 1u64 << 10),
        ("M", 1 << 20),
        ("G", 1 << 30),
        ("T", 1 << 40),
        ("P", 1 << 50),
    ];
    if bytes < 1024 {
        return alloc::format!("{bytes}B");
    }
    let (unit, size) = units
        .iter()
        .rev()
        .find(|(_, size)| bytes >= *size)
        .copied()
        .unwrap_or(units[0]);
    let hundredths = (bytes as u128 * 100 + size as u128 / 2) / size as u128;
    alloc::format!("{}.{:02}{unit}", hundredths / 100, hundredths % 100)
}

/// A rough size of a value in memory: its bytes and a little per element.
fn value_bytes(v: &Value) -> u64 {
    let strings =
        |items: &mut dyn Iterator<Item = usize>| -> u64 { items.map(|n| n as u64 + 16).sum() };
    match v {
        Value::Str(b) => b.len() as u64,
        Value::List(l) => strings(&mut l.iter().map(Vec::len)),
        Value::Hash(h) => strings(&mut h.iter().map(|(f, v)| f.len() + v.len() + 16)),
        Value::Set(set) => strings(&mut set.iter().map(Vec::len)),
        Value::ZSet(z) => strings(
            &mut z
                .range(0, z.len().saturating_sub(1))
                .map(|(m, _)| m.len() + 8),
        ),
    }
}

/// Per database: live keys, keys with an expiry time, and roughly their bytes.
fn databases(s: &Server, now: u64) -> Vec<(usize, usize, u64)> {
    (0..DATABASES)
        .map(|db| {
            let (mut keys, mut expires, mut bytes) = (0, 0, 0);
            for (k, e) in live_keys(s, db, b"", now) {
                keys += 1;
                expires += usize::from(e.expires_at.is_some());
                bytes += k.len() as u64 + 48 + value_bytes(&e.value);
            }
            (keys, expires, bytes)
        })
        .collect()
}

fn run_id(s: &mut Server) -> String {
    if s.status.run_id.is_empty() {
        let mut id = String::new();
        while id.len() < 40 {
            let _ = write!(id, "{:016x}", s.next_random());
        }
        id.truncate(40);
        s.status.run_id = id;
    }
    s.status.run_id.clone()
}

/// Writes `key:value` lines under `# Heading`s.
struct Lines<'a>(&'a mut String);

impl Lines<'_> {
    fn heading(&mut self, title: &str) -> &mut Self {
        let _ = write!(self.0, "# {title}\r\n");
        self
    }

    fn add(&mut self, key: &str, value: impl core::fmt::Display) -> &mut Self {
        let _ = write!(self.0, "{key}:{value}\r\n");
        self
    }
}

/// Appends section `name`, its heading and lines.
fn section(s: &mut Server, cl: &Client, now: u64, name: &str, out: &mut String) {
    match name {
        "server" => {
            let id = run_id(s);
            let uptime = now.saturating_sub(s.status.started(now)) / 1000;
            let hz = s.status.config.number("hz");
            Lines(out)
                .heading("Server")
                .add("redis_version", REDIS_VERSION)
                .add("redis_git_sha1", "00000000")
                .add("redis_git_dirty", 0)
                .add("redis_mode", "standalone")
                .add("server_name", "kv")
                .add("kv_version", env!("CARGO_PKG_VERSION"))
                .add("os", "kv unikernel x86_64")
                .add("arch_bits", 64)
                .add("process_id", 1)
                .add("run_id", id)
                .add("tcp_port", s.status.port())
                .add("server_time_usec", now * 1000)
                .add("uptime_in_seconds", uptime)
                .add("uptime_in_days", uptime / 86400)
                .add("hz", hz)
                .add("configured_hz", hz)
                .add("lru_clock", (now / 1000) & ((1 << 24) - 1))
                .add("executable", "")
                .add("config_file", "")
                .add("io_threads_active", 0);
        }
        "clients" => {
            let known = s.status.clients.contains_key(&cl.id);
            Lines(out)
                .heading("Clients")
                .add(
                    "connected_clients",
                    s.status.clients.len() + usize::from(!known),
                )
                .add("cluster_connections", 0)
                .add("maxclients", s.status.config.number("maxclients"))
                .add("blocked_clients", 0)
                .add("tracking_clients", 0)
                .add("clients_in_timeout_table", 0);
        }
        "memory" => {
            let used: u64 = databases(s, now).iter().map(|(_, _, b)| b).sum();
            s.status.peak_memory = s.status.peak_memory.max(used);
            let maxmemory = s.status.config.number("maxmemory") as u64;
            Lines(out)
                .heading("Memory")
                .add("used_memory", used)
                .add("used_memory_human", human(used))
                .add("used_memory_peak", s.status.peak_memory)
                .add("used_memory_peak_human", human(s.status.peak_memory))
                .add("used_memory_dataset", used)
                .add("maxmemory", maxmemory)
                .add("maxmemory_human", human(maxmemory))
                .add("maxmemory_policy", s.status.config.text("maxmemory-policy"))
                .add("mem_allocator", "libc");
        }
        "persistence" => {
            let p = &s.persistence;
            Lines(out)
                .heading("Persistence")
                .add("loading", 0)
                .add("async_loading", 0)
                .add("rdb_bgsave_in_progress", 0)
                .add(
                    "rdb_last_save_time",
                    s.last_save_ms.or(s.status.started_ms).unwrap_or(now) / 1000,
                )
                .add("rdb_last_bgsave_status", "ok")
                .add("rdb_saves", s.saves)
                .add("aof_enabled", u8::from(p.durability != Durability::None))
                .add("aof_rewrite_in_progress", 0)
                .add("aof_rewrite_scheduled", 0)
                .add("aof_last_bgrewrite_status", "ok")
                .add(
                    "aof_last_write_status",
                    if s.write_error.is_some() { "err" } else { "ok" },
                );
        }
        "stats" => {
            let st = &s.status;
            Lines(out)
                .heading("Stats")
                .add("total_connections_received", st.connections_received)
                .add("total_commands_processed", st.commands_processed)
                .add("rejected_connections", 0)
                .add("evicted_keys", 0)
                .add("evicted_clients", 0)
                .add("pubsub_channels", 0)
                .add("pubsub_patterns", 0)
                .add("pubsubshard_channels", 0)
                .add("total_forks", 0);
        }
        "replication" => {
            let id = run_id(s);
            Lines(out)
                .heading("Replication")
                .add("role", "master")
                .add("connected_slaves", 0)
                .add("master_failover_state", "no-failover")
                .add("master_replid", id)
                .add("master_replid2", "0000000000000000000000000000000000000000")
                .add("master_repl_offset", 0)
                .add("second_repl_offset", -1)
                .add("repl_backlog_active", 0)
                .add("repl_backlog_size", 1_048_576)
                .add("repl_backlog_first_byte_offset", 0)
                .add("repl_backlog_histlen", 0);
        }
        "cpu" => {
            Lines(out).heading("CPU");
        }
        "modules" => {
            Lines(out).heading("Modules");
        }
        "commandstats" => {
            let mut lines = Lines(out);
            lines.heading("Commandstats");
            for (name, calls) in &s.status.calls {
                lines.add(
                    &alloc::format!("cmdstat_{name}"),
                    alloc::format!("calls={calls}"),
                );
            }
        }
        "errorstats" => {
            Lines(out).heading("Errorstats");
        }
        "latencystats" => {
            Lines(out).heading("Latencystats");
        }
        "cluster" => {
            Lines(out).heading("Cluster").add("cluster_enabled", 0);
        }
        _ => {
            let dbs = databases(s, now);
            let mut lines = Lines(out);
            lines.heading("Keyspace");
            for (db, (keys, expires, _)) in dbs.into_iter().enumerate() {
                if keys > 0 {
                    lines.add(
                        &alloc::format!("db{db}"),
                        alloc::format!("keys={keys},expires={expires},avg_ttl=0"),
                    );
                }
            }
        }
    }
}
