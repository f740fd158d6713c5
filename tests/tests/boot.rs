//! Booting, arguments and exit statuses end to end under TCG: behaviour tests run from the
//! PVH ELF and from the BIOS disk image (`in_every_format`).

use boot::qemu::Ending;
use tests::{Run, assert_console, assert_status, in_every_format};

#[test]
fn hello_greets_prints_args_and_exits_zero() {
    in_every_format(|format| {
        let out = Run::with_format("hello", format)
            .args(&["one", "two words", "say \"hi\""])
            .go();
        assert_status(&out, 0);
        assert_eq!(out.meaning, Ending::Guest);
        assert_console(&out, "Hello");
        assert_console(&out, r#"args: ["one", "two words", "say \"hi\""]"#);
        assert_console(&out, "boot took ");
    });
}

#[test]
fn hello_runs_in_8_mib() {
    let out = Run::new("hello").mem(8).go();
    assert_status(&out, 0);
    assert_console(&out, "Hello");
}

#[test]
fn args_start_with_the_app_name() {
    in_every_format(|format| {
        let out = Run::with_format("testkernel", format)
            .args(&["args", "x", ""])
            .go();
        assert_status(&out, 0);
        assert_console(
            &out,
            "arg[0] = \"testkernel\"\narg[1] = \"args\"\narg[2] = \"x\"\narg[3] = \"\"\n",
        );
    });
}

#[test]
fn exit_status_is_passed_through() {
    in_every_format(|format| {
        for status in [0u8, 3, 7, 42, 123] {
            let out = Run::with_format("testkernel", format)
                .args(&["exit", &status.to_string()])
                .go();
            assert_status(&out, status);
        }
    });
}

#[test]
fn exit_status_out_of_range_is_reported_and_becomes_1() {
    in_every_format(|format| {
        let out = Run::with_format("testkernel", format)
            .args(&["exit", "200"])
            .go();
        assert_status(&out, 1);
        assert_console(&out, "exit: status 200 is outside 0..=123; exiting with 1");
    });
}

#[test]
fn main_returning_err_prints_it_and_exits_1() {
    in_every_format(|format| {
        let out = Run::with_format("testkernel", format).args(&["err"]).go();
        assert_status(&out, 1);
        assert_console(&out, "Error: \"deliberate failure\"");
    });
}

#[test]
fn unknown_scenario_is_an_app_error_not_a_hang() {
    let out = Run::new("testkernel").args(&["no-such-thing"]).go();
    assert_status(&out, 1);
    assert_console(&out, "unknown scenario");
}

#[test]
fn malformed_kernel_option_exits_2() {
    in_every_format(|format| {
        let out = Run::with_format("hello", format).options("heap=abc").go();
        assert_status(&out, 2);
        assert_console(
            &out,
            "error: kernel command line: heap=abc: invalid value 'abc'",
        );
        assert!(
            !out.console.contains("Hello"),
            "the app must not run:\n{}",
            out.console
        );

        let out = Run::with_format("hello", format).options("log=loud").go();
        assert_status(&out, 2);
        assert_console(&out, "unknown log level 'loud'");

        let out = Run::with_format("hello", format)
            .options("log=\"debug")
            .go();
        assert_status(&out, 2);
        assert_console(&out, "unterminated");
    });
}

#[test]
fn heap_or_stack_sizes_that_cannot_work_exit_2() {
    for (option, message) in [
        ("heap=1G", "heap=1073741824: only"),
        ("heap=4K", "heap=4096: the heap needs at least 65536"),
        ("stack=0", "stack=0: the stack needs at least 16384"),
        ("stack=1G", "stack=1073741824: only"),
    ] {
        let out = Run::new("hello").options(option).go();
        assert_status(&out, 2);
        assert_console(&out, message);
    }
}

#[test]
fn unknown_kernel_option_warns_and_runs() {
    in_every_format(|format| {
        let out = Run::with_format("hello", format)
            .options("frobnicate=1")
            .go();
        assert_status(&out, 0);
        assert_console(
            &out,
            "warning: unknown kernel option 'frobnicate=1' ignored",
        );
        assert_console(&out, "Hello");
    });
}

#[test]
fn log_filter_per_module() {
    let out = Run::new("hello")
        .options("log=warn,kernel::start=info")
        .go();
    assert_status(&out, 0);
    assert_console(&out, "INFO  kernel::start: memory:");
    assert!(!out.console.contains("DEBUG"), "{}", out.console);
    let out = Run::new("hello").options("log=debug").go();
    assert_console(&out, "DEBUG kernel::mm::kernel_space: page tables live");
}

#[test]
fn heap_allocates_and_frees() {
    let out = Run::new("testkernel")
        .args(&["heap"])
        .options("heap=16M")
        .go();
    assert_status(&out, 0);
    assert_console(&out, "heap ok, sum 499999500000");
}

#[test]
fn timeout_kills_a_hung_guest_with_124() {
    let out = Run::new("testkernel")
        .args(&["hang"])
        .timeout(std::time::Duration::from_secs(2))
        .go();
    assert_status(&out, 124);
    assert_eq!(out.meaning, Ending::Timeout);
}

#[test]
fn command_line_longer_than_the_kernel_keeps_exits_2() {
    let long = format!("log=warn {}", "x".repeat(3000));
    let out = Run::new("hello").options(&long).go();
    assert_status(&out, 2);
    assert_console(&out, "error: kernel command line: longer than 2048 bytes");
}
