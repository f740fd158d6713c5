//! The on-disk format: where things are, and how superblocks, groups and records are
//! encoded and checked. Pure functions over byte slices; [`crate::log`] decides what to
//! write when.
//!
//! ```text
//! byte 0        superblock slot 0   (one block; slots alternate, the valid one with the
//! byte 4096     superblock slot 1    highest generation wins, so a torn write of one
//!                                    leaves the other)
//! byte 8192     data region: a circular log, `data_len` bytes, addressed by LSN
//!               (log sequence number = bytes appended since the store was formatted);
//!               LSN `l` lives at byte `data_start + l % data_len`.
//! ```
//!
//! The log is a sequence of **groups**, one per commit (everything appended while the
//! previous flush was in flight). A group starts on a block boundary and is padded to the
//! next one, so a group's write never touches a block that holds an earlier, acknowledged
//! group: a torn write can only damage the group being written, which nobody was told is
//! durable.
//!
//! ```text
//! group header (32 bytes, little-endian):
//!   0  magic u32 = GROUP_MAGIC     4  version u16, reserved u16
//!   8  epoch u32 (opens for writing since format; never decreases along the log)
//!  12  count u32 (records)        16  body_len u32 (bytes of records after the header)
//!  20  lsn u64 (this group's own LSN: a group left from an earlier lap of the circular
//!      log has another and is not taken for the next one)
//!  28  crc u32: CRC-32C seeded with the store id, over the header (crc field zero) and body
//! record (16 bytes + key + value, packed one after the other in the body):
//!   0  crc u32: CRC-32C seeded with the store id, over the record's LSN (8 bytes LE) and
//!      bytes 4.. of the record, so a record read back at an LSN is exactly the one
//!      written at that LSN
//!   4  kind u8 (1 put, 2 delete), 3 bytes zero
//!   8  key_len u32               12  value_len u32 (0 for a delete)
//!  16  key, then value
//! ```
//!
//! A group is all or nothing: recovery replays groups from the superblock's `head` while
//! each has the magic, the expected LSN, a non-decreasing epoch and a good checksum, and
//! stops at the first that does not (a torn write, or the end). Its checksum is seeded with
//! the store id, which is random per format, so values that happen to contain a valid-looking
//! group cannot be mistaken for one, nor can groups of an earlier store on the same disk.

use crate::crc32c::{Crc32c, crc32c};
use crate::{Error, Result};
use alloc::vec::Vec;

/// Superblock magic: "UKSTORE1".
pub const SUPER_MAGIC: [u8; 8] = *b"UKSTORE1";
/// Format version this build writes and reads.
pub const VERSION: u32 = 1;
/// Bytes of each superblock slot; slot 1 starts here, the data region at twice this.
pub const SLOT_BYTES: u64 = 4096;
pub const DATA_START: u64 = 2 * SLOT_BYTES;
/// Encoded superblock length (the rest of its block is zero).
pub const SUPER_LEN: usize = 96;
pub const GROUP_MAGIC: u32 = 0x4755_4b53; // "SKUG"
pub const GROUP_HEADER: usize = 32;
pub const RECORD_HEADER: usize = 16;
/// The smallest disk a store is made on.
pub const MIN_DISK: u64 = DATA_START + 1024 * 1024;

pub const KIND_PUT: u8 = 1;
pub const KIND_DELETE: u8 = 2;

/// Where the log lives and how big its units are; fixed at format time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    /// Groups start and end on multiples of this (the disk's block size).
    pub block: u64,
    pub data_start: u64,
    pub data_len: u64,
}

impl Layout {
    /// The layout for a disk of `disk_len` bytes with `block`-byte blocks.
    pub fn for_disk(disk_len: u64, block: u64) -> Result<Self> {
        if !block.is_power_of_two() || !(512..=SLOT_BYTES).contains(&block) {
            return Err(Error::Unsupported { block_size: block });
        }
        if disk_len < MIN_DISK {
            return Err(Error::DiskTooSmall {
                len: disk_len,
                min: MIN_DISK,
            });
        }
        let data_len = (disk_len - DATA_START) / SLOT_BYTES * SLOT_BYTES;
        Ok(Self {
            block,
            data_start: DATA_START,
            data_len,
        })
    }

