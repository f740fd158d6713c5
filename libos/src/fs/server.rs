//! The owner of the mounted file system: one task (`fs`) that mounts the root disk on
//! first use and runs every file-system call, one at a time, for all other tasks.
//!
//! `ext4_view::Ext4` keeps `Rc`/`RefCell` inside, so it is neither `Send` nor `Sync`: it
//! cannot sit in a shared lock without an `unsafe impl Send`, which this crate forbids.
//! Instead it never leaves the task that created it. Callers send a [`Job`] (a closure
//! that gets the [`Mounted`] tree) over a channel and block on their own reply channel;
//! a second caller's job waits in the queue, never meets a borrowed `RefCell`. What goes
//! back is plain data (bytes, [`Metadata`], [`DirEntry`] lists); open files stay in
//! the server's table and callers hold only a number.

use super::{DirEntry, FileType, Metadata};
use crate::block::{self, Disk};
use crate::io::{self, Error, ErrorKind};
use crate::sync::Mutex;
use crate::sync::mpsc::{self, Receiver, Sender};
use crate::thread;
use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;
use ext4_view::{Ext4, Ext4Error, Ext4Read};

/// The server task's stack: path resolution and directory blocks live on it.
const SERVER_STACK: usize = 128 * 1024;

/// What the server runs: a closure given the mounted tree, or the error that mounting gave.
pub(super) type Job = Box<dyn FnOnce(Result<&mut Mounted, &Error>) + Send>;

/// The channel to the server task, started by the first call.
static SERVER: Mutex<Option<Sender<Job>>> = Mutex::new(None);

/// Runs `work` on the server task and returns its result; the calling task blocks
/// meanwhile (other tasks run). A mount error is every call's error.
pub(super) fn call<R: Send + 'static>(
    work: impl FnOnce(&mut Mounted) -> io::Result<R> + Send + 'static,
) -> io::Result<R> {
    let (reply, result) = mpsc::channel();
    submit(Box::new(move |mounted| {
        let outcome = match mounted {
            Ok(mounted) => work(mounted),
            Err(e) => Err(e.clone()),
        };
        // The caller is blocked on `result` and cannot be gone.
        let _ = reply.send(outcome);
    }))?;
    result
        .recv()
        .map_err(|_| Error::new(ErrorKind::Other, "the file server task stopped"))?
}

/// Queues `job` for the server, starting the server first if it is not running.
pub(super) fn submit(job: Job) -> io::Result<()> {
    let Ok(mut server) = SERVER.lock();
    let sender = match &mut *server {
        Some(sender) => sender,
        None => server.insert(start()?),
    };
    sender
        .send(job)
        .map_err(|_| Error::new(ErrorKind::Other, "the file server task stopped"))
}

fn start() -> io::Result<Sender<Job>> {
    let (jobs, queue) = mpsc::channel::<Job>();
    thread::Builder::new()
        .name(String::from("fs"))
        .stack_size(SERVER_STACK)
        .spawn(move || serve(queue))
        .map_err(|e| {
            Error::new(
                ErrorKind::OutOfMemory,
                format!("starting the file server: {e}"),
            )
        })?;
    Ok(jobs)
}

fn serve(queue: Receiver<Job>) {
    let mut mounted = mount();
    while let Ok(job) = queue.recv() {
        job(mounted.as_mut().map_err(|e| &*e));
    }
}

/// Mounts the disk named by `root=`, or the first disk.
fn mount() -> io::Result<Mounted> {
    let disks = block::disks();
    let name = match (kernel::runtime::root_disk(), disks.first()) {
        (_, None) => {
            return Err(Error::new(
                ErrorKind::NotFound,
                "no disk to mount (attach one with --disk-from DIR)",
            ));
        }
        (Some(root), Some(_)) => root.to_string(),
        (None, Some(first)) => first.name.clone(),
    };
    let disk = Disk::open(&name)?;
    let fs = Ext4::load(Box::new(DiskReader { disk })).map_err(|e| {
        let e = map_error(&name, e);
        Error::new(e.kind(), format!("cannot mount {}", e.message()))
    })?;
    Ok(Mounted {
        disk: name,
        fs,
        files: BTreeMap::new(),
        next_file: 0,
    })
}

/// An open file's number in the server's table.
pub(super) type FileId = u64;

/// The mounted tree and its open files; lives only on the server task.
pub(super) struct Mounted {
    disk: String,
    fs: Ext4,
    files: BTreeMap<FileId, ext4_view::File>,
    next_file: FileId,
}

impl Mounted {
    fn error(&self, e: Ext4Error) -> Error {
        map_error(&self.disk, e)
    }

    pub(super) fn metadata(&self, path: &str, follow: bool) -> io::Result<Metadata> {
        let found = if follow {
            self.fs.metadata(path)
        } else {
            self.fs.symlink_metadata(path)
        };
        found.map(|m| metadata(&m)).map_err(|e| self.error(e))
    }

    pub(super) fn exists(&self, path: &str) -> io::Result<bool> {
        self.fs.exists(path).map_err(|e| self.error(e))
    }

