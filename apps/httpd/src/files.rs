//! The served tree: [`Site`] answers `http1::site::Tree` lookups from `libos::fs`, or from
//! nothing when no disk is attached, and keeps small files in memory after their first read.
//!
//! The tree is a read-only file system that nothing changes while we run, so what is kept
//! never goes stale: lookups (up to [`MAX_LOOKUPS`]) and files of up to [`MAX_KEPT_FILE`]
//! bytes (up to [`MAX_KEPT_BYTES`] in all) are kept for good, the rest read each time.

use http1::site::{Entry, Tree};
use libos::alloc::collections::BTreeMap;
use libos::block;
use libos::fs;
use libos::io::{self, ErrorKind};
use libos::prelude::*;
use libos::sync::{Arc, Mutex, MutexGuard};

/// Lookups kept (a client asking for random names cannot grow the map past this).
const MAX_LOOKUPS: usize = 4096;
/// The largest file kept in memory.
const MAX_KEPT_FILE: u64 = 64 * 1024;
/// Bytes of files kept in memory in all.
const MAX_KEPT_BYTES: usize = 2 * 1024 * 1024;

pub(crate) struct Site {
    /// False: no disk is attached, every lookup is `NoTree`.
    has_tree: bool,
    kept: Mutex<Kept>,
}

#[derive(Default)]
struct Kept {
    lookups: BTreeMap<String, Entry>,
    files: BTreeMap<String, Arc<[u8]>>,
    file_bytes: usize,
}

impl Site {
    /// Mounts the tree, or finds that there is no disk to mount it from. A disk that is
    /// there but cannot be read is an error.
    pub(crate) fn open() -> io::Result<Site> {
        let has_tree = match fs::metadata("/") {
            Ok(_) => true,
            Err(e) if e.kind() == ErrorKind::NotFound && block::disks().is_empty() => false,
            Err(e) => return Err(e),
        };
        Ok(Site {
            has_tree,
            kept: Mutex::new(Kept::default()),
        })
    }

    fn kept(&self) -> MutexGuard<'_, Kept> {
        let Ok(kept) = self.kept.lock();
        kept
    }

    /// What is served, for the start-up line.
    pub(crate) fn describe(&self) -> &'static str {
        if self.has_tree {
            "the files of the root disk"
        } else {
            "the built-in page (no disk)"
        }
    }

    /// The bytes of the file at `path` if it is small enough to keep (read now, or kept
    /// from before); `None` for a larger one, to be streamed. `len` is what the lookup
    /// found: a file that reads otherwise is `InvalidData`.
    pub(crate) fn small_file(&self, path: &str, len: u64) -> io::Result<Option<Arc<[u8]>>> {
        if len > MAX_KEPT_FILE {
            return Ok(None);
        }
        if let Some(bytes) = self.kept().files.get(path) {
            return Ok(Some(bytes.clone()));
        }
        // Not under the lock: the read blocks, and other connections go on meanwhile.
        let bytes: Arc<[u8]> = fs::read(path)?.into();
        if bytes.len() as u64 != len {
            return Err(io::Error::new(
                ErrorKind::InvalidData,
                format!("{path}: {} bytes read, {len} expected", bytes.len()),
            ));
        }
        let mut kept = self.kept();
        if kept.file_bytes + bytes.len() <= MAX_KEPT_BYTES && !kept.files.contains_key(path) {
            kept.file_bytes += bytes.len();
            kept.files.insert(path.into(), bytes.clone());
        }
        Ok(Some(bytes))
    }
}

impl Tree for Site {
    fn entry(&self, path: &str) -> Entry {
        if !self.has_tree {
            return Entry::NoTree;
        }
        if let Some(entry) = self.kept().lookups.get(path) {
            return *entry;
        }
        let entry = match fs::metadata(path) {
            Ok(meta) if meta.file_type().is_file() => Entry::File { len: meta.len() },
            Ok(meta) if meta.file_type().is_dir() => Entry::Dir,
            Ok(_) => Entry::Other,
            Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory) => {
                Entry::NotFound
            }
            // Not kept: it may be a passing failure.
            Err(_) => return Entry::Failed,
        };
        let mut kept = self.kept();
        if kept.lookups.len() < MAX_LOOKUPS {
            kept.lookups.insert(path.into(), entry);
        }
        entry
    }
}
