//! Files, shaped like `std::fs`: a read-only view of the ext2/ext3/ext4 file system on the
//! root disk, read with the `ext4-view` crate.
//!
//! [`read`], [`read_to_string`], [`read_dir`], [`metadata`], [`symlink_metadata`],
//! [`exists`] and [`File`] (which reads in chunks and seeks). Paths are `/`-separated;
//! a relative path counts from `/`. Nothing can be written.
//!
//! The tree is mounted on first use from the disk the `root=vdX` kernel option names, or
//! from the first disk ([`crate::block`]). One task owns it and runs every call in turn
//! (see `server`): a caller blocks until its call is done, and other tasks run meanwhile.
//!
//! Errors: a missing path is `NotFound`, a directory where a file is wanted
//! `IsADirectory`, a corrupted file system `InvalidData` (with what is wrong), a file
//! system feature `ext4-view` cannot read `Unsupported`, and with no disk at all every call
//! fails with `NotFound` "no disk to mount (attach one with --disk-from DIR)".

mod server;
mod unaligned;

use crate::io::{self, Error, ErrorKind, Read, Seek, SeekFrom};
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::time::Duration;

/// The most a [`File`] read fetches from the owning task at once.
const CHUNK: usize = 64 * 1024;

/// What kind of object a path names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FileType(Kind);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Kind {
    File,
    Dir,
    Symlink,
    /// A device, fifo or socket.
    Other,
}

impl FileType {
    const FILE: Self = Self(Kind::File);
    const DIR: Self = Self(Kind::Dir);
    const SYMLINK: Self = Self(Kind::Symlink);
    const OTHER: Self = Self(Kind::Other);

    pub fn is_dir(&self) -> bool {
        self.0 == Kind::Dir
    }

    /// A regular file.
    pub fn is_file(&self) -> bool {
        self.0 == Kind::File
    }

    pub fn is_symlink(&self) -> bool {
        self.0 == Kind::Symlink
    }
}

/// What is known about a file: its size, type, permissions and modification time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Metadata {
    len: u64,
    file_type: FileType,
    mode: u16,
    /// Seconds (negative: before 1970) and nanoseconds since the Unix epoch.
    modified: (i64, u32),
}

impl Metadata {
    /// Size in bytes.
    #[allow(clippy::len_without_is_empty)]
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn file_type(&self) -> FileType {
        self.file_type
    }

    pub fn is_dir(&self) -> bool {
        self.file_type.is_dir()
    }

    pub fn is_file(&self) -> bool {
        self.file_type.is_file()
    }

    pub fn is_symlink(&self) -> bool {
        self.file_type.is_symlink()
    }

    /// The Unix permission bits (`0o644`), as `std`'s `PermissionsExt::mode` without the
    /// type bits.
    pub fn mode(&self) -> u32 {
        u32::from(self.mode)
    }

    /// The last modification, as time since the Unix epoch (the libOS has no wall-clock
    /// type yet); `Unsupported` for a time before 1970.
    pub fn modified(&self) -> io::Result<Duration> {
        let (seconds, nanos) = self.modified;
        let seconds = u64::try_from(seconds)
            .map_err(|_| Error::new(ErrorKind::Unsupported, "modification time before 1970"))?;
        Ok(Duration::new(seconds, nanos.min(999_999_999)))
    }
}

/// One entry of a directory (never `.` or `..`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirEntry {
    name: String,
    path: String,
    file_type: FileType,
}

impl DirEntry {
    /// The entry's name (bytes that are not UTF-8 are shown as U+FFFD).
    pub fn file_name(&self) -> &str {
        &self.name
    }

    /// The directory's path joined with the entry's name.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The entry's type, as the directory records it (no extra read).
    pub fn file_type(&self) -> io::Result<FileType> {
        Ok(self.file_type)
    }

    /// The entry's metadata, not following a symlink (as `std`'s `DirEntry::metadata`).
    pub fn metadata(&self) -> io::Result<Metadata> {
        symlink_metadata(&self.path)
    }
}

/// The entries of a directory, as [`read_dir`] found them.
#[derive(Debug)]
pub struct ReadDir {
    entries: alloc::vec::IntoIter<DirEntry>,
}

impl Iterator for ReadDir {
    type Item = io::Result<DirEntry>;

    fn next(&mut self) -> Option<Self::Item> {
        self.entries.next().map(Ok)
    }
}

/// The path as the file system wants it: absolute.
fn absolute(path: &str) -> io::Result<String> {
    match path {
        "" => Err(Error::new(ErrorKind::NotFound, "empty path")),
        p if p.starts_with('/') => Ok(String::from(p)),
        p => Ok(format!("/{p}")),
    }
}

