//! The privilege split: the kernel's tasks (the app and the kernel code that runs on its
//! behalf) at ring 3, in the one address space, with traps and a few privileged operations
//! at ring 0. Route (b) of `docs/pvm.md`: under `kvm_pvm` ring-0 code is emulated (about
//! 1.2 µs per loop iteration) while ring-3 code runs natively, and every event taken at
//! ring 3 reaches this kernel's own IDT.
//!
//! - **When.** Decided at boot ([`decide`]): on where the hypervisor is PVM (MSR
//!   0x4b564d11 reads "PVM", [`pvm_host`]), or where `pvm=on` asks for it (any machine: the
//!   tests run it under TCG); `pvm=off` keeps everything at ring 0. On a PVM host booted
//!   by PVH the kernel [`enter`]s ring 3 right after its traps are set up, before it parses
//!   its command line (so that too runs natively), and [`leave`]s again if that says
//!   `pvm=off`; a loader's boot tables are closed to ring 3, so there it enters once its
//!   own tables (built open) are live.
//! - **Privileged operations** (`cpu`'s MSR, port, CR3 and TLB wrappers, the console's
//!   bytes, halting) are *calls*: `int3` with the operation in RAX and its arguments in
//!   RDI, RSI, RDX, answered by [`handle_call`] at ring 0 with the result in RAX. Nothing
//!   else in the kernel changes: those wrappers check [`at_ring3`].
//! - **Interrupt masking** becomes a flag in memory (`irq` asks [`disable`] / [`enable`]):
//!   no trap. An interrupt that arrives at ring 3 while the flag is clear is held (noted,
//!   not acknowledged, and ring 3 resumes with the hardware flag off); re-enabling delivers
//!   it with one call. Interrupts that arrive with the flag set run their handler at ring 0
//!   as before.
//! - **Faults** at ring 3 reach the same trap handler and are reported as before.

use super::trap::TrapFrame;
use super::{cpu, gdt, irq};
use core::arch::asm;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// The PVM signature MSR of this host kind, and its value ("PVM"); see `docs/pvm.md`.
const MSR_PVM_SIGNATURE: u32 = 0x4b56_4d11;
const PVM_SIGNATURE: u64 = 0x4d_5650;

const RFLAGS_IF: u64 = 1 << 9;
const RFLAGS_RESERVED: u64 = 1 << 1;

/// Vector of the call gate (DPL 3): `int3`, the only `int` PVM delivers as itself.
pub(super) const CALL_VECTOR: u64 = 3;

/// Tasks run at ring 3 (chosen at boot, before [`enter`]).
static CHOSEN: AtomicBool = AtomicBool::new(false);
/// The virtual interrupt flag: what `irq` calls "interrupts enabled" at ring 3.
static VIRTUAL_IF: AtomicBool = AtomicBool::new(false);
/// Interrupts held while the virtual flag was clear, one bit per vector. (Ring 3 resumes
/// with the hardware flag off after the first, so a second is not expected; none is lost.)
static HELD: [AtomicU64; 4] = [const { AtomicU64::new(0) }; 4];
/// The interrupt flag ring 3 was last resumed with. Kept here because `pushfq` at ring 3
/// does not show it under kvm_pvm (the hypervisor keeps the real flag to itself).
static RING3_IF: AtomicBool = AtomicBool::new(false);

/// Why the mode was chosen, for the boot log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Choice {
    /// The hypervisor is PVM and `pvm=` was not given.
    Detected,
    /// `pvm=on`.
    Forced,
    /// `pvm=off`.
    Refused,
    /// Not a PVM host.
    NotPvm,
    /// A PVM host, but the kernel's address space reaches into the upper half (a disk
    /// image's loader put it there), which ring 3 cannot use under kvm_pvm.
    UpperHalf,
}

