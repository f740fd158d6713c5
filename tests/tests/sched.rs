//! The cooperative scheduler through libos::thread (issue 4, first part).

use tests::{Run, assert_console, assert_status};

#[test]
fn spawn_and_join_1000_threads() {
    let out = Run::new("testkernel").args(&["threads", "1000"]).go();
    assert_status(&out, 0);
    assert_console(&out, "joined 1000 threads, sum 999000");
}

#[test]
fn yield_alternates_two_threads() {
    let out = Run::new("testkernel").args(&["pingpong", "500"]).go();
    assert_status(&out, 0);
    assert_console(&out, "pingpong 1000 moves, alternating true");
}

#[test]
fn sleepers_wake_in_deadline_order() {
    let out = Run::new("testkernel").args(&["sleep-order"]).go();
    assert_status(&out, 0);
    assert_console(&out, "woke in order [10, 20, 30, 40, 50]");
}

#[test]
fn deadlock_is_reported_with_every_blocked_task() {
    let out = Run::new("testkernel").args(&["deadlock"]).go();
    assert_status(&out, 101);
    assert_console(
        &out,
        "deadlock: no task can run and no timer is pending; blocked: 'main' (join 'waiter'), 'waiter' (park)",
    );
}

#[test]
fn stack_overflow_in_a_thread_names_it() {
    let out = Run::new("testkernel").args(&["thread-overflow"]).go();
    assert_status(&out, 101);
    assert_console(
        &out,
        "fatal: stack overflow: stack 'deep' hit its guard page",
    );
}

#[test]
fn panic_in_a_thread_names_it() {
    let out = Run::new("testkernel").args(&["thread-panic"]).go();
    assert_status(&out, 101);
    assert_console(&out, "panic in task 'worker' at tests/kernel/src/main.rs:");
    assert_console(&out, "worker gave up");
}

#[test]
fn mutex_counter_with_yields_inside_is_exact() {
    let out = Run::new("testkernel").args(&["mutex-counter"]).go();
    assert_status(&out, 0);
    assert_console(&out, "counter 1000");
}

#[test]
fn channel_ping_pong() {
    let out = Run::new("testkernel")
        .args(&["channel-pingpong", "1000"])
        .go();
    assert_status(&out, 0);
    assert_console(&out, "channel pingpong 1000 rounds, value 1000");
}

#[test]
fn condvar_wakes_the_waiter() {
    let out = Run::new("testkernel").args(&["condvar"]).go();
    assert_status(&out, 0);
    assert_console(&out, "condvar sum 15");
}

#[test]
fn watchdog_warns_once_about_a_busy_task() {
    let out = Run::new("testkernel").args(&["busy", "300"]).go();
    assert_status(&out, 0);
    assert_console(&out, "watchdog: task 'spinner' has run ");
    assert_console(&out, "ms without yielding (limit 100 ms)");
    assert_eq!(
        out.console.matches("watchdog:").count(),
        1,
        "{}",
        out.console
    );
    assert_console(&out, "busy done");
}

#[test]
fn watchdog_limit_is_configurable_and_can_be_off() {
    let out = Run::new("testkernel")
        .args(&["busy", "150"])
        .options("watchdog=0")
        .go();
    assert_status(&out, 0);
    assert!(!out.console.contains("watchdog:"), "{}", out.console);
    let out = Run::new("testkernel")
        .args(&["busy", "150"])
        .options("watchdog=500")
        .go();
    assert!(!out.console.contains("watchdog:"), "{}", out.console);
    let out = Run::new("testkernel")
        .args(&["busy", "150"])
        .options("watchdog=soon")
        .go();
    assert_status(&out, 2);
}
