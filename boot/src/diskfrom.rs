//! `--disk-from DIR`: a read-only ext4 image of a host folder, made with `mke2fs -d`
//! (e2fsprogs) and cached under `target/disks/` by a hash of the folder's contents.
//!
//! [`ext4_image_from_dir`] is the entry point, for `scripts/qemu-run.sh` (through
//! `src/main.rs`) and for tests; [`crate::qemu::DiskSpec`] attaches the result.

use std::collections::hash_map::DefaultHasher;
use std::hash::Hasher;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};

/// Block size of the images (and the unit of the size estimate).
const BLOCK: u64 = 4096;
/// Smallest image: a few MiB, so that an empty folder still makes a valid filesystem.
const MIN_IMAGE: u64 = 4 * 1024 * 1024;
/// How the image is made; part of the cache key, so a change here rebuilds every image.
/// No journal and no room to grow: the image is attached read-only.
const MKE2FS_OPTIONS: &[&str] = &[
    "-q",
    "-F",
    "-t",
    "ext4",
    "-b",
    "4096",
    "-I",
    "256",
    "-m",
    "0",
    "-O",
    "^has_journal,^resize_inode",
    "-E",
    "root_owner=0:0",
];
/// Attempts with a doubled size when the estimate was short.
const ATTEMPTS: u32 = 4;

/// A read-only ext4 image holding the tree under `dir`: its files, folders and symlinks
/// with their permission bits. Returns the cached image when the tree's paths, modes,
/// sizes and bytes are unchanged (timestamps and owners are not compared; the image keeps
/// those of its first build); otherwise builds one with `mke2fs -d`, sized to fit, and
/// renames it into place (a QEMU that is reading an older image keeps a whole file).
pub fn ext4_image_from_dir(dir: &Path) -> Result<PathBuf, String> {
    let cache = crate::image::workspace_root().join("target").join("disks");
    image_in(dir, &cache, &find_mke2fs()?)
}

/// Where `mke2fs` is: on `PATH`, or in `/sbin` or `/usr/sbin` (not on a user's `PATH`
/// everywhere).
pub(crate) fn find_mke2fs() -> Result<PathBuf, String> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/sbin".into()])
        .map(|dir| dir.join("mke2fs"))
        .find(|p| p.is_file())
        .ok_or_else(|| missing_mke2fs(Path::new("mke2fs")))
}

fn missing_mke2fs(program: &Path) -> String {
    format!(
        "{} not found: --disk-from needs e2fsprogs; run `apt-get install -y e2fsprogs` \
         (scripts/qemu-run.sh does this when run as root)",
        program.display()
    )
}

/// [`ext4_image_from_dir`] with the cache folder and the `mke2fs` program given.
fn image_in(dir: &Path, cache: &Path, mke2fs: &Path) -> Result<PathBuf, String> {
    let meta = std::fs::metadata(dir).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => format!("--disk-from {}: no such folder", dir.display()),
        _ => format!("--disk-from {}: {e}", dir.display()),
    })?;
    if !meta.is_dir() {
        return Err(format!("--disk-from {}: not a folder", dir.display()));
    }
    let tree = Tree::scan(dir)?;
    let out = cache.join(format!("{}.ext4", tree.key()));
    if out.is_file() {
        return Ok(out);
    }
    std::fs::create_dir_all(cache)
        .map_err(|e| format!("cannot create {}: {e}", cache.display()))?;
    build(dir, &tree, &out, mke2fs)?;
    Ok(out)
}

