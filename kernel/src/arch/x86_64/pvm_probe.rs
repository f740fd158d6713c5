//! Probes of the hypervisor underneath, for finding out what a PVM host (`kvm_pvm`) offers:
//! MSR reads and writes that report a #GP instead of dying, the synthetic CPUID, and short
//! trips to ring 3 that come back through a chosen event (a software interrupt, `int3`, a
//! page fault, the APIC timer, a device interrupt, `syscall`, a privileged instruction).
//!
//! Nothing here runs unless a test asks for it (`kernel::selftest`). The ring-3 code is one
//! page of hand-written assembly (`probe_user_page`) that ring 3 may execute; it reports
//! what it saw in r12/r13, and on a loud trip also prints them on COM1 itself before it
//! leaves (for a hypervisor whose event would kill the guest instead of bringing it back).
//! The probe shares COM1 with the console: it turns the transmitter-empty interrupt on and
//! off (IER), and a loud trip writes the data register from ring 3.

use super::trap::TrapFrame;
use super::{apic, cpu, gdt, irq};
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// `frame.vector` of an event that is a `syscall` (the probe's own entry sets it).
pub const SYSCALL_VECTOR: u64 = 0x100;
/// Vector of the software interrupt gate ring 3 may use.
const SOFTWARE_VECTOR: u8 = 0x80;
/// Vector of the probe's device interrupt (COM1's transmitter-empty interrupt).
const COM1_GSI: u32 = 4;
const COM1: u16 = 0x3f8;

const IA32_EFER: u32 = 0xc000_0080;
const IA32_STAR: u32 = 0xc000_0081;
const IA32_LSTAR: u32 = 0xc000_0082;
const IA32_FMASK: u32 = 0xc000_0084;

const RFLAGS_RESERVED: u64 = 1 << 1;
const RFLAGS_IF: u64 = 1 << 9;
const RFLAGS_IOPL3: u64 = 3 << 12;

