//! Disks for a run: [`DiskSpec`] (a raw file, read-only or not, and its [`CacheMode`]),
//! its QEMU words for either machine, and the checks that turn a bad path into a clear
//! error before QEMU starts. [`super::RunConfig`] holds the list.

use super::{Machine, escape_option};
use std::ffi::OsString;
use std::os::unix::fs::FileTypeExt;
use std::path::PathBuf;

/// How QEMU caches a disk's data on the host.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CacheMode {
    /// `cache=writeback`: writes land in the host's page cache; a guest flush reaches
    /// the host disk (fdatasync). The default.
    #[default]
    Writeback,
    /// `cache=none,aio=native`: O_DIRECT with Linux AIO, no host page cache (what the
    /// benchmark measures). The file must be on a filesystem with O_DIRECT (not tmpfs).
    None,
}

impl CacheMode {
    /// The `-drive` options for this mode.
    pub fn drive_options(self) -> &'static str {
        match self {
            Self::Writeback => "cache=writeback",
            Self::None => "cache=none,aio=native",
        }
    }
}

/// One virtio-blk disk. The guest names disks `vda`, `vdb`, ... in the order of
/// [`super::RunConfig::disks`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DiskSpec {
    /// A raw disk file (or block device).
    pub path: PathBuf,
    /// Attach with `readonly=on`: the device reports itself read-only and QEMU refuses
    /// writes.
    pub read_only: bool,
    pub cache: CacheMode,
}

impl DiskSpec {
    /// A writable disk with the default cache mode.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            read_only: false,
            cache: CacheMode::default(),
        }
    }

    /// A read-only disk with the default cache mode.
    pub fn read_only(path: impl Into<PathBuf>) -> Self {
        Self {
            read_only: true,
            ..Self::new(path)
        }
    }

    /// Parses `PATH[,ro]`, the value of `--disk`.
    pub fn parse(value: &str) -> Self {
        match value.strip_suffix(",ro") {
            Some(path) => Self::read_only(path),
            None => Self::new(value),
        }
    }

    /// The `-drive` and `-device` words for this disk as the `index`th on `machine`.
    pub(super) fn qemu_args(&self, index: usize, machine: Machine) -> [OsString; 4] {
        let id = drive_id(index);
        let mut drive = OsString::from("file=");
        drive.push(escape_option(&self.path.to_string_lossy()));
        drive.push(format!(
            ",format=raw,if=none,id={id},werror=report,rerror=report,{}",
            self.cache.drive_options()
        ));
        if self.read_only {
            drive.push(",readonly=on");
        }
        let device = match machine {
            Machine::Microvm => format!("virtio-blk-device,drive={id}"),
            // Modern only: virtio-drivers' PciTransport drives modern devices only.
            Machine::Q35 => format!("virtio-blk-pci,drive={id},disable-legacy=on"),
        };
        ["-drive".into(), drive, "-device".into(), device.into()]
    }

    /// Checks what QEMU would find when it opens the disk, so that a bad path is a clear
    /// error before QEMU starts: the file exists, is a file or block device, can be read,
    /// and (unless read-only) written.
    pub fn check(&self) -> Result<(), String> {
        let shown = self.path.display();
        let meta = std::fs::metadata(&self.path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => format!("disk {shown}: no such file"),
            _ => format!("disk {shown}: {e}"),
        })?;
        if meta.is_dir() {
            return Err(format!(
                "disk {shown}: is a directory (--disk-from DIR makes a read-only ext4 image \
                 from a folder)"
            ));
        }
        let block_device = meta.file_type().is_block_device();
        if !meta.is_file() && !block_device {
            return Err(format!("disk {shown}: not a regular file or block device"));
        }
        std::fs::File::open(&self.path)
            .map_err(|e| format!("disk {shown}: cannot read it: {e}"))?;
        if !self.read_only {
            std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open(&self.path)
                .map_err(|e| {
                    format!(
                        "disk {shown}: cannot open it for writing ({e}); to attach it \
                         read-only, give `--disk {shown},ro`"
                    )
                })?;
        }
        Ok(())
    }
}

/// QEMU's drive id of the disk at `index` in [`super::RunConfig::disks`]: `vd0`, `vd1`, ... (the
/// `device` field of QMP `query-blockstats`).
pub fn drive_id(index: usize) -> String {
    format!("vd{index}")
}

/// Checks every disk, and that no file is attached twice unless both are read-only (QEMU
/// would refuse the second writable open with a lock error).
pub(super) fn check_all(disks: &[DiskSpec]) -> Result<(), String> {
    for (i, disk) in disks.iter().enumerate() {
        disk.check()?;
        let same = |other: &DiskSpec| match (other.path.canonicalize(), disk.path.canonicalize()) {
            (Ok(a), Ok(b)) => a == b,
            _ => false,
        };
        if let Some(earlier) = disks[..i].iter().find(|d| same(d))
            && !(earlier.read_only && disk.read_only)
        {
            return Err(format!(
                "disk {} is given twice; QEMU can attach a file twice only if both \
                 are read-only (,ro)",
                disk.path.display()
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::qemu::tests::TempDir;

    #[test]
    fn disk_option_parses_the_ro_suffix() {
        assert_eq!(DiskSpec::parse("x.img"), DiskSpec::new("x.img"));
        assert_eq!(DiskSpec::parse("x.img,ro"), DiskSpec::read_only("x.img"));
        assert_eq!(DiskSpec::parse("a,b.img"), DiskSpec::new("a,b.img"));
        assert_eq!(CacheMode::default(), CacheMode::Writeback);
    }

    #[track_caller]
    fn check_fails(disk: DiskSpec, needle: &str) {
        let err = disk.check().expect_err("the check must fail");
        assert!(err.contains(needle), "{err:?} lacks {needle:?}");
    }

    #[test]
    fn disks_that_qemu_cannot_open_are_refused_with_a_reason() {
        let tmp = TempDir::new("disks");
        let file = tmp.0.join("d.img");
        std::fs::write(&file, [0u8; 512]).unwrap();
        DiskSpec::new(&file).check().unwrap();
        DiskSpec::read_only(&file).check().unwrap();
        check_fails(DiskSpec::new(tmp.0.join("none.img")), "no such file");
        check_fails(
            DiskSpec::read_only(&tmp.0),
            "is a directory (--disk-from DIR",
        );
        // procfs denies these even to root: write-only, and read-only.
        check_fails(
            DiskSpec::read_only("/proc/sys/vm/drop_caches"),
            "cannot read it",
        );
        DiskSpec::read_only("/proc/sys/kernel/osrelease")
            .check()
            .unwrap();
        check_fails(
            DiskSpec::new("/proc/sys/kernel/osrelease"),
            "cannot open it for writing (Permission denied (os error 13)); to attach it \
             read-only, give `--disk /proc/sys/kernel/osrelease,ro`",
        );
    }
}
