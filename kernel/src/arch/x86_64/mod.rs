//! x86_64 support: PVH entry, CPU tables and traps, local APIC timer, TSC clock, exit device.

mod apic;
mod boot;
mod clock;
pub(crate) mod cpu;
mod fw_cfg;
mod gdt;
mod loader;
mod pvh;
mod switch;
mod trap;

pub(crate) use apic::{arm_timer, ensure_timer};
pub(crate) use clock::calibrate_tsc;
pub(crate) use cpu::{
    debug_exit, disable_interrupts, enable_interrupts, flush_page, halt_forever, load_page_tables,
    page_table_root, rdtsc, run_on_stack, wait_for_interrupt,
};
pub(crate) use switch::{initial_stack, switch_stack};
pub(crate) use trap::{init as init_traps, static_stack_guards};

/// First address of the boot stack's guard page (unmapped once the kernel's tables are live).
pub(crate) fn boot_stack_guard() -> u64 {
    boot::boot_stack_guard()
}
