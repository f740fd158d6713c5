//! The initramfs format: a tree of directories, files and device nodes written as a cpio
//! "newc" archive (what Linux unpacks into its root file system at boot).

use std::collections::BTreeMap;
use std::io::Write;

/// What goes into the initramfs: paths (without a leading `/`) to entries. Parent
/// directories are added for every entry.
#[derive(Default)]
pub(super) struct Tree {
    entries: BTreeMap<String, Entry>,
}

enum Entry {
    Dir,
    File { data: Vec<u8>, mode: u32 },
    CharDevice { major: u32, minor: u32 },
}

impl Tree {
    pub(super) fn dir(&mut self, path: &str) {
        self.parents(path);
        self.entries.insert(path.to_string(), Entry::Dir);
    }

    pub(super) fn file(&mut self, path: &str, data: Vec<u8>, mode: u32) {
        self.parents(path);
        self.entries
            .insert(path.to_string(), Entry::File { data, mode });
    }

    pub(super) fn char_device(&mut self, path: &str, major: u32, minor: u32) {
        self.parents(path);
        self.entries
            .insert(path.to_string(), Entry::CharDevice { major, minor });
    }

    fn parents(&mut self, path: &str) {
        let mut at = 0;
        while let Some(slash) = path[at..].find('/') {
            let parent = &path[..at + slash];
            self.entries.entry(parent.to_string()).or_insert(Entry::Dir);
            at += slash + 1;
        }
    }

    /// Writes the tree as a cpio "newc" archive. A BTreeMap orders every directory before
    /// its contents (`a` < `a/b`).
    pub(super) fn write_cpio(&self, out: &mut impl Write) -> std::io::Result<()> {
        let mut cpio = CpioWriter::new(out);
        for (path, entry) in &self.entries {
            match entry {
                Entry::Dir => cpio.entry(path, 0o040_755, &[], (0, 0))?,
                Entry::File { data, mode } => cpio.entry(path, 0o100_000 | mode, data, (0, 0))?,
                Entry::CharDevice { major, minor } => {
                    cpio.entry(path, 0o020_600, &[], (*major, *minor))?
                }
            }
        }
        cpio.finish()
    }
}

/// A cpio "newc" (SVR4, no CRC) archive writer, the format Linux unpacks as an initramfs.
struct CpioWriter<W: Write> {
    out: W,
    next_inode: u32,
    written: u64,
}

impl<W: Write> CpioWriter<W> {
    fn new(out: W) -> Self {
        Self {
            out,
            next_inode: 1,
            written: 0,
        }
    }

    /// One entry: `mode` holds the file type bits; `rdev` is (major, minor) for devices.
    fn entry(
        &mut self,
        name: &str,
        mode: u32,
        data: &[u8],
        rdev: (u32, u32),
    ) -> std::io::Result<()> {
        let inode = self.next_inode;
        self.next_inode += 1;
        let nlink = if mode & 0o170_000 == 0o040_000 { 2 } else { 1 };
        let size = u32::try_from(data.len())
            .map_err(|_| std::io::Error::other(format!("{name}: too large for cpio")))?;
        let fields = [
            inode,
            mode,
            0,
            0,
            nlink,
            0,
            size,
            0,
            0,
            rdev.0,
            rdev.1,
            name.len() as u32 + 1,
            0,
        ];
        let mut header = String::from("070701");
        for field in fields {
            header.push_str(&format!("{field:08x}"));
        }
        self.put(header.as_bytes())?;
        self.put(name.as_bytes())?;
        self.put(&[0])?;
        self.pad()?;
        self.put(data)?;
        self.pad()
    }

    /// The trailer entry that ends the archive.
    fn finish(mut self) -> std::io::Result<()> {
        self.entry("TRAILER!!!", 0, &[], (0, 0))?;
        self.out.flush()
    }

    fn put(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.written += bytes.len() as u64;
        self.out.write_all(bytes)
    }

    /// Pads to a 4-byte boundary.
    fn pad(&mut self) -> std::io::Result<()> {
        let n = (4 - (self.written % 4) as usize) % 4;
        self.put(&[0; 3][..n])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpio_newc_layout() {
        let mut tree = Tree::default();
        tree.file("bin/sh", b"hello".to_vec(), 0o755);
        tree.char_device("dev/console", 5, 1);
        let mut out = Vec::new();
        tree.write_cpio(&mut out).unwrap();
        // Entries in order: bin, bin/sh, dev, dev/console, TRAILER!!!.
        let mut at = 0;
        let mut names = Vec::new();
        while at < out.len() {
            assert_eq!(&out[at..at + 6], b"070701", "magic at {at}");
            let field = |i: usize| {
                let s = std::str::from_utf8(&out[at + 6 + 8 * i..at + 14 + 8 * i]).unwrap();
                u32::from_str_radix(s, 16).unwrap() as usize
            };
            let (mode, size, rmajor, rminor, namesize) =
                (field(1), field(6), field(9), field(10), field(11));
            let name = std::str::from_utf8(&out[at + 110..at + 110 + namesize - 1]).unwrap();
            assert_eq!(out[at + 110 + namesize - 1], 0);
            names.push(name.to_string());
            let data_at = (at + 110 + namesize).next_multiple_of(4);
            match name {
                "bin/sh" => {
                    assert_eq!(mode, 0o100_755);
                    assert_eq!(&out[data_at..data_at + size], b"hello");
                }
                "bin" | "dev" => assert_eq!(mode, 0o040_755),
                "dev/console" => assert_eq!((mode, rmajor, rminor), (0o020_600, 5, 1)),
                _ => {}
            }
            at = (data_at + size).next_multiple_of(4);
        }
        assert_eq!(at, out.len());
        assert_eq!(names, ["bin", "bin/sh", "dev", "dev/console", "TRAILER!!!"]);
        assert_eq!(out.len() % 4, 0);
    }
}
