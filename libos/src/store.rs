//! Durable key-value storage on a whole disk: a crash-safe log with group commit.
//!
//! ```ignore
//! use libos::store::{OpenOptions, Store};
//! let store = Store::open("vdb", &OpenOptions::new().create(true))?;
//! store.put(b"greeting", b"hello")?;            // returns once durable
//! assert_eq!(store.get(b"greeting")?.as_deref(), Some(&b"hello"[..]));
//! store.batch(&[Op::Put { key: b"a", value: b"1" }, Op::Delete { key: b"b" }])?;
//! for (key, value) in store.scan(b"user:", None, 100)? { /* in key order */ }
//! ```
//!
//! **Which disk**: the app names it (`vda`, `vdb`, ... in `--disk` order, see
//! [`crate::block`]); the store takes the whole disk. A disk is open as a store at most once
//! at a time ([`Error::AlreadyOpen`]). [`Store::open`] never formats unless asked to
//! ([`OpenOptions::create`], blank disks only), and refuses a disk that holds anything else
//! ([`Error::NotAStore`]); [`format`] makes an empty store explicitly.
//!
//! **Durability**: with [`Durability::Durable`] (the default), `put`, `delete` and `batch`
//! return `Ok` only after a flush that was submitted after their record was written has
//! completed. Writers that arrive while a flush is in flight are committed together by
//! the next one (group commit), so many concurrent writers cost few flushes.
//! [`Durability::Relaxed`] acknowledges at once and commits at most once per interval: up
//! to that interval of acknowledged writes may be lost in a power cut (as Redis's
//! `appendfsync everysec`).
//!
//! **Reads** see every write that was appended, acknowledged or not (as a reader of Redis
//! does). **Scans** are ordered by key and take a prefix and a cursor (the last key of the
//! previous page): ordered, because the index is a B-tree and ordered pages make a stable
//! cursor for free; a prefix, because that is how apps group keys (`user:42:*`).
//!
//! **Failures**: a full store gives [`Error::StorageFull`] (after waiting for compaction if
//! that can make room) and stays readable and deletable; a read-only disk opens read-only;
//! a failed write or flush fails every waiting writer and turns the store read-only until
//! it is opened again; corruption is [`Error::Corrupt`] with the disk offset.
//!
//! Two threads run per open store: the committer (writes groups, flushes) and the compactor
//! (reclaims space from overwritten and deleted keys when the log is three quarters full, or
//! on [`Store::compact`]). The engine, its format and its crash tests are in `logstore`.

mod threads;

use crate::block::Disk;
use crate::sync::{Arc, Condvar, Mutex};
use crate::thread::{Builder, JoinHandle};
use crate::time::{Duration, Instant};
use alloc::string::String;
use alloc::vec::Vec;
use core::future::poll_fn;
use core::task::{Poll, Waker};
use logstore::{Append, Class, IoOp, Log, Lookup, Options, ReadAt};

pub use logstore::{Error, Op, Stats as LogStats};

pub type Result<T = ()> = core::result::Result<T, Error>;

/// How acknowledged writes are made durable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Durability {
    /// Acknowledge after the flush that covers the write.
    Durable,
    /// Acknowledge at once; commit at most once per `interval`.
    Relaxed { interval: Duration },
}

impl Durability {
    /// `durable` or `everysec`-style `relaxed-1000ms`, as printed with results.
    pub fn name(&self) -> String {
        match self {
            Self::Durable => String::from("durable"),
            Self::Relaxed { interval } => alloc::format!("relaxed-{}ms", interval.as_millis()),
        }
    }
}

/// How to open a store.
#[derive(Clone, Copy, Debug)]
pub struct OpenOptions {
    create: bool,
    read_only: bool,
    index_memory: u64,
    durability: Durability,
}

impl Default for OpenOptions {
    fn default() -> Self {
        Self::new()
    }
}

impl OpenOptions {
    pub fn new() -> Self {
        Self {
            create: false,
            read_only: false,
            index_memory: Options::default().index_memory,
            durability: Durability::Durable,
        }
    }

    /// Format the disk if it is blank (never if it holds anything).
    pub fn create(mut self, create: bool) -> Self {
        self.create = create;
        self
    }

    /// Open read-only (a read-only disk always is).
    pub fn read_only(mut self, read_only: bool) -> Self {
        self.read_only = read_only;
        self
    }

