//! Builds and owns the kernel's address space: frames, page tables, stacks, heap.
//!
//! Layout (single address space, identity-mapped for the PVH path, `phys_offset` 0):
//! nothing below 1 MiB (null pointers fault); the kernel image at its link address with
//! text RX, rodata R, data/bss RW+NX; all other usable RAM RW+NX; devices uncached on
//! demand. Guard pages are holes punched into that map.

use super::frame::{FrameAllocator, FrameError, PAGE_SIZE};
use super::paging::{
    Access, FramePool, MapError, POOL_FRAMES, PageTables, PoolThenFrames, TableFrames,
    recursive_translate,
};
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
    /// The kernel's tables; they also know the direct map (RAM at `phys + offset`).
    tables: PageTables,
}

static SPACE: Mutex<Option<KernelSpace>> = Mutex::new(None);
/// Records how to read the boot protocol's tables, for [`virt_to_phys`] before `init`.
pub(crate) fn set_boot_view(info: &BootInfo) {
    BOOT_VIEW.call_once(|| boot_view(info));
}

/// The physical address behind `virt` in the live page tables; `None` if unmapped, or if
/// the kernel's tables are busy (it never blocks).
pub(crate) fn virt_to_phys(virt: u64) -> Option<u64> {
    if LIVE.load(core::sync::atomic::Ordering::Relaxed) {
        let space = SPACE.try_lock()?;
        return space.as_ref()?.tables.translate(virt).map(|t| t.phys);
    }
    boot_translate(*BOOT_VIEW.get()?, virt)
}

