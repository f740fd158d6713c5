//! TSC frequency: read from the hypervisor where it tells, measured against the PIT where not.
//!
//! Sources, most trusted first:
//! 1. CPUID leaf 0x15 (crystal ratio), when the CPU fills it in.
//! 2. CPUID leaf 0x4000_0010 (hypervisor timing leaf: TSC kHz), when present.
//! 3. KVM's pvclock (`MSR_KVM_SYSTEM_TIME_NEW`): the host kernel's own TSC scaling, exact.
//! 4. The 8254 PIT (1.193182 MHz, emulated from the host's clock), counted for 2 ms.

use super::cpu::{self, cpuid, outb};
use core::cell::UnsafeCell;
use core::sync::atomic::{Ordering, fence};

/// Where the TSC frequency came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ClockSource {
    CpuidCrystal,
    HypervisorLeaf,
    KvmClock,
    Pit,
}

impl ClockSource {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::CpuidCrystal => "cpuid 0x15",
            Self::HypervisorLeaf => "cpuid 0x40000010",
            Self::KvmClock => "kvmclock",
            Self::Pit => "pit",
        }
    }
}

/// Measures or reads the TSC frequency in Hz.
pub(crate) fn calibrate_tsc() -> Result<(u64, ClockSource), &'static str> {
    let (max_leaf, ..) = cpuid(0);
    if max_leaf >= 0x15 {
        let (denominator, numerator, crystal_hz, _) = cpuid(0x15);
        if denominator != 0 && numerator != 0 && crystal_hz != 0 {
            let hz = u64::from(crystal_hz) * u64::from(numerator) / u64::from(denominator);
            return Ok((hz, ClockSource::CpuidCrystal));
        }
    }
    let (hv_max, b, c, d) = cpuid(0x4000_0000);
    let is_kvm = [b, c, d] == [0x4b4d_564b, 0x564b_4d56, 0x4d];
    if (0x4000_0010..0x4001_0000).contains(&hv_max) {
        let (khz, ..) = cpuid(0x4000_0010);
        if khz != 0 {
            return Ok((u64::from(khz) * 1000, ClockSource::HypervisorLeaf));
        }
    }
    if is_kvm && let Some(hz) = kvmclock_hz() {
        return Ok((hz, ClockSource::KvmClock));
    }
    Ok((pit_hz_from_ring0()?, ClockSource::Pit))
}

const PIT_NOT_COUNTING: &str =
    "PIT channel 0 does not count (is the PIT disabled?), cannot time the TSC";
const PIT_STALLED: &str = "the vCPU kept stalling while timing the TSC against the PIT";

/// [`pit_hz`], at ring 0 even when called at ring 3: its samples must be tight, and from
/// ring 3 each port access is a trip to ring 0 of varying length.
fn pit_hz_from_ring0() -> Result<u64, &'static str> {
    if !super::ring3::at_ring3() {
        return pit_hz();
    }
    match super::ring3::call(super::ring3::Call::TimePit, 0, 0, 0) {
        0 => Err(PIT_NOT_COUNTING),
        1 => Err(PIT_STALLED),
        hz => Ok(hz),
    }
}

/// [`pit_hz`] for a call from ring 3: the frequency, or 0 / 1 for its two errors.
pub(super) fn pit_hz_for_ring3() -> u64 {
    match pit_hz() {
        Ok(hz) => hz.max(2),
        Err(PIT_NOT_COUNTING) => 0,
        Err(_) => 1,
    }
}

const MSR_KVM_SYSTEM_TIME_NEW: u32 = 0x4b56_4d01;
const KVM_FEATURE_CLOCKSOURCE2: u32 = 1 << 3;

/// `struct pvclock_vcpu_time_info`.
#[repr(C, align(64))]
struct PvClock {
    version: u32,
    pad0: u32,
    tsc_timestamp: u64,
    system_time: u64,
    tsc_to_system_mul: u32,
    tsc_shift: i8,
    flags: u8,
    pad: [u8; 2],
}

struct PvClockCell(UnsafeCell<PvClock>);
// SAFETY: written only by the hypervisor while enabled; read with volatile loads by the one
// CPU during boot.
unsafe impl Sync for PvClockCell {}

static PVCLOCK: PvClockCell = PvClockCell(UnsafeCell::new(PvClock {
    version: 0,
    pad0: 0,
    tsc_timestamp: 0,
    system_time: 0,
    tsc_to_system_mul: 0,
    tsc_shift: 0,
    flags: 0,
    pad: [0; 2],
}));