    /// Disk byte of LSN `lsn`.
    pub fn offset(&self, lsn: u64) -> u64 {
        self.data_start + lsn % self.data_len
    }

    /// The disk extents that hold `len` bytes from LSN `lsn` (two when they wrap).
    pub fn extents(&self, lsn: u64, len: u64) -> ([(u64, u64); 2], usize) {
        let start = lsn % self.data_len;
        let first = len.min(self.data_len - start);
        let a = (self.data_start + start, first);
        if first == len {
            ([a, (0, 0)], 1)
        } else {
            ([a, (self.data_start, len - first)], 2)
        }
    }

    pub fn round_up(&self, n: u64) -> u64 {
        n.div_ceil(self.block) * self.block
    }

    pub fn round_down(&self, n: u64) -> u64 {
        n / self.block * self.block
    }

    /// Bytes a compaction step reads at a time; it always reads at least one whole group.
    pub fn chunk(&self) -> u64 {
        (self.data_len / 32).clamp(64 * 1024, 1024 * 1024) / SLOT_BYTES * SLOT_BYTES
    }

    /// The largest record (header, key and value) a store on this layout takes.
    pub fn max_record(&self) -> u64 {
        self.chunk() / 2
    }

    /// Log space only compaction may use: enough to copy the live records of one step
    /// (its chunk, or one group of the largest record) with group headers and padding.
    pub fn compaction_reserve(&self) -> u64 {
        2 * self.chunk() + self.chunk() / 4
    }

    /// Log space deletes may use beyond what puts may (so a full store can still delete).
    pub fn delete_reserve(&self) -> u64 {
        self.chunk() / 4
    }
}

/// The superblock: what the store is and where its log starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Superblock {
    /// Bumped on every superblock write; the slot is `generation % 2`.
    pub generation: u64,
    /// Random at format; seeds every checksum.
    pub store_id: u64,
    pub block_size: u32,
    /// The disk length the store was made for.
    pub disk_len: u64,
    pub layout: Layout,
    /// LSN of the oldest group still part of the store.
    pub head: u64,
    /// An LSN known durable when this superblock was written: recovery that ends before it
    /// found corruption, not a torn tail.
    pub tail_hint: u64,
    /// Opens for writing since format; groups carry the epoch they were written in.
    pub epoch: u32,
    /// Compactions completed since format.
    pub compactions: u64,
}

fn get_u32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn get_u64(b: &[u8], at: usize) -> u64 {
    let mut x = [0u8; 8];
    x.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(x)
}

fn put_u32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