/// Builds the image at a temporary name next to `out`, then renames it.
fn build(dir: &Path, tree: &Tree, out: &Path, mke2fs: &Path) -> Result<(), String> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let tmp = out.with_extension(format!(
        "tmp{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let mut size = tree.image_size();
    let mut last_error = String::new();
    for _ in 0..ATTEMPTS {
        match mke2fs_once(dir, tree, &tmp, size, mke2fs) {
            Ok(()) => {
                return std::fs::rename(&tmp, out).map_err(|e| {
                    let _ = std::fs::remove_file(&tmp);
                    format!("cannot rename {} to {}: {e}", tmp.display(), out.display())
                });
            }
            Err(Mke2fsError::Fatal(e)) => {
                let _ = std::fs::remove_file(&tmp);
                return Err(e);
            }
            // Most likely out of space: the estimate was short.
            Err(Mke2fsError::Failed(e)) => last_error = e,
        }
        size *= 2;
    }
    let _ = std::fs::remove_file(&tmp);
    Err(format!(
        "--disk-from {}: mke2fs failed {ATTEMPTS} times, last with {} MiB:\n{last_error}",
        dir.display(),
        size / 2 / (1024 * 1024)
    ))
}

enum Mke2fsError {
    /// mke2fs could not be run, or the file not made: no point in trying again.
    Fatal(String),
    /// mke2fs ran and failed (with its message).
    Failed(String),
}

fn mke2fs_once(
    dir: &Path,
    tree: &Tree,
    file: &Path,
    size: u64,
    mke2fs: &Path,
) -> Result<(), Mke2fsError> {
    let fatal = |e: String| Mke2fsError::Fatal(e);
    let image = std::fs::File::create(file)
        .map_err(|e| fatal(format!("cannot create {}: {e}", file.display())))?;
    image
        .set_len(size)
        .map_err(|e| fatal(format!("cannot size {}: {e}", file.display())))?;
    drop(image);
    let output = Command::new(mke2fs)
        .args(MKE2FS_OPTIONS)
        .arg("-N")
        .arg(tree.inodes().to_string())
        .arg("-d")
        .arg(dir)
        .arg(file)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => fatal(missing_mke2fs(mke2fs)),
            _ => fatal(format!("cannot run {}: {e}", mke2fs.display())),
        })?;
    if output.status.success() {
        return Ok(());
    }
    Err(Mke2fsError::Failed(format!(
        "{} ({}): {}{}",
        mke2fs.display(),
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )))
}

/// What a scan of the folder found: the content hash and what the image must hold.
#[derive(Debug)]
struct Tree {
    /// Two SipHash states fed the same stream with different prefixes: a 128-bit key.
    hash: [u64; 2],
    /// Entries below the root (files, folders, links, others).
    entries: u64,
    /// Data blocks the entries need (files, folders, long symlinks), rounded per entry.
    blocks: u64,
}

impl Tree {
    fn scan(dir: &Path) -> Result<Self, String> {
        let mut hashers = [DefaultHasher::new(), DefaultHasher::new()];
        for (i, h) in hashers.iter_mut().enumerate() {
            h.write_u64(i as u64);
            for option in MKE2FS_OPTIONS {
                write_bytes(h, option.as_bytes());
            }
        }
        let mut tree = Self {
            hash: [0; 2],
            entries: 0,
            blocks: 1,
        };
        let mut feed = |bytes: &[u8]| hashers.iter_mut().for_each(|h| write_bytes(h, bytes));
        tree.walk(dir, Path::new(""), &mut feed)?;
        tree.hash = hashers.map(|h| h.finish());
        Ok(tree)
    }

    /// Feeds each entry under `dir` (sorted by name) to `feed`: its path relative to the
    /// root, type, permission bits, size, and bytes (files) or target (symlinks).
    fn walk(&mut self, dir: &Path, rel: &Path, feed: &mut impl FnMut(&[u8])) -> Result<(), String> {
        let unreadable =
            |p: &Path, e: std::io::Error| format!("--disk-from: cannot read {}: {e}", p.display());
        let mut names: Vec<_> = std::fs::read_dir(dir)
            .map_err(|e| unreadable(dir, e))?
            .map(|entry| entry.map(|e| e.file_name()))
            .collect::<Result<_, _>>()
            .map_err(|e| unreadable(dir, e))?;
        names.sort();
        // A directory block holds about 4096 / (8 + name) entries.
        let listing: u64 = names.iter().map(|n| 8 + n.len() as u64 + 4).sum();
        self.blocks += listing.div_ceil(BLOCK).max(1);
        for name in names {
            let path = dir.join(&name);
            let rel = rel.join(&name);
            let meta = std::fs::symlink_metadata(&path).map_err(|e| unreadable(&path, e))?;
            let kind = meta.file_type();
            self.entries += 1;
            feed(rel.as_os_str().as_bytes());
            feed(&meta.mode().to_le_bytes());
            if kind.is_dir() {
                self.walk(&path, &rel, feed)?;
            } else if kind.is_file() {
                feed(&meta.len().to_le_bytes());
                // Extent tree blocks: one per ~340 extents; count one per 32 MiB to spare.
                self.blocks += meta.len().div_ceil(BLOCK) + meta.len() / (32 << 20);
                hash_file(&path, feed).map_err(|e| unreadable(&path, e))?;
            } else if kind.is_symlink() {
                let target = std::fs::read_link(&path).map_err(|e| unreadable(&path, e))?;
                feed(target.as_os_str().as_bytes());
                // Targets under 60 bytes live in the inode.
                self.blocks += u64::from(target.as_os_str().len() >= 60);
            } else if kind.is_block_device() || kind.is_char_device() {
                feed(&meta.rdev().to_le_bytes());
            }
        }
        Ok(())
    }

