//! x86_64 support: PVH entry, CPU tables and traps, interrupts (`irq`: the only code that
//! enables or disables them; local APIC and IOAPIC), TSC clock, exit device, and the
//! privilege split that runs tasks at ring 3 where that is faster (`ring3`).

mod apic;
mod boot;
mod clock;
pub(crate) mod cpu;
mod fw_cfg;
mod gdt;
mod ioapic;
pub(crate) mod irq;
mod loader;
mod pci_io;
mod pvh;
pub(crate) mod pvm_probe;
pub(crate) mod ring3;
pub(crate) mod rtc;
mod switch;
mod trap;

pub(crate) use apic::{TIMER_VECTOR, arm_timer, ensure_timer};
pub(crate) use clock::calibrate_tsc;
pub(crate) use cpu::{
    debug_exit, flush_page, inb, load_page_tables, outb, page_table_root, rdtsc, run_on_stack,
};
pub(crate) use ring3::{
    Choice as Ring3Choice, at_ring3, chosen as tasks_at_ring3, decide as decide_ring3,
    enter as enter_ring3, leave as leave_ring3, pvm_host, set_chosen as set_ring3,
};
pub(crate) use trap::init_interrupt_gates;

/// Writes bytes to COM1 from ring 3 (one call to ring 0; see `ring3`).
pub(crate) fn console_write(bytes: &[u8]) {
    ring3::call(
        ring3::Call::ConsoleWrite,
        bytes.as_ptr() as u64,
        bytes.len() as u64,
        0,
    );
}
pub(crate) use irq::halt_forever;
pub(crate) use pci_io::PortConfigSpace;
pub(crate) use switch::{initial_stack, switch_stack};
pub(crate) use trap::{init as init_traps, static_stack_guards};

/// First address of the boot stack's guard page (unmapped once the kernel's tables are live).
pub(crate) fn boot_stack_guard() -> u64 {
    boot::boot_stack_guard()
}