core::arch::global_asm!(
    r#"
    .pushsection .text.probe, "ax"

    /* (value, fault) = probe_rdmsr(msr): fault is 0, or the exception vector + 1. */
    .global probe_rdmsr
probe_rdmsr:
    mov %edi, %ecx
    .global probe_rdmsr_insn
probe_rdmsr_insn:
    rdmsr
    shl $32, %rdx
    or %rdx, %rax
    xor %edx, %edx
    .global probe_rdmsr_resume
probe_rdmsr_resume:
    ret

    /* (0, fault) = probe_wrmsr(msr, value) */
    .global probe_wrmsr
probe_wrmsr:
    mov %edi, %ecx
    mov %esi, %eax
    mov %rsi, %rdx
    shr $32, %rdx
    .global probe_wrmsr_insn
probe_wrmsr_insn:
    wrmsr
    xor %eax, %eax
    xor %edx, %edx
    .global probe_wrmsr_resume
probe_wrmsr_resume:
    ret

    /* (ebx:eax, edx:ecx) = probe_cpuid_synthetic(leaf), at ring 0 */
    .global probe_cpuid_synthetic
probe_cpuid_synthetic:
    push %rbx
    mov %edi, %eax
    xor %ecx, %ecx
    .byte 0x0f, 0x01, 0x3c, 0x25, 0x50, 0x56, 0x4d, 0xff, 0x0f, 0xa2
    shl $32, %rbx
    mov %eax, %eax
    or %rbx, %rax
    shl $32, %rdx
    mov %ecx, %ecx
    or %rcx, %rdx
    pop %rbx
    ret

    /* ticks = probe_ring0_loop(n): the same loop as ring 3's op 0 */
    .global probe_ring0_loop
probe_ring0_loop:
    rdtsc
    shl $32, %rdx
    or %rdx, %rax
    mov %rax, %r8
    mov %rdi, %rcx
.Lring0_loop:
    dec %rcx
    jnz .Lring0_loop
    rdtsc
    shl $32, %rdx
    or %rdx, %rax
    sub %r8, %rax
    ret

    /* probe_enter_user(op, arg, exit, &[rip, cs, rflags, rsp, ss]): iretq to ring 3 with
     * rdi, rsi, rdx as given; an event from there comes back at probe_user_resume (the
     * trap handler rewrites its frame), which returns to the caller. */
    .global probe_enter_user
probe_enter_user:
    push %rbx
    push %rbp
    push %r12
    push %r13
    push %r14
    push %r15
    mov %rsp, {kernel_rsp}(%rip)
    pushq 32(%rcx)
    pushq 24(%rcx)
    pushq 16(%rcx)
    pushq 8(%rcx)
    pushq (%rcx)
    /* Ring 3 gets nothing of the kernel's but its three arguments. */
    xor %eax, %eax
    xor %ebx, %ebx
    xor %ecx, %ecx
    xor %ebp, %ebp
    xor %r8d, %r8d
    xor %r9d, %r9d
    xor %r10d, %r10d
    xor %r11d, %r11d
    xor %r12d, %r12d
    xor %r13d, %r13d
    xor %r14d, %r14d
    xor %r15d, %r15d
    iretq
    .global probe_user_resume
probe_user_resume:
    pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %rbp
    pop %rbx
    ret

    /* The breakpoint gate during op 4: straight back to ring 3. */
    .global probe_bare_iretq
probe_bare_iretq:
    iretq

    /* LSTAR while the syscall probe runs: a trap frame like the IDT stubs' on the ring-0
     * entry stack (the user RSP travels in rax, which the ring-3 code gives up). */
    .global probe_syscall_entry
probe_syscall_entry:
    mov %rsp, %rax
    mov {ring0_top}(%rip), %rsp
    pushq ${user_data}
    push %rax
    push %r11
    pushq ${user_code}
    push %rcx
    pushq $0
    pushq ${syscall_vector}
    jmp trap_common
    .popsection

    /* The ring-3 code, alone on its page. In: rdi = op (bit 8: quiet), rsi = argument,
     * rdx = how to leave. Out (in the frame of the event that leaves): r12, r13 = the op's
     * result, r14 = TSC just before leaving. */
    .pushsection .text.probe_user, "ax"
    .balign 4096
    .global probe_user_page
probe_user_page:
    mov %rdx, %rbp
    mov %rdi, %r15
    xor %r12d, %r12d
    xor %r13d, %r13d
    cmp $1, %dil
    je .Lop_cpuid
    cmp $2, %dil
    je .Lop_flags
    cmp $3, %dil
    je .Lop_read
    cmp $4, %dil
    je .Lop_bare_trips
    /* op 0: r13 = TSC ticks of rsi iterations of a two-instruction loop */
    rdtsc
    shl $32, %rdx
    or %rdx, %rax
    mov %rax, %r12
    mov %rsi, %rcx
.Lop_loop:
    dec %rcx
    jnz .Lop_loop
    rdtsc
    shl $32, %rdx
    or %rdx, %rax
    sub %r12, %rax
    mov %rax, %r13
    xor %r12d, %r12d
    jmp .Lreport
.Lop_cpuid:
    /* op 1: synthetic CPUID of leaf esi: r12 = ebx:eax, r13 = edx:ecx */
    mov %esi, %eax
    xor %ecx, %ecx
    .byte 0x0f, 0x01, 0x3c, 0x25, 0x50, 0x56, 0x4d, 0xff, 0x0f, 0xa2
    shl $32, %rbx
    mov %eax, %eax
    or %rbx, %rax
    mov %rax, %r12
    shl $32, %rdx
    mov %ecx, %ecx
    or %rcx, %rdx
    mov %rdx, %r13
    jmp .Lreport
.Lop_flags:
    /* op 2: r12 = CS, r13 = RFLAGS after cli */
    mov %cs, %r12d
    cli
    pushfq
    pop %r13
    jmp .Lreport
.Lop_read:
    /* op 3: r12 = the address, r13 = the 32 bits read there */
    mov %rsi, %r12
    mov (%rsi), %r13d
    jmp .Lreport
.Lop_bare_trips:
    /* op 4: r13 = TSC ticks of rsi `int3`s whose gate is a bare `iretq` */
    rdtsc
    shl $32, %rdx
    or %rdx, %rax
    mov %rax, %r12
    mov %rsi, %rcx
.Lbare_trip:
    int3
    dec %rcx
    jnz .Lbare_trip
    rdtsc
    shl $32, %rdx
    or %rdx, %rax
    sub %r12, %rax
    mov %rax, %r13
    xor %r12d, %r12d
.Lreport:
    test $0x100, %r15
    jnz .Lleave
    mov ${com1}, %edx
    lea .Lbanner(%rip), %r9
.Lbanner_next:
    movzbl (%r9), %eax
    test %eax, %eax
    jz .Lbanner_done
    out %al, %dx
    inc %r9
    jmp .Lbanner_next
.Lbanner_done:
    mov %r12, %r8
    call .Lprint_hex
    mov $0x20, %al
    out %al, %dx
    mov %r13, %r8
    call .Lprint_hex
    mov $0x0a, %al
    out %al, %dx
.Lleave:
    rdtsc
    shl $32, %rdx
    or %rdx, %rax
    mov %rax, %r14
    cmp $0, %rbp
    je .Lexit_int
    cmp $1, %rbp
    je .Lexit_int3
    cmp $2, %rbp
    je .Lexit_page_fault
    cmp $3, %rbp
    je .Lexit_wait
    cmp $4, %rbp
    je .Lexit_syscall
    cmp $5, %rbp
    je .Lexit_hlt
    /* 6: end the run from ring 3 through isa-debug-exit, with status 0 */
    mov ${debug_exit_port}, %edx
    mov ${debug_exit_success}, %eax
    out %eax, %dx
    jmp .Lexit_wait
.Lexit_int:
    int ${software_vector}
    ud2
.Lexit_int3:
    int3
    ud2
.Lexit_page_fault:
    movabs $0x400000000000, %rax
    mov (%rax), %rax
    ud2
.Lexit_wait:
    pause
    jmp .Lexit_wait
.Lexit_syscall:
    syscall
    ud2
.Lexit_hlt:
    hlt
    ud2

.Lprint_hex:
    mov $16, %ecx
.Lprint_digit:
    rol $4, %r8
    mov %r8d, %eax
    and $15, %eax
    lea .Lhex(%rip), %r9
    movzbl (%r9,%rax), %eax
    out %al, %dx
    dec %ecx
    jnz .Lprint_digit
    ret
.Lhex:
    .ascii "0123456789abcdef"
.Lbanner:
    .asciz "pvm-probe ring3 r12 r13: "
    .balign 4096
    .popsection
    "#,
    kernel_rsp = sym KERNEL_RSP,
    ring0_top = sym RING0_TOP,
    user_data = const gdt::USER_DATA,
    user_code = const gdt::USER_CODE,
    syscall_vector = const SYSCALL_VECTOR,
    com1 = const COM1,
    software_vector = const SOFTWARE_VECTOR,
    debug_exit_port = const crate::exit_status::DEBUG_EXIT_PORT,
    debug_exit_success = const crate::exit_status::debug_exit_value(crate::exit_status::SUCCESS),
    options(att_syntax)
);

