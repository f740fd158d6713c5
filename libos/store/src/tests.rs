//! The engine against [`PowerCutDisk`]: randomised workloads of puts, deletes, batches,
//! commits and compaction steps, with power cuts at random I/O points; after each, the
//! reopened store must hold every acknowledged write, and unacknowledged ones only as
//! whole groups in order (never half a batch, never out of order).

use crate::format::{self, DATA_START, SLOT_BYTES};
use crate::log::{Append, Class, Log, Lookup, Op, Options};
use crate::read::read_step;
use crate::testdisk::{Cut, PowerCutDisk, Rng};
use crate::{Error, IoOp};
use std::collections::BTreeMap;
use std::vec::Vec;

type State = BTreeMap<Vec<u8>, Vec<u8>>;

#[derive(Clone, Debug)]
enum Owned {
    Put(Vec<u8>, Vec<u8>),
    Delete(Vec<u8>),
}

fn apply(state: &mut State, ops: &[Owned]) {
    for op in ops {
        match op {
            Owned::Put(k, v) => {
                state.insert(k.clone(), v.clone());
            }
            Owned::Delete(k) => {
                state.remove(k);
            }
        }
    }
}

fn borrowed(ops: &[Owned]) -> Vec<Op<'_>> {
    ops.iter()
        .map(|o| match o {
            Owned::Put(k, v) => Op::Put { key: k, value: v },
            Owned::Delete(k) => Op::Delete { key: k },
        })
        .collect()
}

/// Power went out; the caller reopens.
struct Crash;

type Flow<T = ()> = Result<T, Crash>;

struct Sim {
    disk: PowerCutDisk,
    log: Log,
    options: Options,
    /// The state every acknowledged write made.
    acked: State,
    /// Appended, not yet acknowledged, in order, with the LSN each is durable at.
    pending: Vec<(u64, Vec<Owned>)>,
    /// The state after everything appended (what reads must see).
    current: State,
    rng: Rng,
    /// Percent chance of a power cut at each I/O point.
    crash_percent: u64,
    cut: Cut,
    crashes: u64,
    compactions: u64,
}

fn write_superblock(disk: &mut PowerCutDisk, sb: &format::Superblock) {
    disk.write(sb.slot_offset(), &sb.encode()).unwrap();
}

fn format_disk(disk: &mut PowerCutDisk, store_id: u64) {
    let sb = Log::format(disk.len(), 512, store_id).unwrap();
    write_superblock(disk, &sb);
    disk.write(SLOT_BYTES, &[0; 512]).unwrap();
    disk.flush();
}

fn open(disk: &mut PowerCutDisk, options: &Options) -> crate::Result<Log> {
    let len = disk.len();
    let (log, _, sb) = Log::open(disk, len, 512, options)?;
    if let Some(sb) = sb {
        write_superblock(disk, &sb);
        disk.flush();
    }
    Ok(log)
}

/// Every key and value the store holds, read the way `get` reads.
fn contents(log: &Log, disk: &mut PowerCutDisk) -> State {
    let mut out = State::new();
    for (key, _) in log.scan(b"", None, usize::MAX) {
        out.insert(key.clone(), get(log, disk, &key).unwrap().unwrap());
    }
    out
}

fn get(log: &Log, disk: &mut PowerCutDisk, key: &[u8]) -> crate::Result<Option<Vec<u8>>> {
    match log.lookup(key)? {
        Lookup::Missing => Ok(None),
        Lookup::Memory(v) => Ok(Some(v)),
        Lookup::Disk(loc) => match log.reader().read(disk, key, loc)? {
            Some(v) => Ok(Some(v)),
            None => Err(Error::Corrupt {
                offset: log.layout().offset(loc.lsn),
            }),
        },
    }
}

impl Sim {
    fn new(disk_len: usize, seed: u64, cut: Cut, crash_percent: u64) -> Self {
        let mut rng = Rng::new(seed);
        let mut disk = PowerCutDisk::new(disk_len);
        format_disk(&mut disk, rng.next());
        let options = Options::default();
        let log = open(&mut disk, &options).unwrap();
        Self {
            disk,
            log,
            options,
            acked: State::new(),
            pending: Vec::new(),
            current: State::new(),
            rng,
            crash_percent,
            cut,
            crashes: 0,
            compactions: 0,
        }
    }

