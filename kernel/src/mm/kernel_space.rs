//! Builds and owns the kernel's address space: frames, page tables, stacks, heap.
//!
//! Layout (single address space, identity-mapped for the PVH path, `phys_offset` 0):
//! nothing below 1 MiB (null pointers fault); the kernel image at its link address with
//! text RX, rodata R, data/bss RW+NX; all other usable RAM RW+NX; devices uncached on
//! demand. Guard pages are holes punched into that map.

use super::frame::{FrameAllocator, FrameError, PAGE_SIZE};
use super::paging::{Access, MapError, PageTables};
use super::stack::{self, GuardInfo};
use crate::bootinfo::{BootInfo, MemoryKind};
use core::fmt;
use spin::Mutex;

/// Memory below this is never used or mapped.
const LOW_MEMORY_END: u64 = 1 << 20;
/// Frames kept free after the default heap, for stacks and page tables made later.
const DEFAULT_RESERVE: u64 = 256 * 1024;
/// The smallest heap the kernel accepts.
pub(crate) const MIN_HEAP: u64 = 64 * 1024;
/// The smallest main stack the kernel accepts.
pub(crate) const MIN_STACK: u64 = 16 * 1024;

struct KernelSpace {
    frames: FrameAllocator,
    tables: PageTables,
    /// Direct map: RAM at `phys + offset`.
    offset: u64,
}

static SPACE: Mutex<Option<KernelSpace>> = Mutex::new(None);
/// Where RAM is mapped (`virt = phys + offset`) in the live tables.
static DIRECT_MAP_OFFSET: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);

/// Records the boot protocol's direct-map offset, for [`virt_to_phys`] before `init`.
pub(crate) fn set_boot_offset(offset: u64) {
    DIRECT_MAP_OFFSET.store(offset, core::sync::atomic::Ordering::Relaxed);
}

/// The physical address behind `virt` in the live page tables. Takes no lock.
pub(crate) fn virt_to_phys(virt: u64) -> Option<u64> {
    let offset = DIRECT_MAP_OFFSET.load(core::sync::atomic::Ordering::Relaxed);
    // SAFETY: the live tables map physical memory at `offset` (boot protocol's, then ours);
    // they are only read.
    let live = unsafe { PageTables::from_root(crate::arch::page_table_root(), offset) };
    live.translate(virt).map(|t| t.phys)
}

/// Set once the kernel's tables are installed (changes then need TLB flushes).
static LIVE: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);

/// Why memory setup or a later mapping failed.
#[derive(Clone, Copy, Debug)]
pub(crate) enum MemError {
    /// Not enough free memory for `what`.
    OutOfMemory {
        what: &'static str,
        bytes: u64,
    },
    /// `heap=` asked for more than the largest free block.
    HeapTooLarge {
        requested: u64,
        available: u64,
    },
    /// `stack=` asked for more than the largest free block.
    StackTooLarge {
        requested: u64,
        available: u64,
    },
    Frames(FrameError),
    Map(MapError),
    /// Called before `init`.
    NotReady,
}

impl fmt::Display for MemError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::OutOfMemory { what, bytes } => {
                write!(f, "not enough memory for {what} ({bytes} bytes)")
            }
            Self::HeapTooLarge {
                requested,
                available,
            } => write!(
                f,
                "heap={requested}: only {available} bytes of contiguous memory are free"
            ),
            Self::StackTooLarge {
                requested,
                available,
            } => write!(
                f,
                "stack={requested}: only {available} bytes of contiguous memory are free"
            ),
            Self::Frames(e) => write!(f, "frame allocator: {e:?}"),
            Self::Map(e) => write!(f, "page tables: {e:?}"),
            Self::NotReady => write!(f, "memory is not initialised yet"),
        }
    }
}

impl From<FrameError> for MemError {
    fn from(e: FrameError) -> Self {
        Self::Frames(e)
    }
}

impl From<MapError> for MemError {
    fn from(e: MapError) -> Self {
        Self::Map(e)
    }
}

/// What `init` set up, for the boot log and the app.
#[derive(Clone, Copy, Debug)]
pub(crate) struct MemoryLayout {
    pub usable: u64,
    pub heap_start: u64,
    pub heap_size: u64,
    pub main_stack_top: u64,
    pub free_after: u64,
}