#[repr(C)]
struct Pair(u64, u64);

unsafe extern "C" {
    fn probe_rdmsr(msr: u32) -> Pair;
    fn probe_wrmsr(msr: u32, value: u64) -> Pair;
    fn probe_cpuid_synthetic(leaf: u32) -> Pair;
    fn probe_ring0_loop(n: u64) -> u64;
    fn probe_enter_user(op: u64, arg: u64, exit: u64, frame: *const [u64; 5]);
    static probe_rdmsr_insn: u8;
    static probe_rdmsr_resume: u8;
    static probe_wrmsr_insn: u8;
    static probe_wrmsr_resume: u8;
    static probe_user_resume: u8;
    static probe_user_page: u8;
    static probe_syscall_entry: u8;
    static probe_bare_iretq: u8;
}

/// Kernel RSP saved by `probe_enter_user`, where the trip back resumes.
static KERNEL_RSP: AtomicU64 = AtomicU64::new(0);
/// Top of the ring-0 entry stack, for `probe_syscall_entry`.
static RING0_TOP: AtomicU64 = AtomicU64::new(0);
/// A trip to ring 3 is under way: the next event from ring 3 ends it.
static ACTIVE: AtomicBool = AtomicBool::new(false);
/// Result of [`prepare`], which runs once.
static READY: spin::Once<Result<(), ProbeError>> = spin::Once::new();

