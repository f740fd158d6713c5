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
}

static SPACE: Mutex<Option<KernelSpace>> = Mutex::new(None);
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

    let (start, text_end, rodata_end, data_end, end) = (
        core::ptr::addr_of!(__kernel_start) as u64,
        core::ptr::addr_of!(__text_end) as u64,
        core::ptr::addr_of!(__rodata_end) as u64,
        core::ptr::addr_of!(__data_end) as u64,
        core::ptr::addr_of!(__kernel_end) as u64,
    );
    // SAFETY: table frames come from `frames`, which holds only usable RAM outside the
    // kernel image; the boot tables identity-map the low 1 GiB the allocator hands out
    // first, and `phys_offset` 0 matches that identity map. The tables are not live yet.
    let mut tables = unsafe { PageTables::new(&mut frames, 0)? };
    // SAFETY: as above; each range maps memory to itself (identity), so nothing aliases.
    unsafe {
        tables.map(&mut frames, start, start, text_end - start, Access::TEXT)?;
        tables.map(
            &mut frames,
            text_end,
            text_end,
            rodata_end - text_end,
            Access::READ_ONLY,
        )?;
        tables.map(
            &mut frames,
            rodata_end,
            rodata_end,
            data_end - rodata_end,
            Access::DATA,
        )?;
        if end > data_end {
            tables.map(
                &mut frames,
                data_end,
                data_end,
                end - data_end,
                Access::READ_ONLY,
            )?;
        }
        for (range_start, range_len) in direct_map.free_ranges() {
            tables.map(
                &mut frames,
                range_start,
                range_start,
                range_len,
                Access::DATA,
            )?;
        }
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
    let mut space = KernelSpace { frames, tables };
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
    LIVE.store(true, core::sync::atomic::Ordering::Relaxed);
    log::debug!(
        "page tables live: root {:#x}, kernel {start:#x}..{end:#x}",
        space.tables.root()
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
    // and the direct map maps it read-write.
    unsafe { super::heap::init(heap_start, heap_size as usize) };

    let layout = MemoryLayout {
        usable: info.usable_bytes(),
        heap_start,
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
    let KernelSpace { frames, tables } = space;
    if tables.translate(start).is_none() {
        // SAFETY: device MMIO is outside RAM, so the mapping aliases no Rust-owned memory.
        unsafe { tables.map(frames, start, start, len, Access::DEVICE)? };
    }
    Ok(phys)
}
