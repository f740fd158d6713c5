//! `storectl`: a [`libos::store`] on a disk, from the command line.
//!
//! ```text
//! storectl [--disk vda] [--index-memory BYTES] [--durability durable|everysec] COMMAND
//!   format [--force]            make an empty store (refuses a disk holding anything, unless --force)
//!   put KEY VALUE | get KEY | delete KEY
//!   scan [PREFIX] [--limit N]   KEY=VALUE lines in key order
//!   stats | compact
//!   fill N [--writers W] [--value-size B] [--batch K] [--prefix P] [--compact]
//!   verify [--list]             check what fill wrote
//!   bench [--writers W] [--puts N] [--value-size B] [--gets N] [--pause-ms MS]
//!   selftest                    in-guest checks of the store's API
//! ```
//!
//! Every error prints one `storectl: ` line and ends with a status that says what kind it
//! was (see [`status_of`]): the tests and the benchmark read them.

#![no_std]
#![no_main]
#![forbid(unsafe_code)]

mod selftest;
mod workload;

use libos::prelude::*;
use libos::store::{self, Durability, Error, OpenOptions, Store};
use libos::time::Duration;
use libos::{env, println, process};

libos::main!(main);

const USAGE: &str = "usage: storectl [--disk vda] [--index-memory BYTES] [--durability durable|everysec] \
format [--force] | put KEY VALUE | get KEY | delete KEY | scan [PREFIX] [--limit N] | stats | compact | \
fill N [--writers W] [--value-size B] [--batch K] [--prefix P] [--compact] | verify [--list] | \
bench [--writers W] [--puts N] [--value-size B] [--gets N] [--pause-ms MS] | selftest";

/// Exit statuses.
pub const EXIT_USAGE: i32 = 1;
pub const EXIT_NOT_FOUND: i32 = 2;
pub const EXIT_FULL: i32 = 3;
pub const EXIT_READ_ONLY: i32 = 4;
pub const EXIT_CORRUPT: i32 = 5;
pub const EXIT_DEVICE: i32 = 6;
pub const EXIT_NOT_A_STORE: i32 = 7;
pub const EXIT_ALREADY_OPEN: i32 = 8;
pub const EXIT_INDEX_FULL: i32 = 9;

/// The exit status for a store error.
pub fn status_of(e: &Error) -> i32 {
    match e {
        Error::StorageFull { .. } => EXIT_FULL,
        Error::ReadOnly | Error::Failed { .. } => EXIT_READ_ONLY,
        Error::Corrupt { .. } => EXIT_CORRUPT,
        Error::Device { .. } => EXIT_DEVICE,
        Error::Blank
        | Error::NotAStore
        | Error::Version { .. }
        | Error::DiskTooSmall { .. }
        | Error::WrongSize { .. }
        | Error::Unsupported { .. } => EXIT_NOT_A_STORE,
        Error::AlreadyOpen => EXIT_ALREADY_OPEN,
        Error::IndexFull { .. } => EXIT_INDEX_FULL,
        _ => EXIT_USAGE,
    }
}

/// Prints `storectl: DISK: ERROR` and ends the run with the error's status.
pub fn die(disk: &str, e: &Error) -> ! {
    if *e == Error::NoSuchDisk {
        let names: Vec<String> = libos::block::disks().into_iter().map(|d| d.name).collect();
        if names.is_empty() {
            println!(
                "storectl: no disk {disk}: there are no disks (give QEMU one with --disk FILE)"
            );
        } else {
            println!("storectl: no disk {disk} (disks: {})", names.join(", "));
        }
        process::exit(EXIT_USAGE);
    }
    println!("storectl: {disk}: {e}");
    process::exit(status_of(e));
}

fn usage(message: &str) -> ! {
    println!("storectl: {message}\n{USAGE}");
    process::exit(EXIT_USAGE);
}

/// What every command gets: the disk and how to open it.
pub struct Target {
    pub disk: String,
    pub options: OpenOptions,
    pub durability: Durability,
}

