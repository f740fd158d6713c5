//! x86_64 support: PVH entry, CPU tables and traps, interrupts (`irq`: the only code that
//! enables or disables them; local APIC and IOAPIC), TSC clock, exit device.

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
pub(crate) mod rtc;
mod switch;
mod trap;

pub(crate) use apic::{TIMER_VECTOR, arm_timer, ensure_timer};
pub(crate) use clock::calibrate_tsc;
pub(crate) use cpu::{
    debug_exit, flush_page, load_page_tables, page_table_root, rdtsc, run_on_stack,
};
pub(crate) use irq::halt_forever;
pub(crate) use pci_io::PortConfigSpace;
pub(crate) use switch::{initial_stack, switch_stack};
pub(crate) use trap::{init as init_traps, static_stack_guards};

/// First address of the boot stack's guard page (unmapped once the kernel's tables are live).
pub(crate) fn boot_stack_guard() -> u64 {
    boot::boot_stack_guard()
}
