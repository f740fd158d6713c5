//! Memory that devices read and write: physically contiguous, page-aligned, zeroed
//! [`DmaRegion`]s, and the check that a caller's buffer is physically contiguous before it
//! is handed to a device as it is.
//!
//! How contiguity is guaranteed: DMA regions come from the heap, which is one block of
//! RAM mapped linearly (the direct map), and every region's pages are checked against the
//! page tables when it is made ([`contiguous_phys`]); a buffer a caller hands over (a
//! request's data) is checked page by page the same way, and the virtio HAL copies it
//! through a bounce region when it is not contiguous (a static in a disk-image kernel,
//! whose pages the loader placed).

/// A page.
pub const PAGE: usize = 4096;

/// The physical address of `len` bytes at `virt` if they are physically contiguous, with
/// `translate` giving the physical address of a virtual one (`None`: unmapped). Pure, so
/// the rule is tested on the host against a fake translation.
pub fn contiguous_phys(
    virt: u64,
    len: usize,
    translate: impl Fn(u64) -> Option<u64>,
) -> Option<u64> {
    let start = translate(virt)?;
    if len == 0 {
        return Some(start);
    }
    let end = virt.checked_add(len as u64 - 1)?;
    let mut page = (virt & !(PAGE as u64 - 1)) + PAGE as u64;
    while page <= end {
        if translate(page)? != start + (page - virt) {
            return None;
        }
        page += PAGE as u64;
    }
    Some(start)
}

#[cfg(target_os = "none")]
pub use region::{DmaError, DmaRegion, phys_of};

#[cfg(target_os = "none")]
mod region {
    use super::PAGE;
    use alloc::alloc::{Layout, alloc_zeroed, dealloc};
    use core::ptr::NonNull;

    /// Why DMA memory could not be had.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum DmaError {
        /// The heap could not supply the pages.
        OutOfMemory,
        /// The pages are not physically contiguous (the heap is not in the direct map).
        NotContiguous,
    }

    /// The physical address of `len` bytes at `virt` if they are physically contiguous.
    pub fn phys_of(virt: *const u8, len: usize) -> Option<u64> {
        super::contiguous_phys(virt as u64, len, crate::mm::virt_to_phys)
    }

    /// Zeroed, page-aligned, physically contiguous memory; freed on drop.
    #[derive(Debug)]
    pub struct DmaRegion {
        virt: NonNull<u8>,
        phys: u64,
        pages: usize,
    }

    // SAFETY: the region is plain memory owned by this value; sharing it between tasks is
    // as safe as sharing a `Box<[u8]>`.
    unsafe impl Send for DmaRegion {}
    // SAFETY: as for `Send`; `&DmaRegion` gives out only addresses.
    unsafe impl Sync for DmaRegion {}

    impl DmaRegion {
        pub fn new(pages: usize) -> Result<Self, DmaError> {
            let layout = Self::layout(pages).ok_or(DmaError::OutOfMemory)?;
            // SAFETY: the layout has a non-zero size (at least one page).
            let virt =
                NonNull::new(unsafe { alloc_zeroed(layout) }).ok_or(DmaError::OutOfMemory)?;
            match phys_of(virt.as_ptr(), layout.size()) {
                Some(phys) => Ok(Self { virt, phys, pages }),
                None => {
                    // SAFETY: allocated just above with this layout.
                    unsafe { dealloc(virt.as_ptr(), layout) };
                    Err(DmaError::NotContiguous)
                }
            }
        }

        fn layout(pages: usize) -> Option<Layout> {
            Layout::from_size_align(pages.max(1).checked_mul(PAGE)?, PAGE).ok()
        }

        /// The physical address devices use.
        pub fn phys(&self) -> u64 {
            self.phys
        }

        pub fn as_ptr(&self) -> *mut u8 {
            self.virt.as_ptr()
        }

        pub fn pages(&self) -> usize {
            self.pages
        }

        pub fn len(&self) -> usize {
            self.pages.max(1) * PAGE
        }

        /// Never: a region has at least one page.
        pub fn is_empty(&self) -> bool {
            false
        }

        /// Gives up ownership: the memory stays allocated until [`Self::from_raw`].
        pub fn into_raw(self) -> (u64, NonNull<u8>, usize) {
            let parts = (self.phys, self.virt, self.pages);
            core::mem::forget(self);
            parts
        }

        /// Takes back a region given up with [`Self::into_raw`].
        ///
        /// # Safety
        /// The parts must come from `into_raw`, once.
        pub unsafe fn from_raw(phys: u64, virt: NonNull<u8>, pages: usize) -> Self {
            Self { virt, phys, pages }
        }
    }

    impl Drop for DmaRegion {
        fn drop(&mut self) {
            let layout = Self::layout(self.pages).expect("made with this layout");
            // SAFETY: allocated in `new` with this layout and owned by this value.
            unsafe { dealloc(self.virt.as_ptr(), layout) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Virtual pages 0x10000.. map to physical 0x80000.. except page 0x13000, which maps
    /// elsewhere, and 0x15000, which is unmapped.
    fn translate(virt: u64) -> Option<u64> {
        let page = virt & !0xfff;
        let offset = virt & 0xfff;
        match page {
            0x13000 => Some(0x20_0000 + offset),
            0x15000 => None,
            p if (0x10000..0x20000).contains(&p) => Some(p - 0x10000 + 0x80000 + offset),
            _ => None,
        }
    }

    #[test]
    fn contiguous_range_gives_its_start() {
        assert_eq!(contiguous_phys(0x10010, 0x2000, translate), Some(0x80010));
        assert_eq!(contiguous_phys(0x10ff0, 0x20, translate), Some(0x80ff0));
        assert_eq!(contiguous_phys(0x12000, 0x1000, translate), Some(0x82000));
    }

    #[test]
    fn a_page_placed_elsewhere_breaks_contiguity() {
        assert_eq!(contiguous_phys(0x12ff0, 0x20, translate), None);
        assert_eq!(contiguous_phys(0x10000, 0x4000, translate), None);
    }

    #[test]
    fn an_unmapped_page_breaks_contiguity() {
        assert_eq!(contiguous_phys(0x14800, 0x1000, translate), None);
        assert_eq!(contiguous_phys(0x15000, 1, translate), None);
    }

    #[test]
    fn last_byte_decides_the_last_page() {
        // Ends exactly at a page boundary: the next (foreign) page is not touched.
        assert_eq!(contiguous_phys(0x12000, 0x1000, translate), Some(0x82000));
        assert_eq!(contiguous_phys(0x12001, 0x1000, translate), None);
    }

    #[test]
    fn random_ranges_agree_with_a_byte_by_byte_check() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..5_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let virt = 0x10000 + seed % 0x6000;
            let len = (seed >> 20) as usize % 0x3000 + 1;
            let slow = (0..len as u64).all(|i| {
                translate(virt + i).is_some_and(|p| Some(p) == translate(virt).map(|s| s + i))
            });
            assert_eq!(
                contiguous_phys(virt, len, translate).is_some(),
                slow,
                "{virt:#x}+{len:#x}"
            );
        }
    }
}