    /// Every entry of the directory at `path` but `.` and `..`.
    pub(super) fn read_dir(&self, path: &str) -> io::Result<Vec<DirEntry>> {
        let mut entries = Vec::new();
        for entry in self.fs.read_dir(path).map_err(|e| self.error(e))? {
            let entry = entry.map_err(|e| self.error(e))?;
            let name = entry.file_name();
            if name == "." || name == ".." {
                continue;
            }
            let file_type = entry.file_type().map_err(|e| self.error(e))?;
            entries.push(DirEntry {
                name: String::from_utf8_lossy(name.as_ref()).into_owned(),
                path: String::from_utf8_lossy(entry.path().as_ref()).into_owned(),
                file_type: file_type_of(file_type),
            });
        }
        Ok(entries)
    }

    /// Opens the regular file at `path`; returns its number and metadata.
    pub(super) fn open(&mut self, path: &str) -> io::Result<(FileId, Metadata)> {
        let file = self.fs.open(path).map_err(|e| self.error(e))?;
        let meta = metadata(file.metadata());
        let id = self.next_file;
        self.next_file += 1;
        self.files.insert(id, file);
        Ok((id, meta))
    }

    /// Up to `len` bytes of file `id` from `offset`; fewer only at the end of the file.
    pub(super) fn read(&mut self, id: FileId, offset: u64, len: usize) -> io::Result<Vec<u8>> {
        let disk = &self.disk;
        let file = self
            .files
            .get_mut(&id)
            .ok_or_else(|| Error::new(ErrorKind::InvalidInput, "file is not open"))?;
        if file.position() != offset {
            file.seek_to(offset).map_err(|e| map_error(disk, e))?;
        }
        let wanted = file.metadata().len().saturating_sub(offset).min(len as u64) as usize;
        let mut buf = vec![0; wanted];
        let mut filled = 0;
        while filled < wanted {
            // `read_bytes` stops at each block's end.
            match file
                .read_bytes(&mut buf[filled..])
                .map_err(|e| map_error(disk, e))?
            {
                0 => break,
                n => filled += n,
            }
        }
        buf.truncate(filled);
        Ok(buf)
    }

    pub(super) fn close(&mut self, id: FileId) {
        self.files.remove(&id);
    }
}

fn metadata(m: &ext4_view::Metadata) -> Metadata {
    let modified = m.modified();
    Metadata {
        len: m.len(),
        file_type: file_type_of(m.file_type()),
        mode: m.mode(),
        modified: (modified.seconds(), modified.nanoseconds()),
    }
}

fn file_type_of(t: ext4_view::FileType) -> FileType {
    if t.is_dir() {
        FileType::DIR
    } else if t.is_regular_file() {
        FileType::FILE
    } else if t.is_symlink() {
        FileType::SYMLINK
    } else {
        FileType::OTHER
    }
}

/// The libOS error for an `ext4-view` error on `disk`: the kinds `std` would give, a
/// corrupt or unsupported file system named with its disk, disk errors as the disk gave them.
fn map_error(disk: &str, e: Ext4Error) -> Error {
    use ErrorKind::{
        InvalidData, InvalidInput, IsADirectory, NotADirectory, NotFound, OutOfMemory, Unsupported,
    };
    let (kind, message) = match e {
        Ext4Error::NotFound => (NotFound, String::from("no such file or directory")),
        // The kind says it all ("is a directory").
        Ext4Error::IsADirectory => return Error::from(IsADirectory),
        Ext4Error::NotADirectory => return Error::from(NotADirectory),
        Ext4Error::IsASpecialFile => (
            InvalidInput,
            String::from("not a regular file (a device, fifo or socket)"),
        ),
        Ext4Error::FileTooLarge => (OutOfMemory, String::from("file too large for memory")),
        Ext4Error::NotUtf8 => (InvalidData, String::from("not valid UTF-8")),
        Ext4Error::Encrypted => (Unsupported, String::from("file is encrypted")),
        Ext4Error::Io(inner) => {
            return match inner.downcast_ref::<Error>() {
                Some(e) => e.clone(),
                None => Error::new(ErrorKind::Other, format!("{disk}: {inner}")),
            };
        }
        e @ (Ext4Error::Corrupt(_) | Ext4Error::TooManySymlinks) => {
            (InvalidData, format!("{disk}: {e}"))
        }
        e @ Ext4Error::Incompatible(_) => (Unsupported, format!("{disk}: {e}")),
        // NotAbsolute, MalformedPath, PathTooLong, NotASymlink, and any the crate adds.
        e => (InvalidInput, e.to_string()),
    };
    Error::new(kind, message)
}

/// `ext4-view`'s byte-range reads over a [`Disk`], which reads whole blocks.
struct DiskReader {
    disk: Disk,
}

impl Ext4Read for DiskReader {
    fn read(
        &mut self,
        start_byte: u64,
        dst: &mut [u8],
    ) -> Result<(), Box<dyn core::error::Error + Send + Sync + 'static>> {
        let disk = &self.disk;
        let end = start_byte.checked_add(dst.len() as u64);
        if end.is_none_or(|end| end > disk.len()) {
            // The file system points outside its disk.
            return Err(Box::new(Error::new(
                ErrorKind::InvalidData,
                format!(
                    "{}: corrupt filesystem: read of {} bytes at {start_byte} is past the end of the disk ({} bytes)",
                    disk.name(),
                    dst.len(),
                    disk.len()
                ),
            )));
        }
        super::unaligned::read_bytes(disk.block_size(), start_byte, dst, |buf, at| {
            disk.read_at(buf, at)
        })
        .map_err(|e| Box::new(e) as _)
    }
}
