//! What the kernel needs to know from whoever booted it, independent of the boot protocol.
//!
//! Each boot path (PVH in `arch::x86_64::pvh`, `bootloader_api` next) translates its own
//! structures into a [`BootInfo`] and hands it to the common start code. Nothing here
//! allocates: a `BootInfo` is built before the heap exists.

use alloc::vec::Vec;
use core::fmt;

/// Most memory-map entries kept; firmware maps here have a handful.
pub const MAX_REGIONS: usize = 64;
/// Longest kernel command line kept, in bytes.
pub const MAX_CMDLINE: usize = 2048;

/// First bytes of the ramdisk that carries a disk image's built-in command line (written by
/// `boot`); the command line follows.
pub const CMDLINE_RAMDISK_MAGIC: &[u8] = b"UNIKERNEL-CMDLINE\n";

/// QEMU fw_cfg file that overrides a disk image's built-in command line at run time
/// (`-fw_cfg name=opt/unikernel/cmdline,string=...`).
pub const FW_CFG_CMDLINE: &str = "opt/unikernel/cmdline";

/// The command line inside a ramdisk written by `boot`, or `None` if it is not one.
pub fn cmdline_from_ramdisk(ramdisk: &[u8]) -> Option<&[u8]> {
    ramdisk.strip_prefix(CMDLINE_RAMDISK_MAGIC)
}

/// The ramdisk `boot` packs into a disk image to carry `cmdline`.
pub fn cmdline_ramdisk(cmdline: &str) -> Vec<u8> {
    [CMDLINE_RAMDISK_MAGIC, cmdline.as_bytes()].concat()
}

/// What a physical memory region holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemoryKind {
    /// Free RAM the kernel may use.
    Usable,
    /// ACPI tables; usable once parsed.
    AcpiReclaimable,
    /// Anything else: firmware, MMIO holes, bad memory.
    Reserved,
}

/// A physical address range `[start, end)` and what it holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemoryRegion {
    pub start: u64,
    pub end: u64,
    pub kind: MemoryKind,
}

/// Which protocol started the kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BootProtocol {
    /// Xen PVH direct boot (QEMU `-kernel`).
    Pvh,
    /// `bootloader_api` BIOS or UEFI disk image.
    Bootloader,
}

/// Boot facts in the kernel's own terms.
#[derive(Clone)]
pub struct BootInfo {
    pub protocol: BootProtocol,
    regions: [MemoryRegion; MAX_REGIONS],
    region_count: usize,
    /// Regions the boot protocol reported beyond [`MAX_REGIONS`] (ignored).
    pub regions_dropped: usize,
    cmdline: [u8; MAX_CMDLINE],
    cmdline_len: usize,
    /// True if the command line was cut to [`MAX_CMDLINE`] bytes.
    pub cmdline_truncated: bool,
    /// Physical range the kernel image occupies (reserved from the frame allocator).
    pub kernel_phys: (u64, u64),
    /// True if the kernel image runs at virtual = physical addresses (PVH). Otherwise the
    /// loader mapped it elsewhere and the live page tables say where each page is.
    pub kernel_identity: bool,
    /// Where the boot protocol's page tables map all physical memory (`virt = phys +
    /// offset`): 0 for PVH (first GiB identity-mapped), the configured offset for
    /// `bootloader_api`. The kernel keeps its own direct map at the same offset.
    pub phys_offset: u64,
    /// PML4 slot through which the boot protocol's tables map themselves, if they do
    /// (`bootloader_api`); the kernel then reads them through it instead of a physical map.
    pub recursive_index: Option<u16>,
    /// Physical address of the ACPI RSDP, if the boot protocol gave one.
    pub rsdp: Option<u64>,
    /// Time-stamp counter at the first instruction of the kernel.
    pub entry_tsc: u64,
}

impl BootInfo {
    pub const fn new(protocol: BootProtocol) -> Self {
        Self {
            protocol,
            regions: [MemoryRegion {
                start: 0,
                end: 0,
                kind: MemoryKind::Reserved,
            }; MAX_REGIONS],
            region_count: 0,
            regions_dropped: 0,
            cmdline: [0; MAX_CMDLINE],
            cmdline_len: 0,
            cmdline_truncated: false,
            kernel_phys: (0, 0),
            kernel_identity: true,
            phys_offset: 0,
            recursive_index: None,
            rsdp: None,
            entry_tsc: 0,
        }
    }

