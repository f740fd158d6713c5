//! Booting, arguments and exit statuses end to end under TCG: behaviour tests run from the
//! PVH ELF and from the BIOS disk image (`in_every_format`); the ELF on q35 with qboot; and
//! what the runner (`scripts/qemu-run.sh`) refuses before QEMU starts.

use boot::image::Format;
use boot::qemu::{Ending, Machine};
use tests::{Run, assert_console, assert_status, assert_usage_error, in_every_format, qemu_run};

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
fn hello_runs_in_the_least_memory_the_runner_allows() {
    let run = Run::new("hello");
    let least = run.config.min_mem_mib().unwrap();
    assert!(least <= 8, "hello needs {least} MiB");
    let out = run.mem(least).go();
    assert_status(&out, 0);
    assert_console(&out, "Hello");
}

#[test]
fn too_little_memory_is_a_usage_error_not_a_silent_hang() {
    // In 2 MiB the image (loaded at 2 MiB) lies beyond RAM: QEMU drops it and the guest
    // hangs before its first instruction, so the runner must refuse.
    tests::image("hello", Format::Pvh);
    let out = qemu_run(&["--accel", "tcg", "--mem", "2", "hello"]);
    assert_usage_error(
        &out,
        "--mem 2: too little memory for this image: it needs at least 3 MiB",
    );
    let out = qemu_run(&["--accel", "tcg", "--mem", "0", "hello"]);
    assert_usage_error(&out, "--mem 0: expected a whole number of MiB");
}

#[test]
fn hello_boots_on_q35_with_qboot() {
    let out = Run::new("hello")
        .machine(Machine::Q35)
        .args(&["a", "b"])
        .go();
    assert_status(&out, 0);
    assert_console(&out, r#"args: ["a", "b"]"#);
}

#[test]
fn runner_attaches_disks_in_the_given_order_on_either_machine() {
    let dir = std::env::temp_dir().join(format!("boot-rs-disks-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("site")).unwrap();
    std::fs::write(dir.join("site/index.html"), "hi\n").unwrap();
    let data = dir.join("data.img");
    std::fs::write(&data, vec![0u8; 1 << 20]).unwrap();
    let data = data.to_str().unwrap();
    let site = dir.join("site");
    let site = site.to_str().unwrap();
    for (machine, device) in [("microvm", "virtio-blk-device"), ("q35", "virtio-blk-pci")] {
        let out = qemu_run(&[
            "--accel",
            "tcg",
            "--verbose",
            "--machine",
            machine,
            "--disk",
            data,
            "--disk-from",
            site,
            "hello",
            "--",
            "a",
        ]);
        assert_eq!(out.status, Some(0), "{out:#?}");
        assert!(out.stdout.contains(r#"args: ["a"]"#), "{out:#?}");
        let line = out
            .stderr
            .lines()
            .find(|l| l.starts_with("qemu-system-x86_64 "))
            .unwrap();
        let first = line
            .find(&format!("file={data},"))
            .expect("the --disk file");
        let second = line.find(".ext4,").expect("the --disk-from image");
        assert!(first < second, "{line}");
        assert!(
            line.contains(&format!("-device {device},drive=vd0")),
            "{line}"
        );
        assert!(
            line.contains(&format!("-device {device},drive=vd1")),
            "{line}"
        );
        assert!(line[second..].starts_with(".ext4,format=raw,if=none,id=vd1,werror=report,rerror=report,cache=writeback,readonly=on"), "{line}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn disks_that_cannot_be_opened_are_usage_errors_before_qemu_starts() {
    let dir = std::env::temp_dir().join(format!("boot-rs-bad-disks-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let missing = dir.join("missing.img");
    let missing = missing.to_str().unwrap();
    let folder = dir.to_str().unwrap();
    for (args, message) in [
        (
            vec!["--disk", missing],
            format!("disk {missing}: no such file"),
        ),
        (
            vec!["--disk", folder],
            format!("disk {folder}: is a directory"),
        ),
        (
            vec!["--disk-from", missing],
            format!("--disk-from {missing}: no such folder"),
        ),
        // procfs refuses these even to root: write-only, and read-only.
        (
            vec!["--disk", "/proc/sys/vm/drop_caches,ro"],
            "disk /proc/sys/vm/drop_caches: cannot read it".into(),
        ),
        (
            vec!["--disk", "/proc/sys/kernel/osrelease"],
            "give `--disk /proc/sys/kernel/osrelease,ro`".into(),
        ),
        (
            vec!["--machine", "pc"],
            "--machine pc: expected microvm or q35".into(),
        ),
        (
            vec!["--image", "bios", "--machine", "microvm"],
            "bios disk images boot on q35".into(),
        ),
    ] {
        let mut all = vec!["--accel", "tcg"];
        all.extend(args);
        all.push("hello");
        assert_usage_error(&qemu_run(&all), &message);
    }
    let _ = std::fs::remove_dir_all(&dir);
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
