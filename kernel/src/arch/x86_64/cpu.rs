//! Thin safe wrappers over single x86_64 instructions the kernel needs. The privileged
//! ones become calls to ring 0 when the caller runs at ring 3 (`ring3`).

use super::ring3::{self, Call};
use core::arch::asm;
use x86_64::instructions::port::Port;

/// Reads the time-stamp counter.
#[inline]
pub(crate) fn rdtsc() -> u64 {
    // SAFETY: RDTSC only reads a counter; CR4.TSD is clear so it is allowed at ring 0.
    unsafe { core::arch::x86_64::_rdtsc() }
}

/// Executes CPUID for `leaf` (subleaf 0): (eax, ebx, ecx, edx).
pub(crate) fn cpuid(leaf: u32) -> (u32, u32, u32, u32) {
    let r = core::arch::x86_64::__cpuid_count(leaf, 0);
    (r.eax, r.ebx, r.ecx, r.edx)
}

/// Reads a model-specific register.
///
/// # Safety
/// The MSR must exist on this CPU (reading an absent one raises #GP).
pub(crate) unsafe fn rdmsr(msr: u32) -> u64 {
    if ring3::at_ring3() {
        return ring3::call(Call::Rdmsr, u64::from(msr), 0, 0);
    }
    // SAFETY: the caller guarantees the MSR exists.
    unsafe { x86_64::registers::model_specific::Msr::new(msr).read() }
}

/// Writes a model-specific register.
///
/// # Safety
/// The MSR must exist and the value must not break memory safety (e.g. by moving
/// memory the kernel relies on).
pub(crate) unsafe fn wrmsr(msr: u32, value: u64) {
    if ring3::at_ring3() {
        ring3::call(Call::Wrmsr, u64::from(msr), value, 0);
        return;
    }
    // SAFETY: forwarded to the caller.
    unsafe { x86_64::registers::model_specific::Msr::new(msr).write(value) }
}

/// Writes a byte to an I/O port.
///
/// # Safety
/// The port must belong to a device this kernel drives, and the write must be harmless
/// to memory safety.
pub(crate) unsafe fn outb(port: u16, value: u8) {
    if ring3::at_ring3() {
        ring3::call(Call::Out, u64::from(port), 1, u64::from(value));
        return;
    }
    // SAFETY: forwarded to the caller.
    unsafe { Port::new(port).write(value) }
}

/// Reads a byte from an I/O port.
///
/// # Safety
/// As for [`outb`]: reads can have device side effects.
pub(crate) unsafe fn inb(port: u16) -> u8 {
    if ring3::at_ring3() {
        return ring3::call(Call::In, u64::from(port), 1, 0) as u8;
    }
    // SAFETY: forwarded to the caller.
    unsafe { Port::new(port).read() }
}

/// Ends the run through QEMU's `isa-debug-exit` device; returns only if it is absent.
pub(crate) fn debug_exit(value: u32) {
    // SAFETY: the port is reserved for isa-debug-exit; writing it either stops the
    // machine or does nothing.
    unsafe { outl(crate::exit_status::DEBUG_EXIT_PORT, value) };
}

/// Installs `root` as the page-table root (PML4).
///
/// # Safety
/// The tables must map the running code, its stack and all memory the kernel will touch,
/// with the same virtual addresses as now.
pub(crate) unsafe fn load_page_tables(root: u64) {
    if ring3::at_ring3() {
        ring3::call(Call::LoadCr3, root, 0, 0);
        return;
    }
    // SAFETY: forwarded to the caller.
    unsafe { asm!("mov cr3, {}", in(reg) root, options(nostack, preserves_flags)) };
}

/// Physical address of the live page-table root (CR3 without flags).
pub(crate) fn page_table_root() -> u64 {
    if ring3::at_ring3() {
        return ring3::call(Call::ReadCr3, 0, 0, 0) & 0x000f_ffff_ffff_f000;
    }
    let value: u64;
    // SAFETY: reading CR3 has no side effects.
    unsafe { asm!("mov {}, cr3", out(reg) value, options(nomem, nostack, preserves_flags)) };
    value & 0x000f_ffff_ffff_f000
}

/// Writes a 16-bit word to an I/O port.
///
/// # Safety
/// As for [`outb`].
pub(crate) unsafe fn outw(port: u16, value: u16) {
    if ring3::at_ring3() {
        ring3::call(Call::Out, u64::from(port), 2, u64::from(value));
        return;
    }
    // SAFETY: forwarded to the caller.
    unsafe { Port::new(port).write(value) }
}

/// Reads a word from an I/O port.
///
/// # Safety
/// As for [`inb`].
pub(crate) unsafe fn inw(port: u16) -> u16 {
    if ring3::at_ring3() {
        return ring3::call(Call::In, u64::from(port), 2, 0) as u16;
    }
    // SAFETY: forwarded to the caller.
    unsafe { Port::new(port).read() }
}

/// Writes a doubleword to an I/O port.
///
/// # Safety
/// As for [`outb`].
pub(crate) unsafe fn outl(port: u16, value: u32) {
    if ring3::at_ring3() {
        ring3::call(Call::Out, u64::from(port), 4, u64::from(value));
        return;
    }
    // SAFETY: forwarded to the caller.
    unsafe { Port::new(port).write(value) }
}

/// Reads a doubleword from an I/O port.
///
/// # Safety
/// As for [`inb`].
pub(crate) unsafe fn inl(port: u16) -> u32 {
    if ring3::at_ring3() {
        return ring3::call(Call::In, u64::from(port), 4, 0) as u32;
    }
    // SAFETY: forwarded to the caller.
    unsafe { Port::new(port).read() }
}

/// Drops the TLB entry for the page holding `addr`.
pub(crate) fn flush_page(addr: u64) {
    if ring3::at_ring3() {
        ring3::call(Call::Invlpg, addr, 0, 0);
        return;
    }
    // SAFETY: INVLPG only invalidates a cached translation.
    unsafe { asm!("invlpg [{}]", in(reg) addr, options(nostack, preserves_flags)) };
}

/// Reads CR2, the address of the last page fault.
pub(crate) fn cr2() -> u64 {
    let value: u64;
    // SAFETY: reading CR2 has no side effects.
    unsafe { asm!("mov {}, cr2", out(reg) value, options(nomem, nostack, preserves_flags)) };
    value
}

/// Switches to the stack ending at `top` and calls `entry`, which never returns.
///
/// # Safety
/// `top` must be the 16-byte-aligned end of a mapped, otherwise unused stack.
pub(crate) unsafe fn run_on_stack(top: u64, entry: extern "C" fn() -> !) -> ! {
    // SAFETY: the caller provides a valid stack; `entry` does not return.
    unsafe {
        asm!(
            "mov rsp, {top}",
            "xor ebp, ebp",
            "call {entry}",
            "ud2",
            top = in(reg) top,
            entry = in(reg) entry,
            options(noreturn)
        )
    }
}