/// What the event that ended a trip to ring 3 carried.
static LAST: spin::Mutex<Option<UserEvent>> = spin::Mutex::new(None);

const USER_STACK_SIZE: usize = 8192;

#[repr(C, align(4096))]
struct UserStack(UnsafeCell<[u8; USER_STACK_SIZE]>);

// SAFETY: only ring-3 probe code touches these bytes, through RSP, one trip at a time.
unsafe impl Sync for UserStack {}

static USER_STACK: UserStack = UserStack(UnsafeCell::new([0; USER_STACK_SIZE]));

/// Why a probe could not be set up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProbeError {
    /// The probe page, its stack or the page to read could not be opened to ring 3.
    Map(u64),
    /// The `syscall` MSRs could not be written.
    Syscall,
    /// COM1's interrupt line could not be routed.
    Com1,
    /// Ring 3 came back without the trap handler seeing the event.
    NoEvent,
}

impl core::fmt::Display for ProbeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Map(address) => write!(f, "cannot open {address:#x} to ring 3"),
            Self::Syscall => f.write_str("the syscall MSRs refused their values"),
            Self::Com1 => f.write_str("cannot route COM1's interrupt"),
            Self::NoEvent => f.write_str("ring 3 came back without an event"),
        }
    }
}

/// How a trip to ring 3 comes back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// `int 0x80` through a DPL-3 gate.
    SoftwareInterrupt,
    /// `int3` through a DPL-3 gate.
    Int3,
    /// A read of an unmapped address.
    PageFault,
    /// The local APIC timer, armed to fire 1 ms after entry (at entry on a quiet trip).
    Timer,
    /// COM1's transmitter-empty interrupt through the IOAPIC.
    Device,
    /// `syscall` into `probe_syscall_entry`.
    Syscall,
    /// `hlt`, which ring 3 may not execute (#GP).
    Privileged,
    /// None: ring 3 ends the run through isa-debug-exit (status 0).
    EndRun,
}

impl Exit {
    /// Every way back, in the order the probe tries them.
    pub const ALL: [Exit; 8] = [
        Exit::SoftwareInterrupt,
        Exit::Int3,
        Exit::PageFault,
        Exit::Timer,
        Exit::Device,
        Exit::Syscall,
        Exit::Privileged,
        Exit::EndRun,
    ];

    /// The name the test kernel's command line uses.
    pub fn name(self) -> &'static str {
        match self {
            Exit::SoftwareInterrupt => "int80",
            Exit::Int3 => "int3",
            Exit::PageFault => "page-fault",
            Exit::Timer => "timer",
            Exit::Device => "device",
            Exit::Syscall => "syscall",
            Exit::Privileged => "hlt",
            Exit::EndRun => "end-run",
        }
    }

    /// What `probe_user_page` does to leave (its `rbp`).
    fn code(self) -> u64 {
        match self {
            Exit::SoftwareInterrupt => 0,
            Exit::Int3 => 1,
            Exit::PageFault => 2,
            Exit::Timer | Exit::Device => 3,
            Exit::Syscall => 4,
            Exit::Privileged => 5,
            Exit::EndRun => 6,
        }
    }
}