/// The whole contents of the file at `path`.
pub fn read(path: impl AsRef<str>) -> io::Result<Vec<u8>> {
    let mut file = File::open(path)?;
    let mut data = Vec::new();
    file.read_to_end(&mut data)?;
    Ok(data)
}

/// The whole contents of the file at `path` as text; `InvalidData` if it is not UTF-8.
pub fn read_to_string(path: impl AsRef<str>) -> io::Result<String> {
    String::from_utf8(read(path)?).map_err(|e| {
        Error::new(
            ErrorKind::InvalidData,
            format!("not valid UTF-8 (at byte {})", e.utf8_error().valid_up_to()),
        )
    })
}

/// The entries of the directory at `path` (following symlinks), read all at once.
pub fn read_dir(path: impl AsRef<str>) -> io::Result<ReadDir> {
    let path = absolute(path.as_ref())?;
    let entries = server::call(move |fs| fs.read_dir(&path))?;
    Ok(ReadDir {
        entries: entries.into_iter(),
    })
}

/// Metadata of what `path` names, following symlinks.
pub fn metadata(path: impl AsRef<str>) -> io::Result<Metadata> {
    let path = absolute(path.as_ref())?;
    server::call(move |fs| fs.metadata(&path, true))
}

/// Metadata of what `path` names; a symlink at the end is not followed.
pub fn symlink_metadata(path: impl AsRef<str>) -> io::Result<Metadata> {
    let path = absolute(path.as_ref())?;
    server::call(move |fs| fs.metadata(&path, false))
}

/// Whether `path` names something (following symlinks). An error means it could not be
/// told (no disk, a corrupted file system), as `std::fs::exists`.
pub fn exists(path: impl AsRef<str>) -> io::Result<bool> {
    match absolute(path.as_ref()) {
        Ok(path) => server::call(move |fs| fs.exists(&path)),
        Err(_) => Ok(false),
    }
}

/// An open regular file: [`Read`] fetches it in chunks of at most 64 KiB from the
/// owning task, [`Seek`] only moves the cursor. The file is never read whole into memory.
#[derive(Debug)]
pub struct File {
    id: server::FileId,
    position: u64,
    metadata: Metadata,
}

impl File {
    /// Opens the regular file at `path` (following symlinks); `IsADirectory` for a
    /// directory, `InvalidInput` for a device, fifo or socket.
    pub fn open(path: impl AsRef<str>) -> io::Result<File> {
        let path = absolute(path.as_ref())?;
        let (id, metadata) = server::call(move |fs| fs.open(&path))?;
        Ok(File {
            id,
            position: 0,
            metadata,
        })
    }

    /// The file's metadata, as of when it was opened (the tree is read-only).
    pub fn metadata(&self) -> io::Result<Metadata> {
        Ok(self.metadata.clone())
    }
}

impl Read for File {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() || self.position >= self.metadata.len {
            return Ok(0);
        }
        let (id, offset, len) = (self.id, self.position, buf.len().min(CHUNK));
        let data = server::call(move |fs| fs.read(id, offset, len))?;
        buf[..data.len()].copy_from_slice(&data);
        self.position += data.len() as u64;
        Ok(data.len())
    }

    /// Reads to the end in 64 KiB chunks, reserving the rest of the file's size first.
    fn read_to_end(&mut self, buf: &mut Vec<u8>) -> io::Result<usize> {
        let start = buf.len();
        let rest = self.metadata.len.saturating_sub(self.position);
        buf.try_reserve(usize::try_from(rest).unwrap_or(usize::MAX))
            .map_err(|_| Error::new(ErrorKind::OutOfMemory, format!("file of {rest} bytes")))?;
        loop {
            let (id, offset) = (self.id, self.position);
            let data = server::call(move |fs| fs.read(id, offset, CHUNK))?;
            if data.is_empty() {
                return Ok(buf.len() - start);
            }
            self.position += data.len() as u64;
            buf.extend_from_slice(&data);
        }
    }
}

impl Seek for File {
    /// Moves the cursor; past the end is allowed (reads there return 0), before the start
    /// is `InvalidInput`.
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        let (base, delta) = match pos {
            SeekFrom::Start(to) => (to, 0),
            SeekFrom::End(delta) => (self.metadata.len, delta),
            SeekFrom::Current(delta) => (self.position, delta),
        };
        self.position = base.checked_add_signed(delta).ok_or_else(|| {
            Error::new(
                ErrorKind::InvalidInput,
                "seek to a negative or overflowing position",
            )
        })?;
        Ok(self.position)
    }
}

impl Drop for File {
    fn drop(&mut self) {
        let id = self.id;
        // Nothing to report to: a server that is gone holds no table any more.
        let _ = server::submit(alloc::boxed::Box::new(move |fs| {
            if let Ok(fs) = fs {
                fs.close(id);
            }
        }));
    }
}
