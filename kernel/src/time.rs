//! Monotonic time since the kernel's first instruction, from the calibrated TSC.
//!
//! [`sleep_until`] arms the local APIC timer for the deadline and halts; the CPU does no
//! work while it waits. The scheduler will build its timer queue on the same primitives.

use core::sync::atomic::{AtomicU64, Ordering};
use core::time::Duration;

static ENTRY_TSC: AtomicU64 = AtomicU64::new(0);
static TSC_HZ: AtomicU64 = AtomicU64::new(0);
/// Nanoseconds per TSC tick, scaled by 2^32.
static NS_PER_TICK_SHL32: AtomicU64 = AtomicU64::new(0);
/// Time since boot when the app's `main` was entered.
static MAIN_ENTERED_NS: AtomicU64 = AtomicU64::new(0);

/// Boot phases whose end is recorded (raw TSC) for the `log=debug` boot timeline.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Phase {
    Console,
    Traps,
    CommandLine,
    Clock,
    Memory,
    Interrupts,
}

const PHASES: [&str; 6] = ["console", "traps", "command line", "clock", "memory", "interrupts"];
static PHASE_END_TSC: [AtomicU64; 6] = [const { AtomicU64::new(0) }; 6];

/// Records the end of `phase` (one RDTSC; no output).
pub(crate) fn mark(phase: Phase) {
    PHASE_END_TSC[phase as usize].store(crate::arch::rdtsc(), Ordering::Relaxed);
}

/// Logs how long each boot phase took, at debug level.
pub(crate) fn log_boot_timeline() {
    let mut previous = ENTRY_TSC.load(Ordering::Relaxed);
    for (name, end) in PHASES.iter().zip(&PHASE_END_TSC) {
        let end = end.load(Ordering::Relaxed);
        if end >= previous {
            log::debug!("boot phase {name}: {} us", ticks_to_ns(end - previous) / 1000);
            previous = end;
        }
    }
}

/// Starts the clock: `entry_tsc` is time zero, `hz` the TSC frequency.
pub(crate) fn init(entry_tsc: u64, hz: u64) {
    ENTRY_TSC.store(entry_tsc, Ordering::Relaxed);
    TSC_HZ.store(hz, Ordering::Relaxed);
    NS_PER_TICK_SHL32.store(
        ((1_000_000_000u128 << 32) / u128::from(hz.max(1))) as u64,
        Ordering::Relaxed,
    );
}

/// TSC frequency in Hz (0 before the clock starts).
pub fn tsc_hz() -> u64 {
    TSC_HZ.load(Ordering::Relaxed)
}

fn ticks_to_ns(ticks: u64) -> u64 {
    ((u128::from(ticks) * u128::from(NS_PER_TICK_SHL32.load(Ordering::Relaxed))) >> 32) as u64
}

fn ns_to_ticks(ns: u64) -> u64 {
    (u128::from(ns) * u128::from(tsc_hz()) / 1_000_000_000) as u64
}

/// Time since the kernel's first instruction.
pub fn since_boot() -> Duration {
    let ticks = crate::arch::rdtsc().saturating_sub(ENTRY_TSC.load(Ordering::Relaxed));
    Duration::from_nanos(ticks_to_ns(ticks))
}

/// Time from the kernel's first instruction to the app's `main`.
pub fn boot_to_main() -> Duration {
    Duration::from_nanos(MAIN_ENTERED_NS.load(Ordering::Relaxed))
}

pub(crate) fn mark_main_entered() {
    MAIN_ENTERED_NS.store(since_boot().as_nanos() as u64, Ordering::Relaxed);
}

/// Waits, halted, until [`since_boot`] reaches `deadline`.
pub fn sleep_until(deadline: Duration) {
    let deadline_ns = u64::try_from(deadline.as_nanos()).unwrap_or(u64::MAX);
    let deadline_tsc = ENTRY_TSC
        .load(Ordering::Relaxed)
        .saturating_add(ns_to_ticks(deadline_ns));
    while crate::arch::rdtsc() < deadline_tsc {
        crate::arch::arm_timer(deadline_tsc);
        crate::arch::wait_for_interrupt();
    }
}

/// Waits, halted, for `duration`.
pub fn sleep(duration: Duration) {
    sleep_until(since_boot().saturating_add(duration));
}