/// What ring 3 does before it leaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// Times `n` iterations of `dec; jnz` (r13 = TSC ticks).
    Loop(u64),
    /// The synthetic CPUID on a leaf (r12 = ebx:eax, r13 = edx:ecx).
    Cpuid(u32),
    /// r12 = CS, r13 = RFLAGS after `cli`.
    Flags,
    /// r13 = the 32-bit word at this address (device registers: an MMIO access from
    /// ring 3). Its page is opened to ring 3.
    Read(u64),
    /// r13 = the local APIC's version register, read from ring 3.
    ReadLapicVersion,
    /// r13 = TSC ticks of `n` round trips ring 3 -> ring 0 -> ring 3 that do nothing at
    /// ring 0 (`int3` through a gate that is a bare `iretq`): the floor of every event.
    BareTrips(u64),
}

/// The event that brought a trip to ring 3 back, as the trap handler saw it.
#[derive(Clone, Copy, Debug)]
pub struct UserEvent {
    /// Exception or interrupt vector, or [`SYSCALL_VECTOR`].
    pub vector: u64,
    pub error_code: u64,
    pub rip: u64,
    pub cs: u64,
    pub rflags: u64,
    pub r12: u64,
    pub r13: u64,
    /// TSC ticks from ring 3's last instruction before the event to the trap handler.
    pub delivery_ticks: u64,
    /// TSC ticks from the call to the return.
    pub round_trip_ticks: u64,
}

/// Reads an MSR; `Err(vector)` if reading it raised an exception.
pub fn rdmsr(msr: u32) -> Result<u64, u8> {
    // SAFETY: `probe_rdmsr` only reads the MSR; a fault is caught by `recover`.
    let Pair(value, fault) = unsafe { probe_rdmsr(msr) };
    if fault == 0 {
        Ok(value)
    } else {
        Err((fault - 1) as u8)
    }
}

/// Writes an MSR; `Err(vector)` if writing it raised an exception.
///
/// # Safety
/// The write may change how the machine runs (that is what is being probed).
pub unsafe fn wrmsr(msr: u32, value: u64) -> Result<(), u8> {
    // SAFETY: forwarded to the caller; a fault is caught by `recover`.
    let Pair(_, fault) = unsafe { probe_wrmsr(msr, value) };
    if fault == 0 {
        Ok(())
    } else {
        Err((fault - 1) as u8)
    }
}

/// The synthetic CPUID executed at ring 0: (eax, ebx, ecx, edx).
pub fn cpuid_synthetic_ring0(leaf: u32) -> [u32; 4] {
    // SAFETY: INVLPG of an address only drops a translation; CPUID only reads.
    let Pair(ab, dc) = unsafe { probe_cpuid_synthetic(leaf) };
    [ab as u32, (ab >> 32) as u32, dc as u32, (dc >> 32) as u32]
}

/// Ring 0's CS and RFLAGS after `cli` (interrupts are enabled again if they were).
pub fn ring0_flags() -> (u16, u64) {
    let cs: u16;
    let flags: u64;
    let state = irq::save_and_disable();
    // SAFETY: reads CS and RFLAGS.
    unsafe {
        core::arch::asm!("mov {0:x}, cs", "cli", "pushfq", "pop {1}", out(reg) cs, out(reg) flags)
    };
    irq::restore(state);
    (cs, flags)
}

/// TSC ticks of `n` iterations of the ring-3 op 0 loop run at ring 0.
pub fn ring0_loop(n: u64) -> u64 {
    // SAFETY: a register-only loop.
    unsafe { probe_ring0_loop(n.max(1)) }
}

/// Makes the ring-3 page and stack usable from ring 3 and installs the software-interrupt
/// gate and the `syscall` entry (once).
fn prepare() -> Result<(), ProbeError> {
    *READY.call_once(|| {
        let page = core::ptr::addr_of!(probe_user_page) as u64;
        let stack = USER_STACK.0.get() as u64;
        // SAFETY: the page holds only the probe's ring-3 code; the stack only its stack.
        // In a kernel whose image is mapped with 2 MiB pages this opens their whole large
        // pages to ring 3, which a probe accepts.
        unsafe {
            crate::mm::allow_user(page, 4096).map_err(|_| ProbeError::Map(page))?;
            crate::mm::allow_user(stack, USER_STACK_SIZE as u64)
                .map_err(|_| ProbeError::Map(stack))?;
        }
        super::trap::set_user_gate(SOFTWARE_VECTOR);
        super::trap::set_user_gate(3);
        RING0_TOP.store(super::trap::ring0_stack_top(), Ordering::SeqCst);
        Ok(())
    })
}

