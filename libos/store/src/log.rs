//! [`Log`]: the store's state between I/Os. It never touches the disk itself; the caller
//! holds a lock around it and does the I/O it asks for:
//!
//! - **open**: [`Log::open`] reads the superblocks and replays the log through a
//!   [`ReadAt`], and returns the superblock the caller must write and flush before the
//!   first append (it bumps the epoch, see [`crate::format`]).
//! - **write**: [`Log::append`] encodes records into the open group and updates the
//!   index; the writer then waits until [`Log::durable`] reaches the returned LSN.
//! - **commit**: the committer takes [`Log::seal`]'s group, writes it, reports
//!   [`Log::written`], flushes, reports [`Log::durable_to`]. Everything appended while that
//!   flush was in flight goes into the next group: that is group commit.
//! - **read**: [`Log::lookup`] answers from memory for records not yet written and gives a
//!   location otherwise; [`RecordReader::read`] reads and checks it without the lock.
//! - **compact**: [`read_step`] reads whole groups from the head, [`Log::copy_live`] re-appends
//!   the records that are still the latest for their key, and once those copies are
//!   durable [`Log::prepare_head`] gives the superblock that moves the head past the step;
//!   the space is free only after [`Log::head_written`], when that superblock is durable.
//!   A crash anywhere in between replays from the old head: the old records and their
//!   copies hold the same values, in order.

use crate::format::{self, GROUP_HEADER, KIND_DELETE, KIND_PUT, Layout, Slot, Superblock};
use crate::index::{Index, Loc};
#[cfg(doc)]
use crate::read::read_step;
use crate::read::{LogReader, RecordReader, Step};
use crate::{Error, ReadAt, Result};
use alloc::sync::Arc;
use alloc::vec::Vec;

/// One change in a write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op<'a> {
    Put { key: &'a [u8], value: &'a [u8] },
    Delete { key: &'a [u8] },
}

impl Op<'_> {
    fn key(&self) -> &[u8] {
        match self {
            Op::Put { key, .. } | Op::Delete { key } => key,
        }
    }

    fn len(&self) -> usize {
        match self {
            Op::Put { key, value } => format::record_len(key.len(), value.len()),
            Op::Delete { key } => format::record_len(key.len(), 0),
        }
    }
}

/// Who is appending, which decides how much of the reserved space it may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    /// Puts (and batches with any put): may not touch the reserves.
    Write,
    /// Deletes only: may use the delete reserve, so a full store can still shrink.
    Delete,
    /// Compaction's copies: may use every byte.
    Compaction,
}

/// How a store is opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Options {
    /// Bytes the index may use (keys plus [`crate::index::ENTRY_OVERHEAD`] each).
    pub index_memory: u64,
    pub read_only: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            index_memory: 32 * 1024 * 1024,
            read_only: false,
        }
    }
}

/// The result of [`Log::append`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Append {
    /// Appended: durable once [`Log::durable`] reaches `end`. `removed` counts the deletes
    /// that found their key.
    Done { end: u64, removed: usize },
    /// The open group is full: wait until the committer seals it, then try again.
    GroupFull,
}

/// A sealed group for the committer to write.
#[derive(Clone, Debug)]
pub struct GroupWrite {
    pub lsn: u64,
    /// LSN after the group (padding included).
    pub end: u64,
    /// Records in the group.
    pub records: u32,
    pub bytes: Arc<Vec<u8>>,
}

impl GroupWrite {
    /// Disk extents to write: `(disk offset, byte range of `bytes`)`, two when the group
    /// wraps around the end of the data region.
    pub fn extents(&self, layout: &Layout) -> Vec<(u64, core::ops::Range<usize>)> {
        let (ext, n) = layout.extents(self.lsn, self.bytes.len() as u64);
        let mut at = 0usize;
        ext[..n]
            .iter()
            .map(|&(offset, len)| {
                let r = at..at + len as usize;
                at += len as usize;
                (offset, r)
            })
            .collect()
    }
}

/// Where a key's value is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lookup {
    Missing,
    /// Not written yet: here it is.
    Memory(Vec<u8>),
    /// On disk: read it with [`RecordReader::read`].
    Disk(Loc),
}

