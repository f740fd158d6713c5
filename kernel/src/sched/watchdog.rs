//! The watchdog: one warning line for a task that runs longer than the limit
//! (`watchdog=MS`, default 100 ms) without yielding or blocking.
//!
//! It starts with the first spawned thread (a lone main task starves nobody). From then on
//! interrupts stay enabled while tasks run, and the APIC timer ticks every half limit on
//! top of the scheduler's sleep deadlines. The tick handler only reads atomics and tries
//! the console lock: it never blocks and never allocates.

use super::queue::TaskId;
use crate::mm::stack::StackName;
use core::fmt::Write;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Default limit.
pub const DEFAULT_LIMIT_MS: u64 = 100;

static LIMIT_MS: AtomicU64 = AtomicU64::new(DEFAULT_LIMIT_MS);
static LIMIT_TSC: AtomicU64 = AtomicU64::new(0);
static ACTIVE: AtomicBool = AtomicBool::new(false);
static IDLE: AtomicBool = AtomicBool::new(false);
static RUN_START: AtomicU64 = AtomicU64::new(0);
static WARNED: AtomicBool = AtomicBool::new(false);
static NEXT_TICK: AtomicU64 = AtomicU64::new(u64::MAX);
static IDLE_DEADLINE: AtomicU64 = AtomicU64::new(u64::MAX);
static RUNNING: AtomicU64 = AtomicU64::new(0);

/// Sets the limit (0 turns the watchdog off). Called at boot from the command line.
pub(crate) fn configure(limit_ms: u64) {
    LIMIT_MS.store(limit_ms, Ordering::Relaxed);
}

/// True once the watchdog runs: interrupts are then enabled while tasks run.
pub(crate) fn active() -> bool {
    ACTIVE.load(Ordering::Relaxed)
}

/// Starts the watchdog (first spawn); the calling task continues with interrupts on.
pub(crate) fn start() {
    let limit_ms = LIMIT_MS.load(Ordering::Relaxed);
    if limit_ms == 0 || ACTIVE.load(Ordering::Relaxed) {
        return;
    }
    let limit = crate::time::deadline_tsc(limit_ms.saturating_mul(1_000_000))
        .saturating_sub(crate::time::deadline_tsc(0));
    LIMIT_TSC.store(limit, Ordering::Relaxed);
    crate::arch::ensure_timer();
    RUN_START.store(crate::arch::rdtsc(), Ordering::Relaxed);
    NEXT_TICK.store(crate::arch::rdtsc() + limit / 2, Ordering::Relaxed);
    ACTIVE.store(true, Ordering::Relaxed);
    crate::arch::irq::set_handler(crate::arch::TIMER_VECTOR, |_| on_timer_interrupt(), 0);
    arm();
    crate::arch::irq::go_live();
}

/// Task `id` starts running now.
pub(crate) fn switched_in(id: TaskId) {
    if !active() {
        return;
    }
    IDLE.store(false, Ordering::Relaxed);
    IDLE_DEADLINE.store(u64::MAX, Ordering::Relaxed);
    RUN_START.store(crate::arch::rdtsc(), Ordering::Relaxed);
    WARNED.store(false, Ordering::Relaxed);
    RUNNING.store(id.0, Ordering::Relaxed);
}

/// The CPU is about to halt until `deadline` (TSC) with no task running.
pub(crate) fn idle_until(deadline: u64) {
    IDLE.store(true, Ordering::Relaxed);
    IDLE_DEADLINE.store(deadline, Ordering::Relaxed);
    arm();
}

/// Arms the timer for the earlier of the next tick and the idle deadline.
fn arm() {
    let next = NEXT_TICK
        .load(Ordering::Relaxed)
        .min(IDLE_DEADLINE.load(Ordering::Relaxed));
    if next != u64::MAX {
        crate::arch::arm_timer(next);
    }
}

/// Timer interrupt: check the running task, then re-arm. Interrupt context.
pub(crate) fn on_timer_interrupt() {
    if !active() {
        return;
    }
    let now = crate::arch::rdtsc();
    // A passed idle deadline must not be armed again: in TSC-deadline mode a deadline in
    // the past fires at once, and the handler would run forever.
    if now >= IDLE_DEADLINE.load(Ordering::Relaxed) {
        IDLE_DEADLINE.store(u64::MAX, Ordering::Relaxed);
    }
    let limit = LIMIT_TSC.load(Ordering::Relaxed);
    if now >= NEXT_TICK.load(Ordering::Relaxed) {
        NEXT_TICK.store(now + (limit / 2).max(1), Ordering::Relaxed);
        let ran = now.saturating_sub(RUN_START.load(Ordering::Relaxed));
        if !IDLE.load(Ordering::Relaxed) && ran > limit && !WARNED.load(Ordering::Relaxed) {
            warn(ran, limit);
        }
    }
    arm();
}

fn warn(ran: u64, limit: u64) {
    let id = TaskId(RUNNING.load(Ordering::Relaxed));
    let name = super::name_without_waiting(id);
    let Some(mut console) = crate::console::try_console() else {
        return; // the task is printing; try again at the next tick
    };
    WARNED.store(true, Ordering::Relaxed);
    let limit_ms = LIMIT_MS.load(Ordering::Relaxed);
    let ran_ms = ran * limit_ms / limit.max(1);
    let _ = writeln!(
        console,
        "watchdog: task '{}' has run {ran_ms} ms without yielding (limit {limit_ms} ms)",
        name.as_ref().map_or("?", StackName::as_str)
    );
}
