//! Booting, arguments and exit statuses end to end under TCG: behaviour tests run from the
//! PVH ELF and from the BIOS disk image (`in_every_format`); the ELF on q35 with qboot; and
//! what the runner (`scripts/qemu-run.sh`) refuses before QEMU starts; the runner's network
//! (the NIC's QEMU words, forwards on 127.0.0.1, a tap in a namespace it removes) and how
//! ctrl-c and SIGTERM stop a server, all without a guest network stack.

use boot::image::Format;
use boot::qemu::{Ending, Machine};
use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tests::{
    Run, assert_console, assert_status, assert_usage_error, free_port, in_every_format, qemu_run,
};

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
        .timeout(Duration::from_secs(2))
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

#[test]
fn bad_net_values_are_usage_errors() {
    tests::image("hello", Format::Pvh);
    for (args, message) in [
        (
            vec!["--net", "foo"],
            "--net foo: expected user, user:PORT[,PORT...]",
        ),
        (
            vec!["--net", "user:"],
            "--net user: needs ports after the colon",
        ),
        (
            vec!["--net", "user:70000"],
            "--net user:70000: port 70000 is outside 1..=65535",
        ),
        (vec!["--net", "user:8080,x"], "\"x\" is not a port"),
        (vec!["--net", "tap:"], "--net tap: needs a device name"),
        (vec!["--net", "tap:a/b"], "use letters, digits"),
        (
            vec!["--net", "user:1", "--net", "user:2"],
            "--net user:2: a guest has one network (--net given twice)",
        ),
    ] {
        let mut all = vec!["--accel", "tcg"];
        all.extend(args);
        all.push("hello");
        assert_usage_error(&qemu_run(&all), message);
    }
    // A host port something else listens on: refused before QEMU starts, not QEMU's bare
    // "Could not set up host forwarding rule".
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let out = qemu_run(&[
        "--accel",
        "tcg",
        "--net",
        &format!("user:{port}:80"),
        "hello",
    ]);
    assert_usage_error(
        &out,
        &format!("--net: cannot forward tcp port 127.0.0.1:{port}: "),
    );
}

/// The QEMU command line `--verbose` printed.
fn qemu_line(out: &tests::RunnerOutput) -> &str {
    out.stderr
        .lines()
        .find(|l| l.starts_with("qemu-system-x86_64 ") || l.starts_with("ip netns exec "))
        .unwrap_or_else(|| panic!("no QEMU line: {out:#?}"))
}

#[test]
fn runner_gives_the_guest_a_nic_with_forwards_on_127_0_0_1_on_either_machine() {
    for (machine, device) in [
        (
            "microvm",
            "virtio-net-device,netdev=n0,mac=52:54:00:12:34:56",
        ),
        (
            "q35",
            "virtio-net-pci,netdev=n0,mac=52:54:00:12:34:56,disable-legacy=on,romfile=",
        ),
    ] {
        let (tcp, udp) = (free_port(), tests::free_udp_port());
        let net = format!("user:{tcp},udp/{udp}:7");
        let out = qemu_run(&[
            "--accel",
            "tcg",
            "--verbose",
            "--machine",
            machine,
            "--net",
            &net,
            "hello",
        ]);
        assert_eq!(out.status, Some(0), "{out:#?}");
        let line = qemu_line(&out);
        assert!(
            line.contains(&format!(
                " -netdev user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:{tcp}-:{tcp},\
                 hostfwd=udp:127.0.0.1:{udp}-:7 -device {device}"
            )),
            "{line}"
        );
        assert!(
            out.stderr.contains(&format!(
                "qemu-run: forwarding 127.0.0.1:{tcp} -> guest :{tcp}\n\
                 qemu-run: forwarding udp 127.0.0.1:{udp} -> guest :7\n"
            )),
            "{out:#?}"
        );
    }
}