/// Numbers about a store.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Live keys.
    pub records: u64,
    /// Bytes of live records (headers, keys, values).
    pub live_bytes: u64,
    /// Bytes of log between the head and the tail (live, dead and padding).
    pub log_bytes: u64,
    /// Size of the data region.
    pub capacity: u64,
    /// Bytes puts may still append before the store is full.
    pub free: u64,
    pub head: u64,
    pub tail: u64,
    pub durable: u64,
    /// Compactions completed since format.
    pub compactions: u64,
    /// Opens for writing since format.
    pub epoch: u32,
    pub index_bytes: u64,
    pub index_limit: u64,
    /// Groups sealed and records appended since open.
    pub groups: u64,
    pub appended: u64,
    pub read_only: bool,
    pub failed: bool,
}

/// The store's in-memory state (see the module docs for the protocol).
#[derive(Debug)]
pub struct Log {
    layout: Layout,
    seed: u32,
    sb: Superblock,
    read_only: bool,
    failed: Option<Error>,
    index: Index,
    live_bytes: u64,
    head: u64,
    written: u64,
    durable: u64,
    /// LSN where the open group starts.
    open_lsn: u64,
    /// The open group: header space, then records.
    open: Vec<u8>,
    open_count: u32,
    /// The group the committer is writing, readable until it is written.
    sealed: Option<GroupWrite>,
    groups: u64,
    appended: u64,
    /// See [`Log::step_barrier`].
    step_barrier: u64,
}

/// What [`Log::open`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Recovery {
    pub groups: u64,
    pub records: u64,
    /// Where replay stopped, and whether it stopped at bytes that were not a valid group
    /// (a torn write, or never written) rather than at the end of the data region.
    pub tail: u64,
}

impl Log {
    /// The superblock of a new, empty store on a disk of `disk_len` bytes with `block`-byte
    /// blocks. The caller writes [`Superblock::encode`] at [`Superblock::slot_offset`],
    /// zeroes the other slot, and flushes.
    pub fn format(disk_len: u64, block: u64, store_id: u64) -> Result<Superblock> {
        let layout = Layout::for_disk(disk_len, block)?;
        Ok(Superblock {
            generation: 0,
            store_id,
            block_size: block as u32,
            disk_len,
            layout,
            head: 0,
            tail_hint: 0,
            epoch: 0,
            compactions: 0,
        })
    }

    /// What the start of a disk holds: a store's superblock, or an error saying why it is
    /// not one ([`Error::Blank`] if the first 64 KiB are zero).
    pub fn probe(dev: &mut impl ReadAt, disk_len: u64) -> Result<Superblock> {
        let len = disk_len.min(64 * 1024) as usize / 512 * 512;
        let mut buf = alloc::vec![0u8; len];
        dev.read_at(0, &mut buf)?;
        if buf.iter().all(|&b| b == 0) {
            return Err(Error::Blank);
        }
        if buf.len() < format::DATA_START as usize {
            return Err(Error::NotAStore);
        }
        let slots = [
            Superblock::decode(&buf[..]),
            Superblock::decode(&buf[format::SLOT_BYTES as usize..]),
        ];
        let best = slots
            .iter()
            .filter_map(|s| match s {
                Slot::Valid(sb) => Some(*sb),
                _ => None,
            })
            .max_by_key(|sb| sb.generation);
        if let Some(sb) = best {
            return Ok(sb);
        }
        for s in slots {
            if let Slot::OtherVersion(found) = s {
                return Err(Error::Version { found });
            }
        }
        if slots.contains(&Slot::Damaged) && !slots.contains(&Slot::Foreign) {
            return Err(Error::Corrupt { offset: 0 });
        }
        Err(Error::NotAStore)
    }

