//! Disks for a run: [`DiskSpec`] (a raw file or an NBD server's Unix socket, read-only or
//! not, and its [`CacheMode`]), its QEMU words for either machine, and the checks that turn
//! a bad path into a clear error before QEMU starts. [`super::RunConfig`] holds the list;
//! [`crate::nbd`] starts the NBD server (nbdkit) that a power-cut test serves a disk through.

use super::{Machine, escape_option};
use std::ffi::OsString;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};

/// What [`DiskSpec::path`] starts with for a disk served by an NBD server on a Unix
/// socket: QEMU's own URL for it, `nbd+unix:///?socket=SOCK`.
const NBD_UNIX_URL: &str = "nbd+unix:///?socket=";

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
    /// A raw disk file (or block device), or QEMU's URL of an NBD export on a Unix
    /// socket, `nbd+unix:///?socket=SOCK` (made by [`DiskSpec::nbd`]). QEMU's `file=`
    /// takes either, and so does this field.
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

    /// A writable disk served by the NBD server listening on the Unix socket `socket`
    /// (such as [`crate::nbd::NbdServer`]), with QEMU's client in `cache=writeback` mode:
    /// in writethrough mode QEMU would follow every write with a flush, and a power cut
    /// could then never lose a write the guest did not flush.
    pub fn nbd(socket: impl AsRef<Path>) -> Self {
        let mut path = OsString::from(NBD_UNIX_URL);
        path.push(socket.as_ref());
        Self::new(path)
    }

    /// The NBD server's socket if this disk is one ([`DiskSpec::nbd`]).
    pub fn nbd_socket(&self) -> Option<&Path> {
        self.path
            .to_str()?
            .strip_prefix(NBD_UNIX_URL)
            .map(Path::new)
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
    /// and (unless read-only) written; for an NBD disk, that its server's socket is there.
    pub fn check(&self) -> Result<(), String> {
        if let Some(socket) = self.nbd_socket() {
            return self.check_nbd(socket);
        }
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

    /// Checks an NBD disk: its socket is there and is a socket, its path fits in QEMU's
    /// URL as it is, and the client caches writes (see [`DiskSpec::nbd`]).
    fn check_nbd(&self, socket: &Path) -> Result<(), String> {
        let shown = socket.display();
        let plain = |b: &u8| b.is_ascii_alphanumeric() || b"/._-+".contains(b);
        if !socket.as_os_str().as_encoded_bytes().iter().all(plain) {
            return Err(format!(
                "NBD socket {shown}: use a path of letters, digits and /._-+ only (it goes \
                 into QEMU's nbd+unix URL unescaped)"
            ));
        }
        if self.cache != CacheMode::Writeback {
            return Err(format!(
                "NBD socket {shown}: an NBD disk needs cache=writeback on QEMU's side"
            ));
        }
        let meta = std::fs::metadata(socket).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => {
                format!("NBD socket {shown}: no such file (is the NBD server running?)")
            }
            _ => format!("NBD socket {shown}: {e}"),
        })?;
        if !meta.file_type().is_socket() {
            return Err(format!("NBD socket {shown}: not a Unix socket"));
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

    #[test]
    fn an_nbd_disk_is_a_writeback_client_of_the_unix_socket() {
        let disk = DiskSpec::nbd("/tmp/x/nbd.sock");
        assert_eq!(disk.nbd_socket(), Some(Path::new("/tmp/x/nbd.sock")));
        assert_eq!(DiskSpec::new("/tmp/d.img").nbd_socket(), None);
        let [drive, opt, device, dev] = disk.qemu_args(0, Machine::Microvm);
        assert_eq!(drive, "-drive");
        assert_eq!(
            opt,
            "file=nbd+unix:///?socket=/tmp/x/nbd.sock,format=raw,if=none,id=vd0,\
             werror=report,rerror=report,cache=writeback"
        );
        assert_eq!(device, "-device");
        assert_eq!(dev, "virtio-blk-device,drive=vd0");
        let [_, opt, _, dev] = DiskSpec {
            read_only: true,
            ..DiskSpec::nbd("/s")
        }
        .qemu_args(2, Machine::Q35);
        assert_eq!(
            opt,
            "file=nbd+unix:///?socket=/s,format=raw,if=none,id=vd2,werror=report,\
             rerror=report,cache=writeback,readonly=on"
        );
        assert_eq!(dev, "virtio-blk-pci,drive=vd2,disable-legacy=on");
        // `--disk URL,ro` reads the same way as a file's.
        assert_eq!(
            DiskSpec::parse("nbd+unix:///?socket=/s,ro").nbd_socket(),
            Some(Path::new("/s"))
        );
    }

    #[test]
    fn an_nbd_disk_needs_its_socket_and_no_file() {
        let tmp = TempDir::new("nbd-disks");
        let socket = tmp.0.join("nbd.sock");
        check_fails(DiskSpec::nbd(&socket), "(is the NBD server running?)");
        let _listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
        DiskSpec::nbd(&socket).check().unwrap();
        check_all(&[DiskSpec::nbd(&socket), DiskSpec::nbd(&socket)]).unwrap();
        check_fails(
            DiskSpec {
                cache: CacheMode::None,
                ..DiskSpec::nbd(&socket)
            },
            "an NBD disk needs cache=writeback",
        );
        let file = tmp.0.join("d.img");
        std::fs::write(&file, [0u8; 512]).unwrap();
        check_fails(DiskSpec::nbd(&file), "not a Unix socket");
        check_fails(
            DiskSpec::nbd("/tmp/a,b.sock"),
            "letters, digits and /._-+ only",
        );
        check_fails(
            DiskSpec::nbd("/tmp/a&b.sock"),
            "letters, digits and /._-+ only",
        );
    }
}
