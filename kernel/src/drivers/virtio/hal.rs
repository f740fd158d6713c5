//! The one `virtio_drivers::Hal`: how virtio queues get DMA memory, reach device registers
//! and hand buffers to devices.

use crate::drivers::dma::{self, DmaRegion, PAGE};
use alloc::collections::BTreeMap;
use core::ptr::NonNull;
use spin::Mutex;
use virtio_drivers::{BufferDirection, Hal, PhysAddr};

/// The kernel's virtio HAL (see each method for its contract).
#[derive(Debug)]
pub struct VirtioHal;

/// Bounce regions for buffers that were not physically contiguous, by physical address.
static BOUNCES: Mutex<BTreeMap<u64, DmaRegion>> = Mutex::new(BTreeMap::new());

// SAFETY: `dma_alloc` returns zeroed, page-aligned, physically contiguous memory that
// nothing else uses until `dma_dealloc`; `share` returns a physical address under which
// the device sees exactly the buffer's bytes (the buffer itself when contiguous, else a
// bounce copy that `unshare` copies back); `mmio_phys_to_virt` maps the registers
// uncached.
unsafe impl Hal for VirtioHal {
    /// Zeroed, page-aligned, physically contiguous pages; `(0, dangling)` when the heap
    /// cannot supply them (virtio-drivers turns that into `Error::DmaError`).
    fn dma_alloc(pages: usize, _direction: BufferDirection) -> (PhysAddr, NonNull<u8>) {
        match DmaRegion::new(pages) {
            Ok(region) => {
                let (phys, virt, _) = region.into_raw();
                (phys, virt)
            }
            Err(e) => {
                log::warn!("virtio: no DMA memory for {pages} pages: {e:?}");
                (0, NonNull::dangling())
            }
        }
    }

    /// Frees what `dma_alloc` returned; always 0 (success).
    unsafe fn dma_dealloc(paddr: PhysAddr, vaddr: NonNull<u8>, pages: usize) -> i32 {
        // SAFETY: the caller passes back exactly what `dma_alloc` returned, once.
        drop(unsafe { DmaRegion::from_raw(paddr, vaddr, pages) });
        0
    }

    /// Maps device registers uncached. Discovery maps every transport before the crate
    /// asks, so this only looks the mapping up; a failure here means device memory could
    /// not be mapped at all and ends the run with a clear message.
    unsafe fn mmio_phys_to_virt(paddr: PhysAddr, size: usize) -> NonNull<u8> {
        match crate::mm::map_device(paddr, size as u64) {
            Ok(virt) => NonNull::new(virt as *mut u8).expect("device memory is never at 0"),
            Err(e) => {
                crate::console::write_fmt(format_args!(
                    "fatal: virtio: cannot map device memory {paddr:#x}+{size:#x}: {e}\n"
                ));
                crate::runtime::exit_now(crate::exit_status::FATAL)
            }
        }
    }

    /// The buffer's own physical address when it is contiguous (zero copy), else a bounce
    /// copy's. A bounce that cannot be allocated ends the run (the crate's `share` cannot
    /// fail); block requests come from the heap, which is contiguous, so that needs a
    /// non-heap buffer and an exhausted heap at once.
    unsafe fn share(buffer: NonNull<[u8]>, direction: BufferDirection) -> PhysAddr {
        let len = buffer.len();
        let start = buffer.as_ptr() as *const u8;
        if let Some(phys) = dma::phys_of(start, len) {
            return phys;
        }
        let region = DmaRegion::new(len.div_ceil(PAGE)).unwrap_or_else(|e| {
            crate::console::write_fmt(format_args!(
                "fatal: virtio: no memory to bounce a {len}-byte buffer: {e:?}\n"
            ));
            crate::runtime::exit_now(crate::exit_status::FATAL)
        });
        if direction != BufferDirection::DeviceToDriver {
            // SAFETY: the caller guarantees `buffer` is valid for reads; the region is at
            // least `len` bytes and distinct from it.
            unsafe { core::ptr::copy_nonoverlapping(start, region.as_ptr(), len) };
        }
        let phys = region.phys();
        BOUNCES.lock().insert(phys, region);
        phys
    }

    /// Copies a bounce back into the buffer (for device-written buffers) and frees it.
    unsafe fn unshare(paddr: PhysAddr, buffer: NonNull<[u8]>, direction: BufferDirection) {
        let Some(region) = BOUNCES.lock().remove(&paddr) else {
            return; // shared in place
        };
        if direction != BufferDirection::DriverToDevice {
            // SAFETY: the caller guarantees `buffer` is valid for writes and the same
            // length as when it was shared; the region holds at least that many bytes.
            unsafe {
                core::ptr::copy_nonoverlapping(
                    region.as_ptr(),
                    buffer.as_ptr() as *mut u8,
                    buffer.len(),
                )
            };
        }
    }
}