    /// Opens the store on a disk of `disk_len` bytes with `block`-byte blocks: finds the
    /// superblock, replays the log from its head, and rebuilds the index. Writable opens
    /// also return the superblock to write (at its slot) and flush before any append.
    pub fn open(
        dev: &mut impl ReadAt,
        disk_len: u64,
        block: u64,
        options: &Options,
    ) -> Result<(Self, Recovery, Option<Superblock>)> {
        let sb = Self::probe(dev, disk_len)?;
        if sb.disk_len > disk_len {
            return Err(Error::WrongSize {
                made_for: sb.disk_len,
                len: disk_len,
            });
        }
        if u64::from(sb.block_size) != block {
            return Err(Error::Unsupported {
                block_size: u64::from(sb.block_size),
            });
        }
        let layout = sb.layout;
        let mut log = Self {
            layout,
            seed: sb.seed(),
            sb,
            read_only: options.read_only,
            failed: None,
            index: Index::new(options.index_memory),
            live_bytes: 0,
            head: sb.head,
            written: sb.head,
            durable: sb.head,
            open_lsn: sb.head,
            open: alloc::vec![0u8; GROUP_HEADER],
            open_count: 0,
            sealed: None,
            groups: 0,
            appended: 0,
            step_barrier: 0,
        };
        let mut reader = LogReader::new(log.reader(), 1024 * 1024);
        let limit = sb.head + layout.data_len;
        let mut lsn = sb.head;
        let mut last_epoch = 0;
        let mut recovery = Recovery {
            groups: 0,
            records: 0,
            tail: lsn,
        };
        while let Some((h, bytes)) = reader.group(dev, lsn, limit)? {
            if h.epoch < last_epoch || h.epoch > sb.epoch {
                break;
            }
            let index = &mut log.index;
            let live = &mut log.live_bytes;
            let mut index_full = false;
            let replay = format::for_each_record(bytes, &h, log.seed, |rec_lsn, rec| {
                let len = format::record_len(rec.key.len(), rec.value.len()) as u32;
                if rec.kind == KIND_PUT {
                    if index.get(rec.key).is_none() && !index.fits(Index::cost(rec.key)) {
                        index_full = true;
                        return Err(Error::IndexFull {
                            limit: index.limit(),
                        });
                    }
                    *live += u64::from(len);
                    if let Some(old) = index.insert(rec.key, Loc { lsn: rec_lsn, len }) {
                        *live -= u64::from(old.len);
                    }
                } else if let Some(old) = index.remove(rec.key) {
                    *live -= u64::from(old.len);
                }
                recovery.records += 1;
                Ok(())
            });
            if let Err(at) = replay {
                if index_full {
                    return Err(Error::IndexFull {
                        limit: options.index_memory,
                    });
                }
                return Err(Error::Corrupt {
                    offset: layout.offset(at),
                });
            }
            last_epoch = h.epoch;
            recovery.groups += 1;
            lsn += h.span(&layout);
        }
        recovery.tail = lsn;
        if lsn < sb.tail_hint {
            return Err(Error::Corrupt {
                offset: layout.offset(lsn),
            });
        }
        log.written = lsn;
        log.durable = lsn;
        log.open_lsn = lsn;
        let new_sb = if options.read_only {
            None
        } else {
            let next = Superblock {
                generation: sb.generation + 1,
                epoch: sb.epoch + 1,
                tail_hint: lsn,
                ..sb
            };
            log.sb = next;
            Some(next)
        };
        Ok((log, recovery, new_sb))
    }

    pub fn layout(&self) -> Layout {
        self.layout
    }

    /// What reads need, to read without the lock.
    pub fn reader(&self) -> RecordReader {
        RecordReader {
            layout: self.layout,
            seed: self.seed,
        }
    }

    /// The LSN up to which everything appended is durable.
    pub fn durable(&self) -> u64 {
        self.durable
    }

    /// The failure that turned the store read-only, if one did.
    pub fn failure(&self) -> Option<Error> {
        self.failed
    }

    fn check_writable(&self) -> Result {
        if let Some(Error::Device { offset, .. }) = self.failed {
            return Err(Error::Failed { offset });
        }
        if let Some(e) = self.failed {
            return Err(e);
        }
        if self.read_only {
            return Err(Error::ReadOnly);
        }
        Ok(())
    }

    fn reserve(&self, class: Class) -> u64 {
        match class {
            Class::Write => self.layout.compaction_reserve() + self.layout.delete_reserve(),
            Class::Delete => self.layout.compaction_reserve(),
            Class::Compaction => 0,
        }
    }

