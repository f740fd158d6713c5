//! Host tests of the page tables, built in fake physical memory.

use super::*;
use crate::mm::frame::FrameAllocator;

/// One page of fake physical memory, page-aligned so that the direct map is too.
#[derive(Clone, Copy)]
#[repr(C, align(4096))]
struct FakeFrame([u64; ENTRIES]);

/// Fake physical memory: "physical" address 0 is the start of a heap buffer.
struct FakeMemory {
    buffer: Vec<FakeFrame>,
    frames: FrameAllocator,
}

impl FakeMemory {
    fn new(pages: usize) -> Self {
        let mut frames = FrameAllocator::new();
        frames.add(0, pages as u64 * PAGE_SIZE).unwrap();
        Self {
            buffer: vec![FakeFrame([0; ENTRIES]); pages],
            frames,
        }
    }

    /// The direct-map offset of [`FakeMemory::tables`].
    fn offset(&self) -> u64 {
        self.buffer.as_ptr() as u64
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
fn allow_user_opens_exactly_the_pages_asked_for_or_nothing() {
    let mut mem = FakeMemory::new(64);
    let mut pt = mem.tables();
    // SAFETY: fake memory, nothing is live.
    unsafe {
        pt.map(&mut mem.frames, 0x10_0000, 0x10_0000, 0x4000, Access::TEXT)
            .unwrap();
        pt.map(&mut mem.frames, 0x40_0000, 0x40_0000, 4 << 20, Access::DATA)
            .unwrap();
    }
    let user = |pt: &PageTables, v: u64| pt.translate(v).unwrap().user;
    assert!(!user(&pt, 0x10_1000));
    // SAFETY: fake memory.
    unsafe { pt.allow_user(0x10_1000, 0x2000).unwrap() };
    assert_eq!(
        [0x10_0000, 0x10_1000, 0x10_2000, 0x10_3000].map(|v| user(&pt, v)),
        [false, true, true, false]
    );
    // The access rights stay as mapped.
    assert_eq!(pt.translate(0x10_1000).unwrap().access, Access::TEXT);
    // A page inside a 2 MiB page opens all of it, and only it.
    // SAFETY: fake memory.
    unsafe { pt.allow_user(0x40_3000, 0x1000).unwrap() };
    assert!(user(&pt, 0x5f_f000));
    assert!(!user(&pt, 0x60_0000));
    // A range that runs past the mapping changes nothing.
    // SAFETY: fake memory.
    let result = unsafe { pt.allow_user(0x10_3000, 0x2000) };
    assert_eq!(result, Err(MapError::NotMapped(0x10_4000)));
    assert!(!user(&pt, 0x10_3000));
    // SAFETY: fake memory.
    let result = unsafe { pt.allow_user(0x10_0800, 0x1000) };
    assert_eq!(result, Err(MapError::Misaligned));
}

#[test]
fn tables_opened_to_ring3_map_everything_for_ring3() {
    let mut mem = FakeMemory::new(64);
    let mut pt = mem.tables();
    // SAFETY: fake memory, nothing is live.
    unsafe {
        pt.map(&mut mem.frames, 0x10_0000, 0x10_0000, 0x1000, Access::TEXT)
            .unwrap();
    }
    pt.open_to_ring3();
    // SAFETY: fake memory.
    unsafe {
        pt.map(&mut mem.frames, 0x20_0000, 0x20_0000, 0x1000, Access::DATA)
            .unwrap();
        pt.map(
            &mut mem.frames,
            0x8000_0000,
            0x40_0000,
            2 << 20,
            Access::DATA,
        )
        .unwrap();
        // Splitting a large page keeps the user bit on its small pages.
        pt.unmap_page(&mut mem.frames, 0x8010_0000).unwrap();
    }
    assert!(!pt.translate(0x10_0000).unwrap().user, "mapped before");
    assert!(pt.translate(0x20_0000).unwrap().user);
    assert!(pt.translate(0x8000_0000).unwrap().user);
    assert_eq!(pt.translate(0x8000_0000).unwrap().page_size, PAGE_SIZE);
    assert_eq!(pt.translate(0x8000_0000).unwrap().access, Access::DATA);
    assert_eq!(pt.translate(0x8010_0000), None);
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

/// Every 4 KiB page of `[virt, virt + len)` that `pt` maps.
fn mapped_pages(pt: &PageTables, virt: u64, len: u64) -> Vec<u64> {
    (virt..virt + len)
        .step_by(PAGE_SIZE as usize)
        .filter(|&v| pt.translate(v).is_some())
        .collect()
}

#[test]
fn running_out_of_frames_half_way_maps_nothing() {
    // Root, PDPT, PD and one page table fit; the range crosses into a second page table.
    let mut mem = FakeMemory::new(8);
    mem.frames.reserve(4 * PAGE_SIZE, 8 * PAGE_SIZE).unwrap();
    let mut pt = mem.tables();
    let (virt, len) = (0x1fc000, 0x8000);
    // SAFETY: fake memory.
    let result = unsafe { pt.map(&mut mem.frames, virt, 0x1000, len, Access::DATA) };
    assert_eq!(result, Err(MapError::OutOfFrames));
    assert_eq!(mapped_pages(&pt, virt, len), Vec::<u64>::new());
    // With one more frame the same call succeeds, reusing the (empty) tables left behind.
    mem.frames.free(4 * PAGE_SIZE, 1).unwrap();
    // SAFETY: fake memory.
    unsafe { pt.map(&mut mem.frames, virt, 0x1000, len, Access::DATA) }.unwrap();
    assert_eq!(mapped_pages(&pt, virt, len).len(), 8);
    assert_eq!(pt.translate(0x203008).unwrap().phys, 0x8008);
    assert_eq!(mem.frames.free_bytes(), 0);
}

#[test]
fn running_out_of_frames_after_a_huge_page_maps_nothing() {
    // A 2 MiB page (needs no new table) then 4 KiB pages in a new page table that has no frame.
    let mut mem = FakeMemory::new(8);
    mem.frames.reserve(3 * PAGE_SIZE, 8 * PAGE_SIZE).unwrap();
    let mut pt = mem.tables();
    let len = HUGE_PAGE_SIZE + PAGE_SIZE;
    // SAFETY: fake memory.
    let result = unsafe { pt.map(&mut mem.frames, 0x20_0000, 0x20_0000, len, Access::DATA) };
    assert_eq!(result, Err(MapError::OutOfFrames));
    assert_eq!(mapped_pages(&pt, 0x20_0000, len), Vec::<u64>::new());
}

#[test]
fn a_clash_half_way_maps_nothing() {
    let mut mem = FakeMemory::new(64);
    let mut pt = mem.tables();
    // SAFETY: fake memory.
    unsafe {
        pt.map(&mut mem.frames, 0x40_2000, 0x9000, PAGE_SIZE, Access::TEXT)
            .unwrap();
        // A 2 MiB page and three 4 KiB pages would fit before the clash at 0x402000.
        assert_eq!(
            pt.map(
                &mut mem.frames,
                0x20_0000,
                0x20_0000,
                HUGE_PAGE_SIZE + 0x4000,
                Access::DATA
            ),
            Err(MapError::AlreadyMapped(0x40_2000))
        );
    }
    assert_eq!(
        mapped_pages(&pt, 0x20_0000, HUGE_PAGE_SIZE + 0x4000),
        vec![0x40_2000]
    );
    let t = pt.translate(0x40_2000).unwrap();
    assert_eq!((t.phys, t.access), (0x9000, Access::TEXT));
}

#[test]
fn a_huge_range_over_an_empty_page_table_uses_small_pages() {
    // A page table left empty (here by an unmap) sits where a 2 MiB page would go.
    let mut mem = FakeMemory::new(64);
    let mut pt = mem.tables();
    // SAFETY: fake memory.
    unsafe {
        pt.map(
            &mut mem.frames,
            0x20_0000,
            0x20_0000,
            PAGE_SIZE,
            Access::DATA,
        )
        .unwrap();
        pt.unmap_page(&mut mem.frames, 0x20_0000).unwrap();
        pt.map(
            &mut mem.frames,
            0x20_0000,
            0x60_0000,
            HUGE_PAGE_SIZE,
            Access::DATA,
        )
        .unwrap();
    }
    assert_eq!(mapped_pages(&pt, 0x20_0000, HUGE_PAGE_SIZE).len(), 512);
    let t = pt.translate(0x3f_f008).unwrap();
    assert_eq!((t.phys, t.page_size), (0x7f_f008, PAGE_SIZE));
}

#[test]
fn map_device_maps_every_page_of_a_window_once() {
    let mut mem = FakeMemory::new(64);
    let offset = mem.offset();
    let mut pt = mem.tables();
    let base = 0xfeb0_0000;
    // SAFETY: fake memory.
    unsafe {
        // A one-page window, then one that starts in that page and runs two pages further.
        assert_eq!(
            pt.map_device(&mut mem.frames, base + 0x200, 0x200),
            Ok(base + 0x200 + offset)
        );
        assert_eq!(
            pt.map_device(&mut mem.frames, base + 0x800, 0x2000),
            Ok(base + 0x800 + offset)
        );
        // Transports 0x200 apart in one page, mapped again and again.
        for i in 0..8 {
            let phys = base + 0x1000 + i * 0x200;
            assert_eq!(
                pt.map_device(&mut mem.frames, phys, 0x200),
                Ok(phys + offset)
            );
        }
    }
    assert_eq!(
        mapped_pages(&pt, base + offset - 0x1000, 0x5000),
        vec![
            base + offset,
            base + offset + 0x1000,
            base + offset + 0x2000
        ]
    );
    for page in 0..3 {
        let t = pt
            .translate(base + offset + page * PAGE_SIZE + 0x10)
            .unwrap();
        assert_eq!(
            (t.phys, t.access),
            (base + page * PAGE_SIZE + 0x10, Access::DEVICE)
        );
    }
}

#[test]
fn map_device_refuses_pages_mapped_otherwise_and_maps_none_of_the_window() {
    let mut mem = FakeMemory::new(64);
    let offset = mem.offset();
    let mut pt = mem.tables();
    let base = 0xc000_0000;
    // SAFETY: fake memory.
    unsafe {
        // The window's second page is mapped cached (as RAM would be).
        pt.map(
            &mut mem.frames,
            base + offset + PAGE_SIZE,
            base + PAGE_SIZE,
            PAGE_SIZE,
            Access::DATA,
        )
        .unwrap();
        assert_eq!(
            pt.map_device(&mut mem.frames, base, 3 * PAGE_SIZE),
            Err(MapError::AlreadyMapped(base + offset + PAGE_SIZE))
        );
        assert_eq!(
            pt.map_device(&mut mem.frames, u64::MAX - 0x10, 0x100),
            Err(MapError::Misaligned)
        );
    }
    assert_eq!(
        mapped_pages(&pt, base + offset, 3 * PAGE_SIZE),
        vec![base + offset + PAGE_SIZE]
    );
}

#[test]
fn map_missing_keeps_a_large_page_that_already_maps_the_range() {
    let mut mem = FakeMemory::new(64);
    let mut pt = mem.tables();
    // SAFETY: fake memory.
    unsafe {
        pt.map(
            &mut mem.frames,
            0x4000_0000,
            0x8000_0000,
            HUGE_PAGE_SIZE,
            Access::DEVICE,
        )
        .unwrap();
        pt.map_missing(
            &mut mem.frames,
            0x401f_f000,
            0x801f_f000,
            0x3000,
            Access::DEVICE,
        )
        .unwrap();
        assert_eq!(
            pt.map_missing(
                &mut mem.frames,
                0x4000_1000,
                0x8000_1000,
                PAGE_SIZE,
                Access::DATA
            ),
            Err(MapError::AlreadyMapped(0x4000_1000))
        );
        assert_eq!(
            pt.map_missing(
                &mut mem.frames,
                0x4000_1000,
                0x9000_1000,
                PAGE_SIZE,
                Access::DEVICE
            ),
            Err(MapError::AlreadyMapped(0x4000_1000))
        );
    }
    assert_eq!(pt.translate(0x4010_0000).unwrap().page_size, HUGE_PAGE_SIZE);
    let t = pt.translate(0x4020_1008).unwrap();
    assert_eq!((t.phys, t.page_size), (0x8020_1008, PAGE_SIZE));
    assert_eq!(pt.translate(0x4020_2000), None);
}
