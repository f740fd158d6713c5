//! `blkcheck`: proves a disk keeps what it is given, with many requests in flight.
//!
//! ```text
//! blkcheck write SEED [--disk vda] [--tasks N] [--mib M]   fill the disk with SEED's pattern, flush
//! blkcheck verify SEED [--disk vda] [--tasks N] [--mib M]  read it back; a mismatch exits 1
//! blkcheck random TASKS REQUESTS SEED [--disk vda]          random verified writes and reads
//! blkcheck info                                              list disks
//! blkcheck bench randread|seqread|seqwrite BYTES DEPTH SECONDS [--disk vda]
//! ```
//!
//! The pattern is a function of the seed and the byte offset, so any block can be checked
//! on its own. `bench` prints one line,
//! `bench: op=randread bs=4096 qd=32 ops=N bytes=B errors=E elapsed_ns=T`, for
//! `scripts/bench.sh blk`.

#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use libos::block::Disk;
use libos::prelude::*;
use libos::sync::{Arc, Mutex};
use libos::{env, println, thread, time};

libos::main!(main);

const USAGE: &str = "usage: blkcheck write|verify SEED [--disk vdX] [--tasks N] [--mib M] | random TASKS REQUESTS SEED | info | bench randread|seqread|seqwrite BYTES DEPTH SECONDS";
const CHUNK: usize = 256 * 1024;

fn main() -> Result<(), String> {
    let args: Vec<String> = env::args().skip(1).collect();
    let mut words = Vec::new();
    let mut disk_name = String::from("vda");
    let mut tasks = 8usize;
    let mut mib: Option<u64> = None;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--disk" => disk_name = it.next().ok_or("--disk needs a name")?.clone(),
            "--tasks" => tasks = number(it.next(), "--tasks")? as usize,
            "--mib" => mib = Some(number(it.next(), "--mib")?),
            _ => words.push(arg.as_str()),
        }
    }
    let Some((&command, rest)) = words.split_first() else {
        return Err(USAGE.into());
    };
    if command == "info" {
        let disks = libos::block::disks();
        if disks.is_empty() {
            println!("no disks");
        }
        for d in disks {
            println!(
                "{}: {} bytes, block size {}, {}, {}",
                d.name,
                d.len,
                d.block_size,
                if d.read_only {
                    "read-only"
                } else {
                    "read-write"
                },
                if d.write_cache {
                    "write cache"
                } else {
                    "no write cache"
                }
            );
        }
        return Ok(());
    }
    let disk = Disk::open(&disk_name).map_err(|e| format!("blkcheck: {e}"))?;
    let span = mib.map_or(disk.len(), |m| (m << 20).min(disk.len()));
    let result = match (command, rest) {
        ("write", [seed]) => fill(disk, seed_of(seed)?, span, tasks.max(1), true),
        ("verify", [seed]) => fill(disk, seed_of(seed)?, span, tasks.max(1), false),
        ("random", [t, n, seed]) => random(
            disk,
            number(Some(t), "TASKS")? as usize,
            number(Some(n), "REQUESTS")?,
            seed_of(seed)?,
        ),
        ("bench", [op, bytes, depth, seconds]) => bench(
            disk,
            op,
            number(Some(bytes), "BYTES")? as usize,
            number(Some(depth), "DEPTH")? as usize,
            number(Some(seconds), "SECONDS")?,
        ),
        _ => Err(String::from(USAGE)),
    };
    let stats = disk.stats();
    println!(
        "{}: {} reads, {} writes, {} flushes, {} errors, {} interrupts, at most {} in flight",
        disk.name(),
        stats.reads,
        stats.writes,
        stats.flushes,
        stats.errors,
        stats.interrupts,
        stats.max_in_flight
    );
    result
}

fn number(s: Option<&impl AsRef<str>>, what: &str) -> Result<u64, String> {
    let s = s
        .map(AsRef::as_ref)
        .ok_or_else(|| format!("{what} needs a value\n{USAGE}"))?;
    s.parse().map_err(|_| format!("{what}: not a number: {s}"))
}