/// Set once the kernel's own tables are installed.
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
    /// The first page tables did not fit in the boot pool (disk-image path only).
    BootTablePoolExhausted,
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
            Self::BootTablePoolExhausted => write!(
                f,
                "the {POOL_FRAMES} boot page-table frames are not enough for this memory map \
                 (about 20 GiB of RAM or a very fragmented map); raise POOL_FRAMES"
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

/// How the boot protocol's live tables can be read before the kernel's own are installed.
#[derive(Clone, Copy, Debug)]
enum BootView {
    /// Physical memory mapped at this offset (PVH: 0, the first GiB identity-mapped).
    Offset(u64),
    /// The loader's tables map themselves through this PML4 slot.
    Recursive(u16),
}

static BOOT_VIEW: spin::Once<BootView> = spin::Once::new();

fn boot_view(info: &BootInfo) -> BootView {
    match info.recursive_index {
        Some(index) => BootView::Recursive(index),
        None => BootView::Offset(info.phys_offset),
    }
}

/// Translates `virt` through the boot protocol's live tables.
fn boot_translate(view: BootView, virt: u64) -> Option<u64> {
    match view {
        BootView::Offset(offset) => {
            // SAFETY: the live tables map physical memory at `offset`; only read.
            let live = unsafe { PageTables::from_root(crate::arch::page_table_root(), offset) };
            live.translate(virt).map(|t| t.phys)
        }
        BootView::Recursive(index) => recursive_translate(index, virt, |entry| {
            // SAFETY: the recursive slot maps every live table at these addresses; each
            // entry is read only after the entry above it was found present.
            unsafe { (entry as *const u64).read_volatile() }
        }),
    }
}

/// Frames the first page tables are built in: part of the kernel image, so reachable
/// before any direct map of RAM exists (the disk-image loader maps none; asking it to
/// map all physical memory cost ~130 ms of a BIOS boot under TCG).
#[repr(C, align(4096))]
struct BootTablePool(core::cell::UnsafeCell<[[u8; PAGE_SIZE as usize]; POOL_FRAMES]>);

// SAFETY: used once, by `init`, on the boot CPU; afterwards only through the page tables
// built in it, which `SPACE` serialises.
unsafe impl Sync for BootTablePool {}

static BOOT_TABLE_POOL: BootTablePool = BootTablePool(core::cell::UnsafeCell::new(
    [[0; PAGE_SIZE as usize]; POOL_FRAMES],
));

/// Maps the kernel image at its link address. PVH loads it at physical = virtual; a
/// loader that put it elsewhere (bootloader_api, `.bss` on separate frames) is asked
/// through its live page tables, page by page, coalescing contiguous runs.
fn map_kernel_image(
    info: &BootInfo,
    tables: &mut PageTables,
    frames: &mut impl TableFrames,
) -> Result<(), MemError> {
    let view = boot_view(info);
    let phys_of = |virt: u64| -> Result<u64, MemError> {
        if info.kernel_identity {
            Ok(virt)
        } else {
            boot_translate(view, virt).ok_or(MemError::Map(MapError::NotMapped(virt)))
        }
    };
    for (start, end, access) in kernel_sections() {
        let mut virt = start;
        while virt < end {
            let phys = phys_of(virt)?;
            let mut len = PAGE_SIZE;
            if info.kernel_identity {
                len = end - virt;
            } else {
                while virt + len < end && phys_of(virt + len).ok() == Some(phys + len) {
                    len += PAGE_SIZE;
                }
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
    let view = boot_view(info);

    // The main stack's memory first, while `frames` is still free to borrow.
    let stack_pages = main_stack.div_ceil(PAGE_SIZE) + 1;
    let stack_base = frames
        .alloc(stack_pages, 1)
        .map_err(|_| MemError::StackTooLarge {
            requested: main_stack,
            available: frames
                .largest()
                .map_or(0, |(_, len)| len.saturating_sub(PAGE_SIZE)),
        })?;

    // Table frames: the pool in the kernel image, then (PVH only, where the boot tables
    // identity-map the low GiB that the allocator hands out first) the frame allocator.
    let pool_base = BOOT_TABLE_POOL.0.get() as u64;
    let mut pool_phys = [0u64; POOL_FRAMES];
    for (i, phys) in pool_phys.iter_mut().enumerate() {
        let virt = pool_base + i as u64 * PAGE_SIZE;
        *phys = if info.kernel_identity {
            virt
        } else {
            boot_translate(view, virt).ok_or(MemError::Map(MapError::NotMapped(virt)))?
        };
    }
    // SAFETY: the pool is a static in .bss used by nothing else; each frame is at its
    // virtual address and at the physical address just looked up.
    let mut pool = unsafe { FramePool::new(pool_base, &pool_phys) };
    let pool_view = pool.view();
    let identity = info.kernel_identity;
    let mut table_frames = PoolThenFrames {
        pool: &mut pool,
        fallback: if identity { Some(&mut frames) } else { None },
    };
    // SAFETY: table frames come from the pool (reached through the pool view) or, on PVH,
    // from usable RAM outside the kernel image in the identity-mapped low GiB. Not live.
    let mut tables = unsafe { PageTables::with_pool(&mut table_frames, offset, Some(pool_view))? };
    if crate::arch::tasks_at_ring3() {
        // Tasks run at ring 3 in this one address space: every page is theirs too.
        tables.open_to_ring3();
    }
    let exhausted = |e: MemError| match e {
        MemError::Map(MapError::OutOfFrames) if !identity => MemError::BootTablePoolExhausted,
        e => e,
    };
    map_kernel_image(info, &mut tables, &mut table_frames).map_err(exhausted)?;
    for (range_start, range_len) in direct_map.free_ranges() {
        // SAFETY: as above; the direct map aliases RAM only at `offset`, where the kernel
        // reaches it solely through the frame allocator's owners (heap, stacks, tables).
        unsafe {
            tables
                .map(
                    &mut table_frames,
                    range_start + offset,
                    range_start,
                    range_len,
                    Access::DATA,
                )
                .map_err(|e| exhausted(e.into()))?
        };
    }
    // Guard pages: the static stacks' (boot and trap stacks, in .bss) and the main stack's.
    let boot_guard = crate::arch::boot_stack_guard();
    let mut guards = [("boot", boot_guard, boot_guard + PAGE_SIZE); 6];
    guards[1..5].copy_from_slice(&crate::arch::static_stack_guards());
    let main_guard = stack_base + offset;
    guards[5] = ("main", main_guard, main_guard + stack_pages * PAGE_SIZE);
    for (name, guard_start, top) in guards {
        // SAFETY: guard pages are never used by anything; the tables are not live yet, so
        // no TLB holds them.
        unsafe {
            tables
                .unmap_page(&mut table_frames, guard_start)
                .map_err(|e| exhausted(e.into()))?
        };
        stack::register_boot(GuardInfo {
            name: stack::StackName::new(name),
            guard_start,
            top,
        });
    }
    let mut space = KernelSpace { frames, tables };
    let main_stack_top = main_guard + stack_pages * PAGE_SIZE;
    // SAFETY: the new tables map the kernel image, its stacks (but their guard pages) and
    // all usable RAM; the code running now (kernel image, boot stack) keeps its addresses.
    unsafe { crate::arch::load_page_tables(space.tables.root()) };
    LIVE.store(true, core::sync::atomic::Ordering::Relaxed);
    log::debug!(
        "page tables live: root {:#x}, kernel {:#x}..{:#x}, RAM at +{offset:#x}, {} of {POOL_FRAMES} boot table frames used",
        space.tables.root(),
        kernel_sections()[0].0,
        kernel_sections()[3].1,
        POOL_FRAMES - pool.remaining(),
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

/// A task's stack: a page-aligned heap block whose first page is the unmapped guard.
#[derive(Debug)]
pub struct TaskStack {
    pub guard: u64,
    pub top: u64,
    /// Physical frame behind the guard page, to map it back before freeing.
    guard_phys: u64,
    layout: core::alloc::Layout,
}

/// Freed stacks kept, guard page still unmapped, for the next stack of the same size:
/// only where tasks run at ring 3, where the TLB flush after unmapping a guard page is a
/// trip to ring 0 (about 130 µs under kvm_pvm, against a few µs for the rest of a spawn).
struct StackCache([Option<TaskStack>; STACK_CACHE_SLOTS]);

const STACK_CACHE_SLOTS: usize = 4;
/// Largest stack kept (guard page included): the cache holds at most 4 × 257 KiB.
const MAX_CACHED_STACK: u64 = 256 * 1024 + PAGE_SIZE;

impl StackCache {
    /// A kept stack of `bytes` (guard page included), if any.
    fn take(&mut self, bytes: u64) -> Option<TaskStack> {
        self.0
            .iter_mut()
            .find(|s| s.as_ref().is_some_and(|s| s.layout.size() as u64 == bytes))?
            .take()
    }

    /// Keeps `stack` if stacks are kept and there is room; gives it back otherwise.
    fn keep(&mut self, stack: TaskStack) -> Option<TaskStack> {
        if !crate::arch::tasks_at_ring3() || stack.layout.size() as u64 > MAX_CACHED_STACK {
            return Some(stack);
        }
        match self.0.iter_mut().find(|s| s.is_none()) {
            Some(slot) => {
                *slot = Some(stack);
                None
            }
            None => Some(stack),
        }
    }
}

static STACK_CACHE: Mutex<StackCache> = Mutex::new(StackCache([const { None }; STACK_CACHE_SLOTS]));

/// Allocates a stack of `size` bytes (rounded up to pages) from the heap, with an unmapped
/// guard page below it, registered under `name` for stack-overflow reports. Stacks come
/// from the heap so that the heap's size (nearly all memory by default) never starves
/// threads of stacks.
pub(crate) fn allocate_stack(name: &str, size: u64) -> Result<TaskStack, MemError> {
    let bytes = size
        .div_ceil(PAGE_SIZE)
        .max(1)
        .saturating_add(1)
        .saturating_mul(PAGE_SIZE);
    if let Some(stack) = STACK_CACHE.lock().take(bytes) {
        stack::register_task(GuardInfo {
            name: stack::StackName::new(name),
            guard_start: stack.guard,
            top: stack.top,
        });
        return Ok(stack);
    }
    let oom = MemError::OutOfMemory {
        what: "a stack",
        bytes,
    };
    let layout = core::alloc::Layout::from_size_align(bytes as usize, PAGE_SIZE as usize)
        .map_err(|_| oom)?;
    // SAFETY: the layout has a non-zero size.
    let mut block = unsafe { alloc::alloc::alloc(layout) };
    if block.is_null() {
        // Kept stacks go back to the heap before a spawn fails for want of memory.
        let kept = core::mem::replace(
            &mut STACK_CACHE.lock().0,
            [const { None }; STACK_CACHE_SLOTS],
        );
        for stack in kept.into_iter().flatten() {
            // SAFETY: a kept stack belongs to no task.
            unsafe { release_stack(stack) };
        }
        // SAFETY: as above.
        block = unsafe { alloc::alloc::alloc(layout) };
    }
    if block.is_null() {
        return Err(oom);
    }
    let guard_virt = block as u64;
    let mut space_guard = SPACE.lock();
    let Some(space) = space_guard.as_mut() else {
        drop(space_guard);
        // SAFETY: allocated above with this layout and not handed out.
        unsafe { alloc::alloc::dealloc(block, layout) };
        return Err(MemError::NotReady);
    };
    let KernelSpace { frames, tables } = space;
    let guard_phys = tables.translate(guard_virt).map(|t| t.phys);
    // SAFETY: the guard page belongs to the block just allocated; nothing uses it, and it is
    // mapped back before the block is freed.
    let unmapped = guard_phys.is_some() && unsafe { tables.unmap_page(frames, guard_virt) }.is_ok();
    drop(space_guard);
    let (true, Some(guard_phys)) = (unmapped, guard_phys) else {
        // SAFETY: allocated above with this layout and not handed out.
        unsafe { alloc::alloc::dealloc(block, layout) };
        return Err(oom);
    };
    crate::arch::flush_page(guard_virt);
    let top = guard_virt + bytes;
    stack::register_task(GuardInfo {
        name: stack::StackName::new(name),
        guard_start: guard_virt,
        top,
    });
    Ok(TaskStack {
        guard: guard_virt,
        top,
        guard_phys,
        layout,
    })
}

/// Returns a stack to the heap, mapping its guard page back first.
///
/// # Safety
/// Nothing may run on, or point into, the stack any more.
pub(crate) unsafe fn free_stack(stack: TaskStack) {
    stack::unregister_task(stack.guard);
    if let Some(stack) = STACK_CACHE.lock().keep(stack) {
        // SAFETY: forwarded from the caller.
        unsafe { release_stack(stack) };
    }
}

/// Maps a stack's guard page back and returns its memory to the heap (or leaks it, with a
/// warning, if the guard page cannot be mapped back).
///
/// # Safety
/// Nothing may run on, or point into, the stack any more.
unsafe fn release_stack(stack: TaskStack) {
    let remapped = match SPACE.lock().as_mut() {
        Some(KernelSpace { frames, tables }) => {
            // SAFETY: restores the direct-map entry of the guard page, which is ours.
            unsafe {
                tables.map(
                    frames,
                    stack.guard,
                    stack.guard_phys,
                    PAGE_SIZE,
                    Access::DATA,
                )
            }
            .is_ok()
        }
        None => false,
    };
    if remapped {
        // SAFETY: the block came from `alloc` with this layout in `allocate_stack`, and the
        // caller guarantees nothing uses it.
        unsafe { alloc::alloc::dealloc(stack.guard as *mut u8, stack.layout) };
    } else {
        log::warn!(
            "stack at {:#x}: cannot map its guard page back; it leaks",
            stack.guard
        );
    }
}

/// Maps `len` bytes of device memory at `phys` uncached at its direct-map address (see
/// [`PageTables::map_device`]); returns the virtual address.
pub(crate) fn map_device(phys: u64, len: u64) -> Result<u64, MemError> {
    let mut guard = SPACE.lock();
    let KernelSpace { frames, tables } = guard.as_mut().ok_or(MemError::NotReady)?;
    // SAFETY: device MMIO is outside RAM, so the mapping aliases no Rust-owned memory; a
    // page that was not mapped is in no TLB, so nothing needs flushing.
    Ok(unsafe { tables.map_device(frames, phys, len)? })
}

/// Lets ring 3 use the mapped pages `[virt, virt + len)` (see [`PageTables::allow_user`]).
///
/// # Safety
/// Code running at ring 3 can then read those pages, and write them where writable.
pub(crate) unsafe fn allow_user(virt: u64, len: u64) -> Result<(), MemError> {
    let mut guard = SPACE.lock();
    let KernelSpace { tables, .. } = guard.as_mut().ok_or(MemError::NotReady)?;
    // SAFETY: forwarded to the caller; only permission bits change.
    unsafe { tables.allow_user(virt, len)? };
    for page in (virt..virt + len).step_by(PAGE_SIZE as usize) {
        crate::arch::flush_page(page);
    }
    Ok(())
}
