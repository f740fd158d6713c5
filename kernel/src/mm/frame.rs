//! Physical frame allocator over the boot memory map.
//!
//! Free memory is a sorted list of disjoint page-aligned ranges with a fixed capacity
//! (no heap needed: it runs before the heap exists, and it provides the heap). Allocation
//! takes the lowest range that fits, so early page tables land in low memory that the
//! boot page tables already map. Freed ranges coalesce with their neighbours.

pub const PAGE_SIZE: u64 = 4096;
/// Most disjoint free ranges tracked.
pub const MAX_RANGES: usize = 64;

/// Why an allocator call failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameError {
    /// No free range can hold the request.
    OutOfMemory,
    /// Freeing would need more than [`MAX_RANGES`] ranges; the frames stay allocated.
    TooFragmented,
    /// The range being freed overlaps memory that is already free.
    DoubleFree,
    /// A size of zero, or an alignment that is not a power-of-two number of pages.
    BadRequest,
}

/// A half-open physical range `[start, end)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Range {
    start: u64,
    end: u64,
}

/// Sorted, coalesced free ranges of physical memory.
#[derive(Clone, Debug)]
pub struct FrameAllocator {
    ranges: [Range; MAX_RANGES],
    len: usize,
}

impl Default for FrameAllocator {
    fn default() -> Self {
        Self::new()
    }
}

impl FrameAllocator {
    pub const fn new() -> Self {
        Self {
            ranges: [Range { start: 0, end: 0 }; MAX_RANGES],
            len: 0,
        }
    }

    /// Adds `[start, end)` (shrunk to whole pages) as free memory.
    pub fn add(&mut self, start: u64, end: u64) -> Result<(), FrameError> {
        let Some(start) = start.checked_next_multiple_of(PAGE_SIZE) else {
            return Ok(());
        };
        let end = end & !(PAGE_SIZE - 1);
        if end <= start {
            return Ok(());
        }
        self.insert(Range { start, end })
    }

    /// Removes `[start, end)` (grown to whole pages) from free memory, wherever it overlaps.
    pub fn reserve(&mut self, start: u64, end: u64) -> Result<(), FrameError> {
        let start = start & !(PAGE_SIZE - 1);
        let end = end
            .checked_next_multiple_of(PAGE_SIZE)
            .unwrap_or(!(PAGE_SIZE - 1));
        let mut i = 0;
        while i < self.len {
            let r = self.ranges[i];
            if r.end <= start || r.start >= end {
                i += 1;
                continue;
            }
            let left = Range {
                start: r.start,
                end: start,
            };
            let right = Range {
                start: end,
                end: r.end,
            };
            match (left.start < left.end, right.start < right.end) {
                (true, true) => {
                    if self.len == MAX_RANGES {
                        return Err(FrameError::TooFragmented);
                    }
                    self.ranges[i] = left;
                    self.insert_at(i + 1, right);
                    i += 2;
                }
                (true, false) => {
                    self.ranges[i] = left;
                    i += 1;
                }
                (false, true) => {
                    self.ranges[i] = right;
                    i += 1;
                }
                (false, false) => self.remove_at(i),
            }
        }
        Ok(())
    }

    /// Allocates `pages` contiguous frames aligned to `align_pages` pages.
    pub fn alloc(&mut self, pages: u64, align_pages: u64) -> Result<u64, FrameError> {
        if pages == 0 || align_pages == 0 || !align_pages.is_power_of_two() {
            return Err(FrameError::BadRequest);
        }
        let size = pages.checked_mul(PAGE_SIZE).ok_or(FrameError::BadRequest)?;
        let align = align_pages * PAGE_SIZE;
        for i in 0..self.len {
            let r = self.ranges[i];
            let Some(start) = r.start.checked_next_multiple_of(align) else {
                continue;
            };
            if start.checked_add(size).is_some_and(|end| end <= r.end) {
                self.reserve(start, start + size)?;
                return Ok(start);
            }
        }
        Err(FrameError::OutOfMemory)
    }

    /// Returns `pages` frames at `start` to the free pool.
    pub fn free(&mut self, start: u64, pages: u64) -> Result<(), FrameError> {
        if pages == 0 || !start.is_multiple_of(PAGE_SIZE) {
            return Err(FrameError::BadRequest);
        }
        let end = start + pages * PAGE_SIZE;
        if self.ranges[..self.len]
            .iter()
            .any(|r| r.start < end && start < r.end)
        {
            return Err(FrameError::DoubleFree);
        }
        self.insert(Range { start, end })
    }

    /// The free ranges as (start, length), lowest first.
    pub fn free_ranges(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.ranges[..self.len]
            .iter()
            .map(|r| (r.start, r.end - r.start))
    }

    /// Bytes currently free.
    pub fn free_bytes(&self) -> u64 {
        self.ranges[..self.len]
            .iter()
            .map(|r| r.end - r.start)
            .sum()
    }

    /// The largest free range as `(start, bytes)`.
    pub fn largest(&self) -> Option<(u64, u64)> {
        self.ranges[..self.len]
            .iter()
            .map(|r| (r.start, r.end - r.start))
            .max_by_key(|&(_, s)| s)
    }