/// Starts the runner on `args` and waits until the guest has reached its app (the args
/// must include `--cmdline log=info`); returns the runner and its console so far.
fn start_runner(args: &[&str]) -> (std::process::Child, Arc<Mutex<String>>) {
    let mut runner = tests::qemu_run_command(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let text = Arc::new(Mutex::new(String::new()));
    for pipe in [
        Box::new(runner.stdout.take().unwrap()) as Box<dyn Read + Send>,
        Box::new(runner.stderr.take().unwrap()),
    ] {
        let text = text.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                let mut text = text.lock().unwrap();
                text.push_str(&line);
                text.push('\n');
            }
        });
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while !text.lock().unwrap().contains("entering app main") {
        if Instant::now() > deadline || runner.try_wait().unwrap().is_some() {
            let _ = runner.kill();
            panic!("the guest did not start: {}", text.lock().unwrap());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    (runner, text)
}

/// Sends `signal` to the runner and returns its exit status (killing it after 30 s).
fn signal_runner(runner: &mut std::process::Child, signal: &str) -> Option<i32> {
    Command::new("kill")
        .args([signal, &runner.id().to_string()])
        .status()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = runner.try_wait().unwrap() {
            return status.code();
        }
        if Instant::now() > deadline {
            let _ = runner.kill();
            panic!("the runner did not stop after {signal}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_server_runs_until_sigterm_or_ctrl_c_stops_it_cleanly() {
    tests::image("testkernel", Format::Pvh);
    for (signal, status, name) in [("-TERM", 143, "SIGTERM"), ("-INT", 130, "SIGINT")] {
        let port = free_port();
        let net = format!("user:{port}");
        // No --timeout: with --net the run has none.
        let (mut runner, text) = start_runner(&[
            "--accel",
            "tcg",
            "--net",
            &net,
            "--cmdline",
            "log=info",
            "testkernel",
            "--",
            "hang",
        ]);
        // QEMU listens on 127.0.0.1 only.
        let ss = Command::new("ss")
            .args(["-Hltn", &format!("sport = :{port}")])
            .output()
            .unwrap();
        let listening = String::from_utf8_lossy(&ss.stdout).into_owned();
        assert!(
            listening.contains(&format!("127.0.0.1:{port} ")),
            "{listening:?}"
        );
        assert_eq!(listening.lines().count(), 1, "{listening:?}");
        assert_eq!(signal_runner(&mut runner, signal), Some(status));
        let text = text.lock().unwrap().clone();
        assert!(
            text.contains(&format!(
                "qemu-run: stopped by {name}; QEMU stopped (status {status})"
            )),
            "{text}"
        );
        // QEMU is gone: its port is free again.
        std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
    }
}

#[test]
fn runner_puts_a_tap_in_a_namespace_it_removes_on_exit_and_on_sigterm() {
    if tests::skip_without_root() {
        return;
    }
    tests::image("testkernel", Format::Pvh);
    let tap = format!("ukr{}", std::process::id());
    let netns = format!("uk-{tap}");
    let net = format!("tap:{tap}");
    // Runs to its end: the guest gets its address, QEMU runs in the namespace.
    let out = qemu_run(&["--accel", "tcg", "--verbose", "--net", &net, "hello"]);
    assert_eq!(out.status, Some(0), "{out:#?}");
    let line = qemu_line(&out);
    assert!(
        line.starts_with(&format!("ip netns exec {netns} qemu-system-x86_64 ")),
        "{line}"
    );
    assert!(line.contains(" -append ip=192.168.100.2/24 "), "{line}");
    assert!(
        line.contains(&format!(
            " -netdev tap,id=n0,ifname={tap},script=no,downscript=no -device virtio-net-device,"
        )),
        "{line}"
    );
    assert!(
        out.stderr.contains(&format!(
            "qemu-run: guest 192.168.100.2 on tap {tap} in network namespace {netns}, \
             host side 192.168.100.1/24"
        )),
        "{out:#?}"
    );
    assert!(!boot::netns::exists(&netns), "{netns} left behind");

    // A server stopped by SIGTERM: the namespace (with the tap, up and carrying the host
    // address while QEMU runs) goes too.
    let (mut runner, _) = start_runner(&[
        "--accel",
        "tcg",
        "--net",
        &net,
        "--cmdline",
        "log=info ip=10.9.0.1/16",
        "testkernel",
        "--",
        "hang",
    ]);
    let addr = Command::new("ip")
        .args(["-n", &netns, "-o", "addr", "show", "dev", &tap])
        .output()
        .unwrap();
    let addr = String::from_utf8_lossy(&addr.stdout).into_owned();
    // The guest took 10.9.0.1 (ip= given), so the host side is the next address.
    assert!(addr.contains("inet 10.9.0.2/16"), "{addr}");
    let link = Command::new("ip")
        .args(["-n", &netns, "-o", "link", "show", "dev", &tap])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&link.stdout).contains("LOWER_UP"),
        "QEMU is not attached: {link:?}"
    );
    assert_eq!(signal_runner(&mut runner, "-TERM"), Some(143));
    assert!(!boot::netns::exists(&netns), "{netns} left behind");
}

#[test]
fn a_background_guest_is_driven_from_its_namespace_and_stopped() {
    // The timeout applies to background runs too.
    let out = Run::new("testkernel")
        .args(&["hang"])
        .net_user(&[(free_port(), 80)])
        .timeout(Duration::from_secs(2))
        .spawn()
        .wait();
    assert_status(&out, 124);
    if tests::skip_without_root() {
        return;
    }
    let guest = Run::new("testkernel")
        .args(&["hang"])
        .options("log=info")
        .net_tap()
        .spawn();
    guest.wait_for_console("entering app main", Duration::from_secs(60));
    let netns = guest.netns().unwrap().name().to_string();
    let out =
        guest.exec_in_netns(Command::new("ip").args(["-o", "addr", "show", "dev", tests::TAP]));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("inet 192.168.100.1/24"),
        "{out:?}"
    );
    assert_eq!(guest.guest_ip().to_string(), "192.168.100.2");
    assert!(guest.is_running());
    let out = guest.stop();
    assert_status(&out, 143);
    assert_eq!(out.meaning, Ending::Stopped(15));
    assert!(!boot::netns::exists(&netns), "{netns} left behind");
}
