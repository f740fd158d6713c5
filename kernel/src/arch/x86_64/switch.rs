//! Task context switch: saves only what the System V ABI says a callee must preserve
//! (rbx, rbp, r12-r15 and the stack pointer); everything else the caller already saved.

/// Saves the callee-saved registers on the current stack, stores the stack pointer in
/// `*save`, switches to the stack `next` (saved the same way, or prepared by
/// [`initial_stack`]) and returns into that task.
///
/// # Safety
/// `save` must be writable; `next` must be a stack pointer saved by this function or made
/// by [`initial_stack`], on a stack that stays mapped while the task lives.
#[unsafe(naked)]
pub(crate) unsafe extern "C" fn switch_stack(save: *mut u64, next: u64) {
    core::arch::naked_asm!(
        "push rbp",
        "push rbx",
        "push r12",
        "push r13",
        "push r14",
        "push r15",
        "mov [rdi], rsp",
        "mov rsp, rsi",
        "pop r15",
        "pop r14",
        "pop r13",
        "pop r12",
        "pop rbx",
        "pop rbp",
        "ret",
    )
}

/// Prepares a fresh stack ending at `top` (16-byte aligned) so that switching to the
/// returned stack pointer starts `entry` as if it had been called.
///
/// # Safety
/// `[top - 64, top)` must be mapped, writable and unused.
pub(crate) unsafe fn initial_stack(top: u64, entry: extern "C" fn() -> !) -> u64 {
    let slots = top as *mut u64;
    // SAFETY: the caller provides the 64 bytes below `top`.
    unsafe {
        slots.sub(1).write(0); // the "return address" of `entry`: none
        slots.sub(2).write(entry as usize as u64); // where switch_stack's `ret` goes
        for i in 3..=8 {
            slots.sub(i).write(0); // rbp, rbx, r12-r15
        }
    }
    top - 64
}