    fn io_point(&mut self) -> Flow {
        if self.rng.chance(self.crash_percent) {
            Err(Crash)
        } else {
            Ok(())
        }
    }

    fn random_ops(&mut self) -> Vec<Owned> {
        let wide = self.rng.chance(20);
        let n = 1 + self.rng.below(if wide { 6 } else { 1 });
        (0..n)
            .map(|_| {
                let key = format!("k{}", self.rng.below(300)).into_bytes();
                if self.rng.chance(20) {
                    Owned::Delete(key)
                } else {
                    let len = match self.rng.below(100) {
                        0..=79 => self.rng.below(200),
                        80..=97 => self.rng.below(3000),
                        _ => self.rng.below(self.log.layout().max_record() - 100),
                    } as usize;
                    let tag = self.rng.next();
                    let value = (0..len)
                        .map(|i| (tag >> (i % 8 * 8)) as u8 ^ i as u8)
                        .collect();
                    Owned::Put(key, value)
                }
            })
            .collect()
    }

    /// Appends a random batch; a full store triggers compaction instead (unless this write
    /// happens during a compaction step).
    fn write(&mut self, may_compact: bool) -> Flow {
        let ops = self.random_ops();
        let class = if ops.iter().all(|o| matches!(o, Owned::Delete(_))) {
            Class::Delete
        } else {
            Class::Write
        };
        match self.log.append(&borrowed(&ops), class) {
            Ok(Append::Done { end, .. }) => {
                apply(&mut self.current, &ops);
                self.pending.push((end, ops));
                Ok(())
            }
            Ok(Append::GroupFull) => self.commit(),
            Err(Error::StorageFull { .. }) if may_compact => self.compact(),
            Err(Error::StorageFull { .. } | Error::TooLarge { .. }) => Ok(()),
            Err(e) => panic!("append: {e}"),
        }
    }

    /// One commit: seal, write, flush, acknowledge.
    fn commit(&mut self) -> Flow {
        let Some(group) = self.log.seal() else {
            return Ok(());
        };
        let layout = self.log.layout();
        for (offset, range) in group.extents(&layout) {
            self.io_point()?;
            self.disk.write(offset, &group.bytes[range]).unwrap();
        }
        self.log.written(group.end);
        self.io_point()?;
        self.disk.flush();
        self.log.durable_to(group.end);
        let durable = self.log.durable();
        let done = self
            .pending
            .iter()
            .take_while(|(end, _)| *end <= durable)
            .count();
        for (_, ops) in self.pending.drain(..done) {
            apply(&mut self.acked, &ops);
        }
        Ok(())
    }

    /// One compaction step from the head, done as `libos::store` does it: everything up to
    /// the tail made durable first, then copy decisions with writers appending (and not
    /// committing) in between, the copies and whatever they depended on made durable, and
    /// the superblock that moves the head written and flushed.
    fn compact(&mut self) -> Flow {
        let until = self.log.tail();
        if self.rng.chance(50) {
            // The open group may grow past `until` before it is sealed.
            self.write(false)?;
        }
        while self.log.durable() < until {
            self.commit()?;
        }
        let Some((start, limit)) = self.log.compaction_window(until) else {
            return Ok(());
        };
        let step_bytes = 4096 << self.rng.below(6);
        let step = read_step(
            self.log.reader(),
            &mut self.disk,
            start,
            limit,
            until,
            step_bytes,
        )
        .unwrap_or_else(|e| panic!("compaction read: {e}"));
        assert!(step.end > start);
        let mut next = 0;
        let barrier = loop {
            if self.rng.chance(40) {
                // Writers keep writing meanwhile, overwriting and deleting keys the step holds.
                self.write(false)?;
            }
            let before = next;
            let batch = 1 + self.rng.below(16) as usize;
            let barrier = match self.log.copy_live(&step, &mut next, batch) {
                Ok(b) => b,
                Err(e) => panic!("compaction copy: {e}"),
            };
            if next == step.records.len() {
                break barrier;
            }
            let group_full = next < before + batch;
            if group_full || self.rng.chance(20) {
                self.commit()?;
            }
        };
        if self.rng.chance(50) {
            self.write(false)?;
        }
        while self.log.durable() < barrier {
            self.commit()?;
        }
        let sb = self.log.prepare_head(step.end, true);
        self.io_point()?;
        write_superblock(&mut self.disk, &sb);
        self.io_point()?;
        self.disk.flush();
        self.log.head_written(sb);
        self.compactions += 1;
        // Power cuts right after the head moved are where a missed dependency would show.
        if self.rng.chance(10 * self.crash_percent) {
            return Err(Crash);
        }
        Ok(())
    }

