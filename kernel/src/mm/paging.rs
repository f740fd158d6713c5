//! Four-level x86_64 page tables that the kernel builds and owns.
//!
//! [`PageTables`] writes table entries through a direct map (`virt = phys + phys_offset`)
//! and takes new table frames from a [`TableFrames`] source, so the same code runs on the
//! host against fake memory in the tests. It knows nothing of the live CPU: installing the
//! root and flushing the TLB belong to `arch`.

use super::frame::{FrameAllocator, PAGE_SIZE};

const PRESENT: u64 = 1;
const WRITABLE: u64 = 1 << 1;
const USER: u64 = 1 << 2;
const WRITE_THROUGH: u64 = 1 << 3;
const NO_CACHE: u64 = 1 << 4;
const HUGE: u64 = 1 << 7;
const GLOBAL: u64 = 1 << 8;
const NO_EXECUTE: u64 = 1 << 63;
const ADDRESS_MASK: u64 = 0x000f_ffff_ffff_f000;
/// Leaf flags that a split of a 2 MiB page copies to its 4 KiB pages.
const LEAF_FLAGS: u64 = WRITABLE | USER | WRITE_THROUGH | NO_CACHE | GLOBAL | NO_EXECUTE;

pub const HUGE_PAGE_SIZE: u64 = 2 << 20;
const GIANT_PAGE_SIZE: u64 = 1 << 30;
const ENTRIES: usize = 512;

/// What a mapping allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Access {
    pub writable: bool,
    pub executable: bool,
    /// Device memory: caching off.
    pub uncached: bool,
}

impl Access {
    pub const TEXT: Self = Self {
        writable: false,
        executable: true,
        uncached: false,
    };
    pub const READ_ONLY: Self = Self {
        writable: false,
        executable: false,
        uncached: false,
    };
    pub const DATA: Self = Self {
        writable: true,
        executable: false,
        uncached: false,
    };
    pub const DEVICE: Self = Self {
        writable: true,
        executable: false,
        uncached: true,
    };

    fn bits(self) -> u64 {
        let mut bits = PRESENT | GLOBAL;
        if self.writable {
            bits |= WRITABLE;
        }
        if !self.executable {
            bits |= NO_EXECUTE;
        }
        if self.uncached {
            bits |= NO_CACHE | WRITE_THROUGH;
        }
        bits
    }

    fn from_bits(bits: u64) -> Self {
        Self {
            writable: bits & WRITABLE != 0,
            executable: bits & NO_EXECUTE == 0,
            uncached: bits & NO_CACHE != 0,
        }
    }
}

/// Why a page-table operation failed. Nothing is changed when one is returned, except
/// that intermediate tables allocated on the way stay in place (empty, harmless).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapError {
    /// No frame left for a page table.
    OutOfFrames,
    /// Part of the range is already mapped; the address is the first clash.
    AlreadyMapped(u64),
    /// The address is not mapped.
    NotMapped(u64),
    /// Address or length not a multiple of 4 KiB, or the range wraps.
    Misaligned,
}

/// Where new page-table frames come from.
pub trait TableFrames {
    /// One zero-able frame for a page table, or `None` when memory is exhausted.
    fn alloc_table(&mut self) -> Option<u64>;
}

impl TableFrames for FrameAllocator {
    fn alloc_table(&mut self) -> Option<u64> {
        self.alloc(1, 1).ok()
    }
}

/// A translation found by [`PageTables::translate`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Translation {
    pub phys: u64,
    pub access: Access,
    /// Size of the page holding the address (4 KiB or 2 MiB).
    pub page_size: u64,
    /// Ring 3 may use the page (the user bit is set at every level).
    pub user: bool,
}

/// A page-table hierarchy rooted at a PML4 frame.
#[derive(Debug)]
pub struct PageTables {
    root: u64,
    phys_offset: u64,
    /// Table frames reached at fixed virtual addresses instead of through the direct map.
    pool: Option<FramePoolView>,
    /// Every entry this writes lets ring 3 in ([`PageTables::open_to_ring3`]).
    user: u64,
}

/// Most frames in a [`FramePool`].
pub const POOL_FRAMES: usize = 32;

/// Where the frames of a [`FramePool`] are: frame `i` is at virtual `virt_base + i * 4096`
/// and physical `phys[i]`.
#[derive(Clone, Copy, Debug)]
pub struct FramePoolView {
    virt_base: u64,
    phys: [u64; POOL_FRAMES],
    len: usize,
}