fn put_u64(b: &mut [u8], at: usize, v: u64) {
    b[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

/// What a superblock slot holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Slot {
    Valid(Superblock),
    /// All zero: never written.
    Blank,
    /// Our magic with a bad checksum or impossible fields (a torn superblock write).
    Damaged,
    /// Our magic and checksum, another format version.
    OtherVersion(u32),
    /// Something else entirely.
    Foreign,
}

impl Superblock {
    /// Disk byte of the slot this superblock is written to.
    pub fn slot_offset(&self) -> u64 {
        (self.generation % 2) * SLOT_BYTES
    }

    /// The superblock as one `block`-byte block.
    pub fn encode(&self) -> Vec<u8> {
        let mut b = alloc::vec![0u8; self.layout.block as usize];
        b[0..8].copy_from_slice(&SUPER_MAGIC);
        put_u32(&mut b, 8, VERSION);
        put_u32(&mut b, 12, self.block_size);
        put_u64(&mut b, 16, self.generation);
        put_u64(&mut b, 24, self.store_id);
        put_u64(&mut b, 32, self.disk_len);
        put_u64(&mut b, 40, self.layout.data_start);
        put_u64(&mut b, 48, self.layout.data_len);
        put_u64(&mut b, 56, self.head);
        put_u64(&mut b, 64, self.tail_hint);
        put_u32(&mut b, 72, self.epoch);
        put_u64(&mut b, 76, self.compactions);
        // 84..92 reserved, zero.
        let crc = crc32c(0, &b[..SUPER_LEN - 4]);
        put_u32(&mut b, SUPER_LEN - 4, crc);
        b
    }

    /// Reads one slot's bytes (at least [`SUPER_LEN`]).
    pub fn decode(b: &[u8]) -> Slot {
        if b[..SUPER_LEN].iter().all(|&x| x == 0) {
            return Slot::Blank;
        }
        if b[0..8] != SUPER_MAGIC {
            return Slot::Foreign;
        }
        if crc32c(0, &b[..SUPER_LEN - 4]) != get_u32(b, SUPER_LEN - 4) {
            return Slot::Damaged;
        }
        let version = get_u32(b, 8);
        if version != VERSION {
            return Slot::OtherVersion(version);
        }
        let block_size = get_u32(b, 12);
        let sb = Superblock {
            generation: get_u64(b, 16),
            store_id: get_u64(b, 24),
            block_size,
            disk_len: get_u64(b, 32),
            layout: Layout {
                block: u64::from(block_size),
                data_start: get_u64(b, 40),
                data_len: get_u64(b, 48),
            },
            head: get_u64(b, 56),
            tail_hint: get_u64(b, 64),
            epoch: get_u32(b, 72),
            compactions: get_u64(b, 76),
        };
        let l = sb.layout;
        let sane = l.block.is_power_of_two()
            && (512..=SLOT_BYTES).contains(&l.block)
            && l.data_start == DATA_START
            && l.data_len > 0
            && l.data_len.is_multiple_of(SLOT_BYTES)
            && l.data_start + l.data_len <= sb.disk_len
            && sb.head <= sb.tail_hint
            && sb.tail_hint - sb.head <= l.data_len
            && sb.head.is_multiple_of(l.block);
        if sane { Slot::Valid(sb) } else { Slot::Damaged }
    }

    /// The checksum seed of this store's groups and records.
    pub fn seed(&self) -> u32 {
        seed(self.store_id)
    }
}

/// The checksum seed for a store id.
pub fn seed(store_id: u64) -> u32 {
    (store_id ^ (store_id >> 32)) as u32
}

/// A group header, decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GroupHeader {
    pub epoch: u32,
    pub count: u32,
    pub body_len: u32,
    pub lsn: u64,
    pub crc: u32,
}

impl GroupHeader {
    /// Bytes the group takes in the log, padding included.
    pub fn span(&self, layout: &Layout) -> u64 {
        layout.round_up(GROUP_HEADER as u64 + u64::from(self.body_len))
    }

    /// Decodes a header; `None` if the magic or version is not there.
    pub fn decode(b: &[u8]) -> Option<Self> {
        if b.len() < GROUP_HEADER || get_u32(b, 0) != GROUP_MAGIC || get_u32(b, 4) != 1 {
            return None;
        }
        Some(Self {
            epoch: get_u32(b, 8),
            count: get_u32(b, 12),
            body_len: get_u32(b, 16),
            lsn: get_u64(b, 20),
            crc: get_u32(b, 28),
        })
    }
}

/// Fills in the header of a group whose header space and body are in `group` (header
/// bytes first, then the body, then padding), and its checksum.
pub fn seal_group(group: &mut [u8], seed: u32, epoch: u32, count: u32, body_len: u32, lsn: u64) {
    put_u32(group, 0, GROUP_MAGIC);
    put_u32(group, 4, 1);
    put_u32(group, 8, epoch);
    put_u32(group, 12, count);
    put_u32(group, 16, body_len);
    put_u64(group, 20, lsn);
    put_u32(group, 28, 0);
    let end = GROUP_HEADER + body_len as usize;
    let crc = crc32c(seed, &group[..end]);
    put_u32(group, 28, crc);
}

