//! The engine of `libos::store`: a crash-safe key-value log on a whole disk, as plain Rust
//! with no I/O of its own, so that all of it runs and is tested on the host.
//!
//! - [`format`]: the on-disk format (superblocks, groups, records), documented there.
//! - [`log`]: [`Log`], the state machine: recovery at open, appends into the open group,
//!   sealing a group for the committer, durability bookkeeping, reads, compaction steps.
//! - [`read`]: reading records and whole groups back, for reads, recovery and compaction.
//! - [`index`]: the in-memory key index, ordered (scans), with a memory limit.
//! - [`crc32c`]: the checksum.
//! - [`testdisk`] (tests only): a disk that tears and drops unflushed writes on a power cut.
//!
//! The caller (`libos::store`) owns the disk and the threads: it holds a lock around the
//! [`Log`], writes sealed groups and flushes, reads through [`ReadAt`], and tells the log
//! when each finished.

#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod crc32c;
pub mod format;
pub mod index;
pub mod log;
pub mod read;
#[cfg(test)]
mod testdisk;
#[cfg(test)]
mod tests;

pub use index::Loc;
pub use log::{Append, Class, GroupWrite, Log, Lookup, Op, Options, Recovery, Stats};
pub use read::{LogReader, RecordReader, Step, StepRecord, read_step};

use core::fmt;

pub type Result<T = ()> = core::result::Result<T, Error>;

/// Everything that can go wrong, with where.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// The disk is blank where a store's superblocks go: nothing to open (format it).
    Blank,
    /// The disk holds something other than a store.
    NotAStore,
    /// A store of another format version.
    Version {
        found: u32,
    },
    /// The disk is smaller than the smallest store.
    DiskTooSmall {
        len: u64,
        min: u64,
    },
    /// The store was made on a disk of another size.
    WrongSize {
        made_for: u64,
        len: u64,
    },
    Unsupported {
        block_size: u64,
    },
    /// There is no disk by that name.
    NoSuchDisk,
    /// The disk is already open as a store.
    AlreadyOpen,
    /// The disk, or the store, is read-only.
    ReadOnly,
    /// An earlier write or flush failed at this disk byte: the store turned read-only
    /// until it is opened again.
    Failed {
        offset: u64,
    },
    /// Not enough free log space for `needed` bytes (`free` left for this kind of write).
    StorageFull {
        needed: u64,
        free: u64,
    },
    /// The index would grow past its memory limit.
    IndexFull {
        limit: u64,
    },
    /// A record (header, key and value) larger than the store takes.
    TooLarge {
        len: u64,
        max: u64,
    },
    /// Bytes that fail their checksum where a valid record must be, at this disk byte.
    Corrupt {
        offset: u64,
    },
    /// The device failed a read or write at this disk byte, or a flush.
    Device {
        op: IoOp,
        offset: u64,
    },
    /// The store was closed.
    Closed,
    /// No memory for the store's threads or buffers.
    OutOfMemory,
}

/// Which device operation failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IoOp {
    Read,
    Write,
    Flush,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Blank => write!(f, "no store on this disk (it is blank): format it first"),
            Self::NotAStore => write!(
                f,
                "the disk holds something that is not a store; formatting it would destroy that"
            ),
            Self::Version { found } => write!(
                f,
                "a store of format version {found}; this build reads version {}",
                format::VERSION
            ),
            Self::DiskTooSmall { len, min } => {
                write!(
                    f,
                    "disk too small for a store: {len} bytes, at least {min} needed"
                )
            }
            Self::WrongSize { made_for, len } => write!(
                f,
                "the store was made for a disk of {made_for} bytes, this one has {len}"
            ),
            Self::Unsupported { block_size } => {
                write!(f, "unsupported block size {block_size}")
            }
            Self::NoSuchDisk => write!(f, "no such disk"),
            Self::AlreadyOpen => write!(f, "the store is already open"),
            Self::ReadOnly => write!(f, "the store is read-only"),
            Self::Failed { offset } => write!(
                f,
                "the store is read-only after a failed write or flush at byte {offset}; open it again"
            ),
            Self::StorageFull { needed, free } => write!(
                f,
                "storage full: {needed} bytes needed, {free} free (delete keys or compact)"
            ),
            Self::IndexFull { limit } => write!(
                f,
                "the index would exceed its memory limit of {limit} bytes (raise the index memory option)"
            ),
            Self::TooLarge { len, max } => {
                write!(
                    f,
                    "record of {len} bytes is larger than the largest this store takes ({max})"
                )
            }
            Self::Corrupt { offset } => write!(f, "corrupt data at byte {offset}"),
            Self::Device { op, offset } => match op {
                IoOp::Read => write!(f, "device error reading at byte {offset}"),
                IoOp::Write => write!(f, "device error writing at byte {offset}"),
                IoOp::Flush => write!(f, "device error on flush"),
            },
            Self::Closed => write!(f, "the store is closed"),
            Self::OutOfMemory => write!(f, "out of memory"),
        }
    }
}

/// Positioned reads from the disk. Offsets and lengths the engine asks for are multiples
/// of the store's block size. `Err` is [`Error::Device`].
pub trait ReadAt {
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result;
}