impl Target {
    /// Opens the store or dies saying why.
    pub fn open(&self) -> Store {
        Store::open(&self.disk, &self.options).unwrap_or_else(|e| die(&self.disk, &e))
    }

    /// The same, formatting a blank disk.
    pub fn open_or_create(&self) -> Store {
        Store::open(&self.disk, &self.options.create(true)).unwrap_or_else(|e| die(&self.disk, &e))
    }
}

/// Parses `N`, `NK`, `NM`, `NG`.
pub fn size(s: &str) -> Option<u64> {
    let (digits, shift) = match s.as_bytes().last()? {
        b'k' | b'K' => (&s[..s.len() - 1], 10),
        b'm' | b'M' => (&s[..s.len() - 1], 20),
        b'g' | b'G' => (&s[..s.len() - 1], 30),
        _ => (s, 0),
    };
    digits.parse::<u64>().ok()?.checked_mul(1 << shift)
}

/// The value of option `name` in `rest` (removing both words), parsed by `parse`.
pub fn take_option<T>(
    rest: &mut Vec<String>,
    name: &str,
    parse: impl Fn(&str) -> Option<T>,
) -> Option<T> {
    let at = rest.iter().position(|a| a == name)?;
    if at + 1 >= rest.len() {
        usage(&format!("{name} needs a value"));
    }
    let value = rest.remove(at + 1);
    rest.remove(at);
    Some(parse(&value).unwrap_or_else(|| usage(&format!("{name}: bad value '{value}'"))))
}

/// Whether flag `name` is in `rest` (removing it).
pub fn take_flag(rest: &mut Vec<String>, name: &str) -> bool {
    match rest.iter().position(|a| a == name) {
        Some(at) => {
            rest.remove(at);
            true
        }
        None => false,
    }
}

fn main() {
    let mut args: Vec<String> = env::args().skip(1).collect();
    let disk = take_option(&mut args, "--disk", |s| Some(String::from(s)))
        .unwrap_or_else(|| String::from("vda"));
    let index_memory = take_option(&mut args, "--index-memory", size).unwrap_or(32 << 20);
    let durability = take_option(&mut args, "--durability", |s| match s {
        "durable" => Some(Durability::Durable),
        "everysec" => Some(Durability::Relaxed {
            interval: Duration::from_secs(1),
        }),
        _ => None,
    })
    .unwrap_or(Durability::Durable);
    let target = Target {
        disk,
        options: OpenOptions::new()
            .index_memory(index_memory)
            .durability(durability),
        durability,
    };
    if args.is_empty() {
        usage("no command");
    }
    let command = args.remove(0);
    let mut rest = args;
    match command.as_str() {
        "format" => format(&target, &mut rest),
        "put" => {
            let [key, value] = words(rest, "put KEY VALUE");
            let s = target.open();
            s.put(key.as_bytes(), value.as_bytes())
                .unwrap_or_else(|e| die(&target.disk, &e));
            close(s, &target);
            println!("ok");
        }
        "get" => {
            let [key] = words(rest, "get KEY");
            let s = target.open();
            match s.get(key.as_bytes()) {
                Ok(Some(v)) => println!("{}", String::from_utf8_lossy(&v)),
                Ok(None) => {
                    println!("storectl: {key}: not found");
                    process::exit(EXIT_NOT_FOUND);
                }
                Err(e) => die(&target.disk, &e),
            }
        }
        "delete" => {
            let [key] = words(rest, "delete KEY");
            let s = target.open();
            let found = s
                .delete(key.as_bytes())
                .unwrap_or_else(|e| die(&target.disk, &e));
            close(s, &target);
            println!("{}", if found { "deleted" } else { "not found" });
        }
        "scan" => scan(&target, &mut rest),
        "stats" => {
            no_more(&rest);
            print_stats(&target.open());
        }
        "compact" => {
            no_more(&rest);
            let s = target.open();
            println!("compaction started");
            let c = s.compact().unwrap_or_else(|e| die(&target.disk, &e));
            print_compaction(&c);
            close(s, &target);
        }
        "fill" => workload::fill(&target, &mut rest),
        "verify" => workload::verify(&target, &mut rest),
        "bench" => workload::bench(&target, &mut rest),
        "selftest" => selftest::run(&target),
        other => usage(&format!("unknown command '{other}'")),
    }
}