impl FramePoolView {
    fn virt_of(&self, phys: u64) -> Option<u64> {
        let i = self.phys[..self.len].iter().position(|&p| p == phys)?;
        Some(self.virt_base + i as u64 * PAGE_SIZE)
    }
}

/// Page-table frames that are reachable before any direct map of RAM exists (a static
/// array in the kernel image): the first tables are built in them.
#[derive(Debug)]
pub struct FramePool {
    view: FramePoolView,
    next: usize,
}

impl FramePool {
    /// A pool of `phys.len()` (at most [`POOL_FRAMES`]) frames at `virt_base`.
    ///
    /// # Safety
    /// Frame `i` must be readable and writable at `virt_base + i * 4096`, be the memory at
    /// physical `phys[i]`, and be used by nothing else for as long as tables built in it live.
    pub unsafe fn new(virt_base: u64, phys: &[u64]) -> Self {
        let len = phys.len().min(POOL_FRAMES);
        let mut view = FramePoolView {
            virt_base,
            phys: [0; POOL_FRAMES],
            len,
        };
        view.phys[..len].copy_from_slice(&phys[..len]);
        Self { view, next: 0 }
    }

    pub fn view(&self) -> FramePoolView {
        self.view
    }

    /// Frames not handed out yet.
    pub fn remaining(&self) -> usize {
        self.view.len - self.next
    }
}

impl TableFrames for FramePool {
    fn alloc_table(&mut self) -> Option<u64> {
        let frame = *self.view.phys[..self.view.len].get(self.next)?;
        self.next += 1;
        Some(frame)
    }
}

/// Table frames from a pool first, then (if given) from a frame allocator whose frames the
/// direct map reaches.
pub struct PoolThenFrames<'a> {
    pub pool: &'a mut FramePool,
    pub fallback: Option<&'a mut FrameAllocator>,
}

impl TableFrames for PoolThenFrames<'_> {
    fn alloc_table(&mut self) -> Option<u64> {
        self.pool
            .alloc_table()
            .or_else(|| self.fallback.as_mut()?.alloc_table())
    }
}

/// Virtual addresses of the four entries (PML4, PDPT, PD, PT) that map `virt`, in tables
/// that map themselves through PML4 slot `index` (a recursive mapping).
pub fn recursive_entry_addresses(index: u16, virt: u64) -> [u64; 4] {
    let r = u64::from(index) & 0x1ff;
    let [i4, i3, i2, i1] = [3, 2, 1, 0].map(|level| table_index(virt, level) as u64);
    let canonical = |addr: u64| {
        if addr & (1 << 47) != 0 {
            addr | 0xffff_0000_0000_0000
        } else {
            addr
        }
    };
    [
        canonical((r << 39) | (r << 30) | (r << 21) | (r << 12) | (i4 * 8)),
        canonical((r << 39) | (r << 30) | (r << 21) | (i4 << 12) | (i3 * 8)),
        canonical((r << 39) | (r << 30) | (i4 << 21) | (i3 << 12) | (i2 * 8)),
        canonical((r << 39) | (i4 << 30) | (i3 << 21) | (i2 << 12) | (i1 * 8)),
    ]
}

/// Translates `virt` by reading entries with `read` (given the virtual addresses from
/// [`recursive_entry_addresses`]).
pub fn recursive_translate(index: u16, virt: u64, mut read: impl FnMut(u64) -> u64) -> Option<u64> {
    let addresses = recursive_entry_addresses(index, virt);
    for (level, &entry_addr) in addresses.iter().enumerate() {
        let entry = read(entry_addr);
        if entry & PRESENT == 0 {
            return None;
        }
        let page_size = match level {
            1 => GIANT_PAGE_SIZE,
            2 => HUGE_PAGE_SIZE,
            3 => PAGE_SIZE,
            _ => 0,
        };
        if level == 3 || (page_size != 0 && entry & HUGE != 0) {
            let base = entry & ADDRESS_MASK & !(page_size - 1);
            return Some(base + (virt & (page_size - 1)));
        }
    }
    None
}

