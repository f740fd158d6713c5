//! The kernel heap (`#[global_allocator]`): a first-fit `linked_list_allocator` over one
//! contiguous block of frames chosen at boot, with size classes in front of it for small
//! blocks ([`super::slab`]: O(1) however fragmented the heap is).
//!
//! A failed allocation records its layout; infallible allocations then panic (Rust's
//! default alloc error handler) and the panic report names the request with
//! [`take_failure`]. Fallible ones (`try_reserve`) just get the error.

use crate::sync::IrqMutex;
use core::alloc::{GlobalAlloc, Layout};
use core::ptr::NonNull;
use core::sync::atomic::{AtomicUsize, Ordering};
use linked_list_allocator::Heap;

use super::slab::SizeClasses;

struct Inner {
    heap: Heap,
    small: SizeClasses,
}

struct KernelHeap {
    /// Interrupt-safe: a handler that wakes a task may grow the run queue.
    heap: IrqMutex<Inner>,
}

/// Size and alignment of the last failed allocation (0 = none).
static FAILED_SIZE: AtomicUsize = AtomicUsize::new(0);
static FAILED_ALIGN: AtomicUsize = AtomicUsize::new(0);

// SAFETY: `Heap` hands out disjoint, correctly aligned blocks from memory it owns
// exclusively (see `init`); the mutex serialises access.
unsafe impl GlobalAlloc for KernelHeap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let mut inner = self.heap.lock();
        let Inner { heap, small } = &mut *inner;
        let got = if SizeClasses::serves(layout) {
            // SAFETY: chunks come from the heap, which owns its memory; blocks go back
            // to `small` with their layout (`dealloc`).
            unsafe { small.alloc(layout, |chunk| heap.allocate_first_fit(chunk).ok()) }.ok_or(())
        } else {
            heap.allocate_first_fit(layout)
        };
        match got {
            Ok(block) => {
                // A later success means an earlier failure was handled (try_reserve):
                // forget it, so an unrelated panic is not blamed on memory.
                if FAILED_ALIGN.load(Ordering::Relaxed) != 0 {
                    FAILED_ALIGN.store(0, Ordering::Relaxed);
                }
                block.as_ptr()
            }
            Err(()) => {
                FAILED_SIZE.store(layout.size(), Ordering::Relaxed);
                FAILED_ALIGN.store(layout.align(), Ordering::Relaxed);
                core::ptr::null_mut()
            }
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if let Some(block) = NonNull::new(ptr) {
            let mut inner = self.heap.lock();
            if SizeClasses::serves(layout) {
                // SAFETY: `ptr` came from `alloc` with this `layout` (GlobalAlloc
                // contract), so from `small`.
                unsafe { inner.small.free(block, layout) };
            } else {
                // SAFETY: as above, from the heap.
                unsafe { inner.heap.deallocate(block, layout) };
            }
        }
    }
}

#[global_allocator]
static HEAP: KernelHeap = KernelHeap {
    heap: IrqMutex::new(Inner {
        heap: Heap::empty(),
        small: SizeClasses::new(),
    }),
};

/// Hands `[start, start + size)` to the heap.
///
/// # Safety
/// The range must be mapped read-write, unused by anything else, forever; call once.
pub(crate) unsafe fn init(start: u64, size: usize) {
    // SAFETY: forwarded to the caller.
    unsafe { HEAP.heap.lock().heap.init(start as *mut u8, size) };
}

/// Heap usage in bytes.
#[derive(Clone, Copy, Debug)]
pub struct HeapStats {
    pub size: usize,
    pub used: usize,
}

/// Current heap usage (zeros if the heap is busy, e.g. on a fatal path).
pub fn stats() -> HeapStats {
    match HEAP.heap.try_lock() {
        Some(inner) => HeapStats {
            size: inner.heap.size(),
            // Blocks waiting in the size classes are free.
            used: inner.heap.used() - inner.small.free_bytes(),
        },
        None => HeapStats { size: 0, used: 0 },
    }
}

/// The last failed allocation as (size, align), clearing it.
pub(crate) fn take_failure() -> Option<(usize, usize)> {
    let size = FAILED_SIZE.swap(0, Ordering::Relaxed);
    let align = FAILED_ALIGN.swap(0, Ordering::Relaxed);
    (align != 0).then_some((size, align))
}
