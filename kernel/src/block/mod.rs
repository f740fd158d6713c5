//! Block devices: the disks an app can open, and the contract every block driver keeps.
//!
//! Layers: `libos::block` (std-shaped, `io::Error`) -> this module (disk names, range and
//! alignment checks, splitting large transfers, blocking and async forms) -> a
//! [`BlockDriver`] (today `drivers::virtio::blk`) -> the device. [`check`] and
//! [`split`] are plain logic, tested on the host.
//!
//! Durability: data written before a [`Disk::flush`] is durable once that flush returns
//! (on a device without a write cache, a completed write already is, and flush does
//! nothing; [`DiskInfo::write_cache`] says which).

use alloc::string::String;
use core::fmt;

/// The unit of disk addresses.
pub const SECTOR: u64 = 512;
/// Largest transfer sent to a device as one request; larger ones are split and sent at
/// once.
pub const MAX_REQUEST: usize = 256 * 1024;

/// What a disk is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DiskInfo {
    /// `vda`, `vdb`, ... in the order the disks were given.
    pub name: String,
    /// Size in 512-byte sectors.
    pub sectors: u64,
    /// Offsets and lengths must be multiples of this (512, or the device's logical block
    /// size if larger).
    pub block_size: u32,
    pub read_only: bool,
    /// True if completed writes may sit in a volatile cache until a flush.
    pub write_cache: bool,
    /// Where the device is ("mmio 0xfeb00e00", "pci 00:03.0").
    pub location: String,
}

impl DiskInfo {
    pub fn len(&self) -> u64 {
        self.sectors * SECTOR
    }

    pub fn is_empty(&self) -> bool {
        self.sectors == 0
    }
}

/// Why a block operation failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BlockError {
    /// No disk of that name.
    NoSuchDisk { name: String, known: String },
    /// A write or flush to a read-only disk.
    ReadOnly { disk: String },
    /// Offset or length not a multiple of the block size.
    Misaligned {
        disk: String,
        offset: u64,
        len: usize,
        block_size: u32,
    },
    /// The range reaches past the end of the disk.
    OutOfRange {
        disk: String,
        offset: u64,
        len: usize,
        disk_len: u64,
    },
    /// The device reported an I/O error for the request at `sector`.
    Device { disk: String, sector: u64 },
    /// The device does not support the request.
    Unsupported { disk: String, what: &'static str },
    /// No memory for the request.
    OutOfMemory { disk: String },
}

impl fmt::Display for BlockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoSuchDisk { name, known } if known.is_empty() => {
                write!(f, "no disk '{name}': no disks are attached")
            }
            Self::NoSuchDisk { name, known } => write!(f, "no disk '{name}' (disks: {known})"),
            Self::ReadOnly { disk } => write!(f, "{disk} is read-only"),
            Self::Misaligned {
                disk,
                offset,
                len,
                block_size,
            } => write!(
                f,
                "{disk}: offset {offset} and length {len} must be multiples of the block size {block_size}"
            ),
            Self::OutOfRange {
                disk,
                offset,
                len,
                disk_len,
            } => write!(
                f,
                "{disk}: {len} bytes at offset {offset} reach past the end of the disk ({disk_len} bytes)"
            ),
            Self::Device { disk, sector } => {
                write!(
                    f,
                    "{disk}: the device reported an I/O error at sector {sector}"
                )
            }
            Self::Unsupported { disk, what } => {
                write!(f, "{disk}: the device does not support {what}")
            }
            Self::OutOfMemory { disk } => write!(f, "{disk}: no memory for the request"),
        }
    }
}

/// What a request does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Read,
    Write,
    Flush,
}

/// Checks a transfer of `len` bytes at byte `offset` against the disk; returns the first
/// sector.
pub fn check(info: &DiskInfo, op: Op, offset: u64, len: usize) -> Result<u64, BlockError> {
    if op != Op::Read && info.read_only {
        return Err(BlockError::ReadOnly {
            disk: info.name.clone(),
        });
    }
    if op == Op::Flush {
        return Ok(0);
    }
    let block = u64::from(info.block_size.max(1));
    if !offset.is_multiple_of(block) || !(len as u64).is_multiple_of(block) {
        return Err(BlockError::Misaligned {
            disk: info.name.clone(),
            offset,
            len,
            block_size: info.block_size,
        });
    }
    match offset.checked_add(len as u64) {
        Some(end) if end <= info.len() => Ok(offset / SECTOR),
        _ => Err(BlockError::OutOfRange {
            disk: info.name.clone(),
            offset,
            len,
            disk_len: info.len(),
        }),
    }
}