/// True if the hypervisor is this host kind's PVM (its signature MSR reads "PVM"); an
/// absent MSR's #GP is caught. One MSR read.
pub(crate) fn pvm_host() -> bool {
    super::pvm_probe::rdmsr(MSR_PVM_SIGNATURE) == Ok(PVM_SIGNATURE)
}

/// The decision for the `pvm=` option (`None`: unset) on this host. `lower_half` says
/// whether the kernel's whole address space lies in the lower half (PVH's identity map):
/// under kvm_pvm ring 3 cannot reach upper-half addresses (a loader's direct map there
/// faults as not present), so detection alone never chooses ring 3 without it.
pub(crate) fn decide(pvm: Option<bool>, pvm_host: bool, lower_half: bool) -> Choice {
    match (pvm, pvm_host) {
        (Some(true), true) if !lower_half => Choice::UpperHalf,
        (Some(true), _) => Choice::Forced,
        (Some(false), _) => Choice::Refused,
        (None, true) if lower_half => Choice::Detected,
        (None, true) => Choice::UpperHalf,
        (None, false) => Choice::NotPvm,
    }
}

impl Choice {
    /// Whether tasks run at ring 3 under this choice.
    pub(crate) fn ring3(self) -> bool {
        matches!(self, Self::Detected | Self::Forced)
    }
}

/// Records that tasks run at ring 3 (before [`enter`]), or no longer (after [`leave`]).
pub(crate) fn set_chosen(on: bool) {
    CHOSEN.store(on, Ordering::SeqCst);
}

/// Whether tasks run (or will run, once [`enter`]ed) at ring 3.
pub(crate) fn chosen() -> bool {
    CHOSEN.load(Ordering::Relaxed)
}

/// True when the code calling it runs at ring 3 (never unless [`chosen`]).
#[inline]
pub(crate) fn at_ring3() -> bool {
    if !CHOSEN.load(Ordering::Relaxed) {
        return false;
    }
    let cs: u16;
    // SAFETY: reading CS has no side effects (and is not privileged).
    unsafe { asm!("mov {0:x}, cs", out(reg) cs, options(nomem, nostack, preserves_flags)) };
    cs & 3 == 3
}

/// Drops the running code to ring 3: same stack, same registers, interrupts as they were
/// (held in the virtual flag). Everything it touches must be mapped open to ring 3.
///
/// # Safety
/// The page tables are open to ring 3 ([`crate::mm`] built them so when [`chosen`]), the
/// console is initialised, and nothing after this executes a privileged instruction
/// except through `cpu`/`irq`/the console, which know.
pub(crate) unsafe fn enter() {
    debug_assert!(chosen());
    if at_ring3() {
        return;
    }
    super::trap::set_user_gate(CALL_VECTOR as u8);
    let flags: u64;
    // SAFETY: reads RFLAGS.
    unsafe { asm!("pushfq", "pop {}", out(reg) flags) };
    VIRTUAL_IF.store(flags & RFLAGS_IF != 0, Ordering::SeqCst);
    // Ring 3 starts with the hardware flag as `irq` wants it: on once interrupts are live.
    let hardware = if irq::live() { RFLAGS_IF } else { 0 };
    RING3_IF.store(hardware != 0, Ordering::SeqCst);
    // SAFETY: an `iretq` to the next instruction at ring 3, on the same stack (its frame is
    // built below the current RSP and popped by the `iretq`); registers are untouched.
    unsafe {
        asm!(
            "mov {tmp}, rsp",
            "push {ss}",
            "push {tmp}",
            "push {flags}",
            "push {cs}",
            "lea {tmp}, [rip + 2f]",
            "push {tmp}",
            "iretq",
            "2:",
            tmp = out(reg) _,
            ss = in(reg) u64::from(gdt::USER_DATA),
            cs = in(reg) u64::from(gdt::USER_CODE),
            flags = in(reg) RFLAGS_RESERVED | hardware,
        )
    };
}

/// Back to ring 0 for good (`pvm=off` found after an early [`enter`]).
pub(crate) fn leave() {
    call(Call::Leave, 0, 0, 0);
    set_chosen(false);
}

