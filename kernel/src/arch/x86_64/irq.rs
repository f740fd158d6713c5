//! Interrupts: the one place that turns them on and off, the table of registered handlers,
//! and dispatch.
//!
//! Everything else in the kernel masks interrupts only through [`save_and_disable`] and
//! [`restore`] (usually through [`crate::sync::IrqMutex`]), so running tasks at ring 3
//! (`ring3`, where `cli`/`sti` would fault) changes only this module's few instructions:
//! there they become a flag in memory. Handlers are registered with a vector
//! ([`set_handler`] for fixed vectors such as the APIC timer, [`register_gsi`] for device
//! lines routed through the IOAPIC) and run in interrupt context: they must not block,
//! allocate or take a lock that task code holds with interrupts enabled.
//!
//! Dispatch sends the local APIC its end-of-interrupt after the handler returns. A
//! level-triggered device line would fire again at once if the device still asserts it,
//! so device handlers mask their line ([`IrqLine::mask`]) and the driver's task unmasks it
//! once it has acknowledged the device.

use super::{apic, ioapic, ring3};
use core::arch::asm;
use core::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};

/// RFLAGS.IF
const FLAGS_IF: u64 = 1 << 9;

/// Whether interrupts were enabled before [`save_and_disable`]; give it back to
/// [`restore`].
#[must_use = "interrupts stay disabled unless the state is restored"]
#[derive(Debug)]
pub(crate) struct IrqState(bool);

/// Disables interrupts and says whether they were enabled.
#[inline]
pub(crate) fn save_and_disable() -> IrqState {
    if ring3::at_ring3() {
        return IrqState(ring3::disable());
    }
    let flags: u64;
    // SAFETY: reads RFLAGS and clears IF. Not `nomem`: the compiler must not move memory
    // accesses of a critical section across it.
    unsafe { asm!("pushfq", "pop {}", "cli", out(reg) flags) };
    IrqState(flags & FLAGS_IF != 0)
}

/// Re-enables interrupts if they were enabled when `state` was saved.
#[inline]
pub(crate) fn restore(state: IrqState) {
    if state.0 && ring3::at_ring3() {
        ring3::enable();
    } else if state.0 {
        // SAFETY: handlers take only interrupt-safe locks and never block, so they may
        // run as soon as the critical section that disabled them has ended.
        unsafe { asm!("sti") };
    }
}

/// Enables interrupts for the running task (the scheduler does this when a task starts
/// or resumes once interrupts are [`live`]).
pub(crate) fn enable() {
    if ring3::at_ring3() {
        ring3::enable();
        return;
    }
    // SAFETY: as in `restore`.
    unsafe { asm!("sti") };
}

/// Enables interrupts and halts until one arrives, atomically (STI's one-instruction
/// shadow covers HLT, so an interrupt that is already pending wakes the HLT instead of
/// being taken before it); returns with interrupts disabled again.
pub(crate) fn wait_for_interrupt() {
    if ring3::at_ring3() {
        ring3::wait_for_interrupt();
        return;
    }
    // SAFETY: as in `restore`; the caller checked for work with interrupts off.
    unsafe { asm!("sti", "hlt", "cli") };
}

/// Stops the CPU for good.
pub(crate) fn halt_forever() -> ! {
    if ring3::at_ring3() {
        ring3::halt_forever();
    }
    loop {
        // SAFETY: with interrupts off, HLT only waits (an NMI would resume the loop).
        unsafe { asm!("cli", "hlt") };
    }
}

static LIVE: AtomicBool = AtomicBool::new(false);

/// True once something needs interrupts while tasks run (the watchdog tick or a device):
/// from then on tasks run with interrupts enabled. Before that they run with them off,
/// and interrupts arrive only while the CPU halts in the scheduler.
pub(crate) fn live() -> bool {
    LIVE.load(Ordering::Relaxed)
}

/// Sets up the local APIC (masking the 8259 PIC first) and marks interrupts live; the
/// caller continues with them enabled.
pub(crate) fn go_live() {
    apic::ensure_timer();
    LIVE.store(true, Ordering::Relaxed);
    enable();
}

/// An interrupt handler: runs in interrupt context with the value given at registration.
pub(crate) type Handler = fn(usize);