    /// Records a memory region; empty regions are skipped, one that continues the previous
    /// region of the same kind extends it (UEFI maps come in many small pieces), overflow
    /// is counted.
    pub fn push_region(&mut self, start: u64, end: u64, kind: MemoryKind) {
        if end <= start {
            return;
        }
        if let Some(last) = self.regions[..self.region_count].last_mut()
            && last.kind == kind
            && last.end == start
        {
            last.end = end;
            return;
        }
        if self.region_count == MAX_REGIONS {
            self.regions_dropped += 1;
            return;
        }
        self.regions[self.region_count] = MemoryRegion { start, end, kind };
        self.region_count += 1;
    }

    pub fn regions(&self) -> &[MemoryRegion] {
        &self.regions[..self.region_count]
    }

    /// Copies the command line, cutting it at [`MAX_CMDLINE`] bytes or at a NUL.
    pub fn set_cmdline(&mut self, bytes: &[u8]) {
        let bytes = bytes.split(|&b| b == 0).next().unwrap_or(&[]);
        let len = bytes.len().min(MAX_CMDLINE);
        self.cmdline[..len].copy_from_slice(&bytes[..len]);
        self.cmdline_len = len;
        self.cmdline_truncated = bytes.len() > MAX_CMDLINE;
    }

    /// The command line; bytes that are not UTF-8 make it an error for the caller to report.
    pub fn cmdline(&self) -> Result<&str, core::str::Utf8Error> {
        core::str::from_utf8(&self.cmdline[..self.cmdline_len])
    }

    /// Total bytes of usable RAM.
    pub fn usable_bytes(&self) -> u64 {
        self.regions()
            .iter()
            .filter(|r| r.kind == MemoryKind::Usable)
            .map(|r| r.end - r.start)
            .sum()
    }
}

impl fmt::Debug for BootInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BootInfo")
            .field("protocol", &self.protocol)
            .field("regions", &self.regions())
            .field("cmdline", &self.cmdline())
            .field("kernel_phys", &self.kernel_phys)
            .field("rsdp", &self.rsdp)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cmdline_stops_at_nul_and_limit() {
        let mut info = BootInfo::new(BootProtocol::Pvh);
        info.set_cmdline(b"log=debug\0garbage");
        assert_eq!(info.cmdline(), Ok("log=debug"));
        let long = [b'a'; MAX_CMDLINE + 10];
        info.set_cmdline(&long);
        assert!(info.cmdline_truncated);
        assert_eq!(info.cmdline().unwrap().len(), MAX_CMDLINE);
    }

    #[test]
    fn cmdline_ramdisk_round_trip() {
        let disk = cmdline_ramdisk("log=info -- a \"b c\"");
        assert_eq!(
            cmdline_from_ramdisk(&disk),
            Some(&b"log=info -- a \"b c\""[..])
        );
        assert_eq!(cmdline_from_ramdisk(b"something else"), None);
        assert_eq!(cmdline_from_ramdisk(&cmdline_ramdisk("")), Some(&b""[..]));
    }

    #[test]
    fn adjacent_regions_of_one_kind_merge() {
        let mut info = BootInfo::new(BootProtocol::Bootloader);
        info.push_region(0x1000, 0x2000, MemoryKind::Usable);
        info.push_region(0x2000, 0x5000, MemoryKind::Usable);
        info.push_region(0x5000, 0x6000, MemoryKind::Reserved);
        info.push_region(0x7000, 0x8000, MemoryKind::Reserved);
        assert_eq!(info.regions().len(), 3);
        assert_eq!(
            (info.regions()[0].start, info.regions()[0].end),
            (0x1000, 0x5000)
        );
    }

    #[test]
    fn regions_overflow_is_counted() {
        let mut info = BootInfo::new(BootProtocol::Pvh);
        for i in 0..(MAX_REGIONS as u64 + 3) {
            info.push_region(i * 0x2000, i * 0x2000 + 0x1000, MemoryKind::Usable);
        }
        info.push_region(5, 5, MemoryKind::Usable);
        assert_eq!(info.regions().len(), MAX_REGIONS);
        assert_eq!(info.regions_dropped, 3);
        assert_eq!(info.usable_bytes(), MAX_REGIONS as u64 * 0x1000);
    }
}