impl PageTables {
    /// Creates an empty hierarchy.
    ///
    /// # Safety
    /// Every frame `frames` hands out, now and in later calls on the result, must be
    /// memory that nothing else uses and that is readable and writable at
    /// `phys + phys_offset` for as long as these tables live.
    pub unsafe fn new(frames: &mut impl TableFrames, phys_offset: u64) -> Result<Self, MapError> {
        // SAFETY: forwarded contract.
        unsafe { Self::with_pool(frames, phys_offset, None) }
    }

    /// Like [`PageTables::new`], but table frames that belong to `pool` are reached at the
    /// pool's virtual addresses, now and for the life of the tables.
    ///
    /// # Safety
    /// As for [`PageTables::new`] for frames outside the pool; the pool's contract
    /// ([`FramePool::new`]) for frames in it.
    pub unsafe fn with_pool(
        frames: &mut impl TableFrames,
        phys_offset: u64,
        pool: Option<FramePoolView>,
    ) -> Result<Self, MapError> {
        let mut tables = Self {
            root: 0,
            phys_offset,
            pool,
            user: 0,
        };
        // SAFETY: the caller's contract covers the frames this allocates.
        tables.root = unsafe { tables.new_table(frames)? };
        Ok(tables)
    }

    /// A view of an existing hierarchy, e.g. the live one, for [`PageTables::translate`].
    ///
    /// # Safety
    /// `root` must be a PML4 whose tables are all readable at `phys + phys_offset`, and
    /// nothing may write them while the result is used to read them.
    pub unsafe fn from_root(root: u64, phys_offset: u64) -> Self {
        Self {
            root: root & ADDRESS_MASK,
            phys_offset,
            pool: None,
            user: 0,
        }
    }

    /// From now on, every mapping (and every table on the way to it) that these tables
    /// make lets ring 3 in: for a kernel whose tasks run at ring 3 in the one address space.
    pub fn open_to_ring3(&mut self) {
        self.user = USER;
    }

    /// Physical address of the PML4, for CR3.
    pub fn root(&self) -> u64 {
        self.root
    }

    /// Maps `[virt, virt + len)` to `[phys, phys + len)`, with 2 MiB pages where both
    /// sides are aligned (and no page table is already in the way).
    ///
    /// All or nothing: on error no page of the range has been mapped; only intermediate
    /// tables allocated on the way may stay, empty (later maps reuse them).
    ///
    /// # Safety
    /// The contract of [`PageTables::new`] holds for `frames`. If these tables are live,
    /// the caller keeps what it maps meaningful (no aliasing of memory Rust owns elsewhere).
    pub unsafe fn map(
        &mut self,
        frames: &mut impl TableFrames,
        virt: u64,
        phys: u64,
        len: u64,
        access: Access,
    ) -> Result<(), MapError> {
        // SAFETY: forwarded contract.
        unsafe { self.map_range(frames, virt, phys, len, access, Existing::Refuse) }
    }

    /// Like [`PageTables::map`], but pages of the range that are already mapped exactly so
    /// (same frame, same access) are kept: only the missing ones are mapped. For windows
    /// that are mapped again and again, such as device registers that share a page. A page
    /// mapped any other way is [`MapError::AlreadyMapped`]. All or nothing, as `map`.
    ///
    /// # Safety
    /// As for [`PageTables::map`].
    pub unsafe fn map_missing(
        &mut self,
        frames: &mut impl TableFrames,
        virt: u64,
        phys: u64,
        len: u64,
        access: Access,
    ) -> Result<(), MapError> {
        // SAFETY: forwarded contract.
        unsafe { self.map_range(frames, virt, phys, len, access, Existing::KeepIfSame) }
    }

    /// Maps the device registers `[phys, phys + len)` uncached at their direct-map address
    /// (`phys + phys_offset`), every page of them that is not mapped yet ([`map_missing`]):
    /// windows are mapped again and again, and overlap (virtio-mmio transports 0x200 apart
    /// share a page). Returns the virtual address of `phys`.
    ///
    /// [`map_missing`]: PageTables::map_missing
    ///
    /// # Safety
    /// As for [`PageTables::map`]; the range must be device memory, not RAM.
    pub unsafe fn map_device(
        &mut self,
        frames: &mut impl TableFrames,
        phys: u64,
        len: u64,
    ) -> Result<u64, MapError> {
        let start = phys & !(PAGE_SIZE - 1);
        let virt = phys.checked_add(self.phys_offset);
        let span = len
            .checked_add(phys - start)
            .and_then(|span| span.checked_next_multiple_of(PAGE_SIZE));
        let (Some(virt), Some(span)) = (virt, span) else {
            return Err(MapError::Misaligned);
        };
        // SAFETY: forwarded contract.
        unsafe { self.map_missing(frames, virt - (phys - start), start, span, Access::DEVICE)? };
        Ok(virt)
    }

