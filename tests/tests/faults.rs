//! Failure paths: each prints one clear line and ends with status 101.

use tests::{Run, assert_console, assert_status};

#[test]
fn panic_prints_message_and_location() {
    let out = Run::new("testkernel").args(&["panic"]).go();
    assert_status(&out, 101);
    assert_console(&out, "panic in task 'main' at tests/kernel/src/main.rs:");
    assert_console(&out, "deliberate panic with value 42");
}

#[test]
fn page_fault_names_address_and_function() {
    let out = Run::new("testkernel").args(&["page-fault"]).go();
    assert_status(&out, 101);
    assert_console(
        &out,
        "fatal: page fault accessing 0x400000000000 (read, page not mapped)",
    );
    assert_console(&out, "in testkernel::read_unmapped_memory+0x");
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
    let out = Run::new("testkernel").args(&["stack-overflow"]).go();
    assert_status(&out, 101);
    assert_console(
        &out,
        "fatal: stack overflow: stack 'main' hit its guard page",
    );
    assert_console(&out, "in testkernel::recurse+0x");
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
    let out = Run::new("testkernel").args(&["oom"]).go();
    assert_status(&out, 101);
    assert_console(
        &out,
        "out of memory: cannot allocate 268435456 bytes (align 1)",
    );
    assert_console(&out, "memory allocation of 268435456 bytes failed");
}