fn kvmclock_hz() -> Option<u64> {
    let (features, ..) = cpuid(0x4000_0001);
    if features & KVM_FEATURE_CLOCKSOURCE2 == 0 {
        return None;
    }
    let clock = PVCLOCK.0.get();
    let phys = crate::mm::virt_to_phys(clock as u64)?;
    // SAFETY: the MSR exists (feature bit); it makes the host write the 32-byte struct.
    unsafe { cpu::wrmsr(MSR_KVM_SYSTEM_TIME_NEW, phys | 1) };
    let (mut mul, mut shift) = (0, 0);
    for _ in 0..1_000_000 {
        // SAFETY: the struct is valid for reads; the host updates it between versions.
        unsafe {
            let version = core::ptr::addr_of!((*clock).version).read_volatile();
            fence(Ordering::Acquire);
            mul = core::ptr::addr_of!((*clock).tsc_to_system_mul).read_volatile();
            shift = core::ptr::addr_of!((*clock).tsc_shift).read_volatile();
            fence(Ordering::Acquire);
            let again = core::ptr::addr_of!((*clock).version).read_volatile();
            if version == again && version.is_multiple_of(2) && version != 0 {
                break;
            }
            mul = 0;
        }
        core::hint::spin_loop();
    }
    // SAFETY: writing 0 disables the host's updates to the struct.
    unsafe { cpu::wrmsr(MSR_KVM_SYSTEM_TIME_NEW, 0) };
    if mul == 0 {
        return None;
    }
    // ns = ((tsc << shift) * mul) >> 32, so hz = 1e9 * 2^32 / mul / 2^shift.
    let mut hz = (1_000_000_000u128 << 32) / u128::from(mul);
    if shift >= 0 {
        hz >>= shift;
    } else {
        hz <<= -shift;
    }
    Some(hz as u64)
}

const PIT_HZ: u64 = 1_193_182;
/// PIT ticks between the first and last edge timed: about 2 ms.
const PIT_TICKS: u16 = 2_386;

/// A read of PIT channel 0's count.
#[derive(Clone, Copy)]
struct Sample {
    count: u16,
    tsc_before: u64,
    tsc_after: u64,
}

/// One read of PIT channel 0's count, bracketed by TSC reads. At ring 0 only (see
/// [`pit_hz_from_ring0`]), with the instructions themselves rather than the `cpu`
/// wrappers: with their check for ring 3 (one load of a flag per access), TCG ran this
/// loop's samples on the BIOS image some 20 times slower than the fastest one, so that no
/// edge was ever timed tightly (seen, not explained).
fn pit_sample() -> Sample {
    use x86_64::instructions::port::Port;
    let tsc_before = cpu::rdtsc();
    // SAFETY: latch channel 0 and read its 16-bit count (low byte, then high byte).
    let count = unsafe {
        Port::<u8>::new(0x43).write(0x00);
        let low: u8 = Port::new(0x40).read();
        let high: u8 = Port::new(0x40).read();
        u16::from_le_bytes([low, high])
    };
    Sample {
        count,
        tsc_before,
        tsc_after: cpu::rdtsc(),
    }
}

/// Most samples taken before concluding that the PIT does not count.
const MAX_SAMPLES: u32 = 2_000_000;
/// Most restarts after the vCPU stalled mid-measurement.
const MAX_RESTARTS: u32 = 200;
/// A gap between two samples longer than this restarts the measurement (see `pit_hz`).
const STALL_TSC_TICKS: u64 = 20_000_000;

/// Times `PIT_TICKS` ticks of PIT channel 0 (an emulated 1.193182 MHz counter that QEMU
/// derives from the host's monotonic clock) with the TSC, from edge to edge.
///
/// The count is sampled continuously, each read bracketed by TSC reads. An edge (the
/// count changing) happened between the previous read's latch and this read's, so it is
/// placed in the middle of `[previous.tsc_before, current.tsc_after]`; the first and last
/// edges are taken only when that window is tight. Ticks between edges are counted across
/// short stalls of the vCPU; a stall that might have let the 16-bit count wrap restarts
/// the measurement.
fn pit_hz() -> Result<u64, &'static str> {
    // SAFETY: programming PIT channel 0 (mode 2, binary, full reload) on its fixed ports;
    // its interrupt never reaches the CPU (LINT0 and the IOAPIC pin stay masked).
    unsafe {
        outb(0x43, 0x34);
        outb(0x40, 0xff);
        outb(0x40, 0xff);
    }
    let fastest_read = (0..8)
        .map(|_| {
            let s = pit_sample();
            s.tsc_after - s.tsc_before
        })
        .min()
        .unwrap_or(1)
        .max(1);
    let tight = 4 * fastest_read;
    // A gap between samples is harmless unless the 16-bit count could have wrapped
    // (65,536 ticks: 55 ms). 20M TSC ticks are under 40 ms for any TSC of 0.5 GHz or more,
    // so only longer gaps restart; a loaded host preempts the vCPU for milliseconds often
    // (a threshold of a few reads restarted until calibration gave up, under TCG with the
    // host's load around 5 on 2 cores).
    let stalled = (1000 * fastest_read).max(STALL_TSC_TICKS);
    let mut samples = 0u32;
    for _ in 0..MAX_RESTARTS {
        let mut previous = pit_sample();
        let mut start: Option<u64> = None;
        let mut ticks = 0u64;
        loop {
            let current = pit_sample();
            samples += 1;
            if samples > MAX_SAMPLES {
                return Err(PIT_NOT_COUNTING);
            }
            let window = current.tsc_after - previous.tsc_before;
            if window > stalled {
                break; // restart
            }
            let step = u64::from(previous.count.wrapping_sub(current.count));
            let edge = step != 0 && window <= tight;
            let middle = previous.tsc_before + window / 2;
            previous = current;
            match start {
                None if edge => start = Some(middle),
                None => {}
                Some(start_tsc) => {
                    ticks += step;
                    if edge && ticks >= u64::from(PIT_TICKS) {
                        return Ok((middle - start_tsc) * PIT_HZ / ticks);
                    }
                }
            }
        }
    }
    Err(PIT_STALLED)
}
