//! Local APIC: the one-shot timer that wakes the CPU from `hlt`, and interrupt routing.
//!
//! Set up on first use ([`ensure_timer`], from the first sleep), so a run that never
//! sleeps never pays for it. The legacy 8259 PIC is shut out by masking all its lines and
//! LINT0, where its ExtINT arrives. The timer uses TSC-deadline mode where the CPU has it (no calibration
//! needed), else one-shot mode with a count calibrated against the TSC.

use super::cpu;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

pub(crate) const TIMER_VECTOR: u8 = 0x30;
pub(crate) const SPURIOUS_VECTOR: u8 = 0xff;

const IA32_APIC_BASE: u32 = 0x1b;
const IA32_TSC_DEADLINE: u32 = 0x6e0;
const APIC_BASE_ENABLE: u64 = 1 << 11;
const APIC_BASE_X2APIC: u64 = 1 << 10;

const REG_ID: usize = 0x20;
const REG_EOI: usize = 0xb0;
const REG_ICR_LOW: usize = 0x300;
const REG_ICR_HIGH: usize = 0x310;
const REG_SPURIOUS: usize = 0xf0;
const REG_LVT_TIMER: usize = 0x320;
const REG_LVT_LINT0: usize = 0x350;
const REG_TIMER_INITIAL: usize = 0x380;
const REG_TIMER_CURRENT: usize = 0x390;
const REG_TIMER_DIVIDE: usize = 0x3e0;

const LVT_TSC_DEADLINE: u32 = 0b10 << 17;
const LVT_MASKED: u32 = 1 << 16;

static APIC_BASE: AtomicU64 = AtomicU64::new(0);
static TSC_DEADLINE: AtomicBool = AtomicBool::new(false);
/// One-shot mode: APIC timer ticks per 2^32 TSC ticks.
static TICKS_PER_TSC_SHL32: AtomicU64 = AtomicU64::new(0);

fn write(reg: usize, value: u32) {
    let base = APIC_BASE.load(Ordering::Relaxed);
    // SAFETY: `base` is the APIC's register page, mapped uncached by `init`.
    unsafe { ((base as usize + reg) as *mut u32).write_volatile(value) };
}

fn read(reg: usize) -> u32 {
    let base = APIC_BASE.load(Ordering::Relaxed);
    // SAFETY: as in `write`.
    unsafe { ((base as usize + reg) as *const u32).read_volatile() }
}

static READY: spin::Once<()> = spin::Once::new();

/// Enables the local APIC and its timer the first time it is called. A machine without a
/// usable APIC cannot sleep: that is reported and the run ends with status 101.
pub(crate) fn ensure_timer() {
    READY.call_once(|| {
        if let Err(e) = init() {
            crate::console::write_fmt(format_args!("fatal: local APIC timer: {e}\n"));
            crate::runtime::exit_now(crate::exit_status::FATAL);
        }
        let mode = if TSC_DEADLINE.load(Ordering::Relaxed) {
            "tsc-deadline"
        } else {
            "one-shot"
        };
        log::debug!("timer: local APIC, {mode} mode");
    });
}

