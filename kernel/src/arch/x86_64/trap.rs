//! Trap entry: 256 assembly stubs that save a full [`TrapFrame`], the IDT that points at
//! them, and the Rust dispatcher. CPU exceptions are fatal: they print one line that says
//! what happened and where (function name from the kernel's symbol table), then a register
//! dump, and end the run with status 101. Interrupts go to the handlers registered in `irq`.
//!
//! Exceptions to "fatal": an instruction listed as a probe (an `rdmsr` of an MSR that may
//! not exist, `pvm_probe`) resumes at its recovery address; an event taken at ring 3 while
//! a probe runs there goes back to the probe; and where tasks run at ring 3 (`ring3`), a
//! breakpoint from there is a call to ring 0, and an interrupt that arrives while ring 3
//! has interrupts masked is held for later.

use super::{cpu, gdt, irq, pvm_probe, ring3};
use core::cell::UnsafeCell;
use core::fmt::Write;
use core::sync::atomic::{AtomicBool, Ordering};

/// Registers saved on every trap, lowest address first (the push order reversed).
#[repr(C)]
#[derive(Debug)]
pub(crate) struct TrapFrame {
    pub r15: u64,
    pub r14: u64,
    pub r13: u64,
    pub r12: u64,
    pub r11: u64,
    pub r10: u64,
    pub r9: u64,
    pub r8: u64,
    pub rbp: u64,
    pub rdi: u64,
    pub rsi: u64,
    pub rdx: u64,
    pub rcx: u64,
    pub rbx: u64,
    pub rax: u64,
    pub vector: u64,
    pub error_code: u64,
    pub rip: u64,
    pub cs: u64,
    pub rflags: u64,
    pub rsp: u64,
    pub ss: u64,
}

// Each stub is 16-byte aligned and at most 16 bytes long, so stub `n` sits at
// `trap_stubs + 16 * n`. Exceptions without a CPU error code push a zero in its place.
core::arch::global_asm!(
    r#"
    .pushsection .text.trap, "ax"
    .balign 16
    .global trap_stubs
trap_stubs:
    .set vector, 0
    .rept 256
    .balign 16
    .if vector == 8 || (vector >= 10 && vector <= 14) || vector == 17 || vector == 21 || vector == 29 || vector == 30
    .else
    push $0
    .endif
    push $vector
    jmp trap_common
    .set vector, vector + 1
    .endr

    .global trap_common
trap_common:
    push %rax
    push %rbx
    push %rcx
    push %rdx
    push %rsi
    push %rdi
    push %rbp
    push %r8
    push %r9
    push %r10
    push %r11
    push %r12
    push %r13
    push %r14
    push %r15
    mov %rsp, %rdi
    cld
    call {dispatch}
    pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %r11
    pop %r10
    pop %r9
    pop %r8
    pop %rbp
    pop %rdi
    pop %rsi
    pop %rdx
    pop %rcx
    pop %rbx
    pop %rax
    add $16, %rsp
    iretq
    .popsection
    "#,
    dispatch = sym trap_dispatch,
    options(att_syntax)
);

unsafe extern "C" {
    static trap_stubs: u8;
}

const STUB_SIZE: u64 = 16;
const PAGE: usize = 4096;
const IST_STACK_SIZE: usize = 16 * 1024;

/// One IDT gate descriptor.
#[repr(C)]
#[derive(Clone, Copy)]
struct Gate {
    offset_low: u16,
    selector: u16,
    ist: u8,
    attributes: u8,
    offset_mid: u16,
    offset_high: u32,
    reserved: u32,
}

#[repr(C, align(16))]
struct Idt(UnsafeCell<[Gate; 256]>);

// SAFETY: written once by `init` on the boot CPU before it is loaded; only the CPU reads
// it afterwards.
unsafe impl Sync for Idt {}

static IDT: Idt = Idt(UnsafeCell::new(
    [Gate {
        offset_low: 0,
        selector: 0,
        ist: 0,
        attributes: 0,
        offset_mid: 0,
        offset_high: 0,
        reserved: 0,
    }; 256],
));
static IDT_FILLED: AtomicBool = AtomicBool::new(false);

/// A stack in `.bss` whose first page is a guard, unmapped once paging is set up.
#[repr(C, align(4096))]
struct StaticStack {
    guard: UnsafeCell<[u8; PAGE]>,
    stack: UnsafeCell<[u8; IST_STACK_SIZE]>,
}

// SAFETY: the CPU is the only writer, through RSP during a trap; Rust code never reads or
// writes these bytes, it only takes addresses.
unsafe impl Sync for StaticStack {}

impl StaticStack {
    const fn new() -> Self {
        Self {
            guard: UnsafeCell::new([0; PAGE]),
            stack: UnsafeCell::new([0; IST_STACK_SIZE]),
        }
    }

    fn guard(&self) -> u64 {
        self.guard.get() as u64
    }