unsafe extern "C" {
    static __kernel_start: u8;
    static __text_end: u8;
    static __rodata_end: u8;
    static __data_end: u8;
    static __kernel_end: u8;
}

/// The kernel image's sections and the rights each gets.
fn kernel_sections() -> [(u64, u64, Access); 4] {
    let (start, text_end, rodata_end, data_end, end) = (
        core::ptr::addr_of!(__kernel_start) as u64,
        core::ptr::addr_of!(__text_end) as u64,
        core::ptr::addr_of!(__rodata_end) as u64,
        core::ptr::addr_of!(__data_end) as u64,
        core::ptr::addr_of!(__kernel_end) as u64,
    );
    [
        (start, text_end, Access::TEXT),
        (text_end, rodata_end, Access::READ_ONLY),
        (rodata_end, data_end, Access::DATA),
        (data_end, end, Access::READ_ONLY),
    ]
}

/// Maps the kernel image at its link address. PVH loads it at physical = virtual; a
/// loader that put it elsewhere (bootloader_api, `.bss` on separate frames) is asked
/// through its live page tables, page by page, coalescing contiguous runs.
fn map_kernel_image(
    info: &BootInfo,
    tables: &mut PageTables,
    frames: &mut FrameAllocator,
) -> Result<(), MemError> {
    // SAFETY: the live tables are the boot protocol's, which map physical memory at
    // `phys_offset`; they are only read.
    let live = unsafe { PageTables::from_root(crate::arch::page_table_root(), info.phys_offset) };
    for (start, end, access) in kernel_sections() {
        let mut virt = start;
        while virt < end {
            let phys = if info.kernel_identity {
                virt
            } else {
                live.translate(virt)
                    .ok_or(MemError::Map(MapError::NotMapped(virt)))?
                    .phys
            };
            let mut len = PAGE_SIZE;
            while !info.kernel_identity
                && virt + len < end
                && live.translate(virt + len).map(|t| t.phys) == Some(phys + len)
            {
                len += PAGE_SIZE;
            }
            if info.kernel_identity {
                len = end - virt;
            }
            // SAFETY: maps the kernel image onto the frames it already occupies.
            unsafe { tables.map(frames, virt, phys, len, access)? };
            virt += len;
        }
    }
    Ok(())
}

