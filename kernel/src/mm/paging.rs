//! Four-level x86_64 page tables that the kernel builds and owns.
//!
//! [`PageTables`] writes table entries through a direct map (`virt = phys + phys_offset`)
//! and takes new table frames from a [`TableFrames`] source, so the same code runs on the
//! host against fake memory in the tests. It knows nothing of the live CPU: installing the
//! root and flushing the TLB belong to `arch`.

use super::frame::{FrameAllocator, PAGE_SIZE};

const PRESENT: u64 = 1;
const WRITABLE: u64 = 1 << 1;
const WRITE_THROUGH: u64 = 1 << 3;
const NO_CACHE: u64 = 1 << 4;
const HUGE: u64 = 1 << 7;
const GLOBAL: u64 = 1 << 8;
const NO_EXECUTE: u64 = 1 << 63;
const ADDRESS_MASK: u64 = 0x000f_ffff_ffff_f000;
/// Leaf flags that a split of a 2 MiB page copies to its 4 KiB pages.
const LEAF_FLAGS: u64 = WRITABLE | WRITE_THROUGH | NO_CACHE | GLOBAL | NO_EXECUTE;

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
}

/// A page-table hierarchy rooted at a PML4 frame.
#[derive(Debug)]
pub struct PageTables {
    root: u64,
    phys_offset: u64,
    /// Table frames reached at fixed virtual addresses instead of through the direct map.
    pool: Option<FramePoolView>,
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
        }
    }

    /// Physical address of the PML4, for CR3.
    pub fn root(&self) -> u64 {
        self.root
    }

    /// Maps `[virt, virt + len)` to `[phys, phys + len)`, with 2 MiB pages where both
    /// sides are aligned.
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
        if !(virt | phys | len).is_multiple_of(PAGE_SIZE)
            || virt.checked_add(len).is_none()
            || phys.checked_add(len).is_none()
        {
            return Err(MapError::Misaligned);
        }
        let mut done = 0;
        while done < len {
            let (v, p) = (virt + done, phys + done);
            let huge = (v | p).is_multiple_of(HUGE_PAGE_SIZE) && len - done >= HUGE_PAGE_SIZE;
            // SAFETY: forwarded contract of this function.
            let entry = unsafe { self.leaf_entry(frames, v, huge)? };
            // A 2 MiB page, or a run of 4 KiB pages up to the end of this page table
            // (one table walk per run, not per page).
            let pages = if huge {
                1
            } else {
                let to_table_end = ENTRIES - table_index(v, 0);
                to_table_end.min(((len - done) / PAGE_SIZE) as usize)
            };
            let (step, bits) = if huge {
                (HUGE_PAGE_SIZE, access.bits() | HUGE)
            } else {
                (PAGE_SIZE, access.bits())
            };
            for i in 0..pages {
                // SAFETY: `leaf_entry` points into a table frame we own, and the run stays
                // within that table.
                let entry = unsafe { entry.add(i) };
                // SAFETY: as above.
                if unsafe { entry.read() } & PRESENT != 0 {
                    return Err(MapError::AlreadyMapped(v + i as u64 * step));
                }
                // SAFETY: as above.
                unsafe { entry.write((p + i as u64 * step) | bits) };
            }
            done += pages as u64 * step;
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
                unsafe { entry.write(pt | PRESENT | WRITABLE) };
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

    /// Where `virt` maps to, if anywhere.
    pub fn translate(&self, virt: u64) -> Option<Translation> {
        let mut table = self.root;
        for level in [3u32, 2, 1, 0] {
            // SAFETY: `table` is a table frame of this hierarchy (contract of `new`).
            let value = unsafe { self.entry_ptr(table, table_index(virt, level)).read() };
            if value & PRESENT == 0 {
                return None;
            }
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
                });
            }
            table = value & ADDRESS_MASK;
        }
        None
    }

    /// Pointer to the leaf entry for `virt`, creating intermediate tables. `huge` stops
    /// at the page directory (2 MiB leaf).
    ///
    /// # Safety
    /// The contract of [`PageTables::new`] holds for `frames`.
    unsafe fn leaf_entry(
        &mut self,
        frames: &mut impl TableFrames,
        virt: u64,
        huge: bool,
    ) -> Result<*mut u64, MapError> {
        let mut table = self.root;
        let last = if huge { 1 } else { 0 };
        for level in (last + 1..=3).rev() {
            // SAFETY: `table` is a table frame of this hierarchy.
            let entry = unsafe { self.entry_ptr(table, table_index(virt, level)) };
            // SAFETY: as above.
            let value = unsafe { entry.read() };
            table = if value & PRESENT == 0 {
                // SAFETY: forwarded contract.
                let next = unsafe { self.new_table(frames)? };
                // SAFETY: as above.
                unsafe { entry.write(next | PRESENT | WRITABLE) };
                next
            } else if value & HUGE != 0 {
                return Err(MapError::AlreadyMapped(virt));
            } else {
                value & ADDRESS_MASK
            };
        }
        // SAFETY: `table` is a table frame at level `last`.
        Ok(unsafe { self.entry_ptr(table, table_index(virt, last)) })
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

/// Index into the table at `level` (3 = PML4, 0 = page table) for `virt`.
fn table_index(virt: u64, level: u32) -> usize {
    ((virt >> (12 + 9 * level)) & 0x1ff) as usize
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mm::frame::FrameAllocator;

    /// Fake physical memory: "physical" address 0 is the start of a heap buffer.
    struct FakeMemory {
        buffer: Vec<[u64; ENTRIES]>,
        frames: FrameAllocator,
    }

    impl FakeMemory {
        fn new(pages: usize) -> Self {
            let mut frames = FrameAllocator::new();
            frames.add(0, pages as u64 * PAGE_SIZE).unwrap();
            Self {
                buffer: vec![[0; ENTRIES]; pages],
                frames,
            }
        }

        fn tables(&mut self) -> PageTables {
            let offset = self.buffer.as_mut_ptr() as u64;
            // SAFETY: the frames index into `buffer`, which outlives the test's tables.
            unsafe { PageTables::new(&mut self.frames, offset).unwrap() }
        }
    }

    #[test]
    fn maps_small_and_huge_pages() {
        let mut mem = FakeMemory::new(64);
        let mut pt = mem.tables();
        // SAFETY: fake memory, nothing is live.
        unsafe {
            pt.map(&mut mem.frames, 0x10_0000, 0x10_0000, 0x3000, Access::TEXT)
                .unwrap();
            pt.map(
                &mut mem.frames,
                0x4000_0000,
                0x20_0000,
                4 << 20,
                Access::DATA,
            )
            .unwrap();
        }
        let t = pt.translate(0x10_1234).unwrap();
        assert_eq!(
            (t.phys, t.access, t.page_size),
            (0x10_1234, Access::TEXT, PAGE_SIZE)
        );
        let t = pt.translate(0x4030_0010).unwrap();
        assert_eq!(
            (t.phys, t.access, t.page_size),
            (0x50_0010, Access::DATA, HUGE_PAGE_SIZE)
        );
        assert_eq!(pt.translate(0x10_3000), None);
        assert_eq!(pt.translate(0), None);
    }

    #[test]
    fn mixed_alignment_uses_small_pages_at_the_edges() {
        let mut mem = FakeMemory::new(64);
        let mut pt = mem.tables();
        // SAFETY: fake memory.
        unsafe {
            pt.map(
                &mut mem.frames,
                0x1f_f000,
                0x1f_f000,
                0x20_2000,
                Access::DATA,
            )
            .unwrap()
        };
        assert_eq!(pt.translate(0x1f_f000).unwrap().page_size, PAGE_SIZE);
        assert_eq!(pt.translate(0x20_0000).unwrap().page_size, HUGE_PAGE_SIZE);
        assert_eq!(pt.translate(0x40_0000).unwrap().page_size, PAGE_SIZE);
        assert_eq!(pt.translate(0x40_1000), None);
    }

    #[test]
    fn small_page_runs_cross_table_boundaries() {
        let mut mem = FakeMemory::new(64);
        let mut pt = mem.tables();
        // Phys not 2 MiB-aligned: all 4 KiB pages, crossing from one page table into the next.
        // SAFETY: fake memory.
        unsafe {
            pt.map(&mut mem.frames, 0x1fe000, 0x1000, 0x4000, Access::DATA)
                .unwrap()
        };
        for i in 0..4u64 {
            let t = pt.translate(0x1fe000 + i * PAGE_SIZE + 8).unwrap();
            assert_eq!(
                (t.phys, t.page_size),
                (0x1000 + i * PAGE_SIZE + 8, PAGE_SIZE)
            );
        }
        assert_eq!(pt.translate(0x202000), None);
        assert_eq!(pt.translate(0x1fd000), None);
        // SAFETY: fake memory.
        let clash = unsafe { pt.map(&mut mem.frames, 0x1ff000, 0x9000, 0x2000, Access::DATA) };
        assert_eq!(clash, Err(MapError::AlreadyMapped(0x1ff000)));
    }

    #[test]
    fn translate_understands_giant_pages() {
        let mut mem = FakeMemory::new(8);
        let pt = mem.tables();
        // A 1 GiB page at PDPT level, as another loader might build: 0x4000_0000 -> 0x8000_0000.
        // SAFETY: fake memory; the root's first entry is written below.
        unsafe {
            let pdpt = mem.frames.alloc(1, 1).unwrap();
            let base = mem.buffer.as_mut_ptr() as u64;
            ((base + pt.root()) as *mut u64).write(pdpt | PRESENT | WRITABLE);
            ((base + pdpt) as *mut u64)
                .add(1)
                .write(0x8000_0000 | PRESENT | HUGE);
        }
        let t = pt.translate(0x4012_3456).unwrap();
        assert_eq!((t.phys, t.page_size), (0x8012_3456, GIANT_PAGE_SIZE));
    }

    #[test]
    fn tables_built_in_a_pool_live_at_the_pool_addresses() {
        // The pool's "physical" frames (0x7000_0000...) are not in any direct map.
        let mut storage = vec![[0u64; ENTRIES]; 8];
        let phys: Vec<u64> = (0..8).map(|i| 0x7000_0000 + i * PAGE_SIZE).collect();
        let base = storage.as_mut_ptr() as u64;
        // SAFETY: `storage` outlives the tables and is used by nothing else.
        let mut pool = unsafe { FramePool::new(base, &phys) };
        let view = pool.view();
        // SAFETY: only pool frames are used (no fallback), all reachable through the pool.
        let mut pt = unsafe { PageTables::with_pool(&mut pool, u64::MAX / 2, Some(view)).unwrap() };
        // SAFETY: as above.
        unsafe {
            pt.map(&mut pool, 0x20_0000, 0x9000_0000, 0x3000, Access::TEXT)
                .unwrap()
        };
        assert_eq!(pt.root(), 0x7000_0000);
        assert_eq!(pool.remaining(), 4); // root, PDPT, PD, PT
        assert_eq!(pt.translate(0x20_1010).unwrap().phys, 0x9000_1010);
        // SAFETY: as above.
        let more = unsafe { pt.map(&mut pool, 0x8000_0000_0000, 0, PAGE_SIZE, Access::DATA) };
        assert!(more.is_ok());
        assert_eq!(pool.remaining(), 1);
        // SAFETY: as above.
        let full = unsafe { pt.map(&mut pool, 0x9000_0000_0000, 0, PAGE_SIZE, Access::DATA) };
        assert_eq!(full, Err(MapError::OutOfFrames));
        drop(storage);
    }

    #[test]
    fn recursive_addresses() {
        // Slot 510: the PML4 itself is at 0xffff_ff7f_bfdf_e000.
        let [pml4e, pdpte, pde, pte] = recursive_entry_addresses(510, 0x20_1000);
        assert_eq!(pml4e, 0xffff_ff7f_bfdf_e000);
        assert_eq!(pdpte, 0xffff_ff7f_bfc0_0000);
        assert_eq!(pde, 0xffff_ff7f_8000_0000 + 8);
        assert_eq!(pte, 0xffff_ff00_0000_0000 + (1 << 12) + 8);
    }

    #[test]
    fn recursive_translate_walks_and_stops() {
        let virt = 0x20_1234u64;
        let [a4, a3, a2, a1] = recursive_entry_addresses(510, virt);
        let read = |huge_at_pd: bool| {
            move |addr: u64| match addr {
                a if a == a4 => 0x1000 | PRESENT,
                a if a == a3 => 0x2000 | PRESENT,
                a if a == a2 && huge_at_pd => 0x4000_0000 | PRESENT | HUGE,
                a if a == a2 => 0x3000 | PRESENT,
                a if a == a1 => 0x5555_5000 | PRESENT,
                _ => 0,
            }
        };
        assert_eq!(
            recursive_translate(510, virt, read(false)),
            Some(0x5555_5234)
        );
        assert_eq!(
            recursive_translate(510, virt, read(true)),
            Some(0x4000_1234)
        );
        assert_eq!(
            recursive_translate(510, 0x4000_0000_0000, read(false)),
            None
        );
    }

    #[test]
    fn refuses_overlaps_and_misalignment() {
        let mut mem = FakeMemory::new(64);
        let mut pt = mem.tables();
        // SAFETY: fake memory.
        unsafe {
            pt.map(&mut mem.frames, 0x20_0000, 0, HUGE_PAGE_SIZE, Access::DATA)
                .unwrap();
            assert_eq!(
                pt.map(&mut mem.frames, 0x20_1000, 0, PAGE_SIZE, Access::DATA),
                Err(MapError::AlreadyMapped(0x20_1000))
            );
            assert_eq!(
                pt.map(&mut mem.frames, 0x1000, 0x10, PAGE_SIZE, Access::DATA),
                Err(MapError::Misaligned)
            );
        }
    }

    #[test]
    fn unmap_splits_huge_pages_and_keeps_neighbours() {
        let mut mem = FakeMemory::new(64);
        let mut pt = mem.tables();
        // SAFETY: fake memory.
        unsafe {
            pt.map(
                &mut mem.frames,
                0x20_0000,
                0x60_0000,
                HUGE_PAGE_SIZE,
                Access::DATA,
            )
            .unwrap();
            pt.unmap_page(&mut mem.frames, 0x20_5000).unwrap();
            assert_eq!(
                pt.unmap_page(&mut mem.frames, 0x20_5000),
                Err(MapError::NotMapped(0x20_5000))
            );
        }
        assert_eq!(pt.translate(0x20_5000), None);
        let t = pt.translate(0x20_6008).unwrap();
        assert_eq!(
            (t.phys, t.access, t.page_size),
            (0x60_6008, Access::DATA, PAGE_SIZE)
        );
        assert_eq!(pt.translate(0x20_4000).unwrap().phys, 0x60_4000);
    }

    #[test]
    fn running_out_of_frames_is_an_error() {
        let mut mem = FakeMemory::new(2);
        let mut pt = mem.tables();
        // SAFETY: fake memory.
        let result = unsafe { pt.map(&mut mem.frames, 0x1000, 0x1000, PAGE_SIZE, Access::DATA) };
        assert_eq!(result, Err(MapError::OutOfFrames));
    }
}