    fn top(&self) -> u64 {
        self.stack.get() as u64 + IST_STACK_SIZE as u64
    }
}

static DOUBLE_FAULT_STACK: StaticStack = StaticStack::new();
static NMI_STACK: StaticStack = StaticStack::new();
static PAGE_FAULT_STACK: StaticStack = StaticStack::new();
/// Where an event taken at ring 3 starts (the TSS's RSP0).
static RING0_STACK: StaticStack = StaticStack::new();

/// Guard pages and stack ranges of the static trap stacks, for `mm` to unmap and name.
pub(crate) fn static_stack_guards() -> [(&'static str, u64, u64); 4] {
    [
        ("ring-0 entry", RING0_STACK.guard(), RING0_STACK.top()),
        (
            "double-fault",
            DOUBLE_FAULT_STACK.guard(),
            DOUBLE_FAULT_STACK.top(),
        ),
        ("nmi", NMI_STACK.guard(), NMI_STACK.top()),
        (
            "page-fault",
            PAGE_FAULT_STACK.guard(),
            PAGE_FAULT_STACK.top(),
        ),
    ]
}

/// Loads the GDT, TSS and IDT. Exceptions are reported from here on.
pub(crate) fn init() {
    gdt::init(
        [
            DOUBLE_FAULT_STACK.top(),
            NMI_STACK.top(),
            PAGE_FAULT_STACK.top(),
        ],
        RING0_STACK.top(),
    );
    assert!(
        !IDT_FILLED.swap(true, Ordering::SeqCst),
        "trap::init called twice"
    );
    // The exceptions' gates now; the interrupts' in `init_interrupt_gates`, which may run
    // at ring 3 where this kernel's ring 0 is slow (`ring3`). No interrupt arrives before
    // then: they are disabled and no device is set up.
    fill_gates(0..32);
    let pointer = x86_64::structures::DescriptorTablePointer {
        limit: (size_of::<Idt>() - 1) as u16,
        base: x86_64::VirtAddr::new(IDT.0.get() as u64),
    };
    // SAFETY: the IDT is 'static; every exception's gate points at its stub in
    // `trap_stubs`, the others are not present yet.
    unsafe { x86_64::instructions::tables::lidt(&pointer) };
}

/// Fills the gates of vectors 32..=255 (interrupts), once, before interrupts are enabled.
pub(crate) fn init_interrupt_gates() {
    fill_gates(32..256);
}

/// Points the gates of `vectors` at their stubs: present, DPL 0, interrupt gates.
fn fill_gates(vectors: core::ops::Range<usize>) {
    let selector = gdt::code_selector();
    for vector in vectors {
        // SAFETY: one gate, written in place: its vector cannot be raised yet (an
        // exception's before the IDT is loaded; an interrupt's before interrupts are
        // enabled or any device routed).
        let gate = unsafe { &mut *(IDT.0.get() as *mut Gate).add(vector) };
        let handler = stub_address(vector as u8);
        gate.offset_low = handler as u16;
        gate.offset_mid = (handler >> 16) as u16;
        gate.offset_high = (handler >> 32) as u32;
        gate.selector = selector;
        gate.attributes = 0x8e; // present, DPL 0, 64-bit interrupt gate
        gate.ist = match vector {
            2 => gdt::IST_NMI,
            8 => gdt::IST_DOUBLE_FAULT,
            14 => gdt::IST_PAGE_FAULT,
            _ => 0,
        };
    }
}

const EXCEPTION_NAMES: [&str; 32] = [
    "divide error",
    "debug",
    "non-maskable interrupt",
    "breakpoint",
    "overflow",
    "bound range exceeded",
    "invalid opcode",
    "device not available",
    "double fault",
    "coprocessor segment overrun",
    "invalid TSS",
    "segment not present",
    "stack-segment fault",
    "general protection fault",
    "page fault",
    "reserved",
    "x87 floating-point error",
    "alignment check",
    "machine check",
    "SIMD floating-point error",
    "virtualization exception",
    "control protection exception",
    "reserved",
    "reserved",
    "reserved",
    "reserved",
    "reserved",
    "reserved",
    "hypervisor injection exception",
    "VMM communication exception",
    "security exception",
    "reserved",
];

/// Lets ring 3 raise `vector` with `int` (gate DPL 3), as the probe's `int 0x80` and
/// `int3` do.
pub(crate) fn set_user_gate(vector: u8) {
    assert!(IDT_FILLED.load(Ordering::SeqCst), "trap::init not called");
    // SAFETY: one byte of a loaded IDT, written in place (no reference to the live table):
    // the CPU reads the gate whole when it delivers an event, and this runs on the only
    // CPU, between events.
    unsafe {
        let gate = (IDT.0.get() as *mut Gate).add(vector as usize);
        core::ptr::addr_of_mut!((*gate).attributes).write_volatile(0xee);
    }
}

/// The entry stub of `vector`.
pub(crate) fn stub_address(vector: u8) -> u64 {
    core::ptr::addr_of!(trap_stubs) as u64 + u64::from(vector) * STUB_SIZE
}

/// Points `vector`'s gate at `handler` (the probe swaps in a bare `iretq`; give it back
/// with [`stub_address`]).
///
/// # Safety
/// Interrupts are disabled (no event may arrive while the gate is half written), and
/// `handler` handles that vector's events correctly until the gate is given back.
pub(crate) unsafe fn set_gate_handler(vector: u8, handler: u64) {
    assert!(IDT_FILLED.load(Ordering::SeqCst), "trap::init not called");
    // SAFETY: as in `set_user_gate`, and no event arrives meanwhile (the caller's
    // contract).
    unsafe {
        let gate = (IDT.0.get() as *mut Gate).add(vector as usize);
        core::ptr::addr_of_mut!((*gate).offset_low).write_volatile(handler as u16);
        core::ptr::addr_of_mut!((*gate).offset_mid).write_volatile((handler >> 16) as u16);
        core::ptr::addr_of_mut!((*gate).offset_high).write_volatile((handler >> 32) as u32);
    }
}

/// Top of the stack events from ring 3 start on, for the probe's `syscall` entry.
pub(crate) fn ring0_stack_top() -> u64 {
    RING0_STACK.top()
}

extern "C" fn trap_dispatch(frame: &mut TrapFrame) {
    if frame.cs & 3 == 3 {
        if pvm_probe::user_event(frame) {
            return;
        }
        if ring3::chosen() {
            if frame.vector == ring3::CALL_VECTOR {
                ring3::handle_call(frame);
                return;
            }
            if frame.vector >= 32 && ring3::hold(frame) {
                return;
            }
        }
    }
    match frame.vector {
        0..=31 => {
            if !pvm_probe::recover(frame) {
                fatal_exception(frame)
            }
        }
        v => irq::dispatch(v as u8),
    }
}

static IN_FATAL: AtomicBool = AtomicBool::new(false);

fn fatal_exception(frame: &TrapFrame) -> ! {
    let vector = frame.vector as usize;
    if IN_FATAL.swap(true, Ordering::SeqCst) {
        // A fault while reporting a fault: say so as simply as possible and stop.
        crate::console::emergency_write(format_args!(
            "fatal: {} (vector {vector}) while reporting a fault, rip {:#x}\n",
            EXCEPTION_NAMES[vector], frame.rip
        ));
        crate::runtime::exit_now(crate::exit_status::FATAL);
    }
    let mut out = crate::console::emergency();
    let _ = write!(out, "fatal: ");
    if vector == 14 {
        let addr = cpu::cr2();
        match crate::mm::stack::find_guard(addr) {
            Some(guard) => {
                let _ = write!(
                    out,
                    "stack overflow: stack '{}' hit its guard page {:#x}..{:#x} at {addr:#x}",
                    guard.name,
                    guard.guard_start,
                    guard.guard_start + PAGE as u64
                );
            }
            None => {
                let code = frame.error_code;
                let _ = write!(
                    out,
                    "page fault accessing {addr:#x} ({}, {})",
                    if code & 0x10 != 0 {
                        "instruction fetch"
                    } else if code & 2 != 0 {
                        "write"
                    } else {
                        "read"
                    },
                    if code & 1 != 0 {
                        "protection violation"
                    } else {
                        "page not mapped"
                    }
                );
            }
        }
    } else {
        let _ = write!(out, "{} (vector {vector})", EXCEPTION_NAMES[vector]);
    }
    let _ = write!(out, " at rip {:#x}", frame.rip);
    match crate::symbols::in_image().lookup(frame.rip) {
        Some(symbol) => {
            let _ = write!(out, " in {}+{:#x}", symbol.name, frame.rip - symbol.start);
        }
        None => {
            let _ = write!(out, " (no symbol)");
        }
    }
    let _ = writeln!(out, ", error code {:#x}", frame.error_code);
    let f = frame;
    let _ = writeln!(
        out,
        "  rax {:016x} rbx {:016x} rcx {:016x} rdx {:016x}\n  rsi {:016x} rdi {:016x} rbp {:016x} rsp {:016x}\n  r8  {:016x} r9  {:016x} r10 {:016x} r11 {:016x}\n  r12 {:016x} r13 {:016x} r14 {:016x} r15 {:016x}\n  rflags {:#x} cs {:#x} ss {:#x}",
        f.rax,
        f.rbx,
        f.rcx,
        f.rdx,
        f.rsi,
        f.rdi,
        f.rbp,
        f.rsp,
        f.r8,
        f.r9,
        f.r10,
        f.r11,
        f.r12,
        f.r13,
        f.r14,
        f.r15,
        f.rflags,
        f.cs,
        f.ss
    );
    drop(out);
    crate::runtime::exit_now(crate::exit_status::FATAL)
}