    fn check_reads(&mut self) {
        for _ in 0..3 {
            let key = format!("k{}", self.rng.below(300)).into_bytes();
            let got = get(&self.log, &mut self.disk, &key).unwrap();
            assert_eq!(got.as_ref(), self.current.get(&key), "get {key:?}");
        }
    }

    /// Power cut, reopen, and check what survived.
    fn crash(&mut self) {
        self.crashes += 1;
        let mut rng = self.rng.clone();
        self.disk.power_cut(self.cut, &mut rng);
        self.rng.next();
        self.log = open(&mut self.disk, &self.options)
            .unwrap_or_else(|e| panic!("reopen after power cut {}: {e}", self.crashes));
        let got = contents(&self.log, &mut self.disk);
        let mut candidate = self.acked.clone();
        let mut matched = candidate == got;
        for (_, ops) in &self.pending {
            if matched {
                break;
            }
            apply(&mut candidate, ops);
            matched = candidate == got;
        }
        assert!(
            matched,
            "after power cut {}: the store holds neither the acknowledged state nor it plus a \
             prefix of the {} unacknowledged writes",
            self.crashes,
            self.pending.len()
        );
        self.acked = got.clone();
        self.current = got;
        self.pending.clear();
    }

    fn run(&mut self, steps: usize) {
        for _ in 0..steps {
            let r = match self.rng.below(100) {
                0..=59 => self.write(true),
                60..=89 => self.commit(),
                90..=95 => {
                    self.check_reads();
                    Ok(())
                }
                _ => self.compact(),
            };
            let r = r.and_then(|()| {
                if self.log.wants_compaction() {
                    self.compact()
                } else {
                    Ok(())
                }
            });
            if r.is_err() {
                self.crash();
            }
        }
        if self.commit().is_err() {
            self.crash();
        }
        // A clean shutdown loses nothing.
        let want = self.current.clone();
        if self.pending.is_empty() {
            self.disk.power_cut(Cut::DropAll, &mut self.rng);
            self.log = open(&mut self.disk, &self.options).unwrap();
            assert_eq!(contents(&self.log, &mut self.disk), want);
        }
    }
}

#[test]
fn random_workloads_keep_every_acknowledged_write_across_torn_power_cuts() {
    let mut crashes = 0;
    let mut compactions = 0;
    for seed in 0..24 {
        let mut sim = Sim::new(2 * 1024 * 1024 + DATA_START as usize, seed, Cut::Tear, 2);
        sim.run(2500);
        crashes += sim.crashes;
        compactions += sim.compactions;
    }
    assert!(crashes > 500, "only {crashes} power cuts");
    assert!(compactions > 100, "only {compactions} compaction steps");
}

#[test]
fn random_workloads_keep_every_acknowledged_write_when_unflushed_writes_vanish() {
    for seed in 100..112 {
        let mut sim = Sim::new(3 * 1024 * 1024, seed, Cut::DropAll, 2);
        sim.run(2500);
        assert!(sim.crashes > 10);
    }
}

#[test]
fn without_power_cuts_the_log_wraps_many_times_and_reads_stay_right() {
    let mut sim = Sim::new(2 * 1024 * 1024, 7, Cut::DropAll, 0);
    sim.run(20_000);
    let stats = sim.log.stats();
    assert!(
        stats.head > 4 * stats.capacity,
        "wrapped only {}x",
        stats.head / stats.capacity
    );
    assert_eq!(contents(&sim.log, &mut sim.disk), sim.current);
}

fn fresh(disk_len: usize) -> (PowerCutDisk, Log) {
    let mut disk = PowerCutDisk::new(disk_len);
    format_disk(&mut disk, 0x5eed);
    let log = open(&mut disk, &Options::default()).unwrap();
    (disk, log)
}