    /// The two passes behind `map` and `map_missing`: the first creates every table the
    /// range needs and checks every page, so the only thing an error can leave behind is
    /// empty tables; the second writes the leaf entries and cannot fail.
    ///
    /// # Safety
    /// As for [`PageTables::map`].
    unsafe fn map_range(
        &mut self,
        frames: &mut impl TableFrames,
        virt: u64,
        phys: u64,
        len: u64,
        access: Access,
        existing: Existing,
    ) -> Result<(), MapError> {
        if !(virt | phys | len).is_multiple_of(PAGE_SIZE)
            || virt.checked_add(len).is_none()
            || phys.checked_add(len).is_none()
        {
            return Err(MapError::Misaligned);
        }
        let range = MapRange {
            virt,
            phys,
            len,
            access,
            existing,
        };
        // SAFETY: forwarded contract; this pass writes only new, empty tables.
        unsafe { self.walk_range(frames, range, false)? };
        // SAFETY: forwarded contract. The first pass left every table this pass looks for
        // in place, and the same entries decide the same page sizes, so it allocates
        // nothing (hence no frames) and finds no clash.
        let written = unsafe { self.walk_range(&mut NoFrames, range, true) };
        debug_assert_eq!(written, Ok(()));
        written
    }

    /// Walks the range one run of pages at a time (one table walk per 2 MiB page or per
    /// run of 4 KiB pages up to the end of a page table), creating missing tables and
    /// checking present entries; with `write`, also fills the missing leaf entries.
    ///
    /// # Safety
    /// As for [`PageTables::map`].
    unsafe fn walk_range(
        &mut self,
        frames: &mut impl TableFrames,
        range: MapRange,
        write: bool,
    ) -> Result<(), MapError> {
        let MapRange {
            virt,
            phys,
            len,
            access,
            existing,
        } = range;
        let mut done = 0;
        while done < len {
            let (v, p, left) = (virt + done, phys + done, len - done);
            let huge = (v | p).is_multiple_of(HUGE_PAGE_SIZE) && left >= HUGE_PAGE_SIZE;
            // SAFETY: forwarded contract of this function.
            let (entry, level) = unsafe { self.leaf_entry(frames, v, huge)? };
            if level > 0 {
                // SAFETY: `leaf_entry` points into a table frame we own.
                let value = unsafe { entry.read() };
                let size = level_page_size(level);
                if value & PRESENT != 0 {
                    // A large page is already there: keep it only if it is ours already.
                    let offset = v & (size - 1);
                    let base = value & ADDRESS_MASK & !(size - 1);
                    if !existing.keeps(base + offset, p, value, access) {
                        return Err(MapError::AlreadyMapped(v));
                    }
                    done += (size - offset).min(left);
                } else {
                    if write {
                        // SAFETY: as above.
                        unsafe { entry.write(p | access.bits() | self.user | HUGE) };
                    }
                    done += size;
                }
                continue;
            }
            let pages = (ENTRIES - table_index(v, 0)).min((left / PAGE_SIZE) as usize);
            for i in 0..pages {
                let p = p + i as u64 * PAGE_SIZE;
                // SAFETY: `leaf_entry` points into a page table we own, and the run stays
                // within that table.
                let entry = unsafe { entry.add(i) };
                // SAFETY: as above.
                let value = unsafe { entry.read() };
                if value & PRESENT != 0 {
                    if !existing.keeps(value & ADDRESS_MASK, p, value, access) {
                        return Err(MapError::AlreadyMapped(v + i as u64 * PAGE_SIZE));
                    }
                } else if write {
                    // SAFETY: as above.
                    unsafe { entry.write(p | access.bits() | self.user) };
                }
            }
            done += pages as u64 * PAGE_SIZE;
        }
        Ok(())
    }