fn set_up_syscall() -> Result<(), ProbeError> {
    let entry = core::ptr::addr_of!(probe_syscall_entry) as u64;
    // `syscall` loads CS from STAR[47:32] (SS = CS + 8); `sysret`, never used, would take
    // its selectors from STAR[63:48] (SS = base + 8, CS = base + 16).
    let star = (u64::from(gdt::KERNEL_CODE) << 32) | (u64::from(gdt::USER_DATA - 8) << 48);
    // SAFETY: STAR/LSTAR/FMASK only matter to `syscall`, which only the probe uses; SCE
    // only enables it.
    unsafe {
        let efer = rdmsr(IA32_EFER).map_err(|_| ProbeError::Syscall)?;
        wrmsr(IA32_EFER, efer | 1).map_err(|_| ProbeError::Syscall)?;
        wrmsr(IA32_STAR, star).map_err(|_| ProbeError::Syscall)?;
        wrmsr(IA32_LSTAR, entry).map_err(|_| ProbeError::Syscall)?;
        wrmsr(IA32_FMASK, RFLAGS_IF | (1 << 8) | (1 << 10)).map_err(|_| ProbeError::Syscall)?;
    }
    Ok(())
}

fn on_com1_interrupt(_: usize) {
    // SAFETY: IER of COM1: turn the transmitter-empty interrupt back off.
    unsafe { cpu::outb(COM1 + 1, 0) };
}

/// COM1's interrupt line, routed on the first device trip.
static COM1_LINE: spin::Once<Result<irq::IrqLine, irq::IrqError>> = spin::Once::new();

/// Runs `op` at ring 3 and comes back through `exit`. `quiet` skips ring 3's own report on
/// COM1 (for timing many trips). Returns `Err` if the setup failed; a trip whose event
/// is not delivered does not return at all (that is the finding).
pub fn run_user(op: Op, exit: Exit, quiet: bool) -> Result<UserEvent, ProbeError> {
    prepare()?;
    let (op_code, arg) = match op {
        Op::Loop(n) => (0, n.max(1)),
        Op::Cpuid(leaf) => (1, u64::from(leaf)),
        Op::Flags => (2, 0),
        Op::Read(address) => (3, address),
        Op::ReadLapicVersion => (3, apic::register_page() + 0x30),
        Op::BareTrips(n) => (4, n.max(1)),
    };
    if let (3, address) = (op_code, arg) {
        let page = address & !0xfff;
        // SAFETY: the probe reads that word from ring 3 (device registers the caller
        // chose, with whatever side effect reading them has); the page stays open.
        unsafe { crate::mm::allow_user(page, 4096) }.map_err(|_| ProbeError::Map(page))?;
    }
    let op_code = op_code | if quiet { 0x100 } else { 0 };
    let mut rflags = RFLAGS_RESERVED | RFLAGS_IOPL3;
    match exit {
        Exit::Syscall => set_up_syscall()?,
        Exit::Timer => {
            apic::ensure_timer();
            rflags |= RFLAGS_IF;
        }
        Exit::Device => {
            // Routing makes interrupts live (enabled): done before they are disabled below.
            let line = (*COM1_LINE.call_once(|| {
                irq::register_gsi(COM1_GSI, irq::Trigger::Edge, on_com1_interrupt, 0)
            }))
            .map_err(|_| ProbeError::Com1)?;
            line.unmask();
            rflags |= RFLAGS_IF;
        }
        _ => {}
    }
    let state = irq::save_and_disable();
    let frame = [
        core::ptr::addr_of!(probe_user_page) as u64,
        u64::from(gdt::USER_CODE),
        rflags,
        USER_STACK.0.get() as u64 + USER_STACK_SIZE as u64,
        u64::from(gdt::USER_DATA),
    ];
    match exit {
        // A quiet trip times the delivery: the timer is due as ring 3 starts.
        Exit::Timer if quiet => apic::arm_timer(cpu::rdtsc()),
        Exit::Timer => apic::arm_timer(cpu::rdtsc() + crate::time::tsc_hz() / 1000),
        // SAFETY: IER of COM1: the transmitter-empty interrupt, pending as soon as
        // interrupts are enabled (at ring 3).
        Exit::Device => unsafe { cpu::outb(COM1 + 1, 0x02) },
        _ => {}
    }
    let bare = matches!(op, Op::BareTrips(_));
    if bare {
        // SAFETY: interrupts are off; the bare `iretq` returns from a trap gate's frame
        // as the stub would, and the stub is put back before they are on again.
        unsafe { super::trap::set_gate_handler(3, core::ptr::addr_of!(probe_bare_iretq) as u64) };
    }
    *LAST.lock() = None;
    ACTIVE.store(true, Ordering::SeqCst);
    let start = cpu::rdtsc();
    // SAFETY: the frame enters the probe page at ring 3 on its own stack; every event
    // from there comes back to `probe_user_resume` (see `user_event`), which restores
    // the callee-saved registers and returns here.
    unsafe { probe_enter_user(op_code, arg, exit.code(), &frame) };
    let end = cpu::rdtsc();
    if bare {
        // SAFETY: interrupts are still off; this is the gate's own stub.
        unsafe { super::trap::set_gate_handler(3, super::trap::stub_address(3)) };
    }
    irq::restore(state);
    let mut event = LAST.lock().take().ok_or(ProbeError::NoEvent)?;
    event.round_trip_ticks = end - start;
    Ok(event)
}