    /// Memory the key index may use; a data set whose keys do not fit is refused with
    /// [`Error::IndexFull`] (at open, or at the put that would not fit).
    pub fn index_memory(mut self, bytes: u64) -> Self {
        self.index_memory = bytes;
        self
    }

    pub fn durability(mut self, durability: Durability) -> Self {
        self.durability = durability;
        self
    }
}

/// The last compaction pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Compaction {
    /// When it finished, since boot.
    pub finished: Duration,
    pub took: Duration,
    /// Log bytes before and after.
    pub log_before: u64,
    pub log_after: u64,
    /// Live records it copied forward.
    pub copied: u64,
}

/// Numbers about an open store.
#[derive(Clone, Debug)]
pub struct Stats {
    pub disk: String,
    pub durability: Durability,
    pub log: LogStats,
    /// Flushes the committer issued since open (the host can count them too).
    pub flushes: u64,
    /// Most records in one group.
    pub max_group_records: u64,
    /// Time the open took (replay included), groups and records replayed.
    pub open_took: Duration,
    pub replayed_records: u64,
    pub last_compaction: Option<Compaction>,
}

/// The disks open as stores.
static OPEN: Mutex<Vec<String>> = Mutex::new(Vec::new());

struct DiskReader(Disk);

impl ReadAt for DiskReader {
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result {
        self.0.read_at(buf, offset).map_err(|_| Error::Device {
            op: IoOp::Read,
            offset,
        })
    }
}

fn write_error(offset: u64) -> Error {
    Error::Device {
        op: IoOp::Write,
        offset,
    }
}

fn flush_error() -> Error {
    Error::Device {
        op: IoOp::Flush,
        offset: 0,
    }
}

/// Makes an empty store on disk `name`, which must be blank unless `force` (then whatever
/// it held, a store or not, is gone).
pub fn format(name: &str, force: bool) -> Result {
    let disk = Disk::open(name).map_err(|_| Error::NoSuchDisk)?;
    if disk.is_read_only() {
        return Err(Error::ReadOnly);
    }
    let claim = Claim::take(name)?;
    let mut reader = DiskReader(disk);
    match Log::probe(&mut reader, disk.len()) {
        Err(Error::Blank) => {}
        Err(Error::Device { op, offset }) => return Err(Error::Device { op, offset }),
        Ok(_) | Err(_) if !force => return Err(Error::NotAStore),
        Ok(_) | Err(_) => {}
    }
    let result = write_new_store(disk);
    drop(claim);
    result
}

fn write_new_store(disk: Disk) -> Result {
    let sb = Log::format(disk.len(), u64::from(disk.block_size()), store_id())?;
    let mut other = alloc::vec![0u8; disk.block_size() as usize];
    let other_offset = logstore::format::SLOT_BYTES - sb.slot_offset();
    disk.write_at(&other, other_offset)
        .map_err(|_| write_error(other_offset))?;
    // A store formatted over an old one must not meet that store's groups: its checksums
    // are seeded with another id, but clear the start of the log anyway.
    other.resize(64 * 1024, 0);
    let start = sb.layout.data_start;
    disk.write_at(&other, start)
        .map_err(|_| write_error(start))?;
    disk.write_at(&sb.encode(), sb.slot_offset())
        .map_err(|_| write_error(sb.slot_offset()))?;
    disk.flush().map_err(|_| flush_error())
}

/// A store id that differs between formats: the time since boot and the boot's wall time,
/// mixed.
fn store_id() -> u64 {
    let now = Instant::now().since_boot().as_nanos() as u64;
    let mut x = now ^ crate::time::boot_time().as_nanos() as u64 ^ 0x9e37_79b9_7f4a_7c15;
    x ^= x >> 30;
    x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x ^= x >> 27;
    x = x.wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// A batch [`Store::append`] appended: where it ends in the log, and how many of its
/// deletes found their key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Appended {
    end: u64,
    pub removed: usize,
}

/// A disk's place in [`OPEN`], released when dropped.
struct Claim(String);

impl Claim {
    fn take(name: &str) -> Result<Self> {
        let mut open = OPEN.lock().unwrap_or_else(|e| match e {});
        if open.iter().any(|n| n == name) {
            return Err(Error::AlreadyOpen);
        }
        open.push(String::from(name));
        Ok(Self(String::from(name)))
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        OPEN.lock()
            .unwrap_or_else(|e| match e {})
            .retain(|n| *n != self.0);
    }
}

