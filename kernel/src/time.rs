//! Monotonic time since the kernel's first instruction, from the calibrated TSC.
//!
//! [`sleep_until`] arms the local APIC timer for the deadline and halts; the CPU does no
//! work while it waits. The scheduler will build its timer queue on the same primitives.

use core::sync::atomic::{AtomicU64, Ordering};
use core::time::Duration;

static ENTRY_TSC: AtomicU64 = AtomicU64::new(0);
/// TSC when the app's `main` was entered.
static MAIN_ENTERED_TSC: AtomicU64 = AtomicU64::new(0);

/// The TSC's frequency and its scale factor, measured on first use (not during boot:
/// an app that never asks the time never pays for calibration).
struct Calibration {
    hz: u64,
    /// Nanoseconds per TSC tick, scaled by 2^32.
    ns_per_tick_shl32: u64,
}

static CALIBRATION: spin::Once<Calibration> = spin::Once::new();

fn calibration() -> &'static Calibration {
    if let Some(c) = CALIBRATION.get() {
        return c;
    }
    let (hz, source) = crate::arch::calibrate_tsc().unwrap_or_else(|e| {
        crate::console::emergency_write(format_args!("fatal: clock: {e}\n"));
        crate::runtime::exit_now(crate::exit_status::FATAL)
    });
    let c = CALIBRATION.call_once(|| Calibration {
        hz,
        ns_per_tick_shl32: ((1_000_000_000u128 << 32) / u128::from(hz.max(1))) as u64,
    });
    log::info!("tsc {} kHz from {}", hz / 1000, source.name());
    c
}

/// Boot phases whose end is recorded (raw TSC) for the `log=debug` boot timeline.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Phase {
    Traps,
    CommandLine,
    Memory,
}

const PHASES: [&str; 3] = ["traps", "command line", "memory"];
static PHASE_END_TSC: [AtomicU64; 3] = [const { AtomicU64::new(0) }; 3];

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
            log::debug!(
                "boot phase {name}: {} us",
                ticks_to_ns(end - previous) / 1000
            );
            previous = end;
        }
    }
}

/// Sets time zero: the TSC at the kernel's first instruction.
pub(crate) fn init(entry_tsc: u64) {
    ENTRY_TSC.store(entry_tsc, Ordering::Relaxed);
}

/// TSC frequency in Hz (calibrates on first call).
pub fn tsc_hz() -> u64 {
    calibration().hz
}

fn ticks_to_ns(ticks: u64) -> u64 {
    ((u128::from(ticks) * u128::from(calibration().ns_per_tick_shl32)) >> 32) as u64
}

fn ns_to_ticks(ns: u64) -> u64 {
    u64::try_from(u128::from(ns) * u128::from(tsc_hz()) / 1_000_000_000).unwrap_or(u64::MAX)
}

/// Time since the kernel's first instruction, or `None` if the clock was never needed
/// (and is not calibrated now: fatal paths use this to stay away from calibration).
pub fn since_boot_if_calibrated() -> Option<Duration> {
    CALIBRATION.get().map(|_| since_boot())
}

/// Time since the kernel's first instruction.
pub fn since_boot() -> Duration {
    let ticks = crate::arch::rdtsc().saturating_sub(ENTRY_TSC.load(Ordering::Relaxed));
    Duration::from_nanos(ticks_to_ns(ticks))
}

/// Time from the kernel's first instruction to the app's `main`.
pub fn boot_to_main() -> Duration {
    let ticks = MAIN_ENTERED_TSC
        .load(Ordering::Relaxed)
        .saturating_sub(ENTRY_TSC.load(Ordering::Relaxed));
    Duration::from_nanos(ticks_to_ns(ticks))
}

pub(crate) fn mark_main_entered() {
    MAIN_ENTERED_TSC.store(crate::arch::rdtsc(), Ordering::Relaxed);
}

/// Nanoseconds since the kernel's first instruction.
pub fn since_boot_ns() -> u64 {
    let ticks = crate::arch::rdtsc().saturating_sub(ENTRY_TSC.load(Ordering::Relaxed));
    ticks_to_ns(ticks)
}

/// The TSC value at `ns` since boot (for the timer).
pub(crate) fn deadline_tsc(ns: u64) -> u64 {
    ENTRY_TSC
        .load(Ordering::Relaxed)
        .saturating_add(ns_to_ticks(ns))
}

/// Waits until [`since_boot`] reaches `deadline`: other tasks run meanwhile, and the CPU
/// halts when none can.
pub fn sleep_until(deadline: Duration) {
    let deadline_ns = u64::try_from(deadline.as_nanos()).unwrap_or(u64::MAX);
    if crate::sched::is_running() {
        crate::sched::sleep_until_ns(deadline_ns);
        return;
    }
    let deadline_tsc = deadline_tsc(deadline_ns);
    crate::arch::ensure_timer();
    while crate::arch::rdtsc() < deadline_tsc {
        crate::arch::arm_timer(deadline_tsc);
        crate::arch::irq::wait_for_interrupt();
    }
}

/// Waits, halted, for `duration`.
pub fn sleep(duration: Duration) {
    sleep_until(since_boot().saturating_add(duration));
}

/// The wall clock at boot (nanoseconds since the Unix epoch, minus the time since boot
/// when it was read), once read.
static WALL_AT_BOOT: spin::Once<Option<u64>> = spin::Once::new();

/// Time since the Unix epoch: the real-time clock (read once, on first use; it counts
/// whole seconds, so this may be behind the host by up to a second) plus the TSC since.
/// `None` when the machine has no RTC (microvm without `rtc=on`).
pub fn wall_clock() -> Option<Duration> {
    let at_boot = *WALL_AT_BOOT.call_once(|| {
        let seconds = crate::arch::rtc::unix_seconds()?;
        let since = since_boot_ns();
        let wall = seconds.checked_mul(1_000_000_000)?;
        Some(wall.saturating_sub(since))
    });
    at_boot.map(|b| Duration::from_nanos(b + since_boot_ns()))
}