    /// The cache key: the hash in hex.
    fn key(&self) -> String {
        format!("{:016x}{:016x}", self.hash[0], self.hash[1])
    }

    /// Inodes to make: the entries, the 11 that ext4 reserves, and some slack.
    fn inodes(&self) -> u64 {
        (self.entries + 11 + 16).next_multiple_of(64)
    }

    /// Bytes for the image: the data blocks and inode tables plus an eighth, plus 1 MiB
    /// for the superblock, group descriptors and bitmaps; at least [`MIN_IMAGE`], in
    /// whole MiB.
    fn image_size(&self) -> u64 {
        let inode_blocks = (self.inodes() * 256).div_ceil(BLOCK);
        let blocks = self.blocks + inode_blocks;
        let bytes = blocks * BLOCK + blocks * BLOCK / 8 + (1 << 20);
        bytes.next_multiple_of(1 << 20).max(MIN_IMAGE)
    }
}

/// Feeds a length-prefixed byte string, so that the stream parses one way only.
fn write_bytes(h: &mut DefaultHasher, bytes: &[u8]) {
    h.write_u64(bytes.len() as u64);
    h.write(bytes);
}

/// Feeds the file's bytes in chunks, then the count read (a file that changes while it
/// is read cannot pass for its old self).
fn hash_file(path: &Path, feed: &mut impl FnMut(&[u8])) -> std::io::Result<()> {
    use std::io::Read;
    let mut file = std::fs::File::open(path)?;
    let mut buf = vec![0u8; 1 << 16];
    let mut total = 0u64;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        total += n as u64;
        feed(&buf[..n]);
    }
    feed(&total.to_le_bytes());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    pub(crate) use crate::testutil::TempDir;

    fn key(dir: &Path) -> String {
        Tree::scan(dir).unwrap().key()
    }

    fn sample_tree(root: &Path) {
        std::fs::create_dir_all(root.join("a/b/c")).unwrap();
        std::fs::write(root.join("index.html"), "hi\n").unwrap();
        std::fs::write(root.join("a/b/c/deep.txt"), "deep\n").unwrap();
        std::os::unix::fs::symlink("a/b/c/deep.txt", root.join("link")).unwrap();
        // Over 1 MiB, not all zero.
        let big: Vec<u8> = (0..1_300_000u32).map(|i| (i * 7 % 251) as u8).collect();
        std::fs::write(root.join("a/big.bin"), big).unwrap();
    }

    #[test]
    fn hash_follows_paths_modes_sizes_and_bytes() {
        let tmp = TempDir::new("hash");
        let root = tmp.0.join("site");
        sample_tree(&root);
        let first = key(&root);
        assert_eq!(first.len(), 32);
        assert_eq!(key(&root), first, "same tree, same key");

        // Same size, one byte different.
        std::fs::write(root.join("index.html"), "ho\n").unwrap();
        let bytes = key(&root);
        assert_ne!(bytes, first);
        std::fs::write(root.join("index.html"), "hi\n").unwrap();
        assert_eq!(
            key(&root),
            first,
            "back to the old bytes, back to the old key"
        );

        let deep = root.join("a/b/c/deep.txt");
        std::fs::set_permissions(&deep, std::fs::Permissions::from_mode(0o600)).unwrap();
        let mode = key(&root);
        assert_ne!(mode, first);
        std::fs::set_permissions(&deep, std::fs::Permissions::from_mode(0o644)).unwrap();

        std::fs::rename(&deep, root.join("a/b/c/deeper.txt")).unwrap();
        assert_ne!(key(&root), first, "renamed");
        std::fs::rename(root.join("a/b/c/deeper.txt"), &deep).unwrap();

        std::fs::create_dir(root.join("empty")).unwrap();
        assert_ne!(key(&root), first, "a new empty folder");
        std::fs::remove_dir(root.join("empty")).unwrap();

        std::fs::write(root.join("index.html"), "hi\n\n").unwrap();
        assert_ne!(key(&root), first, "grown");
    }

    fn debugfs(image: &Path, request: &str) -> String {
        let out = Command::new("debugfs")
            .args(["-R", request])
            .arg(image)
            .output()
            .expect("debugfs (e2fsprogs) runs");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    #[test]
    fn image_builds_holds_the_tree_and_is_reused_until_the_tree_changes() {
        let tmp = TempDir::new("build");
        let root = tmp.0.join("site");
        let cache = tmp.0.join("cache");
        sample_tree(&root);
        let mke2fs = find_mke2fs().expect("e2fsprogs is installed by the scripts");
        let image = image_in(&root, &cache, &mke2fs).unwrap();
        let bytes = std::fs::read(&image).unwrap();
        assert_eq!(&bytes[1080..1082], &[0x53, 0xef], "ext4 superblock magic");
        assert!(bytes.len() as u64 >= MIN_IMAGE);
        assert_eq!(debugfs(&image, "cat /index.html"), "hi\n");
        assert_eq!(debugfs(&image, "cat /a/b/c/deep.txt"), "deep\n");
        assert!(debugfs(&image, "stat /link").contains("Fast link dest: \"a/b/c/deep.txt\""));
        let big = Command::new("debugfs")
            .args(["-R", "cat /a/big.bin"])
            .arg(&image)
            .output()
            .unwrap()
            .stdout;
        assert_eq!(big, std::fs::read(root.join("a/big.bin")).unwrap());

        // A hit returns the same file untouched.
        let inode = std::fs::metadata(&image).unwrap().ino();
        assert_eq!(image_in(&root, &cache, &mke2fs).unwrap(), image);
        assert_eq!(std::fs::metadata(&image).unwrap().ino(), inode);

        std::fs::write(root.join("index.html"), "changed\n").unwrap();
        let changed = image_in(&root, &cache, &mke2fs).unwrap();
        assert_ne!(changed, image);
        assert_eq!(debugfs(&changed, "cat /index.html"), "changed\n");
        let leftovers: Vec<_> = std::fs::read_dir(&cache)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .filter(|n| !n.to_string_lossy().ends_with(".ext4"))
            .collect();
        assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
    }

    #[test]
    fn many_small_files_fit_on_the_first_estimate() {
        let tmp = TempDir::new("many");
        let root = tmp.0.join("many");
        for d in 0..20 {
            let dir = root.join(format!("dir-with-a-longish-name-{d}"));
            std::fs::create_dir_all(&dir).unwrap();
            for f in 0..100 {
                std::fs::write(dir.join(format!("file-{f}.txt")), format!("{d}/{f}")).unwrap();
            }
        }
        let tree = Tree::scan(&root).unwrap();
        assert_eq!(tree.entries, 20 * 101);
        let file = tmp.0.join("many.ext4");
        let mke2fs = find_mke2fs().unwrap();
        assert!(
            mke2fs_once(&root, &tree, &file, tree.image_size(), &mke2fs).is_ok(),
            "{} MiB was too small",
            tree.image_size() >> 20
        );
        assert_eq!(
            debugfs(&file, "cat /dir-with-a-longish-name-19/file-99.txt"),
            "19/99"
        );
    }

    #[test]
    fn missing_folder_or_mke2fs_is_a_clear_error() {
        let tmp = TempDir::new("errors");
        let mke2fs = find_mke2fs().unwrap();
        let err = image_in(&tmp.0.join("nope"), &tmp.0, &mke2fs).unwrap_err();
        assert!(err.ends_with("nope: no such folder"), "{err}");
        std::fs::write(tmp.0.join("file"), "x").unwrap();
        let err = image_in(&tmp.0.join("file"), &tmp.0, &mke2fs).unwrap_err();
        assert!(err.ends_with("file: not a folder"), "{err}");

        std::fs::create_dir(tmp.0.join("site")).unwrap();
        let err = image_in(
            &tmp.0.join("site"),
            &tmp.0.join("cache"),
            Path::new("/no/mke2fs"),
        )
        .unwrap_err();
        assert_eq!(
            err,
            "/no/mke2fs not found: --disk-from needs e2fsprogs; run `apt-get install -y \
             e2fsprogs` (scripts/qemu-run.sh does this when run as root)"
        );
    }
}