struct State {
    log: Log,
    wakers: Vec<Waker>,
    closing: bool,
    /// The committer has stopped: nothing more becomes durable.
    committer_done: bool,
    flushes: u64,
    max_group_records: u64,
    /// Compaction passes asked for and finished.
    compactions_wanted: u64,
    compactions_done: u64,
    compacting: bool,
    last_compaction: Option<Compaction>,
    /// How the last pass ended.
    last_pass: Result<Compaction>,
    /// Automatic passes wait until the tail reaches this (a pass that found little to
    /// reclaim is not repeated at once).
    auto_after: u64,
    /// Loads in progress ([`Store::for_each_live`]): compaction waits for them.
    readers: u32,
}

impl State {
    /// Whether an automatic compaction pass should start.
    fn auto_compaction_due(&self) -> bool {
        self.log.wants_compaction() && self.log.tail() >= self.auto_after
    }

    fn changed(&mut self) {
        for w in self.wakers.drain(..) {
            w.wake();
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> crate::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| match e {})
}

struct Shared {
    disk: Disk,
    name: String,
    durability: Durability,
    state: Mutex<State>,
    /// The committer waits here for records.
    work: Condvar,
    /// The compactor waits here for a reason to run.
    compact: Condvar,
    open_took: Duration,
    replayed_records: u64,
}

/// An open store: cheap to clone, usable from every thread at once. The store closes
/// (committing what was appended) when the last clone is dropped, or on [`Store::close`].
#[derive(Clone)]
pub struct Store {
    handle: Arc<Handle>,
}

impl core::fmt::Debug for Store {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Store({})", self.shared().name)
    }
}

struct Handle {
    shared: Arc<Shared>,
    threads: Mutex<Vec<JoinHandle<()>>>,
    _claim: Claim,
}

impl Drop for Handle {
    fn drop(&mut self) {
        shut_down(&self.shared, &self.threads);
    }
}

fn shut_down(shared: &Shared, threads: &Mutex<Vec<JoinHandle<()>>>) {
    {
        let mut st = lock(&shared.state);
        st.closing = true;
        st.changed();
    }
    shared.work.notify_all();
    shared.compact.notify_all();
    for t in core::mem::take(&mut *lock(threads)) {
        let _ = t.join();
    }
    // Free the index a slice at a time, letting other tasks run in between.
    while lock(&shared.state).log.release_index(2048) {
        crate::thread::yield_now();
    }
}

impl Store {
    /// Opens the store on disk `name` (see the module docs).
    pub fn open(name: &str, options: &OpenOptions) -> Result<Self> {
        let started = Instant::now();
        let disk = Disk::open(name).map_err(|_| Error::NoSuchDisk)?;
        let claim = Claim::take(name)?;
        let read_only = options.read_only || disk.is_read_only();
        let engine_options = Options {
            index_memory: options.index_memory,
            read_only,
        };
        let mut reader = DiskReader(disk);
        let block = u64::from(disk.block_size());
        let opened = match Log::open(&mut reader, disk.len(), block, &engine_options) {
            Err(Error::Blank) if options.create && !read_only => {
                write_new_store(disk)?;
                Log::open(&mut reader, disk.len(), block, &engine_options)
            }
            r => r,
        };
        let (log, recovery, superblock) = opened?;
        if let Some(sb) = superblock {
            disk.write_at(&sb.encode(), sb.slot_offset())
                .map_err(|_| write_error(sb.slot_offset()))?;
            disk.flush().map_err(|_| flush_error())?;
        }
        let shared = Arc::new(Shared {
            disk,
            name: String::from(name),
            durability: options.durability,
            state: Mutex::new(State {
                log,
                wakers: Vec::new(),
                closing: false,
                committer_done: read_only,
                flushes: 0,
                max_group_records: 0,
                compactions_wanted: 0,
                compactions_done: 0,
                compacting: false,
                last_compaction: None,
                last_pass: Err(Error::Closed),
                auto_after: 0,
                readers: 0,
            }),
            work: Condvar::new(),
            compact: Condvar::new(),
            open_took: started.elapsed(),
            replayed_records: recovery.records,
        });
        let mut threads = Vec::new();
        if !read_only {
            let s = shared.clone();
            let committer = Builder::new()
                .name(alloc::format!("store-commit {name}"))
                .io_priority()
                .spawn(move || {
                    threads::commit_loop(&s);
                    let mut st = lock(&s.state);
                    st.committer_done = true;
                    st.changed();
                })
                .map_err(|_| Error::OutOfMemory)?;
            threads.push(committer);
            let s = shared.clone();
            let compactor = Builder::new()
                .name(alloc::format!("store-compact {name}"))
                .spawn(move || threads::compact_loop(&s));
            match compactor {
                Ok(t) => threads.push(t),
                Err(_) => {
                    shut_down(&shared, &Mutex::new(threads));
                    return Err(Error::OutOfMemory);
                }
            }
        }
        Ok(Self {
            handle: Arc::new(Handle {
                shared,
                threads: Mutex::new(threads),
                _claim: claim,
            }),
        })
    }