/// Checks a whole group (`bytes` starts with its header and holds at least the header and
/// body): the checksum over header and body.
pub fn group_checksum_ok(bytes: &[u8], header: &GroupHeader, seed: u32) -> bool {
    let end = GROUP_HEADER + header.body_len as usize;
    if bytes.len() < end {
        return false;
    }
    let mut c = Crc32c::new(seed);
    c.update(&bytes[..28]);
    c.update(&[0; 4]);
    c.update(&bytes[32..end]);
    c.finish() == header.crc
}

/// One record, borrowed from a group's bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordRef<'a> {
    pub kind: u8,
    pub key: &'a [u8],
    pub value: &'a [u8],
}

/// Bytes a record with this key and value takes.
pub fn record_len(key_len: usize, value_len: usize) -> usize {
    RECORD_HEADER + key_len + value_len
}

/// Appends a record to `out`, checksummed for LSN `lsn`.
pub fn encode_record(out: &mut Vec<u8>, seed: u32, lsn: u64, kind: u8, key: &[u8], value: &[u8]) {
    let start = out.len();
    out.extend_from_slice(&[0, 0, 0, 0, kind, 0, 0, 0]);
    out.extend_from_slice(&(key.len() as u32).to_le_bytes());
    out.extend_from_slice(&(value.len() as u32).to_le_bytes());
    out.extend_from_slice(key);
    out.extend_from_slice(value);
    let crc = record_crc(seed, lsn, &out[start + 4..]);
    put_u32(&mut out[start..], 0, crc);
}

fn record_crc(seed: u32, lsn: u64, rest: &[u8]) -> u32 {
    let mut c = Crc32c::new(seed);
    c.update(&lsn.to_le_bytes());
    c.update(rest);
    c.finish()
}

/// Decodes the record at the start of `b`, written at LSN `lsn`; `None` if it is cut
/// short, malformed, or its checksum does not match.
pub fn decode_record(b: &[u8], seed: u32, lsn: u64) -> Option<(RecordRef<'_>, usize)> {
    if b.len() < RECORD_HEADER {
        return None;
    }
    let kind = b[4];
    let key_len = get_u32(b, 8) as usize;
    let value_len = get_u32(b, 12) as usize;
    let len = RECORD_HEADER.checked_add(key_len)?.checked_add(value_len)?;
    if len > b.len() || !(kind == KIND_PUT || (kind == KIND_DELETE && value_len == 0)) {
        return None;
    }
    if record_crc(seed, lsn, &b[4..len]) != get_u32(b, 0) {
        return None;
    }
    let key = &b[RECORD_HEADER..RECORD_HEADER + key_len];
    let value = &b[RECORD_HEADER + key_len..len];
    Some((RecordRef { kind, key, value }, len))
}