    /// Unmaps the 4 KiB page at `virt`, splitting a 2 MiB page around it if needed.
    /// The caller flushes the TLB entry if these tables are live.
    ///
    /// # Safety
    /// The contract of [`PageTables::new`] holds for `frames`; nothing may use the page.
    pub unsafe fn unmap_page(
        &mut self,
        frames: &mut impl TableFrames,
        virt: u64,
    ) -> Result<(), MapError> {
        if !virt.is_multiple_of(PAGE_SIZE) {
            return Err(MapError::Misaligned);
        }
        let mut table = self.root;
        for level in [3u32, 2, 1] {
            let index = table_index(virt, level);
            // SAFETY: `table` is a table frame of this hierarchy.
            let entry = unsafe { self.entry_ptr(table, index) };
            // SAFETY: as above.
            let value = unsafe { entry.read() };
            if value & PRESENT == 0 {
                return Err(MapError::NotMapped(virt));
            }
            if value & HUGE != 0 {
                if level != 1 {
                    return Err(MapError::Misaligned);
                }
                // Split the 2 MiB page into 512 pages of 4 KiB with the same rights.
                // SAFETY: forwarded contract.
                let pt = unsafe { self.new_table(frames)? };
                let base = value & ADDRESS_MASK & !(HUGE_PAGE_SIZE - 1);
                let flags = value & LEAF_FLAGS;
                for i in 0..ENTRIES {
                    // SAFETY: `pt` is a fresh table frame we own.
                    unsafe {
                        self.entry_ptr(pt, i)
                            .write((base + i as u64 * PAGE_SIZE) | flags | PRESENT)
                    };
                }
                // SAFETY: `entry` points into a table we own.
                unsafe { entry.write(pt | PRESENT | WRITABLE | (value & USER)) };
                table = pt;
                break;
            }
            table = value & ADDRESS_MASK;
        }
        // SAFETY: `table` is now the page table (level 0) holding `virt`.
        let entry = unsafe { self.entry_ptr(table, table_index(virt, 0)) };
        // SAFETY: as above.
        if unsafe { entry.read() } & PRESENT == 0 {
            return Err(MapError::NotMapped(virt));
        }
        // SAFETY: as above.
        unsafe { entry.write(0) };
        Ok(())
    }

    /// Lets ring 3 use the pages mapped at `[virt, virt + len)`: sets the user bit in
    /// their leaf entries and in every table entry above them. A page inside a large page
    /// opens the whole large page. All or nothing: if a page of the range is not mapped,
    /// nothing changes. The caller flushes the TLB if these tables are live.
    ///
    /// # Safety
    /// The contract of [`PageTables::new`]; ring-3 code can then read (and, where the
    /// mapping is writable, write) those pages.
    pub unsafe fn allow_user(&mut self, virt: u64, len: u64) -> Result<(), MapError> {
        if !(virt | len).is_multiple_of(PAGE_SIZE) || virt.checked_add(len).is_none() {
            return Err(MapError::Misaligned);
        }
        let pages = (0..len / PAGE_SIZE).map(|i| virt + i * PAGE_SIZE);
        if let Some(missing) = pages.clone().find(|&v| self.translate(v).is_none()) {
            return Err(MapError::NotMapped(missing));
        }
        for v in pages {
            let mut table = self.root;
            for level in [3u32, 2, 1, 0] {
                // SAFETY: `table` is a table frame of this hierarchy; `v` is mapped, so
                // every entry on its path is present.
                let entry = unsafe { self.entry_ptr(table, table_index(v, level)) };
                // SAFETY: as above.
                let value = unsafe { entry.read() };
                // SAFETY: as above.
                unsafe { entry.write(value | USER) };
                if level == 0 || value & HUGE != 0 {
                    break;
                }
                table = value & ADDRESS_MASK;
            }
        }
        Ok(())
    }

    /// Where `virt` maps to, if anywhere.
    pub fn translate(&self, virt: u64) -> Option<Translation> {
        let mut table = self.root;
        let mut user = true;
        for level in [3u32, 2, 1, 0] {
            // SAFETY: `table` is a table frame of this hierarchy (contract of `new`).
            let value = unsafe { self.entry_ptr(table, table_index(virt, level)).read() };
            if value & PRESENT == 0 {
                return None;
            }
            user &= value & USER != 0;
            if level == 0 || value & HUGE != 0 {
                let page_size = match level {
                    0 => PAGE_SIZE,
                    1 => HUGE_PAGE_SIZE,
                    _ => GIANT_PAGE_SIZE, // 1 GiB pages, in tables other loaders built
                };
                let base = value & ADDRESS_MASK & !(page_size - 1);
                return Some(Translation {
                    phys: base + (virt & (page_size - 1)),
                    access: Access::from_bits(value),
                    page_size,
                    user,
                });
            }
            table = value & ADDRESS_MASK;
        }
        None
    }