/// `irq::save_and_disable` at ring 3: clears the virtual flag, says whether it was set.
#[inline]
pub(crate) fn disable() -> bool {
    VIRTUAL_IF.swap(false, Ordering::SeqCst)
}

/// `irq::enable` at ring 3: sets the virtual flag, and delivers a held interrupt (or turns
/// the hardware flag on once interrupts are live) with one call.
#[inline]
pub(crate) fn enable() {
    VIRTUAL_IF.store(true, Ordering::SeqCst);
    if any_held() || (irq::live() && !RING3_IF.load(Ordering::SeqCst)) {
        call(Call::Deliver, 0, 0, 0);
    }
}

/// `irq::wait_for_interrupt` at ring 3: halts at ring 0 until an interrupt has been
/// handled (a held one counts); returns with the virtual flag clear, as it was.
pub(crate) fn wait_for_interrupt() {
    VIRTUAL_IF.store(false, Ordering::SeqCst);
    call(Call::Halt, 0, 0, 0);
}

/// `irq::halt_forever` at ring 3.
pub(crate) fn halt_forever() -> ! {
    call(Call::HaltForever, 0, 0, 0);
    unreachable!("the ring-0 halt returned");
}

/// What ring 3 asks ring 0 to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u64)]
pub(crate) enum Call {
    /// Deliver a held interrupt; turn the hardware flag on if interrupts are live.
    Deliver = 1,
    /// `sti; hlt; cli`, unless an interrupt is held (then deliver it).
    Halt,
    HaltForever,
    /// RDI = MSR; returns its value.
    Rdmsr,
    /// RDI = MSR, RSI = value.
    Wrmsr,
    /// RDI = port, RSI = width in bytes; returns the value read.
    In,
    /// RDI = port, RSI = width in bytes, RDX = value.
    Out,
    /// RDI = the page-table root.
    LoadCr3,
    /// Returns CR3.
    ReadCr3,
    /// RDI = an address whose translation to drop.
    Invlpg,
    /// RDI = address, RSI = length of bytes for COM1.
    ConsoleWrite,
    /// Return to the caller at ring 0, with the hardware interrupt flag as the virtual one.
    Leave,
    /// Time the TSC against the PIT; returns Hz, or 0 / 1 for the two errors.
    TimePit,
}

const CALLS: [Call; 13] = [
    Call::Deliver,
    Call::Halt,
    Call::HaltForever,
    Call::Rdmsr,
    Call::Wrmsr,
    Call::In,
    Call::Out,
    Call::LoadCr3,
    Call::ReadCr3,
    Call::Invlpg,
    Call::ConsoleWrite,
    Call::Leave,
    Call::TimePit,
];

/// Makes a call to ring 0 (from ring 3 only).
#[inline]
pub(crate) fn call(call: Call, a: u64, b: u64, c: u64) -> u64 {
    let result: u64;
    // SAFETY: `int3` through the DPL-3 call gate; `handle_call` does what `call` names and
    // comes back with every register but RAX as it was. Not `nomem`: ring 0 may run
    // interrupt handlers that touch any memory, and reads the console's bytes.
    unsafe {
        asm!(
            "int3",
            inlateout("rax") call as u64 => result,
            in("rdi") a,
            in("rsi") b,
            in("rdx") c,
        )
    };
    result
}

