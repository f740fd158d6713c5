//! Byte-range reads over a device that reads only whole blocks: the translation the
//! file system's reader needs, since `ext4-view` asks for arbitrary byte ranges and a disk
//! reads whole sectors at sector-aligned offsets.
//!
//! Pure logic with no dependency on the rest of the libOS, so the host tests run it too
//! (`tests/tests/fs.rs` includes this file as a module).

use alloc::vec;

/// Fills `dst` with the bytes at `offset..offset + dst.len()` of a device whose reads must
/// start at a multiple of `block_size` and cover a multiple of `block_size` bytes.
///
/// `read_blocks(buf, at)` reads `buf.len()` bytes at `at`; it is only called with aligned
/// values and a non-empty `buf`. The aligned middle of the range is read straight into
/// `dst` with one call; a partial block at either edge goes through a one-block bounce
/// buffer. An empty `dst` reads nothing. The first error from `read_blocks` is returned and
/// leaves `dst` partly filled. The caller checks the range against the device's length:
/// this function only splits it. A `block_size` of 0 is treated as 1.
pub(crate) fn read_bytes<E>(
    block_size: u32,
    offset: u64,
    dst: &mut [u8],
    mut read_blocks: impl FnMut(&mut [u8], u64) -> Result<(), E>,
) -> Result<(), E> {
    let block = u64::from(block_size.max(1));
    let mut at = offset;
    let mut rest = dst;
    let mut bounce = vec![];

    // Head: from `at` to the end of its block (or of the range, if that comes first).
    let skip = at % block;
    if skip != 0 && !rest.is_empty() {
        bounce.resize(block as usize, 0);
        read_blocks(&mut bounce, at - skip)?;
        let take = rest.len().min((block - skip) as usize);
        let (head, tail) = rest.split_at_mut(take);
        head.copy_from_slice(&bounce[skip as usize..skip as usize + take]);
        rest = tail;
        at += take as u64;
    }

    // Middle: whole blocks, straight into the caller's buffer.
    let whole = rest.len() - rest.len() % block as usize;
    if whole > 0 {
        let (middle, tail) = rest.split_at_mut(whole);
        read_blocks(middle, at)?;
        rest = tail;
        at += whole as u64;
    }

    // Tail: the start of one more block.
    if !rest.is_empty() {
        bounce.resize(block as usize, 0);
        read_blocks(&mut bounce, at)?;
        let take = rest.len();
        rest.copy_from_slice(&bounce[..take]);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::read_bytes;
    use alloc::vec::Vec;

    /// A device of `len` bytes whose byte `i` is a function of `i`, that checks alignment
    /// and records each read as `(offset, len)`.
    struct FakeDisk {
        block: u32,
        data: Vec<u8>,
        calls: Vec<(u64, usize)>,
    }

    impl FakeDisk {
        fn new(block: u32, len: usize) -> Self {
            let data = (0..len).map(|i| (i * 7 + i / 251) as u8).collect();
            Self {
                block,
                data,
                calls: Vec::new(),
            }
        }

        fn read(&mut self, offset: u64, len: usize) -> Result<Vec<u8>, &'static str> {
            let mut out = vec![0xAA; len];
            let block = self.block;
            let data = &self.data;
            let calls = &mut self.calls;
            read_bytes(block, offset, &mut out, |buf, at| {
                assert!(!buf.is_empty(), "empty device read");
                assert_eq!(at % u64::from(block), 0, "unaligned offset {at}");
                assert_eq!(
                    buf.len() % block as usize,
                    0,
                    "unaligned length {}",
                    buf.len()
                );
                calls.push((at, buf.len()));
                let start = at as usize;
                let src = data.get(start..start + buf.len()).ok_or("past the end")?;
                buf.copy_from_slice(src);
                Ok(())
            })?;
            Ok(out)
        }
    }

    #[test]
    fn every_range_reads_the_right_bytes_with_aligned_calls() {
        for block in [1, 512, 4096] {
            let mut disk = FakeDisk::new(block, 8 * 4096);
            let b = block as u64;
            let offsets = [0, 1, b - 1, b, b + 1, 2 * b + 3, 3 * b];
            let lens = [
                0,
                1,
                2,
                b as usize - 1,
                b as usize,
                b as usize + 1,
                2 * b as usize + 5,
            ];
            for &offset in &offsets {
                for &len in &lens {
                    let got = disk.read(offset, len).unwrap();
                    let want = &disk.data[offset as usize..offset as usize + len];
                    assert_eq!(got, want, "block {block} offset {offset} len {len}");
                }
            }
        }
    }

    #[test]
    fn aligned_ranges_need_one_call_and_no_bounce() {
        let mut disk = FakeDisk::new(512, 8192);
        disk.read(1024, 2048).unwrap();
        assert_eq!(disk.calls, [(1024, 2048)]);
    }

    #[test]
    fn unaligned_edges_read_one_block_each() {
        let mut disk = FakeDisk::new(512, 8192);
        // 100 bytes of block 0, blocks 1-2 whole, 10 bytes of block 3.
        disk.read(412, 100 + 1024 + 10).unwrap();
        assert_eq!(disk.calls, [(0, 512), (512, 1024), (1536, 512)]);
    }

    #[test]
    fn a_range_inside_one_block_reads_it_once() {
        let mut disk = FakeDisk::new(512, 8192);
        let got = disk.read(1030, 20).unwrap();
        assert_eq!(got, &disk.data[1030..1050]);
        assert_eq!(disk.calls, [(1024, 512)]);
    }

    #[test]
    fn empty_reads_touch_nothing() {
        let mut disk = FakeDisk::new(512, 8192);
        assert_eq!(disk.read(77, 0).unwrap(), Vec::<u8>::new());
        assert!(disk.calls.is_empty());
    }

    #[test]
    fn device_errors_reach_the_caller() {
        let mut disk = FakeDisk::new(512, 1024);
        assert_eq!(disk.read(1000, 100), Err("past the end"));
        assert_eq!(disk.read(2048, 512), Err("past the end"));
    }
}