    fn shared(&self) -> &Shared {
        &self.handle.shared
    }

    /// The disk's name.
    pub fn disk(&self) -> &str {
        &self.shared().name
    }

    pub fn durability(&self) -> Durability {
        self.shared().durability
    }

    /// Commits what was appended, stops the store's threads and releases the disk (for
    /// this clone and every other). Later calls on any clone give [`Error::Closed`].
    pub fn close(self) -> Result {
        let failure = lock(&self.shared().state).log.failure();
        shut_down(&self.handle.shared, &self.handle.threads);
        match failure.or(lock(&self.shared().state).log.failure()) {
            Some(Error::Device { offset, .. }) => Err(Error::Failed { offset }),
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// `key`'s value, if it has one.
    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        crate::task::block_on(self.get_async(key))
    }

    /// Async [`get`](Self::get).
    pub async fn get_async(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let shared = self.shared();
        loop {
            let (found, reader) = {
                let st = lock(&shared.state);
                if st.closing {
                    return Err(Error::Closed);
                }
                (st.log.lookup(key)?, st.log.reader())
            };
            let loc = match found {
                Lookup::Missing => return Ok(None),
                Lookup::Memory(v) => return Ok(Some(v)),
                Lookup::Disk(loc) => loc,
            };
            let (start, len) = reader.span(loc);
            let mut buf = alloc::vec![0u8; len as usize];
            let mut at = 0usize;
            let (extents, n) = reader.layout.extents(start, len);
            for &(offset, len) in &extents[..n] {
                let part = alloc::vec![0u8; len as usize];
                let (part, r) = shared.disk.read_owned(part, offset).await;
                r.map_err(|_| Error::Device {
                    op: IoOp::Read,
                    offset,
                })?;
                buf[at..at + part.len()].copy_from_slice(&part);
                at += part.len();
            }
            if let Some(value) = reader.decode(key, loc, start, &buf) {
                return Ok(Some(value));
            }
            if lock(&shared.state).log.still_at(key, loc) {
                return Err(Error::Corrupt {
                    offset: reader.layout.offset(loc.lsn),
                });
            }
            // Compaction moved the record and its old place was reused: look again.
        }
    }

    /// Sets `key` to `value`; durable when it returns (see [`Durability`]).
    pub fn put(&self, key: &[u8], value: &[u8]) -> Result {
        self.batch(&[Op::Put { key, value }]).map(|_| ())
    }

    /// Async [`put`](Self::put).
    pub async fn put_async(&self, key: &[u8], value: &[u8]) -> Result {
        self.batch_async(&[Op::Put { key, value }])
            .await
            .map(|_| ())
    }

    /// Removes `key`; true if it had a value.
    pub fn delete(&self, key: &[u8]) -> Result<bool> {
        self.batch(&[Op::Delete { key }]).map(|n| n > 0)
    }

    /// Async [`delete`](Self::delete).
    pub async fn delete_async(&self, key: &[u8]) -> Result<bool> {
        self.batch_async(&[Op::Delete { key }]).await.map(|n| n > 0)
    }

    /// Applies `ops` atomically: after a crash either all of them are there or none.
    /// Returns how many deletes found their key.
    pub fn batch(&self, ops: &[Op<'_>]) -> Result<usize> {
        crate::task::block_on(self.batch_async(ops))
    }

    /// Async [`batch`](Self::batch).
    pub async fn batch_async(&self, ops: &[Op<'_>]) -> Result<usize> {
        let appended = self.append_async(ops).await?;
        self.wait_async(appended).await?;
        Ok(appended.removed)
    }

    /// Appends `ops` as one atomic batch and returns at once, before it is durable:
    /// [`wait`](Self::wait) for that. Batches are ordered as the calls return, so a caller
    /// that appends under its own lock has the store apply batches in its order. It
    /// blocks only while the open group is full (until the committer seals it) or the
    /// store is full and a compaction pass may make room.
    pub fn append(&self, ops: &[Op<'_>]) -> Result<Appended> {
        crate::task::block_on(self.append_async(ops))
    }

    /// Everything appended so far, as one [`Appended`] to [`wait`](Self::wait) for: a
    /// reply that shows data must not go out before that data is durable.
    pub fn appended(&self) -> Appended {
        let st = lock(&self.shared().state);
        Appended {
            end: st.log.tail(),
            removed: 0,
        }
    }

    /// Waits until the batch `appended` is durable (see [`Durability`]: with `Relaxed`, only
    /// while commits are far behind).
    pub fn wait(&self, appended: Appended) -> Result {
        crate::task::block_on(self.wait_async(appended))
    }

    /// Waits until everything appended so far is durable, whatever the [`Durability`]
    /// (an app's "save now").
    pub fn sync(&self) -> Result {
        let end = self.appended().end;
        crate::task::block_on(wait_durable(self.shared(), end))
    }

    /// Async [`wait`](Self::wait).
    pub async fn wait_async(&self, appended: Appended) -> Result {
        let shared = self.shared();
        if let Durability::Relaxed { .. } = shared.durability {
            // Acknowledged now; writers wait only when commits fall far behind.
            wait_durable(shared, appended.end.saturating_sub(RELAXED_MAX_BEHIND)).await
        } else {
            wait_durable(shared, appended.end).await
        }
    }

    /// The largest batch (record bytes, each record counted with
    /// [`RECORD_OVERHEAD`](Self::RECORD_OVERHEAD)) one [`append`](Self::append) takes.
    pub fn max_batch(&self) -> usize {
        let st = lock(&self.shared().state);
        (st.log.layout().chunk() - 64) as usize
    }

    /// Bytes a record takes besides its key and value.
    pub const RECORD_OVERHEAD: usize = logstore::format::RECORD_HEADER;

    /// Calls `f` with every live record, in log order (not key order), reading the log
    /// sequentially in large steps: how an app loads all its data at start. Compaction
    /// waits while this runs. Records appended meanwhile may or may not be seen.
    pub fn for_each_live(&self, mut f: impl FnMut(&[u8], &[u8])) -> Result {
        let shared = self.shared();
        {
            let mut st = lock(&shared.state);
            st.readers += 1;
        }
        let result = (|| {
            // A pass that was running finishes first.
            loop {
                let st = lock(&shared.state);
                if !st.compacting {
                    break;
                }
                drop(st);
                crate::thread::sleep(Duration::from_millis(1));
            }
            let (mut at, reader) = {
                let st = lock(&shared.state);
                (st.log.head(), st.log.reader())
            };
            let mut disk = DiskReader(shared.disk);
            loop {
                let durable = lock(&shared.state).log.durable();
                if at >= durable {
                    return Ok(());
                }
                let step = logstore::read_step(reader, &mut disk, at, durable, durable, 1 << 20)?;
                let st = lock(&shared.state);
                for r in &step.records {
                    let key = &step.bytes[r.key.clone()];
                    let value = &step.bytes[r.value.clone()];
                    let loc = logstore::Loc {
                        lsn: r.lsn,
                        len: logstore::format::record_len(key.len(), value.len()) as u32,
                    };
                    if st.log.still_at(key, loc) {
                        f(key, value);
                    }
                }
                drop(st);
                at = step.end;
                crate::thread::yield_now();
            }
        })();
        let mut st = lock(&shared.state);
        st.readers -= 1;
        st.changed();
        drop(st);
        shared.compact.notify_one();
        result
    }

    /// Async [`append`](Self::append).
    pub async fn append_async(&self, ops: &[Op<'_>]) -> Result<Appended> {
        let shared = self.shared();
        let class = if ops.iter().all(|o| matches!(o, Op::Delete { .. })) {
            Class::Delete
        } else {
            Class::Write
        };
        let mut full_since: Option<u64> = None;
        let (end, removed) = poll_fn(|cx| {
            let mut st = lock(&shared.state);
            if st.closing {
                return Poll::Ready(Err(Error::Closed));
            }
            match st.log.append(ops, class) {
                Ok(Append::Done { end, removed }) => {
                    drop(st);
                    shared.work.notify_one();
                    Poll::Ready(Ok((end, removed)))
                }
                Ok(Append::GroupFull) => {
                    st.wakers.push(cx.waker().clone());
                    drop(st);
                    shared.work.notify_one();
                    Poll::Pending
                }
                Err(Error::StorageFull { needed, free }) => {
                    // Wait for one compaction pass if dead space could make room.
                    let stats = st.log.stats();
                    let dead = stats.log_bytes - stats.live_bytes.min(stats.log_bytes);
                    let asked = *full_since.get_or_insert_with(|| {
                        // A pass already running began before this write: wait for the next.
                        let asked = st.compactions_done + u64::from(st.compacting);
                        st.compactions_wanted = st.compactions_wanted.max(asked + 1);
                        asked
                    });
                    if dead < needed || st.compactions_done > asked {
                        return Poll::Ready(Err(Error::StorageFull { needed, free }));
                    }
                    st.wakers.push(cx.waker().clone());
                    drop(st);
                    shared.compact.notify_one();
                    Poll::Pending
                }
                Err(e) => Poll::Ready(Err(e)),
            }
        })
        .await?;
        Ok(Appended { end, removed })
    }

    /// Up to `limit` keys that start with `prefix`, after `after` (the last key of the
    /// previous page; `None` for the first), in key order, with their values.
    pub fn scan(
        &self,
        prefix: &[u8],
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let mut out = Vec::new();
        let mut cursor: Option<Vec<u8>> = after.map(<[u8]>::to_vec);
        while out.len() < limit {
            let keys = self.scan_keys(prefix, cursor.as_deref(), limit - out.len())?;
            let Some(last) = keys.last() else { break };
            cursor = Some(last.clone());
            for key in keys {
                // A key deleted since the index was read is left out.
                if let Some(value) = self.get(&key)? {
                    out.push((key, value));
                }
            }
        }
        Ok(out)
    }

    /// As [`scan`](Self::scan), keys only (no disk reads).
    pub fn scan_keys(
        &self,
        prefix: &[u8],
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<Vec<u8>>> {
        let st = lock(&self.shared().state);
        if st.closing {
            return Err(Error::Closed);
        }
        Ok(st
            .log
            .scan(prefix, after, limit)
            .into_iter()
            .map(|(k, _)| k)
            .collect())
    }

    /// Runs a compaction pass over the whole log as it is now and waits for it.
    pub fn compact(&self) -> Result<Compaction> {
        let shared = self.shared();
        let target = {
            let mut st = lock(&shared.state);
            if let Some(e) = st.log.failure() {
                return Err(e);
            }
            if st.log.stats().read_only {
                return Err(Error::ReadOnly);
            }
            // A pass already running began before this call: wait for the next one.
            let target = st.compactions_done + 1 + u64::from(st.compacting);
            st.compactions_wanted = st.compactions_wanted.max(target);
            target
        };
        shared.compact.notify_one();
        crate::task::block_on(poll_fn(|cx| {
            let mut st = lock(&shared.state);
            if st.compactions_done >= target {
                return Poll::Ready(st.last_pass);
            }
            if let Some(e) = st.log.failure() {
                return Poll::Ready(Err(e));
            }
            if st.closing {
                return Poll::Ready(Err(Error::Closed));
            }
            st.wakers.push(cx.waker().clone());
            Poll::Pending
        }))
    }

    /// Whether a compaction is running now.
    pub fn is_compacting(&self) -> bool {
        lock(&self.shared().state).compacting
    }

    pub fn stats(&self) -> Stats {
        let shared = self.shared();
        let st = lock(&shared.state);
        Stats {
            disk: shared.name.clone(),
            durability: shared.durability,
            log: st.log.stats(),
            flushes: st.flushes,
            max_group_records: st.max_group_records,
            open_took: shared.open_took,
            replayed_records: shared.replayed_records,
            last_compaction: st.last_compaction,
        }
    }
}

/// In relaxed mode, how far acknowledged writes may run ahead of durable ones.
const RELAXED_MAX_BEHIND: u64 = 8 * 1024 * 1024;

/// Waits until everything up to `end` is durable.
async fn wait_durable(shared: &Shared, end: u64) -> Result {
    poll_fn(|cx| {
        let mut st = lock(&shared.state);
        if st.log.durable() >= end {
            return Poll::Ready(Ok(()));
        }
        if let Some(e) = st.log.failure() {
            return Poll::Ready(Err(e));
        }
        if st.committer_done {
            return Poll::Ready(Err(Error::Closed));
        }
        st.wakers.push(cx.waker().clone());
        Poll::Pending
    })
    .await
}
