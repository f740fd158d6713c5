//! Checks that only the kernel can run, for the testkernel: the wake-before-block race
//! with a real interrupt injected inside the window.

use crate::arch::irq;
use crate::sched;
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

/// A vector no device gets (devices get 0x40..=0xef).
const RACE_VECTOR: u8 = 0xf0;

static ARMED: AtomicBool = AtomicBool::new(false);
static DONE: AtomicBool = AtomicBool::new(false);
static WAITER: AtomicU64 = AtomicU64::new(0);
static IN_WINDOW: AtomicU32 = AtomicU32::new(0);
static FIRED: AtomicBool = AtomicBool::new(false);

/// What [`wake_race`] saw.
#[derive(Clone, Copy, Debug)]
pub struct WakeRace {
    pub rounds: u32,
    /// Rounds whose interrupt woke the task between its decision to block and the block
    /// (the wake left a token).
    pub in_window: u32,
}

/// The "device" interrupt: the work is done; wake the waiter.
fn on_race_interrupt(_: usize) {
    DONE.store(true, Ordering::SeqCst);
    FIRED.store(true, Ordering::SeqCst);
    if !sched::wake(sched::TaskId(WAITER.load(Ordering::SeqCst))) {
        IN_WINDOW.fetch_add(1, Ordering::SeqCst);
    }
}

/// Runs inside `block_current`, after the caller decided to block: raise the interrupt
/// there and give it time to arrive before the task marks itself blocked.
fn inject() {
    if ARMED.swap(false, Ordering::SeqCst) {
        irq::raise_software(RACE_VECTOR);
        for _ in 0..10_000 {
            if FIRED.load(Ordering::SeqCst) {
                break;
            }
            core::hint::spin_loop();
        }
    }
}

/// `rounds` times: a task checks a flag that an interrupt sets, and blocks if it is not
/// set; the interrupt is raised inside the window between the check and the block. A
/// lost wake-up leaves the task blocked forever (the run ends with a deadlock report).
pub fn wake_race(rounds: u32) -> WakeRace {
    irq::set_handler(RACE_VECTOR, on_race_interrupt, 0);
    irq::go_live();
    WAITER.store(sched::current().0, Ordering::SeqCst);
    IN_WINDOW.store(0, Ordering::SeqCst);
    sched::set_block_hook(Some(inject));
    for _ in 0..rounds {
        DONE.store(false, Ordering::SeqCst);
        FIRED.store(false, Ordering::SeqCst);
        ARMED.store(true, Ordering::SeqCst);
        while !DONE.load(Ordering::SeqCst) {
            // The interrupt is in flight: the device has work outstanding.
            let _pending = sched::IoPending::new();
            sched::block_current("selftest device");
        }
    }
    sched::set_block_hook(None);
    WakeRace {
        rounds,
        in_window: IN_WINDOW.load(Ordering::SeqCst),
    }
}

/// Probes of the hypervisor underneath (PVM): see the module's documentation.
pub mod pvm {
    pub use crate::arch::pvm_probe::{
        Exit, Op, SYSCALL_VECTOR, UserEvent, cpuid_synthetic_ring0, rdmsr, ring0_flags, ring0_loop,
        run_user, wrmsr,
    };
}

/// The physical address behind a kernel virtual address, for handing memory to a
/// hypervisor in probes.
pub fn virt_to_phys(virt: u64) -> Option<u64> {
    crate::mm::virt_to_phys(virt)
}

/// Writes a byte to an I/O port, from ring 0 or ring 3 (where it is a call to ring 0).
///
/// # Safety
/// The port must belong to a device the caller drives, and the write must not break
/// memory safety.
pub unsafe fn outb(port: u16, value: u8) {
    // SAFETY: forwarded to the caller.
    unsafe { crate::arch::outb(port, value) }
}

/// Reads a byte from an I/O port, from ring 0 or ring 3.
///
/// # Safety
/// As for [`outb`]: reads can have device side effects.
pub unsafe fn inb(port: u16) -> u8 {
    // SAFETY: forwarded to the caller.
    unsafe { crate::arch::inb(port) }
}