    /// LSN after everything appended (the open group padded).
    pub fn tail(&self) -> u64 {
        if self.open_count == 0 {
            self.open_lsn
        } else {
            self.open_lsn + self.layout.round_up(self.open.len() as u64)
        }
    }

    /// Bytes appending `extra` record bytes to the open group would make the log.
    fn used_after(&self, extra: u64) -> u64 {
        self.open_lsn + self.layout.round_up(self.open.len() as u64 + extra) - self.head
    }

    fn free_for(&self, class: Class) -> u64 {
        (self.layout.data_len - self.reserve(class)).saturating_sub(self.tail() - self.head)
    }

    /// Appends `ops` as one atomic unit (they land in one group). Checks everything before
    /// changing anything: an error leaves the store as it was.
    pub fn append(&mut self, ops: &[Op<'_>], class: Class) -> Result<Append> {
        self.check_writable()?;
        let max = self.layout.max_record();
        let mut total = 0u64;
        let mut new_keys = 0u64;
        for (i, op) in ops.iter().enumerate() {
            let len = op.len() as u64;
            if len > max {
                return Err(Error::TooLarge { len, max });
            }
            total += len;
            if let Op::Put { key, .. } = op
                && self.index.get(key).is_none()
                && !ops[..i].iter().any(|o| o.key() == *key)
            {
                new_keys += Index::cost(key);
            }
        }
        let group_max = self.layout.chunk() - GROUP_HEADER as u64;
        if total > group_max {
            return Err(Error::TooLarge {
                len: total,
                max: group_max,
            });
        }
        if ops.is_empty() {
            return Ok(Append::Done {
                end: self.tail(),
                removed: 0,
            });
        }
        if self.open_count > 0 && self.open.len() as u64 + total > self.layout.chunk() {
            return Ok(Append::GroupFull);
        }
        let used = self.used_after(total);
        let allowed = self.layout.data_len - self.reserve(class);
        if used > allowed {
            return Err(Error::StorageFull {
                needed: total,
                free: self.free_for(class),
            });
        }
        if !self.index.fits(new_keys) {
            return Err(Error::IndexFull {
                limit: self.index.limit(),
            });
        }
        let mut removed = 0;
        for op in ops {
            match *op {
                Op::Put { key, value } => self.push(KIND_PUT, key, value),
                Op::Delete { key } => {
                    if self.index.get(key).is_some() {
                        removed += 1;
                    }
                    self.push(KIND_DELETE, key, &[]);
                }
            }
        }
        Ok(Append::Done {
            end: self.tail(),
            removed,
        })
    }

    /// Encodes one record into the open group and points the index at it.
    fn push(&mut self, kind: u8, key: &[u8], value: &[u8]) {
        let lsn = self.open_lsn + self.open.len() as u64;
        format::encode_record(&mut self.open, self.seed, lsn, kind, key, value);
        self.open_count += 1;
        self.appended += 1;
        let len = format::record_len(key.len(), value.len()) as u32;
        if kind == KIND_PUT {
            self.live_bytes += u64::from(len);
            if let Some(old) = self.index.insert(key, Loc { lsn, len }) {
                self.live_bytes -= u64::from(old.len);
            }
        } else if let Some(old) = self.index.remove(key) {
            self.live_bytes -= u64::from(old.len);
        }
    }

    /// The LSN up to which groups are sealed (the open group starts here).
    pub fn sealed_to(&self) -> u64 {
        self.open_lsn
    }

    /// Whether the open group holds records.
    pub fn has_open_records(&self) -> bool {
        self.open_count > 0
    }

    /// Bytes in the open group.
    pub fn open_bytes(&self) -> usize {
        self.open.len()
    }

    /// Whether a group is sealed and not yet written.
    pub fn is_writing(&self) -> bool {
        self.sealed.is_some()
    }

    /// Closes the open group for the committer: pads it, fills in its header, and returns
    /// it. `None` if it holds no records, or the previous group is not written yet.
    pub fn seal(&mut self) -> Option<GroupWrite> {
        if self.open_count == 0 || self.sealed.is_some() || self.failed.is_some() {
            return None;
        }
        let body_len = (self.open.len() - GROUP_HEADER) as u32;
        let span = self.layout.round_up(self.open.len() as u64);
        let mut bytes =
            core::mem::replace(&mut self.open, Vec::with_capacity(GROUP_HEADER + 64 * 1024));
        self.open.resize(GROUP_HEADER, 0);
        bytes.resize(span as usize, 0);
        let lsn = self.open_lsn;
        format::seal_group(
            &mut bytes,
            self.seed,
            self.sb.epoch,
            self.open_count,
            body_len,
            lsn,
        );
        let records = self.open_count;
        self.open_count = 0;
        self.open_lsn += span;
        self.groups += 1;
        let group = GroupWrite {
            lsn,
            end: lsn + span,
            records,
            bytes: Arc::new(bytes),
        };
        self.sealed = Some(group.clone());
        Some(group)
    }

    /// The sealed group ending at `end` is on the disk (not yet durable).
    pub fn written(&mut self, end: u64) {
        debug_assert_eq!(self.sealed.as_ref().map(|g| g.end), Some(end));
        self.sealed = None;
        self.written = end;
    }

    /// A flush submitted after everything up to `end` was written has completed.
    pub fn durable_to(&mut self, end: u64) {
        debug_assert!(end <= self.written);
        self.durable = self.durable.max(end);
    }

    /// A write or flush failed: nothing more is appended or committed, and the store is
    /// read-only until opened again. Everything not yet durable is lost.
    pub fn fail(&mut self, error: Error) {
        if self.failed.is_none() {
            self.failed = Some(error);
        }
    }

    /// Where `key`'s value is.
    pub fn lookup(&self, key: &[u8]) -> Result<Lookup> {
        let Some(loc) = self.index.get(key) else {
            return Ok(Lookup::Missing);
        };
        if loc.lsn >= self.durable
            && let Some(Error::Device { offset, .. }) = self.failed
        {
            return Err(Error::Failed { offset });
        }
        let from_memory = |start: u64, bytes: &[u8]| {
            let at = (loc.lsn - start) as usize;
            let (rec, _) = format::decode_record(&bytes[at..], self.seed, loc.lsn)
                .expect("records in memory are well-formed");
            Lookup::Memory(rec.value.to_vec())
        };
        if loc.lsn >= self.open_lsn {
            return Ok(from_memory(self.open_lsn, &self.open));
        }
        if let Some(g) = &self.sealed
            && loc.lsn >= g.lsn
        {
            return Ok(from_memory(g.lsn, &g.bytes));
        }
        Ok(Lookup::Disk(loc))
    }

    /// Whether `key`'s latest record is still at `loc` (a read that failed its check is
    /// corruption only if so; otherwise the record moved under it and the read is retried).
    /// The LSN of the oldest group in the log.
    pub fn head(&self) -> u64 {
        self.head
    }

    pub fn still_at(&self, key: &[u8], loc: Loc) -> bool {
        self.index.get(key) == Some(loc)
    }

    /// Up to `limit` keys with `prefix` after `after`, in key order, with locations.
    pub fn scan(&self, prefix: &[u8], after: Option<&[u8]>, limit: usize) -> Vec<(Vec<u8>, Loc)> {
        self.index.scan(prefix, after, limit)
    }

    /// Frees up to `n` index entries, for a store being closed (see [`Index::release`]);
    /// true while some remain.
    pub fn release_index(&mut self, n: usize) -> bool {
        self.index.release(n)
    }

    pub fn contains(&self, key: &[u8]) -> bool {
        self.index.get(key).is_some()
    }

    pub fn stats(&self) -> Stats {
        let tail = self.tail();
        Stats {
            records: self.index.len() as u64,
            live_bytes: self.live_bytes,
            log_bytes: tail - self.head,
            capacity: self.layout.data_len,
            free: self.free_for(Class::Write),
            head: self.head,
            tail,
            durable: self.durable,
            compactions: self.sb.compactions,
            epoch: self.sb.epoch,
            index_bytes: self.index.bytes(),
            index_limit: self.index.limit(),
            groups: self.groups,
            appended: self.appended,
            read_only: self.read_only,
            failed: self.failed.is_some(),
        }
    }

    /// Whether compaction would pay now: the log is three quarters full and at least a
    /// chunk of it is dead.
    pub fn wants_compaction(&self) -> bool {
        if self.read_only || self.failed.is_some() {
            return false;
        }
        let used = self.tail() - self.head;
        let usable = self.layout.data_len - self.reserve(Class::Write);
        used >= usable / 4 * 3 && used - self.live_bytes.min(used) >= self.layout.chunk()
    }

    /// The head and the end of what a compaction step may read now (the durable LSN, which
    /// is always a group boundary); `None` when the head reached `until` or nothing durable
    /// is left. Pass `until` on to [`read_step`]: it need not be a group boundary (a tail
    /// taken while the open group still grew), so the step reads whole groups until one
    /// ends at or past it.
    pub fn compaction_window(&self, until: u64) -> Option<(u64, u64)> {
        if self.read_only || self.failed.is_some() {
            return None;
        }
        (self.head < until.min(self.durable)).then_some((self.head, self.durable))
    }

    /// Re-appends the records of `step` from `*next` on that are still the latest for
    /// their key, at most `max` of them, advancing `*next` (it stops early when the open
    /// group is full: wait until the committer seals it, then call again).
    ///
    /// Returns the LSN that must be durable before the head may move past the step: the
    /// tail after this call. A record is skipped because a newer record for its key (or a
    /// delete) was appended, and that newer record may not be durable yet; it, like the
    /// copies, lies before the returned LSN.
    pub fn copy_live(&mut self, step: &Step, next: &mut usize, max: usize) -> Result<u64> {
        self.check_writable()?;
        let stop = (*next + max).min(step.records.len());
        while *next < stop {
            let r = &step.records[*next];
            let key = &step.bytes[r.key.clone()];
            let loc = Loc {
                lsn: r.lsn,
                len: format::record_len(key.len(), r.value.len()) as u32,
            };
            if self.index.get(key) == Some(loc) {
                let value = &step.bytes[r.value.clone()];
                let op = [Op::Put { key, value }];
                if self.append(&op, Class::Compaction)? == Append::GroupFull {
                    break;
                }
            }
            *next += 1;
        }
        self.step_barrier = self.step_barrier.max(self.tail());
        Ok(self.tail())
    }

    /// The LSN a compaction step's copy decisions depend on (see
    /// [`copy_live`](Self::copy_live)); the head may move once it is durable.
    pub fn step_barrier(&self) -> u64 {
        self.step_barrier
    }

    /// Whether enough was committed since the superblock last recorded a durable LSN that
    /// it should record a newer one ([`prepare_checkpoint`](Self::prepare_checkpoint)): bit
    /// rot in a group before that LSN is reported as corruption at open, while a group that
    /// fails its checks after it is taken for the torn end of the log.
    pub fn checkpoint_due(&self) -> bool {
        !self.read_only
            && self.failed.is_none()
            && self.durable - self.sb.tail_hint >= (self.layout.data_len / 64).max(256 * 1024)
    }

    /// The superblock that records the durable LSN as known-good. Write it and flush, then
    /// call [`head_written`](Self::head_written).
    pub fn prepare_checkpoint(&self) -> Superblock {
        Superblock {
            generation: self.sb.generation + 1,
            tail_hint: self.durable,
            ..self.sb
        }
    }

    /// The superblock that moves the head to `new_head` (a group boundary read by a
    /// compaction step whose copies are durable). Write it and flush, then call
    /// [`head_written`](Self::head_written). `pass_done` counts a finished compaction.
    pub fn prepare_head(&self, new_head: u64, pass_done: bool) -> Superblock {
        assert!(
            self.head <= new_head && new_head <= self.durable && self.step_barrier <= self.durable,
            "compaction moves the head only over durable groups, once its copies are durable"
        );
        Superblock {
            generation: self.sb.generation + 1,
            head: new_head,
            tail_hint: self.durable,
            compactions: self.sb.compactions + u64::from(pass_done),
            ..self.sb
        }
    }

    /// `sb` (from [`prepare_head`](Self::prepare_head)) is durable: the space before its
    /// head is free.
    pub fn head_written(&mut self, sb: Superblock) {
        self.sb = sb;
        self.head = self.head.max(sb.head);
    }
}