/// Splits `len` bytes starting at `sector` into requests of at most `max` bytes (a
/// multiple of the sector size): `(sector, byte offset in the buffer, length)`.
pub fn split(sector: u64, len: usize, max: usize) -> impl Iterator<Item = (u64, usize, usize)> {
    let max = (max / SECTOR as usize).max(1) * SECTOR as usize;
    (0..len.div_ceil(max)).map(move |i| {
        let at = i * max;
        (sector + (at as u64) / SECTOR, at, max.min(len - at))
    })
}

#[cfg(target_os = "none")]
pub(crate) mod disk;
#[cfg(target_os = "none")]
pub(crate) use disk::disk_name;
#[cfg(target_os = "none")]
pub use disk::{BlockDriver, Buffer, Disk, DiskStats, Request, Ticket, disks, log_stats, open};

#[cfg(test)]
mod tests {
    use super::*;

    fn disk(read_only: bool) -> DiskInfo {
        DiskInfo {
            name: "vda".into(),
            sectors: 2048,
            block_size: 512,
            read_only,
            write_cache: true,
            location: "test".into(),
        }
    }

    #[test]
    fn aligned_in_range_transfers_pass() {
        assert_eq!(check(&disk(false), Op::Read, 0, 512), Ok(0));
        assert_eq!(check(&disk(false), Op::Write, 1024, 4096), Ok(2));
        assert_eq!(check(&disk(false), Op::Read, 2047 * 512, 512), Ok(2047));
        assert_eq!(check(&disk(false), Op::Read, 0, 0), Ok(0));
    }

    #[test]
    fn read_only_disks_refuse_writes_and_flushes_only() {
        assert!(matches!(
            check(&disk(true), Op::Write, 0, 512),
            Err(BlockError::ReadOnly { .. })
        ));
        assert!(matches!(
            check(&disk(true), Op::Flush, 0, 0),
            Err(BlockError::ReadOnly { .. })
        ));
        assert_eq!(check(&disk(true), Op::Read, 0, 512), Ok(0));
    }

    #[test]
    fn misaligned_and_out_of_range_are_distinct_errors() {
        assert!(matches!(
            check(&disk(false), Op::Read, 100, 512),
            Err(BlockError::Misaligned { .. })
        ));
        assert!(matches!(
            check(&disk(false), Op::Read, 0, 100),
            Err(BlockError::Misaligned { .. })
        ));
        assert!(matches!(
            check(&disk(false), Op::Read, 2048 * 512, 512),
            Err(BlockError::OutOfRange { .. })
        ));
        assert!(matches!(
            check(&disk(false), Op::Read, u64::MAX - 511, 512),
            Err(BlockError::OutOfRange { .. })
        ));
    }

    #[test]
    fn errors_say_what_and_where() {
        let e = check(&disk(false), Op::Read, 2048 * 512, 512).unwrap_err();
        assert_eq!(
            e.to_string(),
            "vda: 512 bytes at offset 1048576 reach past the end of the disk (1048576 bytes)"
        );
        let e = BlockError::NoSuchDisk {
            name: "vdc".into(),
            known: String::new(),
        };
        assert_eq!(e.to_string(), "no disk 'vdc': no disks are attached");
    }

    #[test]
    fn split_covers_the_buffer_exactly() {
        let mut seed = 0x1234_5678_9abc_def1u64;
        for _ in 0..1_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let len = (seed % 4096) as usize * 512;
            let max = ((seed >> 32) % 1024 + 1) as usize * 512;
            let sector = seed >> 40;
            let mut next = 0;
            for (s, at, n) in split(sector, len, max) {
                assert_eq!(at, next);
                assert_eq!(s, sector + at as u64 / 512);
                assert!(n > 0 && n <= max && n % 512 == 0);
                next += n;
            }
            assert_eq!(next, len);
        }
    }
}