    /// The entry that maps `virt` as a leaf, and its level, creating missing intermediate
    /// tables: level 0 (a 4 KiB page) or, with `huge`, level 1 (a 2 MiB page) unless a page
    /// table already hangs there (then level 0 in it). Where a large page already covers
    /// `virt`, its entry and level (1 or 2).
    ///
    /// # Safety
    /// The contract of [`PageTables::new`] holds for `frames`.
    unsafe fn leaf_entry(
        &mut self,
        frames: &mut impl TableFrames,
        virt: u64,
        huge: bool,
    ) -> Result<(*mut u64, u32), MapError> {
        let mut table = self.root;
        for level in [3u32, 2, 1] {
            // SAFETY: `table` is a table frame of this hierarchy.
            let entry = unsafe { self.entry_ptr(table, table_index(virt, level)) };
            // SAFETY: as above.
            let value = unsafe { entry.read() };
            table = if value & PRESENT == 0 {
                if huge && level == 1 {
                    return Ok((entry, 1));
                }
                // SAFETY: forwarded contract.
                let next = unsafe { self.new_table(frames)? };
                // SAFETY: as above.
                unsafe { entry.write(next | PRESENT | WRITABLE | self.user) };
                next
            } else if value & HUGE != 0 && level < 3 {
                return Ok((entry, level));
            } else {
                if value & self.user != self.user {
                    // A table made before the hierarchy was opened to ring 3.
                    // SAFETY: as above.
                    unsafe { entry.write(value | self.user) };
                }
                value & ADDRESS_MASK
            };
        }
        // SAFETY: `table` is a page table (level 0) of this hierarchy.
        Ok((unsafe { self.entry_ptr(table, table_index(virt, 0)) }, 0))
    }

    /// Allocates and zeroes a table frame.
    ///
    /// # Safety
    /// The contract of [`PageTables::new`] holds for `frames`.
    unsafe fn new_table(&mut self, frames: &mut impl TableFrames) -> Result<u64, MapError> {
        let frame = frames.alloc_table().ok_or(MapError::OutOfFrames)?;
        // SAFETY: the frame is ours and reachable through the direct map (contract).
        unsafe { self.entry_ptr(frame, 0).write_bytes(0, ENTRIES) };
        Ok(frame)
    }

    /// # Safety
    /// `table` must be a table frame reachable through the direct map.
    unsafe fn entry_ptr(&self, table: u64, index: usize) -> *mut u64 {
        let virt = match self.pool.as_ref().and_then(|pool| pool.virt_of(table)) {
            Some(virt) => virt,
            None => table + self.phys_offset,
        };
        (virt as *mut u64).wrapping_add(index)
    }
}

/// What [`PageTables::map_range`] does with a page that is already mapped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Existing {
    /// Fail: the caller expects the range to be free.
    Refuse,
    /// Keep it if it maps the same frame with the same access; fail otherwise.
    KeepIfSame,
}

impl Existing {
    /// Whether a present entry `value` that maps the page to `found` may stay, where the
    /// caller wants `wanted` with `access`.
    fn keeps(self, found: u64, wanted: u64, value: u64, access: Access) -> bool {
        self == Self::KeepIfSame && found == wanted && Access::from_bits(value) == access
    }
}

/// One call of [`PageTables::map_range`].
#[derive(Clone, Copy, Debug)]
struct MapRange {
    virt: u64,
    phys: u64,
    len: u64,
    access: Access,
    existing: Existing,
}

/// A frame source with nothing in it, for a walk that must not allocate.
struct NoFrames;

impl TableFrames for NoFrames {
    fn alloc_table(&mut self) -> Option<u64> {
        None
    }
}

/// Size of the page a leaf entry at `level` maps (0: 4 KiB, 1: 2 MiB, 2: 1 GiB).
fn level_page_size(level: u32) -> u64 {
    PAGE_SIZE << (9 * level)
}

/// Index into the table at `level` (3 = PML4, 0 = page table) for `virt`.
fn table_index(virt: u64, level: u32) -> usize {
    ((virt >> (12 + 9 * level)) & 0x1ff) as usize
}

#[cfg(test)]
mod tests;
