//! GDT and TSS: flat 64-bit kernel segments, ring-3 segments (for the hypervisor probe in
//! `pvm_probe`) and the interrupt-stack table.
//!
//! Layout, fixed because `syscall`/`sysret` derive selectors from it: 0x08 kernel code,
//! 0x10 kernel data, 0x18 TSS (two slots), 0x28 user data, 0x30 user code.

use spin::Once;
use x86_64::VirtAddr;
use x86_64::instructions::segmentation::{CS, SS, Segment};
use x86_64::instructions::tables::load_tss;
use x86_64::structures::gdt::{Descriptor, GlobalDescriptorTable, SegmentSelector};
use x86_64::structures::tss::TaskStateSegment;

/// IST slots (1-based in the IDT, 0-based in the TSS array).
pub(super) const IST_DOUBLE_FAULT: u8 = 1;
pub(super) const IST_NMI: u8 = 2;
pub(super) const IST_PAGE_FAULT: u8 = 3;

/// Ring-3 selectors (RPL 3), in the layout above.
pub(super) const USER_DATA: u16 = 0x28 | 3;
pub(super) const USER_CODE: u16 = 0x30 | 3;
/// Kernel selectors, for frames that return to ring 0 and for `syscall`'s STAR.
pub(super) const KERNEL_CODE: u16 = 0x08;
pub(super) const KERNEL_DATA: u16 = 0x10;

static TSS: Once<TaskStateSegment> = Once::new();
static GDT: Once<(
    GlobalDescriptorTable,
    SegmentSelector,
    SegmentSelector,
    SegmentSelector,
)> = Once::new();

/// Loads the GDT and TSS; `ist_tops[i]` is the stack top for IST slot `i + 1`, and
/// `ring0_top` the stack an event taken at ring 3 starts on.
pub(super) fn init(ist_tops: [u64; 3], ring0_top: u64) {
    let tss = TSS.call_once(|| {
        let mut tss = TaskStateSegment::new();
        let mut table = tss.interrupt_stack_table;
        for (slot, top) in table.iter_mut().zip(ist_tops) {
            *slot = VirtAddr::new(top);
        }
        tss.interrupt_stack_table = table;
        tss.privilege_stack_table[0] = VirtAddr::new(ring0_top);
        tss
    });
    let (gdt, code, data, tss_selector) = GDT.call_once(|| {
        let mut gdt = GlobalDescriptorTable::new();
        let code = gdt.append(Descriptor::kernel_code_segment());
        let data = gdt.append(Descriptor::kernel_data_segment());
        let tss_selector = gdt.append(Descriptor::tss_segment(tss));
        let user_data = gdt.append(Descriptor::user_data_segment());
        let user_code = gdt.append(Descriptor::user_code_segment());
        assert_eq!(
            (code.0, data.0, user_data.0, user_code.0),
            (KERNEL_CODE, KERNEL_DATA, USER_DATA, USER_CODE),
            "GDT layout"
        );
        (gdt, code, data, tss_selector)
    });
    gdt.load();
    // SAFETY: the selectors index descriptors of the GDT just loaded, which lives forever.
    // Segment loads are skipped when the register already holds the same flat selector
    // (the PVH entry's GDT uses the same layout): each one is an exit under PVM-like
    // hypervisors.
    unsafe {
        if CS::get_reg() != *code {
            CS::set_reg(*code);
        }
        if SS::get_reg() != *data {
            SS::set_reg(*data);
        }
        load_tss(*tss_selector);
    }
}

/// The kernel code selector, for IDT gates.
pub(super) fn code_selector() -> u16 {
    GDT.get().map_or(0x08, |g| g.1.0)
}
