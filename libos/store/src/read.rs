//! Reading the log back: [`RecordReader`] (one record, checked against the LSN it was
//! written at), [`LogReader`] (a window of the log walked group by group, for recovery and
//! compaction) and [`read_step`] (the groups and put records of one compaction step).

use crate::format::{self, KIND_PUT, Layout, RECORD_HEADER};
use crate::index::Loc;
use crate::{Error, ReadAt, Result};
use alloc::vec::Vec;

/// Reads and checks records on the disk; cheap to copy out of the lock.
#[derive(Clone, Copy, Debug)]
pub struct RecordReader {
    pub layout: Layout,
    pub seed: u32,
}

impl RecordReader {
    /// Reads `len` bytes of log from LSN `lsn` (both block-aligned) into `buf`.
    pub fn read_log(&self, dev: &mut impl ReadAt, lsn: u64, buf: &mut [u8]) -> Result {
        let (ext, n) = self.layout.extents(lsn, buf.len() as u64);
        let mut at = 0usize;
        for &(offset, len) in &ext[..n] {
            dev.read_at(offset, &mut buf[at..at + len as usize])?;
            at += len as usize;
        }
        Ok(())
    }

    /// Reads the record at `loc` and returns its value if it is the record for `key` that
    /// was written there; `None` if it is not (moved, or corrupt: the caller tells which).
    pub fn read(&self, dev: &mut impl ReadAt, key: &[u8], loc: Loc) -> Result<Option<Vec<u8>>> {
        let (start, len) = self.span(loc);
        let mut buf = alloc::vec![0u8; len as usize];
        self.read_log(dev, start, &mut buf)?;
        Ok(self.decode(key, loc, start, &buf))
    }

    /// The block-aligned log range `(lsn, len)` that holds the record at `loc`.
    pub fn span(&self, loc: Loc) -> (u64, u64) {
        let start = self.layout.round_down(loc.lsn);
        let end = self.layout.round_up(loc.lsn + u64::from(loc.len));
        (start, end - start)
    }

    /// The value of `key`'s record at `loc` from `buf`, the log bytes from LSN `start`;
    /// `None` if the bytes there are not that record.
    pub fn decode(&self, key: &[u8], loc: Loc, start: u64, buf: &[u8]) -> Option<Vec<u8>> {
        let at = usize::try_from(loc.lsn.checked_sub(start)?).ok()?;
        match format::decode_record(buf.get(at..)?, self.seed, loc.lsn) {
            Some((rec, _)) if rec.kind == KIND_PUT && rec.key == key => Some(rec.value.to_vec()),
            _ => None,
        }
    }
}

/// A window of the log read from the disk, walked group by group.
#[derive(Debug)]
pub struct LogReader {
    reader: RecordReader,
    window: u64,
    buf: Vec<u8>,
    buf_lsn: u64,
}

impl LogReader {
    pub fn new(reader: RecordReader, window: u64) -> Self {
        Self {
            reader,
            window,
            buf: Vec::new(),
            buf_lsn: 0,
        }
    }

    /// `len` bytes of log at `lsn`, reading ahead up to the window but not past `limit`.
    fn fetch(&mut self, dev: &mut impl ReadAt, lsn: u64, len: u64, limit: u64) -> Result<&[u8]> {
        let have = self.buf_lsn..self.buf_lsn + self.buf.len() as u64;
        if !(have.contains(&lsn) && lsn + len <= have.end) {
            let want = len.max(self.window).min(limit - lsn);
            self.buf.resize(want as usize, 0);
            self.buf_lsn = lsn;
            let mut buf = core::mem::take(&mut self.buf);
            let r = self.reader.read_log(dev, lsn, &mut buf);
            self.buf = buf;
            if let Err(e) = r {
                self.buf.clear();
                return Err(e);
            }
        }
        let at = (lsn - self.buf_lsn) as usize;
        Ok(&self.buf[at..at + len as usize])
    }

    /// The valid group at `lsn` (its header and its checked bytes), or `None` if there is
    /// none: past `limit`, no header, another LSN, or a bad checksum.
    pub fn group(
        &mut self,
        dev: &mut impl ReadAt,
        lsn: u64,
        limit: u64,
    ) -> Result<Option<(format::GroupHeader, &[u8])>> {
        let layout = self.reader.layout;
        if lsn + layout.block > limit {
            return Ok(None);
        }
        let first = self.fetch(dev, lsn, layout.block, limit)?;
        let Some(h) = format::GroupHeader::decode(first) else {
            return Ok(None);
        };
        if h.lsn != lsn || h.count == 0 || h.span(&layout) > limit - lsn {
            return Ok(None);
        }
        let seed = self.reader.seed;
        let bytes = self.fetch(dev, lsn, h.span(&layout), limit)?;
        if !format::group_checksum_ok(bytes, &h, seed) {
            return Ok(None);
        }
        Ok(Some((h, bytes)))
    }
}

/// The put records of one compaction step.
#[derive(Debug, Default)]
pub struct Step {
    /// LSN of the first group read.
    pub start: u64,
    /// LSN after the last whole group read: the head once the step is done.
    pub end: u64,
    pub bytes: Vec<u8>,
    pub records: Vec<StepRecord>,
}

/// A put record within [`Step::bytes`].
#[derive(Clone, Debug)]
pub struct StepRecord {
    pub lsn: u64,
    pub key: core::ops::Range<usize>,
    pub value: core::ops::Range<usize>,
}

/// Reads whole groups from `start` (the head) within about `bytes` (at most a chunk; at
/// least one group), not past `limit` (both from [`Log::compaction_window`]), and none that
/// starts at or after `until`. A group that fails its checks here was durable, so that is
/// corruption, reported with its disk offset. Smaller steps keep the time a step's
/// checksums and parsing take (without yielding) short; each costs a superblock write.
pub fn read_step(
    reader: RecordReader,
    dev: &mut impl ReadAt,
    start: u64,
    limit: u64,
    until: u64,
    bytes: u64,
) -> Result<Step> {
    let layout = reader.layout;
    let chunk = layout.chunk().min(bytes.max(layout.block));
    let mut log = LogReader::new(reader, chunk);
    let mut step = Step {
        start,
        end: start,
        ..Step::default()
    };
    while step.end < limit.min(until) && (step.end == start || step.end - start < chunk) {
        let lsn = step.end;
        let Some((h, bytes)) = log.group(dev, lsn, limit)? else {
            return Err(Error::Corrupt {
                offset: layout.offset(lsn),
            });
        };
        if step.end != start && step.end + h.span(&layout) - start > chunk {
            break;
        }
        let base = step.bytes.len();
        step.bytes.extend_from_slice(bytes);
        let records = &mut step.records;
        let walk = format::for_each_record(bytes, &h, reader.seed, |rec_lsn, rec| {
            if rec.kind == KIND_PUT {
                let at = base + (rec_lsn - lsn) as usize + RECORD_HEADER;
                let key = at..at + rec.key.len();
                let value = key.end..key.end + rec.value.len();
                records.push(StepRecord {
                    lsn: rec_lsn,
                    key,
                    value,
                });
            }
            Ok(())
        });
        if let Err(at) = walk {
            return Err(Error::Corrupt {
                offset: layout.offset(at),
            });
        }
        step.end += h.span(&layout);
    }
    Ok(step)
}
