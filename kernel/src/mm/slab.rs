//! Size classes in front of the heap: small blocks come from per-size free lists, so
//! allocating and freeing them is O(1) whatever the heap's fragmentation.
//!
//! The heap behind (`linked_list_allocator`) is first-fit over one free list: each
//! allocation and each free walks it, and after many small frees that list is long (an
//! app that frees a hundred thousand keys made every later allocation crawl). Here a
//! request of at most [`MAX_SMALL`] bytes and alignment at most [`ALIGN`] is rounded up to
//! a class; each class keeps the blocks freed to it in an intrusive list (the first word
//! of a free block points to the next) and refills from the heap a chunk at a time.
//! Blocks stay in their class once carved (the memory is not given back to the heap).

use core::alloc::Layout;
use core::ptr::NonNull;

/// Largest request served by a class.
pub const MAX_SMALL: usize = 1024;
/// Alignment of every block (chunks are carved from this alignment, sizes are multiples
/// of it).
pub const ALIGN: usize = 16;
/// Class sizes, ascending; each a multiple of [`ALIGN`].
const CLASSES: [usize; 12] = [16, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024];
/// About the bytes taken from the heap per refill (a whole number of blocks).
pub const CHUNK: usize = 16 * 1024;

/// The class serving `layout`, if it is small.
fn class_of(layout: Layout) -> Option<usize> {
    if layout.align() > ALIGN || layout.size() > MAX_SMALL {
        return None;
    }
    let size = layout.size().max(1);
    CLASSES.iter().position(|&c| c >= size)
}

/// The per-class free lists.
#[derive(Debug)]
pub struct SizeClasses {
    heads: [Option<NonNull<u8>>; CLASSES.len()],
    /// Bytes in the free lists (taken from the heap, not in use).
    free_bytes: usize,
}

// SAFETY: the lists only hold blocks this allocator owns; the heap's lock serialises use.
unsafe impl Send for SizeClasses {}

impl Default for SizeClasses {
    fn default() -> Self {
        Self::new()
    }
}

impl SizeClasses {
    pub const fn new() -> Self {
        Self {
            heads: [None; CLASSES.len()],
            free_bytes: 0,
        }
    }

    /// Bytes held in the free lists.
    pub fn free_bytes(&self) -> usize {
        self.free_bytes
    }

    /// Whether `layout` is served here (else it goes to the heap).
    pub fn serves(layout: Layout) -> bool {
        class_of(layout).is_some()
    }

    /// A block for `layout` (which [`serves`](Self::serves) accepts); `refill` takes a
    /// [`CHUNK`] from the heap when the class is empty. `None` if the heap has no chunk.
    ///
    /// # Safety
    /// Blocks given to [`free`](Self::free) must have come from here with the same layout,
    /// and chunks from `refill` must be valid, [`ALIGN`]ed, exclusively owned memory.
    pub unsafe fn alloc(
        &mut self,
        layout: Layout,
        refill: impl FnOnce(Layout) -> Option<NonNull<u8>>,
    ) -> Option<NonNull<u8>> {
        let class = class_of(layout).expect("a small layout");
        let size = CLASSES[class];
        if self.heads[class].is_none() {
            // A whole number of blocks, about CHUNK bytes (nothing left over that would
            // count as used for ever).
            let n = CHUNK / size;
            let chunk = refill(Layout::from_size_align(n * size, ALIGN).expect("valid"))?;
            // Carve it into blocks, pushed last to first so they are handed out in order.
            for i in (0..n).rev() {
                // SAFETY: within the chunk, which the caller guarantees is ours.
                let block = unsafe { NonNull::new_unchecked(chunk.as_ptr().add(i * size)) };
                // SAFETY: as above; the block is free and ALIGN-aligned.
                unsafe { self.push(class, block) };
            }
        }
        let block = self.heads[class]?;
        // SAFETY: a free block's first word is the next pointer `push` wrote.
        self.heads[class] = unsafe { block.cast::<Option<NonNull<u8>>>().as_ptr().read() };
        self.free_bytes -= size;
        Some(block)
    }

    /// Takes back `block`, allocated here for `layout`.
    ///
    /// # Safety
    /// See [`alloc`](Self::alloc): `block` came from it with this `layout` and is not used
    /// after.
    pub unsafe fn free(&mut self, block: NonNull<u8>, layout: Layout) {
        let class = class_of(layout).expect("a small layout");
        // SAFETY: forwarded to the caller.
        unsafe { self.push(class, block) };
    }

    /// # Safety
    /// `block` is a free block of `class`, ours, at least a word long and aligned.
    unsafe fn push(&mut self, class: usize, block: NonNull<u8>) {
        // SAFETY: forwarded to the caller.
        unsafe {
            block
                .cast::<Option<NonNull<u8>>>()
                .as_ptr()
                .write(self.heads[class])
        };
        self.heads[class] = Some(block);
        self.free_bytes += CLASSES[class];
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    /// Random allocations and frees from an arena: blocks never overlap, keep their
    /// contents, are aligned, and freed memory is reused.
    #[test]
    fn blocks_are_disjoint_aligned_and_reused() {
        let mut arena: Vec<u128> = std::vec![0; 64 * CHUNK / 16];
        let base = arena.as_mut_ptr().cast::<u8>();
        let mut used_chunks = 0usize;
        let mut classes = SizeClasses::new();
        let mut live: Vec<(NonNull<u8>, Layout, u8)> = Vec::new();
        let mut seed = 12345u64;
        let mut next = || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) as usize
        };
        for step in 0..200_000 {
            if live.is_empty() || (live.len() < 1000 && next() % 2 == 0) {
                let size = next() % MAX_SMALL + 1;
                let align = 1 << (next() % 5);
                let layout = Layout::from_size_align(size, align).unwrap();
                let refill = |l: Layout| {
                    assert!(l.size() <= CHUNK && l.size() > CHUNK - MAX_SMALL);
                    if used_chunks == 64 {
                        return None;
                    }
                    used_chunks += 1;
                    // SAFETY: within the arena.
                    Some(unsafe { NonNull::new_unchecked(base.add((used_chunks - 1) * CHUNK)) })
                };
                // SAFETY: the arena is ours and 16-aligned.
                let Some(block) = (unsafe { classes.alloc(layout, refill) }) else {
                    continue;
                };
                assert_eq!(block.as_ptr() as usize % align.max(1), 0);
                let tag = (step % 251) as u8;
                // SAFETY: the block is ours, `size` bytes long.
                unsafe { block.as_ptr().write_bytes(tag, size) };
                live.push((block, layout, tag));
            } else {
                let at = next() % live.len();
                let (block, layout, tag) = live.swap_remove(at);
                // SAFETY: the block is ours.
                let bytes = unsafe { core::slice::from_raw_parts(block.as_ptr(), layout.size()) };
                assert!(bytes.iter().all(|&b| b == tag), "a block was overwritten");
                // SAFETY: allocated above with this layout.
                unsafe { classes.free(block, layout) };
            }
        }
        assert!(used_chunks < 64, "freed blocks are reused");
        assert!(!SizeClasses::serves(
            Layout::from_size_align(MAX_SMALL + 1, 8).unwrap()
        ));
        assert!(!SizeClasses::serves(
            Layout::from_size_align(64, 32).unwrap()
        ));
    }
}