fn seed_of(s: &str) -> Result<u64, String> {
    s.parse().map_err(|_| format!("SEED: not a number: {s}"))
}

/// The pattern's 8 bytes at byte `offset` (a multiple of 8) for `seed`.
fn pattern_word(seed: u64, offset: u64) -> u64 {
    let mut z = seed ^ offset.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn fill_pattern(buf: &mut [u8], seed: u64, offset: u64) {
    for (i, word) in buf.chunks_exact_mut(8).enumerate() {
        word.copy_from_slice(&pattern_word(seed, offset + 8 * i as u64).to_le_bytes());
    }
}

/// First offset in `buf` (at disk offset `offset`) that differs from the pattern.
fn first_mismatch(buf: &[u8], seed: u64, offset: u64) -> Option<u64> {
    buf.chunks_exact(8).enumerate().find_map(|(i, word)| {
        let at = offset + 8 * i as u64;
        (word != pattern_word(seed, at).to_le_bytes()).then_some(at)
    })
}

/// Writes (or verifies) the pattern over the first `span` bytes with `tasks` threads,
/// each taking every `tasks`-th chunk.
fn fill(disk: Disk, seed: u64, span: u64, tasks: usize, write: bool) -> Result<(), String> {
    let start = time::Instant::now();
    let failure: Arc<Mutex<Option<String>>> = Arc::new(Mutex::new(None));
    let chunks = span.div_ceil(CHUNK as u64);
    let block = u64::from(disk.block_size());
    let workers: Vec<_> = (0..tasks)
        .map(|t| {
            let failure = failure.clone();
            thread::Builder::new()
                .name(format!("blkcheck-{t}"))
                .spawn(move || {
                    let mut buf = vec![0u8; CHUNK];
                    let mut chunk = t as u64;
                    while chunk < chunks && failure.lock().unwrap().is_none() {
                        let offset = chunk * CHUNK as u64;
                        let len = ((span - offset) / block * block).min(CHUNK as u64) as usize;
                        let result = if write {
                            fill_pattern(&mut buf[..len], seed, offset);
                            disk.write_at(&buf[..len], offset).map_err(|e| format!("write: {e}"))
                        } else {
                            disk.read_at(&mut buf[..len], offset)
                                .map_err(|e| format!("read: {e}"))
                                .and_then(|()| match first_mismatch(&buf[..len], seed, offset) {
                                    Some(at) => Err(format!(
                                        "verify: {}: data at offset {at} is not seed {seed}'s pattern",
                                        disk.name()
                                    )),
                                    None => Ok(()),
                                })
                        };
                        if let Err(e) = result {
                            failure.lock().unwrap().get_or_insert(e);
                        }
                        chunk += tasks as u64;
                    }
                })
                .expect("spawn")
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    if let Some(e) = failure.lock().unwrap().take() {
        return Err(e);
    }
    if write {
        disk.flush().map_err(|e| format!("flush: {e}"))?;
    }
    let elapsed = start.elapsed();
    println!(
        "{} {} bytes of seed {seed}'s pattern on {} with {tasks} tasks in {} ms",
        if write { "wrote" } else { "verified" },
        span,
        disk.name(),
        elapsed.as_millis()
    );
    Ok(())
}

/// xorshift64*
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

/// `tasks` threads, `requests` requests in all: each writes a random-length run of its
/// own region with a generation-specific pattern, reads it back and compares.
fn random(disk: Disk, tasks: usize, requests: u64, seed: u64) -> Result<(), String> {
    let tasks = tasks.max(1);
    let region = disk.len() / tasks as u64 / 4096 * 4096;
    if region < 64 * 1024 {
        return Err(format!("{}: too small for {tasks} tasks", disk.name()));
    }
    let done = Arc::new(Mutex::new((0u64, None::<String>)));
    let per_task = requests.div_ceil(tasks as u64);
    let workers: Vec<_> = (0..tasks)
        .map(|t| {
            let done = done.clone();
            thread::Builder::new()
                .name(format!("random-{t}"))
                .spawn(move || {
                    let mut rng =
                        Rng(seed ^ (t as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
                    let base = t as u64 * region;
                    let mut buf = vec![0u8; 64 * 1024];
                    let mut i = 0;
                    // Pairs of requests: a write and the read that checks it.
                    while i < per_task {
                        let len = (1 + rng.next() % 16) as usize * 4096;
                        let offset = base + rng.next() % ((region - len as u64) / 4096) * 4096;
                        let gen_seed = seed ^ rng.next();
                        fill_pattern(&mut buf[..len], gen_seed, offset);
                        let check = disk
                            .write_at(&buf[..len], offset)
                            .map_err(|e| format!("write: {e}"))
                            .and_then(|()| {
                                buf[..len].fill(0);
                                disk.read_at(&mut buf[..len], offset)
                                    .map_err(|e| format!("read: {e}"))
                            });
                        let check = check.and_then(|()| {
                            match first_mismatch(&buf[..len], gen_seed, offset) {
                                Some(at) => {
                                    Err(format!("random: read back wrong data at offset {at}"))
                                }
                                None => Ok(()),
                            }
                        });
                        let mut state = done.lock().unwrap();
                        match check {
                            Ok(()) => state.0 += 2,
                            Err(e) => {
                                state.1.get_or_insert(e);
                                return;
                            }
                        }
                        i += 2;
                    }
                })
                .expect("spawn")
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    let (count, failure) = done.lock().unwrap().clone();
    if let Some(e) = failure {
        return Err(e);
    }
    println!("random: {tasks} tasks, {count} requests verified");
    Ok(())
}

/// Runs `depth` threads issuing `op` requests of `bytes` for `seconds`.
fn bench(disk: Disk, op: &str, bytes: usize, depth: usize, seconds: u64) -> Result<(), String> {
    let (random, write) = match op {
        "randread" => (true, false),
        "seqread" => (false, false),
        "seqwrite" => (false, true),
        _ => return Err(format!("bench: unknown workload {op}\n{USAGE}")),
    };
    let block = u64::from(disk.block_size());
    if bytes == 0 || !(bytes as u64).is_multiple_of(block) || bytes as u64 > disk.len() {
        return Err(format!(
            "bench: BYTES must be a positive multiple of {block} within the disk"
        ));
    }
    let slots = disk.len() / bytes as u64;
    let depth = depth.max(1);
    let totals = Arc::new(Mutex::new((0u64, 0u64, 0u64)));
    let next_seq = Arc::new(Mutex::new(0u64));
    let start = time::Instant::now();
    let deadline = start + core::time::Duration::from_secs(seconds);
    let workers: Vec<_> = (0..depth)
        .map(|t| {
            let (totals, next_seq) = (totals.clone(), next_seq.clone());
            thread::Builder::new()
                .name(format!("bench-{t}"))
                .spawn(move || {
                    let mut rng = Rng(0x853c_49e6_748f_ea9b ^ (t as u64 + 1) << 17 | 1);
                    let mut buf = vec![0x5au8; bytes];
                    let (mut ops, mut moved, mut errors) = (0u64, 0u64, 0u64);
                    while time::Instant::now() < deadline {
                        let slot = if random {
                            rng.next() % slots
                        } else {
                            let mut next = next_seq.lock().unwrap();
                            let slot = *next % slots;
                            *next += 1;
                            slot
                        };
                        let offset = slot * bytes as u64;
                        let r = if write {
                            disk.write_at(&buf, offset)
                        } else {
                            disk.read_at(&mut buf, offset)
                        };
                        match r {
                            Ok(()) => {
                                ops += 1;
                                moved += bytes as u64;
                            }
                            Err(_) => errors += 1,
                        }
                    }
                    let mut t = totals.lock().unwrap();
                    t.0 += ops;
                    t.1 += moved;
                    t.2 += errors;
                })
                .expect("spawn")
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    let elapsed = start.elapsed();
    let (ops, moved, errors) = *totals.lock().unwrap();
    println!(
        "bench: op={op} bs={bytes} qd={depth} ops={ops} bytes={moved} errors={errors} elapsed_ns={}",
        elapsed.as_nanos()
    );
    Ok(())
}