/// Appends, commits and flushes one batch.
fn put_now(log: &mut Log, disk: &mut PowerCutDisk, ops: &[Op<'_>]) -> crate::Result<usize> {
    let class = if ops.iter().all(|o| matches!(o, Op::Delete { .. })) {
        Class::Delete
    } else {
        Class::Write
    };
    let Append::Done { removed, .. } = log.append(ops, class)? else {
        panic!("group full");
    };
    commit_group(log, disk)?;
    Ok(removed)
}

/// [`put_now`] of one key.
fn put1(log: &mut Log, disk: &mut PowerCutDisk, key: &[u8], value: &[u8]) -> crate::Result<usize> {
    put_now(log, disk, &[Op::Put { key, value }])
}

/// Seals the open group, writes it, flushes, and tells the log (what the committer does).
fn commit_group(log: &mut Log, disk: &mut PowerCutDisk) -> crate::Result {
    let g = log.seal().expect("records to commit");
    for (offset, range) in g.extents(&log.layout()) {
        disk.write(offset, &g.bytes[range])?;
    }
    log.written(g.end);
    disk.flush();
    log.durable_to(g.end);
    Ok(())
}

fn compact_all(log: &mut Log, disk: &mut PowerCutDisk) {
    let until = log.tail();
    while let Some((start, limit)) = log.compaction_window(until) {
        let step = read_step(log.reader(), disk, start, limit, until, u64::MAX).unwrap();
        let mut next = 0;
        loop {
            let barrier = log.copy_live(&step, &mut next, usize::MAX).unwrap();
            while log.durable() < barrier {
                commit_group(log, disk).unwrap();
            }
            if next == step.records.len() {
                break;
            }
        }
        let sb = log.prepare_head(step.end, step.end >= until);
        write_superblock(disk, &sb);
        disk.flush();
        log.head_written(sb);
    }
}

#[test]
fn a_full_store_refuses_puts_but_still_deletes_and_compacts() {
    let (mut disk, mut log) = fresh(2 * 1024 * 1024);
    let value = [7u8; 1000];
    let mut n = 0;
    let full = loop {
        let key = format!("key{n}");
        match put1(&mut log, &mut disk, key.as_bytes(), &value) {
            Ok(_) => n += 1,
            Err(e) => break e,
        }
    };
    assert!(matches!(full, Error::StorageFull { .. }), "{full}");
    assert!(n > 1000, "only {n} puts fit");
    // Reads still work; deletes use their reserve.
    assert_eq!(get(&log, &mut disk, b"key0").unwrap().unwrap(), value);
    // Deletes may use their reserve; when that runs out, compaction (which may use the
    // rest) reclaims the deleted keys' space from the head of the log.
    let mut deletes_while_full = None;
    for i in 0..n / 2 {
        let key = format!("key{i}");
        let delete = [Op::Delete {
            key: key.as_bytes(),
        }];
        let r = match put_now(&mut log, &mut disk, &delete) {
            Err(Error::StorageFull { .. }) => {
                deletes_while_full.get_or_insert(i);
                compact_all(&mut log, &mut disk);
                put_now(&mut log, &mut disk, &delete)
            }
            r => r,
        };
        assert_eq!(r, Ok(1), "delete {key}");
    }
    assert!(
        deletes_while_full.unwrap_or(n) >= 16,
        "{deletes_while_full:?}"
    );
    compact_all(&mut log, &mut disk);
    let stats = log.stats();
    assert!(
        stats.free > 500 * 1024,
        "compaction freed too little: {stats:?}"
    );
    assert_eq!(stats.records, (n - n / 2) as u64);
    put1(&mut log, &mut disk, b"after", b"compaction").unwrap();
    let log = open(&mut disk, &Options::default()).unwrap();
    assert_eq!(
        get(&log, &mut disk, b"after").unwrap().unwrap(),
        b"compaction"
    );
    assert_eq!(get(&log, &mut disk, b"key0").unwrap(), None);
    assert_eq!(
        get(&log, &mut disk, format!("key{}", n - 1).as_bytes())
            .unwrap()
            .unwrap(),
        value
    );
    assert!(log.stats().compactions >= 2);
}

#[test]
fn a_write_costs_its_own_size_however_big_the_store() {
    let (mut disk, mut log) = fresh(8 * 1024 * 1024);
    let big = [1u8; 20_000];
    for i in 0..100 {
        put1(&mut log, &mut disk, format!("big{i}").as_bytes(), &big).unwrap();
    }
    let before = log.stats().tail;
    put1(&mut log, &mut disk, b"big0", b"small").unwrap();
    assert_eq!(
        log.stats().tail - before,
        512,
        "one block for a small overwrite"
    );
}

#[test]
fn open_tells_blank_foreign_and_future_disks_apart() {
    let mut disk = PowerCutDisk::new(2 * 1024 * 1024);
    let len = disk.len();
    let opts = Options::default();
    assert_eq!(
        Log::open(&mut disk, len, 512, &opts).unwrap_err(),
        Error::Blank
    );
    // An ext4 superblock at byte 1024, as mke2fs writes it.
    let mut ext4 = [0u8; 1024];
    ext4[0x38] = 0x53;
    ext4[0x39] = 0xef;
    disk.write(1024, &ext4).unwrap();
    assert_eq!(
        Log::open(&mut disk, len, 512, &opts).unwrap_err(),
        Error::NotAStore
    );
    let mut disk = PowerCutDisk::new(2 * 1024 * 1024);
    format_disk(&mut disk, 1);
    let mut sb = disk_bytes(&mut disk, 0, 512);
    sb[8] = 2;
    let crc = crate::crc32c::crc32c(0, &sb[..format::SUPER_LEN - 4]);
    sb[format::SUPER_LEN - 4..format::SUPER_LEN].copy_from_slice(&crc.to_le_bytes());
    disk.write(0, &sb).unwrap();
    assert_eq!(
        Log::open(&mut disk, len, 512, &opts).unwrap_err(),
        Error::Version { found: 2 }
    );
    let mut small = PowerCutDisk::new(512 * 1024);
    assert!(matches!(
        Log::format(small.len(), 512, 1),
        Err(Error::DiskTooSmall { .. })
    ));
    let small_len = small.len();
    assert_eq!(
        Log::open(&mut small, small_len, 512, &opts).unwrap_err(),
        Error::Blank
    );
}

fn disk_bytes(disk: &mut PowerCutDisk, offset: u64, len: usize) -> Vec<u8> {
    let mut buf = vec![0u8; len];
    crate::ReadAt::read_at(disk, offset, &mut buf).unwrap();
    buf
}

#[test]
fn corruption_before_the_known_end_is_reported_with_its_offset() {
    let (mut disk, mut log) = fresh(2 * 1024 * 1024);
    for i in 0..50 {
        put1(&mut log, &mut disk, format!("k{i}").as_bytes(), b"v").unwrap();
    }
    // Moving the head (a compaction) records how far the log is known to be durable.
    compact_all(&mut log, &mut disk);
    let Lookup::Disk(loc) = log.lookup(b"k10").unwrap() else {
        panic!()
    };
    let offset = log.layout().offset(loc.lsn);
    disk.corrupt(offset + 17);
    // A read finds it.
    assert_eq!(get(&log, &mut disk, b"k10"), Err(Error::Corrupt { offset }));
    assert!(log.still_at(b"k10", loc));
    // So does the next open: the group holding it ends the replay before the end recorded
    // in the superblock.
    let group_offset = log
        .layout()
        .round_down(offset - format::GROUP_HEADER as u64);
    assert_eq!(
        open(&mut disk, &Options::default()).unwrap_err(),
        Error::Corrupt {
            offset: group_offset
        }
    );
}

#[test]
fn the_index_memory_limit_is_an_error_at_put_and_at_open() {
    let (mut disk, mut log) = fresh(4 * 1024 * 1024);
    for i in 0..100 {
        put1(&mut log, &mut disk, format!("key{i:03}").as_bytes(), b"v").unwrap();
    }
    let small = Options {
        index_memory: 50 * (6 + crate::index::ENTRY_OVERHEAD),
        read_only: false,
    };
    assert_eq!(
        open(&mut disk, &small).unwrap_err(),
        Error::IndexFull {
            limit: small.index_memory
        }
    );
    let mut log = open(
        &mut disk,
        &Options {
            index_memory: 101 * 70,
            read_only: false,
        },
    )
    .unwrap();
    put1(&mut log, &mut disk, b"key100", b"v").unwrap();
    let e = put1(&mut log, &mut disk, b"key101", b"v").unwrap_err();
    assert!(matches!(e, Error::IndexFull { .. }), "{e}");
    // Overwrites need no new index memory.
    put1(&mut log, &mut disk, b"key000", b"w").unwrap();
}

#[test]
fn a_failed_write_turns_the_store_read_only_and_keeps_what_was_durable() {
    let (mut disk, mut log) = fresh(2 * 1024 * 1024);
    put1(&mut log, &mut disk, b"a", b"1").unwrap();
    disk.fail_at = Some(0);
    let Append::Done { .. } = log
        .append(
            &[Op::Put {
                key: b"b",
                value: b"2",
            }],
            Class::Write,
        )
        .unwrap()
    else {
        panic!()
    };
    let g = log.seal().unwrap();
    let (offset, range) = g.extents(&log.layout())[0].clone();
    let err = disk.write(offset, &g.bytes[range]).unwrap_err();
    assert_eq!(
        err,
        Error::Device {
            op: IoOp::Write,
            offset
        }
    );
    log.fail(err);
    assert_eq!(
        log.append(
            &[Op::Put {
                key: b"c",
                value: b"3"
            }],
            Class::Write
        ),
        Err(Error::Failed { offset })
    );
    assert_eq!(log.lookup(b"b"), Err(Error::Failed { offset }));
    assert!(log.seal().is_none());
    disk.fail_at = None;
    assert_eq!(get(&log, &mut disk, b"a").unwrap().unwrap(), b"1");
    let log = open(&mut disk, &Options::default()).unwrap();
    assert_eq!(get(&log, &mut disk, b"a").unwrap().unwrap(), b"1");
    assert_eq!(get(&log, &mut disk, b"b").unwrap(), None);
}

#[test]
fn a_read_only_open_replays_but_refuses_writes() {
    let (mut disk, mut log) = fresh(2 * 1024 * 1024);
    put1(&mut log, &mut disk, b"a", b"1").unwrap();
    let flushes = disk.flushes;
    let ro = Options {
        read_only: true,
        ..Options::default()
    };
    let len = disk.len();
    let (mut log, _, sb) = Log::open(&mut disk, len, 512, &ro).unwrap();
    assert!(sb.is_none(), "a read-only open writes nothing");
    assert_eq!(disk.flushes, flushes);
    assert_eq!(get(&log, &mut disk, b"a").unwrap().unwrap(), b"1");
    assert_eq!(
        log.append(&[Op::Delete { key: b"a" }], Class::Delete),
        Err(Error::ReadOnly)
    );
    assert!(log.compaction_window(u64::MAX).is_none());
}

#[test]
fn a_group_left_from_before_a_crash_is_not_replayed_after_a_newer_one() {
    // Two groups written after the last flush; the power cut keeps only the second. After
    // reopening, a new group of the same length takes the first one's place: the old second
    // group now sits exactly where the next group would, with the right LSN and checksum.
    // Its epoch is older than the new group's, so replay stops there.
    let (mut disk, mut log) = fresh(2 * 1024 * 1024);
    let write = |log: &mut Log, disk: &mut PowerCutDisk, key: &[u8], value: &[u8]| {
        log.append(&[Op::Put { key, value }], Class::Write).unwrap();
        let g = log.seal().unwrap();
        for (offset, range) in g.extents(&log.layout()) {
            disk.write(offset, &g.bytes[range]).unwrap();
        }
        log.written(g.end);
    };
    write(&mut log, &mut disk, b"k", b"old-1");
    write(&mut log, &mut disk, b"k", b"old-2");
    let mut kept = disk.clone_durable_with_last_write();
    let mut log = open(&mut kept, &Options::default()).unwrap();
    assert_eq!(
        get(&log, &mut kept, b"k").unwrap(),
        None,
        "the first group is gone"
    );
    write(&mut log, &mut kept, b"k", b"new-1");
    kept.flush();
    log.durable_to(log.stats().tail);
    let mut rng = Rng::new(1);
    kept.power_cut(Cut::DropAll, &mut rng);
    let log = open(&mut kept, &Options::default()).unwrap();
    assert_eq!(get(&log, &mut kept, b"k").unwrap().unwrap(), b"new-1");
}

#[test]
fn scans_are_ordered_and_batches_are_atomic() {
    let (mut disk, mut log) = fresh(2 * 1024 * 1024);
    put_now(
        &mut log,
        &mut disk,
        &[
            Op::Put {
                key: b"user:2",
                value: b"b",
            },
            Op::Put {
                key: b"user:10",
                value: b"c",
            },
            Op::Put {
                key: b"user:1",
                value: b"a",
            },
            Op::Put {
                key: b"other",
                value: b"x",
            },
            Op::Delete { key: b"other" },
        ],
    )
    .unwrap();
    let keys: Vec<_> = log
        .scan(b"user:", None, 10)
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(keys, [&b"user:1"[..], b"user:10", b"user:2"]);
    assert!(!log.contains(b"other"));
    // A batch too large for one group is refused whole.
    let big = vec![0u8; log.layout().max_record() as usize - 100];
    let ops: Vec<_> = (0..3)
        .map(|_| Op::Put {
            key: b"big",
            value: &big,
        })
        .collect();
    assert!(matches!(
        log.append(&ops, Class::Write),
        Err(Error::TooLarge { .. })
    ));
    assert!(!log.contains(b"big"));
}

#[test]
fn compaction_waits_for_the_newer_write_that_made_a_record_dead() {
    // k=v1 is acknowledged; k=v2 (and a delete of j, in one batch with it) is appended but
    // not yet committed when compaction decides v1 is dead. Moving the head before v2 is
    // durable would lose both on a power cut: k would come back with no value at all.
    let (mut disk, mut log) = fresh(2 * 1024 * 1024);
    put1(&mut log, &mut disk, b"j", b"J").unwrap();
    put1(&mut log, &mut disk, b"k", b"v1").unwrap();
    let batch = [
        Op::Put {
            key: b"k",
            value: b"v2",
        },
        Op::Delete { key: b"j" },
    ];
    assert!(matches!(
        log.append(&batch, Class::Write),
        Ok(Append::Done { .. })
    ));
    let (start, limit) = log.compaction_window(u64::MAX).unwrap();
    let step = read_step(log.reader(), &mut disk, start, limit, u64::MAX, u64::MAX).unwrap();
    let mut next = 0;
    let barrier = log.copy_live(&step, &mut next, usize::MAX).unwrap();
    assert_eq!(next, step.records.len());
    assert!(
        barrier > log.durable(),
        "the unflushed batch is a dependency"
    );
    // Commit up to the barrier, as libos::store does, then move the head and cut power.
    while log.durable() < barrier {
        commit_group(&mut log, &mut disk).unwrap();
    }
    let sb = log.prepare_head(step.end, true);
    write_superblock(&mut disk, &sb);
    disk.flush();
    log.head_written(sb);
    disk.power_cut(Cut::DropAll, &mut Rng::new(3));
    let log = open(&mut disk, &Options::default()).unwrap();
    assert_eq!(get(&log, &mut disk, b"k").unwrap().unwrap(), b"v2");
    assert_eq!(get(&log, &mut disk, b"j").unwrap(), None);
}

#[test]
#[should_panic(expected = "once its copies are durable")]
fn moving_the_head_before_its_dependencies_are_durable_is_refused() {
    let (mut disk, mut log) = fresh(2 * 1024 * 1024);
    put1(&mut log, &mut disk, b"k", b"v1").unwrap();
    log.append(
        &[Op::Put {
            key: b"k",
            value: b"v2",
        }],
        Class::Write,
    )
    .unwrap();
    let (start, limit) = log.compaction_window(u64::MAX).unwrap();
    let step = read_step(log.reader(), &mut disk, start, limit, u64::MAX, u64::MAX).unwrap();
    log.copy_live(&step, &mut 0, usize::MAX).unwrap();
    let _ = log.prepare_head(step.end, true);
}

#[test]
fn a_checkpoint_makes_rot_before_it_an_error_instead_of_a_shorter_log() {
    let (mut disk, mut log) = fresh(4 * 1024 * 1024);
    let value = [9u8; 2000];
    let mut i = 0;
    while !log.checkpoint_due() {
        put1(&mut log, &mut disk, format!("k{i}").as_bytes(), &value).unwrap();
        i += 1;
    }
    let sb = log.prepare_checkpoint();
    write_superblock(&mut disk, &sb);
    disk.flush();
    log.head_written(sb);
    assert!(!log.checkpoint_due());
    let Lookup::Disk(loc) = log.lookup(b"k3").unwrap() else {
        panic!()
    };
    disk.corrupt(log.layout().offset(loc.lsn) + 100);
    let group = log.layout().round_down(log.layout().offset(loc.lsn));
    assert_eq!(
        open(&mut disk, &Options::default()).unwrap_err(),
        Error::Corrupt { offset: group }
    );
}
