//! Translates Xen PVH `hvm_start_info` into the kernel's [`BootInfo`].

use super::boot::ENTRY_TSC;
use crate::bootinfo::{BootInfo, BootProtocol, MemoryKind};
use core::sync::atomic::Ordering;

const START_INFO_MAGIC: u32 = 0x336e_c578;
const E820_RAM: u32 = 1;
const E820_ACPI: u32 = 3;

/// `struct hvm_start_info` from Xen's `arch-x86/hvm/start_info.h`.
#[repr(C)]
struct StartInfo {
    magic: u32,
    version: u32,
    flags: u32,
    nr_modules: u32,
    modlist_paddr: u64,
    cmdline_paddr: u64,
    rsdp_paddr: u64,
    memmap_paddr: u64,
    memmap_entries: u32,
    reserved: u32,
}

/// `struct hvm_memmap_table_entry`.
#[repr(C)]
struct MemmapEntry {
    addr: u64,
    size: u64,
    kind: u32,
    reserved: u32,
}

unsafe extern "C" {
    static __kernel_start: u8;
    static __kernel_end: u8;
}

/// Rust entry from the PVH boot code, on the boot stack with the first GiB identity-mapped.
pub(super) extern "C" fn pvh_entry(start_info: u64) -> ! {
    let (info, error) = BOOT_INFO.call_once(|| {
        let mut info = BootInfo::new(BootProtocol::Pvh);
        info.entry_tsc = ENTRY_TSC.load(Ordering::Relaxed);
        info.kernel_phys = (
            core::ptr::addr_of!(__kernel_start) as u64,
            core::ptr::addr_of!(__kernel_end) as u64,
        );
        // SAFETY: the PVH protocol passes a valid `hvm_start_info` in low memory, which the
        // boot page tables identity-map; it is only read here, before anything overwrites it.
        let valid = unsafe { read_start_info(start_info, &mut info) };
        (info, valid.err())
    });
    crate::start::kernel_main(info, *error)
}

/// The boot facts, kept for the life of the kernel (command-line options borrow from it).
static BOOT_INFO: spin::Once<(BootInfo, Option<&'static str>)> = spin::Once::new();

/// Fills `info` from the start-info block at `addr`.
///
/// # Safety
/// `addr` and every address inside the block must be readable, identity-mapped memory.
unsafe fn read_start_info(addr: u64, info: &mut BootInfo) -> Result<(), &'static str> {
    if addr == 0 {
        return Err("no hvm_start_info passed in %ebx");
    }
    if !boot_mapped(addr, size_of::<StartInfo>() as u64) {
        return Err("hvm_start_info lies above the boot-mapped first GiB");
    }
    // SAFETY: the caller guarantees `addr` is readable; the struct has no invalid values;
    // the read tolerates any alignment.
    let start = unsafe { (addr as *const StartInfo).read_unaligned() };
    if start.magic != START_INFO_MAGIC {
        return Err("hvm_start_info has a bad magic number");
    }
    if start.cmdline_paddr != 0 {
        if !boot_mapped(start.cmdline_paddr, crate::bootinfo::MAX_CMDLINE as u64 + 1) {
            return Err("the command line lies above the boot-mapped first GiB");
        }
        // SAFETY: the command line is a NUL-terminated string in guest memory.
        let bytes = unsafe { c_string(start.cmdline_paddr, crate::bootinfo::MAX_CMDLINE + 1) };
        info.set_cmdline(bytes);
    }
    if start.rsdp_paddr != 0 {
        info.rsdp = Some(start.rsdp_paddr);
    }
    if start.version < 1 || start.memmap_paddr == 0 {
        return Err("hvm_start_info has no memory map (version 0)");
    }
    let map_bytes = u64::from(start.memmap_entries) * size_of::<MemmapEntry>() as u64;
    if !boot_mapped(start.memmap_paddr, map_bytes) {
        return Err("the memory map lies above the boot-mapped first GiB");
    }
    for i in 0..start.memmap_entries as usize {
        // SAFETY: the map holds `memmap_entries` entries at `memmap_paddr`.
        let entry = unsafe {
            (start.memmap_paddr as *const MemmapEntry)
                .add(i)
                .read_unaligned()
        };
        let kind = match entry.kind {
            E820_RAM => MemoryKind::Usable,
            E820_ACPI => MemoryKind::AcpiReclaimable,
            _ => MemoryKind::Reserved,
        };
        info.push_region(entry.addr, entry.addr.saturating_add(entry.size), kind);
    }
    Ok(())
}

/// True if `[addr, addr + len)` lies in the first GiB, which the boot tables map.
fn boot_mapped(addr: u64, len: u64) -> bool {
    addr.checked_add(len).is_some_and(|end| end <= 1 << 30)
}

/// The bytes of the NUL-terminated string at `addr`, at most `max` long.
///
/// # Safety
/// Memory from `addr` up to the NUL (or `max` bytes) must be readable.
unsafe fn c_string(addr: u64, max: usize) -> &'static [u8] {
    let base = addr as *const u8;
    let mut len = 0;
    // SAFETY: reads stay within the string as the caller guarantees.
    while len < max && unsafe { base.add(len).read() } != 0 {
        len += 1;
    }
    // SAFETY: the `len` bytes just read are valid and nothing writes them during boot.
    unsafe { core::slice::from_raw_parts(base, len) }
}