/// Answers a call from ring 3 (the trap handler's `int3` from ring 3). Runs at ring 0 with
/// interrupts disabled.
pub(super) fn handle_call(frame: &mut TrapFrame) {
    let Some(&call) = CALLS.iter().find(|c| **c as u64 == frame.rax) else {
        crate::console::emergency_write(format_args!(
            "fatal: breakpoint at rip {:#x} at ring 3 (not a ring-0 call: rax {:#x})\n",
            frame.rip, frame.rax
        ));
        crate::runtime::exit_now(crate::exit_status::FATAL);
    };
    let (a, b, c) = (frame.rdi, frame.rsi, frame.rdx);
    frame.rax = 0;
    match call {
        Call::Deliver => {
            deliver_held();
        }
        Call::Halt => {
            if !deliver_held() {
                irq::wait_for_interrupt();
            }
        }
        Call::HaltForever => irq::halt_forever(),
        // The ring-3 kernel asks for exactly what its own `cpu` wrappers would have done at
        // ring 0 (they make these calls), under the same contracts, which they forward.
        Call::Rdmsr => {
            // SAFETY: see above.
            frame.rax = unsafe { cpu::rdmsr(a as u32) };
        }
        Call::Wrmsr => {
            // SAFETY: see above.
            unsafe { cpu::wrmsr(a as u32, b) };
        }
        Call::In => {
            // SAFETY: see above.
            frame.rax = unsafe {
                match b {
                    1 => u64::from(cpu::inb(a as u16)),
                    2 => u64::from(cpu::inw(a as u16)),
                    _ => u64::from(cpu::inl(a as u16)),
                }
            };
        }
        Call::Out => {
            // SAFETY: see above.
            unsafe {
                match b {
                    1 => cpu::outb(a as u16, c as u8),
                    2 => cpu::outw(a as u16, c as u16),
                    _ => cpu::outl(a as u16, c as u32),
                }
            }
        }
        Call::LoadCr3 => {
            // SAFETY: see above.
            unsafe { cpu::load_page_tables(a) };
        }
        Call::ReadCr3 => frame.rax = cpu::page_table_root(),
        Call::Invlpg => cpu::flush_page(a),
        Call::ConsoleWrite => {
            // SAFETY: ring 3 passes a slice of its own memory (the single address space).
            let bytes = unsafe { core::slice::from_raw_parts(a as *const u8, b as usize) };
            crate::console::write_raw(bytes);
        }
        Call::TimePit => frame.rax = super::clock::pit_hz_for_ring3(),
        Call::Leave => {
            deliver_held();
            frame.cs = u64::from(gdt::KERNEL_CODE);
            frame.ss = u64::from(gdt::KERNEL_DATA);
            if VIRTUAL_IF.load(Ordering::SeqCst) {
                frame.rflags |= RFLAGS_IF;
            } else {
                frame.rflags &= !RFLAGS_IF;
            }
            return;
        }
    }
    set_hardware_if(frame);
}

/// The trap handler's check for an interrupt that arrived at ring 3: true if it is held
/// (the virtual flag is clear), false if it is to be handled now.
pub(super) fn hold(frame: &mut TrapFrame) -> bool {
    if VIRTUAL_IF.load(Ordering::SeqCst) {
        return false;
    }
    let vector = frame.vector as usize;
    HELD[vector / 64].fetch_or(1 << (vector % 64), Ordering::SeqCst);
    frame.rflags &= !RFLAGS_IF;
    RING3_IF.store(false, Ordering::SeqCst);
    true
}

fn any_held() -> bool {
    HELD.iter().any(|word| word.load(Ordering::SeqCst) != 0)
}

/// Runs the held interrupts' handlers, highest vector first (the local APIC's order);
/// false if none was held.
fn deliver_held() -> bool {
    let mut delivered = false;
    for (index, word) in HELD.iter().enumerate().rev() {
        let mut bits = word.swap(0, Ordering::SeqCst);
        while bits != 0 {
            let bit = 63 - bits.leading_zeros() as usize;
            bits &= !(1 << bit);
            irq::dispatch((index * 64 + bit) as u8);
            delivered = true;
        }
    }
    delivered
}

/// Ring 3 resumes with the hardware flag on once interrupts are live, unless one is held.
fn set_hardware_if(frame: &mut TrapFrame) {
    let on = irq::live() && !any_held();
    if on {
        frame.rflags |= RFLAGS_IF;
    } else {
        frame.rflags &= !RFLAGS_IF;
    }
    RING3_IF.store(on, Ordering::SeqCst);
}
