//! Disks: the raw block devices attached to the machine, shaped like `std`'s positioned
//! file I/O (`read_at`/`write_at`, as `std::os::unix::fs::FileExt`).
//!
//! Disks are named `vda`, `vdb`, ... in the order they were given to QEMU
//! (`scripts/qemu-run.sh --disk a.img --disk b.img`). A call blocks the calling thread
//! until the device completes; other threads run meanwhile, and many requests from many
//! threads are in flight at once. The `*_owned` and `flush_async` forms are futures for
//! async code (run them with [`crate::task::block_on`]).
//!
//! Durability: data written before a [`Disk::flush`] is durable once that flush returns.
//!
//! ```ignore
//! let disk = libos::block::Disk::open("vda")?;
//! let mut sector = [0u8; 512];
//! disk.read_at(&mut sector, 0)?;
//! disk.write_at(&sector, 4096)?;
//! disk.flush()?;
//! ```

use crate::io::{Error, ErrorKind, Result};
use alloc::string::String;
use alloc::vec::Vec;
use core::future::Future;
use kernel::block::{self as kblock, BlockError};

/// What a disk is (see [`disks`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DiskInfo {
    /// `vda`, `vdb`, ...
    pub name: String,
    /// Size in bytes.
    pub len: u64,
    /// Offsets and lengths of transfers must be multiples of this.
    pub block_size: u32,
    pub read_only: bool,
    /// True if completed writes may sit in a volatile cache until [`Disk::flush`].
    pub write_cache: bool,
}

impl From<&kblock::DiskInfo> for DiskInfo {
    fn from(info: &kblock::DiskInfo) -> Self {
        Self {
            name: info.name.clone(),
            len: info.len(),
            block_size: info.block_size,
            read_only: info.read_only,
            write_cache: info.write_cache,
        }
    }
}

/// Per-disk counters since boot.
pub use kernel::block::DiskStats;

/// The disks attached to the machine, in order. The first call finds them.
pub fn disks() -> Vec<DiskInfo> {
    kblock::disks().iter().map(DiskInfo::from).collect()
}

fn io_error(e: BlockError) -> Error {
    let kind = match &e {
        BlockError::NoSuchDisk { .. } => ErrorKind::NotFound,
        BlockError::ReadOnly { .. } => ErrorKind::PermissionDenied,
        BlockError::Misaligned { .. } | BlockError::OutOfRange { .. } => ErrorKind::InvalidInput,
        BlockError::Device { .. } => ErrorKind::Other,
        BlockError::Unsupported { .. } => ErrorKind::Unsupported,
        BlockError::OutOfMemory { .. } => ErrorKind::OutOfMemory,
    };
    Error::new(kind, e)
}

/// An open disk: cheap to clone, usable from every thread at once.
#[derive(Clone, Copy, Debug)]
pub struct Disk {
    inner: kblock::Disk,
}

impl Disk {
    /// Opens disk `name` (`vda`, ...); `NotFound` names the disks there are.
    pub fn open(name: &str) -> Result<Self> {
        kblock::open(name)
            .map(|inner| Self { inner })
            .map_err(io_error)
    }

    pub fn name(&self) -> &str {
        &self.inner.info().name
    }

    /// Size in bytes.
    pub fn len(&self) -> u64 {
        self.inner.info().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn block_size(&self) -> u32 {
        self.inner.info().block_size
    }

    pub fn is_read_only(&self) -> bool {
        self.inner.info().read_only
    }

    pub fn info(&self) -> DiskInfo {
        self.inner.info().into()
    }

    pub fn stats(&self) -> DiskStats {
        self.inner.stats()
    }

    /// Fills `buf` from byte `offset`. Offset and length must be multiples of
    /// [`block_size`](Self::block_size) (`InvalidInput` otherwise, and past the end).
    pub fn read_at(&self, buf: &mut [u8], offset: u64) -> Result<()> {
        self.inner.read_at(buf, offset).map_err(io_error)
    }

    /// Writes `buf` at byte `offset` (alignment as for [`read_at`](Self::read_at)); a
    /// read-only disk gives `PermissionDenied`. Durable once a later
    /// [`flush`](Self::flush) returns.
    pub fn write_at(&self, buf: &[u8], offset: u64) -> Result<()> {
        self.inner.write_at(buf, offset).map_err(io_error)
    }

    /// Makes every write that completed before this call durable. On a disk without a
    /// write cache, completed writes are durable already and this returns at once.
    pub fn flush(&self) -> Result<()> {
        self.inner.flush().map_err(io_error)
    }

    /// Async [`flush`](Self::flush).
    pub fn flush_async(&self) -> impl Future<Output = Result<()>> + Send + 'static {
        let f = self.inner.flush_async();
        async move { f.await.map_err(io_error) }
    }

    /// Async read into `buf` (moved in and handed back with the result, so a dropped
    /// future can never leave the device writing into freed memory).
    pub fn read_owned(
        &self,
        buf: Vec<u8>,
        offset: u64,
    ) -> impl Future<Output = (Vec<u8>, Result<()>)> + Send + 'static {
        let f = self.inner.read_owned(buf, offset);
        async move {
            let (buf, r) = f.await;
            (buf, r.map_err(io_error))
        }
    }

    /// Async write of `buf` (handed back with the result).
    pub fn write_owned(
        &self,
        buf: Vec<u8>,
        offset: u64,
    ) -> impl Future<Output = (Vec<u8>, Result<()>)> + Send + 'static {
        let f = self.inner.write_owned(buf, offset);
        async move {
            let (buf, r) = f.await;
            (buf, r.map_err(io_error))
        }
    }
}