fn words<const N: usize>(rest: Vec<String>, shape: &str) -> [String; N] {
    rest.try_into()
        .unwrap_or_else(|_| usage(&format!("expected: {shape}")))
}

pub fn no_more(rest: &[String]) {
    if let Some(extra) = rest.first() {
        usage(&format!("unexpected argument '{extra}'"));
    }
}

/// Closes `store`, reporting a failure that happened after the last acknowledged write.
pub fn close(store: Store, target: &Target) {
    if let Err(e) = store.close() {
        die(&target.disk, &e);
    }
}

fn format(target: &Target, rest: &mut Vec<String>) {
    let force = take_flag(rest, "--force");
    no_more(rest);
    if let Err(e) = store::format(&target.disk, force) {
        if e == Error::NotAStore {
            println!(
                "storectl: {}: the disk is not blank (it holds a store or other data); \
                 `format --force` erases it",
                target.disk
            );
            process::exit(EXIT_NOT_A_STORE);
        }
        die(&target.disk, &e);
    }
    let s = target.open();
    let st = s.stats();
    println!(
        "formatted {}: {} bytes of log",
        target.disk, st.log.capacity
    );
    close(s, target);
}

fn scan(target: &Target, rest: &mut Vec<String>) {
    let limit = take_option(rest, "--limit", |s| s.parse::<usize>().ok()).unwrap_or(usize::MAX);
    let prefix = match rest.len() {
        0 => String::new(),
        1 => rest.remove(0),
        _ => usage("expected: scan [PREFIX] [--limit N]"),
    };
    let s = target.open();
    let mut cursor: Option<Vec<u8>> = None;
    let mut left = limit;
    while left > 0 {
        let page = s
            .scan(prefix.as_bytes(), cursor.as_deref(), left.min(1000))
            .unwrap_or_else(|e| die(&target.disk, &e));
        let Some((last, _)) = page.last() else { break };
        cursor = Some(last.clone());
        left -= page.len();
        for (k, v) in page {
            println!(
                "{}={}",
                String::from_utf8_lossy(&k),
                String::from_utf8_lossy(&v)
            );
        }
    }
}

pub fn print_stats(s: &Store) {
    let st = s.stats();
    let last = match st.last_compaction {
        Some(c) => format!(
            "{}ms-ago(took={}ms,log_before={},log_after={},copied={})",
            (libos::time::Instant::now()
                .since_boot()
                .saturating_sub(c.finished))
            .as_millis(),
            c.took.as_millis(),
            c.log_before,
            c.log_after,
            c.copied
        ),
        None => String::from("none-since-open"),
    };
    println!(
        "stats: records={} live_bytes={} log_bytes={} capacity={} free={} compactions={} \
         last_compaction={} durability={} index_bytes={} index_limit={} epoch={} open_ms={} \
         replayed={} read_only={}",
        st.log.records,
        st.log.live_bytes,
        st.log.log_bytes,
        st.log.capacity,
        st.log.free,
        st.log.compactions,
        last,
        st.durability.name(),
        st.log.index_bytes,
        st.log.index_limit,
        st.log.epoch,
        st.open_took.as_millis(),
        st.replayed_records,
        st.log.read_only
    );
}

pub fn print_compaction(c: &store::Compaction) {
    println!(
        "compaction done took_ms={} log_before={} log_after={} copied={}",
        c.took.as_millis(),
        c.log_before,
        c.log_after,
        c.copied
    );
}