/// Builds the kernel's page tables, switches to them, and sets up the main stack and heap.
pub(crate) fn init(
    info: &BootInfo,
    heap: Option<u64>,
    main_stack: u64,
) -> Result<MemoryLayout, MemError> {
    let mut frames = FrameAllocator::new();
    for region in info
        .regions()
        .iter()
        .filter(|r| r.kind == MemoryKind::Usable)
    {
        frames.add(region.start.max(LOW_MEMORY_END), region.end)?;
    }
    frames.reserve(info.kernel_phys.0, info.kernel_phys.1)?;
    let direct_map = frames.clone();

    let offset = info.phys_offset;
    // SAFETY: table frames come from `frames`, which holds only usable RAM outside the
    // kernel image; the boot protocol's tables map all of it at `offset` (PVH: the low
    // GiB, which the allocator hands out first, identity-mapped). Not live yet.
    let mut tables = unsafe { PageTables::new(&mut frames, offset)? };
    map_kernel_image(info, &mut tables, &mut frames)?;
    for (range_start, range_len) in direct_map.free_ranges() {
        // SAFETY: as above; the direct map aliases RAM only at `offset`, where the kernel
        // reaches it solely through the frame allocator's owners (heap, stacks, tables).
        unsafe {
            tables.map(
                &mut frames,
                range_start + offset,
                range_start,
                range_len,
                Access::DATA,
            )?
        };
    }
    // Guard pages of the static stacks (boot stack and trap stacks) in .bss.
    let boot_guard = crate::arch::boot_stack_guard();
    let mut static_guards = [("boot", boot_guard, boot_guard + PAGE_SIZE); 4];
    static_guards[1..].copy_from_slice(&crate::arch::static_stack_guards());
    for (name, guard_start, top) in static_guards {
        // SAFETY: guard pages are never used by anything; the tables are not live yet.
        unsafe { tables.unmap_page(&mut frames, guard_start)? };
        stack::register(GuardInfo {
            name,
            guard_start,
            top,
        });
    }
    let mut space = KernelSpace {
        frames,
        tables,
        offset,
    };
    // Before the switch: the guard page can then not be in any TLB, so no flush is needed.
    let main_stack_top = space
        .allocate_stack("main", main_stack)
        .map_err(|e| match e {
            MemError::OutOfMemory { .. } => MemError::StackTooLarge {
                requested: main_stack,
                available: space
                    .frames
                    .largest()
                    .map_or(0, |(_, len)| len.saturating_sub(PAGE_SIZE)),
            },
            e => e,
        })?;
    // SAFETY: the new tables map the kernel image, its stacks (but their guard pages) and
    // all usable RAM at the same addresses as the boot tables do.
    unsafe { crate::arch::load_page_tables(space.tables.root()) };
    DIRECT_MAP_OFFSET.store(offset, core::sync::atomic::Ordering::Relaxed);
    LIVE.store(true, core::sync::atomic::Ordering::Relaxed);
    log::debug!(
        "page tables live: root {:#x}, kernel {:#x}..{:#x}, RAM at +{offset:#x}",
        space.tables.root(),
        kernel_sections()[0].0,
        kernel_sections()[3].1,
    );

    let (heap_start, largest) = space.frames.largest().unwrap_or((0, 0));
    let heap_size = match heap {
        Some(requested) if requested > largest => {
            return Err(MemError::HeapTooLarge {
                requested,
                available: largest,
            });
        }
        Some(requested) => requested.next_multiple_of(PAGE_SIZE),
        None => largest.saturating_sub(DEFAULT_RESERVE.min(largest / 4)) & !(PAGE_SIZE - 1),
    };
    if heap_size < MIN_HEAP {
        return Err(MemError::OutOfMemory {
            what: "the heap",
            bytes: MIN_HEAP,
        });
    }
    space.frames.reserve(heap_start, heap_start + heap_size)?;
    // SAFETY: the block was just taken from the frame allocator, so nothing else owns it,
    // and the direct map maps it read-write at `offset`.
    unsafe { super::heap::init(heap_start + offset, heap_size as usize) };

    let layout = MemoryLayout {
        usable: info.usable_bytes(),
        heap_start: heap_start + offset,
        heap_size,
        main_stack_top,
        free_after: space.frames.free_bytes(),
    };
    *SPACE.lock() = Some(space);
    Ok(layout)
}

impl KernelSpace {
    /// Allocates a stack of `size` bytes plus a guard page below it; returns its top.
    fn allocate_stack(&mut self, name: &'static str, size: u64) -> Result<u64, MemError> {
        let pages = size.div_ceil(PAGE_SIZE) + 1;
        let base = self
            .frames
            .alloc(pages, 1)
            .map_err(|_| MemError::OutOfMemory {
                what: "a stack",
                bytes: pages.saturating_mul(PAGE_SIZE),
            })?;
        let base = base + self.offset;
        // SAFETY: the guard page was just allocated and is used by nothing.
        unsafe { self.tables.unmap_page(&mut self.frames, base)? };
        if LIVE.load(core::sync::atomic::Ordering::Relaxed) {
            crate::arch::flush_page(base);
        }
        let top = base + pages * PAGE_SIZE;
        stack::register(GuardInfo {
            name,
            guard_start: base,
            top,
        });
        Ok(top)
    }
}

/// Maps `len` bytes of device memory at `phys` uncached; returns the virtual address.
pub(crate) fn map_device(phys: u64, len: u64) -> Result<u64, MemError> {
    let mut guard = SPACE.lock();
    let space = guard.as_mut().ok_or(MemError::NotReady)?;
    let start = phys & !(PAGE_SIZE - 1);
    let len = (phys - start + len).next_multiple_of(PAGE_SIZE);
    let KernelSpace {
        frames,
        tables,
        offset,
    } = space;
    let virt = start + *offset;
    if tables.translate(virt).is_none() {
        // SAFETY: device MMIO is outside RAM, so the mapping aliases no Rust-owned memory.
        unsafe { tables.map(frames, virt, start, len, Access::DEVICE)? };
    }
    Ok(phys + *offset)
}
