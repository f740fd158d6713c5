//! A disk in memory that models a power cut: writes land in a volatile cache, a flush
//! makes everything written before it durable, and a power cut throws the cache away,
//! keeping, dropping or tearing (at any byte) each write that no completed flush covered.

use crate::{ReadAt, Result};
use alloc::vec::Vec;

/// A small deterministic random number generator (xorshift64*).
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// True with probability `percent`/100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// What a power cut does to writes no flush covered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cut {
    /// Every one is lost.
    DropAll,
    /// Each is lost, kept, or kept only up to a random byte (a torn write), at random.
    Tear,
}

#[derive(Debug)]
pub struct PowerCutDisk {
    /// What survives a power cut.
    durable: Vec<u8>,
    /// What reads see.
    current: Vec<u8>,
    /// Writes since the last flush: (offset, bytes).
    unflushed: Vec<(u64, Vec<u8>)>,
    pub flushes: u64,
    /// When set, reads and writes at or after this byte fail (an injected device error).
    pub fail_at: Option<u64>,
}

impl PowerCutDisk {
    pub fn new(len: usize) -> Self {
        Self {
            durable: alloc::vec![0; len],
            current: alloc::vec![0; len],
            unflushed: Vec::new(),
            flushes: 0,
            fail_at: None,
        }
    }

    pub fn len(&self) -> u64 {
        self.current.len() as u64
    }

    pub fn write(&mut self, offset: u64, data: &[u8]) -> Result {
        if self.fail_at.is_some_and(|f| offset + data.len() as u64 > f) {
            return Err(crate::Error::Device {
                op: crate::IoOp::Write,
                offset,
            });
        }
        let at = offset as usize;
        self.current[at..at + data.len()].copy_from_slice(data);
        self.unflushed.push((offset, data.to_vec()));
        Ok(())
    }

    pub fn flush(&mut self) {
        for (offset, data) in self.unflushed.drain(..) {
            let at = offset as usize;
            self.durable[at..at + data.len()].copy_from_slice(&data);
        }
        self.flushes += 1;
    }

    /// Loses power: what reads see afterwards is what was durable, plus whatever `cut` lets
    /// through of the unflushed writes.
    pub fn power_cut(&mut self, cut: Cut, rng: &mut Rng) {
        for (offset, data) in self.unflushed.drain(..) {
            let keep = match cut {
                Cut::DropAll => 0,
                Cut::Tear => match rng.below(3) {
                    0 => 0,
                    1 => data.len(),
                    _ => rng.below(data.len() as u64 + 1) as usize,
                },
            };
            let at = offset as usize;
            self.durable[at..at + keep].copy_from_slice(&data[..keep]);
        }
        self.current.clone_from(&self.durable);
    }

    /// Flips one bit of durable (and current) data, as bit rot would.
    pub fn corrupt(&mut self, offset: u64) {
        self.durable[offset as usize] ^= 0x20;
        self.current[offset as usize] ^= 0x20;
    }
}

impl ReadAt for PowerCutDisk {
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result {
        assert_eq!(offset % 512, 0, "misaligned read at {offset}");
        assert_eq!(buf.len() % 512, 0, "misaligned read length {}", buf.len());
        if self.fail_at.is_some_and(|f| offset + buf.len() as u64 > f) {
            return Err(crate::Error::Device {
                op: crate::IoOp::Read,
                offset,
            });
        }
        let at = offset as usize;
        buf.copy_from_slice(&self.current[at..at + buf.len()]);
        Ok(())
    }
}

impl PowerCutDisk {
    /// A copy of this disk after a power cut that kept only the last unflushed write.
    pub fn clone_durable_with_last_write(&self) -> Self {
        let mut durable = self.durable.clone();
        if let Some((offset, data)) = self.unflushed.last() {
            let at = *offset as usize;
            durable[at..at + data.len()].copy_from_slice(data);
        }
        Self {
            current: durable.clone(),
            durable,
            unflushed: Vec::new(),
            flushes: 0,
            fail_at: None,
        }
    }
}