/// First vector handed out to devices; below are exceptions and fixed vectors.
const FIRST_DEVICE_VECTOR: u8 = 0x40;
/// Last vector handed out to devices (0xf0.. stay free for fixed uses).
const LAST_DEVICE_VECTOR: u8 = 0xef;

static HANDLERS: [AtomicUsize; 256] = [const { AtomicUsize::new(0) }; 256];
static HANDLER_DATA: [AtomicUsize; 256] = [const { AtomicUsize::new(0) }; 256];
static NEXT_VECTOR: AtomicU8 = AtomicU8::new(FIRST_DEVICE_VECTOR);
static UNEXPECTED: AtomicUsize = AtomicUsize::new(0);

/// Why an interrupt could not be registered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(clippy::enum_variant_names)]
pub enum IrqError {
    /// Every device vector is taken.
    NoVector,
    /// The IOAPIC has no such input.
    NoSuchLine(u32),
    /// The IOAPIC could not be found or mapped.
    NoIoApic,
}

impl core::fmt::Display for IrqError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::NoVector => f.write_str("no free interrupt vector"),
            Self::NoSuchLine(gsi) => write!(f, "the IOAPIC has no input {gsi}"),
            Self::NoIoApic => f.write_str("no usable IOAPIC"),
        }
    }
}

/// Installs `handler` for a fixed `vector` (the APIC timer's, for example).
pub(crate) fn set_handler(vector: u8, handler: Handler, data: usize) {
    HANDLER_DATA[vector as usize].store(data, Ordering::Relaxed);
    HANDLERS[vector as usize].store(handler as usize, Ordering::Release);
}

/// How a device signals on its line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(dead_code)] // every device today is level-triggered
pub enum Trigger {
    Edge,
    /// Asserted until the device is acknowledged (PCI INTx, virtio-mmio).
    Level,
}

/// A device interrupt line routed through the IOAPIC to its own vector.
#[derive(Clone, Copy, Debug)]
pub struct IrqLine {
    gsi: u32,
}

impl IrqLine {
    /// Stops the line from interrupting (interrupt context or task).
    pub fn mask(self) {
        ioapic::set_masked(self.gsi, true);
    }

    /// Lets the line interrupt again; a level-triggered line that is still asserted
    /// interrupts at once.
    pub fn unmask(self) {
        ioapic::set_masked(self.gsi, false);
    }
}

/// Gives IOAPIC input `gsi` a vector of its own with `handler`, routed to this CPU and
/// left masked: call [`IrqLine::unmask`] once the driver is ready. Makes interrupts
/// [`live`].
pub(crate) fn register_gsi(
    gsi: u32,
    trigger: Trigger,
    handler: Handler,
    data: usize,
) -> Result<IrqLine, IrqError> {
    let vector = NEXT_VECTOR
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| {
            (v <= LAST_DEVICE_VECTOR).then(|| v + 1)
        })
        .map_err(|_| IrqError::NoVector)?;
    set_handler(vector, handler, data);
    go_live();
    ioapic::route(gsi, vector, trigger, apic::id())?;
    Ok(IrqLine { gsi })
}

/// Raises `vector` on this CPU as if a device had (for tests of the wake path): runs its
/// handler through the ordinary interrupt entry.
pub(crate) fn raise_software(vector: u8) {
    apic::self_ipi(vector);
}

/// Called from the trap entry for every vector >= 32, with interrupts disabled.
pub(crate) fn dispatch(vector: u8) {
    if vector == apic::SPURIOUS_VECTOR {
        return; // no EOI for spurious interrupts
    }
    let handler = HANDLERS[vector as usize].load(Ordering::Acquire);
    if handler != 0 {
        let data = HANDLER_DATA[vector as usize].load(Ordering::Relaxed);
        // SAFETY: only `set_handler` stores non-zero values here, each a `Handler`.
        let handler: Handler = unsafe { core::mem::transmute::<usize, Handler>(handler) };
        handler(data);
    } else if vector != apic::TIMER_VECTOR {
        // The timer may fire with no handler: it only wakes a halted CPU.
        UNEXPECTED.fetch_add(1, Ordering::Relaxed);
        // Interrupt context: never wait for the console a task may hold.
        if let Some(mut console) = crate::console::try_console() {
            use core::fmt::Write;
            let _ = writeln!(
                console,
                "warning: unexpected interrupt vector {vector:#x} ignored"
            );
        }
    }
    apic::end_of_interrupt();
}
