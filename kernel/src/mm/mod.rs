//! Memory: physical frames, the kernel's page tables, guarded stacks and the heap.
//!
//! [`frame`] and [`paging`] are plain logic (host-tested); the rest wires them to the
//! machine at boot ([`init`]) and serves the rest of the kernel.

pub mod frame;
pub mod paging;
pub mod slab;

#[cfg(target_os = "none")]
mod heap;
#[cfg(target_os = "none")]
mod kernel_space;
#[cfg(target_os = "none")]
pub mod stack;

#[cfg(target_os = "none")]
pub(crate) use heap::take_failure as take_alloc_failure;
#[cfg(target_os = "none")]
pub use heap::{HeapStats, stats as heap_stats};
#[cfg(target_os = "none")]
pub(crate) use kernel_space::{
    MIN_HEAP, MIN_STACK, MemError, TaskStack, allocate_stack, allow_user, free_stack, init,
    map_device, set_boot_view, virt_to_phys,
};
