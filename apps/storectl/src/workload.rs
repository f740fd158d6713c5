//! Workloads on many threads: `fill` (acknowledged keys printed, for the power-cut tests),
//! `verify` (what fill wrote is all there and intact), and `bench` (the store benchmark's
//! guest: phases between `bench: mark` lines at which the host reads QEMU's flush count).

use crate::{EXIT_USAGE, Target, close, die, print_compaction, take_flag, take_option};
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use libos::prelude::*;
use libos::store::{Op, Store};
use libos::sync::Arc;
use libos::time::{Duration, Instant};
use libos::{println, process, thread};

/// The value fill writes for `key`: `"{len}:"` then bytes derived from the key, `len`
/// bytes in all, so that any damage, truncation or mix-up is seen by [`check_value`].
pub fn value_for(key: &[u8], len: usize) -> Vec<u8> {
    let mut v = format!("{len}:").into_bytes();
    let mut h = fnv(key);
    while v.len() < len {
        h = h.wrapping_mul(0x100_0000_01b3) ^ 0x5a;
        v.push(b'a' + (h >> 59) as u8 % 26);
    }
    v.truncate(len);
    v
}

/// The check word printed after each key on `acked` and `present` lines (32-bit FNV-1a of
/// the key), so that a reader of the console can tell a garbled line from a real one.
pub fn line_check(key: &[u8]) -> u32 {
    key.iter().fold(0x811c_9dc5, |h, &b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

fn fnv(key: &[u8]) -> u64 {
    key.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

/// Whether `value` is what fill wrote for `key`.
pub fn check_value(key: &[u8], value: &[u8]) -> bool {
    let Some(colon) = value.iter().position(|&b| b == b':') else {
        return false;
    };
    let Some(len) = core::str::from_utf8(&value[..colon])
        .ok()
        .and_then(|s| s.parse::<usize>().ok())
    else {
        return false;
    };
    len == value.len() && value_for(key, len) == value
}

fn key_for(prefix: &str, writer: usize, i: u64, j: usize, batch: usize) -> String {
    if batch == 1 {
        format!("{prefix}w{writer}-{i}")
    } else {
        format!("{prefix}w{writer}-{i}.{j}of{batch}")
    }
}

fn number(rest: &mut Vec<String>, name: &str, default: u64) -> u64 {
    take_option(rest, name, |s| s.parse::<u64>().ok()).unwrap_or(default)
}

pub fn fill(target: &Target, rest: &mut Vec<String>) {
    let writers = number(rest, "--writers", 64).max(1) as usize;
    let value_size = number(rest, "--value-size", 100).max(8) as usize;
    let batch = number(rest, "--batch", 1).max(1) as usize;
    let prefix = take_option(rest, "--prefix", |s| Some(String::from(s))).unwrap_or_default();
    let compact = take_flag(rest, "--compact");
    let [n] = <[String; 1]>::try_from(core::mem::take(rest)).unwrap_or_else(|_| {
        println!("storectl: expected: fill N [--writers W] [--value-size B] [--batch K] [--prefix P] [--compact]");
        process::exit(EXIT_USAGE)
    });
    let total: u64 = n.parse().unwrap_or_else(|_| {
        println!("storectl: fill: not a number: {n}");
        process::exit(EXIT_USAGE)
    });
    let store = target.open();
    let acked = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut threads = Vec::new();
    if compact {
        let (s, acked, disk) = (store.clone(), acked.clone(), target.disk.clone());
        threads.push(thread::spawn(move || {
            while acked.load(Ordering::Relaxed) < total / 2 {
                thread::sleep(Duration::from_millis(5));
            }
            println!("compaction started");
            match s.compact() {
                Ok(c) => print_compaction(&c),
                Err(e) => die(&disk, &e),
            }
        }));
    }
    let per_writer = total.div_ceil(writers as u64);
    let claimed = Arc::new(AtomicU64::new(0));
    for w in 0..writers {
        let (s, acked, prefix, disk) = (
            store.clone(),
            acked.clone(),
            prefix.clone(),
            target.disk.clone(),
        );
        let claimed = claimed.clone();
        threads.push(thread::spawn(move || {
            let mut i = 0u64;
            while i < per_writer && claimed.fetch_add(batch as u64, Ordering::Relaxed) < total {
                let keys: Vec<String> = (0..batch)
                    .map(|j| key_for(&prefix, w, i, j, batch))
                    .collect();
                let values: Vec<Vec<u8>> = keys
                    .iter()
                    .map(|k| value_for(k.as_bytes(), value_size))
                    .collect();
                let ops: Vec<Op<'_>> = keys
                    .iter()
                    .zip(&values)
                    .map(|(k, v)| Op::Put {
                        key: k.as_bytes(),
                        value: v,
                    })
                    .collect();
                if let Err(e) = s.batch(&ops) {
                    die(&disk, &e);
                }
                for k in &keys {
                    println!("acked {k} #{:08x}", line_check(k.as_bytes()));
                }
                acked.fetch_add(batch as u64, Ordering::Relaxed);
                i += 1;
            }
        }));
    }
    for t in threads {
        let _ = t.join();
    }
    let secs = started.elapsed().as_secs_f64();
    let done = acked.load(Ordering::Relaxed);
    println!("fill: done puts={done} seconds={secs:.3}");
    close(store, target);
}

pub fn verify(target: &Target, rest: &mut Vec<String>) {
    let list = take_flag(rest, "--list");
    crate::no_more(rest);
    let store = target.open();
    let mut cursor: Option<Vec<u8>> = None;
    let mut keys = 0u64;
    let mut bad = 0u64;
    // Batches: base key -> (members seen, batch size).
    let mut batches: libos::alloc::collections::BTreeMap<String, (usize, usize)> =
        Default::default();
    loop {
        let page = store
            .scan(b"", cursor.as_deref(), 1000)
            .unwrap_or_else(|e| die(&target.disk, &e));
        let Some((last, _)) = page.last() else { break };
        cursor = Some(last.clone());
        for (k, v) in page {
            let key = String::from_utf8_lossy(&k).into_owned();
            if !is_fill_key(&key) {
                continue;
            }
            keys += 1;
            if list {
                println!("present {key} #{:08x}", line_check(&k));
            }
            if !check_value(&k, &v) {
                bad += 1;
                println!(
                    "verify: FAILED {key}: value is not what fill wrote ({} bytes: {:?}...)",
                    v.len(),
                    String::from_utf8_lossy(&v[..v.len().min(24)])
                );
            }
            if let Some((base, size)) = batch_of(&key) {
                let e = batches.entry(String::from(base)).or_insert((0, size));
                e.0 += 1;
            }
        }
    }
    for (base, (seen, size)) in &batches {
        if seen != size {
            bad += 1;
            println!("verify: FAILED batch {base}: {seen} of its {size} keys present");
        }
    }
    if bad > 0 {
        println!("verify: FAILED keys={keys} bad={bad}");
        process::exit(1);
    }
    println!("verify: keys={keys} batches={} ok", batches.len());
}

/// Whether `key` looks like one fill writes: `{prefix}w{writer}-{i}[.{j}of{k}]`.
fn is_fill_key(key: &str) -> bool {
    let Some(w) = key.rfind('w') else {
        return false;
    };
    let tail = &key[w + 1..];
    let Some((writer, rest)) = tail.split_once('-') else {
        return false;
    };
    let i = rest.split('.').next().unwrap_or("");
    !writer.is_empty()
        && writer.bytes().all(|b| b.is_ascii_digit())
        && !i.is_empty()
        && i.bytes().all(|b| b.is_ascii_digit())
}

/// `(base, batch size)` of a batch member key `{base}.{j}of{k}`.
fn batch_of(key: &str) -> Option<(&str, usize)> {
    let (base, member) = key.rsplit_once('.')?;
    let (_, size) = member.split_once("of")?;
    Some((base, size.parse().ok()?))
}

/// Latencies in microseconds, sorted: the `p`th percentile.
fn percentile(sorted: &[u32], p: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    let at = ((sorted.len() as f64 * p / 100.0) as usize).min(sorted.len() - 1);
    sorted[at]
}

/// One operation of a phase: `(store, worker, i)`.
type OpFn = Arc<dyn Fn(&Store, usize, u64) + Send + Sync>;
/// Whether a phase goes on.
type GoFn = Arc<dyn Fn() -> bool + Send + Sync>;

struct PhaseResult {
    ops: u64,
    seconds: f64,
    latencies: Vec<u32>,
    flushes: u64,
}

fn report(name: &str, store: &Store, writers: usize, mut r: PhaseResult) {
    r.latencies.sort_unstable();
    println!(
        "bench: result phase={name} mode={} writers={writers} ops={} seconds={:.3} rate={:.0} \
         p50_us={} p99_us={} p999_us={} guest_flushes={}",
        store.durability().name(),
        r.ops,
        r.seconds,
        r.ops as f64 / r.seconds.max(1e-9),
        percentile(&r.latencies, 50.0),
        percentile(&r.latencies, 99.0),
        percentile(&r.latencies, 99.9),
        r.flushes
    );
}

fn mark(name: &str, pause: Duration) {
    println!("bench: mark {name}");
    thread::sleep(pause);
}

/// Runs `threads` workers, each doing `op(worker, i)` for `i` in its share of `ops`, while
/// `keep_going()` holds; returns what they did.
fn run_phase(store: &Store, threads: usize, ops: u64, keep_going: GoFn, op: OpFn) -> PhaseResult {
    let flushes_before = store.stats().flushes;
    let started = Instant::now();
    let per = ops.div_ceil(threads as u64);
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let (s, op, keep_going) = (store.clone(), op.clone(), keep_going.clone());
            thread::spawn(move || {
                let mut lat = Vec::with_capacity(per as usize);
                for i in 0..per {
                    if !keep_going() {
                        break;
                    }
                    let t0 = Instant::now();
                    op(&s, t, i);
                    lat.push(t0.elapsed().as_micros().min(u128::from(u32::MAX)) as u32);
                }
                lat
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for h in handles {
        latencies.extend(h.join().unwrap_or_default());
    }
    PhaseResult {
        ops: latencies.len() as u64,
        seconds: started.elapsed().as_secs_f64(),
        latencies,
        flushes: store.stats().flushes - flushes_before,
    }
}

pub fn bench(target: &Target, rest: &mut Vec<String>) {
    let writers = number(rest, "--writers", 64).max(1) as usize;
    let puts = number(rest, "--puts", 20_000).max(1);
    let value_size = number(rest, "--value-size", 100) as usize;
    let gets = number(rest, "--gets", puts);
    let pause = Duration::from_millis(number(rest, "--pause-ms", 700));
    crate::no_more(rest);
    let store = target.open_or_create();
    let value: Arc<Vec<u8>> = Arc::new(vec![b'v'; value_size]);
    let disk = target.disk.clone();
    let put = {
        let (value, disk) = (value.clone(), disk.clone());
        move |tag: &'static str| -> OpFn {
            let (value, disk) = (value.clone(), disk.clone());
            Arc::new(move |s: &Store, t: usize, i: u64| {
                let key = format!("{tag}{t}-{i}");
                if let Err(e) = s.put(key.as_bytes(), &value) {
                    die(&disk, &e);
                }
            })
        }
    };
    let always: GoFn = Arc::new(|| true);
    println!("bench: ready mode={}", store.durability().name());
    let one = (puts / 10).max(1);
    mark("put1-start", pause);
    let r = run_phase(&store, 1, one, always.clone(), put("a"));
    mark("put1-end", pause);
    report("put1", &store, 1, r);

    mark("put64-start", pause);
    let r = run_phase(&store, writers, puts, always.clone(), put("b"));
    mark("put64-end", pause);
    report("put64", &store, writers, r);

    let get: OpFn = {
        let disk = disk.clone();
        let per = puts.div_ceil(writers as u64);
        Arc::new(move |s: &Store, t: usize, i: u64| {
            // Every key the 64-writer phase wrote, spread over the readers.
            let n = (t as u64 * 7919 + i * 104_729) % (per * writers as u64);
            let key = format!("b{}-{}", n % writers as u64, n / writers as u64);
            match s.get(key.as_bytes()) {
                Ok(Some(_)) => {}
                Ok(None) => {
                    println!("storectl: bench: key {key} missing");
                    process::exit(1);
                }
                Err(e) => die(&disk, &e),
            }
        })
    };
    mark("get-start", pause);
    let r = run_phase(&store, writers, gets, always.clone(), get);
    mark("get-end", pause);
    report("get", &store, writers, r);

    // Puts while a compaction pass runs: the writers stop when it is done.
    mark("compacting-start", pause);
    let compacting = Arc::new(AtomicBool::new(true));
    let compactor = {
        let (s, flag, disk) = (store.clone(), compacting.clone(), disk.clone());
        thread::spawn(move || {
            let r = s.compact();
            flag.store(false, Ordering::Relaxed);
            match r {
                Ok(c) => c,
                Err(e) => die(&disk, &e),
            }
        })
    };
    let flag = compacting.clone();
    let r = run_phase(
        &store,
        writers,
        puts,
        Arc::new(move || flag.load(Ordering::Relaxed)),
        put("c"),
    );
    let c = compactor.join().unwrap_or_else(|e| match e {});
    mark("compacting-end", pause);
    report("put64-compacting", &store, writers, r);
    print_compaction(&c);
    let st = store.stats();
    println!(
        "bench: store records={} log_bytes={} max_group_records={} flushes={}",
        st.log.records, st.log.log_bytes, st.max_group_records, st.flushes
    );
    println!("bench: done");
    close(store, target);
}
