//! PVH entry: from QEMU's 32-bit protected-mode handoff to Rust in 64-bit long mode.
//!
//! The ELF note `XEN_ELFNOTE_PHYS32_ENTRY` tells QEMU (`-kernel`) where to enter. The
//! entry records the TSC, loads page tables that the assembler built (the first GiB
//! identity-mapped with 2 MiB pages: enough for the kernel image, the boot structures
//! and the early page-table frames, which come from the lowest free memory), enables long mode
//! with NX and write protection, and calls [`super::pvh::pvh_entry`] on the boot stack
//! with the physical address of `hvm_start_info`. The kernel's own page tables replace
//! these boot tables in `mm::init`.

use core::sync::atomic::AtomicU64;

/// TSC at the first instruction of the kernel, written by the entry code.
pub(crate) static ENTRY_TSC: AtomicU64 = AtomicU64::new(0);

/// Size of the boot stack, which also runs the kernel until the app's stack exists.
pub(crate) const BOOT_STACK_SIZE: usize = 64 * 1024;

core::arch::global_asm!(
    r#"
    .pushsection .note.Xen, "a", @note
    .balign 4
    .long 4                      /* name size: "Xen\0" */
    .long 8                      /* descriptor size */
    .long 18                     /* XEN_ELFNOTE_PHYS32_ENTRY */
    .asciz "Xen"
    .balign 4
    .quad pvh_start32
    .balign 4
    .popsection

    .pushsection .text.boot, "ax"
    .code32
    .global pvh_start32
pvh_start32:
    cli
    cld
    mov %ebx, %esi               /* hvm_start_info, kept in esi */
    rdtsc
    mov %eax, {entry_tsc}
    mov %edx, {entry_tsc}+4
    mov $boot_stack_top, %esp

    mov %cr4, %eax
    or $0x20, %eax               /* PAE */
    mov %eax, %cr4
    mov $boot_pml4, %eax
    mov %eax, %cr3
    mov $0xC0000080, %ecx        /* EFER */
    rdmsr
    or $0x900, %eax              /* LME | NXE */
    wrmsr
    mov %cr0, %eax
    or $0x80010001, %eax         /* PG | WP | PE */
    mov %eax, %cr0
    lgdt boot_gdt_ptr
    ljmp $0x08, $pvh_start64

    .code64
pvh_start64:
    /* Only SS needs a valid selector in long mode (IRET checks it); DS/ES/FS/GS are
       left alone: every segment load is a costly exit under some hypervisors. */
    mov $0x10, %eax
    mov %eax, %ss
    mov $boot_stack_top, %esp
    xor %ebp, %ebp
    mov %esi, %edi               /* zero-extends: first argument = hvm_start_info */
    call {entry}
    ud2
    .popsection

    .pushsection .rodata.boot_gdt, "a"
    .balign 8
boot_gdt:
    .quad 0
    .quad 0x00af9a000000ffff     /* 0x08: 64-bit code */
    .quad 0x00cf92000000ffff     /* 0x10: data */
boot_gdt_ptr:
    .word boot_gdt_ptr - boot_gdt - 1
    .long boot_gdt
    .popsection

    /* Boot page tables, built by the assembler: 512 pages of 2 MiB identity-map the
       first GiB (present, writable, and open to ring 3, so that a kernel whose tasks run
       at ring 3 can move there before it builds its own tables; no ring-3 code exists
       otherwise). Nothing runs to build them. */
    .pushsection .data.boot_tables, "aw"
    .balign 4096
boot_pml4:
    .quad boot_pdpt + 7
    .fill 511, 8, 0
boot_pdpt:
    .quad boot_pd + 7
    .fill 511, 8, 0
boot_pd:
    .set page, 0
    .rept 512
    .quad (page << 21) | 0x87
    .set page, page + 1
    .endr
    .popsection

    .pushsection .bss.boot, "aw", @nobits
    .balign 4096
    .global boot_stack_guard
boot_stack_guard:
    .skip 4096
    .skip {stack_size}
    .global boot_stack_top
boot_stack_top:
    .popsection
    "#,
    entry_tsc = sym ENTRY_TSC,
    entry = sym super::pvh::pvh_entry,
    stack_size = const BOOT_STACK_SIZE,
    options(att_syntax)
);

unsafe extern "C" {
    #[link_name = "boot_stack_guard"]
    static BOOT_STACK_GUARD: u8;
    #[link_name = "boot_stack_top"]
    static BOOT_STACK_TOP: u8;
}

/// End of the boot stack (16-byte aligned).
pub(crate) fn boot_stack_top() -> u64 {
    core::ptr::addr_of!(BOOT_STACK_TOP) as u64
}

/// Address of the boot stack's guard page.
pub(crate) fn boot_stack_guard() -> u64 {
    // Only the address of the linker-placed symbol is taken, never its contents.
    core::ptr::addr_of!(BOOT_STACK_GUARD) as u64
}
