//! `bootloader_api` entry: the kernel inside a BIOS or UEFI disk image built by `boot/`.
//!
//! The loader maps the kernel at its link address (on frames of its choosing), its page
//! tables recursively, and its own stack, boot info and ramdisk high up. This entry translates the loader's boot info into the kernel's [`BootInfo`],
//! takes the command line from fw_cfg (run time) or the ramdisk (built in), moves to the
//! kernel's own boot stack (the loader's is not in the kernel's page tables) and joins
//! the common start code, exactly as the PVH entry does.

use super::cpu;
use crate::bootinfo::{self, BootInfo, BootProtocol, MemoryKind};
use bootloader_api::config::{BootloaderConfig, Mapping};
use bootloader_api::info::MemoryRegionKind;
use spin::Once;

/// Where the kernel keeps its direct map of RAM on this path.
pub(crate) const DIRECT_MAP_OFFSET: u64 = 0xffff_8000_0000_0000;
/// Where the loader puts the mappings it chooses (stack, boot info, ramdisk).
const LOADER_MAPPINGS: u64 = 0xffff_c000_0000_0000;
/// E820 type of ACPI tables (reclaimable).
const E820_ACPI: u32 = 3;
/// UEFI memory type EfiACPIReclaimMemory.
const EFI_ACPI_RECLAIM: u32 = 9;

const LOADER_CONFIG: BootloaderConfig = {
    let mut config = BootloaderConfig::new_default();
    // No map of all physical memory (it took the loader ~130 ms under TCG): the kernel
    // reads the loader's tables through a recursive slot and builds its own in frames
    // inside its image.
    config.mappings.page_table_recursive = Some(Mapping::Dynamic);
    config.mappings.dynamic_range_start = Some(LOADER_MAPPINGS);
    config.kernel_stack_size = 64 * 1024;
    config
};

bootloader_api::entry_point!(loader_entry, config = &LOADER_CONFIG);

static BOOT_INFO: Once<(BootInfo, Option<&'static str>)> = Once::new();

fn loader_entry(loader: &'static mut bootloader_api::BootInfo) -> ! {
    let entry_tsc = cpu::rdtsc();
    BOOT_INFO.call_once(|| translate(loader, entry_tsc));
    // SAFETY: the boot stack in .bss is mapped by the loader (it is part of the image) and
    // by the kernel's own tables later; nothing else uses it on this path.
    unsafe { cpu::run_on_stack(super::boot::boot_stack_top(), continue_on_boot_stack) }
}

extern "C" fn continue_on_boot_stack() -> ! {
    let (info, error) = BOOT_INFO.get().expect("set before the stack switch");
    crate::start::kernel_main(info, *error)
}

fn translate(
    loader: &bootloader_api::BootInfo,
    entry_tsc: u64,
) -> (BootInfo, Option<&'static str>) {
    let mut info = BootInfo::new(BootProtocol::Bootloader);
    info.entry_tsc = entry_tsc;
    info.kernel_identity = false;
    info.kernel_phys = (loader.kernel_addr, loader.kernel_addr + loader.kernel_len);
    info.rsdp = loader.rsdp_addr.into_option();
    for region in loader.memory_regions.iter() {
        let kind = match region.kind {
            MemoryRegionKind::Usable => MemoryKind::Usable,
            MemoryRegionKind::UnknownBios(E820_ACPI) => MemoryKind::AcpiReclaimable,
            MemoryRegionKind::UnknownUefi(EFI_ACPI_RECLAIM) => MemoryKind::AcpiReclaimable,
            _ => MemoryKind::Reserved,
        };
        info.push_region(region.start, region.end, kind);
    }
    info.recursive_index = loader.recursive_index.into_option();
    let error = match info.recursive_index {
        Some(_) => None,
        None => Some("the loader did not map its page tables recursively"),
    };
    info.phys_offset = DIRECT_MAP_OFFSET;

    // Command line: fw_cfg (given at run time) wins over the ramdisk (built in).
    let mut buffer = [0u8; bootinfo::MAX_CMDLINE + 1];
    if let Some(size) = super::fw_cfg::read_file(bootinfo::FW_CFG_CMDLINE, &mut buffer) {
        info.set_cmdline(&buffer[..size.min(buffer.len())]);
    } else if let Some(addr) = loader.ramdisk_addr.into_option() {
        // SAFETY: the loader mapped the ramdisk, `ramdisk_len` bytes at `addr`, and it
        // stays mapped while its tables are live; it is copied before they are replaced.
        let ramdisk =
            unsafe { core::slice::from_raw_parts(addr as *const u8, loader.ramdisk_len as usize) };
        if let Some(line) = bootinfo::cmdline_from_ramdisk(ramdisk) {
            info.set_cmdline(line);
        }
    }
    (info, error)
}