fn init() -> Result<(), &'static str> {
    let (_, _, ecx, edx) = cpu::cpuid(1);
    if edx & (1 << 9) == 0 {
        return Err("the CPU has no local APIC");
    }
    // SAFETY: IA32_APIC_BASE exists on every CPU with an APIC (checked above).
    let mut base_msr = unsafe { cpu::rdmsr(IA32_APIC_BASE) };
    if base_msr & APIC_BASE_X2APIC != 0 {
        return Err("the local APIC is in x2APIC mode, which this kernel does not drive");
    }
    if base_msr & APIC_BASE_ENABLE == 0 {
        base_msr |= APIC_BASE_ENABLE;
        // SAFETY: setting the global enable bit only turns the local APIC on.
        unsafe { cpu::wrmsr(IA32_APIC_BASE, base_msr) };
    }
    let phys = base_msr & 0x000f_ffff_ffff_f000;
    let virt = crate::mm::map_device(phys, 4096).map_err(|_| "cannot map the local APIC")?;
    APIC_BASE.store(virt, Ordering::Relaxed);
    // Mask every 8259 line first, while LINT0 still accepts the PIC's output: the output
    // then drops through LINT0 and QEMU withdraws any interrupt request the PIC had raised
    // (SeaBIOS leaves it unmasked and ticking). Masked the other way round, TCG keeps a
    // stale request and takes "vector -1" (#GP) at the first `sti`.
    // SAFETY: OCW1 (interrupt mask) writes to the 8259 data ports.
    unsafe {
        cpu::outb(0x21, 0xff);
        cpu::outb(0xa1, 0xff);
    }
    write(REG_SPURIOUS, 0x100 | SPURIOUS_VECTOR as u32);
    write(REG_LVT_LINT0, LVT_MASKED);
    if ecx & (1 << 24) != 0 {
        TSC_DEADLINE.store(true, Ordering::Relaxed);
        write(REG_LVT_TIMER, LVT_TSC_DEADLINE | TIMER_VECTOR as u32);
    } else {
        write(REG_TIMER_DIVIDE, 0b1011); // divide by 1
        calibrate_one_shot(crate::time::tsc_hz());
        write(REG_LVT_TIMER, TIMER_VECTOR as u32);
    }
    Ok(())
}

/// Measures APIC timer ticks against 100 µs of TSC.
fn calibrate_one_shot(tsc_hz: u64) {
    write(REG_LVT_TIMER, LVT_MASKED | TIMER_VECTOR as u32);
    write(REG_TIMER_INITIAL, u32::MAX);
    let start = cpu::rdtsc();
    let span = (tsc_hz / 10_000).max(1);
    while cpu::rdtsc() - start < span {
        core::hint::spin_loop();
    }
    let elapsed_tsc = cpu::rdtsc() - start;
    let ticks = u64::from(u32::MAX - read(REG_TIMER_CURRENT));
    write(REG_TIMER_INITIAL, 0);
    TICKS_PER_TSC_SHL32.store((ticks << 32) / elapsed_tsc.max(1), Ordering::Relaxed);
}

/// Arms the timer to fire at TSC value `deadline` (or as close as one-shot mode allows).
pub(crate) fn arm_timer(deadline: u64) {
    if TSC_DEADLINE.load(Ordering::Relaxed) {
        // SAFETY: TSC-deadline mode is supported (checked in `init`); the MSR only arms it.
        unsafe { cpu::wrmsr(IA32_TSC_DEADLINE, deadline) };
        return;
    }
    let delta = deadline.saturating_sub(cpu::rdtsc());
    let ticks = (u128::from(delta) * u128::from(TICKS_PER_TSC_SHL32.load(Ordering::Relaxed))) >> 32;
    write(
        REG_TIMER_INITIAL,
        ticks.clamp(1, u128::from(u32::MAX)) as u32,
    );
}

/// Virtual address of the local APIC's register page (for the hypervisor probe).
pub(crate) fn register_page() -> u64 {
    ensure_timer();
    APIC_BASE.load(Ordering::Relaxed)
}

/// This CPU's local APIC id (the IOAPIC's destination for its interrupts).
pub(crate) fn id() -> u8 {
    ensure_timer();
    (read(REG_ID) >> 24) as u8
}

/// Ends the interrupt being handled.
pub(crate) fn end_of_interrupt() {
    if APIC_BASE.load(Ordering::Relaxed) != 0 {
        write(REG_EOI, 0);
    }
}

/// Sends this CPU an interrupt on `vector` (fixed delivery, "self" shorthand).
pub(crate) fn self_ipi(vector: u8) {
    ensure_timer();
    write(REG_ICR_HIGH, 0);
    write(REG_ICR_LOW, (0b01 << 18) | u32::from(vector));
}
