//! Failure paths: each prints one clear line and ends with status 101.

use tests::{Run, assert_console, assert_status, in_every_format};

#[test]
fn panic_prints_message_and_location() {
    in_every_format(|format| {
        let out = Run::with_format("testkernel", format).args(&["panic"]).go();
        assert_status(&out, 101);
        assert_console(&out, "panic in task 'main' at tests/kernel/src/main.rs:");
        assert_console(&out, "deliberate panic with value 42");
    });
}

#[test]
fn page_fault_names_address_and_function() {
    in_every_format(|format| {
        let out = Run::with_format("testkernel", format)
            .args(&["page-fault"])
            .go();
        assert_status(&out, 101);
        assert_console(
            &out,
            "fatal: page fault accessing 0x400000000000 (read, page not mapped)",
        );
        assert_console(&out, "in testkernel::read_unmapped_memory+0x");
    });
}

#[test]
fn null_dereference_is_a_page_fault() {
    let out = Run::new("testkernel").args(&["null"]).go();
    assert_status(&out, 101);
    assert_console(
        &out,
        "fatal: page fault accessing 0x0 (read, page not mapped)",
    );
}

#[test]
fn stack_overflow_names_the_guard_page() {
    in_every_format(|format| {
        let out = Run::with_format("testkernel", format)
            .args(&["stack-overflow"])
            .go();
        assert_status(&out, 101);
        assert_console(
            &out,
            "fatal: stack overflow: stack 'main' hit its guard page",
        );
        assert_console(&out, "in testkernel::recurse+0x");
    });
}

#[test]
fn stack_overflow_with_a_small_stack() {
    let out = Run::new("testkernel")
        .args(&["stack-overflow"])
        .options("stack=16K")
        .go();
    assert_status(&out, 101);
    assert_console(&out, "fatal: stack overflow: stack 'main'");
}

#[test]
fn out_of_memory_names_the_request() {
    in_every_format(|format| {
        let out = Run::with_format("testkernel", format).args(&["oom"]).go();
        assert_status(&out, 101);
        assert_console(
            &out,
            "out of memory: cannot allocate 268435456 bytes (align 1)",
        );
        assert_console(&out, "memory allocation of 268435456 bytes failed");
    });
}

#[test]
fn writing_code_or_rodata_is_a_protection_fault() {
    in_every_format(|format| {
        for scenario in ["write-text", "write-rodata"] {
            let out = Run::with_format("testkernel", format)
                .args(&[scenario])
                .go();
            assert_status(&out, 101);
            assert_console(&out, "(write, protection violation)");
        }
    });
}

#[test]
fn executing_heap_or_stack_is_a_protection_fault() {
    in_every_format(|format| {
        for scenario in ["exec-heap", "exec-stack"] {
            let out = Run::with_format("testkernel", format)
                .args(&[scenario])
                .go();
            assert_status(&out, 101);
            assert_console(&out, "(instruction fetch, protection violation)");
        }
    });
}

#[test]
fn exception_report_shows_every_register() {
    let out = Run::new("testkernel").args(&["registers"]).go();
    assert_status(&out, 101);
    assert_console(&out, "fatal: invalid opcode (vector 6) at rip 0x");
    assert_console(&out, "in testkernel::fault_with_known_registers+0x");
    for (name, byte) in [
        ("rax", "0a"),
        ("rbx", "0b"),
        ("rcx", "0c"),
        ("rdx", "0d"),
        ("rsi", "51"),
        ("rdi", "d1"),
        ("rbp", "bb"),
        ("r8 ", "08"),
        ("r9 ", "09"),
        ("r10", "10"),
        ("r11", "11"),
        ("r12", "12"),
        ("r13", "13"),
        ("r14", "14"),
        ("r15", "15"),
    ] {
        assert_console(&out, &format!("{name} {}", byte.repeat(8)));
    }
}