/// Calls `each(lsn, record)` for every record of a checked group whose bytes start at
/// `group_lsn`. A record that does not decode inside a group whose checksum matched is
/// corruption of a kind a torn write cannot make: `Err` with the record's LSN.
pub fn for_each_record<'a>(
    bytes: &'a [u8],
    header: &GroupHeader,
    seed: u32,
    mut each: impl FnMut(u64, RecordRef<'a>) -> Result,
) -> core::result::Result<(), u64> {
    let body = &bytes[GROUP_HEADER..GROUP_HEADER + header.body_len as usize];
    let mut at = 0usize;
    for _ in 0..header.count {
        let lsn = header.lsn + (GROUP_HEADER + at) as u64;
        let Some((rec, len)) = decode_record(&body[at..], seed, lsn) else {
            return Err(lsn);
        };
        if each(lsn, rec).is_err() {
            return Err(lsn);
        }
        at += len;
    }
    if at != body.len() {
        return Err(header.lsn + (GROUP_HEADER + at) as u64);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout() -> Layout {
        Layout::for_disk(64 * 1024 * 1024, 512).unwrap()
    }

    #[test]
    fn superblock_round_trips_and_rejects_damage() {
        let sb = Superblock {
            generation: 7,
            store_id: 0xdead_beef_1234,
            block_size: 512,
            disk_len: 64 << 20,
            layout: layout(),
            head: 4096,
            tail_hint: 9000 * 512,
            epoch: 3,
            compactions: 2,
        };
        let b = sb.encode();
        assert_eq!(b.len(), 512);
        assert_eq!(Superblock::decode(&b), Slot::Valid(sb));
        assert_eq!(sb.slot_offset(), SLOT_BYTES);
        for i in 0..SUPER_LEN {
            let mut bad = b.clone();
            bad[i] ^= 0x10;
            assert!(
                !matches!(Superblock::decode(&bad), Slot::Valid(_) | Slot::Blank),
                "byte {i}"
            );
        }
        assert_eq!(Superblock::decode(&[0u8; 512]), Slot::Blank);
        let mut ext4ish = alloc::vec![0u8; 512];
        ext4ish[0x38] = 0x53;
        ext4ish[0x39] = 0xef;
        assert_eq!(Superblock::decode(&ext4ish), Slot::Foreign);
    }

    #[test]
    fn layout_maps_lsns_around_the_ring() {
        let l = layout();
        assert_eq!(l.offset(0), DATA_START);
        assert_eq!(l.offset(l.data_len + 512), DATA_START + 512);
        let (ext, n) = l.extents(l.data_len - 512, 1024);
        assert_eq!(n, 2);
        assert_eq!(ext[0], (DATA_START + l.data_len - 512, 512));
        assert_eq!(ext[1], (DATA_START, 512));
        assert!(l.compaction_reserve() + l.delete_reserve() < l.data_len / 4);
        assert!(l.max_record() >= 32 * 1024);
    }

    #[test]
    fn records_check_their_lsn_and_every_byte() {
        let mut out = Vec::new();
        encode_record(&mut out, 42, 1000, KIND_PUT, b"key", b"value");
        let (r, len) = decode_record(&out, 42, 1000).unwrap();
        assert_eq!(
            (r.kind, r.key, r.value, len),
            (KIND_PUT, &b"key"[..], &b"value"[..], out.len())
        );
        assert!(decode_record(&out, 42, 1512).is_none(), "another LSN");
        assert!(decode_record(&out, 43, 1000).is_none(), "another store");
        for i in 0..out.len() {
            let mut bad = out.clone();
            bad[i] ^= 1;
            assert!(decode_record(&bad, 42, 1000).is_none(), "byte {i}");
        }
        assert!(decode_record(&out[..out.len() - 1], 42, 1000).is_none());
    }

    #[test]
    fn groups_check_header_and_body() {
        let seed = 9;
        let mut g = alloc::vec![0u8; GROUP_HEADER];
        encode_record(
            &mut g,
            seed,
            512 + GROUP_HEADER as u64,
            KIND_PUT,
            b"a",
            b"1",
        );
        let body = (g.len() - GROUP_HEADER) as u32;
        g.resize(512, 0);
        seal_group(&mut g, seed, 1, 1, body, 512);
        let h = GroupHeader::decode(&g).unwrap();
        assert_eq!((h.lsn, h.count, h.body_len, h.epoch), (512, 1, body, 1));
        assert_eq!(h.span(&layout()), 512);
        assert!(group_checksum_ok(&g, &h, seed));
        let mut seen = Vec::new();
        for_each_record(&g, &h, seed, |lsn, r| {
            seen.push((lsn, r.key.to_vec()));
            Ok(())
        })
        .unwrap();
        assert_eq!(seen, [(512 + 32, b"a".to_vec())]);
        for i in 0..GROUP_HEADER + body as usize {
            let mut bad = g.clone();
            bad[i] ^= 4;
            let ok = GroupHeader::decode(&bad).is_some_and(|h| group_checksum_ok(&bad, &h, seed));
            assert!(!ok, "byte {i}");
        }
    }
}