    /// Inserts a range, merging it with every free range it overlaps or touches (memory
    /// maps may list overlapping entries).
    fn insert(&mut self, mut new: Range) -> Result<(), FrameError> {
        let first = self.ranges[..self.len].partition_point(|r| r.end < new.start);
        let mut last = first;
        while last < self.len && self.ranges[last].start <= new.end {
            new.start = new.start.min(self.ranges[last].start);
            new.end = new.end.max(self.ranges[last].end);
            last += 1;
        }
        if first == last {
            if self.len == MAX_RANGES {
                return Err(FrameError::TooFragmented);
            }
            self.insert_at(first, new);
        } else {
            self.ranges[first] = new;
            self.ranges.copy_within(last..self.len, first + 1);
            self.len -= last - first - 1;
        }
        Ok(())
    }

    fn insert_at(&mut self, i: usize, r: Range) {
        self.ranges.copy_within(i..self.len, i + 1);
        self.ranges[i] = r;
        self.len += 1;
    }

    fn remove_at(&mut self, i: usize) {
        self.ranges.copy_within(i + 1..self.len, i);
        self.len -= 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;

    #[test]
    fn allocates_lowest_first_and_aligned() {
        let mut fa = FrameAllocator::new();
        fa.add(0x1000, 4 * MIB).unwrap();
        assert_eq!(fa.alloc(1, 1), Ok(0x1000));
        assert_eq!(fa.alloc(1, 512), Ok(2 * MIB));
        assert_eq!(fa.alloc(1, 1), Ok(0x2000));
        assert_eq!(fa.free_bytes(), 4 * MIB - 0x1000 - 3 * PAGE_SIZE);
    }

    #[test]
    fn add_trims_to_pages_and_merges() {
        let mut fa = FrameAllocator::new();
        fa.add(0x1001, 0x3fff).unwrap();
        assert_eq!(fa.free_bytes(), 0x1000);
        fa.add(0x3000, 0x5000).unwrap();
        assert_eq!(fa.largest(), Some((0x2000, 0x3000)));
    }

    #[test]
    fn reserve_splits_ranges() {
        let mut fa = FrameAllocator::new();
        fa.add(0, 16 * PAGE_SIZE).unwrap();
        fa.reserve(4 * PAGE_SIZE + 10, 6 * PAGE_SIZE).unwrap();
        assert_eq!(fa.free_bytes(), 14 * PAGE_SIZE);
        assert_eq!(fa.largest(), Some((6 * PAGE_SIZE, 10 * PAGE_SIZE)));
        fa.reserve(0, 100 * PAGE_SIZE).unwrap();
        assert_eq!(fa.free_bytes(), 0);
    }

    #[test]
    fn free_coalesces_and_detects_double_free() {
        let mut fa = FrameAllocator::new();
        fa.add(0, 8 * PAGE_SIZE).unwrap();
        let a = fa.alloc(2, 1).unwrap();
        let b = fa.alloc(2, 1).unwrap();
        let c = fa.alloc(4, 1).unwrap();
        assert_eq!(fa.alloc(1, 1), Err(FrameError::OutOfMemory));
        fa.free(b, 2).unwrap();
        assert_eq!(fa.free(b, 1), Err(FrameError::DoubleFree));
        fa.free(a, 2).unwrap();
        fa.free(c, 4).unwrap();
        assert_eq!(fa.largest(), Some((0, 8 * PAGE_SIZE)));
    }

    #[test]
    fn overlapping_map_entries_merge() {
        let mut fa = FrameAllocator::new();
        fa.add(0x1000, 0x2000).unwrap();
        fa.add(0x3000, 0x4000).unwrap();
        fa.add(0x6000, 0x7000).unwrap();
        fa.add(0x1800, 0x3800).unwrap(); // spans the first two and the gap
        assert_eq!(
            fa.free_ranges().collect::<Vec<_>>(),
            [(0x1000, 0x3000), (0x6000, 0x1000)]
        );
        fa.add(0, 0x10000).unwrap();
        assert_eq!(fa.free_ranges().collect::<Vec<_>>(), [(0, 0x10000)]);
        assert_eq!(fa.free_bytes(), 0x10000);
    }

    #[test]
    fn ranges_near_the_top_of_the_address_space() {
        let mut fa = FrameAllocator::new();
        fa.add(u64::MAX - 0x7ff, u64::MAX).unwrap();
        assert_eq!(fa.free_bytes(), 0);
        fa.add(u64::MAX - 0x2fff, u64::MAX).unwrap();
        assert_eq!(fa.free_bytes(), 0x2000);
        fa.reserve(u64::MAX - 0x1100, u64::MAX).unwrap();
        assert_eq!(fa.free_bytes(), 0x1000);
    }

    #[test]
    fn bad_requests() {
        let mut fa = FrameAllocator::new();
        fa.add(0, MIB).unwrap();
        assert_eq!(fa.alloc(0, 1), Err(FrameError::BadRequest));
        assert_eq!(fa.alloc(1, 3), Err(FrameError::BadRequest));
        assert_eq!(fa.alloc(u64::MAX, 1), Err(FrameError::BadRequest));
        assert_eq!(fa.free(123, 1), Err(FrameError::BadRequest));
    }

    #[test]
    fn fragmentation_is_an_error_not_a_loss() {
        let mut fa = FrameAllocator::new();
        fa.add(0, 2 * MAX_RANGES as u64 * 2 * PAGE_SIZE).unwrap();
        let mut held = 0;
        for i in 0..MAX_RANGES as u64 * 2 {
            if fa
                .reserve(i * 2 * PAGE_SIZE, i * 2 * PAGE_SIZE + PAGE_SIZE)
                .is_err()
            {
                break;
            }
            held += 1;
        }
        assert!(held >= MAX_RANGES as u64 - 1);
        assert!(
            fa.ranges[..fa.len]
                .windows(2)
                .all(|w| w[0].end < w[1].start)
        );
    }
}