/// Called by the trap handler for every event taken at ring 3: ends the probe's trip
/// there (false if none is under way, and the event is handled as usual).
pub(super) fn user_event(frame: &mut TrapFrame) -> bool {
    let now = cpu::rdtsc();
    if !ACTIVE.swap(false, Ordering::SeqCst) {
        return false;
    }
    *LAST.lock() = Some(UserEvent {
        vector: frame.vector,
        error_code: frame.error_code,
        rip: frame.rip,
        cs: frame.cs,
        rflags: frame.rflags,
        r12: frame.r12,
        r13: frame.r13,
        delivery_ticks: now.wrapping_sub(frame.r14),
        round_trip_ticks: 0,
    });
    if (32..256).contains(&frame.vector) && frame.vector != u64::from(SOFTWARE_VECTOR) {
        irq::dispatch(frame.vector as u8);
    }
    frame.rip = core::ptr::addr_of!(probe_user_resume) as u64;
    frame.cs = u64::from(gdt::code_selector());
    frame.ss = u64::from(gdt::KERNEL_DATA);
    frame.rsp = KERNEL_RSP.load(Ordering::SeqCst);
    frame.rflags = RFLAGS_RESERVED;
    true
}

/// Called by the trap handler for exceptions at ring 0: an MSR probe that faulted resumes
/// after its instruction with the vector noted (false for any other instruction).
pub(super) fn recover(frame: &mut TrapFrame) -> bool {
    // Only the #GP of the instruction itself: an NMI or #DB that arrives just before it
    // has the same RIP and must not be taken for the MSR's answer.
    if frame.vector != 13 || frame.cs & 3 != 0 {
        return false;
    }
    let probes = [
        (
            core::ptr::addr_of!(probe_rdmsr_insn) as u64,
            core::ptr::addr_of!(probe_rdmsr_resume) as u64,
        ),
        (
            core::ptr::addr_of!(probe_wrmsr_insn) as u64,
            core::ptr::addr_of!(probe_wrmsr_resume) as u64,
        ),
    ];
    for (insn, resume) in probes {
        if frame.rip == insn {
            frame.rip = resume;
            frame.rax = 0;
            frame.rdx = frame.vector + 1;
            return true;
        }
    }
    false
}
